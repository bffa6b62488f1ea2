package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/toolgate/toolgate/receipts"
)

// Every network test here talks to httptest servers on 127.0.0.1 only, through doors that allow 127.0.0.0/8 (or
// refuse it, to prove the refusal); names resolve through stubResolver, never through DNS.

const payKey = "sk_live_9f8e7d6c5b4a3210"

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// stub is a loopback HTTP server that counts what reaches it.
type stub struct {
	*httptest.Server
	hits atomic.Int64
	mu   sync.Mutex
	seen []string // Authorization headers and bodies it received
	port int
}

func newStub(t *testing.T, h http.HandlerFunc) *stub {
	t.Helper()
	s := &stub{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.seen = append(s.seen, r.Header.Get("Authorization"), string(body))
		s.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		if h != nil {
			h(w, r)
			return
		}
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(s.Close)
	s.port, _ = strconv.Atoi(s.URL[strings.LastIndexByte(s.URL, ':')+1:])
	return s
}

func (s *stub) received() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.seen, "\n")
}

// url returns the stub's URL under host name (resolved by stubResolver to 127.0.0.1).
func (s *stub) url(host, path string) string {
	return "http://" + host + ":" + strconv.Itoa(s.port) + path
}

// stubResolver resolves names from a map; anything else is "no such host".
type stubResolver map[string][]netip.Addr

func (r stubResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

var resolver = stubResolver{
	"payments.test": {netip.MustParseAddr("127.0.0.1")},
	"other.test":    {netip.MustParseAddr("127.0.0.1")},
	"evil.test":     {netip.MustParseAddr("127.0.0.1")},
	"loop2.test":    {netip.MustParseAddr("127.0.0.2")},
	"internal.test": {netip.MustParseAddr("10.1.2.3")},
	"meta.test":     {netip.MustParseAddr("169.254.169.254")},
	"mapped.test":   {netip.MustParseAddr("::ffff:127.0.0.1")},
	"rebind.test":   {netip.MustParseAddr("192.168.0.10"), netip.MustParseAddr("127.0.0.1")},
}

func newDoor(t *testing.T, allow []netip.Prefix) *Door {
	t.Helper()
	d, err := NewDoor(DoorConfig{AllowPrivateEgress: allow, Resolver: resolver, DialTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

func grant(host string, port int, methods ...string) HTTPGrant {
	return HTTPGrant{Host: host, Scheme: "http", Ports: []int{port}, Methods: methods}
}

func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// assertClean fails if a secret value appears in anything the door produced for the call.
func assertClean(t *testing.T, c *CallDoor, extra ...string) {
	t.Helper()
	var all []string
	for _, l := range c.Lines() {
		all = append(all, fmt.Sprintf("%+v", l))
	}
	all = append(all, fmt.Sprint(c.SecretUses()))
	all = append(all, extra...)
	for _, s := range all {
		if strings.Contains(s, payKey) {
			t.Errorf("secret value leaked into %q", s)
		}
	}
}

func wantErr(t *testing.T, err, kind error, reason string) {
	t.Helper()
	var de *DoorError
	if !errors.As(err, &de) || !errors.Is(err, kind) {
		t.Fatalf("got error %v, want a *DoorError wrapping %v", err, kind)
	}
	if !strings.Contains(de.Reason, reason) {
		t.Errorf("reason: got %q, want it to contain %q", de.Reason, reason)
	}
}

func TestCallDoor_DenyByDefault(t *testing.T) {
	s := newStub(t, nil)
	d := newDoor(t, loopback)
	for _, p := range []Policy{{}, {MaxRequests: 8}} {
		c := d.NewCall(p, nil, time.Time{})
		_, err := c.Do(callCtx(t), Request{URL: s.URL + "/x"})
		if p.MaxRequests == 0 {
			wantErr(t, err, ErrLimit, "request cap of 0")
		} else {
			wantErr(t, err, ErrDenied, "host 127.0.0.1 is not granted")
		}
		lines := c.Lines()
		if len(lines) != 1 || lines[0].Decision != DecisionDenied || lines[0].Host != "127.0.0.1" || lines[0].Path != "/x" {
			t.Errorf("lines: got %+v, want one denied line for 127.0.0.1 /x", lines)
		}
	}
	if n := s.hits.Load(); n != 0 {
		t.Errorf("stub hits: got %d, want 0", n)
	}
}

func TestCallDoor_Allowed(t *testing.T) {
	s := newStub(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Reply", "yes")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, r.Header.Get("X-Guest"))
	})
	d := newDoor(t, loopback)
	c := d.NewCall(Policy{HTTP: []HTTPGrant{grant("payments.test", s.port, "POST")}, MaxRequests: 4}, nil, time.Time{})
	resp, err := c.Do(callCtx(t), Request{Method: "post", URL: s.url("PAYMENTS.test.", "/v1/refunds?order=42#frag"),
		Header: map[string]string{"X-Guest": "hi"}, Body: []byte("{}")})
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if resp.Status != http.StatusCreated || string(resp.Body) != "POST /v1/refunds hi" || resp.Header["x-reply"] != "yes" {
		t.Errorf("response: got %d %q %v", resp.Status, resp.Body, resp.Header)
	}
	want := receipts.HTTPLine{Method: "POST", Host: "payments.test", Path: "/v1/refunds", Status: 201, BytesOut: 2,
		BytesIn: int64(len(resp.Body)), Decision: DecisionAllowed}
	lines := c.Lines()
	if len(lines) != 1 {
		t.Fatalf("lines: got %+v", lines)
	}
	lines[0].MS = 0
	if lines[0] != want {
		t.Errorf("line: got %+v, want %+v", lines[0], want)
	}
	// The grant's method list holds: GET is refused, and nothing is sent.
	before := s.hits.Load()
	_, err = c.Do(callCtx(t), Request{URL: s.url("payments.test", "/")})
	wantErr(t, err, ErrDenied, "method GET is not granted")
	if s.hits.Load() != before {
		t.Error("a refused method reached the stub")
	}
}

func TestCallDoor_SecretInjectedAndMasked(t *testing.T) {
	s := newStub(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Echo", r.Header.Get("Authorization"))
		fmt.Fprintf(w, `{"auth":%q,"body":%q}`, r.Header.Get("Authorization"), body)
	})
	d := newDoor(t, loopback)
	p := Policy{
		HTTP:        []HTTPGrant{grant("payments.test", s.port)},
		Secrets:     []SecretGrant{{Name: "PAYKEY", Hosts: []string{"payments.test"}}},
		MaxRequests: 4,
	}
	c := d.NewCall(p, SecretMap{"PAYKEY": []byte(payKey)}, time.Time{})
	resp, err := c.Do(callCtx(t), Request{Method: "POST", URL: s.url("payments.test", "/refund"),
		Header: map[string]string{"Authorization": "Bearer {{secret:PAYKEY}}"},
		Body:   []byte(`{"key":"{{secret:PAYKEY}}"}`)})
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if got := s.received(); !strings.Contains(got, "Bearer "+payKey) || !strings.Contains(got, `{"key":"`+payKey+`"}`) {
		t.Errorf("stub did not receive the value in header and body: %q", got)
	}
	all := string(resp.Body) + fmt.Sprint(resp.Header)
	if strings.Contains(all, payKey) {
		t.Errorf("response shows the value: %s", all)
	}
	if !strings.Contains(string(resp.Body), `"auth":"Bearer {{secret:PAYKEY}}"`) || resp.Header["x-echo"] != "Bearer {{secret:PAYKEY}}" {
		t.Errorf("response not masked back to the placeholder: %s %v", resp.Body, resp.Header)
	}
	if got := c.SecretUses(); got["PAYKEY"] != "payments.test" {
		t.Errorf("secret uses: got %v, want PAYKEY → payments.test", got)
	}
	assertClean(t, c, string(resp.Body))
}

func TestCallDoor_SecretToUnboundHostRefused(t *testing.T) {
	pay := newStub(t, nil)
	other := newStub(t, nil)
	d := newDoor(t, loopback)
	p := Policy{
		HTTP:        []HTTPGrant{grant("payments.test", pay.port), grant("other.test", other.port)},
		Secrets:     []SecretGrant{{Name: "PAYKEY", Hosts: []string{"payments.test"}}},
		MaxRequests: 8,
	}
	c := d.NewCall(p, SecretMap{"PAYKEY": []byte(payKey), "UNGRANTED": []byte("x")}, time.Time{})
	ctx := callCtx(t)
	for _, req := range []Request{
		{URL: other.url("other.test", "/"), Header: map[string]string{"X-Key": "{{secret:PAYKEY}}"}},
		{Method: "POST", URL: other.url("other.test", "/"), Body: []byte("k={{secret:PAYKEY}}")},
		{URL: pay.url("payments.test", "/"), Header: map[string]string{"X-Key": "{{secret:UNGRANTED}}"}},
		{URL: pay.url("payments.test", "/"), Header: map[string]string{"X-Key": "{{secret:bad name}}"}},
		{URL: pay.url("payments.test", "/{{secret:PAYKEY}}")},
	} {
		_, err := c.Do(ctx, req)
		wantErr(t, err, ErrDenied, "")
	}
	if n := other.hits.Load() + pay.hits.Load(); n != 0 {
		t.Errorf("stub hits: got %d, want 0: a refused request left the machine", n)
	}
	uses := c.SecretUses()
	if uses["PAYKEY"] != "refused:other.test" || uses["UNGRANTED"] != "refused:payments.test" {
		t.Errorf("secret uses: got %v", uses)
	}
	for _, l := range c.Lines() {
		if l.Decision != DecisionDenied {
			t.Errorf("line %+v: want denied", l)
		}
	}
	assertClean(t, c)
}

func TestCallDoor_Redirects(t *testing.T) {
	target := newStub(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "landed %s auth=%s", r.Method, r.Header.Get("Authorization"))
	})
	var redirectTo atomic.Value
	hop := newStub(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, redirectTo.Load().(string), http.StatusTemporaryRedirect)
	})
	d := newDoor(t, loopback)
	secrets := SecretMap{"PAYKEY": []byte(payKey)}
	ctx := callCtx(t)

	t.Run("ungranted host not followed", func(t *testing.T) {
		redirectTo.Store(target.url("evil.test", "/steal"))
		c := d.NewCall(Policy{HTTP: []HTTPGrant{grant("payments.test", hop.port)}, MaxRequests: 8}, nil, time.Time{})
		_, err := c.Do(ctx, Request{URL: hop.url("payments.test", "/go")})
		wantErr(t, err, ErrDenied, "host evil.test is not granted")
		if n := target.hits.Load(); n != 0 {
			t.Errorf("redirect target hits: got %d, want 0", n)
		}
		lines := c.Lines()
		if len(lines) != 2 || lines[0].Status != 307 || lines[1].Decision != DecisionDenied || lines[1].Host != "evil.test" {
			t.Errorf("lines: got %+v, want the 307 then a denied hop", lines)
		}
	})

	t.Run("secret not carried to a host it is not bound to", func(t *testing.T) {
		redirectTo.Store(target.url("other.test", "/"))
		c := d.NewCall(Policy{
			HTTP:        []HTTPGrant{grant("payments.test", hop.port), grant("other.test", target.port)},
			Secrets:     []SecretGrant{{Name: "PAYKEY", Hosts: []string{"payments.test"}}},
			MaxRequests: 8,
		}, secrets, time.Time{})
		_, err := c.Do(ctx, Request{URL: hop.url("payments.test", "/"), Header: map[string]string{"X-Key": "{{secret:PAYKEY}}"}})
		wantErr(t, err, ErrDenied, "secret PAYKEY is not granted for host other.test")
		if n := target.hits.Load(); n != 0 {
			t.Errorf("redirect target hits: got %d, want 0", n)
		}
		if got := c.SecretUses()["PAYKEY"]; got != "payments.test,refused:other.test" {
			t.Errorf("secret uses: got %q", got)
		}
		assertClean(t, c)
	})

	t.Run("granted hop followed, guest credentials dropped across hosts", func(t *testing.T) {
		redirectTo.Store(target.url("other.test", "/landing"))
		c := d.NewCall(Policy{HTTP: []HTTPGrant{grant("payments.test", hop.port), grant("other.test", target.port)},
			MaxRequests: 8}, nil, time.Time{})
		resp, err := c.Do(ctx, Request{URL: hop.url("payments.test", "/"), Header: map[string]string{"Authorization": "literal"}})
		if err != nil {
			t.Fatalf("Do: %v", err)
		}
		if string(resp.Body) != "landed GET auth=" {
			t.Errorf("body: got %q, want the landing page without the Authorization header", resp.Body)
		}
		if lines := c.Lines(); len(lines) != 2 || lines[1].Reason != "redirect" || lines[1].Status != 200 {
			t.Errorf("lines: got %+v", lines)
		}
	})

	t.Run("hops count against the cap", func(t *testing.T) {
		redirectTo.Store(hop.url("payments.test", "/again"))
		c := d.NewCall(Policy{HTTP: []HTTPGrant{grant("payments.test", hop.port)}, MaxRequests: 3}, nil, time.Time{})
		_, err := c.Do(ctx, Request{URL: hop.url("payments.test", "/")})
		wantErr(t, err, ErrLimit, "request cap of 3")
	})
}

func TestCallDoor_RefusedAddresses(t *testing.T) {
	s := newStub(t, nil)
	port := s.port
	d := newDoor(t, nil) // no allowance: loopback is refused
	hosts := []string{"127.0.0.1", "localhost", "payments.test", "internal.test", "meta.test", "mapped.test",
		"rebind.test", "2130706433", "0177.0.0.1", "0x7f.1", "127.1", "0x7f000001", "017700000001", "127.0.1"}
	var grants []HTTPGrant
	for _, h := range hosts {
		grants = append(grants, grant(h, port))
	}
	ctx := callCtx(t)
	cases := []struct{ url, reason string }{
		{"http://127.0.0.1:%d/", "address 127.0.0.1 is loopback"},
		{"http://payments.test:%d/", "address 127.0.0.1 is loopback"},
		{"http://mapped.test:%d/", "address 127.0.0.1 is loopback"},
		{"http://rebind.test:%d/", "address 192.168.0.10 is private"},
		{"http://internal.test:%d/", "address 10.1.2.3 is private"},
		{"http://meta.test:%d/", "address 169.254.169.254 is cloud metadata"},
		{"http://2130706433:%d/", "non-canonical"},
		{"http://0177.0.0.1:%d/", "non-canonical"},
		{"http://0x7f.1:%d/", "non-canonical"},
		{"http://127.1:%d/", "non-canonical"},
		{"http://0x7f000001:%d/", "non-canonical"},
		{"http://017700000001:%d/", "non-canonical"},
		{"http://127.0.1:%d/", "non-canonical"},
		{"http://[::1]:%d/", "not granted"},
		{"http://[::ffff:127.0.0.1]:%d/", "not granted"},
		{"http://user:pw@127.0.0.1:%d/", "credentials"},
		{"http://127.0.0.1.:%d/", "address 127.0.0.1 is loopback"},
		{"http://[fe80::1%%25lo]:%d/", "zones"},
	}
	for _, tc := range cases {
		t.Run(tc.url, func(t *testing.T) {
			c := d.NewCall(Policy{HTTP: grants, MaxRequests: 1}, nil, time.Time{})
			_, err := c.Do(ctx, Request{URL: fmt.Sprintf(tc.url, port)})
			wantErr(t, err, ErrDenied, tc.reason)
			if l := c.Lines(); len(l) != 1 || l[0].Decision != DecisionDenied {
				t.Errorf("lines: got %+v", l)
			}
		})
	}
	if n := s.hits.Load(); n != 0 {
		t.Errorf("stub hits: got %d, want 0", n)
	}
	// Resolving localhost for real: the system's resolver says loopback, the door refuses.
	real, err := NewDoor(DoorConfig{DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer real.Close()
	c := real.NewCall(Policy{HTTP: grants, MaxRequests: 1}, nil, time.Time{})
	_, err = c.Do(ctx, Request{URL: fmt.Sprintf("http://localhost:%d/", port)})
	wantErr(t, err, ErrDenied, "is loopback")
}

func TestCallDoor_Allowance(t *testing.T) {
	s := newStub(t, nil)
	d := newDoor(t, []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")})
	c := d.NewCall(Policy{HTTP: []HTTPGrant{grant("payments.test", s.port), grant("other.test", s.port),
		grant("mapped.test", s.port), grant("rebind.test", s.port), grant("loop2.test", s.port)}, MaxRequests: 8}, nil, time.Time{})
	ctx := callCtx(t)
	for _, h := range []string{"payments.test", "mapped.test", "rebind.test"} {
		if _, err := c.Do(ctx, Request{URL: s.url(h, "/")}); err != nil {
			t.Errorf("%s (127.0.0.1, allowed): %v", h, err)
		}
	}
	// 127.0.0.2 is loopback outside the allowance.
	_, err := c.Do(ctx, Request{URL: s.url("loop2.test", "/")})
	wantErr(t, err, ErrDenied, "address 127.0.0.2 is loopback")
}

func TestCallDoor_Caps(t *testing.T) {
	big := strings.Repeat("x", 100)
	s := newStub(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
			return
		}
		fmt.Fprint(w, big)
	})
	d := newDoor(t, loopback)
	g := []HTTPGrant{grant("payments.test", s.port)}
	ctx := callCtx(t)

	c := d.NewCall(Policy{HTTP: g, MaxRequests: 2}, nil, time.Time{})
	for i := 0; i < 2; i++ {
		if _, err := c.Do(ctx, Request{URL: s.url("payments.test", "/")}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 5; i++ {
		_, err := c.Do(ctx, Request{URL: s.url("payments.test", "/")})
		wantErr(t, err, ErrLimit, "request cap of 2 reached")
	}
	if got := len(c.Lines()); got != 3 {
		t.Errorf("lines: got %d, want 3 (the refusals after the first are only counted)", got)
	}
	if got := c.Suppressed(); got != 4 {
		t.Errorf("suppressed: got %d, want 4", got)
	}

	hits := s.hits.Load()
	c = d.NewCall(Policy{HTTP: g, MaxRequests: 4, MaxRequestBytes: 10}, nil, time.Time{})
	_, err := c.Do(ctx, Request{Method: "POST", URL: s.url("payments.test", "/"), Body: []byte("12345678901")})
	wantErr(t, err, ErrLimit, "request bodies over the call's cap of 10 bytes")
	if s.hits.Load() != hits {
		t.Error("an over-cap request reached the stub")
	}

	c = d.NewCall(Policy{HTTP: g, MaxRequests: 4, MaxResponseBytes: 150}, nil, time.Time{})
	if _, err := c.Do(ctx, Request{URL: s.url("payments.test", "/")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Do(ctx, Request{URL: s.url("payments.test", "/")})
	wantErr(t, err, ErrLimit, "response bodies over the call's cap of 150 bytes")

	start := time.Now()
	c = d.NewCall(Policy{HTTP: g, MaxRequests: 4}, nil, time.Now().Add(200*time.Millisecond))
	_, err = c.Do(ctx, Request{URL: s.url("payments.test", "/slow")})
	wantErr(t, err, ErrLimit, "time is up")
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("the deadline did not bound the request: %v", el)
	}
	_, err = c.Do(ctx, Request{URL: s.url("payments.test", "/")})
	wantErr(t, err, ErrLimit, "time is up")
}

func TestCallDoor_Refusals(t *testing.T) {
	s := newStub(t, nil)
	d := newDoor(t, loopback)
	g := []HTTPGrant{grant("payments.test", s.port), {Host: "*.pay.test", Scheme: "https"}}
	ctx := callCtx(t)
	cases := []struct {
		req    Request
		reason string
	}{
		{Request{Method: "TRACE", URL: s.url("payments.test", "/")}, "method TRACE is refused"},
		{Request{URL: "https://payments.test:" + strconv.Itoa(s.port) + "/"}, "scheme https is not granted"},
		{Request{URL: s.url("payments.test", "/")[:len(s.url("payments.test", "/"))-1] + "1/"}, "port"},
		{Request{URL: "ftp://payments.test/"}, "scheme must be http or https"},
		{Request{URL: "/relative"}, "scheme"},
		{Request{URL: "https://pay.test/"}, "host pay.test is not granted"},
		{Request{URL: s.url("payments.test", "/"), Header: map[string]string{"Host": "evil.test"}}, "Host header"},
		{Request{URL: s.url("payments.test", "/"), Header: map[string]string{"Bad Name": "x"}}, "malformed header name"},
		{Request{URL: s.url("payments.test", "/"), Header: map[string]string{"X": "a\r\nInjected: 1"}}, "line break"},
	}
	for _, tc := range cases {
		c := d.NewCall(Policy{HTTP: g, MaxRequests: 1}, nil, time.Time{})
		_, err := c.Do(ctx, tc.req)
		wantErr(t, err, ErrDenied, tc.reason)
	}
	if n := s.hits.Load(); n != 0 {
		t.Errorf("stub hits: got %d, want 0", n)
	}
}

func TestCallDoor_ExposeAndLeak(t *testing.T) {
	pay := newStub(t, nil)
	other := newStub(t, nil)
	d := newDoor(t, loopback)
	p := Policy{
		HTTP: []HTTPGrant{grant("payments.test", pay.port), grant("other.test", other.port)},
		Secrets: []SecretGrant{{Name: "PAYKEY", Hosts: []string{"payments.test"}, Expose: true},
			{Name: "HIDDEN", Hosts: []string{"payments.test"}}},
		MaxRequests: 8,
	}
	c := d.NewCall(p, SecretMap{"PAYKEY": []byte(payKey), "HIDDEN": []byte("hidden-value-123")}, time.Time{})
	ctx := callCtx(t)
	if _, err := c.ExposeSecret(ctx, "HIDDEN"); !errors.Is(err, ErrNotExposed) {
		t.Errorf("HIDDEN: got %v, want ErrNotExposed", err)
	}
	v, err := c.ExposeSecret(ctx, "PAYKEY")
	if err != nil || string(v) != payKey {
		t.Fatalf("ExposeSecret: got %q, %v", v, err)
	}
	// The tool holds the value now; the door still refuses it toward a host it is not bound to, in any part of
	// the request.
	for _, req := range []Request{
		{URL: other.url("other.test", "/?k="+string(v))},
		{URL: other.url("other.test", "/"), Header: map[string]string{"X-Sig": "sig " + string(v)}},
		{Method: "POST", URL: other.url("other.test", "/"), Body: []byte(`{"k":"` + string(v) + `"}`)},
	} {
		_, err := c.Do(ctx, req)
		wantErr(t, err, ErrDenied, "the value of secret PAYKEY is not granted for host other.test")
	}
	if n := other.hits.Load(); n != 0 {
		t.Errorf("other hits: got %d, want 0", n)
	}
	// Toward its own host, a signature made with it goes out; the query string never reaches the receipt.
	if _, err := c.Do(ctx, Request{URL: pay.url("payments.test", "/sign?sig="+string(v))}); err != nil {
		t.Fatal(err)
	}
	uses := c.SecretUses()["PAYKEY"]
	if uses != "exposed,refused:other.test" {
		t.Errorf("uses: got %q", uses)
	}
	assertClean(t, c)
	c.Close()
	if !bytes.Equal(v, []byte(payKey)) {
		t.Error("Close overwrote the caller's copy")
	}
}

func TestCallDoor_SecretSourceFailures(t *testing.T) {
	s := newStub(t, nil)
	d := newDoor(t, loopback)
	p := Policy{HTTP: []HTTPGrant{grant("payments.test", s.port)},
		Secrets: []SecretGrant{{Name: "UNSET", Hosts: []string{"payments.test"}}}, MaxRequests: 4}
	c := d.NewCall(p, SecretMap{}, time.Time{})
	_, err := c.Do(callCtx(t), Request{URL: s.url("payments.test", "/"), Header: map[string]string{"K": "{{secret:UNSET}}"}})
	wantErr(t, err, ErrDenied, "secret UNSET is not set")
	c = d.NewCall(p, failingSource{}, time.Time{})
	_, err = c.Do(callCtx(t), Request{URL: s.url("payments.test", "/")})
	wantErr(t, err, ErrRequestFailed, "secrets unavailable")
	if strings.Contains(err.Error(), payKey) {
		t.Errorf("the source's error text reached the guest: %v", err)
	}
	assertClean(t, c)
	if n := s.hits.Load(); n != 0 {
		t.Errorf("stub hits: got %d, want 0", n)
	}
}

type failingSource struct{}

func (failingSource) Secret(context.Context, string) ([]byte, error) {
	return nil, errors.New("store down: " + payKey) // an error text must never reach the guest or the receipt
}

// TestCallDoor_ConcurrentPolicies runs calls with different grants and secrets on one Door at once: each call
// reaches only its own host with its own secret, whatever the others do.
func TestCallDoor_ConcurrentPolicies(t *testing.T) {
	var mu sync.Mutex
	got := map[string]map[string]int{} // stub → Authorization → count
	mk := func(name string) *stub {
		return newStub(t, func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			if got[name] == nil {
				got[name] = map[string]int{}
			}
			got[name][r.Header.Get("Authorization")]++
			mu.Unlock()
			fmt.Fprint(w, name)
		})
	}
	a, b := mk("a"), mk("b")
	d := newDoor(t, loopback)
	policies := []struct {
		p       Policy
		secrets SecretMap
		own     *stub
		host    string
		other   *stub
		ohost   string
	}{
		{Policy{HTTP: []HTTPGrant{grant("payments.test", a.port)}, Secrets: []SecretGrant{{Name: "KEY", Hosts: []string{"payments.test"}}}, MaxRequests: 10},
			SecretMap{"KEY": []byte("value-of-call-a")}, a, "payments.test", b, "other.test"},
		{Policy{HTTP: []HTTPGrant{grant("other.test", b.port)}, Secrets: []SecretGrant{{Name: "KEY", Hosts: []string{"other.test"}}}, MaxRequests: 10},
			SecretMap{"KEY": []byte("value-of-call-b")}, b, "other.test", a, "payments.test"},
	}
	const callsPerPolicy = 8
	var wg sync.WaitGroup
	errs := make(chan error, 2*callsPerPolicy)
	for i := 0; i < callsPerPolicy; i++ {
		for _, pc := range policies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := d.NewCall(pc.p, pc.secrets, time.Now().Add(10*time.Second))
				ctx := context.Background()
				for j := 0; j < 3; j++ {
					resp, err := c.Do(ctx, Request{URL: pc.own.url(pc.host, "/"), Header: map[string]string{"Authorization": "{{secret:KEY}}"}})
					if err != nil {
						errs <- fmt.Errorf("own host: %v", err)
						return
					}
					if strings.Contains(string(resp.Body), "value-of") {
						errs <- errors.New("unmasked value in the response")
					}
					if _, err := c.Do(ctx, Request{URL: pc.other.url(pc.ohost, "/"), Header: map[string]string{"Authorization": "{{secret:KEY}}"}}); !errors.Is(err, ErrDenied) {
						errs <- fmt.Errorf("other host: got %v, want denied", err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	want := map[string]map[string]int{"a": {"value-of-call-a": 3 * callsPerPolicy}, "b": {"value-of-call-b": 3 * callsPerPolicy}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("what the stubs received: got %v, want %v", got, want)
	}
}

func TestCallDoor_Unresolvable(t *testing.T) {
	d := newDoor(t, loopback)
	c := d.NewCall(Policy{HTTP: []HTTPGrant{grant("nowhere.test", 80)}, MaxRequests: 1}, nil, time.Time{})
	_, err := c.Do(callCtx(t), Request{URL: "http://nowhere.test/"})
	wantErr(t, err, ErrRequestFailed, "resolve nowhere.test: no such host")
	if l := c.Lines(); len(l) != 1 || l[0].Decision != DecisionAllowed || l[0].Status != 0 {
		t.Errorf("lines: got %+v", l)
	}
}

func TestFailureResponse(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
	}{
		{&DoorError{Method: "GET", Host: "h", Reason: "r", Err: ErrDenied}, 403},
		{&DoorError{Method: "GET", Host: "h", Reason: "r", Err: ErrLimit}, 429},
		{&DoorError{Method: "GET", Host: "h", Reason: "r", Err: ErrRequestFailed}, 502},
	} {
		r := FailureResponse(tc.err)
		if r.Status != tc.status || string(r.Body) != tc.err.Error() || r.Header["toolgate-door"] == "" {
			t.Errorf("FailureResponse(%v): got %+v", tc.err, r)
		}
	}
}

func TestParseAllowPrivateEgress(t *testing.T) {
	got, err := ParseAllowPrivateEgress(" 127.0.0.0/8, 10.1.2.3/16 ,")
	if err != nil || fmt.Sprint(got) != "[127.0.0.0/8 10.1.0.0/16]" {
		t.Errorf("got %v, %v", got, err)
	}
	if _, err := ParseAllowPrivateEgress("127.0.0.1"); err == nil {
		t.Error("a bare address: got nil error, want one")
	}
}
