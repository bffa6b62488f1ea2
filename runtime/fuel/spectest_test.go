package fuel

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/toolgate/toolgate/plugins/pluginstest"
)

// The WebAssembly 2.0 spec test suite, as wazero v1.12.0 ships it compiled (wast2json): 148 scripts, about 1,600
// modules and 48,000 assertions. TestSpec runs every command against the original module and the instrumented
// one and compares the outcomes; it does not need the expected values, only that instrumentation changes none.

type specScript struct {
	Commands []specCommand `json:"commands"`
}

type specCommand struct {
	Type     string      `json:"type"`
	Line     int         `json:"line"`
	Name     string      `json:"name"`
	Filename string      `json:"filename"`
	Action   *specAction `json:"action"`
}

type specAction struct {
	Type   string      `json:"type"` // invoke or get
	Module string      `json:"module"`
	Field  string      `json:"field"`
	Args   []specValue `json:"args"`
}

type specValue struct {
	Type     string          `json:"type"`
	LaneType string          `json:"lane_type"`
	Value    json.RawMessage `json:"value"`
}

func (v specValue) words(t testing.TB) []uint64 {
	if v.Type == "v128" {
		var lanes []string
		if err := json.Unmarshal(v.Value, &lanes); err != nil {
			t.Fatal(err)
		}
		var buf [16]byte
		size := map[string]int{"i8": 1, "i16": 2, "i32": 4, "f32": 4, "i64": 8, "f64": 8}[v.LaneType]
		for i, l := range lanes {
			n, err := strconv.ParseUint(l, 10, 64)
			if err != nil {
				t.Fatalf("lane %q: %v", l, err)
			}
			var tmp [8]byte
			binary.LittleEndian.PutUint64(tmp[:], n)
			copy(buf[i*size:], tmp[:size])
		}
		return []uint64{binary.LittleEndian.Uint64(buf[:8]), binary.LittleEndian.Uint64(buf[8:])}
	}
	var s string
	if err := json.Unmarshal(v.Value, &s); err != nil {
		t.Fatal(err)
	}
	if s == "null" {
		return []uint64{0}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("value %q: %v", s, err)
	}
	return []uint64{n}
}

// specWorld is one runtime in which a script's modules live: the originals, or the instrumented copies.
type specWorld struct {
	rt      wazero.Runtime
	named   map[string]api.Module
	current api.Module
	n       int
	used    uint64 // fuel used by the last action, if instrumented
}

func newSpecWorld(t testing.TB) *specWorld {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	t.Cleanup(func() { rt.Close(ctx) })
	// The spectest host module that scripts import from.
	noop := api.GoModuleFunc(func(context.Context, api.Module, []uint64) {})
	b := rt.NewHostModuleBuilder("spectest")
	for name, params := range map[string][]api.ValueType{
		"print": nil, "print_i32": {api.ValueTypeI32}, "print_i64": {api.ValueTypeI64},
		"print_f32": {api.ValueTypeF32}, "print_f64": {api.ValueTypeF64},
		"print_i32_f32": {api.ValueTypeI32, api.ValueTypeF32}, "print_f64_f64": {api.ValueTypeF64, api.ValueTypeF64},
	} {
		b.NewFunctionBuilder().WithGoModuleFunction(noop, params, nil).Export(name)
	}
	if _, err := b.Instantiate(ctx); err != nil {
		t.Fatal(err)
	}
	return &specWorld{rt: rt, named: map[string]api.Module{}}
}

func (w *specWorld) instantiate(wasm []byte, name string) error {
	ctx := context.Background()
	w.n++
	mod, err := w.rt.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithName("m"+strconv.Itoa(w.n)))
	if err != nil {
		w.current = nil
		return err
	}
	w.current = mod
	if name != "" {
		w.named[name] = mod
	}
	return nil
}

// do runs an action and returns its outcome as text.
func (w *specWorld) do(t testing.TB, a *specAction) string {
	mod := w.current
	if a.Module != "" {
		mod = w.named[a.Module]
	}
	if mod == nil {
		return "no module"
	}
	if a.Type == "get" {
		g := mod.ExportedGlobal(a.Field)
		if g == nil {
			return "no global"
		}
		return strconv.FormatUint(g.Get(), 10)
	}
	f := mod.ExportedFunction(a.Field)
	if f == nil {
		return "no function"
	}
	var args []uint64
	for _, v := range a.Args {
		args = append(args, v.words(t)...)
	}
	if g := mod.ExportedGlobal(GlobalDepth); g != nil {
		g.(api.MutableGlobal).Set(0) // a trap in an earlier action left it where it was
	}
	fuel := mod.ExportedGlobal(GlobalFuel)
	var before uint64
	if fuel != nil {
		before = fuel.Get()
	}
	res, err := f.Call(context.Background(), args...)
	if fuel != nil {
		w.used = before - fuel.Get()
	}
	if err != nil {
		if g := mod.ExportedGlobal(GlobalExhausted); g != nil && g.Get() == ExhaustedDepth {
			g.(api.MutableGlobal).Set(0)
			return "exhaustion"
		}
		if strings.Contains(err.Error(), "stack overflow") {
			return "exhaustion"
		}
		return "trap: " + firstLine(err)
	}
	for i, rt := range f.Definition().ResultTypes() {
		if rt == api.ValueTypeExternref || rt == valFuncref {
			if res[i] != 0 {
				res[i] = 1
			}
		}
	}
	return strings.TrimSpace(formatWords(res))
}

func formatWords(ws []uint64) string {
	var sb strings.Builder
	for _, w := range ws {
		sb.WriteString(strconv.FormatUint(w, 16))
		sb.WriteByte(' ')
	}
	return sb.String()
}

func wazeroDir(t testing.TB) string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/tetratelabs/wazero").Output()
	if err != nil {
		pluginstest.Missing(t, "cannot locate wazero's module: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// TestSpec runs the spec test suite, original against instrumented, on wazero's interpreter, and checks the fuel
// of every completed call against the naive oracle's. The depth bound is
// set below the interpreter's own so that the suite's runaway recursions stop on it.
func TestSpec(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 48,000 spec assertions")
	}
	dir := filepath.Join(wazeroDir(t), "internal", "integration_test", "spectest", "v2", "testdata")
	scripts, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(scripts) == 0 {
		pluginstest.Missing(t, "no spec tests in %s", dir)
	}
	opts := unlimited()
	opts.MaxCallDepth = 1000
	var modules, assertions, rejected, completed int
	for _, script := range scripts {
		raw, err := os.ReadFile(script)
		if err != nil {
			t.Fatal(err)
		}
		var s specScript
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte(`"register"`)) {
			continue // modules that link to each other by name: out of this harness's reach
		}
		base := filepath.Base(script)
		orig, inst, naive := newSpecWorld(t), newSpecWorld(t), newSpecWorld(t)
		for _, c := range s.Commands {
			switch c.Type {
			case "module":
				wasm, err := os.ReadFile(filepath.Join(dir, c.Filename))
				if err != nil {
					t.Fatal(err)
				}
				modules++
				m, derr := Decode(wasm)
				if derr == nil && !bytes.Equal(m.Encode(), wasm) {
					t.Errorf("%s:%d: Encode is not the input", base, c.Line)
				}
				out, _, ierr := Instrument(wasm, opts)
				oerr := orig.instantiate(wasm, c.Name)
				if ierr != nil {
					if oerr == nil {
						t.Errorf("%s:%d: wazero accepts the module, Instrument fails: %v", base, c.Line, ierr)
					}
					rejected++
					inst.current = nil
					continue
				}
				if err := inst.instantiate(out, c.Name); (err == nil) != (oerr == nil) {
					t.Errorf("%s:%d: instantiate original: %v, instrumented: %v", base, c.Line, oerr, err)
				}
				nv, _, err := instrument(wasm, opts, planNaive)
				if err != nil {
					t.Fatal(err)
				}
				_ = naive.instantiate(nv, c.Name)
			case "assert_return", "assert_trap", "action", "assert_exhaustion":
				if orig.current == nil || inst.current == nil || naive.current == nil {
					continue
				}
				assertions++
				want, got := orig.do(t, c.Action), inst.do(t, c.Action)
				naive.do(t, c.Action)
				if got != want {
					t.Errorf("%s:%d: %s %s: instrumented %q, original %q", base, c.Line, c.Type, c.Action.Field, got, want)
				}
				if !strings.HasPrefix(got, "trap") && got != "exhaustion" && c.Action.Type == "invoke" {
					if inst.used != naive.used {
						t.Errorf("%s:%d: %s: metered used %d, naive oracle %d", base, c.Line, c.Action.Field, inst.used, naive.used)
					}
					completed++
				}
			case "assert_invalid", "assert_malformed", "assert_uninstantiable", "assert_unlinkable":
				if !strings.HasSuffix(c.Filename, ".wasm") {
					continue
				}
				wasm, err := os.ReadFile(filepath.Join(dir, c.Filename))
				if err != nil {
					t.Fatal(err)
				}
				// Must not panic; if the compiler refuses the broken module, it refuses what Instrument made of it.
				ctx := context.Background()
				if out, _, err := Instrument(wasm, opts); err == nil {
					_, oerr := orig.rt.CompileModule(ctx, wasm)
					if _, cerr := orig.rt.CompileModule(ctx, out); oerr != nil && cerr == nil {
						t.Errorf("%s:%d: %s module became valid", base, c.Line, c.Type)
					}
				} else if errors.Is(err, ErrNameConflict) {
					t.Errorf("%s:%d: %v", base, c.Line, err)
				}
			}
		}
	}
	t.Logf("%d modules (%d refused by Instrument and wazero alike), %d actions compared, %d completed with the oracle's fuel",
		modules, rejected, assertions, completed)
	if assertions < 40000 {
		t.Errorf("only %d actions compared", assertions)
	}
}

// TestToolchainModules instruments the modules that wazero and the Extism Go SDK ship as test data, built by
// TinyGo, Go, Zig, Rust, C (wasi-libc, emscripten), AssemblyScript and Haskell: each one wazero compiles, it
// compiles instrumented too, and each decodes and encodes back to itself.
func TestToolchainModules(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles about 40 modules")
	}
	var paths []string
	wz := wazeroDir(t)
	for _, pattern := range []string{"imports/*/testdata/*.wasm", "imports/*/testdata/*/*.wasm", "imports/*/example/testdata/*/*.wasm",
		"examples/*/testdata/*.wasm", "internal/testing/dwarftestdata/testdata/*/*.wasm", "internal/integration_test/engine/testdata/*.wasm",
		"internal/integration_test/fuzzcases/testdata/*.wasm", "experimental/testdata/*.wasm", "cmd/wazero/testdata/*.wasm"} {
		m, _ := filepath.Glob(filepath.Join(wz, pattern))
		paths = append(paths, m...)
	}
	if out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/extism/go-sdk").Output(); err == nil {
		m, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "wasm", "*.wasm"))
		paths = append(paths, m...)
	}
	if len(paths) < 30 {
		pluginstest.Missing(t, "only %d modules found", len(paths))
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	compiled := 0
	for _, p := range paths {
		wasm := readFile(t, p)
		name, _ := filepath.Rel(filepath.Dir(wz), p)
		m, err := Decode(wasm)
		if err == nil && !bytes.Equal(m.Encode(), wasm) {
			t.Errorf("%s: Encode is not the input", name)
		}
		cm, oerr := rt.CompileModule(ctx, wasm)
		if oerr != nil {
			continue
		}
		cm.Close(ctx)
		out, _, err := Instrument(wasm, DefaultOptions())
		if err != nil {
			t.Errorf("%s: wazero compiles it, Instrument fails: %v", name, err)
			continue
		}
		if cm, err := rt.CompileModule(ctx, out); err != nil {
			t.Errorf("%s: instrumented does not compile: %v", name, err)
		} else {
			cm.Close(ctx)
			compiled++
		}
	}
	t.Logf("%d of %d modules compiled instrumented", compiled, len(paths))
}
