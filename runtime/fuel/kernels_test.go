package fuel

import (
	"math"
	"testing"
)

// kernelCalls are the calls each kernel is exercised with.
var kernelCalls = map[string][]call{
	"sum":        {{"sum", []uint64{0}}, {"sum", []uint64{1}}, {"sum", []uint64{1000}}},
	"fib":        {{"fib", []uint64{0}}, {"fib", []uint64{1}}, {"fib", []uint64{15}}},
	"brtable":    {{"run", []uint64{2}}, {"run", []uint64{1}}, {"run", []uint64{100}}},
	"bulk":       {{"run", []uint64{0}}, {"run", []uint64{50}}, {"grow", []uint64{1}}, {"grow", []uint64{70000}}, {"run", []uint64{30000}}},
	"callind":    {{"run", []uint64{0}}, {"run", []uint64{100}}, {"bad", nil}},
	"multivalue": {{"run", []uint64{2}}, {"run", []uint64{1}}, {"run", []uint64{77}}, {"pair", nil}},
	"signext":    {{"run", []uint64{0}}, {"run", []uint64{0xff80}}, {"run", []uint64{0xffffffff}}, {"trunc", []uint64{math.Float64bits(-1e30)}}, {"trunc", []uint64{math.Float64bits(3.9e9)}}, {"trunc", []uint64{math.Float64bits(math.NaN())}}, {"sweep", nil}},
	"simd":       {{"run", []uint64{0}}, {"run", []uint64{3}}, {"run", []uint64{500}}},
	"reftypes":   {{"run", nil}, {"run", nil}},
	"depth":      {{"down", []uint64{0}}, {"down", []uint64{100}}, {"pair", []uint64{0}}, {"pair", []uint64{50}}},
}

func TestKernels_Differential(t *testing.T) {
	for name, calls := range kernelCalls {
		t.Run(name, func(t *testing.T) {
			orig := kernel(t, name)
			inst := mustInstrument(t, orig, unlimited())
			naive, _, err := instrument(orig, unlimited(), planNaive)
			if err != nil {
				t.Fatal(err)
			}
			exactOpts := unlimited()
			exactOpts.CallsEndBlocks, exactOpts.MaxCallDepth = true, 0
			exact := mustInstrument(t, orig, exactOpts)
			var fuelByEngine [][]outcome
			for _, e := range engines {
				want := runAll(t, e.cfg(), orig, 0, calls)
				got := runAll(t, e.cfg(), inst, math.MaxInt64, calls)
				oracle := runAll(t, e.cfg(), naive, math.MaxInt64, calls)
				exactRun := runAll(t, e.cfg(), exact, math.MaxInt64, calls)
				for i := range calls {
					if !got[i].sameBehaviour(want[i]) {
						t.Errorf("%s %s #%d: got %v, want %v", e.name, calls[i].name, i, got[i], want[i])
					}
					if got[i].err == "" && (got[i].used != oracle[i].used || exactRun[i].used != oracle[i].used) {
						t.Errorf("%s %s #%d: metered used %d, with CallsEndBlocks %d, naive oracle %d", e.name,
							calls[i].name, i, got[i].used, exactRun[i].used, oracle[i].used)
					}
					if !exactRun[i].sameBehaviour(want[i]) {
						t.Errorf("%s %s #%d CallsEndBlocks: %s", e.name, calls[i].name, i, exactRun[i].diff(want[i]))
					}
				}
				fuelByEngine = append(fuelByEngine, got)
			}
			for i := range calls {
				if a, b := fuelByEngine[0][i].used, fuelByEngine[1][i].used; a != b {
					t.Errorf("%s #%d: compiler used %d, interpreter %d", calls[i].name, i, a, b)
				}
			}
		})
	}
}

// TestKernels_WasmtimeCounts checks the counts wasmtime reports for the same modules: 12,000,002 for sum(1e6)
// and 2,427,849 for fib(25) through run().
func TestKernels_WasmtimeCounts(t *testing.T) {
	for _, tc := range []struct {
		kernel string
		c      call
		want   uint64
	}{
		{"sum", call{"sum", []uint64{1_000_000}}, 12_000_002},
		{"fib", call{"run", nil}, 2_427_849},
	} {
		t.Run(tc.kernel, func(t *testing.T) {
			inst := mustInstrument(t, kernel(t, tc.kernel), unlimited())
			for _, e := range engines {
				got := runAll(t, e.cfg(), inst, math.MaxInt64, []call{tc.c})[0]
				if got.err != "" || got.used != tc.want {
					t.Errorf("%s: got used %d (err %q), want %d", e.name, got.used, got.err, tc.want)
				}
			}
		})
	}
}
