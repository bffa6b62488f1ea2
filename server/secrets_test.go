package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/toolgate/toolgate/host"
	"github.com/toolgate/toolgate/internal/seal"
	"github.com/toolgate/toolgate/plugins/pluginstest"
	tgbadger "github.com/toolgate/toolgate/registry/badger"
	"github.com/toolgate/toolgate/runtime"
	"github.com/toolgate/toolgate/sdk/client"
	"github.com/toolgate/toolgate/server"
)

const paymentsKey = "sk_live_TOOLGATE_e2e_4f3a9c1d"

// lockedBuffer is the server's log, written by concurrent requests.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// secretsHarness is a real server on loopback with a master key file, a network door that may reach
// 127.0.0.0/8, and its log captured.
type secretsHarness struct {
	*harness
	dir string
	log *lockedBuffer
}

func startSecrets(t *testing.T) *secretsHarness {
	t.Helper()
	dir := t.TempDir()
	logs := &lockedBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	master, _, err := seal.LoadMaster(dir, "", "")
	if err != nil {
		t.Fatal(err)
	}
	door, err := host.NewDoor(host.DoorConfig{AllowPrivateEgress: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { door.Close() })
	h := serve(t, dir, runtime.Config{Door: door},
		server.Config{MaxModuleBytes: 8 << 20, Logger: log, MasterKey: master}, tgbadger.Options{Logger: log})
	return &secretsHarness{harness: h, dir: dir, log: logs}
}

// diskContains reports whether any file under dir holds needle.
func diskContains(t *testing.T, dir string, needle []byte) string {
	t.Helper()
	found := ""
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || found != "" {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, needle) {
			found = p
		}
		return nil
	})
	return found
}

func TestSecrets_API(t *testing.T) {
	h := startSecrets(t)
	ctx := context.Background()
	s, created, err := h.c.PutSecret(ctx, "PAYMENTS_KEY", []byte(paymentsKey))
	if err != nil || !created || s.Name != "PAYMENTS_KEY" {
		t.Fatalf("PutSecret: got %+v %v %v", s, created, err)
	}
	time.Sleep(5 * time.Millisecond)
	s2, created, err := h.c.PutSecret(ctx, "PAYMENTS_KEY", []byte(paymentsKey+"-v2"))
	if err != nil || created || !s2.CreatedAt.Equal(s.CreatedAt) || !s2.UpdatedAt.After(s.UpdatedAt) {
		t.Fatalf("replace: got %+v %v %v (first %+v)", s2, created, err, s)
	}
	list, err := h.c.Secrets(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "PAYMENTS_KEY" {
		t.Fatalf("Secrets: got %+v %v", list, err)
	}
	status, _, _, body := h.raw(t, "GET", "/v1/secrets", nil, nil)
	if status != 200 || bytes.Contains(body, []byte(paymentsKey)) {
		t.Errorf("listing: got %d %s", status, body)
	}
	for _, tc := range []struct {
		method, path string
		body         []byte
		status       int
		code         string
	}{
		{"PUT", "/v1/secrets/bad-name", []byte("long enough value"), 400, server.CodeInvalidName},
		{"PUT", "/v1/secrets/SHORT", []byte("1234567"), 400, server.CodeInvalidRequest},
		{"PUT", "/v1/secrets/HUGE", bytes.Repeat([]byte("x"), 64<<10+1), 413, server.CodeTooLarge},
		{"DELETE", "/v1/secrets/NOPE", nil, 404, server.CodeNotFound},
		{"DELETE", "/v1/secrets/PAYMENTS_KEY", nil, 204, ""},
		{"DELETE", "/v1/secrets/PAYMENTS_KEY", nil, 404, server.CodeNotFound},
	} {
		status, _, code, body := h.raw(t, tc.method, tc.path, tc.body, nil)
		if status != tc.status || code != tc.code {
			t.Errorf("%s %s: got %d %q %s, want %d %q", tc.method, tc.path, status, code, body, tc.status, tc.code)
		}
	}
	if list, _ := h.c.Secrets(ctx); len(list) != 0 {
		t.Errorf("after delete: got %+v", list)
	}
	// Sealed at rest: no file in the data directory holds the value, the Badger files included.
	if _, _, err := h.c.PutSecret(ctx, "AT_REST", []byte(paymentsKey)); err != nil {
		t.Fatal(err)
	}
	if f := diskContains(t, h.dir, []byte(paymentsKey)); f != "" {
		t.Errorf("the value is on disk in plaintext: %s", f)
	}
}

// TestSecrets_NeverLeak runs the refund story end to end over a real server: a payments stub and a second stub
// on loopback, the payments key stored through the API, the refund tool published twice — pointed at the
// payments host its key is bound to, and at another host it is not — and invoked. Whatever the engine does, no
// request reaches the unbound host, and the key's value appears in no API answer, receipt, log line, metric or
// file on disk. When the engine opens the network door (the native engine), the payments stub also proves it got
// the key and the tool's output shows only the placeholder.
func TestSecrets_NeverLeak(t *testing.T) {
	wasm := pluginstest.Built(t, "refund")
	h := startSecrets(t)
	ctx := context.Background()

	var payHits, otherHits atomic.Int64
	var gotAuth atomic.Value
	gotAuth.Store("")
	pay := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		payHits.Add(1)
		gotAuth.Store(r.Header.Get("Authorization"))
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"refund":"re_1","echo":%q,"request":%s}`, r.Header.Get("Authorization"), body)
	}))
	defer pay.Close()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherHits.Add(1)
		fmt.Fprint(w, `{}`)
	}))
	defer other.Close()
	payPort := pay.Listener.Addr().(*net.TCPAddr).Port
	otherPort := other.Listener.Addr().(*net.TCPAddr).Port

	var answers []string // every API answer body, scanned at the end
	if _, _, err := h.c.PutSecret(ctx, "PAYMENTS_KEY", []byte(paymentsKey)); err != nil {
		t.Fatal(err)
	}
	grants := fmt.Sprintf(`,"grants":{"http":[{"host":"127.0.0.1","scheme":"http","ports":[%d],"methods":["POST"]},`+
		`{"host":"localhost","scheme":"http","ports":[%d],"methods":["POST"]}],`+
		`"secrets":[{"name":"PAYMENTS_KEY","hosts":["127.0.0.1"]}]}`, payPort, otherPort)
	h.push(t, "refund", "1.0.0", wasm, grants+fmt.Sprintf(`,"config":{"payments_url":"http://127.0.0.1:%d"}`, payPort))
	h.push(t, "refund", "1.0.1", wasm, grants+fmt.Sprintf(`,"config":{"payments_url":"http://localhost:%d"}`, otherPort))

	invoke := func(ref string) (ok bool, receipt string) {
		res, err := h.c.Invoke(ctx, "refund", []byte(`{"order_id":"A-1001","amount_cents":1250}`), client.InvokeOptions{Ref: ref})
		var ce *client.Error
		switch {
		case err == nil:
			answers = append(answers, string(res.Output))
			return true, res.Receipt
		case errors.As(err, &ce):
			answers = append(answers, ce.Error())
			return false, ce.Receipt
		}
		t.Fatalf("invoke %s: %v", ref, err)
		return false, ""
	}
	okBound, rcptBound := invoke("1.0.0")
	_, rcptUnbound := invoke("1.0.1")

	if n := otherHits.Load(); n != 0 {
		t.Errorf("the unbound host got %d requests: the key must never be sent there", n)
	}
	if okBound {
		if payHits.Load() != 1 || gotAuth.Load() != "Bearer "+paymentsKey {
			t.Errorf("payments stub: got %d hits with Authorization %q, want the key", payHits.Load(), gotAuth.Load())
		}
		if !strings.Contains(answers[0], "Bearer {{secret:PAYMENTS_KEY}}") {
			t.Errorf("output not masked back to the placeholder: %s", answers[0])
		}
	} else {
		t.Logf("the engine does not open the network door (%s); checking that nothing left and nothing leaked", answers[0])
		if n := payHits.Load(); n != 0 {
			t.Errorf("payments stub got %d requests from a call that failed", n)
		}
	}

	for _, id := range []string{rcptBound, rcptUnbound} {
		if id == "" {
			t.Fatal("a call without a receipt")
		}
		r, err := h.c.Receipt(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		answers = append(answers, string(r))
		var rc struct {
			HTTP []struct {
				Host, Decision string
			} `json:"http"`
			Secrets map[string]string `json:"secrets"`
		}
		if err := json.Unmarshal(r, &rc); err != nil {
			t.Fatal(err)
		}
		if len(rc.HTTP) == 0 {
			t.Errorf("receipt %s has no http line: %s", id, r)
		}
		if okBound && id == rcptUnbound && rc.Secrets["PAYMENTS_KEY"] != "refused:localhost" {
			t.Errorf("receipt %s: secrets got %v, want PAYMENTS_KEY refused for localhost", id, rc.Secrets)
		}
	}
	for _, p := range []string{"/v1/receipts", "/v1/secrets", "/v1/tools/refund", "/v1/tools/refund/versions/1.0.0"} {
		_, _, _, body := h.raw(t, "GET", p, nil, nil)
		answers = append(answers, string(body))
	}
	// The log holds the secret's events (never its value) beside the receipts.
	entries, _, err := h.c.LogEntries(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var sawSet bool
	for _, e := range entries {
		answers = append(answers, string(e.Data))
		sawSet = sawSet || bytes.Contains(e.Data, []byte(`"secret:PAYMENTS_KEY"`)) && bytes.Contains(e.Data, []byte("secret_set"))
	}
	if !sawSet {
		t.Error("no secret_set event in the log")
	}
	resp, err := http.Get(h.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	answers = append(answers, string(metrics), h.log.String())

	for i, a := range answers {
		if strings.Contains(a, paymentsKey) {
			t.Errorf("the key's value leaked into answer %d: %s", i, a)
		}
	}
	if f := diskContains(t, h.dir, []byte(paymentsKey)); f != "" {
		t.Errorf("the key's value is on disk in plaintext: %s", f)
	}
}
