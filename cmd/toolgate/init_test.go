package main_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/toolgate/toolgate/plugins/pluginstest"
)

// repo is the repository root, from this package's directory.
const repo = "../.."

// toolchainEnv returns the environment that points a scaffolded project's build.sh at the toolchains
// scripts/install-toolchains.sh installs, or skips the test (fails it under CI=true) when lang's is missing.
func toolchainEnv(t *testing.T, lang string) []string {
	t.Helper()
	abs, err := filepath.Abs(repo)
	if err != nil {
		t.Fatal(err)
	}
	nm := filepath.Join(abs, "plugins", ".toolchains", "node_modules")
	var need string
	env := os.Environ()
	switch lang {
	case "go":
		need = "go"
	case "c":
		need = "clang"
	case "rust":
		need = "/usr/bin/rustc"
	case "assemblyscript":
		need = filepath.Join(nm, "assemblyscript", "bin", "asc.js")
	case "zig":
		need = filepath.Join(nm, "@ryoppippi", "zig-linux-x64", "zig")
		env = append(env, "ZIG="+need)
	}
	if _, err := exec.LookPath(need); err != nil {
		if _, serr := os.Stat(need); serr != nil {
			pluginstest.Missing(t, "%s toolchain missing (%s): run scripts/install-toolchains.sh", lang, need)
		}
	}
	return env
}

// buildProject runs the scaffolded project's build.sh.
func buildProject(t *testing.T, dir, lang string) {
	t.Helper()
	env := toolchainEnv(t, lang)
	if lang == "assemblyscript" {
		// The toolchain is already installed in the repository: use it instead of `npm install` from the registry.
		abs, _ := filepath.Abs(filepath.Join(repo, "plugins", ".toolchains", "node_modules"))
		if err := os.Symlink(abs, filepath.Join(dir, "node_modules")); err != nil {
			t.Fatal(err)
		}
	}
	build := exec.Command("./build.sh")
	build.Dir = dir
	build.Env = env
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build.sh: %v\n%s", err, out)
	}
}

// TestInit builds and runs the project `toolgate init` makes for every language: the build script builds
// NAME.wasm, and `toolgate run` gives the greeting, with config and a log line, and a tool error for bad input.
func TestInit(t *testing.T) {
	bin := binary(t)
	for _, lang := range []string{"go", "c", "rust", "assemblyscript", "zig"} {
		t.Run(lang, func(t *testing.T) {
			work := t.TempDir()
			name := "greet-" + lang
			cmd := exec.Command(bin, "init", "--lang", lang, name)
			cmd.Dir = work
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("init: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), "toolgate push "+name+"@0.1.0 "+name+".wasm --manifest manifest.json") {
				t.Errorf("init output: got %q, want the next steps", out)
			}
			dir := filepath.Join(work, name)
			buildProject(t, dir, lang)

			run := func(args ...string) (string, string, error) {
				c := exec.Command(bin, append([]string{"run", name + ".wasm"}, args...)...)
				c.Dir = dir
				var stdout, stderr bytes.Buffer
				c.Stdout, c.Stderr = &stdout, &stderr
				err := c.Run()
				return stdout.String(), stderr.String(), err
			}
			stdout, stderr, err := run("--data", `{"name":"Zoë"}`)
			if err != nil || stdout != `{"greeting":"Hello, Zoë!"}` || !strings.Contains(stderr, "greeting Zoë") {
				t.Errorf("run: got %q %v\n%s", stdout, err, stderr)
			}
			stdout, _, err = run("--data", `{"name":"Ada"}`, "--config", "greeting=Bonjour")
			if err != nil || stdout != `{"greeting":"Bonjour, Ada!"}` {
				t.Errorf("run with config: got %q %v", stdout, err)
			}
			_, stderr, err = run("--data", `not json`)
			if err == nil || !strings.Contains(stderr, `tool_error: want {"name": "..."}`) {
				t.Errorf("run with bad input: got %v %q, want a tool_error", err, stderr)
			}
		})
	}
}

func TestInit_Refuses(t *testing.T) {
	bin := binary(t)
	work := t.TempDir()
	if err := os.Mkdir(filepath.Join(work, "taken"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "taken", "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bad name", []string{"--lang", "go", "Bad_Name"}, "invalid tool name"},
		{"unknown language", []string{"--lang", "cobol", "x"}, "--lang: want one of assemblyscript, c, go, rust, zig"},
		{"no language", []string{"x"}, `required flag(s) "lang" not set`},
		{"directory not empty", []string{"--lang", "c", "taken"}, "taken exists and is not empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, append([]string{"init"}, tc.args...)...)
			cmd.Dir = work
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), tc.want) {
				t.Errorf("got %v %q, want an error with %q", err, out, tc.want)
			}
		})
	}
}

// TestInit_KitsInSync checks that the copy of the Go kit embedded for `toolgate init` is the kit in sdk/go
// (regenerate it with `go generate ./cmd/toolgate`); the other kits are embedded from sdk/ directly.
func TestInit_KitsInSync(t *testing.T) {
	for kit, src := range map[string]string{
		"go/tool/tool.go.tmpl": "sdk/go/tool/tool.go",
		"go/tool/json.go.tmpl": "sdk/go/tool/json.go",
	} {
		got, err := os.ReadFile(filepath.Join("templates", "kits", kit))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join(repo, src))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("templates/kits/%s differs from %s: run go generate ./cmd/toolgate", kit, src)
		}
	}
}

// TestInit_NewcomerRust follows docs/plugins.md's first steps through the CLI: init a Rust tool, build it, push
// it to a running server with its manifest, and invoke it.
func TestInit_NewcomerRust(t *testing.T) {
	bin := binary(t)
	work := t.TempDir()
	cmd := exec.Command(bin, "init", "--lang", "rust", "hello")
	cmd.Dir = work
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	dir := filepath.Join(work, "hello")
	buildProject(t, dir, "rust")

	data := t.TempDir()
	srv := serve(t, bin, data, freeAddr(t))
	abs := func(p string) string { return filepath.Join(dir, p) }
	if out, errOut, err := cli(t, bin, srv.url, data, nil, "push", "hello@0.1.0", abs("hello.wasm"),
		"--manifest", abs("manifest.json")); err != nil {
		t.Fatalf("push: %v\n%s%s", err, out, errOut)
	}
	out, errOut, err := cli(t, bin, srv.url, data, nil, "invoke", "hello", "--data", `{"name":"Ada"}`)
	if err != nil || out != `{"greeting":"Hello, Ada!"}` || !strings.Contains(errOut, "receipt: rcpt_") {
		t.Fatalf("invoke: got %q %q %v", out, errOut, err)
	}
}
