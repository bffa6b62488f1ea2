// Command loadgen measures invocations per second of the real Toolgate server over loopback, with receipts on.
// It starts the server in this process (bench.StartServer: Badger store in a temporary data directory,
// server.New, Serve on 127.0.0.1:0), publishes the tools, then runs rounds of bench.Load: in each round every tool
// at every concurrency, each run bounded by -n requests and -d time. One JSON line per run goes to -out; a
// summary goes to stderr. bench/run.sh runs it and cmd/benchreport turns the lines into docs/BENCHMARKS.md.
//
//	go run ./bench/cmd/loadgen -c 8,32 -tools echo,hello -rounds 3 -d 5s -n 20000
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/toolgate/toolgate/bench"
)

// Run is one line of output: a LoadResult, its round, and the CPU time the whole process (server and load
// generator) used per successful request and in all; 0 where the platform does not say.
type Run struct {
	Round int `json:"round"`
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

func run() error {
	var (
		conc      = flag.String("c", "8,32", "concurrency levels, comma-separated")
		tools     = flag.String("tools", "echo", "tools to load, comma-separated: echo (plugins/wat/echo.wasm), hello (-hello)")
		hello     = flag.String("hello", "plugins/build/hello.wasm", "the built hello plugin (bash plugins/build.sh)")
		rounds    = flag.Int("rounds", 3, "rounds; each runs every tool at every concurrency")
		requests  = flag.Int("n", 20000, "most requests per run")
		duration  = flag.Duration("d", 5*time.Second, "longest run")
		warmup    = flag.Duration("warmup", time.Second, "unmeasured load per tool before the first round")
		out       = flag.String("out", "-", "file for the JSON lines; - is stdout")
		dataDir   = flag.String("data", "", "server data directory; default a temporary one, removed at exit")
		cacheFlag = flag.String("cache", "", "wazero compilation cache directory; default <data>/cache")
		cpuProf   = flag.String("cpuprofile", "", "write a CPU profile of the measured rounds (server and client) here")
	)
	flag.Parse()
	var levels []int
	for _, s := range strings.Split(*conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("-c: bad concurrency %q", s)
		}
		levels = append(levels, n)
	}
	cases := map[string]bench.Case{}
	var names []string
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
		names = append(names, name)
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

	ctx := context.Background()
	srv, err := bench.StartServer(ctx, dir, *cacheFlag, nil)
	if err != nil {
		return err
	}
	defer srv.Close(ctx)
	top := slices.Max(levels)
	setup := srv.Client(top)
	for _, name := range names {
		if err := bench.Publish(ctx, setup, name, "1.0.0", cases[name].Wasm); err != nil {
			return err
		}
		if *warmup > 0 {
			if _, err := bench.Load(ctx, bench.LoadOptions{Client: setup, Tool: name, Input: cases[name].Input,
				Want: cases[name].Want, Concurrency: top, Duration: *warmup}); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(os.Stderr, "loadgen: server %s, data %s, tools %v, concurrency %v, %d rounds of ≤%d requests or ≤%s\n",
		srv.URL, dir, names, levels, *rounds, *requests, *duration)
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
		for _, name := range names {
			for _, c := range levels {
				// A client per run, so that connections are opened at this concurrency and no more.
				cpu0, cpuOK := bench.ProcessCPU()
				r, err := bench.Load(ctx, bench.LoadOptions{Client: srv.Client(c), Tool: name, Input: cases[name].Input,
					Want: cases[name].Want, Concurrency: c, Requests: *requests, Duration: *duration})
				if err != nil {
					return err
				}
				line := Run{Round: round, LoadResult: r}
				if cpu1, ok := bench.ProcessCPU(); ok && cpuOK && r.Requests > 0 {
					line.CPUPerRequest = (cpu1 - cpu0) / time.Duration(r.Requests)
					line.CPUCores = (cpu1 - cpu0).Seconds() / r.Elapsed.Seconds()
				}
				if err := enc.Encode(line); err != nil {
					return err
				}
				fmt.Fprintf(os.Stderr, "round %d %-6s c=%-3d %7d ok %4d errors %8.0f req/s  p50 %-9s p99 %-9s cpu/req %-8s cores %.2f %s\n",
					round, name, c, r.Requests, r.Errors, r.RPS, r.P50.Round(time.Microsecond),
					r.P99.Round(time.Microsecond), line.CPUPerRequest.Round(time.Microsecond), line.CPUCores, r.FirstError)
			}
		}
	}
	return nil
}
