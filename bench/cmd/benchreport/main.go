// Command benchreport turns the raw output of bench/run.sh — `go test -bench` lines from several rounds and
// cmd/loadgen's JSON lines — into docs/BENCHMARKS.md: machine facts, the commands, medians over the rounds with
// ratios to raw wazero, the byte-wise host call (runtime's BenchmarkHostCall, with -hostcall), the HTTP table by
// engine and receipts with the native engine and the Extism SDK side by side, what the receipt log costs
// (receipts on against off), and notes on what dominates each cost.
//
//	go run ./bench/cmd/benchreport -bench bench/out/bench.txt -load bench/out/load.jsonl \
//	    -commands bench/out/commands.txt -out docs/BENCHMARKS.md
package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/toolgate/toolgate/bench/benchfmt"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		benchFile = flag.String("bench", "", "go test -bench output of every round, concatenated")
		loadFile  = flag.String("load", "", "cmd/loadgen JSON lines")
		cmdFile   = flag.String("commands", "", "the commands that produced the inputs, shown verbatim")
		out       = flag.String("out", "docs/BENCHMARKS.md", "the report")
		loadStart = flag.String("loadavg-start", "", "/proc/loadavg when the run started")
		loadEnd   = flag.String("loadavg-end", "", "/proc/loadavg when the run ended")
		fsType    = flag.String("tmpfs", "", "file system of the temporary directory (the server's Badger store)")
		elapsed   = flag.Duration("elapsed", 0, "how long the whole run took")
		commit    = flag.String("commit", "", "git describe --always --dirty of the checkout measured")
		benchGC   = flag.String("bench-gc", "", "optional: the same benchmarks run with GOGC=-gogc")
		gogc      = flag.String("gogc", "", "the GOGC of -bench-gc")
		date      = flag.String("date", "", "when the run was made; default now")
		peersFile = flag.String("peers", "", "optional: the peer comparison section written by bench/peers/cmd/peerreport")
		hostFile  = flag.String("hostcall", "", "optional: runtime's BenchmarkHostCall output of every round, concatenated")
	)
	flag.Parse()
	if *benchFile == "" || *loadFile == "" {
		return errors.New("-bench and -load are required")
	}
	br, err := parseFile(*benchFile, parseBench)
	if err != nil {
		return err
	}
	var gc *benchResults
	if *benchGC != "" {
		if gc, err = parseFile(*benchGC, parseBench); err != nil {
			return err
		}
	}
	var hc *hostCalls
	if *hostFile != "" {
		if hc, err = parseFile(*hostFile, parseHostCall); err != nil {
			return err
		}
	}
	runs, err := parseFile(*loadFile, parseLoad)
	if err != nil {
		return err
	}
	var commands string
	if *cmdFile != "" {
		b, err := os.ReadFile(*cmdFile)
		if err != nil {
			return err
		}
		commands = strings.TrimSpace(string(b))
	}
	m := machine{
		CPU: cpuModel(), NProc: goruntime.NumCPU(), Go: goruntime.Version() + " " + goruntime.GOOS + "/" + goruntime.GOARCH,
		Kernel: readTrim("/proc/sys/kernel/osrelease"), Date: *date,
		LoadStart: *loadStart, LoadEnd: *loadEnd, FS: *fsType, Elapsed: *elapsed, Commit: *commit,
	}
	if m.Date == "" {
		m.Date = time.Now().UTC().Format("2006-01-02 15:04 MST")
	}
	if m.CPU == "unknown" && br.cpuName != "" {
		m.CPU = br.cpuName
	}
	peers := ""
	if *peersFile != "" {
		b, err := os.ReadFile(*peersFile)
		if err != nil {
			return err
		}
		peers = string(b)
	}
	var sb strings.Builder
	write(&sb, m, commands, br, gc, *gogc, hc, runs)
	writePeers(&sb, peers)
	return os.WriteFile(*out, []byte(sb.String()), 0o644)
}

// sample is one benchmark result line.
type sample struct{ ns, cpu, bytes, allocs float64 }

// benchResults holds every round's samples by subject and case, in first-seen order.
type benchResults struct {
	procs    string
	cpuName  string
	subjects []string
	cases    []string
	samples  map[string]map[string][]sample
}

// parseFile opens path and parses it with parse; a parse error names the file.
func parseFile[T any](path string, parse func(io.Reader) (T, error)) (T, error) {
	f, err := os.Open(path)
	if err != nil {
		var zero T
		return zero, err
	}
	defer f.Close()
	v, err := parse(f)
	if err != nil {
		return v, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

func parseBench(r io.Reader) (*benchResults, error) {
	br := &benchResults{samples: map[string]map[string][]sample{}}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if cpu, ok := strings.CutPrefix(line, "cpu: "); ok {
			br.cpuName = cpu
			continue
		}
		if !strings.HasPrefix(line, "BenchmarkFreshSandbox/") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		name, procs := cutProcs(f[0])
		if procs != "" {
			br.procs = procs
		}
		parts := strings.Split(name, "/")
		if len(parts) != 3 {
			return nil, fmt.Errorf("unexpected benchmark name %q", f[0])
		}
		subject, cs := parts[1], parts[2]
		var s sample
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("line %q: %w", line, err)
			}
			switch f[i+1] {
			case "ns/op":
				s.ns = v
			case "cpu-ns/op":
				s.cpu = v
			case "B/op":
				s.bytes = v
			case "allocs/op":
				s.allocs = v
			}
		}
		if br.samples[subject] == nil {
			br.samples[subject] = map[string][]sample{}
			br.subjects = append(br.subjects, subject)
		}
		if !slices.Contains(br.cases, cs) {
			br.cases = append(br.cases, cs)
		}
		br.samples[subject][cs] = append(br.samples[subject][cs], s)
	}
	if len(br.subjects) == 0 {
		return nil, errors.New("no BenchmarkFreshSandbox results")
	}
	return br, sc.Err()
}

// stat is the median and range of one measure over the rounds.
type stat struct {
	med, lo, hi float64
	n           int
}

func statOf(xs []float64) stat {
	med, lo, hi := benchfmt.Spread(xs)
	return stat{med: med, lo: lo, hi: hi, n: len(xs)}
}

func (br *benchResults) stat(subject, cs string, f func(sample) float64) stat {
	var xs []float64
	for _, s := range br.samples[subject][cs] {
		xs = append(xs, f(s))
	}
	return statOf(xs)
}

func (br *benchResults) ns(subject, cs string) stat {
	return br.stat(subject, cs, func(s sample) float64 { return s.ns })
}

func (br *benchResults) cpu(subject, cs string) stat {
	return br.stat(subject, cs, func(s sample) float64 { return s.cpu })
}

// loadRun is one cmd/loadgen line.
type loadRun struct {
	Round         int     `json:"round"`
	Engine        string  `json:"engine"`   // "" in files written before loadgen ran more than one engine: native
	Receipts      string  `json:"receipts"` // receiptsOn or receiptsOff; "" in files written before -receipts-off: on
	Tool          string  `json:"tool"`
	Concurrency   int     `json:"concurrency"`
	Requests      int     `json:"requests"`
	Errors        int     `json:"errors"`
	FirstError    string  `json:"first_error"`
	Elapsed       float64 `json:"elapsed_ns"`
	RPS           float64 `json:"rps"`
	P50           float64 `json:"p50_ns"`
	P90           float64 `json:"p90_ns"`
	P99           float64 `json:"p99_ns"`
	Max           float64 `json:"max_ns"`
	CPUPerRequest float64 `json:"cpu_per_request_ns"`
	CPUCores      float64 `json:"cpu_cores"`
}

func parseLoad(r io.Reader) ([]loadRun, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var runs []loadRun
	for {
		var lr loadRun
		if err := dec.Decode(&lr); err == io.EOF {
			break
		} else if err != nil {
			return nil, err
		}
		if lr.Engine == "" {
			lr.Engine = engineNative
		}
		switch lr.Receipts {
		case "":
			lr.Receipts = receiptsOn
		case receiptsOn, receiptsOff:
		default:
			return nil, fmt.Errorf("round %d: receipts %q, want %q or %q", lr.Round, lr.Receipts, receiptsOn, receiptsOff)
		}
		runs = append(runs, lr)
	}
	if len(runs) == 0 {
		return nil, errors.New("no load runs")
	}
	return runs, nil
}

type machine struct {
	CPU, Go, Kernel, Date, LoadStart, LoadEnd, FS, Commit string
	NProc                                                 int
	Elapsed                                               time.Duration
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

func cpuModel() string {
	for _, line := range strings.Split(readTrim("/proc/cpuinfo"), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func size(b float64) string {
	switch {
	case b >= 1<<20:
		return benchfmt.Sig3(b/(1<<20)) + " MiB"
	case b >= 1<<10:
		return benchfmt.Sig3(b/(1<<10)) + " KiB"
	}
	return strconv.FormatFloat(b, 'f', 0, 64) + " B"
}

func ratio(a, b float64) string {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return "–"
	}
	r := a / b
	if r >= 10 {
		return strconv.FormatFloat(r, 'f', 0, 64) + "×"
	}
	return strconv.FormatFloat(r, 'f', 2, 64) + "×"
}

var subjectText = map[string]string{
	"toolgate":   "`runtime.Invoke`: Toolgate's runtime as `toolgate serve` runs it — the native Extism engine, fuel metering on (the module instrumented at Load), its default limits (64 MiB memory cap, 1 MiB input and output caps)",
	"wazero":     "raw wazero v1.12.0: `InstantiateModule` (anonymous, `_initialize` run when exported) + call the entry + `Close`; `extism:host/env` as plain Go host functions over a per-call Go byte slice (`bench/rawkernel.go`), WASI as wazero provides it; no memory cap, timeout, output cap or log capture",
	"extism-sdk": "the Extism Go SDK v1.7.1 alone: `CompiledPlugin.Instance` + `CallWithContext` + `Close`, WASI on",
}

var caseText = map[string]string{
	"nop":   "`bench/testdata/nop.wat`: no imports, one 64 KiB page, `run` returns 0 — the pure floor",
	"echo":  "`plugins/wat/echo.wasm`: Extism ABI, no memory of its own; copies the 14-byte input to the output (15 `extism:host/env` calls)",
	"hello": "`plugins/build/hello.wasm`: Go (go-pdk, `-buildmode=c-shared`), 2.3 MB, 37 initial pages, 37,311 data segments; WASI, the Go runtime's init, then `run` with `{\"name\":\"Ada\"}`",
}

// write writes the report; gc and hc are nil when the run did not measure them.
func write(w *strings.Builder, m machine, commands string, br, gc *benchResults, gogc string, hc *hostCalls,
	runs []loadRun) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	rounds := 0
	for _, xs := range br.samples[br.subjects[0]] {
		rounds = max(rounds, len(xs))
	}
	p("# Benchmarks\n\n")
	p("Generated by `make bench` (`bench/run.sh`, then `bench/cmd/benchreport`); do not edit by hand, rerun it. ")
	p("Issue 2's baseline: what one fresh-sandbox call costs through Toolgate against the layers under it, and what ")
	p("the real server sustains over loopback with receipts on")
	if hc != nil {
		p(", issue 4's figure: what a byte-wise host call costs")
	}
	if slices.ContainsFunc(runs, func(r loadRun) bool { return r.Receipts == receiptsOff }) {
		p(", and issue 7's figure: what the receipt log costs, against the same server with receipts off")
	}
	p(".\n\n")

	p("## Machine\n\n| | |\n|---|---|\n")
	p("| date | %s |\n", m.Date)
	if m.Commit != "" {
		note := ""
		if strings.HasSuffix(m.Commit, "-dirty") {
			note = " (`-dirty`: the shared working tree had uncommitted changes to tracked files)"
		}
		p("| checkout | `%s`%s |\n", m.Commit, note)
	}
	p("| CPU | %s, nproc %d |\n", m.CPU, m.NProc)
	p("| Go | %s, GOMAXPROCS %s (default) |\n", m.Go, br.procs)
	p("| kernel | Linux %s |\n", m.Kernel)
	if m.FS != "" {
		p("| temp dir file system (Badger store) | %s |\n", m.FS)
	}
	if m.LoadStart != "" {
		p("| /proc/loadavg at start, end | `%s`, `%s` |\n", m.LoadStart, m.LoadEnd)
	}
	if m.Elapsed > 0 {
		p("| run time | %s |\n", m.Elapsed.Round(time.Second))
	}
	p("\nThe machine's 2 cores are shared with other work: read the ratios, which come from one process running ")
	p("every subject on the same module, rather than the absolute times, and see the ranges.\n\n")

	if commands != "" {
		p("## Commands\n\n```sh\n%s\n```\n\n", commands)
	}

	p("## Fresh sandbox per call (in process)\n\n")
	p("`BenchmarkFreshSandbox/{subject}/{case}` in `bench/bench_test.go`: each op is one call in a new sandbox — ")
	p("instantiate, call, close — with compilation done before the loop. Each round is a separate process that ")
	p("runs every subject and case in turn, so the subjects are interleaved over time; the figures are medians over ")
	p("%d rounds, with the fastest and slowest round. The ratio is the subject's median over raw wazero's on the ", rounds)
	p("same case. All three use Toolgate's wazero configuration (core features v2, compilation cache, no ")
	p("context polling: `WithCloseOnContextDone(false)`, as in a metered runtime).\n\n")
	p("Subjects:\n\n")
	for _, s := range br.subjects {
		p("- **%s**: %s.\n", s, subjectText[s])
	}
	p("\nCases:\n\n")
	for _, c := range br.cases {
		p("- **%s**: %s.\n", c, caseText[c])
	}
	p("\n| case | subject | time/op (median) | range over rounds | ratio to wazero | CPU/op | CPU ratio | B/op | allocs/op |\n")
	p("|---|---|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, c := range br.cases {
		base, cbase := br.ns("wazero", c).med, br.cpu("wazero", c).med
		for _, s := range br.subjects {
			if len(br.samples[s][c]) == 0 {
				continue
			}
			t, u := br.ns(s, c), br.cpu(s, c)
			b := br.stat(s, c, func(x sample) float64 { return x.bytes })
			a := br.stat(s, c, func(x sample) float64 { return x.allocs })
			p("| %s | %s | **%s** | %s – %s | **%s** | %s | %s | %s | %s |\n", c, s, benchfmt.Dur(t.med), benchfmt.Dur(t.lo), benchfmt.Dur(t.hi),
				ratio(t.med, base), benchfmt.Dur(u.med), ratio(u.med, cbase), size(b.med), strconv.FormatFloat(a.med, 'f', 0, 64))
		}
	}
	p("\nCPU/op is the process's user+system CPU time per call, garbage collection on the other core included ")
	p("(`cpu-ns/op`, from getrusage around the loop). When it is below time/op the process was waiting for a core ")
	p("that a neighbour held.\n\n")
	p("The layers, as differences of medians, wall time (CPU time); a difference smaller than the ranges above is ")
	p("noise:\n\n")
	p("| case | Extism SDK over raw wazero | Toolgate over the Extism SDK | Toolgate over raw wazero |\n|---|--:|--:|--:|\n")
	for _, c := range br.cases {
		d := func(a, b string) string {
			return signed(br.ns(a, c).med-br.ns(b, c).med) + " (" + signed(br.cpu(a, c).med-br.cpu(b, c).med) + ")"
		}
		p("| %s | %s | %s | %s |\n", c, d("extism-sdk", "wazero"), d("toolgate", "extism-sdk"), d("toolgate", "wazero"))
	}
	if gc != nil {
		p("\n### How much of it is garbage collection\n\n")
		p("The same benchmarks, in the same rounds, with `GOGC=%s`: the collector runs about %s times less often. ", gogc,
			strconv.FormatFloat(parseFloat(gogc)/100, 'f', -1, 64))
		p("A benchmark loop keeps almost nothing alive, so at the default `GOGC=100` every few megabytes allocated ")
		p("start a collection; a server with a larger live heap (Badger's caches, connections) collects less often per ")
		p("call. The gap between the two columns is, for the most part, collection work driven by the call's own ")
		p("allocations.\n\n")
		p("| case | subject | time/op GOGC=100 | time/op GOGC=%s | CPU/op GOGC=100 | CPU/op GOGC=%s | CPU ratio |\n", gogc, gogc)
		p("|---|---|--:|--:|--:|--:|--:|\n")
		for _, c := range br.cases {
			for _, s := range br.subjects {
				if len(gc.samples[s][c]) == 0 || len(br.samples[s][c]) == 0 {
					continue
				}
				p("| %s | %s | %s | %s | %s | %s | %s |\n", c, s, benchfmt.Dur(br.ns(s, c).med), benchfmt.Dur(gc.ns(s, c).med),
					benchfmt.Dur(br.cpu(s, c).med), benchfmt.Dur(gc.cpu(s, c).med), ratio(br.cpu(s, c).med, gc.cpu(s, c).med))
			}
		}
	}

	if hc != nil {
		writeHostCall(p, hc, br)
	}

	g := groupLoad(runs)
	writeLoad(p, g)
	writeNotes(p, br, gc, gogc, g)
}

// The Extism ABI engines cmd/loadgen runs (runtime.EngineNative, runtime.EngineExtismSDK); a line without an
// engine predates the field and was measured on the native engine.
const (
	engineNative = "native"
	engineSDK    = "extism-sdk"
)

// A run's receipts: on, as `toolgate serve` runs, every 200 waits for a signed, synced receipt; off
// (loadgen -receipts-off, bench.ServerOptions.NoReceipts), none is written. A line without the field predates
// -receipts-off and had receipts on.
const (
	receiptsOn  = "on"
	receiptsOff = "off"
)

// logTarget is issue 7's ceiling on what the receipt log may cost: this share of throughput, at logTargetC
// concurrent callers.
const (
	logTarget  = 0.15
	logTargetC = 64
)

var engineText = map[string]string{
	engineNative: "`runtime.EngineNative`, the default and what `toolgate serve` runs: Toolgate's own Extism ABI on wazero, host functions in Go over a per-call arena, no kernel module",
	engineSDK:    "`runtime.EngineExtismSDK`, the Extism Go SDK v1.7.1, the reference the native engine is tested against: it instantiates its Wasm kernel (16 pages, 1 MiB zeroed) beside the guest in every call, and it refuses all outbound HTTP (it cannot send through the network door) — neither tool makes a request, so both engines run the same calls",
}

// loadKey is one row of the HTTP table: receipts-off runs are a group of their own, never mixed into the engine's
// receipts-on rows.
type loadKey struct {
	engine   string
	receipts string // receiptsOn or receiptsOff
	tool     string
	c        int
}

// keyOn and keyOff are the keys of engine's runs of tool at concurrency c with receipts on and off.
func keyOn(engine, tool string, c int) loadKey  { return loadKey{engine, receiptsOn, tool, c} }
func keyOff(engine, tool string, c int) loadKey { return loadKey{engine, receiptsOff, tool, c} }

// loadGroups are the load runs by engine, receipts, tool and concurrency. keys are in the order the rows are
// written: by engine, then receipts (on first), then tool, then concurrency, each in the order first seen.
type loadGroups struct {
	keys    []loadKey
	engines []string
	tools   []string
	concs   []int
	off     bool // some runs had receipts off
	runs    map[loadKey][]loadRun
}

func groupLoad(runs []loadRun) loadGroups {
	g := loadGroups{runs: map[loadKey][]loadRun{}}
	for _, r := range runs {
		k := loadKey{r.Engine, r.Receipts, r.Tool, r.Concurrency}
		if _, ok := g.runs[k]; !ok {
			g.keys = append(g.keys, k)
		}
		g.runs[k] = append(g.runs[k], r)
		g.off = g.off || r.Receipts == receiptsOff
		if !slices.Contains(g.engines, r.Engine) {
			g.engines = append(g.engines, r.Engine)
		}
		if !slices.Contains(g.tools, r.Tool) {
			g.tools = append(g.tools, r.Tool)
		}
		if !slices.Contains(g.concs, r.Concurrency) {
			g.concs = append(g.concs, r.Concurrency)
		}
	}
	slices.SortStableFunc(g.keys, func(a, b loadKey) int {
		return cmp.Or(cmp.Compare(slices.Index(g.engines, a.engine), slices.Index(g.engines, b.engine)),
			cmp.Compare(slices.Index([]string{receiptsOn, receiptsOff}, a.receipts),
				slices.Index([]string{receiptsOn, receiptsOff}, b.receipts)),
			cmp.Compare(slices.Index(g.tools, a.tool), slices.Index(g.tools, b.tool)),
			cmp.Compare(slices.Index(g.concs, a.c), slices.Index(g.concs, b.c)))
	})
	return g
}

// med is the median and range over the rounds of f of k's runs; NaN when there are none.
func (g loadGroups) med(k loadKey, f func(loadRun) float64) stat {
	var xs []float64
	for _, r := range g.runs[k] {
		xs = append(xs, f(r))
	}
	return statOf(xs)
}

// levels returns the lowest and highest concurrency at which tool ran on every one of engines with receipts on;
// ok is false when there is none.
func (g loadGroups) levels(tool string, engines ...string) (lo, hi int, ok bool) {
	for _, k := range g.keys {
		if k.tool != tool || k.engine != engines[0] || k.receipts != receiptsOn {
			continue
		}
		all := true
		for _, e := range engines[1:] {
			_, has := g.runs[keyOn(e, tool, k.c)]
			all = all && has
		}
		if !all {
			continue
		}
		if !ok {
			lo, hi, ok = k.c, k.c, true
		}
		lo, hi = min(lo, k.c), max(hi, k.c)
	}
	return lo, hi, ok
}

// cpuAtLowest returns the median CPU per request of each tool on engine with receipts on at its lowest
// concurrency.
func (g loadGroups) cpuAtLowest(engine string) map[string]float64 {
	out := map[string]float64{}
	for _, tool := range g.tools {
		if lo, _, ok := g.levels(tool, engine); ok {
			out[tool] = g.med(keyOn(engine, tool, lo), func(r loadRun) float64 { return r.CPUPerRequest }).med
		}
	}
	return out
}

func writeLoad(p func(string, ...any), g loadGroups) {
	if g.off {
		p("\n## Invocations per second over HTTP (loopback, receipts on and off)\n\n")
	} else {
		p("\n## Invocations per second over HTTP (loopback, receipts on)\n\n")
	}
	p("`bench/cmd/loadgen`: the real server in-process, one per Extism ABI engine — each with its Badger store in ")
	p("its own temporary directory, a runtime with fuel metering on and its compilation cache, admin key from ")
	p("`server.EnsureAdminKey`, `server.New` + `Serve` on `127.0.0.1:0` — with the tool published as ")
	p("`{\"module\": digest}` (default limits) and pinned; then N workers, each with one request in flight through ")
	p("`sdk/client` (keep-alive, one connection per worker), each run bounded by requests and time. Every 200 ")
	p("carries a receipt that is synced to disk in the signed log (one `fdatasync` per group commit, shared by the ")
	p("requests that wait together; registry/badger)")
	if g.off {
		p(", except on the receipts-off server (rows with receipts **off**)")
	}
	p(". The load generator shares the process and the 2 cores with the servers, which are all up for the whole run.\n\n")
	p("Engines:\n\n")
	for _, e := range g.engines {
		p("- **%s**: %s.\n", e, engineText[e])
	}
	if g.off {
		p("\nReceipts: **on** is the server as `toolgate serve` runs it, every 200 after its receipt is signed and ")
		p("synced; **off** is a second native-engine server started with `server.Config.NoReceipts` ")
		p("(`loadgen -receipts-off`): no receipt is signed, stored or synced and the log is off, for measuring what ")
		p("receipts cost only. The off rows are medians of their own runs and enter no other figure than the ")
		p("section \"What the log costs\".\n")
	}
	p("\nMedians over the rounds (each round runs every tool at every concurrency on every server, the servers ")
	p("taking turns of `-slice` until each has had its duration, so that noise from neighbours hits them alike); ")
	p("latency is per request as the ")
	p("client sees it; CPU/request is the process's user+system time over successful requests (server and client ")
	p("together); cores is that CPU time over wall time.\n\n")
	p("| engine | receipts | tool | concurrency | req/s (median) | range | p50 | p99 | CPU/request | cores | requests | errors |\n")
	p("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	var firstErrs []string
	for _, k := range g.keys {
		rs := g.runs[k]
		rps := g.med(k, func(r loadRun) float64 { return r.RPS })
		n, e := 0, 0
		for _, r := range rs {
			n += r.Requests
			e += r.Errors
			if r.FirstError != "" {
				firstErrs = append(firstErrs, fmt.Sprintf("%s receipts %s %s c=%d round %d: %s", r.Engine, r.Receipts,
					r.Tool, r.Concurrency, r.Round, r.FirstError))
			}
		}
		receipts := k.receipts
		if receipts == receiptsOff {
			receipts = "**off**"
		}
		p("| %s | %s | %s | %d | **%.0f** | %.0f – %.0f | %s | %s | %s | %.2f | %d in %d runs | %d |\n", k.engine,
			receipts, k.tool, k.c, rps.med, rps.lo, rps.hi, benchfmt.Dur(g.med(k, func(r loadRun) float64 { return r.P50 }).med),
			benchfmt.Dur(g.med(k, func(r loadRun) float64 { return r.P99 }).med),
			benchfmt.Dur(g.med(k, func(r loadRun) float64 { return r.CPUPerRequest }).med),
			g.med(k, func(r loadRun) float64 { return r.CPUCores }).med, n, len(rs), e)
	}
	for _, e := range firstErrs {
		p("\nError: %s\n", e)
	}
	writeEngines(p, g)
	writeLogCost(p, g)
}

// writeEngines puts the two engines side by side on issue 4's figures: latency of sequential requests (the lowest
// concurrency measured, 1 in bench/run.sh) and throughput at the highest (64). It writes nothing unless both
// engines ran.
func writeEngines(p func(string, ...any), g loadGroups) {
	if !slices.Contains(g.engines, engineNative) || !slices.Contains(g.engines, engineSDK) {
		return
	}
	p("\n### The native engine against the Extism SDK\n\n")
	p("Issue 4's figures, medians from the table above, receipts on: p50 and p99 of sequential requests (the lowest ")
	p("concurrency) and req/s at the highest. Both ratios read the same way: above 1× the native engine is ahead — its latency ")
	p("is that many times lower, its throughput that many times higher.\n\n")
	p("| tool | latency at concurrency | p50 native | p50 extism-sdk | p50 extism-sdk ÷ native | p99 native | ")
	p("p99 extism-sdk | p99 extism-sdk ÷ native | req/s at concurrency | req/s native | req/s extism-sdk | ")
	p("req/s native ÷ extism-sdk |\n")
	p("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, tool := range g.tools {
		lo, hi, ok := g.levels(tool, engineNative, engineSDK)
		if !ok {
			continue
		}
		at := func(e string, c int, f func(loadRun) float64) float64 { return g.med(keyOn(e, tool, c), f).med }
		p50 := func(r loadRun) float64 { return r.P50 }
		p99 := func(r loadRun) float64 { return r.P99 }
		rps := func(r loadRun) float64 { return r.RPS }
		p("| %s | %d | %s | %s | **%s** | %s | %s | **%s** | %d | %.0f | %.0f | **%s** |\n", tool, lo,
			benchfmt.Dur(at(engineNative, lo, p50)), benchfmt.Dur(at(engineSDK, lo, p50)), ratio(at(engineSDK, lo, p50), at(engineNative, lo, p50)),
			benchfmt.Dur(at(engineNative, lo, p99)), benchfmt.Dur(at(engineSDK, lo, p99)), ratio(at(engineSDK, lo, p99), at(engineNative, lo, p99)),
			hi, at(engineNative, hi, rps), at(engineSDK, hi, rps), ratio(at(engineNative, hi, rps), at(engineSDK, hi, rps)))
	}
}

// logCost is what the receipt log costs one tool at one concurrency on the native engine.
type logCost struct {
	rpsOn, rpsOff stat // req/s with receipts on and off, over the rounds
	ofMedians     float64
	perRound      stat // 1 − on/off of the two runs of each round that has both
}

// logCost compares tool's runs at concurrency c on the native engine with receipts on and off; ok is false unless
// both ran.
func (g loadGroups) logCost(tool string, c int) (lc logCost, ok bool) {
	kOn, kOff := keyOn(engineNative, tool, c), keyOff(engineNative, tool, c)
	if len(g.runs[kOn]) == 0 || len(g.runs[kOff]) == 0 {
		return logCost{}, false
	}
	rps := func(r loadRun) float64 { return r.RPS }
	lc.rpsOn, lc.rpsOff = g.med(kOn, rps), g.med(kOff, rps)
	lc.ofMedians = 1 - lc.rpsOn.med/lc.rpsOff.med
	var costs []float64
	for _, a := range g.runs[kOn] {
		for _, b := range g.runs[kOff] {
			if a.Round == b.Round && b.RPS > 0 {
				costs = append(costs, 1-a.RPS/b.RPS)
				break
			}
		}
	}
	lc.perRound = statOf(costs)
	return lc, true
}

// writeLogCost sets receipts on against off on the native engine (issue 7): throughput, its cost, CPU per request
// and p50, for each tool at every concurrency measured both ways. It writes nothing without receipts-off runs.
func writeLogCost(p func(string, ...any), g loadGroups) {
	if !g.off {
		return
	}
	p("\n## What the log costs\n\n")
	p("Issue 7: invocations per second with signed, synced receipts against receipts off, side by side; the target ")
	p("is that the log costs no more than %s of throughput at %d concurrent callers. The native engine, two servers ",
		strconv.FormatFloat(100*logTarget, 'f', -1, 64)+"%", logTargetC)
	p("in the same process: receipts **on**, as `toolgate serve` runs, and **off** (`server.Config.NoReceipts`: ")
	p("no receipt signed, stored or synced, the log off). Both run each tool at each concurrency in every round, ")
	p("taking turns with each other and the other engines (`loadgen -slice`), which goes first turning from round ")
	p("to round.\n\n")
	p("The cost is 1 − req/s on ÷ req/s off, the share of throughput the log takes (negative when the receipts-on ")
	p("run was the faster). **Per round** is that cost from the two runs of one round, then the median and range ")
	p("over the rounds: a neighbour's load that shifts between rounds hits both runs of a round alike. **Of ")
	p("medians** is the same formula on the two median req/s of the table above. CPU/request and p50 are medians ")
	p("over the rounds.\n\n")
	p("| tool | concurrency | req/s on | req/s off | cost per round (median) | range | rounds | cost of medians | ")
	p("CPU/request on | CPU/request off | p50 on | p50 off |\n")
	p("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	cpu := func(r loadRun) float64 { return r.CPUPerRequest }
	p50 := func(r loadRun) float64 { return r.P50 }
	for _, tool := range g.tools {
		for _, c := range g.concs {
			lc, ok := g.logCost(tool, c)
			if !ok {
				continue
			}
			kOn, kOff := keyOn(engineNative, tool, c), keyOff(engineNative, tool, c)
			p("| %s | %d | %.0f | %.0f | **%s** | %s – %s | %d | %s | %s | %s | %s | %s |\n", tool, c,
				lc.rpsOn.med, lc.rpsOff.med, pct(lc.perRound.med), pct(lc.perRound.lo), pct(lc.perRound.hi),
				lc.perRound.n, pct(lc.ofMedians), benchfmt.Dur(g.med(kOn, cpu).med), benchfmt.Dur(g.med(kOff, cpu).med),
				benchfmt.Dur(g.med(kOn, p50).med), benchfmt.Dur(g.med(kOff, p50).med))
		}
	}
	p("\nAgainst the target (cost ≤ %s at %d concurrent callers), judged on the per-round median:\n\n",
		strconv.FormatFloat(100*logTarget, 'f', -1, 64)+"%", logTargetC)
	for _, tool := range g.tools {
		lc, ok := g.logCost(tool, logTargetC)
		switch {
		case !ok:
			p("- **%s**: not measured at %d with receipts both on and off.\n", tool, logTargetC)
		case math.IsNaN(lc.perRound.med):
			p("- **%s**: no round has both runs.\n", tool)
		default:
			verdict := "meets the target"
			if lc.perRound.med > logTarget {
				verdict = "does not meet the target"
			}
			p("- **%s**: %s per round (median; %s – %s over %d rounds), %s of medians: %s.\n", tool,
				pct(lc.perRound.med), pct(lc.perRound.lo), pct(lc.perRound.hi), lc.perRound.n, pct(lc.ofMedians), verdict)
		}
	}
}

// pct formats a share as a percentage with one decimal, the minus sign typeset.
func pct(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	s := strconv.FormatFloat(100*x, 'f', 1, 64) + "%"
	if s == "-0.0%" {
		return "0.0%"
	}
	return strings.Replace(s, "-", "−", 1)
}

func signed(ns float64) string {
	if ns < 0 {
		return "−" + benchfmt.Dur(-ns)
	}
	return "+" + benchfmt.Dur(ns)
}

func parseFloat(s string) float64 {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

// The markers around the peer comparison section: bench/peers/cmd/peerreport writes them too, and its -splice
// replaces what is between them, so the section can be measured again on its own (bash bench/peers/run.sh).
const (
	peersBegin = "<!-- peers:begin -->"
	peersEnd   = "<!-- peers:end -->"
)

// writePeers ends the report with the peer comparison against wasmtime (bench/peers), or, when this run did
// not measure it (section ""), with a note saying how to.
func writePeers(w *strings.Builder, section string) {
	w.WriteString("\n")
	if section = strings.TrimSpace(section); section != "" {
		if !strings.HasPrefix(section, peersBegin) {
			section = peersBegin + "\n" + section + "\n" + peersEnd
		}
		w.WriteString(section + "\n")
		return
	}
	w.WriteString(peersBegin + "\n## Peer comparison: wasmtime\n\n" +
		"Not measured in this run. The comparison with wasmtime (fuel counts, kernel times with fuel, fresh " +
		"instances) lives in `bench/peers/`, a separate Go module that needs cgo, a C compiler and the wasmtime-go " +
		"module download; `make bench` runs it only when `go env CGO_ENABLED` is 1 and a C compiler is found, and " +
		"goes on without it when it fails. It is not part of `make test` or CI. Run `bash bench/peers/run.sh` to " +
		"measure it and write this section in place.\n" + peersEnd + "\n")
}
