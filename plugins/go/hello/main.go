//go:build wasip1

// Command hello is an Extism tool built with the Go PDK, used by Toolgate's runtime tests and as an example.
// Build it with `GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared` (see plugins/build.sh).
//
// Exports:
//   - run: {"name":"..."} in, {"greeting":"<greeting>, <name>!"} out; config "greeting" (default "Hello").
//     Invalid JSON is a tool error.
//   - echo: the input back.
//   - fail: the tool error "refund declined: insufficient funds".
//   - trap: a Go panic.
//   - grow: allocates and touches N MiB, N given as decimal input; outputs N.
//   - spin: never returns.
//   - log: writes three log lines (info, warn, error) and outputs "ok".
//   - count: increments a package-level counter and outputs it; a fresh sandbox per call always says "1".
package main

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/extism/go-pdk"
)

type runInput struct {
	Name string `json:"name"`
}

type runOutput struct {
	Greeting string `json:"greeting"`
}

//go:wasmexport run
func run() int32 {
	var in runInput
	if err := json.Unmarshal(pdk.Input(), &in); err != nil {
		pdk.SetError(errors.New("invalid input: " + err.Error()))
		return 1
	}
	greeting, ok := pdk.GetConfig("greeting")
	if !ok {
		greeting = "Hello"
	}
	if in.Name == "" {
		in.Name = "world"
	}
	if err := pdk.OutputJSON(runOutput{Greeting: greeting + ", " + in.Name + "!"}); err != nil {
		pdk.SetError(err)
		return 1
	}
	return 0
}

//go:wasmexport echo
func echo() int32 {
	pdk.Output(pdk.Input())
	return 0
}

//go:wasmexport fail
func fail() int32 {
	pdk.SetErrorString("refund declined: insufficient funds")
	return 1
}

//go:wasmexport trap
func trap() int32 {
	panic("boom")
}

var sink [][]byte

//go:wasmexport grow
func grow() int32 {
	n, err := strconv.Atoi(strings.TrimSpace(pdk.InputString()))
	if err != nil || n < 0 {
		pdk.SetErrorString("grow: input must be a decimal number of MiB")
		return 1
	}
	for i := 0; i < n; i++ {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = 1
		}
		sink = append(sink, b)
	}
	pdk.OutputString(strconv.Itoa(n))
	return 0
}

var spins uint64

//go:wasmexport spin
func spin() int32 {
	for {
		spins++
	}
}

//go:wasmexport log
func logLines() int32 {
	pdk.Log(pdk.LogInfo, "starting")
	pdk.Log(pdk.LogWarn, "halfway")
	pdk.Log(pdk.LogError, "done")
	pdk.OutputString("ok")
	return 0
}

var calls int

//go:wasmexport count
func count() int32 {
	calls++
	pdk.OutputString(strconv.Itoa(calls))
	return 0
}

func main() {}
