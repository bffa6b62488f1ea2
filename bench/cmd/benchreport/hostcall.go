package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/toolgate/toolgate/bench/benchfmt"
)

// hostCallTarget is issue 4's ceiling on one byte-wise host call (input_load_u8, store_u8), in nanoseconds, on
// the native engine as `toolgate serve` runs it: metered (hostCallTargetEngine), one byte per call (u8).
const (
	hostCallTarget       = 100
	hostCallTargetEngine = "native-metered"
)

// hostCallText says what each engine of BenchmarkHostCall is, and how large its input.
var hostCallText = map[string]string{
	"native":         "`runtime.EngineNative` without fuel metering; 64 KiB input. Without fuel the runtime bounds a call by wazero's context polling (`WithCloseOnContextDone`), a check at every loop header that costs the loop more than fuel's inline counting: hence slower than native-metered",
	"native-metered": "`runtime.EngineNative` with fuel metering, as `toolgate serve` runs it (the guest instrumented, a budget per call); 64 KiB input",
	"extism-sdk":     "`runtime.EngineExtismSDK`, the Extism Go SDK v1.7.1, without metering; 4 KiB input, because it is slow",
}

// hostCallInput is the input size of each engine's calls in runtime/bench_test.go's BenchmarkHostCall.
var hostCallInput = map[string]float64{"native": 64 << 10, "native-metered": 64 << 10, "extism-sdk": 4 << 10}

// hostCallKey is one BenchmarkHostCall case: the engine and the width of each host call (u8 or u64).
type hostCallKey struct{ engine, width string }

// hostCalls holds BenchmarkHostCall's ns/hostcall of every round by case, engines and widths in first-seen order.
type hostCalls struct {
	engines []string
	widths  []string
	ns      map[hostCallKey][]float64
}

// cutProcs splits a benchmark name from its -N GOMAXPROCS suffix, which `go test` leaves out when GOMAXPROCS is
// 1; a dash inside the last path element's name (extism-sdk) is not one.
func cutProcs(name string) (base, procs string) {
	i := strings.LastIndexByte(name, '-')
	if i < 0 || i < strings.LastIndexByte(name, '/') {
		return name, ""
	}
	if _, err := strconv.Atoi(name[i+1:]); err != nil {
		return name, ""
	}
	return name[:i], name[i+1:]
}

// metric returns the value of unit among a benchmark line's value-unit pairs (the fields after the iteration
// count); ok is false when the line has none.
func metric(fields []string, unit string) (v float64, ok bool, err error) {
	for i := 2; i+1 < len(fields); i += 2 {
		if fields[i+1] != unit {
			continue
		}
		v, err := strconv.ParseFloat(fields[i], 64)
		return v, err == nil, err
	}
	return 0, false, nil
}

// parseHostCall reads the BenchmarkHostCall/{engine}/{width} lines of `go test -bench` output from every round.
// Lines that are not results (headers, a benchmark's name before its log output, PASS) are skipped.
func parseHostCall(r io.Reader) (*hostCalls, error) {
	hc := &hostCalls{ns: map[hostCallKey][]float64{}}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "BenchmarkHostCall/") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue // not a result line
		}
		name, _ := cutProcs(f[0])
		parts := strings.Split(name, "/")
		if len(parts) != 3 {
			return nil, fmt.Errorf("unexpected benchmark name %q", f[0])
		}
		v, ok, err := metric(f, "ns/hostcall")
		if err != nil {
			return nil, fmt.Errorf("line %q: %w", line, err)
		}
		if !ok {
			return nil, fmt.Errorf("line %q: no ns/hostcall", line)
		}
		k := hostCallKey{parts[1], parts[2]}
		if !slices.Contains(hc.engines, k.engine) {
			hc.engines = append(hc.engines, k.engine)
		}
		if !slices.Contains(hc.widths, k.width) {
			hc.widths = append(hc.widths, k.width)
		}
		hc.ns[k] = append(hc.ns[k], v)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(hc.ns) == 0 {
		return nil, errors.New("no BenchmarkHostCall results")
	}
	return hc, nil
}

func (hc *hostCalls) stat(engine, width string) stat {
	return statOf(hc.ns[hostCallKey{engine, width}])
}

// calls is the number of host calls one call of the case makes: two per byte for u8, two per eight bytes for u64.
func (k hostCallKey) calls() float64 {
	n := 2 * hostCallInput[k.engine]
	if k.width == "u64" {
		n /= 8
	}
	return n
}

// writeHostCall writes issue 4's byte-wise host call figure: every case's median ns/hostcall over the rounds,
// the target judged on native-metered/u8, and the native engine against the Extism SDK. br gives the fixed cost
// of a fresh sandbox, to say how much of each figure it is.
func writeHostCall(p func(string, ...any), hc *hostCalls, br *benchResults) {
	p("\n## Byte-wise host call\n\n")
	p("Issue 4's figure: what one byte-wise host call (`input_load_u8`, `store_u8`) costs. ")
	p("`BenchmarkHostCall/{engine}/{width}` in `runtime/bench_test.go`, run once in each round after the ")
	p("fresh-sandbox benchmarks, in a process of its own: `runtime/testdata/hostcalls.wat` copies the call's input ")
	p("into a new block through `Runtime.Invoke`, one byte at a time with `input_load_u8` + `store_u8` (**u8**, two ")
	p("host calls per byte) or eight at a time with `input_load_u64` + `store_u64` (**u64**, two per eight bytes). ")
	p("ns/hostcall is the whole call's time over its number of host calls, so it includes the loop's own ")
	p("instructions (with metering, their fuel charges too) and the sandbox's fixed cost — instantiate, close, the ")
	p("result's classification — spread over the calls. On the native engine's 64 KiB that share is small (the ")
	p("fresh-sandbox nop case above, %s through Toolgate, is %s per host call over u8's %.0f calls); on the Extism ",
		benchfmt.Dur(br.ns("toolgate", "nop").med), benchfmt.Dur(br.ns("toolgate", "nop").med/hostCallKey{"native-metered", "u8"}.calls()),
		hostCallKey{"native-metered", "u8"}.calls())
	p("SDK's 4 KiB it is larger (its nop, %s, is %s per host call over u8's %.0f calls and %s over u64's %.0f).\n\n",
		benchfmt.Dur(br.ns("extism-sdk", "nop").med),
		benchfmt.Dur(br.ns("extism-sdk", "nop").med/hostCallKey{"extism-sdk", "u8"}.calls()), hostCallKey{"extism-sdk", "u8"}.calls(),
		benchfmt.Dur(br.ns("extism-sdk", "nop").med/hostCallKey{"extism-sdk", "u64"}.calls()), hostCallKey{"extism-sdk", "u64"}.calls())
	p("Engines:\n\n")
	for _, e := range hc.engines {
		text := hostCallText[e]
		if text == "" {
			text = "not described by this report"
		}
		p("- **%s**: %s.\n", e, text)
	}
	p("\n| engine | width | host calls per call | ns/hostcall (median) | range over rounds | rounds |\n")
	p("|---|---|--:|--:|--:|--:|\n")
	for _, e := range hc.engines {
		for _, w := range hc.widths {
			k := hostCallKey{e, w}
			if len(hc.ns[k]) == 0 {
				continue
			}
			s := hc.stat(e, w)
			calls := "–"
			if _, known := hostCallInput[e]; known {
				calls = strconv.FormatFloat(k.calls(), 'f', 0, 64)
			}
			p("| %s | %s | %s | **%s** | %s – %s | %d |\n", e, w, calls, benchfmt.Dur(s.med), benchfmt.Dur(s.lo), benchfmt.Dur(s.hi), s.n)
		}
	}

	p("\nTarget (issue 4): a byte-wise host call ≤ %d ns on the native engine as `toolgate serve` runs it "+
		"(%s/u8), judged on the median: ", hostCallTarget, hostCallTargetEngine)
	switch s := hc.stat(hostCallTargetEngine, "u8"); {
	case s.n == 0:
		p("not measured in this run.\n")
	case s.med <= hostCallTarget:
		p("%s (%s – %s over %s): **met**", benchfmt.Dur(s.med), benchfmt.Dur(s.lo), benchfmt.Dur(s.hi), rounds(s.n))
		if s.hi > hostCallTarget {
			p("; the slowest round was above it")
		}
		p(".\n")
	default:
		p("%s (%s – %s over %s): **not met**.\n", benchfmt.Dur(s.med), benchfmt.Dur(s.lo), benchfmt.Dur(s.hi), rounds(s.n))
	}

	sdk := hc.stat(engineSDK, "u8")
	var lines []string
	for _, e := range []string{engineNative, hostCallTargetEngine} {
		if n := hc.stat(e, "u8"); n.n > 0 && sdk.n > 0 {
			lines = append(lines, fmt.Sprintf("- %s ÷ extism-sdk: **%s** (the SDK's call takes %s× as long)\n", e,
				fraction(n.med/sdk.med), fraction(sdk.med/n.med)))
		}
	}
	if len(lines) > 0 {
		p("\nu8, the native engine against the Extism SDK, ratio of the medians (below 1 the native engine is faster):\n\n")
		p("%s", strings.Join(lines, ""))
	}
}

// fraction formats a ratio with three significant digits, however small.
func fraction(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "–"
	}
	if r >= 100 {
		return strconv.FormatFloat(r, 'f', 0, 64)
	}
	return strconv.FormatFloat(r, 'g', 3, 64)
}

func rounds(n int) string {
	if n == 1 {
		return "1 round"
	}
	return strconv.Itoa(n) + " rounds"
}
