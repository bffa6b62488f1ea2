// Package plugins holds Toolgate's example and test tools, with their sources and build files:
//
//   - wat/: small hand-written modules (Extism ABI and WASI commands) that pin down one runtime behaviour each:
//     echo, fail, trap, loop, grow, recurse, counter, http, abi_all, cmd_echo, cmd_exit, cmd_env, and the
//     modules Load must refuse, badimport, badsig and importmem. The compiled .wasm is committed beside each
//     .wat (regenerate with wat/gen.sh; a test checks they match) and embedded here, so tests get them with
//     WAT(name).
//   - go/: a separate Go module of tools built with the Go toolchain: hello (an Extism tool on go-pdk), wc (a
//     WASI command), refund, and the Go conformance tool on the Go kit (sdk/go).
//   - conformance/: one tool written in every kit language — Go, C, C++, Rust, AssemblyScript, Zig, WAT — and
//     as WASI commands in Go, C and Rust, with the suite that runs every build through the runtime (its README
//     is the specification).
//
// Everything but the WAT fixtures is built, not committed: `bash plugins/build.sh [LANG…]` (`make plugins`)
// writes plugins/build/<name>.wasm, one script per language in scripts/, and tests read them with
// pluginstest.Built. scripts/install-toolchains.sh installs the toolchains beyond Go; npm's go into
// .toolchains/node_modules, pinned by .toolchains/package-lock.json.
package plugins

import (
	"embed"
	"fmt"
	"path"
	"sort"
	"strings"
)

//go:embed wat/*.wasm
var watFS embed.FS

// WAT returns the compiled bytes of fixture wat/<name>.wasm, for example WAT("echo"). It panics if there is no
// such fixture: a missing fixture is a bug in the caller, not a condition to handle.
func WAT(name string) []byte {
	b, err := watFS.ReadFile(path.Join("wat", name+".wasm"))
	if err != nil {
		panic(fmt.Sprintf("plugins: no WAT fixture %q", name))
	}
	return b
}

// WATNames returns the names of the embedded WAT fixtures, sorted.
func WATNames() []string {
	entries, err := watFS.ReadDir("wat")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".wasm"))
	}
	sort.Strings(names)
	return names
}
