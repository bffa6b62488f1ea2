package main_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/toolgate/toolgate/internal/seal"
	"github.com/toolgate/toolgate/receipts"
	tgbadger "github.com/toolgate/toolgate/registry/badger"
)

const cliSecret = "sk_live_cli_e2e_0a1b2c3d4e5f"

// secretsServer is a `toolgate serve` process started by serveEnv.
type secretsServer struct {
	url  string
	logs *lockedLog
	stop func() // SIGTERM, then wait for the exit
}

type lockedLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// serveEnv starts `toolgate serve` with extra environment variables and waits until it is ready; if it exits
// first, it returns nil and the process's output.
func serveEnv(t *testing.T, bin, data string, env ...string) (*secretsServer, string) {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(append(os.Environ(), "TOOLGATE_ADDR="+addr, "TOOLGATE_DATA="+data), env...)
	logs := &lockedLog{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	var once sync.Once
	p := &secretsServer{url: "http://" + addr, logs: logs, stop: func() {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
		})
	}}
	t.Cleanup(p.stop)
	deadline := time.After(60 * time.Second)
	for {
		select {
		case <-exited:
			return nil, logs.String()
		case <-deadline:
			t.Fatalf("server did not become ready:\n%s", logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		resp, err := http.Get(p.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p, ""
			}
		}
	}
}

// openSecret opens secret name from a stopped server's data directory with the given master key (base64, or ""
// for the key file).
func openSecret(t *testing.T, data, envKey, name string) (string, error) {
	t.Helper()
	m, _, err := seal.LoadMaster(data, envKey, "")
	if err != nil {
		return "", err
	}
	st, err := tgbadger.Open(filepath.Join(data, "db"), tgbadger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sec, err := st.SealedSecret(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	v, err := m.Keyring().Open(name, sec.Sealed)
	return string(v), err
}

// rotationEvents returns the master_key_rotated events in the receipt log of the (stopped) server's data.
func rotationEvents(t *testing.T, data string) []*receipts.Event {
	t.Helper()
	st, err := tgbadger.Open(filepath.Join(data, "db"), tgbadger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	entries, err := st.Entries(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []*receipts.Event
	for _, e := range entries {
		if !receipts.ValidEventID(e.ID) {
			continue
		}
		ev, err := receipts.DecodeEvent(e.Data)
		if err != nil {
			t.Fatalf("log entry %d: %v", e.Index, err)
		}
		if ev.Kind == receipts.EventMasterKeyRotated {
			out = append(out, ev)
		}
	}
	return out
}

// checkRotation checks the one rotation event the log should hold: its subject, reseal count, actor and reason.
func checkRotation(t *testing.T, evs []*receipts.Event, key, resealed, reason string) *receipts.Event {
	t.Helper()
	if len(evs) != 1 {
		t.Fatalf("%d master_key_rotated events in the log, want 1", len(evs))
	}
	ev := evs[0]
	if ev.Subject != "master_key:"+key || ev.Attrs["resealed"] != resealed || !strings.HasPrefix(ev.Actor, "local:") ||
		ev.Reason != reason {
		t.Errorf("rotation event: subject %q, attrs %v, actor %q, reason %q; want master_key:%s, resealed %s, a local actor, %q",
			ev.Subject, ev.Attrs, ev.Actor, ev.Reason, key, resealed, reason)
	}
	return ev
}

func TestSecretsCLI(t *testing.T) {
	bin := binary(t)
	data := t.TempDir()
	srv, out := serveEnv(t, bin, data, "TOOLGATE_ALLOW_PRIVATE_EGRESS=127.0.0.0/8")
	if srv == nil {
		t.Fatalf("serve exited:\n%s", out)
	}
	fi, err := os.Stat(filepath.Join(data, seal.KeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("master key file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	run := func(stdin string, args ...string) string {
		t.Helper()
		out, errOut, err := cli(t, bin, srv.url, data, []byte(stdin), args...)
		if err != nil {
			t.Fatalf("toolgate %s: %v\n%s", strings.Join(args, " "), err, errOut)
		}
		return out
	}
	if got := run(cliSecret+"\n", "secrets", "set", "PAYMENTS_KEY"); got != "created PAYMENTS_KEY\n" {
		t.Errorf("set: got %q", got)
	}
	if got := run("", "secrets", "set", "OTHER_KEY", "--value", cliSecret+"-other"); got != "created OTHER_KEY\n" {
		t.Errorf("set --value: got %q", got)
	}
	ls := run("", "secrets", "ls")
	if !strings.Contains(ls, "PAYMENTS_KEY\tcreated ") || !strings.Contains(ls, "OTHER_KEY") || strings.Contains(ls, cliSecret) {
		t.Errorf("ls: got %q", ls)
	}
	run("", "secrets", "rm", "OTHER_KEY")
	if _, errOut, err := cli(t, bin, srv.url, data, nil, "secrets", "rm", "OTHER_KEY"); err == nil || !strings.Contains(errOut, "not_found") {
		t.Errorf("rm twice: got %v %q, want not_found", err, errOut)
	}
	if _, errOut, err := cli(t, bin, srv.url, data, nil, "secrets", "rotate-master-key", "--data", data); err == nil || !strings.Contains(errOut, "stop the server") {
		t.Errorf("rotate while serving: got %v %q, want refused", err, errOut)
	}
	srv.stop()
	if strings.Contains(srv.logs.String(), cliSecret) {
		t.Errorf("the value is in the server's log:\n%s", srv.logs.String())
	}

	// Rotation of the key file, server stopped: a new key, the secret still opens (with the stdin newline gone).
	oldKey, _ := os.ReadFile(filepath.Join(data, seal.KeyFile))
	oldMaster, _, err := seal.LoadMaster(data, "", "")
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, err := cli(t, bin, srv.url, data, nil, "secrets", "rotate-master-key", "--data", data,
		"--reason", "yearly rotation")
	if err != nil || !strings.Contains(out, "1 secrets resealed") {
		t.Fatalf("rotate: %v %q %q", err, out, errOut)
	}
	newKey, _ := os.ReadFile(filepath.Join(data, seal.KeyFile))
	if bytes.Equal(oldKey, newKey) {
		t.Fatal("rotate left the key file unchanged")
	}
	if v, err := openSecret(t, data, "", "PAYMENTS_KEY"); err != nil || v != cliSecret {
		t.Errorf("after rotation: got %q, %v", v, err)
	}
	newMaster, _, err := seal.LoadMaster(data, "", "")
	if err != nil {
		t.Fatal(err)
	}
	ev := checkRotation(t, rotationEvents(t, data), newMaster.Keyring().Current().ID(), "1", "yearly rotation")
	if from := oldMaster.Keyring().Current().ID(); ev.Attrs["from"] != from || !strings.Contains(out, ev.ID) {
		t.Errorf("rotation event %s from %q, want from %q, named in the output %q", ev.ID, ev.Attrs["from"], from, out)
	}
	srv, out = serveEnv(t, bin, data)
	if srv == nil {
		t.Fatalf("restart after rotation:\n%s", out)
	}
	srv.stop()
	// A start with nothing to reseal logs no rotation.
	if n := len(rotationEvents(t, data)); n != 1 {
		t.Errorf("%d rotation events after a plain restart, want still 1", n)
	}

	// A rotation interrupted after its new key was written: the next start finishes it, and logs it.
	next, enc := seal.GenerateKey()
	if err := os.WriteFile(filepath.Join(data, seal.NextKeyFile), []byte(enc+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, out = serveEnv(t, bin, data)
	if srv == nil {
		t.Fatalf("start with an interrupted rotation:\n%s", out)
	}
	srv.stop()
	evs := rotationEvents(t, data)
	if len(evs) != 2 {
		t.Fatalf("%d rotation events after finishing an interrupted one, want 2", len(evs))
	}
	checkRotation(t, evs[1:], next.ID(), "1", "an interrupted rotation of the key file, finished at start")
	if v, err := openSecret(t, data, "", "PAYMENTS_KEY"); err != nil || v != cliSecret {
		t.Errorf("after the finished rotation: got %q, %v", v, err)
	}
	if _, err := os.Stat(filepath.Join(data, seal.NextKeyFile)); !os.IsNotExist(err) {
		t.Errorf("the next key file is still there after the start finished the rotation: %v", err)
	}
}

func TestSecretsCLI_EnvKeyRotation(t *testing.T) {
	bin := binary(t)
	data := t.TempDir()
	_, k1 := seal.GenerateKey()
	_, k2 := seal.GenerateKey()
	srv, out := serveEnv(t, bin, data, "TOOLGATE_MASTER_KEY="+k1)
	if srv == nil {
		t.Fatalf("serve exited:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(data, seal.KeyFile)); !os.IsNotExist(err) {
		t.Errorf("a key from the environment wrote a key file: %v", err)
	}
	if _, errOut, err := cli(t, bin, srv.url, data, []byte(cliSecret), "secrets", "set", "PAYMENTS_KEY"); err != nil {
		t.Fatalf("set: %v %s", err, errOut)
	}
	srv.stop()

	// A new key without the old one: the server refuses to start rather than run with secrets it cannot open.
	if srv, out := serveEnv(t, bin, data, "TOOLGATE_MASTER_KEY="+k2); srv != nil || !strings.Contains(out, "master key this server does not have") {
		t.Fatalf("start with an unknown key: got %v\n%s", srv != nil, out)
	}
	srv, out = serveEnv(t, bin, data, "TOOLGATE_MASTER_KEY="+k2, "TOOLGATE_PREVIOUS_MASTER_KEY="+k1)
	if srv == nil {
		t.Fatalf("start with the previous key:\n%s", out)
	}
	srv.stop()
	if !strings.Contains(srv.logs.String(), "resealed") || strings.Contains(srv.logs.String(), k1) {
		t.Errorf("log: %s", srv.logs.String())
	}
	if v, err := openSecret(t, data, k2, "PAYMENTS_KEY"); err != nil || v != cliSecret {
		t.Errorf("under the new key alone: got %q, %v", v, err)
	}
	key2, err := seal.ParseKey(k2)
	if err != nil {
		t.Fatal(err)
	}
	checkRotation(t, rotationEvents(t, data), key2.ID(), "1", "secrets resealed at start under the current key")
	if _, errOut, err := cli(t, bin, "", data, nil, "secrets", "rotate-master-key", "--data", data); err == nil {
		t.Errorf("rotate without a key file: got success %q", errOut)
	}

	// A malformed allowance stops the start.
	if srv, out := serveEnv(t, bin, data, "TOOLGATE_MASTER_KEY="+k2, "TOOLGATE_ALLOW_PRIVATE_EGRESS=localhost"); srv != nil || !strings.Contains(out, "not a CIDR prefix") {
		t.Errorf("bad allowance: got %v\n%s", srv != nil, out)
	}
}
