// Command loadgen measures invocations per second of the real Toolgate server over loopback, with receipts on,
// for each Extism ABI engine asked for. It starts one server per engine in this process (bench.StartServer: Badger
// store in the engine's own temporary data directory, server.New, Serve on 127.0.0.1:0), publishes the tools on
// each, then runs rounds of bench.Load: in each round every tool at every concurrency on every engine, the engines
// back to back for each tool and concurrency (their order turning from round to round), so that noise from
// neighbours hits them alike. Each run is bounded by -n requests and -d time. One JSON line per run goes to -out;
// a summary goes to stderr. bench/run.sh runs it and cmd/benchreport turns the lines into docs/BENCHMARKS.md.
//
//	go run ./bench/cmd/loadgen -engines native,extism-sdk -c 1,64 -tools echo,hello -rounds 3 -d 5s -n 20000
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
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

// Run is one line of output: a LoadResult, its round and engine, and the CPU time the whole process (servers and
// load generator) used per successful request and in all; 0 where the platform does not say.
type Run struct {
	Round  int    `json:"round"`
	Engine string `json:"engine"` // runtime.EngineNative or runtime.EngineExtismSDK
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

func run() error {
	var (
		engineList = flag.String("engines", runtime.EngineNative, "Extism ABI engines, comma-separated, one server each: "+strings.Join(engines, ", "))
		conc       = flag.String("c", "8,32", "concurrency levels, comma-separated")
		tools      = flag.String("tools", "echo", "tools to load, comma-separated: echo (plugins/wat/echo.wasm), hello (-hello)")
		hello      = flag.String("hello", "plugins/build/hello.wasm", "the built hello plugin (bash plugins/build.sh)")
		rounds     = flag.Int("rounds", 3, "rounds; each runs every tool at every concurrency on every engine")
		requests   = flag.Int("n", 20000, "most requests per run")
		duration   = flag.Duration("d", 5*time.Second, "longest run")
		warmup     = flag.Duration("warmup", time.Second, "unmeasured load per engine and tool before the first round")
		out        = flag.String("out", "-", "file for the JSON lines; - is stdout")
		dataDir    = flag.String("data", "", "root of the servers' data directories, <data>/<engine>; default a temporary one, removed at exit")
		cacheFlag  = flag.String("cache", "", "wazero compilation cache directory, shared by the engines; default <data>/<engine>/cache")
		cpuProf    = flag.String("cpuprofile", "", "write a CPU profile of the measured rounds (servers and client) here")
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

	// One server per engine, each with its own data directory (store, admin key, receipts), all started before
	// the first round and kept up to the last.
	ctx := context.Background()
	top := slices.Max(levels)
	servers := map[string]*bench.Server{}
	for _, e := range engineNames {
		srv, err := bench.StartServer(ctx, filepath.Join(dir, e), bench.ServerOptions{Engine: e, CacheDir: *cacheFlag})
		if err != nil {
			return fmt.Errorf("engine[%s]: %w", e, err)
		}
		defer srv.Close(ctx)
		servers[e] = srv
		setup := srv.Client(top)
		for _, name := range toolNames {
			if err := bench.Publish(ctx, setup, name, "1.0.0", cases[name].Wasm); err != nil {
				return fmt.Errorf("engine[%s]: %w", e, err)
			}
			if *warmup > 0 {
				if _, err := bench.Load(ctx, bench.LoadOptions{Client: setup, Tool: name, Input: cases[name].Input,
					Want: cases[name].Want, Concurrency: top, Duration: *warmup}); err != nil {
					return fmt.Errorf("engine[%s]: %w", e, err)
				}
			}
		}
		fmt.Fprintf(os.Stderr, "loadgen: engine %s, server %s, data %s\n", e, srv.URL, filepath.Join(dir, e))
	}
	fmt.Fprintf(os.Stderr, "loadgen: engines %v, tools %v, concurrency %v, %d rounds of ≤%d requests or ≤%s\n",
		engineNames, toolNames, levels, *rounds, *requests, *duration)
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
		// The engine that goes first turns from round to round, so that neither always follows the other.
		first := (round - 1) % len(engineNames)
		order := slices.Concat(engineNames[first:], engineNames[:first])
		for _, name := range toolNames {
			for _, c := range levels {
				for _, e := range order {
					// A client per run, so that connections are opened at this concurrency and no more.
					cpu0, cpuOK := bench.ProcessCPU()
					r, err := bench.Load(ctx, bench.LoadOptions{Client: servers[e].Client(c), Tool: name,
						Input: cases[name].Input, Want: cases[name].Want, Concurrency: c, Requests: *requests,
						Duration: *duration})
					if err != nil {
						return err
					}
					line := Run{Round: round, Engine: e, LoadResult: r}
					if cpu1, ok := bench.ProcessCPU(); ok && cpuOK && r.Requests > 0 {
						line.CPUPerRequest = (cpu1 - cpu0) / time.Duration(r.Requests)
						line.CPUCores = (cpu1 - cpu0).Seconds() / r.Elapsed.Seconds()
					}
					if err := enc.Encode(line); err != nil {
						return err
					}
					fmt.Fprintf(os.Stderr, "round %d %-10s %-6s c=%-3d %7d ok %4d errors %8.0f req/s  p50 %-9s p99 %-9s cpu/req %-8s cores %.2f %s\n",
						round, e, name, c, r.Requests, r.Errors, r.RPS, r.P50.Round(time.Microsecond),
						r.P99.Round(time.Microsecond), line.CPUPerRequest.Round(time.Microsecond), line.CPUCores, r.FirstError)
				}
			}
		}
	}
	return nil
}
