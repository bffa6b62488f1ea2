package runtime

import (
	"slices"
	"strings"

	"github.com/toolgate/toolgate/host"
)

// ABI is how a module talks to the host: how it gets its input and gives its output.
type ABI string

// The ABIs a Runtime runs.
const (
	// ABIExtism is the Extism plugin ABI: the entry is an export taking nothing and returning i32 (0 = success);
	// input, output, config, logs and errors go through module "extism:host/env". Any Extism PDK works unchanged.
	ABIExtism ABI = "extism"
	// ABIWASICommand is a WASI preview 1 program: input on stdin, output on stdout, exit code 0 = success and
	// stderr as the error message otherwise.
	ABIWASICommand ABI = "wasi-command"
)

// Valid reports whether a is one of the ABIs the runtime runs.
func (a ABI) Valid() bool { return a == ABIExtism || a == ABIWASICommand }

// InferABI returns the ABI a module's imports and exports imply, or "" when they do not say:
//   - any import from "extism:host/env": ABIExtism;
//   - else an export "_start": ABIWASICommand;
//   - else any other exported function: ABIExtism (a module that needs no host function to compute);
//   - else (nothing to call): "".
func InferABI(m ModuleInfo) ABI {
	for _, imp := range m.Imports {
		if strings.HasPrefix(imp, host.ExtismEnvModule+".") {
			return ABIExtism
		}
	}
	if slices.Contains(m.Exports, "_start") {
		return ABIWASICommand
	}
	for _, e := range m.Exports {
		if e != "_initialize" {
			return ABIExtism
		}
	}
	return ""
}

// defaultEntry is the entry point a Call with an empty Entry runs.
func defaultEntry(a ABI) string {
	if a == ABIWASICommand {
		return "_start"
	}
	return "run"
}
