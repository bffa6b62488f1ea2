package fuel

import (
	"context"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// BenchmarkInstrument measures instrumentation time per module size (MB/s is input bytes per second).
func BenchmarkInstrument(b *testing.B) {
	inputs := []struct {
		name string
		wasm []byte
	}{
		{"fib-79B", kernel(b, "fib")},
		{"simd-218B", kernel(b, "simd")},
		{"ttf-" + fmt.Sprint(len(readFile(b, "testdata/ttf/119.wasm"))) + "B", readFile(b, "testdata/ttf/119.wasm")},
	}
	if !testing.Short() {
		g := goGuest(b)
		inputs = append(inputs, struct {
			name string
			wasm []byte
		}{fmt.Sprintf("goguest-%dKB", len(g)>>10), g})
	}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			out, _, err := Instrument(in.wasm, DefaultOptions())
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(in.wasm)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := Instrument(in.wasm, DefaultOptions()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(out))/float64(len(in.wasm)), "size-ratio")
		})
	}
}

// benchKernels are the loop- and call-heavy kernels the overhead is measured on.
var benchKernels = []struct {
	kernel string
	c      call
}{
	{"sum", call{"sum", []uint64{1_000_000}}},
	{"fib", call{"fib", []uint64{25}}},
	{"brtable", call{"run", []uint64{100_000}}},
	{"callind", call{"run", []uint64{100_000}}},
	{"bulk", call{"run", []uint64{2_000}}},
	{"simd", call{"run", []uint64{100_000}}},
}

// benchModes are the ways a kernel runs on wazero's compiler.
var benchModes = []struct {
	name string
	ctx  bool     // WithCloseOnContextDone
	opts *Options // nil: the original module
}{
	{"plain", false, nil},
	{"fuel (DefaultOptions)", false, ptr(DefaultOptions())},
	{"no depth bound", false, &Options{Costs: DefaultCosts()}},
	{"CheckEveryBlock", false, ptr(func() Options { o := DefaultOptions(); o.CheckEveryBlock = true; return o }())},
	{"CallsEndBlocks", false, ptr(func() Options { o := DefaultOptions(); o.CallsEndBlocks = true; return o }())},
	{"closeOnContextDone", true, nil},
}

func ptr[T any](v T) *T { return &v }

// BenchmarkKernels runs each kernel on wazero's compiler uninstrumented, instrumented (DefaultOptions, then
// without the depth bound, with CheckEveryBlock, with CallsEndBlocks), and uninstrumented under
// WithCloseOnContextDone. Compare ns/op across
// modes of one kernel for the overhead ratios (docs/FUEL.md).
func BenchmarkKernels(b *testing.B) {
	for _, k := range benchKernels {
		for _, m := range benchModes {
			b.Run(k.kernel+"/"+strings.ReplaceAll(m.name, " ", "_"), func(b *testing.B) {
				wasm := kernel(b, k.kernel)
				if m.opts != nil {
					wasm = mustInstrument(b, wasm, *m.opts)
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				cfg := wazero.NewRuntimeConfigCompiler().WithCloseOnContextDone(m.ctx)
				rt := wazero.NewRuntimeWithConfig(ctx, cfg)
				defer rt.Close(ctx)
				mod, err := rt.Instantiate(ctx, wasm)
				if err != nil {
					b.Fatal(err)
				}
				f := mod.ExportedFunction(k.c.name)
				var fuel api.MutableGlobal
				if g := mod.ExportedGlobal(GlobalFuel); g != nil {
					fuel = g.(api.MutableGlobal)
				}
				for b.Loop() {
					if fuel != nil {
						fuel.Set(math.MaxInt64)
					}
					if _, err := f.Call(ctx, k.c.args...); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestOverheadReport prints the overhead table of docs/FUEL.md when TOOLGATE_FUEL_REPORT=1:
//
//	TOOLGATE_FUEL_REPORT=1 go test -run TestOverheadReport -v ./runtime/fuel/
//
// The modes of one kernel run interleaved, round after round, so that a busy machine slows all of them alike.
// Each mode runs in several fresh runtimes, each keeping its fastest call, and reports the median of those: the
// placement of the generated machine code alone moves a tight loop by up to 1.4× from one instance to the next.
func TestOverheadReport(t *testing.T) {
	if os.Getenv("TOOLGATE_FUEL_REPORT") != "1" {
		t.Skip("set TOOLGATE_FUEL_REPORT=1")
	}
	const instances, rounds = 5, 20
	ctx := context.Background()
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n| kernel | plain | %s |\n|---|---|", strings.Join(modeNames()[1:], " | "))
	for range benchModes[1:] {
		sb.WriteString("---|")
	}
	sb.WriteString("\n")
	for _, k := range benchKernels {
		type runner struct {
			f    api.Function
			fuel api.MutableGlobal
			best time.Duration
		}
		rs := make([][]*runner, len(benchModes))
		for mi, m := range benchModes {
			wasm := kernel(t, k.kernel)
			if m.opts != nil {
				wasm = mustInstrument(t, wasm, *m.opts)
			}
			for i := 0; i < instances; i++ {
				rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCloseOnContextDone(m.ctx))
				defer rt.Close(ctx)
				mod, err := rt.Instantiate(ctx, wasm)
				if err != nil {
					t.Fatal(err)
				}
				r := &runner{f: mod.ExportedFunction(k.c.name), best: time.Hour}
				if g := mod.ExportedGlobal(GlobalFuel); g != nil {
					r.fuel = g.(api.MutableGlobal)
				}
				rs[mi] = append(rs[mi], r)
			}
		}
		cctx, cancel := context.WithCancel(ctx)
		for round := 0; round < rounds; round++ {
			for _, mode := range rs {
				for _, r := range mode {
					if r.fuel != nil {
						r.fuel.Set(math.MaxInt64)
					}
					start := time.Now()
					if _, err := r.f.Call(cctx, k.c.args...); err != nil {
						t.Fatal(err)
					}
					if d := time.Since(start); d < r.best {
						r.best = d
					}
				}
			}
		}
		cancel()
		median := func(mode []*runner) time.Duration {
			ds := make([]time.Duration, len(mode))
			for i, r := range mode {
				ds[i] = r.best
			}
			sort.Slice(ds, func(a, b int) bool { return ds[a] < ds[b] })
			return ds[len(ds)/2]
		}
		base := median(rs[0])
		fmt.Fprintf(&sb, "| %s | %.0f µs |", k.kernel, float64(base.Nanoseconds())/1e3)
		for _, mode := range rs[1:] {
			fmt.Fprintf(&sb, " %.2f× |", float64(median(mode))/float64(base))
		}
		sb.WriteString("\n")
	}
	if !testing.Short() {
		sb.WriteString(goGuestRow(t))
	}
	t.Log(sb.String())
}

// goGuestRow measures the Go wasip1 guest: instantiation (Go's runtime start) and _start, fresh each time, in
// three runtimes per mode, the median of their fastest runs.
func goGuestRow(t *testing.T) string {
	const instances, rounds = 3, 15
	ctx := context.Background()
	orig := goGuest(t)
	type runner struct {
		rt   wazero.Runtime
		cm   wazero.CompiledModule
		best time.Duration
	}
	rs := make([][]*runner, len(benchModes))
	for mi, m := range benchModes {
		wasm := orig
		if m.opts != nil {
			wasm = mustInstrument(t, wasm, *m.opts)
		}
		for i := 0; i < instances; i++ {
			rt, cm := compileWASI(t, wazero.NewRuntimeConfigCompiler().WithCloseOnContextDone(m.ctx), wasm)
			rs[mi] = append(rs[mi], &runner{rt: rt, cm: cm, best: time.Hour})
		}
	}
	for round := 0; round < rounds; round++ {
		for _, mode := range rs {
			for _, r := range mode {
				start := time.Now()
				mod, err := r.rt.InstantiateModule(ctx, r.cm, wazero.NewModuleConfig().WithName("").WithStartFunctions())
				if err != nil {
					t.Fatal(err)
				}
				if g := mod.ExportedGlobal(GlobalFuel); g != nil {
					g.(api.MutableGlobal).Set(math.MaxInt64)
				}
				_, _ = mod.ExportedFunction("_start").Call(ctx)
				if d := time.Since(start); d < r.best {
					r.best = d
				}
			}
		}
	}
	median := func(mode []*runner) time.Duration {
		ds := []time.Duration{}
		for _, r := range mode {
			ds = append(ds, r.best)
		}
		sort.Slice(ds, func(a, b int) bool { return ds[a] < ds[b] })
		return ds[len(ds)/2]
	}
	base := median(rs[0])
	row := fmt.Sprintf("| goguest (wasip1: sort, JSON, sha256) | %.0f µs |", float64(base.Nanoseconds())/1e3)
	for _, mode := range rs[1:] {
		row += fmt.Sprintf(" %.2f× |", float64(median(mode))/float64(base))
	}
	return row + "\n"
}

func modeNames() []string {
	var out []string
	for _, m := range benchModes {
		out = append(out, m.name)
	}
	return out
}
