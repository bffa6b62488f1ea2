package fuel

import (
	"math"
	"path/filepath"
	"sort"
	"testing"
)

// ttfModules returns the random corpus made by binaryen's wasm-opt -ttf (testdata/gen.sh ttf).
func ttfModules(t testing.TB) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob("testdata/ttf/*.wasm")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no ttf corpus: %v", err)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		out[filepath.Base(p)] = readFile(t, p)
	}
	return out
}

// exportCalls calls every exported function once, in export order, with zero arguments.
func exportCalls(t testing.TB, wasm []byte) []call {
	t.Helper()
	m, err := Decode(wasm)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	var calls []call
	for _, e := range m.Exports() {
		if e.Kind == kindFunc && e.Name != "hangLimitInitializer" {
			calls = append(calls, call{name: e.Name})
		}
	}
	return calls
}

// TestTTF_Differential runs every exported function of each random module, original and instrumented with an
// unlimited budget, on both engines: same results, traps, host-call logs and memory. Completed calls use the
// same fuel as the naive oracle's rewrite, and the same fuel on both engines.
func TestTTF_Differential(t *testing.T) {
	mods := ttfModules(t)
	names := make([]string, 0, len(mods))
	for n := range mods {
		names = append(names, n)
	}
	sort.Strings(names)
	accepted, completed := 0, 0
	for _, name := range names {
		orig := mods[name]
		inst, _, err := Instrument(orig, unlimited())
		if err != nil {
			// Only for modules no engine accepts: binaryen emits constructs past Wasm 2.0 (typed references).
			for _, e := range engines {
				if s := instantiate(t, e.cfg(), orig); s.err == nil {
					t.Errorf("%s: wazero %s accepts it, Instrument fails: %v", name, e.name, err)
				}
			}
			continue
		}
		calls := exportCalls(t, orig)
		naive, _, err := instrument(orig, unlimited(), planNaive)
		if err != nil {
			t.Fatal(err)
		}
		exactOpts := unlimited()
		exactOpts.CallsEndBlocks, exactOpts.MaxCallDepth = true, 0
		exact := mustInstrument(t, orig, exactOpts)
		var byEngine [][]outcome
		for _, e := range engines {
			want := runAll(t, e.cfg(), orig, 0, calls)
			got := runAll(t, e.cfg(), inst, math.MaxInt64, calls)
			if len(want) == 1 && len(calls) != 1 && want[0].err != "" {
				// wazero rejects the original (binaryen emits constructs past Wasm 2.0): so must it the copy.
				if got[0].err == "" {
					t.Errorf("%s %s: original rejected (%s), instrumented accepted", name, e.name, want[0].err)
				}
				continue
			}
			accepted++
			oracle := runAll(t, e.cfg(), naive, math.MaxInt64, calls)
			exactRun := runAll(t, e.cfg(), exact, math.MaxInt64, calls)
			if len(got) != len(want) {
				t.Fatalf("%s %s: instrumented: %v", name, e.name, got)
			}
			for i := range calls {
				if !got[i].sameBehaviour(want[i]) {
					t.Errorf("%s %s %s: %s", name, e.name, calls[i].name, got[i].diff(want[i]))
				}
				if got[i].err == "" {
					completed++
					if got[i].used != oracle[i].used || exactRun[i].used != oracle[i].used {
						t.Errorf("%s %s %s: metered used %d, with CallsEndBlocks %d, naive oracle %d", name, e.name,
							calls[i].name, got[i].used, exactRun[i].used, oracle[i].used)
					}
				}
			}
			byEngine = append(byEngine, got)
		}
		if len(byEngine) == 2 {
			for i := range calls {
				if a, b := byEngine[0][i], byEngine[1][i]; a.err == "" && a.used != b.used {
					t.Errorf("%s %s: compiler used %d, interpreter %d", name, calls[i].name, a.used, b.used)
				}
			}
		}
	}
	t.Logf("%d modules, %d module×engine runs accepted by wazero, %d calls completed", len(names), accepted, completed)
	if accepted < 2*100 {
		t.Errorf("only %d of %d module×engine runs were accepted: the corpus no longer tests 100 modules", accepted,
			2*len(names))
	}
}
