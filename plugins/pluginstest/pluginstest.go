// Package pluginstest gives tests the plugins built from source by plugins/build.sh (Go tools that are not
// committed as binaries). A missing build skips the test locally and fails it in CI (CI=true), with the command
// that builds it.
package pluginstest

import (
	"os"
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
	msg := "plugin " + name + " not built (" + err.Error() + "); build it with: bash plugins/build.sh"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return nil
}
