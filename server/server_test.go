package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/toolgate/toolgate/plugins"
	tgbadger "github.com/toolgate/toolgate/registry/badger"
	"github.com/toolgate/toolgate/runtime"
	"github.com/toolgate/toolgate/sdk/client"
	"github.com/toolgate/toolgate/server"
)

// harness is a real server on a real loopback port over a Badger store in a temp dir.
type harness struct {
	url   string
	token string
	c     *client.Client
	store *tgbadger.Store
}

func start(t *testing.T) *harness {
	t.Helper()
	return serve(t, t.TempDir(), runtime.Config{}, server.Config{MaxModuleBytes: 1 << 20}, tgbadger.Options{})
}

// serve starts a real server on a loopback port over a Badger store in dir/db, with an admin key. rc and sc are
// the runtime's and the server's configuration; serve fills in the compilation cache, the stores and the
// runtime. Everything is closed when the test ends.
func serve(tb testing.TB, dir string, rc runtime.Config, sc server.Config, so tgbadger.Options) *harness {
	tb.Helper()
	ctx := context.Background()
	store, err := tgbadger.Open(filepath.Join(dir, "db"), so)
	if err != nil {
		tb.Fatal(err)
	}
	rc.CacheDir = filepath.Join(dir, "cache")
	rt, err := runtime.New(ctx, rc)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := server.EnsureAdminKey(ctx, store, dir, time.Now()); err != nil {
		tb.Fatal(err)
	}
	tok, err := os.ReadFile(filepath.Join(dir, server.AdminTokenFile))
	if err != nil {
		tb.Fatal(err)
	}
	sc.Store, sc.Keys, sc.Receipts, sc.Runtime = store, store, store, rt
	srv, err := server.New(sc)
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go srv.Serve(ln)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		rt.Close(ctx)
		store.Close()
	})
	h := &harness{url: "http://" + ln.Addr().String(), token: strings.TrimSpace(string(tok)), store: store}
	h.c = client.New(h.url, h.token, nil)
	return h
}

// raw sends a request and returns status, headers and the decoded error code (if any).
func (h *harness) raw(t *testing.T, method, path string, body []byte, hdr map[string]string) (int, http.Header, string, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, h.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+h.token)
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var eb struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(b, &eb)
	return resp.StatusCode, resp.Header, eb.Error.Code, b
}

func (h *harness) push(t *testing.T, name, version string, wasm []byte, extra string) client.Version {
	t.Helper()
	ctx := context.Background()
	m, _, err := h.c.PushModule(ctx, wasm)
	if err != nil {
		t.Fatalf("push module: %v", err)
	}
	doc := fmt.Sprintf(`{"module":%q%s}`, m.Digest, extra)
	v, _, err := h.c.PutVersion(ctx, name, version, []byte(doc))
	if err != nil {
		t.Fatalf("publish %s@%s: %v", name, version, err)
	}
	return v
}

// snapshot is the observable registry state, to show a bad request changed nothing.
func (h *harness) snapshot(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	tools, err := h.c.Tools(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, tl := range tools {
		hist, err := h.c.History(ctx, tl.Name)
		if err != nil {
			t.Fatal(err)
		}
		j, _ := json.Marshal(struct {
			T client.Tool
			H []client.Event
		}{tl, hist})
		b.Write(j)
	}
	return b.String()
}

func TestAuth(t *testing.T) {
	h := start(t)
	for _, tc := range []struct {
		name, header string
	}{
		{"missing", ""},
		{"not bearer", "Basic abc"},
		{"malformed", "Bearer nope"},
		{"unknown id", "Bearer tg_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{"wrong secret", "Bearer " + h.token[:len(h.token)-4] + "AAAA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, code, _ := h.raw(t, "GET", "/v1/tools", nil, map[string]string{"Authorization": tc.header})
			if status != 401 || code != "unauthorized" {
				t.Errorf("got %d %q, want 401 unauthorized", status, code)
			}
		})
	}
	if status, _, _, _ := h.raw(t, "GET", "/v1/tools", nil, nil); status != 200 {
		t.Errorf("valid token: got %d, want 200", status)
	}
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		if status, _, _, _ := h.raw(t, "GET", p, nil, map[string]string{"Authorization": ""}); status != 200 {
			t.Errorf("%s without token: got %d, want 200", p, status)
		}
	}
}

func TestUploadModule(t *testing.T) {
	h := start(t)
	echo := plugins.WAT("echo")
	status, _, _, body := h.raw(t, "POST", "/v1/modules", echo, nil)
	if status != 201 {
		t.Fatalf("first upload: got %d %s, want 201", status, body)
	}
	var m client.Module
	if err := json.Unmarshal(body, &m); err != nil || !strings.HasPrefix(m.Digest, "sha256:") || m.Size != int64(len(echo)) {
		t.Fatalf("got %s, want the module's digest and size", body)
	}
	if status, _, _, _ := h.raw(t, "POST", "/v1/modules", echo, nil); status != 200 {
		t.Errorf("second upload: got %d, want 200", status)
	}
	status, _, _, wasm := h.raw(t, "GET", "/v1/modules/"+m.Digest+"/wasm", nil, nil)
	if status != 200 || !bytes.Equal(wasm, echo) {
		t.Errorf("download: got %d and %d bytes, want 200 and the uploaded bytes", status, len(wasm))
	}
	before := h.snapshot(t)
	for _, tc := range []struct {
		name   string
		body   []byte
		status int
		code   string
		reason string
	}{
		{"empty", nil, 400, "invalid_module", ""},
		{"not wasm", []byte("hello, world"), 400, "invalid_module", ""},
		{"truncated", echo[:len(echo)/2], 400, "invalid_module", ""},
		{"unknown import", plugins.WAT("badimport"), 400, "invalid_module", "env.nope"},
		{"over the size limit", append(append([]byte{}, echo...), make([]byte, 1<<20)...), 413, "too_large", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, code, body := h.raw(t, "POST", "/v1/modules", tc.body, nil)
			if status != tc.status || code != tc.code {
				t.Errorf("got %d %q (%s), want %d %q", status, code, body, tc.status, tc.code)
			}
			if !strings.Contains(string(body), tc.reason) {
				t.Errorf("got %s, want the reason to name %q", body, tc.reason)
			}
		})
	}
	if after := h.snapshot(t); after != before {
		t.Errorf("bad uploads changed the registry:\n%s\n%s", before, after)
	}
	if status, _, code, _ := h.raw(t, "GET", "/v1/modules/sha256:"+strings.Repeat("0", 64), nil, nil); status != 404 || code != "not_found" {
		t.Errorf("unknown module: got %d %q, want 404 not_found", status, code)
	}
}

func TestPublish(t *testing.T) {
	h := start(t)
	v := h.push(t, "echo", "1.0.0", plugins.WAT("echo"), `,"description":"echo"`)
	if !v.Pinned {
		t.Errorf("first version: got pinned=false, want it pinned automatically")
	}
	var doc map[string]any
	if err := json.Unmarshal(v.Document, &doc); err != nil || doc["abi"] != "extism" || doc["entry"] != "run" {
		t.Errorf("got document %s, want abi and entry settled", v.Document)
	}
	if lim, _ := doc["limits"].(map[string]any); lim["memory_bytes"] == nil || lim["timeout_ms"] == nil {
		t.Errorf("got limits %v, want the server's defaults filled in", doc["limits"])
	}
	digest := v.Module
	put := func(name, version, doc string) (int, string, []byte) {
		status, _, code, body := h.raw(t, "PUT", "/v1/tools/"+name+"/versions/"+version, []byte(doc), nil)
		return status, code, body
	}
	same := fmt.Sprintf(`{"module":%q,"description":"echo"}`, digest)
	if status, _, body := put("echo", "1.0.0", same); status != 200 {
		t.Errorf("identical republish: got %d %s, want 200", status, body)
	}
	before := h.snapshot(t)
	for _, tc := range []struct {
		name, tool, version, doc string
		status                   int
		code                     string
	}{
		{"conflict", "echo", "1.0.0", fmt.Sprintf(`{"module":%q,"description":"other"}`, digest), 409, "version_conflict"},
		{"unknown field", "echo", "1.1.0", fmt.Sprintf(`{"module":%q,"colour":"red"}`, digest), 422, "invalid_document"},
		{"unknown limit", "echo", "1.1.0", fmt.Sprintf(`{"module":%q,"limits":{"cpu":1}}`, digest), 422, "invalid_document"},
		{"unknown module", "echo", "1.1.0", `{"module":"sha256:` + strings.Repeat("a", 64) + `"}`, 422, "unknown_module"},
		{"malformed digest", "echo", "1.1.0", `{"module":"md5:abc"}`, 422, "invalid_document"},
		{"not json", "echo", "1.1.0", `{"module":`, 422, "invalid_document"},
		{"missing export", "echo", "1.1.0", fmt.Sprintf(`{"module":%q,"entry":"nope"}`, digest), 422, "missing_export"},
		{"over the ceiling", "echo", "1.1.0", fmt.Sprintf(`{"module":%q,"limits":{"memory_bytes":99999999999}}`, digest), 422, "invalid_document"},
		{"zero timeout", "echo", "1.1.0", fmt.Sprintf(`{"module":%q,"limits":{"timeout_ms":0}}`, digest), 422, "invalid_document"},
		{"unknown abi", "echo", "1.1.0", fmt.Sprintf(`{"module":%q,"abi":"wasix"}`, digest), 422, "invalid_document"},
		{"secret to an ungranted host", "echo", "1.1.0", fmt.Sprintf(`{"module":%q,"grants":{"secrets":[{"name":"K","hosts":["a.example"]}]}}`, digest), 422, "invalid_document"},
		{"malformed semver", "echo", "1.0", same, 400, "invalid_version"},
		{"leading zero", "echo", "01.0.0", same, 400, "invalid_version"},
		{"bad tool name", "Echo", "1.0.0", same, 400, "invalid_name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, code, body := put(tc.tool, tc.version, tc.doc)
			if status != tc.status || code != tc.code {
				t.Errorf("got %d %q (%s), want %d %q", status, code, body, tc.status, tc.code)
			}
		})
	}
	if after := h.snapshot(t); after != before {
		t.Errorf("bad publishes changed the registry:\n%s\n%s", before, after)
	}
	status, _, code, _ := h.raw(t, "GET", "/v1/tools/echo/versions/9.9.9", nil, nil)
	if status != 404 || code != "not_found" {
		t.Errorf("unknown version: got %d %q, want 404 not_found", status, code)
	}
}

func TestInvokeAndReceipts(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	v1 := h.push(t, "echo", "1.0.0", plugins.WAT("echo"), `,"limits":{"max_input_bytes":1024}`)
	h.push(t, "trap", "1.0.0", plugins.WAT("trap"), "")
	h.push(t, "fail", "1.0.0", plugins.WAT("fail"), "")

	res, err := h.c.Invoke(ctx, "echo", []byte("héllo"), client.InvokeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Output) != "héllo" || res.Module != v1.Module || res.Version != "1.0.0" || res.Receipt == "" {
		t.Errorf("got %+v, want the echoed input with module, version and receipt headers", res)
	}
	raw, err := h.c.Receipt(ctx, res.Receipt)
	if err != nil {
		t.Fatal(err)
	}
	var rc map[string]any
	if err := json.Unmarshal(raw, &rc); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"tool": "echo", "version": "1.0.0", "module": v1.Module,
		"manifest": v1.Manifest, "status": "ok", "id": res.Receipt} {
		if rc[k] != want {
			t.Errorf("receipt %s: got %v, want %v", k, rc[k], want)
		}
	}
	if in := rc["input"].(map[string]any); in["bytes"] != float64(len("héllo")) {
		t.Errorf("receipt input: got %v", in)
	}
	if mem := rc["memory"].(map[string]any); mem["peak_bytes"].(float64) <= 0 {
		t.Errorf("receipt memory: got %v, want a peak", mem)
	}

	for _, tc := range []struct {
		name, tool string
		input      []byte
		status     int
		code       string
		msg        string
	}{
		{"trap", "trap", nil, 422, "trap", ""},
		{"tool error", "fail", nil, 422, "tool_error", "insufficient funds"},
		{"input over the cap", "echo", make([]byte, 2048), 413, "input_too_large", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, hdr, code, body := h.raw(t, "POST", "/v1/tools/"+tc.tool+"/invoke", tc.input, nil)
			if status != tc.status || code != tc.code || !strings.Contains(string(body), tc.msg) {
				t.Fatalf("got %d %q %s, want %d %q with %q", status, code, body, tc.status, tc.code, tc.msg)
			}
			id := hdr.Get("Toolgate-Receipt")
			var eb struct{ Receipt string }
			json.Unmarshal(body, &eb)
			if id == "" || eb.Receipt != id {
				t.Fatalf("got receipt header %q and body %q, want the same receipt in both", id, eb.Receipt)
			}
			raw, err := h.c.Receipt(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(raw), `"status":"`+tc.code+`"`) {
				t.Errorf("receipt %s, want status %s", raw, tc.code)
			}
		})
	}
	if status, _, code, _ := h.raw(t, "POST", "/v1/tools/nope/invoke", nil, nil); status != 404 || code != "not_found" {
		t.Errorf("unknown tool: got %d %q, want 404 not_found", status, code)
	}
	// Failures were receipted; listing filters by tool and status and pages with a cursor.
	page, _, err := h.c.Receipts(ctx, client.ReceiptFilter{Status: "trap"})
	if err != nil || len(page) != 1 {
		t.Errorf("receipts?status=trap: got %d (%v), want 1", len(page), err)
	}
	seen := map[string]bool{}
	cursor := ""
	for {
		page, next, err := h.c.Receipts(ctx, client.ReceiptFilter{Limit: 1, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page {
			var x struct{ ID string }
			json.Unmarshal(r, &x)
			if seen[x.ID] {
				t.Errorf("receipt %s listed twice", x.ID)
			}
			seen[x.ID] = true
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != 4 {
		t.Errorf("paged through %d receipts, want 4", len(seen))
	}
	status, _, _, body := h.raw(t, "GET", "/metrics", nil, nil)
	if status != 200 || !strings.Contains(string(body), `toolgate_calls_total{status="trap",tool="trap"} 1`) {
		t.Errorf("metrics: got %d, want toolgate_calls_total for the trap", status)
	}
}

func TestPinRollbackRef(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	v1 := h.push(t, "greet", "1.0.0", plugins.WAT("echo"), "")
	v2 := h.push(t, "greet", "2.0.0", plugins.WAT("fail"), "")
	if v2.Pinned {
		t.Fatal("a later version was pinned without an explicit pin")
	}
	if _, err := h.c.Rollback(ctx, "greet", ""); !client.IsCode(err, "no_previous_pin") {
		t.Errorf("rollback with one pin: got %v, want no_previous_pin", err)
	}
	if _, err := h.c.Pin(ctx, "greet", "2.0.0", "ship it"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.c.Invoke(ctx, "greet", []byte("x"), client.InvokeOptions{}); !client.IsCode(err, "tool_error") {
		t.Errorf("invoke pinned 2.0.0: got %v, want tool_error", err)
	}
	res, err := h.c.Invoke(ctx, "greet", []byte("x"), client.InvokeOptions{Ref: "1.0.0"})
	if err != nil || res.Version != "1.0.0" {
		t.Errorf("invoke ?ref=1.0.0: got %+v %v", res, err)
	}
	res, err = h.c.Invoke(ctx, "greet", []byte("x"), client.InvokeOptions{Ref: v1.Module})
	if err != nil || res.Module != v1.Module {
		t.Errorf("invoke ?ref=digest: got %+v %v", res, err)
	}
	if _, err := h.c.Invoke(ctx, "greet", nil, client.InvokeOptions{Ref: "3.0.0"}); !client.IsCode(err, "not_found") {
		t.Errorf("invoke unknown ref: got %v, want not_found", err)
	}
	ev, err := h.c.Rollback(ctx, "greet", "bad deploy")
	if err != nil || ev.Version != "1.0.0" || ev.Kind != "rollback" || ev.From != "2.0.0" {
		t.Fatalf("rollback: got %+v %v", ev, err)
	}
	res, err = h.c.Invoke(ctx, "greet", []byte("x"), client.InvokeOptions{})
	if err != nil || res.Version != "1.0.0" {
		t.Errorf("invoke after rollback: got %+v %v, want 1.0.0", res, err)
	}
	if _, err := h.c.Pin(ctx, "greet", v2.Module, ""); err != nil {
		t.Errorf("pin by module: %v", err)
	}
	if _, err := h.c.Pin(ctx, "greet", "sha256:"+strings.Repeat("b", 64), ""); !client.IsCode(err, "not_found") {
		t.Errorf("pin a module of no version: got %v, want not_found", err)
	}
	status, _, code, _ := h.raw(t, "POST", "/v1/tools/greet/pin", []byte(`{"version":"1.0.0","extra":1}`), nil)
	if status != 400 || code != "invalid_request" {
		t.Errorf("pin with an unknown field: got %d %q, want 400 invalid_request", status, code)
	}
	hist, err := h.c.History(ctx, "greet")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range hist {
		kinds = append(kinds, e.Kind+":"+e.Version)
	}
	if got, want := strings.Join(kinds, " "), "pin:1.0.0 pin:2.0.0 rollback:1.0.0 pin:2.0.0"; got != want {
		t.Errorf("history: got %s, want %s", got, want)
	}
	if hist[2].Reason != "bad deploy" || !strings.HasPrefix(hist[2].Actor, "key:") {
		t.Errorf("rollback event: got %+v, want reason and actor", hist[2])
	}
}
