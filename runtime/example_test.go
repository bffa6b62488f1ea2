package runtime_test

import (
	"context"
	"fmt"
	"time"

	"github.com/toolgate/toolgate/plugins"
	"github.com/toolgate/toolgate/runtime"
)

// Load a module once, then run each call in a fresh sandbox under its limits.
func ExampleRuntime_Invoke() {
	ctx := context.Background()
	r, err := runtime.New(ctx, runtime.Config{})
	if err != nil {
		panic(err)
	}
	defer r.Close(ctx)

	info, err := r.Load(ctx, plugins.WAT("echo")) // an Extism plugin whose "run" echoes its input
	if err != nil {
		panic(err)
	}
	fmt.Println(info.ABI, info.Exports)

	res, err := r.Invoke(ctx, runtime.Call{
		Module: info.Digest,
		Entry:  "run",
		Input:  []byte("hello"),
		Limits: runtime.Limits{MemoryBytes: 16 << 20, Timeout: time.Second, MaxOutputBytes: 4},
	})
	if err != nil {
		panic(err) // infrastructure only: guest failures are in res.Status
	}
	fmt.Println(res.Status, res.Error)
	// Output:
	// extism [run]
	// output_limit output is 5 bytes, over the limit of 4
}

// A WASI command reads stdin and writes stdout; a non-zero exit is a tool error with stderr as the message.
func ExampleRuntime_Invoke_wasiCommand() {
	ctx := context.Background()
	r, err := runtime.New(ctx, runtime.Config{})
	if err != nil {
		panic(err)
	}
	defer r.Close(ctx)

	for _, name := range []string{"cmd_echo", "cmd_exit"} {
		info, err := r.Load(ctx, plugins.WAT(name))
		if err != nil {
			panic(err)
		}
		res, err := r.Invoke(ctx, runtime.Call{Module: info.Digest, Input: []byte("via stdin")})
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s: %s %q %q\n", name, res.Status, res.Output, res.Error)
	}
	// Output:
	// cmd_echo: ok "via stdin" ""
	// cmd_exit: tool_error "" "boom: bad input"
}
