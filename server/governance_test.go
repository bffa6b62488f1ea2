package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/toolgate/toolgate/plugins"
	"github.com/toolgate/toolgate/registry"
	tgbadger "github.com/toolgate/toolgate/registry/badger"
	"github.com/toolgate/toolgate/runtime"
)

// clock is a settable clock for Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// gh is a real server on a loopback port over a Badger store in dir; restart reopens the same dir.
type gh struct {
	t     *testing.T
	dir   string
	mod   func(*Config)
	url   string
	admin string
	srv   *Server
	store *tgbadger.Store
	rt    *runtime.Runtime
}

func startGov(t *testing.T, mod func(*Config)) *gh {
	t.Helper()
	h := &gh{t: t, dir: t.TempDir(), mod: mod}
	h.start()
	t.Cleanup(h.stop)
	return h
}

func (h *gh) start() {
	t := h.t
	t.Helper()
	ctx := context.Background()
	store, err := tgbadger.Open(filepath.Join(h.dir, "db"), tgbadger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := runtime.New(ctx, runtime.Config{CacheDir: filepath.Join(h.dir, "cache")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureAdminKey(ctx, store, h.dir, time.Now()); err != nil {
		t.Fatal(err)
	}
	tok, err := os.ReadFile(filepath.Join(h.dir, AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Store: store, Keys: store, Receipts: store, Runtime: rt, MaxModuleBytes: 1 << 20}
	if h.mod != nil {
		h.mod(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	h.url, h.admin, h.srv, h.store, h.rt = "http://"+ln.Addr().String(), strings.TrimSpace(string(tok)), srv, store, rt
}

func (h *gh) stop() {
	if h.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.srv.Shutdown(ctx); err != nil {
		h.t.Errorf("Shutdown: %v", err)
	}
	h.rt.Close(ctx)
	h.store.Close()
	h.srv = nil
}

func (h *gh) restart() {
	h.stop()
	h.start()
}

// resp is one answer: status, headers, error code (if any) and body.
type resp struct {
	status int
	hdr    http.Header
	code   string
	body   []byte
}

func (h *gh) do(token, method, path string, body []byte, hdr map[string]string) resp {
	h.t.Helper()
	req, err := http.NewRequest(method, h.url+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var eb struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(b, &eb)
	return resp{res.StatusCode, res.Header, eb.Error.Code, b}
}

// push uploads wasm and publishes it as name@version with the extra document fields, as admin.
func (h *gh) push(name, version string, wasm []byte, extra string) (digest, doc string) {
	h.t.Helper()
	r := h.do(h.admin, "POST", "/v1/modules", wasm, nil)
	var m struct{ Digest string }
	if err := json.Unmarshal(r.body, &m); err != nil || r.status >= 300 {
		h.t.Fatalf("upload: %d %s", r.status, r.body)
	}
	doc = fmt.Sprintf(`{"module":%q%s}`, m.Digest, extra)
	if r := h.do(h.admin, "PUT", "/v1/tools/"+name+"/versions/"+version, []byte(doc), nil); r.status >= 300 {
		h.t.Fatalf("publish %s@%s: %d %s", name, version, r.status, r.body)
	}
	return m.Digest, doc
}

// key creates a key with the given request body, as admin, and returns its id and token.
func (h *gh) key(body string) (id, token string) {
	h.t.Helper()
	r := h.do(h.admin, "POST", "/v1/keys", []byte(body), nil)
	var k struct{ ID, Token string }
	if err := json.Unmarshal(r.body, &k); err != nil || r.status != 201 || k.Token == "" {
		h.t.Fatalf("create key %s: %d %s", body, r.status, r.body)
	}
	return k.ID, k.Token
}

func (h *gh) receiptCount() int {
	h.t.Helper()
	r := h.do(h.admin, "GET", "/v1/receipts?limit=1000", nil, nil)
	var page struct{ Receipts []json.RawMessage }
	if err := json.Unmarshal(r.body, &page); err != nil {
		h.t.Fatalf("receipts: %d %s", r.status, r.body)
	}
	return len(page.Receipts)
}

// TestPermissions_CoverRoutes checks that every /v1 route the server registers has a row in the permission
// matrix (a route without one is admin-only), and that every row names a distinct route.
func TestPermissions_CoverRoutes(t *testing.T) {
	h := startGov(t, nil)
	rows := map[string]bool{}
	for _, p := range permissions {
		k := p.Method + " " + p.Path
		if rows[k] {
			t.Errorf("permission %s: listed twice", k)
		}
		rows[k] = true
	}
	for _, r := range h.srv.app.GetRoutes(true) {
		if !strings.HasPrefix(r.Path, "/v1/") || r.Method == http.MethodHead {
			continue
		}
		if !rows[r.Method+" "+r.Path] {
			t.Errorf("route %s %s has no row in the permission matrix (server/authz.go)", r.Method, r.Path)
		}
	}
}

// TestPermissions_Matrix calls every route of the matrix with a key of every role, unscoped and scoped to
// "in-*", on a tool in scope and one out of it: an allowed call answers anything but 403, a denied one 403
// forbidden. The expectations below are written out independently of the table in authz.go.
func TestPermissions_Matrix(t *testing.T) {
	h := startGov(t, nil)
	echo := plugins.WAT("echo")
	digest, doc := h.push("in-tool", "1.0.0", echo, "")
	_, outDoc := h.push("out-tool", "1.0.0", echo, "")
	inv := h.do(h.admin, "POST", "/v1/tools/in-tool/invoke", []byte("x"), nil)
	rcpt := inv.hdr.Get("Toolgate-Receipt")
	if rcpt == "" {
		t.Fatalf("invoke: %d %s", inv.status, inv.body)
	}
	const none = "0000000000000000" // a key id that does not exist

	// route is the pattern in the matrix; {tool} in path is replaced by the tool under test.
	type spec struct {
		method, route, path, body string
		roles                     string // roles besides admin that may call it
		scoped                    bool
	}
	specs := []spec{
		{"POST", "/v1/modules", "/v1/modules", string(echo), "publisher", false},
		{"GET", "/v1/modules/:digest", "/v1/modules/" + digest, "", "publisher auditor", false},
		{"GET", "/v1/modules/:digest/wasm", "/v1/modules/" + digest + "/wasm", "", "publisher auditor", false},
		{"GET", "/v1/tools", "/v1/tools", "", "publisher invoker auditor", false},
		{"GET", "/v1/tools/:name", "/v1/tools/{tool}", "", "publisher invoker auditor", true},
		{"GET", "/v1/tools/:name/versions/:version", "/v1/tools/{tool}/versions/1.0.0", "", "publisher invoker auditor", true},
		{"PUT", "/v1/tools/:name/versions/:version", "/v1/tools/{tool}/versions/1.0.0", "{doc}", "publisher", true},
		{"POST", "/v1/tools/:name/pin", "/v1/tools/{tool}/pin", `{"version":"1.0.0"}`, "publisher", true},
		{"POST", "/v1/tools/:name/rollback", "/v1/tools/{tool}/rollback", "", "publisher", true},
		{"GET", "/v1/tools/:name/history", "/v1/tools/{tool}/history", "", "publisher auditor", true},
		{"POST", "/v1/tools/:name/invoke", "/v1/tools/{tool}/invoke", "hi", "invoker", true},
		{"GET", "/v1/receipts", "/v1/receipts", "", "auditor", false},
		{"GET", "/v1/receipts/:id", "/v1/receipts/" + rcpt, "", "auditor", false},
		{"GET", "/v1/receipts/:id/proof", "/v1/receipts/" + rcpt + "/proof", "", "auditor", false},
		{"GET", "/v1/log/checkpoint", "/v1/log/checkpoint", "", "auditor", false},
		{"GET", "/v1/log/consistency", "/v1/log/consistency?from=1&to=1", "", "auditor", false},
		{"GET", "/v1/log/entries", "/v1/log/entries", "", "auditor", false},
		{"GET", "/v1/log/proof", "/v1/log/proof", "", "auditor", false},
		{"GET", "/v1/log/key", "/v1/log/key", "", "auditor", false},
		{"GET", "/v1/usage", "/v1/usage", "", "auditor", false},
		{"PUT", "/v1/secrets/:name", "/v1/secrets/MATRIX", "value", "", false},
		{"GET", "/v1/secrets", "/v1/secrets", "", "", false},
		{"DELETE", "/v1/secrets/:name", "/v1/secrets/NOPE", "", "", false},
		{"POST", "/v1/keys", "/v1/keys", `{"name":"m","role":"auditor"}`, "", false},
		{"GET", "/v1/keys", "/v1/keys", "", "", false},
		{"GET", "/v1/keys/:id", "/v1/keys/" + none, "", "", false},
		{"DELETE", "/v1/keys/:id", "/v1/keys/" + none, "", "", false},
		{"POST", "/v1/keys/:id/disable", "/v1/keys/" + none + "/disable", "", "", false},
		{"POST", "/v1/keys/:id/enable", "/v1/keys/" + none + "/enable", "", "", false},
	}

	// Every row of the matrix is exercised, and nothing else.
	covered := map[string]bool{}
	for _, s := range specs {
		covered[s.method+" "+s.route] = true
	}
	for _, p := range permissions {
		if !covered[p.Method+" "+p.Path] {
			t.Errorf("permission %s %s: not exercised by this test", p.Method, p.Path)
		}
		delete(covered, p.Method+" "+p.Path)
	}
	for k := range covered {
		t.Errorf("route %s: exercised here but not in the permission matrix", k)
	}
	registered := map[string]bool{}
	for _, r := range h.srv.app.GetRoutes(true) {
		registered[r.Method+" "+r.Path] = true
	}

	type key struct {
		name, role, token string
		scoped            bool
	}
	keys := []key{{"admin", registry.RoleAdmin, h.admin, false}}
	for _, role := range []string{registry.RolePublisher, registry.RoleInvoker, registry.RoleAuditor} {
		_, tok := h.key(fmt.Sprintf(`{"name":"%s","role":%q}`, role, role))
		keys = append(keys, key{role, role, tok, false})
		_, tok = h.key(fmt.Sprintf(`{"name":"%s scoped","role":%q,"tools":["in-*"]}`, role, role))
		keys = append(keys, key{role + "-scoped", role, tok, true})
	}

	calls := 0
	for _, s := range specs {
		if !registered[s.method+" "+s.route] {
			t.Logf("%s %s: not registered in this build; its row is checked when it is", s.method, s.route)
			continue
		}
		tools := []string{""}
		if strings.Contains(s.path, "{tool}") {
			tools = []string{"in-tool", "out-tool"}
		}
		for _, k := range keys {
			for _, tool := range tools {
				body := s.body
				if body == "{doc}" {
					body = doc
					if tool == "out-tool" {
						body = outDoc
					}
				}
				path := strings.ReplaceAll(s.path, "{tool}", tool)
				want := k.role == registry.RoleAdmin ||
					strings.Contains(" "+s.roles+" ", " "+k.role+" ") && (!s.scoped || !k.scoped || tool == "in-tool")
				r := h.do(k.token, s.method, path, []byte(body), nil)
				calls++
				switch {
				case want && r.status == http.StatusForbidden:
					t.Errorf("%s %s as %s: got 403 %s, want it allowed", s.method, path, k.name, r.body)
				case !want && (r.status != http.StatusForbidden || r.code != CodeForbidden):
					t.Errorf("%s %s as %s: got %d %s, want 403 forbidden", s.method, path, k.name, r.status, r.body)
				case want && r.status >= 500:
					t.Errorf("%s %s as %s: got %d %s, want an answer", s.method, path, k.name, r.status, r.body)
				}
			}
		}
	}
	t.Logf("%d calls", calls)

	// Fiber routes case-insensitively and ignores a trailing slash; so does the matrix.
	_, invTok := h.key(`{"name":"inv","role":"invoker","tools":["in-*"]}`)
	for _, p := range []string{"/v1/TOOLS/out-tool/invoke", "/v1/tools/out-tool/invoke/"} {
		if r := h.do(invTok, "POST", p, nil, nil); r.status != http.StatusForbidden {
			t.Errorf("POST %s as a scoped invoker: got %d %s, want 403", p, r.status, r.body)
		}
	}
	// A request that matches no route is a 404 for every role, not a 403.
	if r := h.do(invTok, "GET", "/v1/nope", nil, nil); r.status != http.StatusNotFound {
		t.Errorf("GET /v1/nope: got %d, want 404", r.status)
	}
}

func TestKey_InScope(t *testing.T) {
	for _, tc := range []struct {
		globs []string
		tool  string
		want  bool
	}{
		{nil, "anything", true},
		{[]string{}, "anything", true},
		{[]string{"echo"}, "echo", true},
		{[]string{"echo"}, "echo-2", false},
		{[]string{"pay-*"}, "pay-eu", true},
		{[]string{"pay-*"}, "pay-", true},
		{[]string{"pay-*"}, "payroll", false},
		{[]string{"pay-*"}, "x-pay-eu", false},
		{[]string{"*"}, "a", true},
		{[]string{"?cho"}, "echo", true},
		{[]string{"?cho"}, "eecho", false},
		{[]string{"[a-c]*"}, "billing", true},
		{[]string{"[a-c]*"}, "deploy", false},
		{[]string{"[^a-c]*"}, "deploy", true},
		{[]string{"echo", "pay-*"}, "pay-us", true},
		{[]string{"echo", "pay-*"}, "wc", false},
	} {
		k := registry.Key{Role: registry.RoleInvoker, Tools: tc.globs}
		if got := k.InScope(tc.tool); got != tc.want {
			t.Errorf("%v admits %q: got %v, want %v", tc.globs, tc.tool, got, tc.want)
		}
	}
}

func TestKeys(t *testing.T) {
	clk := &clock{t: time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)}
	h := startGov(t, func(c *Config) { c.Now = clk.Now })
	h.push("echo", "1.0.0", plugins.WAT("echo"), "")
	h.push("pay-eu", "1.0.0", plugins.WAT("echo"), "")
	h.push("wc", "1.0.0", plugins.WAT("echo"), "")

	for _, tc := range []struct{ name, body string }{
		{"unknown field", `{"name":"x","role":"invoker","colour":"red"}`},
		{"no name", `{"role":"invoker"}`},
		{"control character in name", `{"name":"a\u0007","role":"invoker"}`},
		{"unknown role", `{"name":"x","role":"root"}`},
		{"scoped admin", `{"name":"x","role":"admin","tools":["echo"]}`},
		{"glob with a slash", `{"name":"x","role":"invoker","tools":["a/b"]}`},
		{"malformed glob", `{"name":"x","role":"invoker","tools":["["]}`},
		{"empty glob", `{"name":"x","role":"invoker","tools":[""]}`},
		{"zero rps", `{"name":"x","role":"invoker","rate":{"rps":0}}`},
		{"negative burst", `{"name":"x","role":"invoker","rate":{"rps":1,"burst":-1}}`},
		{"unknown rate field", `{"name":"x","role":"invoker","rate":{"rps":1,"per":"minute"}}`},
		{"zero fuel quota", `{"name":"x","role":"invoker","fuel_quota":{"fuel":0,"window":"24h"}}`},
		{"sub-hour window", `{"name":"x","role":"invoker","fuel_quota":{"fuel":1,"window":"90m"}}`},
		{"malformed window", `{"name":"x","role":"invoker","fuel_quota":{"fuel":1,"window":"1 day"}}`},
		{"expiry in the past", `{"name":"x","role":"invoker","expires_at":"2029-12-31T00:00:00Z"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := h.do(h.admin, "POST", "/v1/keys", []byte(tc.body), nil); r.status != 400 || r.code != CodeInvalidRequest {
				t.Errorf("got %d %s, want 400 invalid_request", r.status, r.body)
			}
		})
	}

	r := h.do(h.admin, "POST", "/v1/keys", []byte(`{"name":"ci","role":"invoker","tools":["echo","pay-*"],
		"rate":{"rps":2.5},"fuel_quota":{"fuel":1000000,"window":"24h"},"expires_at":"2030-01-01T12:00:00Z"}`), nil)
	var created struct {
		keyView
		Token string `json:"token"`
	}
	if err := json.Unmarshal(r.body, &created); err != nil || r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	if !strings.HasPrefix(created.Token, "tg_"+created.ID+"_") || created.Role != "invoker" || created.State != "active" ||
		created.Rate == nil || created.Rate.Burst != 3 || created.FuelQuota.Window != "24h0m0s" ||
		!strings.HasPrefix(created.CreatedBy, "key:") {
		t.Errorf("created key: got %s", r.body)
	}
	tok := created.Token

	// The token works, within its scopes; the listing shows only the tools in scope.
	if r := h.do(tok, "POST", "/v1/tools/pay-eu/invoke", []byte("x"), nil); r.status != 200 {
		t.Errorf("invoke in scope: got %d %s", r.status, r.body)
	}
	if r := h.do(tok, "POST", "/v1/tools/wc/invoke", []byte("x"), nil); r.status != 403 {
		t.Errorf("invoke out of scope: got %d %s, want 403", r.status, r.body)
	}
	r = h.do(tok, "GET", "/v1/tools", nil, nil)
	if !strings.Contains(string(r.body), `"echo"`) || !strings.Contains(string(r.body), `"pay-eu"`) || strings.Contains(string(r.body), `"wc"`) {
		t.Errorf("tool listing of a scoped key: got %s, want echo and pay-eu only", r.body)
	}

	// The listing never shows a token or its hash.
	r = h.do(h.admin, "GET", "/v1/keys", nil, nil)
	if r.status != 200 || strings.Contains(string(r.body), "token") || strings.Contains(string(r.body), tok[20:]) ||
		!strings.Contains(string(r.body), created.ID) {
		t.Errorf("GET /v1/keys: got %d %s", r.status, r.body)
	}
	if r := h.do(h.admin, "GET", "/v1/keys/"+created.ID, nil, nil); r.status != 200 || strings.Contains(string(r.body), "token") {
		t.Errorf("GET /v1/keys/{id}: got %d %s", r.status, r.body)
	}
	if r := h.do(h.admin, "GET", "/v1/keys/not-an-id", nil, nil); r.status != 400 {
		t.Errorf("GET /v1/keys/not-an-id: got %d, want 400", r.status)
	}

	// Disable, enable.
	if r := h.do(h.admin, "POST", "/v1/keys/"+created.ID+"/disable", nil, nil); r.status != 200 || !strings.Contains(string(r.body), `"state":"disabled"`) {
		t.Errorf("disable: got %d %s", r.status, r.body)
	}
	if r := h.do(tok, "GET", "/v1/tools", nil, nil); r.status != 401 || !strings.Contains(string(r.body), "disabled") {
		t.Errorf("disabled key: got %d %s, want 401", r.status, r.body)
	}
	if r := h.do(h.admin, "POST", "/v1/keys/"+created.ID+"/enable", nil, nil); r.status != 200 {
		t.Errorf("enable: got %d %s", r.status, r.body)
	}
	if r := h.do(tok, "GET", "/v1/tools", nil, nil); r.status != 200 {
		t.Errorf("re-enabled key: got %d %s", r.status, r.body)
	}

	// Expiry: at 12:00 the key stops working.
	clk.Add(2 * time.Hour)
	if r := h.do(tok, "GET", "/v1/tools", nil, nil); r.status != 401 || !strings.Contains(string(r.body), "expired") {
		t.Errorf("expired key: got %d %s, want 401", r.status, r.body)
	}
	if r := h.do(h.admin, "GET", "/v1/keys/"+created.ID, nil, nil); !strings.Contains(string(r.body), `"state":"expired"`) {
		t.Errorf("expired key's view: got %s", r.body)
	}

	// Delete.
	if r := h.do(h.admin, "DELETE", "/v1/keys/"+created.ID, nil, nil); r.status != 204 {
		t.Errorf("delete: got %d %s", r.status, r.body)
	}
	if r := h.do(tok, "GET", "/v1/tools", nil, nil); r.status != 401 {
		t.Errorf("deleted key: got %d, want 401", r.status)
	}
	if r := h.do(h.admin, "DELETE", "/v1/keys/"+created.ID, nil, nil); r.status != 404 {
		t.Errorf("delete twice: got %d, want 404", r.status)
	}

	// The last active admin key cannot be deleted or disabled; once there is another, it can.
	adminID := strings.Split(h.admin, "_")[1]
	for _, p := range []string{"/v1/keys/" + adminID + "/disable", "/v1/keys/" + adminID} {
		method := map[bool]string{true: "POST", false: "DELETE"}[strings.HasSuffix(p, "disable")]
		if r := h.do(h.admin, method, p, nil, nil); r.status != 409 || r.code != CodeLastAdminKey {
			t.Errorf("%s %s of the last admin: got %d %s, want 409 last_admin_key", method, p, r.status, r.body)
		}
	}
	_, admin2 := h.key(`{"name":"second admin","role":"admin"}`)
	if r := h.do(admin2, "POST", "/v1/keys/"+adminID+"/disable", nil, nil); r.status != 200 {
		t.Errorf("disable the bootstrap admin with another admin: got %d %s", r.status, r.body)
	}
	if r := h.do(h.admin, "GET", "/v1/tools", nil, nil); r.status != 401 {
		t.Errorf("disabled bootstrap admin: got %d, want 401", r.status)
	}

	// Every key change is an event in the log, with its actor; none carries a token.
	r = h.do(admin2, "GET", "/v1/log/entries?limit=1000", nil, nil)
	var page struct{ Entries []struct{ Data []byte } }
	if err := json.Unmarshal(r.body, &page); err != nil {
		t.Fatalf("log entries: %d %s", r.status, r.body)
	}
	var events []string
	for _, e := range page.Entries {
		var ev struct{ Kind, Subject, Actor string }
		if json.Unmarshal(e.Data, &ev) == nil && strings.HasPrefix(ev.Kind, "key_") {
			events = append(events, ev.Kind+" "+ev.Subject+" by "+ev.Actor)
		}
		if bytes.Contains(e.Data, []byte(tok[20:])) {
			t.Errorf("log entry %s holds a token", e.Data)
		}
	}
	admin2ID := strings.Split(admin2, "_")[1]
	want := []string{
		"key_created key:" + created.ID + " by key:" + adminID,
		"key_updated key:" + created.ID + " by key:" + adminID,
		"key_updated key:" + created.ID + " by key:" + adminID,
		"key_deleted key:" + created.ID + " by key:" + adminID,
		"key_created key:" + admin2ID + " by key:" + adminID,
		"key_updated key:" + adminID + " by key:" + admin2ID,
	}
	if strings.Join(events, "\n") != strings.Join(want, "\n") {
		t.Errorf("key events in the log:\n%s\nwant\n%s", strings.Join(events, "\n"), strings.Join(want, "\n"))
	}
}

func retryAfterOf(t *testing.T, r resp) string {
	t.Helper()
	ra := r.hdr.Get("Retry-After")
	if ra == "" {
		t.Errorf("429 %s without Retry-After", r.body)
	}
	return ra
}

func TestRateLimit_Key(t *testing.T) {
	clk := &clock{t: time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)}
	h := startGov(t, func(c *Config) { c.Now = clk.Now })
	_, tok := h.key(`{"name":"r","role":"auditor","rate":{"rps":1,"burst":3}}`)
	_, slow := h.key(`{"name":"s","role":"auditor","rate":{"rps":0.1,"burst":1}}`)
	get := func(tok string) resp { return h.do(tok, "GET", "/v1/tools", nil, nil) }
	expect := func(tok string, n int, what string) {
		t.Helper()
		for i := range n {
			if r := get(tok); r.status != 200 {
				t.Fatalf("%s: request %d: got %d %s, want 200", what, i+1, r.status, r.body)
			}
		}
		r := get(tok)
		if r.status != 429 || r.code != CodeRateLimited {
			t.Fatalf("%s: request %d: got %d %s, want 429 rate_limited", what, n+1, r.status, r.body)
		}
		retryAfterOf(t, r)
	}
	expect(tok, 3, "the burst")
	if r := get(tok); r.hdr.Get("Retry-After") != "1" {
		t.Errorf("Retry-After at 1 rps: got %q, want 1", r.hdr.Get("Retry-After"))
	}
	clk.Add(time.Second)
	expect(tok, 1, "one second later")
	clk.Add(time.Hour)
	expect(tok, 3, "an hour later (the bucket holds at most its burst)")
	// Another key has its own bucket.
	expect(slow, 1, "a 0.1 rps key")
	if r := get(slow); r.hdr.Get("Retry-After") != "10" {
		t.Errorf("Retry-After at 0.1 rps: got %q, want 10", r.hdr.Get("Retry-After"))
	}
	// Keys without a rate are not limited.
	for i := range 20 {
		if r := get(h.admin); r.status != 200 {
			t.Fatalf("unlimited key, request %d: got %d", i, r.status)
		}
	}
}

func TestRateLimit_Tool(t *testing.T) {
	clk := &clock{t: time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)}
	h := startGov(t, func(c *Config) {
		c.Now = clk.Now
		c.ToolLimits = []ToolLimit{
			{Tool: "lim-*", Rate: &registry.Rate{RPS: 1, Burst: 2}},
			{Tool: "*", MaxConcurrent: 0},
		}
	})
	for _, name := range []string{"lim-a", "lim-b", "free"} {
		h.push(name, "1.0.0", plugins.WAT("echo"), "")
	}
	before := h.receiptCount()
	invoke := func(tool string) resp { return h.do(h.admin, "POST", "/v1/tools/"+tool+"/invoke", []byte("x"), nil) }
	for _, tool := range []string{"lim-a", "lim-b"} { // each tool has its own bucket
		for i := range 2 {
			if r := invoke(tool); r.status != 200 {
				t.Fatalf("%s call %d: got %d %s", tool, i+1, r.status, r.body)
			}
		}
		r := invoke(tool)
		if r.status != 429 || r.code != CodeRateLimited || retryAfterOf(t, r) != "1" {
			t.Errorf("%s call 3: got %d %s Retry-After %q, want 429 rate_limited after 1s", tool, r.status, r.body,
				r.hdr.Get("Retry-After"))
		}
	}
	for i := range 5 {
		if r := invoke("free"); r.status != 200 {
			t.Fatalf("free call %d: got %d %s", i+1, r.status, r.body)
		}
	}
	if got, want := h.receiptCount(), before+9; got != want {
		t.Errorf("receipts: got %d, want %d (a refused call runs nothing)", got, want)
	}
	clk.Add(time.Second)
	if r := invoke("lim-a"); r.status != 200 {
		t.Errorf("lim-a a second later: got %d %s", r.status, r.body)
	}
}

// slowDoc makes loop.wasm run until its 1 s timeout (with fuel for far longer, should metering be on): long
// enough for a second request sent at the same time to arrive while it runs, even on a loaded machine.
const slowDoc = `,"limits":{"timeout_ms":1000,"fuel":100000000000}`

// concurrently sends two requests at once and returns both answers.
func concurrently(f func() resp) (resp, resp) {
	var a, b resp
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a = f() }()
	go func() { defer wg.Done(); b = f() }()
	wg.Wait()
	return a, b
}

func TestRateLimit_Concurrency(t *testing.T) {
	h := startGov(t, func(c *Config) { c.ToolLimits = []ToolLimit{{Tool: "slow", MaxConcurrent: 1}} })
	h.push("slow", "1.0.0", plugins.WAT("loop"), slowDoc)
	a, b := concurrently(func() resp { return h.do(h.admin, "POST", "/v1/tools/slow/invoke", nil, nil) })
	if a.code == CodeRateLimited {
		a, b = b, a
	}
	if b.status != 429 || b.code != CodeRateLimited {
		t.Fatalf("two calls at once with a cap of 1: got %d %s and %d %s, want one 429 rate_limited", a.status,
			a.body, b.status, b.body)
	}
	retryAfterOf(t, b)
	if a.hdr.Get("Toolgate-Receipt") == "" {
		t.Errorf("the admitted call: got %d %s, want it run with a receipt", a.status, a.body)
	}
}

func TestQuota(t *testing.T) {
	clk := &clock{t: time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)}
	h := startGov(t, func(c *Config) { c.Now = clk.Now })
	h.push("echo", "1.0.0", plugins.WAT("echo"), "")
	const quota = `"fuel_quota":{"fuel":1000,"window":"24h"}`
	idA, tokA := h.key(`{"name":"a","role":"invoker",` + quota + `}`)
	idB, tokB := h.key(`{"name":"b","role":"invoker",` + quota + `}`)
	idC, tokC := h.key(`{"name":"c","role":"invoker",` + quota + `}`)
	// What the keys used before this server checked them: A one short of the quota, B all of it, C more than
	// all of it but in yesterday's window.
	err := h.store.AddUsage(context.Background(), []registry.Usage{
		{Key: idA, Tool: "echo", Start: clk.Now().Add(-time.Hour), Fuel: 999},
		{Key: idB, Tool: "echo", Start: clk.Now(), Fuel: 1000},
		{Key: idC, Tool: "echo", Start: clk.Now().Add(-11 * time.Hour), Fuel: 5000},
	})
	if err != nil {
		t.Fatal(err)
	}
	invoke := func(tok string) resp { return h.do(tok, "POST", "/v1/tools/echo/invoke", []byte("x"), nil) }
	before := h.receiptCount()
	r := invoke(tokB)
	if r.status != 429 || r.code != CodeQuotaExceeded || retryAfterOf(t, r) != "50400" {
		t.Errorf("key at its quota: got %d %s Retry-After %q, want 429 quota_exceeded until midnight (50400 s)",
			r.status, r.body, r.hdr.Get("Retry-After"))
	}
	if got := h.receiptCount(); got != before {
		t.Errorf("receipts after a refused call: got %d, want %d", got, before)
	}
	if r := invoke(tokC); r.status != 200 {
		t.Errorf("key over yesterday's quota: got %d %s, want 200", r.status, r.body)
	}
	r = invoke(tokA)
	if r.status != 200 {
		t.Fatalf("key one short of its quota: got %d %s, want 200 (a call starts while quota remains)", r.status, r.body)
	}
	// The call is charged what it used: with fuel metering, that spends the last unit; without, nothing.
	metered := r.hdr.Get("Toolgate-Fuel-Used") != "" && r.hdr.Get("Toolgate-Fuel-Used") != "0"
	r = invoke(tokA)
	if metered && (r.status != 429 || r.code != CodeQuotaExceeded) {
		t.Errorf("key past its quota after a metered call: got %d %s, want 429 quota_exceeded", r.status, r.body)
	}
	if !metered && r.status != 200 {
		t.Errorf("key one short of its quota after an unmetered call: got %d %s, want 200", r.status, r.body)
	}
	// A new window: B may call again.
	clk.Add(14 * time.Hour)
	if r := invoke(tokB); r.status != 200 {
		t.Errorf("key at yesterday's quota, the next day: got %d %s, want 200", r.status, r.body)
	}
}

func TestUsageAndCost(t *testing.T) {
	prices := Prices{FuelPerMillion: 2, PerMS: 0.5, EgressPerMB: 3}
	h := startGov(t, func(c *Config) { c.Prices = prices })
	h.push("echo", "1.0.0", plugins.WAT("echo"), "")
	h.push("fail", "1.0.0", plugins.WAT("fail"), "")
	invID, inv := h.key(`{"name":"i","role":"invoker"}`)
	adminID := strings.Split(h.admin, "_")[1]
	var costs, fuel = map[string]float64{}, map[string]uint64{}
	call := func(tok, id, tool string) {
		t.Helper()
		r := h.do(tok, "POST", "/v1/tools/"+tool+"/invoke", []byte("hello"), nil)
		raw := h.do(h.admin, "GET", "/v1/receipts/"+r.hdr.Get("Toolgate-Receipt"), nil, nil)
		var rc struct {
			WallNS int64   `json:"wall_ns"`
			Cost   float64 `json:"cost"`
			Fuel   *struct{ Used uint64 }
		}
		if err := json.Unmarshal(raw.body, &rc); err != nil {
			t.Fatalf("receipt: %d %s", raw.status, raw.body)
		}
		var used uint64
		if rc.Fuel != nil {
			used = rc.Fuel.Used
		}
		want := roundCost(float64(used)/1e6*2 + float64(rc.WallNS)/1e6*0.5)
		if rc.Cost != want || rc.Cost <= 0 {
			t.Errorf("receipt cost: got %v, want %v from wall %d ns and fuel %d", rc.Cost, want, rc.WallNS, used)
		}
		costs[id+"/"+tool] += rc.Cost
		fuel[id+"/"+tool] += used
	}
	for range 3 {
		call(inv, invID, "echo")
	}
	call(inv, invID, "fail") // failures are charged too
	call(h.admin, adminID, "echo")

	type row struct {
		Key, Tool string
		Calls     uint64
		Fuel      uint64
		Cost      float64
	}
	usage := func(q string) ([]row, row) {
		t.Helper()
		r := h.do(h.admin, "GET", "/v1/usage"+q, nil, nil)
		var out struct {
			Usage []row
			Total row
		}
		if err := json.Unmarshal(r.body, &out); err != nil || r.status != 200 {
			t.Fatalf("usage%s: %d %s", q, r.status, r.body)
		}
		return out.Usage, out.Total
	}
	check := func(rows []row, total row, want map[string]uint64) {
		t.Helper()
		var sum float64
		if len(rows) != len(want) {
			t.Errorf("usage: got %+v, want rows for %v", rows, want)
		}
		for _, x := range rows {
			k := x.Key + "/" + x.Tool
			if x.Calls != want[k] || x.Fuel != fuel[k] || !near(x.Cost, costs[k]) {
				t.Errorf("usage %s: got %+v, want %d calls, fuel %d, cost %v", k, x, want[k], fuel[k], costs[k])
			}
			sum += x.Cost
		}
		if !near(total.Cost, sum) {
			t.Errorf("usage total: got %+v, want cost %v", total, sum)
		}
	}
	all := map[string]uint64{invID + "/echo": 3, invID + "/fail": 1, adminID + "/echo": 1}
	rows, total := usage("")
	check(rows, total, all)
	if total.Calls != 5 {
		t.Errorf("total calls: got %d, want 5", total.Calls)
	}
	rows, total = usage("?key=" + invID + "&tool=echo")
	check(rows, total, map[string]uint64{invID + "/echo": 3})
	rows, _ = usage("?since=" + time.Now().Add(2*time.Hour).UTC().Format(time.RFC3339))
	if len(rows) != 0 {
		t.Errorf("usage since two hours ahead: got %+v, want none", rows)
	}
	for _, q := range []string{"?since=yesterday", "?key=nope", "?tool=Bad"} {
		if r := h.do(h.admin, "GET", "/v1/usage"+q, nil, nil); r.status != 400 {
			t.Errorf("usage%s: got %d, want 400", q, r.status)
		}
	}
	// Usage is kept across a restart (shutdown flushes it).
	h.restart()
	rows, total = usage("")
	check(rows, total, all)
}

// near compares sums of costs, which the server rounds to 1e-9 and adds in another order.
func near(a, b float64) bool { return math.Abs(a-b) < 1e-8 }

func TestIdempotency(t *testing.T) {
	h := startGov(t, nil)
	h.push("echo", "1.0.0", plugins.WAT("echo"), "")
	h.push("echo2", "1.0.0", plugins.WAT("echo"), "")
	h.push("fail", "1.0.0", plugins.WAT("fail"), "")
	h.push("slow", "1.0.0", plugins.WAT("loop"), slowDoc)
	_, inv := h.key(`{"name":"i","role":"invoker"}`)
	invoke := func(tok, tool, query, input, key string) resp {
		return h.do(tok, "POST", "/v1/tools/"+tool+"/invoke"+query, []byte(input), map[string]string{HeaderIdempotencyKey: key})
	}
	same := func(what string, a, b resp) {
		t.Helper()
		if b.status != a.status || !bytes.Equal(b.body, a.body) || b.hdr.Get(HeaderReplayed) != "true" {
			t.Errorf("%s: got %d %q replayed=%q, want %d %q replayed", what, b.status, b.body, b.hdr.Get(HeaderReplayed),
				a.status, a.body)
		}
		for _, hd := range []string{"Toolgate-Receipt", "Toolgate-Module", "Toolgate-Version", "Toolgate-Fuel-Used", "Content-Type"} {
			if b.hdr.Get(hd) != a.hdr.Get(hd) {
				t.Errorf("%s: header %s: got %q, want %q", what, hd, b.hdr.Get(hd), a.hdr.Get(hd))
			}
		}
	}

	first := invoke(h.admin, "echo", "", "hello", "k1")
	if first.status != 200 || string(first.body) != "hello" || first.hdr.Get("Toolgate-Receipt") == "" || first.hdr.Get(HeaderReplayed) != "" {
		t.Fatalf("first call: got %d %q %v", first.status, first.body, first.hdr)
	}
	n := h.receiptCount()
	same("retry", first, invoke(h.admin, "echo", "", "hello", "k1"))
	same("second retry", first, invoke(h.admin, "echo", "", "hello", "k1"))
	if got := h.receiptCount(); got != n {
		t.Errorf("receipts after retries: got %d, want %d (a replay runs nothing)", got, n)
	}
	// The receipt records the key.
	raw := h.do(h.admin, "GET", "/v1/receipts/"+first.hdr.Get("Toolgate-Receipt"), nil, nil)
	if !strings.Contains(string(raw.body), `"idempotency_key":"k1"`) {
		t.Errorf("receipt: got %s, want idempotency_key k1", raw.body)
	}

	t.Run("mismatch", func(t *testing.T) {
		for _, tc := range []struct{ name, query, input string }{
			{"other input", "", "bye"},
			{"other ref", "?ref=1.0.0", "hello"},
		} {
			r := invoke(h.admin, "echo", tc.query, tc.input, "k1")
			if r.status != 422 || r.code != CodeIdempotencyKeyReused {
				t.Errorf("%s: got %d %s, want 422 idempotency_key_reused", tc.name, r.status, r.body)
			}
		}
	})
	t.Run("scoped to key and tool", func(t *testing.T) {
		for _, tc := range []struct{ name, tok, tool string }{{"other tool", h.admin, "echo2"}, {"other key", inv, "echo"}} {
			r := invoke(tc.tok, tc.tool, "", "hello", "k1")
			if r.status != 200 || r.hdr.Get(HeaderReplayed) != "" || r.hdr.Get("Toolgate-Receipt") == first.hdr.Get("Toolgate-Receipt") {
				t.Errorf("%s: got %d replayed=%q, want a new call", tc.name, r.status, r.hdr.Get(HeaderReplayed))
			}
		}
	})
	t.Run("failed call", func(t *testing.T) {
		a := invoke(h.admin, "fail", "", "", "k2")
		if a.status != 422 || a.code != "tool_error" || a.hdr.Get("Toolgate-Receipt") == "" {
			t.Fatalf("got %d %s", a.status, a.body)
		}
		same("retry of a failed call", a, invoke(h.admin, "fail", "", "", "k2"))
	})
	t.Run("nothing ran", func(t *testing.T) {
		if r := invoke(h.admin, "later", "", "x", "k3"); r.status != 404 {
			t.Fatalf("invoke of an unknown tool: got %d %s", r.status, r.body)
		}
		h.push("later", "1.0.0", plugins.WAT("echo"), "")
		if r := invoke(h.admin, "later", "", "x", "k3"); r.status != 200 || r.hdr.Get(HeaderReplayed) != "" {
			t.Errorf("retry once the tool exists: got %d replayed=%q, want it run", r.status, r.hdr.Get(HeaderReplayed))
		}
	})
	t.Run("in flight", func(t *testing.T) {
		a, b := concurrently(func() resp { return invoke(h.admin, "slow", "", "", "k4") })
		if a.code == CodeIdempotencyKeyInFlight {
			a, b = b, a
		}
		if b.status != 409 || b.code != CodeIdempotencyKeyInFlight {
			t.Fatalf("two calls at once with one key: got %d %s and %d %s, want one 409 idempotency_key_in_flight",
				a.status, a.body, b.status, b.body)
		}
		retryAfterOf(t, b)
		if a.hdr.Get("Toolgate-Receipt") == "" {
			t.Fatalf("the first call: got %d %s, want it run", a.status, a.body)
		}
		same("retry after the slow call ended", a, invoke(h.admin, "slow", "", "", "k4"))
	})
	t.Run("response too large to keep", func(t *testing.T) {
		defer func(n int) { maxStoredResponse = n }(maxStoredResponse)
		maxStoredResponse = 4
		a := invoke(h.admin, "echo", "", "hello", "k5")
		if a.status != 200 || string(a.body) != "hello" {
			t.Fatalf("first call: got %d %q", a.status, a.body)
		}
		n := h.receiptCount()
		b := invoke(h.admin, "echo", "", "hello", "k5")
		if b.status != 409 || b.code != CodeIdempotencyResponseNotKept || b.hdr.Get(HeaderReplayed) != "true" ||
			b.hdr.Get("Toolgate-Receipt") != a.hdr.Get("Toolgate-Receipt") || h.receiptCount() != n {
			t.Errorf("retry: got %d %s replayed=%q, want 409 idempotency_response_not_kept naming the first receipt, "+
				"and nothing run", b.status, b.body, b.hdr.Get(HeaderReplayed))
		}
	})
	t.Run("malformed key", func(t *testing.T) {
		if r := invoke(h.admin, "echo", "", "x", strings.Repeat("k", 256)); r.status != 400 || r.code != CodeInvalidRequest {
			t.Errorf("256-byte key: got %d %s, want 400", r.status, r.body)
		}
	})
	t.Run("restart", func(t *testing.T) {
		h.restart()
		same("retry after a restart", first, invoke(h.admin, "echo", "", "hello", "k1"))
	})
}

func TestIdempotency_Expiry(t *testing.T) {
	clk := &clock{t: time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)}
	h := startGov(t, func(c *Config) { c.Now = clk.Now; c.IdempotencyTTL = time.Hour })
	h.push("echo", "1.0.0", plugins.WAT("echo"), "")
	invoke := func() resp {
		return h.do(h.admin, "POST", "/v1/tools/echo/invoke", []byte("x"), map[string]string{HeaderIdempotencyKey: "k"})
	}
	a := invoke()
	clk.Add(time.Hour - time.Second)
	if b := invoke(); b.hdr.Get(HeaderReplayed) != "true" || b.hdr.Get("Toolgate-Receipt") != a.hdr.Get("Toolgate-Receipt") {
		t.Fatalf("retry a second before the TTL ends: got replayed=%q, want a replay", b.hdr.Get(HeaderReplayed))
	}
	clk.Add(time.Second)
	c := invoke()
	if c.status != 200 || c.hdr.Get(HeaderReplayed) != "" || c.hdr.Get("Toolgate-Receipt") == a.hdr.Get("Toolgate-Receipt") {
		t.Errorf("retry when the TTL ends: got %d replayed=%q, want a new call", c.status, c.hdr.Get(HeaderReplayed))
	}
	// The new call's response is kept in turn.
	if d := invoke(); d.hdr.Get(HeaderReplayed) != "true" || d.hdr.Get("Toolgate-Receipt") != c.hdr.Get("Toolgate-Receipt") {
		t.Errorf("retry of the new call: got replayed=%q, want a replay of it", d.hdr.Get(HeaderReplayed))
	}
}

func TestParseToolLimit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ToolLimit
		err  bool
	}{
		{"pay-*:rps=5,burst=10,concurrency=2", ToolLimit{Tool: "pay-*", Rate: &registry.Rate{RPS: 5, Burst: 10}, MaxConcurrent: 2}, false},
		{"*:rps=0.5", ToolLimit{Tool: "*", Rate: &registry.Rate{RPS: 0.5, Burst: 1}}, false},
		{"echo:concurrency=4", ToolLimit{Tool: "echo", MaxConcurrent: 4}, false},
		{"echo", ToolLimit{}, true},
		{":rps=1", ToolLimit{}, true},
		{"echo:rps=x", ToolLimit{}, true},
		{"echo:rpm=1", ToolLimit{}, true},
		{"echo:burst=2", ToolLimit{}, true}, // a burst without a rate never refills
		{"a/b:rps=1", ToolLimit{}, true},
		{"echo:concurrency=-1", ToolLimit{}, true},
	} {
		got, err := ParseToolLimit(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("ParseToolLimit(%q): got error %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if !tc.err && (got.Tool != tc.want.Tool || got.MaxConcurrent != tc.want.MaxConcurrent ||
			(got.Rate == nil) != (tc.want.Rate == nil) || got.Rate != nil && *got.Rate != *tc.want.Rate) {
			t.Errorf("ParseToolLimit(%q): got %+v, want %+v", tc.in, got, tc.want)
		}
	}
}
