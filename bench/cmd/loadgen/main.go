// Command loadgen measures invocations per second of the real Toolgate server over loopback, with receipts on,
// for each Extism ABI engine asked for, and with -receipts-off also on the native engine with receipts off, to
// show what the receipt log costs (issue 7). It starts one server per subject in this process (bench.StartServer:
// Badger store in the subject's own temporary data directory, server.New, Serve on 127.0.0.1:0), publishes the
// tools on each, then runs rounds of bench.Load: in each round every tool at every concurrency on every subject,
// the subjects back to back for each tool and concurrency, or with -slice in alternating turns of that length
// (bench.LoadInterleaved), which goes first turning from round to round, so that noise from neighbours hits them
// alike. Each run is bounded by -n requests and -d time. One JSON line per run
// goes to -out; a summary goes to stderr. bench/run.sh runs it and cmd/benchreport turns the lines into
// docs/BENCHMARKS.md.
//
//	go run ./bench/cmd/loadgen -engines native,extism-sdk -receipts-off -c 1,64 -tools echo,hello -rounds 3 -d 4s -slice 500ms -n 1000000
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/toolgate/toolgate/bench"
	"github.com/toolgate/toolgate/runtime"
)

// Run is one line of output: a LoadResult, its round, engine and receipts, and the CPU time the whole process
// (servers and load generator) used per successful request and in all; 0 where the platform does not say.
type Run struct {
	Round    int    `json:"round"`
	Engine   string `json:"engine"`   // runtime.EngineNative or runtime.EngineExtismSDK
	Receipts string `json:"receipts"` // "on": every 200 waited for a signed, synced receipt; "off": bench.ServerOptions.NoReceipts
	bench.LoadResult
	CPUPerRequest time.Duration `json:"cpu_per_request_ns"`
	CPUCores      float64       `json:"cpu_cores"` // process CPU time over wall time: how many cores the run got
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// engines are the Extism ABI engines -engines accepts (runtime.Config.Engine).
var engines = []string{runtime.EngineNative, runtime.EngineExtismSDK}

// subject is one server under load: an engine with receipts on or off.
type subject struct {
	engine     string
	noReceipts bool
}

// name is the subject's name in the summary and its data directory's: the engine, with "-receipts-off" when off.
func (s subject) name() string {
	if s.noReceipts {
		return s.engine + "-receipts-off"
	}
	return s.engine
}

// receipts is the Run.Receipts of the subject's runs.
func (s subject) receipts() string {
	if s.noReceipts {
		return "off"
	}
	return "on"
}

func run() error {
	var (
		engineList = flag.String("engines", runtime.EngineNative, "Extism ABI engines, comma-separated, one server each: "+strings.Join(engines, ", "))
		conc       = flag.String("c", "8,32", "concurrency levels, comma-separated")
		tools      = flag.String("tools", "echo", "tools to load, comma-separated: echo (plugins/wat/echo.wasm), hello (-hello)")
		hello      = flag.String("hello", "plugins/build/hello.wasm", "the built hello plugin (bash plugins/build.sh)")
		noReceipts = flag.Bool("receipts-off", false, "also run the native engine with receipts off (bench.ServerOptions.NoReceipts), to measure what receipts cost; needs native in -engines")
		rounds     = flag.Int("rounds", 3, "rounds; each runs every tool at every concurrency on every server")
		requests   = flag.Int("n", 20000, "most requests per run")
		duration   = flag.Duration("d", 5*time.Second, "longest run")
		warmup     = flag.Duration("warmup", time.Second, "unmeasured load per server and tool before the first round")
		out        = flag.String("out", "-", "file for the JSON lines; - is stdout")
		dataDir    = flag.String("data", "", "root of the servers' data directories, <data>/<engine>[-receipts-off]; default a temporary one, removed at exit")
		cacheFlag  = flag.String("cache", "", "wazero compilation cache directory, shared by the servers; default <data>/<engine>[-receipts-off]/cache")
		cpuProf    = flag.String("cpuprofile", "", "write a CPU profile of the measured rounds (servers and client) here")
		slice      = flag.Duration("slice", 0, "interleave the servers' runs of each tool and concurrency in turns this long, instead of one run after another: load from elsewhere on the machine then falls on all of them alike")
	)
	flag.Parse()
	var engineNames []string // in the order asked for
	for _, e := range strings.Split(*engineList, ",") {
		e = strings.TrimSpace(e)
		switch {
		case !slices.Contains(engines, e):
			return fmt.Errorf("-engines: unknown engine %q (have %s)", e, strings.Join(engines, ", "))
		case slices.Contains(engineNames, e):
			return fmt.Errorf("-engines: engine %q given twice", e)
		}
		engineNames = append(engineNames, e)
	}
	// The receipts-off server follows the native one, so that in most rounds the two run back to back.
	var subjects []subject
	for _, e := range engineNames {
		subjects = append(subjects, subject{engine: e})
		if e == runtime.EngineNative && *noReceipts {
			subjects = append(subjects, subject{engine: e, noReceipts: true})
		}
	}
	if *noReceipts && !slices.Contains(engineNames, runtime.EngineNative) {
		return fmt.Errorf("-receipts-off: the receipts-off server runs the native engine, to compare with it: add %s to -engines",
			runtime.EngineNative)
	}
	var levels []int
	for _, s := range strings.Split(*conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("-c: bad concurrency %q", s)
		}
		levels = append(levels, n)
	}
	cases := map[string]bench.Case{}
	var toolNames []string
	for _, name := range strings.Split(*tools, ",") {
		name = strings.TrimSpace(name)
		var helloWasm []byte
		switch name {
		case "echo":
		case "hello":
			b, err := os.ReadFile(*hello)
			if err != nil {
				return fmt.Errorf("hello: %w (build it with: bash plugins/build.sh)", err)
			}
			helloWasm = b
		default:
			return fmt.Errorf("-tools: unknown tool %q (have echo, hello)", name)
		}
		cases[name], _ = bench.FindCase(bench.Cases(helloWasm), name)
		toolNames = append(toolNames, name)
	}

	w := io.Writer(os.Stdout)
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	dir := *dataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "toolgate-loadgen-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}

	// One server per subject, each with its own data directory (store, admin key, receipts), all started before
	// the first round and kept up to the last.
	ctx := context.Background()
	top := slices.Max(levels)
	servers := map[subject]*bench.Server{}
	for _, sub := range subjects {
		sdir := filepath.Join(dir, sub.name())
		srv, err := bench.StartServer(ctx, sdir, bench.ServerOptions{Engine: sub.engine, CacheDir: *cacheFlag,
			NoReceipts: sub.noReceipts})
		if err != nil {
			return fmt.Errorf("server[%s]: %w", sub.name(), err)
		}
		defer srv.Close(ctx)
		servers[sub] = srv
		setup := srv.Client(top)
		for _, name := range toolNames {
			if err := bench.Publish(ctx, setup, name, "1.0.0", cases[name].Wasm); err != nil {
				return fmt.Errorf("server[%s]: %w", sub.name(), err)
			}
			if *warmup > 0 {
				if _, err := bench.Load(ctx, bench.LoadOptions{Client: setup, Tool: name, Input: cases[name].Input,
					Want: cases[name].Want, Concurrency: top, Duration: *warmup}); err != nil {
					return fmt.Errorf("server[%s]: %w", sub.name(), err)
				}
			}
		}
		fmt.Fprintf(os.Stderr, "loadgen: %s, receipts %s, server %s, data %s\n", sub.engine, sub.receipts(), srv.URL, sdir)
	}
	names := make([]string, len(subjects))
	for i, sub := range subjects {
		names[i] = sub.name()
	}
	fmt.Fprintf(os.Stderr, "loadgen: servers %v, tools %v, concurrency %v, %d rounds of ≤%d requests or ≤%s\n",
		names, toolNames, levels, *rounds, *requests, *duration)
	if *cpuProf != "" {
		f, err := os.Create(*cpuProf)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	enc := json.NewEncoder(w)
	for round := 1; round <= *rounds; round++ {
		// The subject that goes first turns from round to round, so that none always follows another.
		first := (round - 1) % len(subjects)
		order := slices.Concat(subjects[first:], subjects[:first])
		for _, name := range toolNames {
			for _, c := range levels {
				opts := make([]bench.LoadOptions, len(order))
				for i, sub := range order {
					// A client per run, so that connections are opened at this concurrency and no more.
					opts[i] = bench.LoadOptions{Client: servers[sub].Client(c), Tool: name, Input: cases[name].Input,
						Want: cases[name].Want, Concurrency: c, Requests: *requests, Duration: *duration}
				}
				results, cpu, err := runLoads(ctx, opts, *slice)
				if err != nil {
					return err
				}
				for i, sub := range order {
					r := results[i]
					line := Run{Round: round, Engine: sub.engine, Receipts: sub.receipts(), LoadResult: r}
					if cpu[i] >= 0 && r.Requests > 0 {
						line.CPUPerRequest = cpu[i] / time.Duration(r.Requests)
						line.CPUCores = cpu[i].Seconds() / r.Elapsed.Seconds()
					}
					if err := enc.Encode(line); err != nil {
						return err
					}
					fmt.Fprintf(os.Stderr, "round %d %-23s %-6s c=%-3d %7d ok %4d errors %8.0f req/s  p50 %-9s p99 %-9s cpu/req %-8s cores %.2f %s\n",
						round, sub.name(), name, c, r.Requests, r.Errors, r.RPS, r.P50.Round(time.Microsecond),
						r.P99.Round(time.Microsecond), line.CPUPerRequest.Round(time.Microsecond), line.CPUCores, r.FirstError)
				}
			}
		}
	}
	return nil
}

// runLoads runs the loads one after another, or interleaved in turns of slice, and returns their results and the
// process CPU time each took (-1 where it cannot be read).
func runLoads(ctx context.Context, opts []bench.LoadOptions, slice time.Duration) ([]bench.LoadResult, []time.Duration, error) {
	cpu := make([]time.Duration, len(opts))
	var cpu0 time.Duration
	var cpuOK bool
	observe := func(i int, start bool) {
		c, ok := bench.ProcessCPU()
		switch {
		case start:
			cpu0, cpuOK = c, ok
		case ok && cpuOK && cpu[i] >= 0:
			cpu[i] += c - cpu0
		default:
			cpu[i] = -1
		}
	}
	if slice <= 0 {
		slice = math.MaxInt64 // one turn each, as long as the load: one load after another
	}
	results, err := bench.LoadInterleaved(ctx, opts, slice, observe)
	return results, cpu, err
}
