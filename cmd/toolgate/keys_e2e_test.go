package main_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/toolgate/toolgate/plugins"
)

// TestKeysEndToEnd drives keys, scopes, idempotent retries and usage through the real binary: an admin creates a
// scoped invoker key with the CLI, the key invokes in scope and is refused out of it, is disabled, enabled and
// removed; a retried invoke replays its receipt, also after a kill -9; usage shows the calls with their cost.
func TestKeysEndToEnd(t *testing.T) {
	t.Setenv("TOOLGATE_PRICE_MS", "1")
	t.Setenv("TOOLGATE_TOOL_LIMIT", "echo:rps=1000,concurrency=8")
	bin := binary(t)
	data := t.TempDir()
	addr := freeAddr(t)
	srv := serve(t, bin, data, addr)
	run := func(args ...string) (string, string) {
		t.Helper()
		out, errOut, err := cli(t, bin, srv.url, data, nil, args...)
		if err != nil {
			t.Fatalf("toolgate %s: %v\n%s", strings.Join(args, " "), err, errOut)
		}
		return out, errOut
	}
	fails := func(want string, args ...string) {
		t.Helper()
		_, errOut, err := cli(t, bin, srv.url, data, nil, args...)
		if err == nil || !strings.Contains(errOut, want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("toolgate %s: got %q %v, want a one-line failure naming %s", strings.Join(args, " "), errOut, err, want)
		}
	}
	echo := filepath.Join(t.TempDir(), "echo.wasm")
	if err := os.WriteFile(echo, plugins.WAT("echo"), 0o644); err != nil {
		t.Fatal(err)
	}
	run("push", "echo@1.0.0", echo)
	run("push", "other@1.0.0", echo)

	tok, errOut := run("keys", "create", "--name", "ci bot", "--role", "invoker", "--tools", "ech*", "--rps", "50",
		"--fuel-quota", "1000000000", "--expires", "720h")
	tok = strings.TrimSpace(tok)
	m := regexp.MustCompile(`key ([0-9a-f]{16}) `).FindStringSubmatch(errOut)
	if m == nil || !strings.HasPrefix(tok, "tg_"+m[1]+"_") {
		t.Fatalf("keys create: got token %q and %q", tok, errOut)
	}
	id := m[1]
	ls, _ := run("keys", "ls")
	line := ""
	for _, l := range strings.Split(ls, "\n") {
		if strings.HasPrefix(l, id) {
			line = l
		}
	}
	for _, want := range []string{"ci bot", "invoker", "ech*", "active", "50rps/50", "1000000000/24h0m0s"} {
		if !strings.Contains(line, want) {
			t.Errorf("keys ls: got %q, want %q in the key's line", line, want)
		}
	}
	if strings.Contains(ls, tok[len("tg_")+17:]) || strings.Count(strings.TrimSpace(ls), "\n") != 1 {
		t.Errorf("keys ls: got\n%s\nwant the admin and the new key, and no token", ls)
	}

	// The key invokes in its scope, and nothing else.
	if out, _ := run("invoke", "echo", "--data", "hi", "--token", tok); out != "hi" {
		t.Errorf("invoke in scope: got %q", out)
	}
	fails("forbidden", "invoke", "other", "--data", "hi", "--token", tok)
	fails("forbidden", "keys", "ls", "--token", tok)
	fails("invalid_request", "keys", "create", "--name", "x", "--role", "root")

	// A retried invoke replays the first call's receipt, also after kill -9.
	_, first := run("invoke", "echo", "--data", "pay 5", "--idempotency-key", "order-17", "--token", tok)
	_, again := run("invoke", "echo", "--data", "pay 5", "--idempotency-key", "order-17", "--token", tok)
	if !strings.HasPrefix(first, "receipt: rcpt_") || again != first {
		t.Errorf("retried invoke: got %q then %q, want the same receipt", first, again)
	}
	fails("idempotency_key_reused", "invoke", "echo", "--data", "pay 6", "--idempotency-key", "order-17", "--token", tok)
	srv.kill()
	srv = serve(t, bin, data, addr)
	if _, after := run("invoke", "echo", "--data", "pay 5", "--idempotency-key", "order-17", "--token", tok); after != first {
		t.Errorf("retried invoke after kill -9: got %q, want %q", after, first)
	}

	// Disable, enable, remove.
	if out, _ := run("keys", "disable", id); !strings.Contains(out, "disabled") {
		t.Errorf("keys disable: got %q", out)
	}
	fails("unauthorized", "invoke", "echo", "--data", "hi", "--token", tok)
	run("keys", "enable", id)
	run("invoke", "echo", "--data", "hi", "--token", tok)

	usage, _ := run("usage", "--key", id)
	if !regexp.MustCompile(id+`\techo\tcalls [1-9]\d*\tfuel \d+\tcost [0-9.e-]+`).MatchString(usage) ||
		strings.Contains(usage, "cost 0\n") {
		t.Errorf("usage --key: got\n%s\nwant the key's echo calls with a cost", usage)
	}

	run("keys", "rm", id)
	fails("unauthorized", "invoke", "echo", "--data", "hi", "--token", tok)
	fails("not_found", "keys", "rm", id)
	if ls, _ := run("keys", "ls"); strings.Contains(ls, id) {
		t.Errorf("keys ls after rm: got\n%s", ls)
	}
}
