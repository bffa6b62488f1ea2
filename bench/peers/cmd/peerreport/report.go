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
	"time"

	"github.com/toolgate/toolgate/bench/benchfmt"
	"github.com/toolgate/toolgate/bench/peers"
)

// results are the benchmark lines of every round: by benchmark name without "Benchmark" and the GOMAXPROCS
// suffix ("Kernels/sum/wazero+fuel"), one map of metric to value per round.
type results struct {
	cpu     string
	samples map[string][]map[string]float64
}

func parseBench(r io.Reader) (*results, error) {
	res := &results{samples: map[string][]map[string]float64{}}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if cpu, ok := strings.CutPrefix(line, "cpu: "); ok {
			res.cpu = cpu
			continue
		}
		name, ok := strings.CutPrefix(line, "Benchmark")
		if !ok {
			continue
		}
		f := strings.Fields(name)
		if len(f) < 4 || len(f)%2 != 0 {
			continue
		}
		name = f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		m := map[string]float64{}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("line %q: %w", line, err)
			}
			m[f[i+1]] = v
		}
		res.samples[name] = append(res.samples[name], m)
	}
	if len(res.samples) == 0 {
		return nil, errors.New("no benchmark results")
	}
	return res, sc.Err()
}

// stat is the median and range of one measure over the rounds.
type stat struct{ med, lo, hi float64 }

func statOf(xs []float64) stat {
	med, lo, hi := benchfmt.Spread(xs)
	return stat{med, lo, hi}
}

// series is one metric of one benchmark, round by round (NaN where a round lacks it).
func (r *results) series(name, metric string) []float64 {
	var xs []float64
	for _, m := range r.samples[name] {
		v, ok := m[metric]
		if !ok {
			v = math.NaN()
		}
		xs = append(xs, v)
	}
	return xs
}

// ratio is the ratio of two benchmarks' ns/op within each round, over the rounds.
func (r *results) ratio(num, den string) stat {
	a, b := r.series(num, "ns/op"), r.series(den, "ns/op")
	var xs []float64
	for i := range min(len(a), len(b)) {
		if v := a[i] / b[i]; !math.IsNaN(v) {
			xs = append(xs, v)
		}
	}
	return statOf(xs)
}

func (r *results) stat(name, metric string) stat {
	var xs []float64
	for _, v := range r.series(name, metric) {
		if !math.IsNaN(v) {
			xs = append(xs, v)
		}
	}
	return statOf(xs)
}

// call is the timed call with the given ID.
func call(id string) peers.Call {
	for _, c := range peers.TimedCalls {
		if c.ID == id {
			return c
		}
	}
	panic("peerreport: no timed call " + id)
}

func kernelName(c peers.Call, subject string) string { return "Kernels/" + c.ID + "/" + subject }
func freshName(subject string) string                { return "FreshInstance/" + subject }

func geomean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range xs {
		s += math.Log(x)
	}
	return math.Exp(s / float64(len(xs)))
}

func times(r float64) string {
	switch {
	case math.IsNaN(r) || math.IsInf(r, 0):
		return "–"
	case r >= 10:
		return strconv.FormatFloat(r, 'f', 1, 64) + "×"
	}
	return strconv.FormatFloat(r, 'f', 2, 64) + "×"
}

func size(b float64) string {
	switch {
	case math.IsNaN(b):
		return "–"
	case b >= 1<<10:
		return benchfmt.Sig3(b/(1<<10)) + " KiB"
	}
	return strconv.FormatFloat(b, 'f', 0, 64) + " B"
}

// thousands writes n with thousands separators: 12,000,002.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "−" + b.String()
	}
	return b.String()
}

func signed(n int64) string {
	if n > 0 {
		return "+" + thousands(n)
	}
	return thousands(n)
}

// countNote explains a call's count; diff is Toolgate's count minus wasmtime's that the note accounts for.
type countNote struct {
	diff int64
	text string
}

var countNotes = map[string]countNote{
	"sum": {0, "12 operators per iteration × 1e6, + the final `local.get` + the function entry"},
	"fib": {0, "121,393 leaves × (5 operators + entry) + 121,392 inner calls × (13 + entry) + `run()`'s entry, `i32.const` and `call`"},
	"bulk": {126_093, "`memory.fill` and `memory.copy` pay 1 per 64 bytes: Σ over i < 2000 of ⌊(100+i)/64⌋ + ⌊3i/64⌋ = " +
		"33,372 + 92,721"},
	"reftypes":  {9, "9 table elements: `table.init` 2, `table.copy` 2, `table.grow` 3, `table.fill` 2, 1 each"},
	"bulk-grow": {1024, "`memory.grow` of 1 page pays 1024 per page asked for"},
}

type meta struct {
	Date, Commit, CPU, GoVersion, LoadStart, LoadEnd, Benchtime, Cmd string
	Rounds, Count, NProc                                             int
	Elapsed                                                          time.Duration
}

var subjectTitle = map[string]string{
	peers.SubjectWazero:       "wazero",
	peers.SubjectWazeroFuel:   "wazero + Toolgate fuel",
	peers.SubjectWasmtime:     "wasmtime",
	peers.SubjectWasmtimeFuel: "wasmtime + fuel",
	peers.SubjectWazeroCtx:    "wazero + `WithCloseOnContextDone`",
}

func write(m meta, counts [][]peers.Count, res *results) string {
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }

	p("## Peer comparison: wasmtime\n\n")
	p("Toolgate's execution layer against wasmtime on the same module bytes, side by side in one run: fuel counts, " +
		"kernel times with and without fuel, and a fresh instance per call. The subjects are wazero v1.12.0's compiler " +
		"(the engine under Toolgate) running modules instrumented by `runtime/fuel` (`DefaultOptions`, from this " +
		"checkout), and wasmtime 39.0.1 (Cranelift, default `Config`) through wasmtime-go v39.0.1 with its native " +
		"fuel (`Config.SetConsumeFuel(true)`, `Store.SetFuel`/`GetFuel`).\n\n")
	p("**Not part of `make test` or CI.** The code is `bench/peers/`, a separate Go module " +
		"(`github.com/toolgate/toolgate/bench/peers`, with `replace github.com/toolgate/toolgate => ../..`) because " +
		"wasmtime-go needs cgo, a C compiler and its module download (about 200 MB unpacked, a ~50 MB static " +
		"`libwasmtime.a` per platform). Nothing in the main module imports it and `go test ./...` at the root does not " +
		"enter it, so the main module never needs cgo. `bash bench/peers/run.sh` runs it and writes this section in " +
		"place; `make bench` (`bench/run.sh`) runs it when `go env CGO_ENABLED` is 1 and a C compiler is found, and " +
		"otherwise leaves a note here. Its own tests: `cd bench/peers && go test .` (`TestCounts` checks the counts " +
		"below; `TestRunners`, `TestFresh`, `TestPooling`).\n\n")

	p("| | |\n|---|---|\n")
	p("| date | %s |\n| checkout | `%s` |\n| CPU | %s, nproc %d |\n| Go | %s |\n", m.Date, m.Commit, m.CPU, m.NProc, m.GoVersion)
	p("| /proc/loadavg at start, end | `%s`, `%s` |\n| run time | %s |\n\n", m.LoadStart, m.LoadEnd, m.Elapsed)
	p("```sh\nbash bench/peers/run.sh    # PEERS_ROUNDS=%d PEERS_COUNT=%d PEERS_BENCHTIME=%s; it runs, from bench/peers:\n", m.Rounds, m.Count, m.Benchtime)
	p("go test -c -o ../out/peers.test .\ngo build -o ../out/peerreport ./cmd/peerreport\n")
	p("../out/peerreport -test ../out/peers.test -rounds %d -count %d -benchtime %s -raw ../out/peers.txt -out ../out/peers.md -splice ../../docs/BENCHMARKS.md\n", m.Rounds, m.Count, m.Benchtime)
	p("# = %d rounds, each a fresh process of\n%s\n", m.Rounds, m.Cmd)
	p("# and, in peerreport's own process, peers.Counts(CountCalls) once per round\n```\n\n")

	writeCounts(p, counts, res)
	writeTimes(p, res)
	writeFresh(p, res)
	return w.String()
}

func writeCounts(p func(string, ...any), counts [][]peers.Count, res *results) {
	p("### Fuel counts\n\n")
	p("One call of each kernel in `runtime/fuel/testdata/kernels`, in a fresh instance. wasmtime: the budget set with " +
		"`Store.SetFuel` minus `Store.GetFuel` after the call. Toolgate: the budget written to `toolgate_fuel` minus " +
		"what it holds after the call (docs/FUEL.md, \"The host protocol\"). The last column is the same " +
		"instrumentation with the three size rates of bulk operations set to 0 (`peers.WasmtimeCostOptions`).\n\n")
	p("| call | wasmtime | Toolgate (`DefaultOptions`) | Toolgate − wasmtime | Toolgate without size charges | why |\n")
	p("|---|--:|--:|--:|--:|---|\n")
	first := counts[0]
	stable, sameAsWasmtime := true, true
	for i, n := range first {
		for _, round := range counts[1:] {
			o := round[i]
			if o.Wasmtime != n.Wasmtime || o.Toolgate != n.Toolgate || o.ToolgateWasmtimeCosts != n.ToolgateWasmtimeCosts {
				stable = false
			}
		}
		if n.ToolgateWasmtimeCosts != n.Wasmtime {
			sameAsWasmtime = false
		}
		diff := n.Toolgate - n.Wasmtime
		why := "identical"
		if note, ok := countNotes[n.Call.ID]; ok {
			why = note.text
			if note.diff != diff {
				why = fmt.Sprintf("**differs by %s, the note below accounts for %s: out of date.** %s", signed(diff),
					signed(note.diff), note.text)
			}
		} else if diff != 0 {
			why = "**unexplained difference**"
		}
		tg := thousands(n.Toolgate)
		if diff == 0 {
			tg = "**" + tg + "**"
		}
		p("| `%s` | %s | %s | %s | %s | %s |\n", n.Call, thousands(n.Wasmtime), tg, signed(diff),
			thousands(n.ToolgateWasmtimeCosts), why)
	}
	p("\n")
	if stable {
		p("Every count was the same in all %d rounds (each a fresh engine and instance). ", len(counts))
	} else {
		p("**The counts differed between rounds** (the table shows the first). ")
	}
	// The timed runs report the fuel of their last call: it must be the count too.
	agree := true
	for _, n := range first {
		for _, s := range []string{peers.SubjectWazeroFuel, peers.SubjectWasmtimeFuel} {
			want := n.Toolgate
			if s == peers.SubjectWasmtimeFuel {
				want = n.Wasmtime
			}
			for _, v := range res.series(kernelName(n.Call, s), "fuel/op") {
				if !math.IsNaN(v) && int64(v) != want {
					agree = false
				}
			}
		}
	}
	if agree {
		p("The timed runs below used the same fuel per call in every round (their `fuel/op`).\n\n")
	} else {
		p("**The timed runs below reported a different fuel per call than this table** (`fuel/op` in the raw output).\n\n")
	}
	if sameAsWasmtime {
		p("Both count the same unit: one per executed operator, except `nop`, `drop`, `block`, `loop`, `end`, `else`, " +
			"`unreachable` and `return`, which cost 0, plus 1 per function entry. So the counts are identical on " +
			"every call that has no bulk memory or table operation, including `sum(1e6)` = 12,000,002 and `fib(25)` " +
			"= 2,427,849. They differ only where Toolgate charges an operation for its size and wasmtime does not " +
			"(`memory.fill`/`copy`/`init` per 64 bytes, `memory.grow` per page, table operations per element; " +
			"docs/FUEL.md explains why): with those rates at 0 the instrumented module counts exactly what wasmtime " +
			"counts on every call here, and the differences are exactly the charges in the last column's notes. " +
			"What the counts do not show is where a run that runs out stops: both check only at function entries and " +
			"loop headers, so both may go a loop-free stretch past the budget before trapping (docs/FUEL.md, " +
			"\"Exactness\").\n\n")
	} else {
		p("**With the size rates at 0 the counts should equal wasmtime's on every call, and some do not:** a cost " +
			"model difference that docs/FUEL.md does not describe.\n\n")
	}
}

func writeTimes(p func(string, ...any), res *results) {
	p("### Time with fuel\n\n")
	p("`BenchmarkKernels/{kernel}/{subject}`: one call of each kernel on one instance prepared before the loop; " +
		"subjects with fuel set the budget before each call and read the remaining fuel after it, as a host does. " +
		"Every run of a benchmark compiles its module afresh; the figures are medians over all runs (rounds × " +
		"count) of each run's mean time per call, with the fastest and slowest run. wazero " +
		"runs with its default compiler configuration, except the last column, which adds " +
		"`WithCloseOnContextDone(true)` (called with a cancellable context), wazero's only other way to bound a " +
		"call, for contrast.\n\n")
	p("| kernel |")
	for _, s := range peers.KernelSubjects {
		p(" %s |", subjectTitle[s])
	}
	p("\n|---|")
	for range peers.KernelSubjects {
		p("--:|")
	}
	p("\n")
	med := map[string]map[string]float64{}
	for _, c := range peers.TimedCalls {
		med[c.ID] = map[string]float64{}
		p("| `%s` |", c)
		for _, s := range peers.KernelSubjects {
			st := res.stat(kernelName(c, s), "ns/op")
			med[c.ID][s] = st.med
			cell := benchfmt.Dur(st.med)
			if s == peers.SubjectWazeroFuel || s == peers.SubjectWasmtimeFuel {
				cell = "**" + cell + "**"
			}
			p(" %s <br>%s – %s |", cell, benchfmt.Dur(st.lo), benchfmt.Dur(st.hi))
		}
		p("\n")
	}
	p("| geometric mean |")
	for _, s := range peers.KernelSubjects {
		var xs []float64
		for _, c := range peers.TimedCalls {
			xs = append(xs, med[c.ID][s])
		}
		p(" %s |", benchfmt.Dur(geomean(xs)))
	}
	p("\n\n")

	type col struct {
		title    string
		num, den string
	}
	cols := []col{
		{"Toolgate's fuel: wazero + fuel ÷ wazero", peers.SubjectWazeroFuel, peers.SubjectWazero},
		{"wasmtime's fuel: wasmtime + fuel ÷ wasmtime", peers.SubjectWasmtimeFuel, peers.SubjectWasmtime},
		{"**wazero + Toolgate fuel ÷ wasmtime + fuel**", peers.SubjectWazeroFuel, peers.SubjectWasmtimeFuel},
		{"engines, no fuel: wazero ÷ wasmtime", peers.SubjectWazero, peers.SubjectWasmtime},
		{"`WithCloseOnContextDone` ÷ Toolgate fuel", peers.SubjectWazeroCtx, peers.SubjectWazeroFuel},
	}
	p("Ratios, each the median over the runs of the ratio within one run (the two subjects ran in the same " +
		"process, a few seconds apart), so that a slow moment slows both; for the key column, the range over the " +
		"runs:\n\n| kernel |")
	for _, c := range cols {
		p(" %s |", c.title)
	}
	p("\n|---|")
	for range cols {
		p("--:|")
	}
	p("\n")
	ratios := make([][]float64, len(cols))
	for _, k := range peers.TimedCalls {
		p("| `%s` |", k.ID)
		for i, c := range cols {
			st := res.ratio(kernelName(k, c.num), kernelName(k, c.den))
			ratios[i] = append(ratios[i], st.med)
			if i == 2 {
				p(" **%s** <br>%s – %s |", times(st.med), times(st.lo), times(st.hi))
			} else {
				p(" %s |", times(st.med))
			}
		}
		p("\n")
	}
	p("| **geometric mean** |")
	for i := range cols {
		p(" **%s** |", times(geomean(ratios[i])))
	}
	p("\n\n")

	// The verdict, and how much it rests on any one kernel or round.
	key := ratios[2]
	g := geomean(key)
	verdict := "met"
	if !(g <= 1) {
		verdict = "**not met**"
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	var loK, hiK string
	for i, k := range peers.TimedCalls {
		rest := slices.Delete(slices.Clone(key), i, i+1)
		v := geomean(rest)
		if v < lo {
			lo, loK = v, k.ID
		}
		if v > hi {
			hi, hiK = v, k.ID
		}
	}
	var perRound []float64
	for r := range len(res.samples[kernelName(peers.TimedCalls[0], peers.SubjectWazeroFuel)]) {
		var xs []float64
		for _, k := range peers.TimedCalls {
			a := res.series(kernelName(k, peers.SubjectWazeroFuel), "ns/op")
			b := res.series(kernelName(k, peers.SubjectWasmtimeFuel), "ns/op")
			if r < len(a) && r < len(b) {
				xs = append(xs, a[r]/b[r])
			}
		}
		perRound = append(perRound, geomean(xs))
	}
	pr := statOf(perRound)
	p("**Target** (issue 3): wazero + Toolgate fuel no slower than wasmtime + its fuel on the geometric mean of "+
		"the kernels: %s, %s. Computed within each run instead, the geometric mean ranges %s – %s over the "+
		"%d runs. Leaving one kernel out gives %s (without `%s`) to %s (without `%s`)",
		times(g), verdict, times(pr.lo), times(pr.hi), len(perRound), times(lo), loK, times(hi), hiK)
	switch {
	case g <= 1 && hi > 1:
		p(": the target is met only because of `%s`, and without it wazero + Toolgate fuel is %s wasmtime + fuel's "+
			"time.\n\n", hiK, times(hi))
	case g > 1 && lo <= 1:
		p(": without `%s` the target would be met.\n\n", loK)
	default:
		p(".\n\n")
	}

	sum, brtable := call("sum"), call("brtable")
	p("How to read it:\n\n")
	p("- **Where the fuel lives.** wasmtime keeps the fuel counter in a register inside a function (its code for " +
		"`brtable`, dumped with `Module.Serialize` and `objdump`, loads it from the store on entry, adds each block's " +
		"cost to the register, tests its sign at the loop header and stores it back on return); across calls it " +
		"lives in memory (`fib`'s code stores it before each call and updates it in place after), so on call-heavy " +
		"code both designs update memory per call. Toolgate's counter is an exported Wasm global, which wazero keeps in memory: a load, a " +
		"subtract and a store per metered block, and a load, compare and branch at each loop header and function " +
		"entry. The default depth bound adds a counter increment and decrement per call, which is most of " +
		"Toolgate's overhead on `fib` (docs/FUEL.md, the \"no depth bound\" column).\n")
	p("- **The engines.** Without fuel, wasmtime is %s faster than wazero on the geometric mean (%s on `sum`). "+
		"On the geometric mean, Toolgate's fuel multiplies wazero's time by %s (`callind` included), and wasmtime's "+
		"fuel multiplies wasmtime's by %s.\n",
		times(geomean(ratios[3])), times(res.ratio(kernelName(sum, peers.SubjectWazero), kernelName(sum, peers.SubjectWasmtime)).med),
		times(geomean(ratios[0])), times(geomean(ratios[1])))
	p("- **`brtable` on wasmtime + fuel** (%s its time without fuel) is a code-generation effect, not fuel work: "+
		"the fuel version of the loop executes a few more instructions per iteration with the counter in a "+
		"register, and the same module compiled with `OptLevelNone` ran at 1.6× its unmetered time when this "+
		"harness was written, against about 10× for the default `OptLevelSpeed`, linearly in the argument. This VM "+
		"exposes no hardware counters to say which effect (branch prediction or code placement) it is; it may not "+
		"reproduce on another CPU. Since it favours Toolgate, read the leave-one-out range above.\n",
		times(res.ratio(kernelName(brtable, peers.SubjectWasmtimeFuel), kernelName(brtable, peers.SubjectWasmtime)).med))
	p("- **`callind` on plain wazero** is slow, and instrumented faster: the uninstrumented module hits a slow path " +
		"of wazero's compiler that any added code avoids (docs/FUEL.md, \"Measured overhead\"), which flatters " +
		"Toolgate's overhead column.\n")
	p("- **`bulk`** is mostly `memory.fill`/`memory.copy` work inside the engines, and **`simd`** mostly vector " +
		"operations: on both, the fuel adds little.\n")
	p("- **The ranges.** A tight loop's time on wazero depends on where its machine code lands, from one " +
		"compilation to the next (docs/FUEL.md, \"Measured overhead\": up to 1.4×); every round compiles afresh, so " +
		"a kernel can run at two speeds from one run to the next (`sum` on wazero, with and without fuel, most " +
		"often). Read the medians, and the " +
		"per-round range of the key column.\n")
	p("- **`WithCloseOnContextDone`** calls back into Go at every loop header, so it costs most on the tight loops " +
		"(`sum`, `brtable`) and nothing on loop-free recursion (`fib`), which it also cannot stop.\n\n")
}

func writeFresh(p func(string, ...any), res *results) {
	p("### Fresh instance per call\n\n")
	p("`BenchmarkFreshInstance/{subject}`: instantiate `%s` (no imports, one 64 KiB page, `run` returns 0; the "+
		"`nop` case above) from a module compiled before the loop, call `run`, release the instance. toolgate: "+
		"Toolgate's own runtime as `toolgate serve` runs it and as the main table's `toolgate` subject calls it "+
		"(`runtime.New` with `Metering: true` and the native Extism engine, the module `Load`ed, which "+
		"instruments and compiles it in memory), each op one `runtime.Invoke` of `run` with the 14-byte input and "+
		"the default limits, checked to end `ok` having used fuel; so its row includes fuel metering (budget set "+
		"and used fuel read per call), the memory cap (64 MiB, through its memory allocator, whose buffers are "+
		"pooled across calls), and the Extism-ABI setup it does per call (the kernel holding the input and output "+
		"for `extism:host/env`, whose host module is instantiated once per runtime; log and output capture; the "+
		"result's classification), on the same nop module as the other rows. wazero: "+
		"`InstantiateModule` (anonymous, `WithStartFunctions()`) + call + `Close`. wasmtime: `NewStore` + "+
		"`NewInstance` + `GetFunc` + `Call` + `Store.Close` through wasmtime-go. \"+ fuel\" also sets the budget "+
		"before and reads the remaining fuel after the call. The pooling allocator is not exposed by wasmtime-go "+
		"v39's Go API; `bench/peers/pooling.go` turns it on through wasmtime's C API "+
		"(`wasmtime_pooling_allocation_strategy_set`, %d instance, memory and table slots, 64 MiB maximum memory, "+
		"other settings default), reaching the `wasm_config_t` inside `wasmtime.Config` (`TestPooling` checks that it "+
		"takes effect). B/op and allocs/op count "+
		"the Go heap only: wasmtime allocates in Rust, outside it.\n\n", peers.FreshModule, peers.PoolSlots)
	p("| subject | time/op (median) | range over runs | ratio to wazero | CPU/op | Go B/op | Go allocs/op |\n")
	p("|---|--:|--:|--:|--:|--:|--:|\n")
	base := res.stat(freshName(peers.FreshWazero), "ns/op").med
	for _, s := range peers.FreshSubjects {
		n := freshName(s)
		st := res.stat(n, "ns/op")
		p("| %s | **%s** | %s – %s | %s | %s | %s | %s |\n", s, benchfmt.Dur(st.med), benchfmt.Dur(st.lo), benchfmt.Dur(st.hi),
			times(st.med/base), benchfmt.Dur(res.stat(n, "cpu-ns/op").med), size(res.stat(n, "B/op").med),
			strconv.FormatFloat(res.stat(n, "allocs/op").med, 'f', 0, 64))
	}
	p("\n")

	tg := res.stat(freshName(peers.FreshToolgate), "ns/op").med
	p("Toolgate against the others: the ratio of the medians above, the median of the ratios within each run " +
		"(every run of the two subjects was in the same process, a few seconds apart) with their range over the " +
		"runs, and the difference of the medians. Toolgate always meters fuel, so the \"+ fuel\" rows are its " +
		"like-for-like peers.\n\n")
	p("| Toolgate ÷ | of the medians | per run: median | per run: range | Toolgate − subject |\n")
	p("|---|--:|--:|--:|--:|\n")
	for _, s := range toolgatePeers {
		med := res.stat(freshName(s), "ns/op").med
		r := res.ratio(freshName(peers.FreshToolgate), freshName(s))
		p("| %s | **%s** | %s | %s – %s | %s |\n", s, times(tg/med), times(r.med), times(r.lo), times(r.hi),
			signedDur(tg-med))
	}
	p("\n")

	pool := res.stat(freshName(peers.FreshWasmtimePooling), "ns/op").med
	onDemand := res.stat(freshName(peers.FreshWasmtime), "ns/op").med
	p("Toolgate's fresh sandbox + call + close of the nop tool costs %s as much as wasmtime-go's fresh instance "+
		"with the pooling allocator, %s as much as with its default (on-demand) allocator, and %s as much as raw "+
		"wazero's, in the same run on the same module. %s\n\n",
		times(tg/pool), times(tg/onDemand), times(tg/base), toolgateVsWazero(tg, base))
	p("wazero's fresh instance costs %s as much as wasmtime's with its default allocator, and %s as much as with "+
		"the pooling allocator. Most of wazero's cost is Go heap work: the 64 KiB page allocated and zeroed on the "+
		"heap per instance (the B/op column), a deterministic `math/rand` source seeded per instance (wazero's "+
		"default random source), and the garbage collection these allocations drive (CPU/op counts the "+
		"collector's work on the other core too). wasmtime maps a fresh memory per instance by default; pooling "+
		"takes a pre-reserved slot and resets it on release, which saves %s per instance here. Part of every "+
		"wasmtime figure is wasmtime-go itself (a type lookup and Go allocations per `Call`, finalizer-managed "+
		"handles; RESEARCH.md measured about 1.3 µs for the same loop written in C). %s The toolgate row is "+
		"issue 4's figure, measured in the same processes as the others; the main table's `nop` row is the same "+
		"call in another process, with a compilation cache on disk.\n\n",
		times(base/onDemand), times(base/pool), benchfmt.Dur(onDemand-pool), fuelPerInstance(res))
}

// toolgatePeers are the subjects the toolgate fresh row is compared with, in the order of the ratio table.
var toolgatePeers = []string{peers.FreshWasmtimePooling, peers.FreshWasmtimePoolingFuel, peers.FreshWasmtime,
	peers.FreshWasmtimeFuel, peers.FreshWazero, peers.FreshWazeroFuel}

// toolgateVsWazero says why Toolgate's row and raw wazero's differ, in the direction they do.
func toolgateVsWazero(tg, wazero float64) string {
	if !(tg < wazero) {
		return "Toolgate's layers on wazero cost more than the Go heap work it saves raw wazero (below)."
	}
	return "It is below raw wazero's although it runs on wazero with more work per call, because it spares " +
		"wazero's two heap costs below: its memory allocator reuses zeroed buffers from a pool instead of a fresh " +
		"64 KiB page per instance, and a module without WASI gets no seeded random source."
}

// signedDur formats a difference of nanoseconds with its sign.
func signedDur(ns float64) string {
	if ns < 0 {
		return "−" + benchfmt.Dur(-ns)
	}
	return "+" + benchfmt.Dur(ns)
}

// fuelPerInstance says what fuel adds to a fresh instance: each "+ fuel" subject against its base, told apart
// from the noise by the spread of the two over the rounds.
func fuelPerInstance(res *results) string {
	var parts []string
	within := true
	for _, pair := range [][2]string{
		{peers.FreshWazeroFuel, peers.FreshWazero},
		{peers.FreshWasmtimeFuel, peers.FreshWasmtime},
		{peers.FreshWasmtimePoolingFuel, peers.FreshWasmtimePooling},
	} {
		a, b := res.stat(freshName(pair[0]), "ns/op"), res.stat(freshName(pair[1]), "ns/op")
		if math.Abs(a.med-b.med) > math.Max(a.hi-a.lo, b.hi-b.lo) {
			within = false
		}
		diff := a.med - b.med
		sign := "+"
		if diff < 0 {
			sign, diff = "−", -diff
		}
		parts = append(parts, fmt.Sprintf("%s %s%s", pair[0], sign, benchfmt.Dur(diff)))
	}
	if within {
		return "Fuel adds two exported globals to the instance and a budget write and a read to the call: the " +
			"\"+ fuel\" rows differ from their base rows (" + strings.Join(parts, ", ") + ") by less than the " +
			"spread over the runs."
	}
	return "The \"+ fuel\" rows against their base rows: " + strings.Join(parts, ", ") + "."
}
