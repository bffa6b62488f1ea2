package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/toolgate/toolgate/plugins"
	"github.com/toolgate/toolgate/plugins/pluginstest"
	"github.com/toolgate/toolgate/sdk/client"
)

// binary builds the toolgate command once per test run.
func binary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "toolgate")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// serverProc is a real `toolgate serve` process.
type serverProc struct {
	cmd  *exec.Cmd
	url  string
	logs *bytes.Buffer
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func serve(t *testing.T, bin, data, addr string) *serverProc {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "TOOLGATE_ADDR="+addr, "TOOLGATE_DATA="+data)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serverProc{cmd: cmd, url: "http://" + addr, logs: &logs}
	t.Cleanup(func() { p.kill() })
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(p.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("server did not become ready:\n%s", logs.String())
	return nil
}

func (p *serverProc) kill() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
	}
}

// cli runs a client subcommand against the server and returns stdout, stderr and the error.
func cli(t *testing.T, bin, url, data string, stdin []byte, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "TOOLGATE_URL="+url, "TOOLGATE_DATA="+data, "TOOLGATE_TOKEN=")
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// TestEndToEnd drives the real binary over HTTP: push, invoke, pin, rollback, invoke by ref, receipts for
// successes and failures, then a kill -9 and a restart after which everything is still there.
func TestEndToEnd(t *testing.T) {
	hello := pluginstest.Built(t, "hello")
	wc := pluginstest.Built(t, "wc")
	bin := binary(t)
	data := t.TempDir()
	addr := freeAddr(t)
	srv := serve(t, bin, data, addr)
	run := func(stdin []byte, args ...string) string {
		t.Helper()
		out, errOut, err := cli(t, bin, srv.url, data, stdin, args...)
		if err != nil {
			t.Fatalf("toolgate %s: %v\n%s", strings.Join(args, " "), err, errOut)
		}
		return out
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	helloWasm, wcWasm, echoWasm := write("hello.wasm", hello), write("wc.wasm", wc), write("echo.wasm", plugins.WAT("echo"))
	manifest := write("hello.json", []byte(`{"description":"greets","config":{"greeting":"Bonjour"}}`))

	run(nil, "push", "greet@1.0.0", helloWasm, "--manifest", manifest)
	run(nil, "push", "greet@1.1.0", echoWasm, "--pin")
	run(nil, "push", "wc@0.1.0", wcWasm)

	// 1.1.0 (echo) is pinned.
	if out := run([]byte("ping"), "invoke", "greet"); out != "ping" {
		t.Errorf("invoke pinned echo: got %q, want ping", out)
	}
	// By ref: the Go tool with its config.
	out, errOut, err := cli(t, bin, srv.url, data, nil, "invoke", "greet@1.0.0", "--data", `{"name":"Ada"}`)
	if err != nil || !strings.Contains(out, "Bonjour, Ada") || !strings.Contains(errOut, "receipt: rcpt_") {
		t.Fatalf("invoke greet@1.0.0: got %q %q %v", out, errOut, err)
	}
	okReceipt := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(errOut), "receipt:"))
	// A tool error: non-zero exit, one-line reason, receipt named.
	_, errOut, err = cli(t, bin, srv.url, data, nil, "invoke", "greet@1.0.0", "--data", "{not json")
	if err == nil || !strings.Contains(errOut, "tool_error") || !strings.Contains(errOut, "receipt rcpt_") {
		t.Errorf("invoke with bad input: got %q %v, want a tool_error with its receipt", errOut, err)
	}
	if out := run([]byte("one two\nthree\n"), "invoke", "wc"); !strings.Contains(out, `"words":3`) {
		t.Errorf("wc: got %q", out)
	}
	// Roll back to 1.0.0 and invoke the pin.
	run(nil, "rollback", "greet", "--reason", "echo is not a greeting")
	if out := run([]byte(`{"name":"Bo"}`), "invoke", "greet"); !strings.Contains(out, "Bonjour, Bo") {
		t.Errorf("invoke after rollback: got %q", out)
	}
	hist := run(nil, "history", "greet")
	if n := strings.Count(hist, "\n"); n != 3 || !strings.Contains(hist, "rollback") || !strings.Contains(hist, "echo is not a greeting") {
		t.Errorf("history: got\n%s", hist)
	}
	if out := run(nil, "receipt", okReceipt); !strings.Contains(out, `"status":"ok"`) {
		t.Errorf("receipt: got %s", out)
	}
	failed := run(nil, "receipts", "--status", "tool_error")
	if strings.Count(failed, "\n") != 1 {
		t.Errorf("receipts --status tool_error: got\n%s", failed)
	}
	tools := run(nil, "tools")
	before := []string{tools, hist, run(nil, "receipts", "--limit", "100")}

	// kill -9 right after the last 200, then restart on the same data directory.
	srv.kill()
	srv = serve(t, bin, data, addr)
	after := []string{run(nil, "tools"), run(nil, "history", "greet"), run(nil, "receipts", "--limit", "100")}
	for i := range before {
		if before[i] != after[i] {
			t.Errorf("after restart:\n%s\nwant\n%s", after[i], before[i])
		}
	}
	if out := run([]byte(`{"name":"Cy"}`), "invoke", "greet"); !strings.Contains(out, "Bonjour, Cy") {
		t.Errorf("invoke after restart: got %q", out)
	}
	// The token file is private.
	if fi, err := os.Stat(filepath.Join(data, "admin.token")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("admin.token: got %v %v, want mode 0600", fi.Mode(), err)
	}
	// A missing token is a one-line failure.
	_, errOut, err = cli(t, bin, srv.url, t.TempDir(), nil, "tools")
	if err == nil || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("no token: got %q %v, want one line and a non-zero exit", errOut, err)
	}
	// The Go client sees the same state.
	tok, _ := os.ReadFile(filepath.Join(data, "admin.token"))
	c := client.New(srv.url, strings.TrimSpace(string(tok)), nil)
	tl, err := c.Tool(context.Background(), "greet")
	if err != nil || tl.Pin == nil || tl.Pin.Version != "1.0.0" {
		t.Errorf("tool after restart: got %+v %v", tl, err)
	}
	raw, _ := json.Marshal(tl)
	if !strings.Contains(string(raw), `"versions":["1.0.0","1.1.0"]`) {
		t.Errorf("versions: got %s", raw)
	}
}

// TestRunLocal runs a module with no server, as a plugin author does.
func TestRunLocal(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	echo := filepath.Join(dir, "echo.wasm")
	os.WriteFile(echo, plugins.WAT("echo"), 0o644)
	cmd := exec.Command(bin, "run", echo, "--data", "hi there")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil || out.String() != "hi there" || !strings.Contains(errb.String(), `"status":"ok"`) {
		t.Errorf("run echo: got %q %q %v", out.String(), errb.String(), err)
	}
	trap := filepath.Join(dir, "trap.wasm")
	os.WriteFile(trap, plugins.WAT("trap"), 0o644)
	cmd = exec.Command(bin, "run", trap)
	errb.Reset()
	cmd.Stderr = &errb
	if err := cmd.Run(); err == nil || !strings.Contains(errb.String(), "trap") {
		t.Errorf("run trap: got %q %v, want a non-zero exit naming the trap", errb.String(), err)
	}
}
