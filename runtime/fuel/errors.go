package fuel

import (
	"errors"
	"fmt"
)

// Errors returned by Decode and Instrument, wrapped in an *Error that says where. Test with errors.Is.
var (
	// ErrNotWasm means the input does not start with the Wasm magic and version 1.
	ErrNotWasm = errors.New("not a wasm binary module (bad magic or version)")
	// ErrTruncated means the input ends inside a section, vector, body or immediate.
	ErrTruncated = errors.New("unexpected end of input")
	// ErrMalformedLEB means a LEB128 number is too long or has bits set past its type's width.
	ErrMalformedLEB = errors.New("malformed leb128 number")
	// ErrMalformed means the bytes break the binary format: a bad section order, a count larger than the bytes
	// that follow, a size that does not match its content, a bad type or control structure.
	ErrMalformed = errors.New("malformed module")
	// ErrUnknownOpcode means an opcode outside Wasm 2.0 (whose immediates the scanner cannot know).
	ErrUnknownOpcode = errors.New("unknown opcode")
	// ErrUnsupported means a valid construct of a proposal past Wasm 2.0 that the rewriter does not handle:
	// memory64, tail calls, threads, exception handling, GC types.
	ErrUnsupported = errors.New("unsupported feature")
	// ErrLimit means an implementation limit (nesting depth, local count) was exceeded.
	ErrLimit = errors.New("implementation limit exceeded")
	// ErrNameConflict means the module already exports a name the instrumentation needs.
	ErrNameConflict = errors.New("export name reserved for fuel metering")
	// ErrInvalidOptions means Options that cannot be applied (a rate that is not a power of two, a cost on end/else).
	ErrInvalidOptions = errors.New("invalid fuel options")
)

// Error locates a decoding or instrumentation failure: the byte offset in the input module, and the section and
// defined-function index when known (Func is -1 outside the code section).
type Error struct {
	Offset  int
	Section string
	Func    int
	Err     error
}

func (e *Error) Error() string {
	if e.Func >= 0 {
		return fmt.Sprintf("fuel: offset[%#x] section[%s] func[%d]: %v", e.Offset, e.Section, e.Func, e.Err)
	}
	if e.Section != "" {
		return fmt.Sprintf("fuel: offset[%#x] section[%s]: %v", e.Offset, e.Section, e.Err)
	}
	return fmt.Sprintf("fuel: offset[%#x]: %v", e.Offset, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

func errorf(err error, format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, err)...)
}
