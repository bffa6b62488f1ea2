package runtime

import (
	"context"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/toolgate/toolgate/host"
	"github.com/toolgate/toolgate/receipts"
)

// extismEngine compiles and runs modules under the Extism ABI, chosen by Config.Engine: the native engine
// (engine_native.go, the default) or the Extism Go SDK (engine_sdk.go, the reference).
type extismEngine interface {
	// compile prepares a validated module: wasm are the bytes to run (fuel-instrumented when the runtime
	// meters) and cm the runtime's own compilation of them, which an engine may share but does not own. The
	// result is shared by concurrent calls.
	compile(ctx context.Context, wasm []byte, cm wazero.CompiledModule) (extismModule, error)
	// name is the engine's Config.Engine name.
	name() string
	// baseMemoryBytes is the linear memory every call of this engine takes besides the guest's own (the SDK's
	// kernel), counted against the call's memory cap.
	baseMemoryBytes() uint64
}

// extismModule is a module compiled by an extismEngine.
type extismModule interface {
	// run runs sc in a fresh instance that it closes before returning. ctx carries the call's deadline and its
	// memory allocator.
	run(ctx context.Context, sc *sandboxCall) outcome
	close(ctx context.Context) error
}

// sandboxCall is what an engine gets for one call.
type sandboxCall struct {
	entry  string
	input  []byte
	config map[string]string
	mem    *memLimiter // the call's memory budget, also in the call's context as its allocator
	logs   *host.LogRecorder
	stdout *cappedBuffer // capped at the call's MaxOutputBytes; a WASI command's output
	stderr *cappedBuffer
	// maxOutput is the call's MaxOutputBytes: an engine need not copy a larger output.
	maxOutput int64
	// The network door: the runtime's door (nil: none), the call's policy and secrets, and the call's end.
	door     *host.Door
	policy   host.Policy
	secrets  host.SecretSource
	deadline time.Time
	// meter sets and reads the fuel of a metered module's instance; nil for a module that is not metered.
	meter *meter
}

// outcome is an engine's account of one call, before classify turns it into a status.
type outcome struct {
	// status, when set, is decided by the engine before the guest ran (e.g. memory_limit at instantiation),
	// with message.
	status, message string

	output []byte // what the guest returned (Extism) — a WASI command's output is sc.stdout
	// outputLen is the length of an output too large to copy (over the call's cap), with output nil.
	outputLen uint64
	rc        uint32 // the entry's return code (Extism) or the exit code (WASI command)
	guestErr  string // the message the guest set with error_set (Extism)
	err       error  // the guest did not finish: trap, exit, host-function panic, or closed by its context
	http      []receipts.HTTPLine
	secrets   map[string]string // secret name → use, from the network door
	fuel      *receipts.Fuel    // the metered call's fuel, with outOfFuel when it ran out
	// outOfFuel and depthExceeded: the guest trapped because a fuel charge failed or a call went past the call
	// depth bound (runtime/fuel's exhausted flag).
	outOfFuel, depthExceeded bool
}
