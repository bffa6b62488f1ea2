// Package conformance is the conformance suite of Toolgate's plugin kits: one tool, written in every kit language
// (Go, C, C++, Rust, AssemblyScript, Zig and hand-written WAT, plus WASI-command variants in Go, C and Rust),
// whose behaviours the input selects (README.md in this folder is the specification). The test in this package
// runs every build through the real runtime and checks that all of them give the same output, status, error
// message, log lines and network-door lines for the same input.
//
// The builds come from plugins/build.sh (`make plugins`) into plugins/build/<name>.wasm; Builds lists them.
package conformance

import "github.com/toolgate/toolgate/runtime"

// Build is one build of the conformance tool.
type Build struct {
	Name     string      // plugins/build/<Name>.wasm
	Language string      // as docs/plugins.md names it
	ABI      runtime.ABI // extism or wasi-command
	// GoPanics is set for a Go WASI command: a Go panic exits with code 2 and its trace on stderr, which the
	// runtime reports as tool_error, not trap.
	GoPanics bool
}

// Builds lists every build of the conformance tool that `make plugins` produces.
var Builds = []Build{
	{Name: "conformance-go", Language: "Go", ABI: runtime.ABIExtism},
	{Name: "conformance-c", Language: "C", ABI: runtime.ABIExtism},
	{Name: "conformance-cpp", Language: "C++", ABI: runtime.ABIExtism},
	{Name: "conformance-rust", Language: "Rust", ABI: runtime.ABIExtism},
	{Name: "conformance-rust-nostd", Language: "Rust (no_std)", ABI: runtime.ABIExtism},
	{Name: "conformance-as", Language: "AssemblyScript", ABI: runtime.ABIExtism},
	{Name: "conformance-zig", Language: "Zig", ABI: runtime.ABIExtism},
	{Name: "conformance-wat", Language: "WAT", ABI: runtime.ABIExtism},
	{Name: "conformance-go-cmd", Language: "Go", ABI: runtime.ABIWASICommand, GoPanics: true},
	{Name: "conformance-c-cmd", Language: "C", ABI: runtime.ABIWASICommand},
	{Name: "conformance-rust-cmd", Language: "Rust", ABI: runtime.ABIWASICommand},
}

// InCommands reports whether a command of the conformance tool exists in the WASI-command variants too: those
// have no config, log door or network, and answer config, log and http as unknown commands.
func InCommands(cmd string) bool {
	switch cmd {
	case "config", "log", "http":
		return false
	}
	return true
}
