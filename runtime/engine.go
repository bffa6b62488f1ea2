package runtime

import (
	"context"

	"github.com/toolgate/toolgate/host"
	"github.com/toolgate/toolgate/receipts"
)

// extismEngine compiles and runs modules under the Extism ABI. The Extism Go SDK engine (engine_sdk.go) is the
// reference; a native engine on raw wazero will implement the same interface and be chosen by Config.Engine.
type extismEngine interface {
	// compile compiles a validated module. The result is shared by concurrent calls.
	compile(ctx context.Context, wasm []byte) (extismModule, error)
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
}

// outcome is an engine's account of one call, before classify turns it into a status.
type outcome struct {
	// status, when set, is decided by the engine before the guest ran (e.g. memory_limit at instantiation),
	// with message.
	status, message string

	output   []byte // what the guest returned (Extism) — a WASI command's output is sc.stdout
	rc       uint32 // the entry's return code (Extism) or the exit code (WASI command)
	guestErr string // the message the guest set with error_set (Extism)
	err      error  // the guest did not finish: trap, exit, host-function panic, or closed by its context
	http     []receipts.HTTPLine
}
