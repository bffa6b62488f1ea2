package fuel

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

//go:embed testdata/kernels/*.wasm
var kernelFS embed.FS

func kernel(t testing.TB, name string) []byte {
	t.Helper()
	b, err := kernelFS.ReadFile("testdata/kernels/" + name + ".wasm")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// engines are the two wazero engines every behaviour is checked on.
var engines = []struct {
	name string
	cfg  func() wazero.RuntimeConfig
}{
	{"compiler", wazero.NewRuntimeConfigCompiler},
	{"interpreter", wazero.NewRuntimeConfigInterpreter},
}

// call is one export invocation.
type call struct {
	name string
	args []uint64
}

// outcome is everything observable about one call.
type outcome struct {
	results   []uint64
	err       string // first line of the trap, "" if none
	used      uint64 // fuel used by the call (instrumented modules only)
	exhausted uint32
	log       []string // calls into host imports
	mem       string   // digest of the memory after the call
}

func (o outcome) String() string {
	return fmt.Sprintf("results=%v err=%q used=%d exhausted=%d log=%d mem=%s", o.results, o.err, o.used,
		o.exhausted, len(o.log), o.mem)
}

// sameBehaviour compares everything but fuel.
func (o outcome) sameBehaviour(p outcome) bool {
	return fmt.Sprint(o.results) == fmt.Sprint(p.results) && o.err == p.err && o.mem == p.mem &&
		strings.Join(o.log, "\n") == strings.Join(p.log, "\n")
}

func (o outcome) diff(p outcome) string {
	return fmt.Sprintf("got %v, want %v; log got %q, want %q", o, p, o.log, p.log)
}

// session is an instantiated module on one engine.
type session struct {
	rt   wazero.Runtime
	mod  api.Module
	log  *[]string
	err  error // instantiation error
	fuel bool
}

// instantiate compiles and instantiates wasm, with host functions for every function import (they log their
// arguments and return zeros). Budget, if the module is instrumented, is written to the fuel global after
// instantiation.
func instantiate(t testing.TB, cfg wazero.RuntimeConfig, wasm []byte) *session {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	s := &session{rt: rt, log: new([]string)}
	t.Cleanup(func() { rt.Close(ctx) })
	cm, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		s.err = err
		return s
	}
	byModule := map[string][]api.FunctionDefinition{}
	for _, d := range cm.ImportedFunctions() {
		m, _, _ := d.Import()
		byModule[m] = append(byModule[m], d)
	}
	for m, defs := range byModule {
		b := rt.NewHostModuleBuilder(m)
		for _, d := range defs {
			_, name, _ := d.Import()
			results := d.ResultTypes()
			log := s.log
			b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(_ context.Context, _ api.Module, stack []uint64) {
				args := append([]uint64(nil), stack[:len(d.ParamTypes())]...)
				for i, pt := range d.ParamTypes() {
					if pt == api.ValueTypeI32 || pt == api.ValueTypeF32 {
						args[i] = uint64(uint32(args[i])) // the compiler leaves the upper half undefined
					}
				}
				*log = append(*log, fmt.Sprint(name, args))
				for i := range results {
					stack[i] = 0
				}
			}), d.ParamTypes(), results).Export(name)
		}
		if _, err := b.Instantiate(ctx); err != nil {
			t.Fatalf("host module %s: %v", m, err)
		}
	}
	s.mod, s.err = rt.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName("guest"))
	if s.mod != nil {
		s.fuel = s.mod.ExportedGlobal(GlobalFuel) != nil
	}
	return s
}

func (s *session) setFuel(v uint64) {
	s.mod.ExportedGlobal(GlobalFuel).(api.MutableGlobal).Set(v)
}

func (s *session) fuelLeft() uint64 { return s.mod.ExportedGlobal(GlobalFuel).Get() }

func (s *session) exhausted() uint32 {
	return uint32(s.mod.ExportedGlobal(GlobalExhausted).Get())
}

// call runs one export and reports what it did.
func (s *session) call(c call) outcome {
	var o outcome
	f := s.mod.ExportedFunction(c.name)
	if f == nil {
		o.err = "no such export " + c.name
		return o
	}
	var before uint64
	if s.fuel {
		before = s.fuelLeft()
	}
	*s.log = (*s.log)[:0]
	args := c.args
	if args == nil {
		args = make([]uint64, len(f.Definition().ParamTypes()))
	}
	res, err := f.Call(context.Background(), args...)
	for i, t := range f.Definition().ResultTypes() {
		if i < len(res) && (t == valFuncref || t == api.ValueTypeExternref) && res[i] != 0 {
			res[i] = 1 // a reference is an address: only null or not is comparable across instances
		}
	}
	o.results = res
	if err != nil {
		o.err, _, _ = strings.Cut(err.Error(), "\n")
	}
	o.log = append([]string(nil), *s.log...)
	if mem := s.mod.Memory(); mem != nil && !reflect.ValueOf(mem).IsNil() {
		b, _ := mem.Read(0, mem.Size())
		h := sha256.Sum256(b)
		o.mem = hex.EncodeToString(h[:8])
	}
	if s.fuel {
		o.used = before - s.fuelLeft()
		o.exhausted = s.exhausted()
	}
	return o
}

// runAll instantiates wasm and calls each of calls in order. An instantiation error is returned as a single
// outcome.
func runAll(t testing.TB, cfg wazero.RuntimeConfig, wasm []byte, budget uint64, calls []call) []outcome {
	t.Helper()
	s := instantiate(t, cfg, wasm)
	if s.err != nil {
		o := outcome{err: "instantiate: " + firstLine(s.err)}
		return []outcome{o}
	}
	if s.fuel {
		s.setFuel(budget)
	}
	out := make([]outcome, 0, len(calls))
	for _, c := range calls {
		out = append(out, s.call(c))
	}
	return out
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// mustInstrument instruments with opts, failing the test on error.
func mustInstrument(t testing.TB, wasm []byte, opts Options) []byte {
	t.Helper()
	out, _, err := Instrument(wasm, opts)
	if err != nil {
		t.Fatalf("Instrument: %v", err)
	}
	return out
}

// unlimited is Options with DefaultCosts and a budget that never runs out.
func unlimited() Options {
	o := DefaultOptions()
	o.InitialFuel = math.MaxInt64
	return o
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
