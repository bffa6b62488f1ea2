package fuel

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// sweeper instantiates one compiled module many times, each with its own budget.
type sweeper struct {
	rt wazero.Runtime
	cm wazero.CompiledModule
}

func newSweeper(t testing.TB, cfg wazero.RuntimeConfig, wasm []byte) *sweeper {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	t.Cleanup(func() { rt.Close(ctx) })
	cm, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	return &sweeper{rt: rt, cm: cm}
}

// run instantiates a fresh instance, sets the budget and makes one call.
func (s *sweeper) run(t testing.TB, budget uint64, c call) outcome {
	t.Helper()
	ctx := context.Background()
	mod, err := s.rt.InstantiateModule(ctx, s.cm, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(ctx)
	ss := &session{mod: mod, log: new([]string), fuel: true}
	ss.setFuel(budget)
	return ss.call(c)
}

// TestBudgetSweep checks, for budgets from 0 up to past the total, with checks at loop headers and function
// entries and with checks at every block: a run with a budget at least its total completes having used exactly
// the total; a run with less runs out (its remaining fuel is negative), trapping with the exhausted flag at a
// check or completing past a last check; and the fuel billed, min(used, budget), never decreases as the budget
// grows. With every block checked, a run stops at most the largest charge past its budget.
func TestBudgetSweep(t *testing.T) {
	for _, tc := range []struct {
		kernel string
		c      call
	}{
		{"sum", call{"sum", []uint64{20}}},
		{"fib", call{"fib", []uint64{9}}},
		{"brtable", call{"run", []uint64{7}}},
		{"bulk", call{"run", []uint64{6}}},
		{"callind", call{"run", []uint64{9}}},
		{"multivalue", call{"run", []uint64{6}}},
		{"signext", call{"sweep", nil}},
		{"simd", call{"run", []uint64{5}}},
		{"reftypes", call{"run", nil}},
	} {
		for _, every := range []bool{false, true} {
			opts := DefaultOptions()
			opts.CheckEveryBlock = every
			inst, st, err := Instrument(kernel(t, tc.kernel), opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range engines {
				s := newSweeper(t, e.cfg(), inst)
				full := s.run(t, math.MaxInt64, tc.c)
				if full.err != "" {
					t.Fatalf("%s: unlimited run failed: %s", e.name, full.err)
				}
				total := full.used
				var last uint64
				for _, b := range sweepBudgets(total) {
					o := s.run(t, b, tc.c)
					out := o.used > b // the remaining fuel is negative
					switch {
					case b >= total:
						if o.err != "" || out || o.used != total || !o.sameBehaviour(full) {
							t.Fatalf("%s %s every=%v budget %d: %v, want used %d as %v", tc.kernel, e.name, every, b, o, total, full)
						}
					case !out:
						t.Fatalf("%s %s every=%v budget %d (total %d): not out of fuel: %v", tc.kernel, e.name, every, b, total, o)
					case o.err != "" && o.exhausted != ExhaustedFuel:
						t.Fatalf("%s %s every=%v budget %d: trapped without the flag: %v", tc.kernel, e.name, every, b, o)
					case every && o.err == "":
						t.Fatalf("%s %s every=%v budget %d: completed out of fuel: %v", tc.kernel, e.name, every, b, o)
					case every && st.DynamicCharges == 0 && o.used-b > st.MaxBlockCost:
						t.Fatalf("%s %s budget %d: stopped %d past it, the largest charge is %d", tc.kernel, e.name, b,
							o.used-b, st.MaxBlockCost)
					}
					billed := min(o.used, b)
					if billed < last {
						t.Fatalf("%s %s every=%v budget %d: billed %d, less than %d at a smaller budget", tc.kernel, e.name, every, b, billed, last)
					}
					last = billed
				}
			}
		}
	}
}

// sweepBudgets returns every budget up to total+2 when that is few, else a sample that includes both ends.
func sweepBudgets(total uint64) []uint64 {
	var out []uint64
	if total <= 2500 {
		for b := uint64(0); b <= total+2; b++ {
			out = append(out, b)
		}
		return out
	}
	step := total / 1000
	for b := uint64(0); b < total; b += step {
		out = append(out, b)
	}
	return append(out, total-2, total-1, total, total+1)
}

// TestDeterminism makes the same calls many times, in fresh instances and in one, on both engines: the fuel used
// is always the same.
func TestDeterminism(t *testing.T) {
	for _, tc := range []struct {
		kernel string
		c      call
	}{
		{"fib", call{"fib", []uint64{18}}},
		{"sum", call{"sum", []uint64{50000}}},
		{"bulk", call{"run", []uint64{300}}},
		{"brtable", call{"run", []uint64{1000}}},
		{"simd", call{"run", []uint64{1000}}},
	} {
		t.Run(tc.kernel, func(t *testing.T) {
			inst := mustInstrument(t, kernel(t, tc.kernel), DefaultOptions())
			var want uint64
			for _, e := range engines {
				s := newSweeper(t, e.cfg(), inst)
				for i := 0; i < 10; i++ {
					o := s.run(t, math.MaxInt64, tc.c)
					if want == 0 {
						want = o.used
					}
					if o.err != "" || o.used != want {
						t.Fatalf("%s fresh #%d: got %v, want used %d", e.name, i, o, want)
					}
				}
				same := runAll(t, e.cfg(), inst, math.MaxInt64, []call{tc.c, tc.c, tc.c, tc.c, tc.c})
				for i, o := range same {
					if tc.kernel != "bulk" && tc.kernel != "simd" && o.used != want { // those two depend on memory
						t.Fatalf("%s same instance #%d: used %d, want %d", e.name, i, o.used, want)
					}
				}
			}
		})
	}
}

// TestRunaway checks that shapes that never end stop at their budget with the exhausted flag set.
func TestRunaway(t *testing.T) {
	orig := kernel(t, "runaway")
	opts := DefaultOptions()
	opts.MaxCallDepth = 1000 // below the interpreter's own 2,000 frames, so both engines stop on it
	inst := mustInstrument(t, orig, opts)
	const budget = 5_000_000
	for _, tc := range []struct {
		name string
		why  uint32
	}{
		{"loop", ExhaustedFuel},
		{"brtable", ExhaustedFuel},
		{"exp40", ExhaustedFuel},
		{"fill", ExhaustedFuel},
		{"grow", ExhaustedFuel},
		{"recurse", ExhaustedDepth},
	} {
		for _, e := range engines {
			s := newSweeper(t, e.cfg(), inst)
			start := time.Now()
			o := s.run(t, budget, call{name: tc.name})
			if o.err == "" || o.exhausted != tc.why {
				t.Errorf("%s %s: got %v, want a trap with exhausted %d", tc.name, e.name, o, tc.why)
			}
			// Out of fuel, a call stops at the first check past its budget: here within one loop iteration or
			// call of it (a dynamic charge stops it before the operation).
			if tc.why == ExhaustedFuel && (o.used <= budget || o.used-budget > 200_000) {
				t.Errorf("%s %s: used %d of %d", tc.name, e.name, o.used, budget)
			}
			if el := time.Since(start); el > 10*time.Second {
				t.Errorf("%s %s: took %v", tc.name, e.name, el)
			}
		}
	}
}

// TestRunaway_DefaultDepth: with DefaultOptions, unbounded recursion stops at DefaultMaxCallDepth on wazero's
// compiler (whose own limit is a 400 MB stack).
func TestRunaway_DefaultDepth(t *testing.T) {
	inst := mustInstrument(t, kernel(t, "runaway"), DefaultOptions())
	s := newSweeper(t, wazero.NewRuntimeConfigCompiler(), inst)
	if o := s.run(t, 5_000_000, call{name: "recurse"}); o.err == "" || o.exhausted != ExhaustedDepth {
		t.Errorf("got %v, want exhausted %d", o, ExhaustedDepth)
	}
}

// TestCallDepth checks that MaxCallDepth stops recursion at exactly that depth, and that functions with one and
// with several results keep them through the depth wrapper.
func TestCallDepth(t *testing.T) {
	for _, depth := range []uint32{1, 2, 10, 1000} {
		opts := unlimited()
		opts.MaxCallDepth = depth
		inst := mustInstrument(t, kernel(t, "depth"), opts)
		for _, e := range engines {
			for _, fn := range []string{"down", "pair"} {
				// fn(n) is n+1 frames deep.
				n := uint64(depth) - 1
				got := runAll(t, e.cfg(), inst, math.MaxInt64, []call{{fn, []uint64{n}}, {fn, []uint64{n + 1}}, {fn, []uint64{n}}})
				want := runAll(t, e.cfg(), kernel(t, "depth"), 0, []call{{fn, []uint64{n}}})
				if !got[0].sameBehaviour(want[0]) {
					t.Errorf("depth %d %s %s(%d): %s", depth, e.name, fn, n, got[0].diff(want[0]))
				}
				if got[1].err == "" || got[1].exhausted != ExhaustedDepth {
					t.Errorf("depth %d %s %s(%d): got %v, want exhausted %d", depth, e.name, fn, n+1, got[1], ExhaustedDepth)
				}
			}
			// A completed call leaves the depth counter where it found it.
			again := runAll(t, e.cfg(), inst, math.MaxInt64, []call{{"down", []uint64{uint64(depth) - 1}}, {"down", []uint64{uint64(depth) - 1}}})
			if again[1].err != "" || again[1].results[0] != uint64(depth)-1 {
				t.Errorf("depth %d %s: second call: %v", depth, e.name, again[1])
			}
		}
	}
}

// TestStart checks both ways a start function runs under a budget.
func TestStart(t *testing.T) {
	ctx := context.Background()
	t.Run("InitialFuel", func(t *testing.T) {
		opts := DefaultOptions()
		opts.InitialFuel = 1_000_000
		inst := mustInstrument(t, kernel(t, "start"), opts)
		for _, e := range engines {
			// The start function traps during instantiation, which leaves no instance: a function listener on the
			// start function sees the instance and reads the flag when it aborts.
			var flag uint64
			lctx := experimental.WithFunctionListenerFactory(ctx, experimental.FunctionListenerFactoryFunc(
				func(def api.FunctionDefinition) experimental.FunctionListener {
					if def.Index() != 0 { // the start function
						return nil
					}
					return abortListener(func(mod api.Module) { flag = mod.ExportedGlobal(GlobalExhausted).Get() })
				}))
			rt := wazero.NewRuntimeWithConfig(lctx, e.cfg())
			defer rt.Close(ctx)
			start := time.Now()
			_, err := rt.Instantiate(lctx, inst)
			if err == nil || !strings.Contains(err.Error(), "unreachable") || flag != ExhaustedFuel {
				t.Errorf("%s: instantiate: %v, flag %d", e.name, err, flag)
			}
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("%s: took %v", e.name, el)
			}
		}
		// A start function that ends: instantiation succeeds, and InitialFuel less what is left is its cost.
		okOpts := unlimited()
		want := runAll(t, wazero.NewRuntimeConfigCompiler(), kernel(t, "startok"), 0, []call{{"get", nil}})
		for _, e := range engines {
			s := instantiate(t, e.cfg(), mustInstrument(t, kernel(t, "startok"), okOpts))
			if s.err != nil {
				t.Fatal(s.err)
			}
			// 100 iterations of 20 operators, and the entry.
			if used := uint64(math.MaxInt64) - s.fuelLeft(); used != 2001 {
				t.Errorf("%s: start used %d, want 2001", e.name, used)
			}
			if o := s.call(call{"get", nil}); !o.sameBehaviour(want[0]) {
				t.Errorf("%s: %s", e.name, o.diff(want[0]))
			}
		}
	})
	t.Run("DeferStart", func(t *testing.T) {
		opts := DefaultOptions()
		opts.DeferStart = true
		for _, e := range engines {
			o := runAll(t, e.cfg(), mustInstrument(t, kernel(t, "start"), opts), 1_000_000, []call{{ExportStart, nil}})[0]
			if o.err == "" || o.exhausted != ExhaustedFuel || o.used <= 1_000_000 {
				t.Errorf("%s: %v", e.name, o)
			}
			want := runAll(t, e.cfg(), kernel(t, "startok"), 0, []call{{"get", nil}})
			got := runAll(t, e.cfg(), mustInstrument(t, kernel(t, "startok"), opts), 1_000_000,
				[]call{{ExportStart, nil}, {"get", nil}})
			if !got[1].sameBehaviour(want[0]) || got[0].err != "" {
				t.Errorf("%s: start %v; get %s", e.name, got[0], got[1].diff(want[0]))
			}
		}
	})
}

type abortListener func(api.Module)

func (abortListener) Before(context.Context, api.Module, api.FunctionDefinition, []uint64, experimental.StackIterator) {
}
func (abortListener) After(context.Context, api.Module, api.FunctionDefinition, []uint64) {}
func (f abortListener) Abort(_ context.Context, mod api.Module, _ api.FunctionDefinition, _ error) {
	f(mod)
}
