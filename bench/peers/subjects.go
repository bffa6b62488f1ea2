package peers

import (
	"context"
	"fmt"
	"math"

	"github.com/bytecodealliance/wasmtime-go/v39"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/toolgate/toolgate/runtime/fuel"
)

// The subjects of the kernel comparison, in the order they run.
const (
	// SubjectWazero is the original module on wazero v1.12's compiler, default RuntimeConfig.
	SubjectWazero = "wazero"
	// SubjectWazeroFuel is the module instrumented by runtime/fuel (ToolgateOptions) on the same engine; every
	// call writes the budget to toolgate_fuel first and reads it back after.
	SubjectWazeroFuel = "wazero+fuel"
	// SubjectWasmtime is the original module on wasmtime 39 (Cranelift, default Config) through wasmtime-go.
	SubjectWasmtime = "wasmtime"
	// SubjectWasmtimeFuel is the same with Config.SetConsumeFuel(true); every call sets the budget with
	// Store.SetFuel first and reads Store.GetFuel after.
	SubjectWasmtimeFuel = "wasmtime+fuel"
	// SubjectWazeroCtx is the original module on wazero's compiler with WithCloseOnContextDone(true), called
	// with a cancellable context: wazero's only way to stop a running call, for contrast.
	SubjectWazeroCtx = "wazero+ctxdone"
)

// KernelSubjects lists the subjects of the kernel comparison.
var KernelSubjects = []string{SubjectWazero, SubjectWazeroFuel, SubjectWasmtime, SubjectWasmtimeFuel, SubjectWazeroCtx}

// Runner makes one call of a kernel, repeatedly, on an instance prepared beforehand (module compiled and
// instantiated outside anything measured). It is not safe for concurrent use.
type Runner interface {
	// Call runs the call once; a subject with fuel sets the budget first and reads what remains after.
	Call() error
	// Used is the fuel the last call used; ok is false for a subject without fuel.
	Used() (used int64, ok bool)
	// Results are the last call's results as raw bits, wazero's representation.
	Results() []uint64
	Close()
}

// NewRunner prepares subject (one of KernelSubjects) to make call c on the original module wasm; the fuel
// subject of wazero instruments it with ToolgateOptions first.
func NewRunner(subject string, wasm []byte, c Call) (Runner, error) {
	var opts *fuel.Options
	if subject == SubjectWazeroFuel {
		opts = ptr(ToolgateOptions())
	}
	return newRunner(subject, wasm, c, opts)
}

func newRunner(subject string, wasm []byte, c Call, opts *fuel.Options) (Runner, error) {
	switch subject {
	case SubjectWazero, SubjectWazeroFuel, SubjectWazeroCtx:
		if (subject == SubjectWazeroFuel) != (opts != nil) {
			return nil, fmt.Errorf("peers: subject[%s]: fuel options given %t", subject, opts != nil)
		}
		return newWazeroRunner(wasm, c, opts, subject == SubjectWazeroCtx)
	case SubjectWasmtime, SubjectWasmtimeFuel:
		return newWasmtimeRunner(wasm, c, subject == SubjectWasmtimeFuel)
	}
	return nil, fmt.Errorf("peers: subject[%s]: unknown (have %v)", subject, KernelSubjects)
}

type wazeroRunner struct {
	ctx    context.Context
	cancel context.CancelFunc
	rt     wazero.Runtime
	f      api.Function
	args   []uint64
	fuel   api.MutableGlobal
	res    []uint64
	used   int64
}

func newWazeroRunner(wasm []byte, c Call, opts *fuel.Options, closeOnDone bool) (*wazeroRunner, error) {
	if opts != nil {
		var err error
		if wasm, err = Instrument(wasm, *opts); err != nil {
			return nil, err
		}
	}
	// A cancellable context, as a host with a deadline would pass: with WithCloseOnContextDone, wazero watches
	// it during the call.
	ctx, cancel := context.WithCancel(context.Background())
	r := &wazeroRunner{ctx: ctx, cancel: cancel, args: c.Args}
	r.rt = wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCloseOnContextDone(closeOnDone))
	mod, err := r.rt.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		r.Close()
		return nil, err
	}
	if r.f = mod.ExportedFunction(c.Export); r.f == nil {
		r.Close()
		return nil, fmt.Errorf("peers: no export %q", c.Export)
	}
	if opts != nil {
		r.fuel = mod.ExportedGlobal(fuel.GlobalFuel).(api.MutableGlobal)
	}
	return r, nil
}

func (r *wazeroRunner) Call() error {
	if r.fuel != nil {
		r.fuel.Set(uint64(Budget))
	}
	res, err := r.f.Call(r.ctx, r.args...)
	if r.fuel != nil {
		r.used = Budget - int64(r.fuel.Get())
	}
	r.res = res
	return err
}

func (r *wazeroRunner) Used() (int64, bool) { return r.used, r.fuel != nil }
func (r *wazeroRunner) Results() []uint64   { return r.res }

func (r *wazeroRunner) Close() {
	_ = r.rt.Close(context.Background())
	r.cancel()
}

type wasmtimeRunner struct {
	engine *wasmtime.Engine
	store  *wasmtime.Store
	module *wasmtime.Module
	f      *wasmtime.Func
	args   []any
	fuel   bool
	res    []uint64
	used   int64
}

func newWasmtimeRunner(wasm []byte, c Call, withFuel bool) (*wasmtimeRunner, error) {
	cfg := wasmtime.NewConfig()
	cfg.SetConsumeFuel(withFuel)
	r := &wasmtimeRunner{engine: wasmtime.NewEngineWithConfig(cfg), fuel: withFuel}
	var err error
	if r.module, err = wasmtime.NewModule(r.engine, wasm); err != nil {
		r.Close()
		return nil, err
	}
	r.store = wasmtime.NewStore(r.engine)
	if withFuel {
		// The kernels have no start function: instantiation itself uses no fuel, but it needs some to begin.
		if err := r.store.SetFuel(uint64(Budget)); err != nil {
			r.Close()
			return nil, err
		}
	}
	inst, err := wasmtime.NewInstance(r.store, r.module, nil)
	if err != nil {
		r.Close()
		return nil, err
	}
	if r.f = inst.GetFunc(r.store, c.Export); r.f == nil {
		r.Close()
		return nil, fmt.Errorf("peers: no export %q", c.Export)
	}
	if r.args, err = wasmtimeArgs(r.f.Type(r.store).Params(), c.Args); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// wasmtimeArgs converts raw-bit arguments to the Go values wasmtime-go's Func.Call takes, once, outside the
// measured loop.
func wasmtimeArgs(params []*wasmtime.ValType, raw []uint64) ([]any, error) {
	if len(params) != len(raw) {
		return nil, fmt.Errorf("peers: %d arguments for %d parameters", len(raw), len(params))
	}
	args := make([]any, len(raw))
	for i, p := range params {
		switch p.Kind() {
		case wasmtime.KindI32:
			args[i] = int32(uint32(raw[i]))
		case wasmtime.KindI64:
			args[i] = int64(raw[i])
		case wasmtime.KindF32:
			args[i] = math.Float32frombits(uint32(raw[i]))
		case wasmtime.KindF64:
			args[i] = math.Float64frombits(raw[i])
		default:
			return nil, fmt.Errorf("peers: parameter %d: unsupported kind %v", i, p.Kind())
		}
	}
	return args, nil
}

func (r *wasmtimeRunner) Call() error {
	if r.fuel {
		if err := r.store.SetFuel(uint64(Budget)); err != nil {
			return err
		}
	}
	v, err := r.f.Call(r.store, r.args...)
	if r.fuel {
		left, ferr := r.store.GetFuel()
		if ferr != nil {
			return ferr
		}
		r.used = Budget - int64(left)
	}
	if err != nil {
		return err
	}
	r.res, err = rawResults(v)
	return err
}

// rawResults converts what Func.Call returns to wazero's raw bits, to compare results across engines.
func rawResults(v any) ([]uint64, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case []wasmtime.Val:
		out := make([]uint64, len(v))
		for i, x := range v {
			r, err := rawResults(x.Get())
			if err != nil {
				return nil, err
			}
			out[i] = r[0]
		}
		return out, nil
	case int32:
		return []uint64{uint64(uint32(v))}, nil
	case int64:
		return []uint64{uint64(v)}, nil
	case float32:
		return []uint64{uint64(math.Float32bits(v))}, nil
	case float64:
		return []uint64{math.Float64bits(v)}, nil
	}
	return nil, fmt.Errorf("peers: unsupported result %T", v)
}

func (r *wasmtimeRunner) Used() (int64, bool) { return r.used, r.fuel }
func (r *wasmtimeRunner) Results() []uint64   { return r.res }

func (r *wasmtimeRunner) Close() {
	if r.store != nil {
		r.store.Close()
	}
	if r.module != nil {
		r.module.Close()
	}
	r.engine.Close()
}
