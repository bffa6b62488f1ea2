// Package runtime runs untrusted WebAssembly tools. Load validates a module (header, decoding and compilation
// under the runtime's feature set, every import one the host provides, size) and compiles it once, caching the
// compiled code by digest in memory and, with Config.CacheDir, on disk so a restart does not recompile. Invoke
// runs one call in a fresh sandbox — a new instance per call, nothing of one call visible to the next — under
// the call's limits (input and output size, linear memory, wall-clock time) and reports what happened in a
// Result: guest failures are a Status, never an error.
//
// Two ABIs are supported: Extism plugins (ABIExtism), run by an engine behind an internal interface (by default
// the native engine, "native": the Extism ABI implemented here on wazero, with the network door as its
// http_request; the Extism Go SDK, "extism-sdk", is kept as the reference), and WASI preview 1 commands
// (ABIWASICommand), run on plain wazero. Only compiled code, host modules and zeroed buffers are pooled; guest
// state never is.
//
// This package and host are the only importers of wazero and the Extism SDK.
package runtime

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/toolgate/toolgate/host"
	"github.com/toolgate/toolgate/receipts"
	"github.com/toolgate/toolgate/runtime/fuel"
)

// Defaults for Config and for the zero fields of a Call's Limits.
const (
	DefaultMaxModuleBytes  = 32 << 20
	DefaultMemoryBytes     = 64 << 20
	DefaultTimeout         = 10 * time.Second
	DefaultMaxInputBytes   = 1 << 20
	DefaultMaxOutputBytes  = 1 << 20
	DefaultMaxHTTPRequests = 8
	// DefaultFuel is the fuel budget of a metered call whose Limits and Config.DefaultLimits set none.
	DefaultFuel = 1_000_000_000
	// DefaultMaxStderrBytes is how much of a guest's stderr is kept (it becomes the error message).
	DefaultMaxStderrBytes = 4 << 10
)

// Names of the Extism ABI engines (Config.Engine).
const (
	// EngineNative is Toolgate's own implementation of the Extism ABI on wazero: no kernel module, host
	// functions in Go over a per-call arena, the network door as http_request. The default.
	EngineNative = "native"
	// EngineExtismSDK is the Extism Go SDK v1.7.1, kept as the reference the native engine is tested against.
	// It cannot send through the network door: every outbound request is denied (and traps the guest).
	EngineExtismSDK = "extism-sdk"
)

// Config configures a Runtime. It is read once, by New.
type Config struct {
	// CacheDir is the directory of wazero's compilation cache, so compiled code survives a restart.
	// Defaults to "": compiled code is cached in memory only.
	CacheDir string
	// MaxModuleBytes is the largest module Load accepts. Defaults to DefaultMaxModuleBytes (32 MiB).
	MaxModuleBytes int64
	// Engine selects the Extism ABI engine: EngineNative or EngineExtismSDK. Defaults to EngineNative.
	Engine string
	// Transform, if set, rewrites a module's bytes after the size check and before validation and compilation.
	// Its error makes Load fail with a *ModuleError. Defaults to nil.
	Transform func(wasm []byte) ([]byte, error)
	// Metering turns on fuel metering (runtime/fuel, docs/FUEL.md). Load instruments every module (after
	// Transform) and compiles and caches the instrumented code; ModuleInfo keeps the digest of the bytes given,
	// which stay the module's identity. Each call then runs against its Limits.Fuel, set on its fresh instance
	// before any guest code runs (the module's start function included), reports Result.Fuel, and ends as
	// out_of_fuel when the budget runs out. Fuel, not the wall clock, bounds guest compute: wazero's context
	// polling (WithCloseOnContextDone, 3–55× slower loops) is off, so Limits.Timeout bounds host calls (the
	// network door) and a call that ends past it is reported as a timeout, but it does not interrupt guest code.
	// Defaults to false: nothing is metered and the timeout interrupts the guest.
	Metering bool
	// FuelOptions configure the instrumentation when Metering is set. Defaults to DefaultFuelOptions().
	FuelOptions *fuel.Options
	// DefaultLimits fills the zero fields of each Call's Limits. Its own zero fields take DefaultMemoryBytes,
	// DefaultTimeout, DefaultMaxInputBytes, DefaultMaxOutputBytes, DefaultMaxHTTPRequests and, with Metering,
	// DefaultFuel.
	DefaultLimits Limits
	// MaxLogLines is how many guest log lines a Result keeps (all are counted). Defaults to
	// host.DefaultMaxLogLines.
	MaxLogLines int
	// interpreter runs wazero's interpreter instead of its compiler: for tests that compare the two.
	interpreter bool
	// Door is the network door every call's outbound HTTP goes through (each call opens its own
	// host.CallDoor with Door.NewCall(Call.Policy, Call.Secrets, deadline)). Defaults to nil: every outbound
	// request is denied (and recorded). The extism-sdk engine denies them in any case (it can only use
	// http.DefaultClient).
	Door *host.Door
}

// ModuleInfo describes a loaded module.
type ModuleInfo struct {
	Digest  string   // "sha256:<hex>" of the bytes given to Load
	Imports []string // imported functions as "module.name", sorted, without duplicates
	Exports []string // exported functions, sorted
	ABI     ABI      // inferred by InferABI; "" if the module does not say
}

// Limits bound one call. Zero fields take the Runtime's defaults (Config.DefaultLimits).
type Limits struct {
	Fuel            uint64        // compute budget in fuel units (docs/FUEL.md), with Config.Metering
	MemoryBytes     uint64        // cap on the sum of the call's linear memories
	Timeout         time.Duration // wall-clock bound of the call
	MaxInputBytes   int64
	MaxOutputBytes  int64
	MaxHTTPRequests int // not used by the runtime: the network door's cap is Call.Policy.MaxRequests
}

// Call is one invocation.
type Call struct {
	Module string            // digest of a Loaded module
	ABI    ABI               // "" = the module's inferred ABI
	Entry  string            // export to run; "" = "run" for Extism, "_start" for a WASI command
	Input  []byte            // Extism input, or a WASI command's stdin
	Config map[string]string // Extism config values (config_get)
	Limits Limits
	// Policy is what the call may reach through the network door: its version's grants and its network caps
	// (Policy.MaxRequests is the version's max_http_requests as is, 0 = none). Defaults to the zero Policy:
	// nothing.
	Policy host.Policy
	// Secrets gives the door the values of the secrets Policy grants. Defaults to nil: none.
	Secrets host.SecretSource
}

// LogLine is one guest log line.
type LogLine = host.LogLine

// Result is what one call did. Status is one of the receipts.Status* constants; Error is the guest's message or
// a short description of the failure, empty when Status is ok.
type Result struct {
	Output          []byte // set only when Status is ok
	Status          string
	Error           string
	Fuel            *receipts.Fuel // nil: the module was not metered
	PeakMemoryBytes uint64         // most bytes the call's linear memories held at once
	Logs            []LogLine      // the first Config.MaxLogLines guest log lines
	LogCount        int            // every guest log line, kept or not
	HTTP            []receipts.HTTPLine
	Secrets         map[string]string
	Wall            time.Duration
}

// Runtime loads and runs modules. It is safe for concurrent use.
type Runtime struct {
	cfg    Config
	cache  wazero.CompilationCache
	cmd    wazero.Runtime // validation, and the WASI-command ABI
	wasi   map[string]api.FunctionDefinition
	extism extismEngine

	mu      sync.Mutex
	closed  bool
	modules map[string]*module

	sandboxes atomic.Uint64 // sandboxes started, for tests and metrics
}

// module is one Loaded module. Fields other than the extism ones are immutable once ready is closed.
type module struct {
	ready chan struct{}
	err   error

	info        ModuleInfo
	memMinBytes uint64
	compiled    wazero.CompiledModule // in Runtime.cmd
	exports     map[string]api.FunctionDefinition
	metered     bool // instrumented by runtime/fuel
	start       bool // metered, with a deferred start function (fuel.ExportStart)

	extOnce sync.Once
	wasm    []byte // the (transformed) bytes, kept until the Extism engine has compiled them
	ext     extismModule
	extErr  error
}

// DefaultFuelOptions returns the instrumentation a metering Runtime uses unless Config.FuelOptions says
// otherwise: fuel.DefaultOptions() (wasmtime's costs, bulk operations charged by size, a call depth bound) with
// DeferStart, so that a module's start function runs under the call's budget.
func DefaultFuelOptions() fuel.Options {
	o := fuel.DefaultOptions()
	o.DeferStart = true
	return o
}

// New returns a Runtime configured by cfg.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	if cfg.MaxModuleBytes <= 0 {
		cfg.MaxModuleBytes = DefaultMaxModuleBytes
	}
	if cfg.Engine == "" {
		cfg.Engine = EngineNative
	}
	if cfg.Engine != EngineNative && cfg.Engine != EngineExtismSDK {
		return nil, fmt.Errorf("runtime: engine[%s]: unknown engine (have %q, %q)", cfg.Engine, EngineNative, EngineExtismSDK)
	}
	if cfg.Metering && cfg.FuelOptions == nil {
		o := DefaultFuelOptions()
		cfg.FuelOptions = &o
	}
	var defFuel uint64
	if cfg.Metering {
		defFuel = DefaultFuel
	}
	cfg.DefaultLimits = fillLimits(cfg.DefaultLimits, Limits{
		Fuel:            defFuel,
		MemoryBytes:     DefaultMemoryBytes,
		Timeout:         DefaultTimeout,
		MaxInputBytes:   DefaultMaxInputBytes,
		MaxOutputBytes:  DefaultMaxOutputBytes,
		MaxHTTPRequests: DefaultMaxHTTPRequests,
	})
	if cfg.MaxLogLines <= 0 {
		cfg.MaxLogLines = host.DefaultMaxLogLines
	}

	r := &Runtime{cfg: cfg, modules: map[string]*module{}}
	if cfg.CacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("runtime: cache dir[%s]: %w", cfg.CacheDir, err)
		}
		r.cache = c
	} else {
		r.cache = wazero.NewCompilationCache()
	}
	r.cmd = wazero.NewRuntimeWithConfig(ctx, wazeroConfig(r.cache, cfg.Metering, cfg.interpreter))
	wasiHost, err := wasi_snapshot_preview1.NewBuilder(r.cmd).Compile(ctx)
	if err == nil {
		r.wasi = wasiHost.ExportedFunctions()
		_, err = r.cmd.InstantiateModule(ctx, wasiHost, wazero.NewModuleConfig())
	}
	if err != nil {
		_ = r.cmd.Close(ctx)
		_ = r.cache.Close(ctx)
		return nil, fmt.Errorf("runtime: wasi: %w", err)
	}
	if cfg.Engine == EngineNative {
		r.extism, err = newNativeEngine(ctx, r.cmd)
	} else {
		r.extism = newSDKEngine(wazeroConfig(r.cache, cfg.Metering, cfg.interpreter), cfg.Metering)
	}
	if err != nil {
		_ = r.cmd.Close(ctx)
		_ = r.cache.Close(ctx)
		return nil, fmt.Errorf("runtime: %w", err)
	}
	return r, nil
}

// wazeroConfig is the wazero configuration of every runtime this package makes: compiled code is shared through
// the cache between identically configured runtimes. Metered code needs no context polling (fuel bounds it);
// without metering, the wall-clock timeout closes a running module.
func wazeroConfig(cache wazero.CompilationCache, metering, interpreter bool) wazero.RuntimeConfig {
	c := wazero.NewRuntimeConfig()
	if interpreter {
		c = wazero.NewRuntimeConfigInterpreter()
	}
	return c.
		WithCoreFeatures(api.CoreFeaturesV2).
		WithCompilationCache(cache).
		WithCloseOnContextDone(!metering)
}

// Close releases every compiled module and the in-memory cache (the disk cache stays). Calls still running
// fail; Load and Invoke after Close return ErrClosed.
func (r *Runtime) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	mods := r.modules
	r.modules = nil
	r.mu.Unlock()

	var errs []error
	for _, m := range mods {
		<-m.ready
		if m.ext != nil {
			errs = append(errs, m.ext.close(ctx))
		}
	}
	errs = append(errs, r.cmd.Close(ctx), r.cache.Close(ctx))
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("runtime: close: %w", err)
		}
	}
	return nil
}

// Digest returns the OCI-style digest of b, "sha256:<64 lowercase hex>", as ModuleInfo.Digest has it.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Load validates and compiles wasm and keeps it for Invoke under its digest. Loading bytes already loaded
// returns the same ModuleInfo without recompiling; concurrent Loads of the same bytes compile once.
// A refused module is a *ModuleError (errors.Is ErrInvalidModule, and ErrModuleTooLarge for the size limit).
func (r *Runtime) Load(ctx context.Context, wasm []byte) (ModuleInfo, error) {
	if int64(len(wasm)) > r.cfg.MaxModuleBytes {
		return ModuleInfo{}, &ModuleError{
			Reason: fmt.Sprintf("module too large: %d bytes, over the limit of %d", len(wasm), r.cfg.MaxModuleBytes),
			Err:    ErrModuleTooLarge,
		}
	}
	if err := checkHeader(wasm); err != nil {
		return ModuleInfo{}, invalid(err.Error(), nil)
	}
	digest := Digest(wasm)

	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ModuleInfo{}, ErrClosed
	}
	m, ok := r.modules[digest]
	if !ok {
		m = &module{ready: make(chan struct{})}
		r.modules[digest] = m
	}
	r.mu.Unlock()

	if ok {
		select {
		case <-m.ready:
			if m.err != nil {
				return ModuleInfo{}, m.err
			}
			return m.info.clone(), nil
		case <-ctx.Done():
			return ModuleInfo{}, ctx.Err()
		}
	}

	m.err = r.compile(ctx, m, digest, wasm)
	if m.err != nil {
		r.mu.Lock()
		if r.modules != nil {
			delete(r.modules, digest) // a later Load tries again
		}
		r.mu.Unlock()
	}
	close(m.ready)
	if m.err != nil {
		return ModuleInfo{}, m.err
	}
	return m.info.clone(), nil
}

func (i ModuleInfo) clone() ModuleInfo {
	i.Imports = slices.Clone(i.Imports)
	i.Exports = slices.Clone(i.Exports)
	return i
}

// compile fills m from wasm, whose size and header Load has checked.
func (r *Runtime) compile(ctx context.Context, m *module, digest string, wasm []byte) error {
	if err := checkBounds(wasm); err != nil {
		return invalid("malformed module: "+err.Error(), err)
	}
	wasm = bytes.Clone(wasm) // wazero may keep slices of it; the caller may reuse its buffer
	if r.cfg.Transform != nil {
		t, err := r.cfg.Transform(wasm)
		if err != nil {
			return invalid("transform: "+firstLine(err.Error()), err)
		}
		wasm = t
	}
	if r.cfg.Metering {
		t, _, err := fuel.Instrument(wasm, *r.cfg.FuelOptions)
		if err != nil {
			return r.unmeterable(ctx, wasm, err)
		}
		wasm = t
		m.metered = true
	}
	cm, err := r.cmd.CompileModule(ctx, wasm)
	if err != nil {
		return invalid(firstLine(err.Error()), err)
	}
	release := func() { _ = cm.Close(context.Background()) }
	sh, err := parseShape(wasm)
	if err != nil {
		release()
		return invalid(err.Error(), err)
	}
	if err := r.checkImports(cm, sh); err != nil {
		release()
		return err
	}

	info := ModuleInfo{Digest: digest}
	for _, f := range cm.ImportedFunctions() {
		mod, name, _ := f.Import()
		info.Imports = append(info.Imports, mod+"."+name)
	}
	sort.Strings(info.Imports)
	info.Imports = slices.Compact(info.Imports)
	m.exports = cm.ExportedFunctions() // wazero builds the map on every call
	for name := range m.exports {
		if m.metered && name == fuel.ExportStart {
			m.start = true // not the module's own: the instrumentation's
			continue
		}
		info.Exports = append(info.Exports, name)
	}
	sort.Strings(info.Exports)
	info.ABI = InferABI(info)

	m.info = info
	m.memMinBytes = sh.memMinPages * wasmPage
	m.compiled = cm
	m.wasm = wasm
	if info.ABI == ABIExtism {
		if _, err := m.extismModule(ctx, r.extism); err != nil {
			release()
			return err
		}
	}
	return nil
}

// unmeterable explains why the fuel instrumenter refused wasm: wazero's reason when the module is not valid
// Wasm in the first place (the instrumenter does not type-check), else the instrumenter's.
func (r *Runtime) unmeterable(ctx context.Context, wasm []byte, ierr error) error {
	if cm, err := r.cmd.CompileModule(ctx, wasm); err != nil {
		return invalid(firstLine(err.Error()), err)
	} else {
		_ = cm.Close(ctx)
	}
	return invalid("cannot be metered: "+firstLine(ierr.Error()), ierr)
}

// checkImports refuses any import the host does not provide: every import must be a function of
// wasi_snapshot_preview1 or extism:host/env, with the host's signature.
func (r *Runtime) checkImports(cm wazero.CompiledModule, sh shape) error {
	for _, imp := range sh.imports {
		if imp.kind != kindFunc {
			return invalid(fmt.Sprintf("unsupported import %q: the host provides only functions", imp.module+"."+imp.name), nil)
		}
	}
	for _, f := range cm.ImportedFunctions() {
		mod, name, _ := f.Import()
		var want host.Signature
		var ok bool
		switch mod {
		case wasi_snapshot_preview1.ModuleName:
			if d, found := r.wasi[name]; found {
				want, ok = host.Signature{Params: d.ParamTypes(), Results: d.ResultTypes()}, true
			}
		case host.ExtismEnvModule:
			want, ok = host.ExtismEnv(name)
		}
		if !ok {
			return invalid(fmt.Sprintf("unknown import %q", mod+"."+name), nil)
		}
		got := host.Signature{Params: f.ParamTypes(), Results: f.ResultTypes()}
		if !slices.Equal(got.Params, want.Params) || !slices.Equal(got.Results, want.Results) {
			return invalid(fmt.Sprintf("import %q has signature %s, want %s", mod+"."+name, sigString(got), sigString(want)), nil)
		}
	}
	return nil
}

func sigString(s host.Signature) string {
	names := func(ts []api.ValueType) string {
		var parts []string
		for _, t := range ts {
			parts = append(parts, api.ValueTypeName(t))
		}
		return "(" + strings.Join(parts, ",") + ")"
	}
	return names(s.Params) + "->" + names(s.Results)
}

// extismModule returns m compiled by the Extism engine, compiling it on first use.
func (m *module) extismModule(ctx context.Context, e extismEngine) (extismModule, error) {
	m.extOnce.Do(func() {
		m.ext, m.extErr = e.compile(ctx, m.wasm, m.compiled)
		if m.extErr != nil {
			m.extErr = invalid(firstLine(m.extErr.Error()), m.extErr)
		}
		m.wasm = nil
	})
	return m.ext, m.extErr
}

// CheckABI reports whether a module can run under ABI a: a must be one the runtime has, and a WASI command may
// not import extism:host/env. The error wraps ErrUnknownABI.
func CheckABI(m ModuleInfo, a ABI) error {
	if !a.Valid() {
		if a == "" {
			return fmt.Errorf("module[%s]: abi cannot be inferred, name one: %w", m.Digest, ErrUnknownABI)
		}
		return fmt.Errorf("module[%s] abi[%s]: %w", m.Digest, a, ErrUnknownABI)
	}
	if a == ABIWASICommand {
		for _, imp := range m.Imports {
			if strings.HasPrefix(imp, host.ExtismEnvModule+".") {
				return fmt.Errorf("module[%s] abi[%s]: a wasi command cannot import %s: %w", m.Digest, a, imp, ErrUnknownABI)
			}
		}
	}
	return nil
}

// CheckEntry reports whether entry ("" for the ABI's default) of the Loaded module digest can be called under
// abi ("" for the inferred one): the ABI must fit the module (CheckABI) and the entry must be an exported
// function of the ABI's signature — () -> i32 or () -> () for Extism, () -> () for a WASI command. The error
// wraps ErrNotLoaded, ErrUnknownABI or ErrUnknownEntry. Invoke makes the same check.
func (r *Runtime) CheckEntry(ctx context.Context, digest string, abi ABI, entry string) error {
	m, err := r.loaded(ctx, digest)
	if err != nil {
		return err
	}
	if abi == "" {
		abi = m.info.ABI
	}
	if err := CheckABI(m.info, abi); err != nil {
		return err
	}
	if entry == "" {
		entry = defaultEntry(abi)
	}
	return m.checkEntry(abi, entry)
}

func (m *module) checkEntry(abi ABI, entry string) error {
	f, ok := m.exports[entry]
	if !ok || m.metered && entry == fuel.ExportStart {
		return fmt.Errorf("module[%s] entry[%s]: %w", m.info.Digest, entry, ErrUnknownEntry)
	}
	results := f.ResultTypes()
	okSig := len(f.ParamTypes()) == 0 && len(results) == 0
	if abi == ABIExtism && len(f.ParamTypes()) == 0 && len(results) == 1 && results[0] == api.ValueTypeI32 {
		okSig = true
	}
	if !okSig {
		got := sigString(host.Signature{Params: f.ParamTypes(), Results: results})
		want := "()->()"
		if abi == ABIExtism {
			want = "()->(i32)"
		}
		return fmt.Errorf("module[%s] entry[%s]: signature %s, want %s: %w", m.info.Digest, entry, got, want, ErrUnknownEntry)
	}
	return nil
}

// fillLimits returns l with its zero fields taken from d.
func fillLimits(l, d Limits) Limits {
	if l.Fuel == 0 {
		l.Fuel = d.Fuel
	}
	if l.MemoryBytes == 0 {
		l.MemoryBytes = d.MemoryBytes
	}
	if l.Timeout <= 0 {
		l.Timeout = d.Timeout
	}
	if l.MaxInputBytes <= 0 {
		l.MaxInputBytes = d.MaxInputBytes
	}
	if l.MaxOutputBytes <= 0 {
		l.MaxOutputBytes = d.MaxOutputBytes
	}
	if l.MaxHTTPRequests <= 0 {
		l.MaxHTTPRequests = d.MaxHTTPRequests
	}
	return l
}

// loaded returns the module Loaded under digest, waiting for a Load in progress.
func (r *Runtime) loaded(ctx context.Context, digest string) (*module, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrClosed
	}
	m, ok := r.modules[digest]
	r.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("module[%s]: %w", digest, ErrNotLoaded)
	}
	select {
	case <-m.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if m.err != nil {
		return nil, fmt.Errorf("module[%s]: %w", digest, ErrNotLoaded)
	}
	return m, nil
}

// Invoke runs one call in a fresh sandbox. Guest failures (tool errors, traps, limits) are in Result.Status; the
// error is for what is not the guest's doing: ErrNotLoaded, ErrUnknownABI, ErrUnknownEntry, ErrClosed, or a
// failure of the engine itself. A context canceled by the caller stops the call with Status timeout.
func (r *Runtime) Invoke(ctx context.Context, c Call) (Result, error) {
	start := time.Now()
	m, err := r.loaded(ctx, c.Module)
	if err != nil {
		return Result{}, err
	}
	abi := c.ABI
	if abi == "" {
		abi = m.info.ABI
	}
	if err := CheckABI(m.info, abi); err != nil {
		return Result{}, err
	}
	entry := c.Entry
	if entry == "" {
		entry = defaultEntry(abi)
	}
	if err := m.checkEntry(abi, entry); err != nil {
		return Result{}, err
	}
	var ext extismModule
	if abi == ABIExtism {
		if ext, err = m.extismModule(ctx, r.extism); err != nil {
			return Result{}, fmt.Errorf("module[%s]: %w", c.Module, err)
		}
	}
	lim := fillLimits(c.Limits, r.cfg.DefaultLimits)

	res := r.run(ctx, m, abi, ext, entry, c, lim)
	res.Wall = time.Since(start)
	return res, nil
}

// run enforces the limits around one engine call and classifies what happened.
func (r *Runtime) run(ctx context.Context, m *module, abi ABI, ext extismModule, entry string, c Call, lim Limits) Result {
	if n := int64(len(c.Input)); n > lim.MaxInputBytes {
		return Result{Status: receipts.StatusInputTooLarge,
			Error: fmt.Sprintf("input is %d bytes, over the limit of %d", n, lim.MaxInputBytes)}
	}
	need := m.memMinBytes
	if abi == ABIExtism {
		need += r.extism.baseMemoryBytes()
	}
	if need > lim.MemoryBytes {
		return Result{Status: receipts.StatusMemoryLimit,
			Error: fmt.Sprintf("module needs %d bytes of memory to start, over the limit of %d", need, lim.MemoryBytes)}
	}

	mem := newMemLimiter(lim.MemoryBytes)
	var callCtx context.Context
	if m.metered && r.cfg.Metering {
		// Fuel bounds the guest, so nothing waits on the deadline but the network door, which arms its own
		// timer: spare every call a timer of its own.
		callCtx = &deadlineCtx{Context: ctx, deadline: time.Now().Add(lim.Timeout)}
	} else {
		var cancel context.CancelFunc
		callCtx, cancel = context.WithTimeout(ctx, lim.Timeout)
		defer cancel()
	}
	callCtx = experimental.WithMemoryAllocator(callCtx, mem)
	deadline, _ := callCtx.Deadline()
	sc := &sandboxCall{
		entry:     entry,
		input:     c.Input,
		config:    c.Config,
		mem:       mem,
		logs:      host.NewLogRecorder(r.cfg.MaxLogLines, 0),
		stdout:    &cappedBuffer{max: int(lim.MaxOutputBytes), failOver: true},
		stderr:    &cappedBuffer{max: DefaultMaxStderrBytes},
		maxOutput: lim.MaxOutputBytes,
		door:      r.cfg.Door,
		policy:    c.Policy,
		secrets:   c.Secrets,
		deadline:  deadline,
	}
	if m.metered {
		sc.meter = &meter{budget: lim.Fuel, start: m.start, depth: r.cfg.FuelOptions.MaxCallDepth}
	}
	if sc.config == nil {
		sc.config = map[string]string{}
	}

	r.sandboxes.Add(1)
	var out outcome
	switch abi {
	case ABIExtism:
		out = ext.run(callCtx, sc)
	case ABIWASICommand:
		out = r.runCommand(callCtx, m.compiled, sc)
	}

	mem.release()

	res := classify(ctx, callCtx, abi, out, sc, mem, lim)
	res.PeakMemoryBytes = mem.peakBytes()
	res.Logs = sc.logs.Lines()
	res.LogCount = sc.logs.Count()
	res.HTTP = out.http
	res.Secrets = out.secrets
	res.Fuel = out.fuel
	return res
}

// deadlineCtx carries a deadline without a timer: Done is the parent's, Err reports the deadline once it has
// passed. For code that checks the deadline (Err, Deadline) rather than waits on Done. A child made with
// context.WithDeadline arms its own timer only for a deadline earlier than this one, so whatever waits on the
// call's deadline must derive it with exactly this deadline or an earlier one: the network door does
// (host.CallDoor.Do, with sandboxCall.deadline).
type deadlineCtx struct {
	context.Context
	deadline time.Time
}

func (c *deadlineCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *deadlineCtx) Err() error {
	if err := c.Context.Err(); err != nil {
		return err
	}
	if !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}
