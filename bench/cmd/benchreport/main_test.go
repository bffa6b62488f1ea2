package main

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/toolgate/toolgate/bench/benchfmt"
)

const benchOut = `goos: linux
cpu: Test CPU
BenchmarkFreshSandbox/toolgate/echo-2   	     300	   1000000 ns/op	    900000 cpu-ns/op	 1300000 B/op	     243 allocs/op
BenchmarkFreshSandbox/wazero/echo-2     	   10000	     25000 ns/op	     20000 cpu-ns/op	   19000 B/op	      29 allocs/op
PASS
BenchmarkFreshSandbox/toolgate/echo-2   	     300	   3000000 ns/op	    700000 cpu-ns/op	 1300000 B/op	     243 allocs/op
BenchmarkFreshSandbox/wazero/echo-2     	   10000	     35000 ns/op	     30000 cpu-ns/op	   19000 B/op	      29 allocs/op
BenchmarkFreshSandbox/toolgate/echo-2   	     300	   2000000 ns/op	    800000 cpu-ns/op	 1300000 B/op	     243 allocs/op
BenchmarkFreshSandbox/wazero/echo-2     	   10000	     30000 ns/op	     25000 cpu-ns/op	   19000 B/op	      29 allocs/op
`

func TestParseBench(t *testing.T) {
	br, err := parseBench(strings.NewReader(benchOut))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(br.subjects, ","), "toolgate,wazero"; got != want {
		t.Errorf("subjects: got %s, want %s", got, want)
	}
	if br.procs != "2" || br.cpuName != "Test CPU" {
		t.Errorf("procs, cpu: got %q %q, want 2, Test CPU", br.procs, br.cpuName)
	}
	for _, tc := range []struct {
		name        string
		got         stat
		med, lo, hi float64
	}{
		{"toolgate ns", br.ns("toolgate", "echo"), 2e6, 1e6, 3e6},
		{"toolgate cpu", br.cpu("toolgate", "echo"), 8e5, 7e5, 9e5},
		{"wazero ns", br.ns("wazero", "echo"), 3e4, 2.5e4, 3.5e4},
	} {
		if tc.got.med != tc.med || tc.got.lo != tc.lo || tc.got.hi != tc.hi || tc.got.n != 3 {
			t.Errorf("%s: got %+v, want median %g in [%g, %g] over 3", tc.name, tc.got, tc.med, tc.lo, tc.hi)
		}
	}
}

func TestParseBench_Empty(t *testing.T) {
	if _, err := parseBench(strings.NewReader("PASS\n")); err == nil {
		t.Error("got no error for output without results, want one")
	}
}

func TestStatOf(t *testing.T) {
	for _, tc := range []struct {
		xs  []float64
		med float64
	}{
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{7}, 7},
	} {
		if got := statOf(tc.xs).med; got != tc.med {
			t.Errorf("statOf(%v).med: got %g, want %g", tc.xs, got, tc.med)
		}
	}
	if got := statOf(nil).med; !math.IsNaN(got) {
		t.Errorf("statOf(nil).med: got %g, want NaN", got)
	}
}

func TestParseLoad(t *testing.T) {
	in := `{"round":1,"tool":"echo","concurrency":8,"requests":10,"errors":0,"elapsed_ns":1e9,"rps":10,"p50_ns":1,"p90_ns":2,"p99_ns":3,"max_ns":4,"cpu_per_request_ns":5,"cpu_cores":0.5}
{"round":1,"engine":"extism-sdk","receipts":"on","tool":"echo","concurrency":8,"requests":10,"errors":0,"elapsed_ns":1e9,"rps":20,"p50_ns":1,"p90_ns":2,"p99_ns":3,"max_ns":4,"cpu_per_request_ns":5,"cpu_cores":0.5}
{"round":1,"engine":"native","receipts":"off","tool":"echo","concurrency":8,"requests":10,"errors":0,"elapsed_ns":1e9,"rps":30,"p50_ns":1,"p90_ns":2,"p99_ns":3,"max_ns":4,"cpu_per_request_ns":5,"cpu_cores":0.5}
`
	runs, err := parseLoad(strings.NewReader(in))
	if err != nil || len(runs) != 3 || runs[0].RPS != 10 || runs[0].CPUCores != 0.5 {
		t.Fatalf("got %+v, %v", runs, err)
	}
	// A line without an engine predates the field: it was measured on the native engine. One without receipts
	// predates -receipts-off: receipts were on.
	for i, want := range []string{"native on", "extism-sdk on", "native off"} {
		if got := runs[i].Engine + " " + runs[i].Receipts; got != want {
			t.Errorf("line %d: got engine and receipts %q, want %q", i+1, got, want)
		}
	}
	for _, bad := range []string{`{"round":1,"surprise":true}`, `{"round":1,"receipts":"maybe"}`} {
		if _, err := parseLoad(strings.NewReader(bad)); err == nil {
			t.Errorf("parseLoad(%s): got no error, want one", bad)
		}
	}
}

// loadLine is one cmd/loadgen JSON line of echo with 100 requests and 50 µs of CPU per request; engine ""
// leaves the field out, as files written before it did, and so does the receipts field.
func loadLine(round int, engine string, c int, rps, p50, p99 float64) string {
	return runLine(round, engine, "", "echo", c, rps, p50, p99, 50e3)
}

// runLine is one cmd/loadgen JSON line with 100 requests; engine or receipts "" leaves that field out.
func runLine(round int, engine, receipts, tool string, c int, rps, p50, p99, cpu float64) string {
	e := ""
	if engine != "" {
		e = fmt.Sprintf(`"engine":%q,`, engine)
	}
	if receipts != "" {
		e += fmt.Sprintf(`"receipts":%q,`, receipts)
	}
	return fmt.Sprintf(`{"round":%d,%s"tool":%q,"concurrency":%d,"requests":100,"errors":0,"elapsed_ns":1e9,`+
		`"rps":%g,"p50_ns":%g,"p90_ns":%g,"p99_ns":%g,"max_ns":%g,"cpu_per_request_ns":%g,"cpu_cores":1}`+"\n",
		round, e, tool, c, rps, p50, p50, p99, p99, cpu)
}

// inOrder fails t unless every row is in got, each after the one before it.
func inOrder(t *testing.T, got string, rows ...string) {
	t.Helper()
	at := -1
	for _, row := range rows {
		i := strings.Index(got, row)
		if i < 0 {
			t.Errorf("got no row %q in\n%s", row, got)
			continue
		}
		if i < at {
			t.Errorf("row %q: got it before the row above it, want it after", row)
		}
		at = i
	}
}

// writeLoadString is writeLoad's output for the lines in.
func writeLoadString(t *testing.T, in string) (string, loadGroups) {
	t.Helper()
	runs, err := parseLoad(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	g := groupLoad(runs)
	var sb strings.Builder
	writeLoad(func(format string, args ...any) { fmt.Fprintf(&sb, format, args...) }, g)
	return sb.String(), g
}

func TestWriteLoad(t *testing.T) {
	// Three rounds as loadgen writes them: engines back to back for each concurrency, the engine that goes first
	// turning from round to round; round 1's native lines come from a file without the engine field.
	in := loadLine(1, "", 1, 1000, 100e3, 200e3) + loadLine(1, "extism-sdk", 1, 500, 210e3, 600e3) +
		loadLine(1, "", 64, 8000, 5e6, 9e6) + loadLine(1, "extism-sdk", 64, 2000, 20e6, 40e6) +
		loadLine(2, "extism-sdk", 1, 400, 220e3, 660e3) + loadLine(2, "native", 1, 900, 110e3, 220e3) +
		loadLine(2, "extism-sdk", 64, 1900, 21e6, 41e6) + loadLine(2, "native", 64, 7000, 6e6, 10e6) +
		loadLine(3, "native", 1, 1100, 120e3, 240e3) + loadLine(3, "extism-sdk", 1, 600, 230e3, 700e3) +
		loadLine(3, "native", 64, 9000, 4e6, 8e6) + loadLine(3, "extism-sdk", 64, 2100, 22e6, 42e6)
	got, _ := writeLoadString(t, in)

	// One row per engine, tool and concurrency, medians over that engine's rounds only, native first.
	inOrder(t, got,
		"| engine | receipts | tool | concurrency | req/s (median) |",
		"| native | on | echo | 1 | **1000** | 900 – 1100 | 110 µs | 220 µs | 50.0 µs | 1.00 | 300 in 3 runs | 0 |",
		"| native | on | echo | 64 | **8000** | 7000 – 9000 | 5.00 ms | 9.00 ms | 50.0 µs | 1.00 | 300 in 3 runs | 0 |",
		"| extism-sdk | on | echo | 1 | **500** | 400 – 600 | 220 µs | 660 µs | 50.0 µs | 1.00 | 300 in 3 runs | 0 |",
		"| extism-sdk | on | echo | 64 | **2000** | 1900 – 2100 | 21.0 ms | 41.0 ms | 50.0 µs | 1.00 | 300 in 3 runs | 0 |",
		// The engines side by side: latency at concurrency 1 (extism-sdk ÷ native), req/s at 64 (native ÷ extism-sdk).
		"| tool | latency at concurrency | p50 native | p50 extism-sdk | p50 extism-sdk ÷ native |",
		"| echo | 1 | 110 µs | 220 µs | **2.00×** | 220 µs | 660 µs | **3.00×** | 64 | 8000 | 2000 | **4.00×** |",
	)
	for _, e := range []string{"**native**", "**extism-sdk**"} {
		if !strings.Contains(got, e) {
			t.Errorf("got no description of engine %s", e)
		}
	}
	// Without receipts-off runs there is nothing to set receipts against.
	if !strings.Contains(got, "(loopback, receipts on)") || strings.Contains(got, "What the log costs") {
		t.Errorf("got a receipts-off title or the log's cost without receipts-off runs:\n%s", got)
	}
}

// TestWriteLoad_ReceiptsOff runs what loadgen -engines native,extism-sdk -receipts-off writes: three servers
// back to back, the first turning from round to round. The receipts-off runs are faster, leaner and quicker than
// the native receipts-on runs, so that any figure they leak into moves.
func TestWriteLoad_ReceiptsOff(t *testing.T) {
	on := func(round, c int, rps, p50 float64) string {
		return runLine(round, "native", "on", "echo", c, rps, p50, 2*p50, 50e3)
	}
	off := func(round, c int, rps, p50 float64) string {
		return runLine(round, "native", "off", "echo", c, rps, p50, 2*p50, 40e3)
	}
	sdk := func(round, c int, rps, p50 float64) string {
		return runLine(round, "extism-sdk", "on", "echo", c, rps, p50, 2*p50, 60e3)
	}
	hello := func(round int, receipts string, rps float64) string {
		return runLine(round, "native", receipts, "hello", 64, rps, 1e6, 2e6, 1e6)
	}
	// Round 1 comes from an older loadgen: its native receipts-on lines have neither engine nor receipts.
	in := loadLine(1, "", 1, 1000, 100e3, 200e3) + off(1, 1, 1250, 80e3) + sdk(1, 1, 500, 210e3) +
		loadLine(1, "", 64, 8000, 5e6, 10e6) + off(1, 64, 10000, 4e6) + sdk(1, 64, 2000, 20e6) +
		off(2, 1, 1000, 80e3) + sdk(2, 1, 400, 220e3) + on(2, 1, 900, 110e3) +
		off(2, 64, 8000, 4e6) + sdk(2, 64, 1900, 21e6) + on(2, 64, 7000, 6e6) +
		sdk(3, 1, 600, 230e3) + on(3, 1, 1100, 120e3) + off(3, 1, 1100, 80e3) +
		sdk(3, 64, 2100, 22e6) + on(3, 64, 9000, 4e6) + off(3, 64, 9500, 4e6) +
		hello(1, "on", 100) + hello(1, "off", 200) + hello(2, "off", 200) + hello(2, "on", 100)
	got, g := writeLoadString(t, in)

	inOrder(t, got,
		"(loopback, receipts on and off)",
		"**native**", "**extism-sdk**", "Receipts: **on**",
		// The HTTP table: the receipts-off rows apart from the native receipts-on rows, which keep their own medians.
		"| engine | receipts | tool | concurrency | req/s (median) |",
		"| native | on | echo | 1 | **1000** | 900 – 1100 | 110 µs | 220 µs | 50.0 µs | 1.00 | 300 in 3 runs | 0 |",
		"| native | on | echo | 64 | **8000** | 7000 – 9000 | 5.00 ms | 10.0 ms | 50.0 µs | 1.00 | 300 in 3 runs | 0 |",
		"| native | on | hello | 64 | **100** |",
		"| native | **off** | echo | 1 | **1100** | 1000 – 1250 | 80.0 µs | 160 µs | 40.0 µs | 1.00 | 300 in 3 runs | 0 |",
		"| native | **off** | echo | 64 | **9500** | 8000 – 10000 | 4.00 ms | 8.00 ms | 40.0 µs | 1.00 | 300 in 3 runs | 0 |",
		"| native | **off** | hello | 64 | **200** |",
		"| extism-sdk | on | echo | 1 | **500** |",
		// The engine comparison from receipts-on runs only.
		"| echo | 1 | 110 µs | 220 µs | **2.00×** | 220 µs | 440 µs | **2.00×** | 64 | 8000 | 2000 | **4.00×** |",
		// The log's cost: per round echo at 1 costs 20%, 10%, 0%; at 64 20%, 12.5%, 5.3%; of medians
		// 1 − 1000/1100 and 1 − 8000/9500.
		"## What the log costs",
		"no more than 15% of throughput at 64 concurrent callers",
		"| tool | concurrency | req/s on | req/s off | cost per round (median) | range | rounds | cost of medians |",
		"| echo | 1 | 1000 | 1100 | **10.0%** | 0.0% – 20.0% | 3 | 9.1% | 50.0 µs | 40.0 µs | 110 µs | 80.0 µs |",
		"| echo | 64 | 8000 | 9500 | **12.5%** | 5.3% – 20.0% | 3 | 15.8% | 50.0 µs | 40.0 µs | 5.00 ms | 4.00 ms |",
		"| hello | 64 | 100 | 200 | **50.0%** | 50.0% – 50.0% | 2 | 50.0% |",
		"(cost ≤ 15% at 64 concurrent callers), judged on the per-round median",
		"- **echo**: 12.5% per round (median; 5.3% – 20.0% over 3 rounds), 15.8% of medians: meets the target.",
		"- **hello**: 50.0% per round (median; 50.0% – 50.0% over 2 rounds), 50.0% of medians: does not meet the target.",
	)
	if strings.Contains(got, "| extism-sdk | **off** |") {
		t.Errorf("got a receipts-off row for extism-sdk, which ran with receipts on only:\n%s", got)
	}
	// The notes read receipts-on runs only.
	if got, want := g.cpuAtLowest(engineNative)["echo"], 50e3; got != want {
		t.Errorf("cpuAtLowest(native)[echo]: got %g, want %g", got, want)
	}
}

func TestWriteLoad_OneEngine(t *testing.T) {
	runs, err := parseLoad(strings.NewReader(loadLine(1, "", 1, 1000, 100e3, 200e3) + loadLine(1, "", 64, 8000, 5e6, 9e6)))
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	writeLoad(func(format string, args ...any) { fmt.Fprintf(&sb, format, args...) }, groupLoad(runs))
	got := sb.String()
	if !strings.Contains(got, "| native | on | echo | 64 | **8000** |") {
		t.Errorf("got no native row for an old file in\n%s", got)
	}
	if strings.Contains(got, "extism-sdk ÷ native") || strings.Contains(got, "**extism-sdk**") {
		t.Errorf("got the engine comparison with one engine measured, want none:\n%s", got)
	}
}

func TestPct(t *testing.T) {
	for _, tc := range []struct {
		x    float64
		want string
	}{
		{0.125, "12.5%"}, {-0.021, "−2.1%"}, {-0.0001, "0.0%"}, {0, "0.0%"}, {math.NaN(), "–"},
	} {
		if got := pct(tc.x); got != tc.want {
			t.Errorf("pct(%g): got %q, want %q", tc.x, got, tc.want)
		}
	}
}

func TestDur(t *testing.T) {
	for _, tc := range []struct {
		ns   float64
		want string
	}{
		{512, "512 ns"}, {25400, "25.4 µs"}, {1090000, "1.09 ms"}, {2.5e9, "2.50 s"}, {math.NaN(), "–"},
	} {
		if got := benchfmt.Dur(tc.ns); got != tc.want {
			t.Errorf("benchfmt.Dur(%g): got %q, want %q", tc.ns, got, tc.want)
		}
	}
}

func TestWritePeers(t *testing.T) {
	for _, tc := range []struct {
		name, section, want string
	}{
		{"measured", peersBegin + "\n## Peer comparison: wasmtime\n\nfigures\n" + peersEnd + "\n", "figures"},
		{"unmarked", "## Peer comparison: wasmtime\n\nfigures\n", "figures"},
		{"not measured", "", "Not measured in this run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sb strings.Builder
			writePeers(&sb, tc.section)
			got := sb.String()
			if !strings.Contains(got, tc.want) || strings.Count(got, peersBegin) != 1 || strings.Count(got, peersEnd) != 1 ||
				strings.Index(got, peersBegin) > strings.Index(got, peersEnd) {
				t.Errorf("got %q, want %q between one pair of markers", got, tc.want)
			}
		})
	}
}

// hostCallOut is three rounds of BenchmarkHostCall: GOMAXPROCS 2 (the -2 suffix) in the first two, 1 (no suffix)
// in the third, a benchmark's name printed before its log output, and ns/op before the custom metric.
const hostCallOut = `goos: linux
pkg: github.com/toolgate/toolgate/runtime
BenchmarkHostCall/native/u8-2         	      31	   6932886 ns/op	        52.00 ns/hostcall
BenchmarkHostCall/native-metered/u8-2 	      46	   5288378 ns/op	        40.00 ns/hostcall
BenchmarkHostCall/extism-sdk/u8-2     	       3	  73656173 ns/op	      5000 ns/hostcall
BenchmarkHostCall/extism-sdk/u64-2    	     668	    306788 ns/op	       300.0 ns/hostcall
PASS
BenchmarkHostCall/native/u8-2         	      31	   6932886 ns/op	        50.00 ns/hostcall
BenchmarkHostCall/native-metered/u8
    bench_test.go:1: a log line
BenchmarkHostCall/native-metered/u8-2 	      46	   5288378 ns/op	        60.00 ns/hostcall
BenchmarkHostCall/extism-sdk/u8-2     	       3	  73656173 ns/op	      4000 ns/hostcall
BenchmarkHostCall/native/u8           	      31	   6932886 ns/op	        54.00 ns/hostcall
BenchmarkHostCall/native-metered/u8   	      46	   5288378 ns/op	        50.00 ns/hostcall
BenchmarkHostCall/extism-sdk/u8       	       3	  73656173 ns/op	      6000 ns/hostcall
`

func TestParseHostCall(t *testing.T) {
	hc, err := parseHostCall(strings.NewReader(hostCallOut))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(hc.engines, ","), "native,native-metered,extism-sdk"; got != want {
		t.Errorf("engines: got %s, want %s", got, want)
	}
	for _, tc := range []struct {
		engine, width string
		med, lo, hi   float64
		n             int
	}{
		{"native", "u8", 52, 50, 54, 3},
		{"native-metered", "u8", 50, 40, 60, 3},
		{"extism-sdk", "u8", 5000, 4000, 6000, 3},
		{"extism-sdk", "u64", 300, 300, 300, 1},
	} {
		if got := hc.stat(tc.engine, tc.width); got.med != tc.med || got.lo != tc.lo || got.hi != tc.hi || got.n != tc.n {
			t.Errorf("%s/%s: got %+v, want median %g in [%g, %g] over %d", tc.engine, tc.width, got, tc.med, tc.lo,
				tc.hi, tc.n)
		}
	}
}

func TestParseHostCall_Errors(t *testing.T) {
	for name, in := range map[string]string{
		"empty":     "PASS\n",
		"no metric": "BenchmarkHostCall/native/u8-2 \t 31\t 6932886 ns/op\n",
		"bad name":  "BenchmarkHostCall/u8-2 \t 31\t 6932886 ns/op\t 52 ns/hostcall\n",
	} {
		if _, err := parseHostCall(strings.NewReader(in)); err == nil {
			t.Errorf("%s: got no error, want one", name)
		}
	}
}

func TestCutProcs(t *testing.T) {
	for _, tc := range []struct{ in, base, procs string }{
		{"BenchmarkHostCall/extism-sdk/u8-2", "BenchmarkHostCall/extism-sdk/u8", "2"},
		{"BenchmarkHostCall/extism-sdk/u8", "BenchmarkHostCall/extism-sdk/u8", ""},
		{"BenchmarkHostCall/native-metered/u64-16", "BenchmarkHostCall/native-metered/u64", "16"},
		{"BenchmarkFreshSandbox/toolgate/nop", "BenchmarkFreshSandbox/toolgate/nop", ""},
	} {
		if base, procs := cutProcs(tc.in); base != tc.base || procs != tc.procs {
			t.Errorf("cutProcs(%q): got %q %q, want %q %q", tc.in, base, procs, tc.base, tc.procs)
		}
	}
}

// writeString is the whole report for benchOut, one load line and hostCall's output (none when "").
func writeString(t *testing.T, hostCall string) string {
	t.Helper()
	br, err := parseBench(strings.NewReader(benchOut))
	if err != nil {
		t.Fatal(err)
	}
	runs, err := parseLoad(strings.NewReader(loadLine(1, "", 1, 100, 1e6, 2e6)))
	if err != nil {
		t.Fatal(err)
	}
	var hc *hostCalls
	if hostCall != "" {
		if hc, err = parseHostCall(strings.NewReader(hostCall)); err != nil {
			t.Fatal(err)
		}
	}
	var sb strings.Builder
	write(&sb, machine{}, "", br, nil, "", hc, runs)
	return sb.String()
}

func TestWriteHostCall(t *testing.T) {
	got := writeString(t, hostCallOut)
	inOrder(t, got,
		"## Fresh sandbox per call",
		"## Byte-wise host call",
		"| native | u8 | 131072 | **52.0 ns** | 50.0 ns – 54.0 ns | 3 |",
		"| native-metered | u8 | 131072 | **50.0 ns** | 40.0 ns – 60.0 ns | 3 |",
		"| extism-sdk | u8 | 8192 | **5.00 µs** | 4.00 µs – 6.00 µs | 3 |",
		"| extism-sdk | u64 | 1024 | **300 ns** | 300 ns – 300 ns | 1 |",
		"Target (issue 4): a byte-wise host call ≤ 100 ns on the native engine as `toolgate serve` runs it "+
			"(native-metered/u8), judged on the median: 50.0 ns (40.0 ns – 60.0 ns over 3 rounds): **met**.",
		"- native ÷ extism-sdk: **0.0104** (the SDK's call takes 96.2× as long)",
		"- native-metered ÷ extism-sdk: **0.01** (the SDK's call takes 100× as long)",
		"## Invocations per second over HTTP")

	if got := writeString(t, ""); strings.Contains(got, "Byte-wise host call") {
		t.Error("got a host call section without -hostcall, want none")
	}
}

func TestWriteHostCall_Target(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"slow", "BenchmarkHostCall/native-metered/u8-2 \t 1\t 1 ns/op\t 150 ns/hostcall\n",
			"judged on the median: 150 ns (150 ns – 150 ns over 1 round): **not met**.\n"},
		{"at the target", "BenchmarkHostCall/native-metered/u8-2 \t 1\t 1 ns/op\t 100 ns/hostcall\n",
			"judged on the median: 100 ns (100 ns – 100 ns over 1 round): **met**.\n"},
		{"one slow round", "BenchmarkHostCall/native-metered/u8-2 \t 1\t 1 ns/op\t 90 ns/hostcall\n" +
			"BenchmarkHostCall/native-metered/u8-2 \t 1\t 1 ns/op\t 95 ns/hostcall\n" +
			"BenchmarkHostCall/native-metered/u8-2 \t 1\t 1 ns/op\t 120 ns/hostcall\n",
			"**met**; the slowest round was above it.\n"},
		{"not measured", "BenchmarkHostCall/native/u8-2 \t 1\t 1 ns/op\t 50 ns/hostcall\n",
			"judged on the median: not measured in this run.\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := writeString(t, tc.in); !strings.Contains(got, tc.want) {
				t.Errorf("got no %q in\n%s", tc.want, got)
			}
		})
	}
}
