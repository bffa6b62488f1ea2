package runtime

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"

	extism "github.com/extism/go-sdk"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/toolgate/toolgate/receipts"
)

// sdkKernelPages is the initial size of the Extism SDK's kernel memory (extism-runtime.wasm of go-sdk v1.7.1),
// instantiated beside every guest.
const sdkKernelPages = 16

// sdkLogLevel is set once per process: the SDK keeps its log level in a global. Info and above are captured;
// trace and debug lines are dropped, because the SDK logs its own debug and trace lines through the same
// callback (and to the standard logger before an instance has one).
var sdkLogLevel sync.Once

// sdkEngine is the extismEngine built on github.com/extism/go-sdk.
//
// With metering it runs the same instrumented code as the native engine under the same budget, so the fuel of
// a call is the same on both. The SDK instantiates the guest itself and gives no access to the instance; a
// function listener on the guest's exported functions (compiled in only when metering) sees the instance at the
// first call the SDK makes into it (_initialize or the entry) and sets the budget there, before any guest code
// runs, and runs the deferred start function first.
type sdkEngine struct {
	config   wazero.RuntimeConfig // the runtime's, for every SDK runtime: they share its compilation cache
	metering bool
}

var _ extismEngine = (*sdkEngine)(nil)

func newSDKEngine(config wazero.RuntimeConfig, metering bool) *sdkEngine {
	sdkLogLevel.Do(func() { extism.SetLogLevel(extism.LogLevelInfo) })
	return &sdkEngine{config: config, metering: metering}
}

func (e *sdkEngine) baseMemoryBytes() uint64 { return sdkKernelPages * wasmPage }

func (e *sdkEngine) name() string { return EngineExtismSDK }

// compile builds the SDK's compiled plugin from bytes in a manifest made here: a user-supplied Extism manifest
// is never decoded (it can name files and URLs). No allowed hosts or paths: the network and filesystem stay shut.
func (e *sdkEngine) compile(ctx context.Context, wasm []byte, _ wazero.CompiledModule) (extismModule, error) {
	if e.metering {
		ctx = experimental.WithFunctionListenerFactory(ctx, sdkMeterListener{})
	}
	cp, err := extism.NewCompiledPlugin(ctx,
		extism.Manifest{Wasm: []extism.Wasm{extism.WasmData{Data: wasm}}},
		extism.PluginConfig{RuntimeConfig: e.config, EnableWasi: true},
		nil)
	if err != nil {
		return nil, fmt.Errorf("extism-sdk: %w", err)
	}
	return &sdkModule{cp: cp}, nil
}

type sdkModule struct {
	cp *extism.CompiledPlugin
}

func (m *sdkModule) close(ctx context.Context) error { return m.cp.Close(ctx) }

func (m *sdkModule) run(ctx context.Context, sc *sandboxCall) (out outcome) {
	// WASI: no args, no environment, no filesystem, empty stdin, stdout discarded, stderr kept for crash
	// messages, wazero's fake clocks and deterministic random.
	mc := wazero.NewModuleConfig().WithStderr(sc.stderr)
	p, err := m.cp.Instance(ctx, extism.PluginInstanceConfig{ModuleConfig: mc})
	if err != nil {
		return outcome{err: err}
	}
	defer p.Close(context.Background())
	if sc.mem.wasRefused() {
		return outcome{status: receipts.StatusMemoryLimit, message: "memory limit reached while instantiating"}
	}
	p.Config = sc.config
	p.SetLogger(func(level extism.LogLevel, msg string) { sc.logs.Log(strings.ToLower(level.String()), msg) })

	// The SDK silently hands the guest an empty input when the kernel cannot allocate it; deliver it once here
	// to find out (CallWithContext resets the kernel and delivers it again into the same space).
	if _, err := p.SetInputWithContext(ctx, sc.input); err != nil {
		return outcome{err: err}
	}
	if sc.mem.wasRefused() {
		return outcome{status: receipts.StatusMemoryLimit, message: "the input does not fit in the memory limit"}
	}

	if sc.meter != nil {
		ms := &sdkMeterState{m: sc.meter}
		ctx = context.WithValue(ctx, sdkMeterKey{}, ms)
		defer func() { ms.run.finish(ms.mod, &out) }()
	}
	rc, output, err := p.CallWithContext(ctx, sc.entry, sc.input)
	out = outcome{rc: rc, output: output}
	if err == nil {
		return out
	}
	var exit *sys.ExitError
	switch {
	case errors.As(err, &exit) && exit.ExitCode() != sys.ExitCodeDeadlineExceeded && exit.ExitCode() != sys.ExitCodeContextCanceled:
		out.err = err // a crash, e.g. the Go runtime exiting on a fatal error
	case isGuestError(p, err):
		out.guestErr = err.Error()
	default:
		if line, ok := deniedHTTP(err); ok {
			out.http = append(out.http, line)
			out.err = fmt.Errorf("network request to %s denied: %s", line.Host, line.Reason)
		} else {
			out.err = err
		}
	}
	return out
}

// isGuestError reports whether err, returned by CallWithContext, is the guest's own error_set message rather
// than a trap (the SDK returns both as plain errors).
func isGuestError(p *extism.Plugin, err error) bool {
	msg := p.GetErrorWithContext(context.Background())
	return msg != "" && msg == err.Error()
}

// deniedRE matches the SDK's panic for a request to a host not in AllowedHosts (go-sdk v1.7.1 host.go).
var deniedRE = regexp.MustCompile(`HTTP request to '([^']*)' is not allowed`)

// deniedHTTP recognizes a request the SDK refused and describes it as a receipt line. The SDK reports only the
// URL, so the method is unknown.
func deniedHTTP(err error) (receipts.HTTPLine, bool) {
	m := deniedRE.FindStringSubmatch(err.Error())
	if m == nil {
		return receipts.HTTPLine{}, false
	}
	line := receipts.HTTPLine{Decision: "denied", Reason: "no network grant"}
	if u, perr := url.Parse(m[1]); perr == nil {
		line.Host, line.Path = u.Hostname(), u.EscapedPath()
	}
	return line, true
}

// sdkMeterKey is the context key of a metered call's *sdkMeterState.
type sdkMeterKey struct{}

// sdkMeterState binds a call's meter to the guest instance the SDK made.
type sdkMeterState struct {
	m   *meter
	run *meterRun
	mod api.Module
}

// sdkMeterListener is compiled into the exported functions of every module the metering SDK engine compiles
// (the SDK's kernel too, which has no fuel global and is passed over).
type sdkMeterListener struct{}

func (sdkMeterListener) NewFunctionListener(def api.FunctionDefinition) experimental.FunctionListener {
	if len(def.ExportNames()) == 0 {
		return nil
	}
	return sdkMeterListener{}
}

// Before binds the budget at the first call into the guest, and runs the deferred start function.
func (sdkMeterListener) Before(ctx context.Context, mod api.Module, _ api.FunctionDefinition, _ []uint64, _ experimental.StackIterator) {
	st, ok := ctx.Value(sdkMeterKey{}).(*sdkMeterState)
	if !ok || st.run != nil {
		return
	}
	if st.run = st.m.bind(mod); st.run == nil {
		return
	}
	st.mod = mod
	if err := st.run.runStart(ctx, mod); err != nil {
		panic(err)
	}
}

func (sdkMeterListener) After(context.Context, api.Module, api.FunctionDefinition, []uint64) {}

func (sdkMeterListener) Abort(context.Context, api.Module, api.FunctionDefinition, error) {}
