package runtime

import (
	"errors"
)

// Errors returned by Runtime. Guest failures are not errors: they are a Result's Status.
var (
	// ErrNotLoaded: Invoke was given a digest that was not Loaded into this Runtime. Load the bytes and retry.
	ErrNotLoaded = errors.New("module not loaded")
	// ErrInvalidModule: Load refused the bytes. The error is a *ModuleError whose Reason says why.
	ErrInvalidModule = errors.New("invalid module")
	// ErrModuleTooLarge: Load was given more than Config.MaxModuleBytes. The error is a *ModuleError that also
	// matches ErrInvalidModule, so test for this one first.
	ErrModuleTooLarge = errors.New("module too large")
	// ErrUnknownABI: a Call named an ABI the runtime does not have, or left it empty for a module whose ABI
	// cannot be inferred.
	ErrUnknownABI = errors.New("unknown or ambiguous abi")
	// ErrUnknownEntry: a Call's entry point is not a function the module exports with the ABI's signature.
	ErrUnknownEntry = errors.New("entry point not exported or not callable")
	// ErrClosed: the Runtime was closed.
	ErrClosed = errors.New("runtime closed")
)

// ModuleError is why Load refused a module. It matches ErrInvalidModule with errors.Is, and also Err when set
// (ErrModuleTooLarge, or the underlying decode error).
type ModuleError struct {
	// Reason is safe to show to the uploader, e.g. `unknown import "env.nope"` or "module too large: …".
	Reason string
	// Err is the more specific cause, or nil.
	Err error
}

func (e *ModuleError) Error() string { return "invalid module: " + e.Reason }

// Is makes every ModuleError match ErrInvalidModule.
func (e *ModuleError) Is(target error) bool { return target == ErrInvalidModule }

// Unwrap returns the specific cause, if any.
func (e *ModuleError) Unwrap() error { return e.Err }

func invalid(format string, err error) *ModuleError {
	return &ModuleError{Reason: format, Err: err}
}
