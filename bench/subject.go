package bench

import (
	"context"
	"errors"
	"fmt"

	extism "github.com/extism/go-sdk"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/toolgate/toolgate/receipts"
	"github.com/toolgate/toolgate/runtime"
)

// The subjects, in the order the benchmarks run them.
const (
	SubjectToolgate  = "toolgate"
	SubjectWazero    = "wazero"
	SubjectExtismSDK = "extism-sdk"
)

// Subjects lists every subject name.
var Subjects = []string{SubjectToolgate, SubjectWazero, SubjectExtismSDK}

// Subject runs one Case, in a fresh sandbox per Call. It is not safe for concurrent use.
type Subject interface {
	// Call runs the case once in a fresh sandbox and returns its output.
	Call(ctx context.Context) ([]byte, error)
	// Close releases the compiled module and everything else New made.
	Close(ctx context.Context) error
}

// New returns subject (one of Subjects) ready to run c: the module is compiled here, outside anything a
// benchmark measures. cacheDir is wazero's compilation-cache directory, shared by every subject so that a
// large module is compiled once per machine rather than once per subject; "" keeps compiled code in memory.
func New(ctx context.Context, subject string, c Case, cacheDir string) (Subject, error) {
	var (
		s   Subject
		err error
	)
	switch subject {
	case SubjectToolgate:
		s, err = newToolgate(ctx, c, cacheDir)
	case SubjectWazero:
		s, err = newWazero(ctx, c, cacheDir)
	case SubjectExtismSDK:
		s, err = newExtismSDK(ctx, c, cacheDir)
	default:
		return nil, fmt.Errorf("bench: subject[%s]: unknown subject (have %v)", subject, Subjects)
	}
	if err != nil {
		return nil, fmt.Errorf("bench: subject[%s] case[%s]: %w", subject, c.Name, err)
	}
	return s, nil
}

// Check runs s once and compares its output with c.Want.
func Check(ctx context.Context, s Subject, c Case) error {
	out, err := s.Call(ctx)
	if err != nil {
		return err
	}
	if string(out) != string(c.Want) {
		return fmt.Errorf("case[%s]: got %q, want %q: %w", c.Name, out, c.Want, ErrOutput)
	}
	return nil
}

// runtimeConfig is the wazero configuration of the wazero and extism-sdk subjects: the same as Toolgate's own
// with metering on (runtime.wazeroConfig in runtime/runtime.go; keep the two in step), so that the comparison
// isolates the layers above wazero and not its settings. Context polling (WithCloseOnContextDone) is off, as in
// a metered Toolgate runtime, where fuel bounds guest compute.
func runtimeConfig(cache wazero.CompilationCache) wazero.RuntimeConfig {
	return wazero.NewRuntimeConfig().
		WithCoreFeatures(api.CoreFeaturesV2).
		WithCompilationCache(cache).
		WithCloseOnContextDone(false)
}

func newCache(dir string) (wazero.CompilationCache, error) {
	if dir == "" {
		return wazero.NewCompilationCache(), nil
	}
	return wazero.NewCompilationCacheWithDir(dir)
}

// toolgateSubject is runtime.Invoke with the runtime's default limits.
type toolgateSubject struct {
	rt   *runtime.Runtime
	call runtime.Call
}

func newToolgate(ctx context.Context, c Case, cacheDir string) (*toolgateSubject, error) {
	// As `toolgate serve` runs it: the native engine, fuel metering on.
	rt, err := runtime.New(ctx, runtime.Config{CacheDir: cacheDir, Metering: true})
	if err != nil {
		return nil, err
	}
	info, err := rt.Load(ctx, c.Wasm)
	if err != nil {
		_ = rt.Close(ctx)
		return nil, err
	}
	return &toolgateSubject{rt: rt, call: runtime.Call{Module: info.Digest, Entry: c.Entry, Input: c.Input}}, nil
}

func (s *toolgateSubject) Call(ctx context.Context) ([]byte, error) {
	res, err := s.rt.Invoke(ctx, s.call)
	if err != nil {
		return nil, err
	}
	if res.Status != receipts.StatusOK {
		return nil, fmt.Errorf("status[%s] %s: %w", res.Status, res.Error, ErrGuest)
	}
	return res.Output, nil
}

func (s *toolgateSubject) Close(ctx context.Context) error { return s.rt.Close(ctx) }

// wazeroSubject is the floor: instantiate, call, close on raw wazero, with extism:host/env as Go functions
// (rawKernel) and WASI as wazero provides it, both instantiated once per runtime.
type wazeroSubject struct {
	cache wazero.CompilationCache
	rt    wazero.Runtime
	cm    wazero.CompiledModule
	mc    wazero.ModuleConfig
	entry string
	input []byte
}

func newWazero(ctx context.Context, c Case, cacheDir string) (*wazeroSubject, error) {
	cache, err := newCache(cacheDir)
	if err != nil {
		return nil, err
	}
	s := &wazeroSubject{cache: cache, entry: c.Entry, input: c.Input}
	s.rt = wazero.NewRuntimeWithConfig(ctx, runtimeConfig(cache))
	if _, err = wasi_snapshot_preview1.Instantiate(ctx, s.rt); err == nil {
		if err = instantiateRawKernel(ctx, s.rt); err == nil {
			s.cm, err = s.rt.CompileModule(ctx, c.Wasm)
		}
	}
	if err != nil {
		return nil, errors.Join(err, s.Close(ctx))
	}
	if _, ok := s.cm.ExportedFunctions()[c.Entry]; !ok {
		return nil, errors.Join(fmt.Errorf("no export %q", c.Entry), s.Close(ctx))
	}
	// Anonymous, so that instances do not collide; _initialize runs a reactor's (a c-shared Go module's) runtime
	// init, as the Extism SDK does before the first call, and is skipped by wazero when absent.
	s.mc = wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize")
	return s, nil
}

func (s *wazeroSubject) Call(ctx context.Context) ([]byte, error) {
	k := newRawKernel(s.input)
	ctx = withRawKernel(ctx, k)
	mod, err := s.rt.InstantiateModule(ctx, s.cm, s.mc)
	if err != nil {
		return nil, err
	}
	defer mod.Close(ctx)
	res, err := mod.ExportedFunction(s.entry).Call(ctx)
	if err != nil {
		return nil, err
	}
	if len(res) == 1 && uint32(res[0]) != 0 {
		return nil, fmt.Errorf("rc[%d] %s: %w", uint32(res[0]), k.err, ErrGuest)
	}
	return k.output, nil
}

func (s *wazeroSubject) Close(ctx context.Context) error {
	return errors.Join(s.rt.Close(ctx), s.cache.Close(ctx))
}

// extismSubject is the Extism Go SDK on its own: a fresh Plugin per call from one CompiledPlugin.
type extismSubject struct {
	cache wazero.CompilationCache
	cp    *extism.CompiledPlugin
	entry string
	input []byte
}

func newExtismSDK(ctx context.Context, c Case, cacheDir string) (*extismSubject, error) {
	cache, err := newCache(cacheDir)
	if err != nil {
		return nil, err
	}
	cp, err := extism.NewCompiledPlugin(ctx,
		extism.Manifest{Wasm: []extism.Wasm{extism.WasmData{Data: c.Wasm}}},
		extism.PluginConfig{RuntimeConfig: runtimeConfig(cache), EnableWasi: true},
		nil)
	if err != nil {
		return nil, errors.Join(err, cache.Close(ctx))
	}
	return &extismSubject{cache: cache, cp: cp, entry: c.Entry, input: c.Input}, nil
}

func (s *extismSubject) Call(ctx context.Context) ([]byte, error) {
	p, err := s.cp.Instance(ctx, extism.PluginInstanceConfig{})
	if err != nil {
		return nil, err
	}
	defer p.Close(ctx)
	rc, out, err := p.CallWithContext(ctx, s.entry, s.input)
	if err != nil {
		return nil, err
	}
	if rc != 0 {
		return nil, fmt.Errorf("rc[%d]: %w", rc, ErrGuest)
	}
	return out, nil
}

func (s *extismSubject) Close(ctx context.Context) error {
	return errors.Join(s.cp.Close(ctx), s.cache.Close(ctx))
}
