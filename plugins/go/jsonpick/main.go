//go:build wasip1

// Command jsonpick is an example tool on the Go kit (sdk/go/tool): it picks fields out of a JSON document by
// dotted path, the kind of transform an agent calls to cut a large API answer down to what it needs.
//
// Input:  {"doc": {"user": {"name": "Ada"}, "items": [{"id": 7}]}, "paths": ["user.name", "items.0.id", "nope"]}
// Output: {"items.0.id":7,"nope":null,"user.name":"Ada"}
//
// A path is object keys and array indexes joined by dots. A path that leads nowhere gives null, or a tool error
// when config "strict" is "true". One log line says how many paths were found.
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o jsonpick.wasm ./jsonpick
package main

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/toolgate/toolgate/sdk/go/tool"
)

type input struct {
	Doc   any      `json:"doc"`
	Paths []string `json:"paths"`
}

//go:wasmexport run
func run() int32 {
	var in input
	dec := json.NewDecoder(bytes.NewReader(tool.Input()))
	dec.UseNumber() // numbers pass through exactly, not as float64
	if err := dec.Decode(&in); err != nil {
		return tool.Fail(`want {"doc": …, "paths": ["a.b", …]}: ` + err.Error())
	}
	strict, _ := tool.Config("strict")
	out := make(map[string]any, len(in.Paths))
	found := 0
	for _, p := range in.Paths {
		v, ok := pick(in.Doc, p)
		if !ok && strict == "true" {
			return tool.Fail("no value at " + strconv.Quote(p))
		}
		if ok {
			found++
		}
		out[p] = v
	}
	tool.Logf(tool.Info, "found %d of %d paths", found, len(in.Paths))
	if err := tool.OutputJSON(out); err != nil {
		return tool.Fail(err.Error())
	}
	return 0
}

// pick follows path through doc.
func pick(doc any, path string) (any, bool) {
	if path == "" {
		return doc, true
	}
	for _, key := range strings.Split(path, ".") {
		switch d := doc.(type) {
		case map[string]any:
			v, ok := d[key]
			if !ok {
				return nil, false
			}
			doc = v
		case []any:
			i, err := strconv.Atoi(key)
			if err != nil || i < 0 || i >= len(d) {
				return nil, false
			}
			doc = d[i]
		default:
			return nil, false
		}
	}
	return doc, true
}

func main() {}
