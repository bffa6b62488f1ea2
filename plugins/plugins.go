// Package plugins holds Toolgate's example and test tools, with their sources and build files:
//
//   - wat/: small hand-written modules (Extism ABI and WASI commands) that pin down one runtime behaviour each:
//     echo, fail, trap, loop, grow, recurse, counter, http, abi_all, cmd_echo, cmd_exit, cmd_env, and the
//     modules Load must refuse, badimport, badsig and importmem. The compiled .wasm is committed beside each
//     .wat (regenerate with wat/gen.sh; a test checks they match) and embedded here, so tests get them with
//     WAT(name).
//   - go/: a separate Go module of tools built with the Go toolchain: hello (an Extism tool on go-pdk) and wc
//     (a WASI command). They are built, not committed: `bash plugins/build.sh` (or `make -C plugins`) writes
//     plugins/build/<name>.wasm, and tests read them with pluginstest.Built.
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
