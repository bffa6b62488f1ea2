//go:build wasip1

// Command conformance is the conformance tool in Go, on the Go kit (sdk/go/tool): an Extism plugin whose
// behaviour the input selects (plugins/conformance/README.md).
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o conformance-go.wasm ./conformance
package main

import (
	"bytes"
	"strconv"

	"github.com/toolgate/toolgate/plugins/go/internal/spec"
	"github.com/toolgate/toolgate/sdk/go/tool"
)

//go:wasmexport run
func run() int32 {
	cmd, arg := spec.Split(tool.Input())
	switch cmd {
	case "echo":
		tool.Output(arg)
	case "upper":
		out, err := spec.Upper(arg)
		if err != nil {
			return tool.Fail(err.Error())
		}
		tool.Output(out)
	case "json":
		g, err := spec.Greet(arg)
		if err != nil {
			return tool.Fail(err.Error())
		}
		if err := tool.OutputJSON(g); err != nil {
			return tool.Fail(err.Error())
		}
	case "error":
		return tool.Fail(spec.ErrorMessage(arg))
	case "config":
		v, ok := tool.Config(string(arg))
		if !ok {
			return tool.Fail("config: " + string(arg) + " is not set")
		}
		tool.OutputString(v)
	case "log":
		n := 0
		if len(arg) > 0 {
			for i, line := range bytes.Split(arg, []byte("\n")) {
				tool.Log([]tool.Level{tool.Info, tool.Warn, tool.Error}[i%3], string(line))
				n++
			}
		}
		tool.OutputString(strconv.Itoa(n))
	case "big":
		out, err := spec.Big(arg)
		if err != nil {
			return tool.Fail(err.Error())
		}
		tool.Output(out)
	case "http":
		resp := tool.Send(tool.Request{Method: "GET", URL: string(arg),
			Header: map[string]string{"Authorization": "Bearer " + tool.Secret("TOKEN")}})
		tool.Output(append([]byte(strconv.Itoa(resp.Status)+"\n"), resp.Body...))
	case "trap":
		panic("trap")
	default:
		return tool.Fail("unknown command \"" + cmd + "\"")
	}
	return 0
}

func main() {}
