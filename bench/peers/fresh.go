package peers

import (
	"context"
	"fmt"

	"github.com/bytecodealliance/wasmtime-go/v39"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/toolgate/toolgate/receipts"
	"github.com/toolgate/toolgate/runtime"
	"github.com/toolgate/toolgate/runtime/fuel"
)

// The subjects of the fresh-instance comparison, in the order they run. Each Run is one sandbox: instantiate
// the compiled module, call its export, and release everything the instance holds.
const (
	// FreshToolgate: Toolgate's own runtime as `toolgate serve` runs it (bench/subject.go, subject "toolgate"):
	// runtime.New with Metering on and the native Extism engine (the default), the module Loaded (instrumented
	// and compiled in memory), and each Run one runtime.Invoke of the export with FreshInput and the default
	// limits (64 MiB memory cap, 1 MiB input and output caps, DefaultFuel), which must end ok having used fuel.
	// Per call that is the fuel meter, the memory limiter, the Extism kernel holding the input for
	// extism:host/env (a host module instantiated once per runtime), log and output capture, and the
	// classification of the result.
	FreshToolgate = "toolgate"
	// FreshWazero: InstantiateModule (anonymous, WithStartFunctions()) + call + Close on wazero's compiler.
	FreshWazero = "wazero"
	// FreshWazeroFuel: the same on the module instrumented with ToolgateOptions, with the budget written
	// before the call and the remaining fuel read after, as Toolgate does per call.
	FreshWazeroFuel = "wazero+fuel"
	// FreshWasmtime: NewStore + NewInstance + GetFunc + Call + Store.Close through wasmtime-go, default
	// (on-demand) instance allocator.
	FreshWasmtime = "wasmtime"
	// FreshWasmtimeFuel: the same with fuel on, SetFuel before and GetFuel after the call.
	FreshWasmtimeFuel = "wasmtime+fuel"
	// FreshWasmtimePooling: FreshWasmtime with the pooling instance allocator (enablePooling).
	FreshWasmtimePooling = "wasmtime-pooling"
	// FreshWasmtimePoolingFuel: FreshWasmtimeFuel with the pooling instance allocator.
	FreshWasmtimePoolingFuel = "wasmtime-pooling+fuel"
)

// FreshSubjects lists the subjects of the fresh-instance comparison.
var FreshSubjects = []string{FreshToolgate, FreshWazero, FreshWazeroFuel, FreshWasmtime, FreshWasmtimeFuel,
	FreshWasmtimePooling, FreshWasmtimePoolingFuel}

// Fresh runs a call in a fresh instance, repeatedly, with the module compiled beforehand. It is not safe for
// concurrent use.
type Fresh interface {
	// Run instantiates, calls the export (no arguments) and releases the instance.
	Run() error
	Close()
}

// NewFresh prepares subject (one of FreshSubjects) to call export in fresh instances of wasm, which must have
// no imports and no start function (and, for FreshToolgate, return 0 under the Extism ABI).
func NewFresh(subject string, wasm []byte, export string) (Fresh, error) {
	switch subject {
	case FreshToolgate:
		return newToolgateFresh(wasm, export)
	case FreshWazero, FreshWazeroFuel:
		return newWazeroFresh(wasm, export, subject == FreshWazeroFuel)
	case FreshWasmtime, FreshWasmtimeFuel, FreshWasmtimePooling, FreshWasmtimePoolingFuel:
		withFuel := subject == FreshWasmtimeFuel || subject == FreshWasmtimePoolingFuel
		pooling := subject == FreshWasmtimePooling || subject == FreshWasmtimePoolingFuel
		return newWasmtimeFresh(wasm, export, withFuel, pooling)
	}
	return nil, fmt.Errorf("peers: fresh subject[%s]: unknown (have %v)", subject, FreshSubjects)
}

type toolgateFresh struct {
	ctx  context.Context
	rt   *runtime.Runtime
	call runtime.Call
}

func newToolgateFresh(wasm []byte, export string) (*toolgateFresh, error) {
	ctx := context.Background()
	rt, err := runtime.New(ctx, runtime.Config{Metering: true})
	if err != nil {
		return nil, err
	}
	f := &toolgateFresh{ctx: ctx, rt: rt}
	info, err := rt.Load(ctx, wasm)
	if err != nil {
		f.Close()
		return nil, err
	}
	f.call = runtime.Call{Module: info.Digest, Entry: export, Input: FreshInput}
	return f, f.Run()
}

func (f *toolgateFresh) Run() error {
	res, err := f.rt.Invoke(f.ctx, f.call)
	switch {
	case err != nil:
		return err
	case res.Status != receipts.StatusOK:
		return fmt.Errorf("peers: %s: status[%s] %s", f.call.Entry, res.Status, res.Error)
	case res.Fuel == nil || res.Fuel.Used == 0:
		return fmt.Errorf("peers: %s used no fuel (%+v)", f.call.Entry, res.Fuel)
	}
	return nil
}

func (f *toolgateFresh) Close() { _ = f.rt.Close(f.ctx) }

type wazeroFresh struct {
	ctx      context.Context
	rt       wazero.Runtime
	cm       wazero.CompiledModule
	cfg      wazero.ModuleConfig
	export   string
	withFuel bool
}

func newWazeroFresh(wasm []byte, export string, withFuel bool) (*wazeroFresh, error) {
	if withFuel {
		var err error
		if wasm, err = Instrument(wasm, ToolgateOptions()); err != nil {
			return nil, err
		}
	}
	ctx := context.Background()
	f := &wazeroFresh{ctx: ctx, export: export, withFuel: withFuel,
		rt:  wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler()),
		cfg: wazero.NewModuleConfig().WithName("").WithStartFunctions()}
	var err error
	if f.cm, err = f.rt.CompileModule(ctx, wasm); err != nil {
		f.Close()
		return nil, err
	}
	return f, f.Run()
}

func (f *wazeroFresh) Run() error {
	mod, err := f.rt.InstantiateModule(f.ctx, f.cm, f.cfg)
	if err != nil {
		return err
	}
	var g api.MutableGlobal
	if f.withFuel {
		g = mod.ExportedGlobal(fuel.GlobalFuel).(api.MutableGlobal)
		g.Set(uint64(Budget))
	}
	_, err = mod.ExportedFunction(f.export).Call(f.ctx)
	if err == nil && f.withFuel && Budget-int64(g.Get()) <= 0 {
		err = fmt.Errorf("peers: %s used no fuel", f.export)
	}
	if cerr := mod.Close(f.ctx); err == nil {
		err = cerr
	}
	return err
}

func (f *wazeroFresh) Close() { _ = f.rt.Close(f.ctx) }

type wasmtimeFresh struct {
	engine   *wasmtime.Engine
	module   *wasmtime.Module
	export   string
	withFuel bool
}

func newWasmtimeFresh(wasm []byte, export string, withFuel, pooling bool) (*wasmtimeFresh, error) {
	cfg := wasmtime.NewConfig()
	cfg.SetConsumeFuel(withFuel)
	if pooling {
		if err := enablePooling(cfg); err != nil {
			return nil, err
		}
	}
	f := &wasmtimeFresh{engine: wasmtime.NewEngineWithConfig(cfg), export: export, withFuel: withFuel}
	var err error
	if f.module, err = wasmtime.NewModule(f.engine, wasm); err != nil {
		f.Close()
		return nil, err
	}
	return f, f.Run()
}

func (f *wasmtimeFresh) Run() error {
	store := wasmtime.NewStore(f.engine)
	defer store.Close()
	if f.withFuel {
		if err := store.SetFuel(uint64(Budget)); err != nil {
			return err
		}
	}
	inst, err := wasmtime.NewInstance(store, f.module, nil)
	if err != nil {
		return err
	}
	fn := inst.GetFunc(store, f.export)
	if fn == nil {
		return fmt.Errorf("peers: no export %q", f.export)
	}
	if _, err := fn.Call(store); err != nil {
		return err
	}
	if f.withFuel {
		left, err := store.GetFuel()
		if err != nil {
			return err
		}
		if Budget-int64(left) <= 0 {
			return fmt.Errorf("peers: %s used no fuel", f.export)
		}
	}
	return nil
}

func (f *wasmtimeFresh) Close() {
	if f.module != nil {
		f.module.Close()
	}
	f.engine.Close()
}
