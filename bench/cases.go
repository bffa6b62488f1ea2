package bench

import (
	_ "embed"
	"errors"

	"github.com/toolgate/toolgate/plugins"
)

// Sentinel errors.
var (
	// ErrOutput means a call returned something other than its case's expected output.
	ErrOutput = errors.New("unexpected output")
	// ErrGuest means the guest reported failure: a non-zero return code or an error it set.
	ErrGuest = errors.New("guest failed")
)

//go:embed testdata/nop.wasm
var nopWasm []byte

// Input is the input of every case: hello reads it, echo returns it, nop ignores it. Its 14 bytes make echo
// take one 8-byte and six 1-byte host-call round trips each way.
var Input = []byte(`{"name":"Ada"}`)

// Case is one module, the export a call runs and what it must return.
type Case struct {
	Name  string
	Wasm  []byte
	Entry string
	Input []byte
	Want  []byte
}

// Cases returns the benchmark cases: nop, echo (the WAT fixture plugins.WAT("echo")) and, if helloWasm is not nil,
// hello (the bytes of plugins/build/hello.wasm, which the caller reads: it may not be built).
func Cases(helloWasm []byte) []Case {
	cs := []Case{
		{Name: "nop", Wasm: nopWasm, Entry: "run", Input: Input, Want: nil},
		{Name: "echo", Wasm: plugins.WAT("echo"), Entry: "run", Input: Input, Want: Input},
	}
	if helloWasm != nil {
		cs = append(cs, Case{Name: "hello", Wasm: helloWasm, Entry: "run", Input: Input,
			Want: []byte(`{"greeting":"Hello, Ada!"}`)})
	}
	return cs
}

// FindCase returns the case of cs called name.
func FindCase(cs []Case, name string) (Case, bool) {
	for _, c := range cs {
		if c.Name == name {
			return c, true
		}
	}
	return Case{}, false
}
