package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/toolgate/toolgate/host"
	"github.com/toolgate/toolgate/receipts"
)

// nativeEngine is the default extismEngine: the Extism ABI implemented by Toolgate on raw wazero. Module
// "extism:host/env" is a host module of Go functions, instantiated once per runtime beside WASI, over a kernel
// (kernel.go) that lives in Go for the length of one call; the guest is the only Wasm instance a call makes,
// instantiated fresh from the runtime's compiled module. A call's state reaches the host functions through the
// call's context (nativeKey), never through the shared host module. Its http_request is Toolgate's network door.
//
// Semantics are the Extism Go SDK v1.7.1's, down to offsets, bounds checks and error texts, except where the
// SDK is wrong for Toolgate (see engineDifferences in the differential test): outbound HTTP goes through the
// call's host.CallDoor, and a request the door refuses is answered, not trapped; http_headers answers the last
// response's headers.
type nativeEngine struct {
	rt   wazero.Runtime      // the runtime's wazero runtime, which holds the host modules
	base wazero.ModuleConfig // anonymous, no start functions: the engine calls them itself
	deny *host.Door          // answers for runtimes without a door: it is given no grants
}

var _ extismEngine = (*nativeEngine)(nil)

// nativeKey is the context key of a call's *nativeCall.
type nativeKey struct{}

// newNativeEngine instantiates module "extism:host/env" in rt.
func newNativeEngine(ctx context.Context, rt wazero.Runtime) (*nativeEngine, error) {
	deny, err := host.NewDoor(host.DoorConfig{})
	if err != nil {
		return nil, err
	}
	b := rt.NewHostModuleBuilder(host.ExtismEnvModule)
	for _, name := range host.ExtismEnvNames() {
		f, ok := nativeEnv[name]
		if !ok {
			return nil, fmt.Errorf("native engine: no implementation of %s.%s", host.ExtismEnvModule, name)
		}
		sig, _ := host.ExtismEnv(name)
		b.NewFunctionBuilder().WithGoFunction(f, sig.Params, sig.Results).WithName(name).Export(name)
	}
	if _, err := b.Instantiate(ctx); err != nil {
		return nil, fmt.Errorf("native engine: %w", err)
	}
	// The base configuration's random source is read by no one (a module that imports WASI gets its own); it
	// only spares wazero seeding a math/rand source for every instance.
	base := wazero.NewModuleConfig().WithName("").WithStartFunctions().WithRandSource(unread{})
	return &nativeEngine{rt: rt, base: base, deny: deny}, nil
}

func (e *nativeEngine) baseMemoryBytes() uint64 { return 0 }

func (e *nativeEngine) name() string { return EngineNative }

// compile finds what the guest needs run before its entry, as the SDK does: a Haskell runtime (hs_init, after
// _initialize if there is one), a WASI reactor (_initialize) or a command's constructors (__wasm_call_ctors).
// The code is the runtime's compiled module, shared.
func (e *nativeEngine) compile(_ context.Context, _ []byte, cm wazero.CompiledModule) (extismModule, error) {
	m := &nativeModule{e: e, cm: cm}
	for _, f := range cm.ImportedFunctions() {
		if mod, _, _ := f.Import(); mod == wasi_snapshot_preview1.ModuleName {
			m.wasi = true
		}
	}
	exports := cm.ExportedFunctions()
	noParams := func(name string) bool {
		f, ok := exports[name]
		return ok && len(f.ParamTypes()) == 0
	}
	switch {
	case exports["hs_init"] != nil:
		m.haskell = true
		m.hsReactor = exports["_initialize"] != nil
	case noParams("_initialize"):
		m.init = "_initialize"
	case noParams("__wasm_call_ctors"):
		m.init = "__wasm_call_ctors"
	}
	return m, nil
}

type nativeModule struct {
	e  *nativeEngine
	cm wazero.CompiledModule // owned by the runtime
	// What runs before the entry.
	init      string
	haskell   bool
	hsReactor bool // a Haskell module's _initialize
	// wasi: the module imports WASI, so its instance needs the call's stderr and random source; other modules
	// are instantiated with the engine's base configuration as is.
	wasi bool
}

func (m *nativeModule) close(context.Context) error { return nil }

// nativeCall is the state of one call that the host functions reach through the context.
type nativeCall struct {
	e   *nativeEngine
	sc  *sandboxCall
	k   kernel
	rnd detRand

	vars        map[string][]byte
	door        *host.CallDoor
	lastStatus  int32
	lastHeaders map[string]string
}

// stateCtx is a call's context with its state: a host function finds it with one type assertion (wazero hands
// host functions the context the call was made with) instead of a walk of context values.
type stateCtx struct {
	context.Context
	st *nativeCall
}

func (c *stateCtx) Value(key any) any {
	if _, ok := key.(nativeKey); ok {
		return c.st
	}
	return c.Context.Value(key)
}

func callState(ctx context.Context) *nativeCall {
	if c, ok := ctx.(*stateCtx); ok {
		return c.st
	}
	return ctx.Value(nativeKey{}).(*nativeCall)
}

// run runs one call in a fresh instance, in the order of the SDK's Instance, SetInput and Call.
func (m *nativeModule) run(ctx context.Context, sc *sandboxCall) (out outcome) {
	st := &nativeCall{e: m.e, sc: sc}
	st.k.reset(sc.mem)
	defer st.k.release()
	if !st.k.setInput(sc.input) {
		return outcome{status: receipts.StatusMemoryLimit, message: "the input does not fit in the memory limit"}
	}
	ctx = &stateCtx{Context: ctx, st: st}
	defer st.closeDoor(&out)

	mc := m.e.base
	if m.wasi {
		mc = mc.WithStderr(sc.stderr).WithRandSource(&st.rnd)
	}
	mod, err := m.e.rt.InstantiateModule(ctx, m.cm, mc)
	if sc.mem.wasRefused() {
		if mod != nil {
			_ = mod.Close(context.Background())
		}
		return outcome{status: receipts.StatusMemoryLimit, message: "memory limit reached while instantiating"}
	}
	if err != nil {
		return outcome{err: err}
	}
	defer mod.Close(context.Background())
	g := sc.meter.bind(mod)
	defer g.finish(mod, &out)

	if err := g.runStart(ctx, mod); err != nil {
		return outcome{rc: 1, err: err}
	}
	if sc.entry != "_start" && sc.entry != "_initialize" {
		if err := m.initGuest(ctx, mod, st); err != nil {
			return outcome{rc: 1, err: fmt.Errorf("failed to initialize runtime: %v", err)}
		}
	}

	res, err := mod.ExportedFunction(sc.entry).Call(ctx)
	if exit, ok := err.(*sys.ExitError); ok { // the SDK's test: only an exit error returned as is
		if exit.ExitCode() == 0 {
			err = nil
		}
		if len(res) == 0 {
			res = []uint64{uint64(exit.ExitCode())}
		}
	}
	switch {
	case len(res) > 0:
		out.rc = uint32(res[0])
	case err != nil:
		out.rc = 1
	}
	if err != nil {
		out.err = err
		return out
	}
	if out.guestErr = st.k.message(st.k.reg(kRootError)); out.guestErr != "" {
		return out
	}
	out.output, out.outputLen = st.k.output(sc.maxOutput)
	return out
}

// initGuest runs what the guest's runtime needs before its entry.
func (m *nativeModule) initGuest(ctx context.Context, mod api.Module, st *nativeCall) error {
	if m.haskell {
		if m.hsReactor {
			if _, err := mod.ExportedFunction("_initialize").Call(ctx); err != nil {
				st.sc.logs.Log("error", "Error running reactor _initialize: "+err.Error())
			}
		}
		_, err := mod.ExportedFunction("hs_init").Call(ctx, 0, 0)
		return err
	}
	if m.init != "" {
		_, err := mod.ExportedFunction(m.init).Call(ctx)
		return err
	}
	return nil
}

// closeDoor puts the call's network attempts and secret uses into out, and forgets the secret values.
func (st *nativeCall) closeDoor(out *outcome) {
	if st.door == nil {
		return
	}
	out.http = st.door.Lines()
	out.secrets = st.door.SecretUses()
	st.door.Close()
}

// callDoor opens the call's door on first use.
func (st *nativeCall) callDoor() *host.CallDoor {
	if st.door == nil {
		sc := st.sc
		if sc.door != nil {
			st.door = sc.door.NewCall(sc.policy, sc.secrets, sc.deadline)
		} else {
			st.door = st.e.deny.NewCall(host.Policy{MaxRequests: sc.policy.MaxRequests}, nil, sc.deadline)
		}
	}
	return st.door
}

// SDK log levels: the SDK engine captures info and above, so guest lines below are dropped as the SDK drops them.
const (
	logTrace = iota + 1
	logDebug
	logInfo
	logWarn
	logError
	capturedLogLevel = logInfo
	// extismLogLevel is what get_log_level answers: Extism's number for info.
	extismLogLevel = 2
)

var logLevelNames = [...]string{logTrace: "trace", logDebug: "debug", logInfo: "info", logWarn: "warn", logError: "error"}

// nativeEnv implements every function of host.ExtismEnv. Offsets are the kernel's, as the SDK has them.
var nativeEnv = map[string]api.GoFunction{
	"alloc":  api.GoFunc(func(ctx context.Context, s []uint64) { s[0] = callState(ctx).k.alloc(s[0]) }),
	"free":   api.GoFunc(func(ctx context.Context, s []uint64) { callState(ctx).k.free(s[0]) }),
	"length": api.GoFunc(func(ctx context.Context, s []uint64) { s[0] = callState(ctx).k.length(s[0]) }),
	"length_unsafe": api.GoFunc(func(ctx context.Context, s []uint64) {
		s[0] = callState(ctx).k.lengthUnsafe(s[0])
	}),
	"load_u8":   api.GoFunc(func(ctx context.Context, s []uint64) { s[0] = uint64(callState(ctx).k.loadU8(s[0])) }),
	"load_u64":  api.GoFunc(func(ctx context.Context, s []uint64) { s[0] = callState(ctx).k.sdkLoadU64(s[0]) }),
	"store_u8":  api.GoFunc(func(ctx context.Context, s []uint64) { callState(ctx).k.storeU8(s[0], byte(s[1])) }),
	"store_u64": api.GoFunc(func(ctx context.Context, s []uint64) { callState(ctx).k.sdkStoreU64(s[0], s[1]) }),
	"input_length": api.GoFunc(func(ctx context.Context, s []uint64) {
		s[0] = callState(ctx).k.reg(kRootInputLength)
	}),
	"input_offset": api.GoFunc(func(ctx context.Context, s []uint64) {
		s[0] = callState(ctx).k.reg(kRootInputOffset)
	}),
	"input_load_u8": api.GoFunc(func(ctx context.Context, s []uint64) {
		s[0] = uint64(callState(ctx).k.inputLoadU8(s[0]))
	}),
	"input_load_u64": api.GoFunc(func(ctx context.Context, s []uint64) {
		s[0] = callState(ctx).k.sdkInputLoadU64(s[0])
	}),
	"input_set": api.GoFunc(func(ctx context.Context, s []uint64) { callState(ctx).k.inputSet(s[0], s[1]) }),
	"output_length": api.GoFunc(func(ctx context.Context, s []uint64) {
		s[0] = callState(ctx).k.reg(kRootOutputLength)
	}),
	"output_offset": api.GoFunc(func(ctx context.Context, s []uint64) {
		s[0] = callState(ctx).k.reg(kRootOutputOffset)
	}),
	"output_set":   api.GoFunc(func(ctx context.Context, s []uint64) { callState(ctx).k.outputSet(s[0], s[1]) }),
	"reset":        api.GoFunc(func(ctx context.Context, s []uint64) { callState(ctx).k.kreset() }),
	"error_set":    api.GoFunc(func(ctx context.Context, s []uint64) { callState(ctx).k.errorSet(s[0]) }),
	"error_get":    api.GoFunc(func(ctx context.Context, s []uint64) { s[0] = callState(ctx).k.reg(kRootError) }),
	"memory_bytes": api.GoFunc(func(ctx context.Context, s []uint64) { s[0] = callState(ctx).k.reg(kRootLength) }),
	"config_get":   api.GoFunc(configGet),
	"var_get":      api.GoFunc(varGet),
	"var_set":      api.GoFunc(varSet),
	"http_request": api.GoFunc(httpRequest),
	"http_status_code": api.GoFunc(func(ctx context.Context, s []uint64) {
		s[0] = uint64(uint32(callState(ctx).lastStatus))
	}),
	"http_headers":  api.GoFunc(httpHeaders),
	"get_log_level": api.GoFunc(func(_ context.Context, s []uint64) { s[0] = extismLogLevel }),
	"log_trace":     logFunc(logTrace),
	"log_debug":     logFunc(logDebug),
	"log_info":      logFunc(logInfo),
	"log_warn":      logFunc(logWarn),
	"log_error":     logFunc(logError),
}

func configGet(ctx context.Context, s []uint64) {
	st := callState(ctx)
	name, err := st.k.readBytes(s[0])
	if err != nil {
		panic(fmt.Errorf("failed to read config name from memory: %v", err))
	}
	value, ok := st.sc.config[string(name)]
	if !ok {
		s[0] = 0
		return
	}
	if s[0], err = st.k.writeBytes([]byte(value)); err != nil {
		panic(fmt.Errorf("failed to write config value to memory: %v", err))
	}
}

// maxVarBytes is the SDK's default cap on a plugin's vars, counted as the SDK counts them.
const (
	maxVarBytes    = 1 << 20
	varEntryExtras = 40 // unsafe.Sizeof([]byte{}) + unsafe.Sizeof("") on 64-bit, as the SDK adds per entry
)

func varGet(ctx context.Context, s []uint64) {
	st := callState(ctx)
	name, err := st.k.readBytes(s[0])
	if err != nil {
		panic(fmt.Errorf("failed to read var name from memory: %v", err))
	}
	st.k.free(s[0])
	value, ok := st.vars[string(name)]
	if !ok {
		s[0] = 0
		return
	}
	if s[0], err = st.k.writeBytes(value); err != nil {
		panic(fmt.Errorf("failed to write var value to memory: %v", err))
	}
}

func varSet(ctx context.Context, s []uint64) {
	st := callState(ctx)
	nameOff, valueOff := s[0], s[1]
	name, err := st.k.readBytes(nameOff)
	if err != nil {
		panic(fmt.Errorf("failed to read var name from memory: %v", err))
	}
	st.k.free(nameOff)
	if valueOff == 0 {
		delete(st.vars, string(name))
		return
	}
	value, err := st.k.readBytes(valueOff)
	if err != nil {
		panic(fmt.Errorf("failed to read var value from memory: %v", err))
	}
	st.k.free(valueOff)
	size := varEntryExtras + len(name) + len(value)
	for k, v := range st.vars {
		size += len(k) + len(v) + varEntryExtras
	}
	if size >= maxVarBytes {
		panic("Variable store is full")
	}
	if st.vars == nil {
		st.vars = map[string][]byte{}
	}
	st.vars[string(name)] = value
}

// httpRequest is the network door: the request the guest wrote as the SDK reads it, sent through the call's
// host.CallDoor. A request the door refuses or cannot complete is answered with host.FailureResponse, an HTTP
// failure the guest can handle, never a trap.
func httpRequest(ctx context.Context, s []uint64) {
	st := callState(ctx)
	st.lastStatus = 0
	st.lastHeaders = nil
	raw, err := st.k.readBytes(s[0])
	if err != nil {
		panic(fmt.Errorf("failed to read http request from memory: %v", err))
	}
	var req struct { // the SDK's HttpRequest: field names matched without regard to case
		Url     string
		Headers map[string]string
		Method  string
	}
	err = json.Unmarshal(raw, &req)
	st.k.free(s[0])
	if err != nil {
		panic(fmt.Errorf("invalid http request: %v", err))
	}
	if req.Method == "" {
		req.Method = "GET"
	}
	req.Method = strings.ToUpper(req.Method)
	var body []byte
	if s[1] != 0 {
		if body, err = st.k.readBytes(s[1]); err != nil {
			panic("failed to read response body from memory") // sic: the SDK's text for the request body
		}
		st.k.free(s[1])
	}
	resp, err := st.callDoor().Do(ctx, host.Request{Method: req.Method, URL: req.Url, Header: req.Headers, Body: body})
	if err != nil {
		resp = host.FailureResponse(err)
	}
	st.lastStatus = int32(resp.Status)
	st.lastHeaders = resp.Header
	if st.lastHeaders == nil {
		st.lastHeaders = map[string]string{}
	}
	if len(resp.Body) == 0 {
		s[0] = 0
		return
	}
	if s[0], err = st.k.writeBytes(resp.Body); err != nil {
		panic("Failed to write resposne body to memory") // sic
	}
}

// httpHeaders answers the last response's headers as a JSON object (names in lowercase), or 0 before any.
func httpHeaders(ctx context.Context, s []uint64) {
	st := callState(ctx)
	if st.lastHeaders == nil {
		s[0] = 0
		return
	}
	b, err := json.Marshal(st.lastHeaders)
	if err != nil {
		panic(err)
	}
	if s[0], err = st.k.writeBytes(b); err != nil {
		panic(err)
	}
}

func logFunc(level int) api.GoFunction {
	return api.GoFunc(func(ctx context.Context, s []uint64) {
		st := callState(ctx)
		if level < capturedLogLevel {
			st.k.free(s[0])
			return
		}
		msg, err := st.k.readBytes(s[0])
		if err != nil {
			panic(fmt.Errorf("failed to read log message from memory: %v", err))
		}
		st.sc.logs.Log(logLevelNames[level], string(msg))
		st.k.free(s[0])
	})
}

// unread is a random source for instances that cannot read one (they do not import WASI).
type unread struct{}

func (unread) Read([]byte) (int, error) { return 0, errors.New("no random source") }
