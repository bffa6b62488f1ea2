// Package pluginstest gives tests the plugins built from source by plugins/build.sh (Go tools that are not
// committed as binaries), and the rule for anything a test needs from outside the repository (a build, a
// toolchain): missing, it skips the test locally and fails it in CI (CI=true), with the command that provides it.
package pluginstest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"testing"
)

// Dir returns the absolute path of plugins/build, where plugins/build.sh writes the built plugins.
func Dir() string {
	_, file, _, ok := goruntime.Caller(0)
	if !ok {
		panic("pluginstest: cannot locate source file")
	}
	return filepath.Join(filepath.Dir(file), "..", "build")
}

// Built returns the bytes of plugins/build/<name>.wasm, e.g. Built(t, "hello"). If the file is missing it skips
// the test, or fails it when the environment variable CI is "true".
func Built(t testing.TB, name string) []byte {
	t.Helper()
	p := filepath.Join(Dir(), name+".wasm")
	b, err := os.ReadFile(p)
	if err == nil {
		return b
	}
	Missing(t, "plugin %s not built (%v); build it with: bash plugins/build.sh", name, err)
	return nil
}

// Missing reports that something the test needs is absent: it skips the test, or fails it when the environment
// variable CI is "true", where every toolchain and fixture must be there.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Tool returns the path of the program name, e.g. Tool(t, "wat2wasm", "apt-get install -y wabt"); if it is not
// on PATH, Missing says so, with install, the command that provides it.
func Tool(t testing.TB, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "%s not found; %s", name, install)
	}
	return p
}
