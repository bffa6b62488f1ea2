// Command conformance-cmd is the conformance tool in Go as a WASI command: input on stdin, output on stdout,
// the error on stderr with exit code 1 (plugins/conformance/README.md). A WASI command has no config, log door
// or network: config, log and http are unknown commands here. A Go panic exits with code 2 and its message on
// stderr, so "trap" is a tool_error for this build (a C or Rust command traps).
// Build: GOOS=wasip1 GOARCH=wasm go build -o conformance-go-cmd.wasm ./conformance-cmd
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/toolgate/toolgate/plugins/go/internal/spec"
)

func fail(msg string) {
	fmt.Fprint(os.Stderr, msg)
	os.Exit(1)
}

func main() {
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err.Error())
	}
	cmd, arg := spec.Split(in)
	var out []byte
	switch cmd {
	case "echo":
		out = arg
	case "upper":
		if out, err = spec.Upper(arg); err != nil {
			fail(err.Error())
		}
	case "json":
		g, err := spec.Greet(arg)
		if err != nil {
			fail(err.Error())
		}
		out, _ = spec.Marshal(g)
	case "error":
		fail(spec.ErrorMessage(arg))
	case "big":
		if out, err = spec.Big(arg); err != nil {
			fail(err.Error())
		}
	case "trap":
		panic("trap")
	default:
		fail("unknown command \"" + cmd + "\"")
	}
	os.Stdout.Write(out)
}
