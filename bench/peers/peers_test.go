package peers

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// TestCounts is the smoke test of the comparison: wasmtime's consumed fuel equals Toolgate's on every call once
// the bulk-size charges that only Toolgate makes are left out, and the two counts RESEARCH.md measured on
// wasmtime come out exactly.
func TestCounts(t *testing.T) {
	counts, err := Counts(DefaultRoot, CountCalls)
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]int64{"sum": 12_000_002, "fib": 2_427_849}
	for _, n := range counts {
		t.Run(n.Call.ID, func(t *testing.T) {
			if n.ToolgateWasmtimeCosts != n.Wasmtime {
				t.Errorf("toolgate with wasmtime's costs: got %d, want wasmtime's %d", n.ToolgateWasmtimeCosts, n.Wasmtime)
			}
			if n.Toolgate < n.Wasmtime {
				t.Errorf("toolgate: got %d, want at least wasmtime's %d", n.Toolgate, n.Wasmtime)
			}
			if want, ok := known[n.Call.ID]; ok && (n.Wasmtime != want || n.Toolgate != want) {
				t.Errorf("wasmtime %d, toolgate %d: want both %d", n.Wasmtime, n.Toolgate, want)
			}
			t.Logf("%s: wasmtime %d, toolgate %d (%+d), results %v", n.Call, n.Wasmtime, n.Toolgate,
				n.Toolgate-n.Wasmtime, n.Results)
		})
	}
}

// TestRunners checks that every kernel subject returns the same results, and that the fuel the timed runners
// report is the count.
func TestRunners(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every timed kernel on every subject")
	}
	counts, err := Counts(DefaultRoot, TimedCalls)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range TimedCalls {
		for _, s := range KernelSubjects {
			t.Run(c.ID+"/"+s, func(t *testing.T) {
				r := newTestRunner(t, s, c)
				for call := range 2 {
					if err := r.Call(); err != nil {
						t.Fatal(err)
					}
					// Only the first call starts from a fresh memory: simd accumulates in it.
					if got, want := r.Results(), counts[i].Results; call == 0 && !equal(got, want) {
						t.Errorf("results: got %v, want %v", got, want)
					}
					want := counts[i].Toolgate
					if s == SubjectWasmtimeFuel {
						want = counts[i].Wasmtime
					}
					if used, ok := r.Used(); ok && used != want {
						t.Errorf("used: got %d, want %d", used, want)
					}
				}
			})
		}
	}
}

// TestFresh runs every fresh subject, Toolgate's runtime first: each Run checks its own call's outcome.
func TestFresh(t *testing.T) {
	if len(FreshSubjects) == 0 || FreshSubjects[0] != FreshToolgate {
		t.Fatalf("FreshSubjects: got %v, want %q first", FreshSubjects, FreshToolgate)
	}
	wasm := readFresh(t)
	for _, s := range FreshSubjects {
		t.Run(s, func(t *testing.T) {
			f, err := NewFresh(s, wasm, FreshExport)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for range 3 {
				if err := f.Run(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkKernels times one call of each timed kernel on each subject, on one instance prepared before the
// loop. Subjects with fuel reset the budget and read the remaining fuel on every call, and report the fuel of
// a call as fuel/op. cpu-ns/op is the process's CPU time per call.
func BenchmarkKernels(b *testing.B) {
	for _, c := range TimedCalls {
		for _, s := range KernelSubjects {
			b.Run(c.ID+"/"+s, func(b *testing.B) {
				r := newTestRunner(b, s, c)
				cpu := processCPU()
				for b.Loop() {
					if err := r.Call(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
				if used, ok := r.Used(); ok {
					b.ReportMetric(float64(used), "fuel/op")
				}
			})
		}
	}
}

// BenchmarkFreshInstance times a fresh instance + call + release of FreshModule on each subject. B/op and
// allocs/op count the Go heap only: wasmtime allocates outside it.
func BenchmarkFreshInstance(b *testing.B) {
	wasm := readFresh(b)
	for _, s := range FreshSubjects {
		b.Run(s, func(b *testing.B) {
			f, err := NewFresh(s, wasm, FreshExport)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			b.ReportAllocs()
			cpu := processCPU()
			for b.Loop() {
				if err := f.Run(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

func newTestRunner(tb testing.TB, subject string, c Call) Runner {
	tb.Helper()
	wasm, err := Kernel(DefaultRoot, c.Kernel)
	if err != nil {
		tb.Fatal(err)
	}
	r, err := NewRunner(subject, wasm, c)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(r.Close)
	return r
}

func readFresh(tb testing.TB) []byte {
	tb.Helper()
	wasm, err := os.ReadFile(filepath.Join(DefaultRoot, FreshModule))
	if err != nil {
		tb.Fatal(err)
	}
	return wasm
}

// processCPU is the user plus system CPU time of the whole process so far, every thread included.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestPooling checks that enablePooling takes effect: the pool has PoolSlots instance slots, so one more live
// instance than that is refused.
func TestPooling(t *testing.T) {
	cfg := wasmtime.NewConfig()
	if err := enablePooling(cfg); err != nil {
		t.Fatal(err)
	}
	engine := wasmtime.NewEngineWithConfig(cfg)
	defer engine.Close()
	module, err := wasmtime.NewModule(engine, readFresh(t))
	if err != nil {
		t.Fatal(err)
	}
	defer module.Close()
	for i := 0; i <= PoolSlots; i++ {
		store := wasmtime.NewStore(engine)
		defer store.Close()
		_, err := wasmtime.NewInstance(store, module, nil)
		if i < PoolSlots && err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
		if i == PoolSlots && err == nil {
			t.Fatalf("instance %d: got no error, want the pool of %d exhausted", i, PoolSlots)
		}
	}
}
