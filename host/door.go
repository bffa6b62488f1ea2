package host

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/toolgate/toolgate/receipts"
)

// Network door defaults, used for the zero fields of a Policy and a DoorConfig.
const (
	// DefaultMaxRequestBytes caps the request bodies of one call, in total.
	DefaultMaxRequestBytes = 1 << 20
	// DefaultMaxResponseBytes caps the response bodies of one call, in total.
	DefaultMaxResponseBytes = 4 << 20
	// DefaultDialTimeout bounds one connection attempt.
	DefaultDialTimeout = 10 * time.Second
	// MaxRedirects is how many redirects one request follows; each hop is also an attempt against the call's
	// request cap.
	MaxRedirects = 10

	maxRequestHeaders     = 64
	maxHeaderValueBytes   = 8 << 10
	maxResponseHeaderSize = 64 << 10
	maxReceiptPathBytes   = 256
)

// Receipt decisions of the network door.
const (
	DecisionAllowed = "allowed"
	DecisionDenied  = "denied"
)

// Errors of the network door. A *DoorError wraps one of the first three; its message is safe to show the guest.
var (
	// ErrDenied: the door refused the request (no grant, a refused address, a secret not bound to the host, …).
	// Nothing was sent.
	ErrDenied = errors.New("denied by the network door")
	// ErrLimit: the call is over one of its network caps (requests, bytes, time).
	ErrLimit = errors.New("over the call's network limit")
	// ErrRequestFailed: the door allowed the request but it did not complete (connection refused, TLS, timeout).
	ErrRequestFailed = errors.New("request failed")
	// ErrSecretNotFound: a SecretSource has no secret of that name.
	ErrSecretNotFound = errors.New("secret not set")
	// ErrNotExposed: a tool asked to read a secret whose grant does not say "expose": true.
	ErrNotExposed = errors.New("secret not exposed to the tool")
)

// DoorError is a request the network door refused or could not complete. Its message names the method, host and
// reason and never contains a secret value: it may be shown to the guest.
type DoorError struct {
	Method, Host string
	Reason       string
	Err          error // ErrDenied, ErrLimit or ErrRequestFailed
}

func (e *DoorError) Error() string {
	host := e.Host
	if host == "" {
		host = "?"
	}
	return fmt.Sprintf("http %s %s: %v: %s", e.Method, host, e.Err, e.Reason)
}

// Unwrap lets errors.Is match ErrDenied, ErrLimit or ErrRequestFailed.
func (e *DoorError) Unwrap() error { return e.Err }

// HTTPGrant allows outbound requests to a host.
type HTTPGrant struct {
	Host    string   // exact host name (or canonical IPv4 address), or "*.suffix" for any strict subdomain
	Scheme  string   // "https" or "http"; defaults to "https"
	Ports   []int    // defaults to the scheme's port
	Methods []string // defaults to any method
}

// SecretGrant binds a secret to the hosts its value may be sent to.
type SecretGrant struct {
	Name   string
	Hosts  []string // exact host names
	Expose bool     // the tool may read the value itself (CallDoor.ExposeSecret); defaults to false
}

// Policy is what one call may do through the network door: its version's grants and the call's caps.
type Policy struct {
	HTTP    []HTTPGrant
	Secrets []SecretGrant
	// MaxRequests caps the outbound attempts of the call, allowed or denied, redirect hops included.
	// Defaults to 0: no request at all.
	MaxRequests int
	// MaxRequestBytes caps the request bodies of the call, in total, after secret substitution. Defaults to
	// DefaultMaxRequestBytes.
	MaxRequestBytes int64
	// MaxResponseBytes caps the response bodies of the call, in total. Defaults to DefaultMaxResponseBytes.
	MaxResponseBytes int64
}

// Request is an outbound request as the guest asks for it. Header values and Body may hold {{secret:NAME}}
// placeholders.
type Request struct {
	Method string // defaults to GET
	URL    string
	Header map[string]string
	Body   []byte
}

// Response is what the guest gets back: secret values in headers and body are masked back to their
// placeholders.
type Response struct {
	Status int
	Header map[string]string // names in lowercase; repeated headers joined with ", "
	Body   []byte
}

// Resolver resolves host names; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// DoorConfig configures a Door. It is read once, by NewDoor.
type DoorConfig struct {
	// AllowPrivateEgress lists address ranges the door may dial although they are loopback, private, link-local
	// or otherwise refused (toolgate serve --allow-private-egress). Defaults to none.
	AllowPrivateEgress []netip.Prefix
	// Resolver resolves host names at dial time. Defaults to net.DefaultResolver.
	Resolver Resolver
	// TLSConfig is cloned for HTTPS connections. Defaults to nil: the system's roots, TLS 1.2 or later.
	TLSConfig *tls.Config
	// DialTimeout bounds one connection attempt. Defaults to DefaultDialTimeout.
	DialTimeout time.Duration
}

// Door is the network door of a runtime: an HTTP client of its own (never http.DefaultClient) whose every
// connection is checked at dial time, on the address actually dialed. Calls share its connection pool, never
// their policies: each call gets a CallDoor. A Door is safe for concurrent use.
type Door struct {
	allow    []netip.Prefix
	resolver Resolver
	dialer   *net.Dialer
	tr       *http.Transport
	client   *http.Client
}

// NewDoor returns a door configured by cfg.
func NewDoor(cfg DoorConfig) (*Door, error) {
	d := &Door{resolver: cfg.Resolver}
	for _, p := range cfg.AllowPrivateEgress {
		if !p.IsValid() {
			return nil, errors.New("host: door: invalid allow-private-egress prefix")
		}
		d.allow = append(d.allow, p.Masked())
	}
	if d.resolver == nil {
		d.resolver = net.DefaultResolver
	}
	timeout := cfg.DialTimeout
	if timeout <= 0 {
		timeout = DefaultDialTimeout
	}
	d.dialer = &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: d.control}
	var tc *tls.Config
	if cfg.TLSConfig != nil {
		tc = cfg.TLSConfig.Clone()
	} else {
		tc = &tls.Config{}
	}
	if tc.MinVersion < tls.VersionTLS12 {
		tc.MinVersion = tls.VersionTLS12
	}
	d.tr = &http.Transport{
		Proxy:                  nil, // never a proxy from the environment: it would dial for us, unchecked
		DialContext:            d.dial,
		TLSClientConfig:        tc,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    timeout,
		MaxIdleConns:           64,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        60 * time.Second,
		MaxResponseHeaderBytes: maxResponseHeaderSize,
	}
	d.client = &http.Client{
		Transport: d.tr,
		// The door follows redirects itself, so that each hop is checked and recorded like a request.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return d, nil
}

// Close closes the door's idle connections.
func (d *Door) Close() { d.tr.CloseIdleConnections() }

// ParseAllowPrivateEgress parses a comma-separated list of CIDR prefixes (as --allow-private-egress takes it).
func ParseAllowPrivateEgress(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("allow-private-egress: %q is not a CIDR prefix", f)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// dialDenied is the error of a dial the door refused: a refused address without an allowance.
type dialDenied struct{ reason string }

func (e *dialDenied) Error() string { return e.reason }

// check returns why ip may not be dialed, "" if it may.
func (d *Door) check(ip netip.Addr) string {
	ip = ip.WithZone("")
	r := refusedAddr(ip)
	if r == "" {
		return ""
	}
	for _, p := range d.allow {
		if p.Contains(ip.Unmap()) {
			return ""
		}
	}
	return "address " + ip.Unmap().String() + " is " + r
}

// dial resolves addr's host (unless it is an address already) and dials the first resolved address that passes
// the check. Only checked addresses are dialed, so a name that resolves to a private address — or rebinds to
// one between two lookups — is refused.
func (d *Door) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, &dialDenied{"malformed address"}
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		ips, err = d.resolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			var de *net.DNSError
			if errors.As(err, &de) {
				return nil, fmt.Errorf("resolve %s: %s", host, de.Err)
			}
			return nil, fmt.Errorf("resolve %s: %w", host, err)
		}
	}
	var denied string
	var lastErr error
	for _, ip := range ips {
		if r := d.check(ip); r != "" {
			if denied == "" {
				denied = r
			}
			continue
		}
		conn, err := d.dialer.DialContext(ctx, network, net.JoinHostPort(ip.Unmap().String(), port))
		if err == nil {
			return conn, nil
		}
		lastErr = err
	}
	if lastErr != nil {
		return nil, lastErr
	}
	if denied == "" {
		denied = "no address for " + host
	}
	return nil, &dialDenied{denied}
}

// control checks the address of every socket the dialer connects, as a second line behind dial.
func (d *Door) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &dialDenied{"malformed address"}
	}
	if r := d.check(ap.Addr()); r != "" {
		return &dialDenied{r}
	}
	return nil
}

// grants is a Policy in the form the door matches against.
type grants struct {
	http    []HTTPGrant
	secrets map[string]SecretGrant
}

func normalizePolicy(p Policy) grants {
	g := grants{secrets: map[string]SecretGrant{}}
	for _, h := range p.HTTP {
		h.Host = strings.TrimSuffix(strings.ToLower(h.Host), ".")
		h.Scheme = strings.ToLower(h.Scheme)
		if h.Scheme == "" {
			h.Scheme = "https"
		}
		if h.Scheme != "http" && h.Scheme != "https" || h.Host == "" {
			continue
		}
		if len(h.Ports) == 0 {
			h.Ports = []int{defaultPort(h.Scheme)}
		}
		ms := make([]string, len(h.Methods))
		for i, m := range h.Methods {
			ms[i] = strings.ToUpper(m)
		}
		h.Methods = ms
		g.http = append(g.http, h)
	}
	for _, s := range p.Secrets {
		hosts := make([]string, len(s.Hosts))
		for i, h := range s.Hosts {
			hosts[i] = strings.TrimSuffix(strings.ToLower(h), ".")
		}
		s.Hosts = hosts
		g.secrets[s.Name] = s
	}
	return g
}

// matchHost reports whether host is allowed by pattern: equal, or a strict subdomain of a "*.suffix" pattern.
// IP addresses match only exactly.
func matchHost(pattern, host string, isIP bool) bool {
	if suffix, ok := strings.CutPrefix(pattern, "*."); ok {
		return !isIP && strings.HasSuffix(host, "."+suffix)
	}
	return pattern == host
}

// allows returns "" when some grant allows method on t, else why not (the closest grant's mismatch).
func (g grants) allows(t target, method string) string {
	reason := "host " + t.host + " is not granted"
	for _, h := range g.http {
		if !matchHost(h.Host, t.host, t.ip.IsValid()) {
			continue
		}
		switch {
		case h.Scheme != t.scheme:
			reason = "scheme " + t.scheme + " is not granted for host " + t.host
		case !containsInt(h.Ports, t.port):
			reason = "port " + strconv.Itoa(t.port) + " is not granted for host " + t.host
		case len(h.Methods) > 0 && !containsStr(h.Methods, method):
			reason = "method " + method + " is not granted for host " + t.host
		default:
			return ""
		}
	}
	return reason
}

// secretAllowed reports whether secret name may be sent to host.
func (g grants) secretAllowed(name, host string) bool {
	s, ok := g.secrets[name]
	return ok && containsStr(s.Hosts, host)
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func containsStr(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// methods the door sends; anything else (CONNECT, TRACE, made-up methods) is refused.
var doorMethods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true,
	"DELETE": true, "OPTIONS": true}

// CallDoor is the network door of one call: the call's grants and caps, the secrets it may use, and the record
// of every attempt. Make one per call with Door.NewCall; it is safe for concurrent use.
type CallDoor struct {
	d        *Door
	g        grants
	secrets  SecretSource
	deadline time.Time
	maxReqs  int
	maxOut   int64
	maxIn    int64

	mu         sync.Mutex
	attempts   int
	suppressed int // attempts past the cap that got no receipt line
	bytesOut   int64
	bytesIn    int64
	lines      []receipts.HTTPLine
	uses       map[string]map[string]bool // secret name → set of use entries
	vault      *vault                     // the values of the call's granted secrets, loaded on first need
	vaultReady bool
}

// NewCall returns the door of one call under policy p. secrets provides the values of the secrets p grants (nil:
// none). deadline, if not zero, is the end of the call: no request outlives it.
func (d *Door) NewCall(p Policy, secrets SecretSource, deadline time.Time) *CallDoor {
	c := &CallDoor{d: d, g: normalizePolicy(p), secrets: secrets, deadline: deadline, maxReqs: p.MaxRequests,
		maxOut: p.MaxRequestBytes, maxIn: p.MaxResponseBytes, uses: map[string]map[string]bool{}}
	if c.maxOut <= 0 {
		c.maxOut = DefaultMaxRequestBytes
	}
	if c.maxIn <= 0 {
		c.maxIn = DefaultMaxResponseBytes
	}
	return c
}

// Lines returns the receipt lines of the call's attempts, oldest first.
func (c *CallDoor) Lines() []receipts.HTTPLine {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.lines) == 0 {
		return nil
	}
	return append([]receipts.HTTPLine(nil), c.lines...)
}

// Suppressed returns how many attempts past the request cap were refused without a receipt line of their own.
func (c *CallDoor) Suppressed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.suppressed
}

// SecretUses returns, for each secret the call used or tried to use, what happened, as a receipt's secrets
// map: a comma-separated, sorted list of the hosts its value was sent to, "refused:<host>" for each host it was
// refused for, and "exposed" when the tool read the value itself. Values never appear.
func (c *CallDoor) SecretUses() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.uses) == 0 {
		return nil
	}
	out := make(map[string]string, len(c.uses))
	for name, set := range c.uses {
		entries := make([]string, 0, len(set))
		for e := range set {
			entries = append(entries, e)
		}
		sort.Strings(entries)
		out[name] = strings.Join(entries, ",")
	}
	return out
}

func (c *CallDoor) use(name, entry string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.uses[name] == nil {
		c.uses[name] = map[string]bool{}
	}
	c.uses[name][entry] = true
}

// record appends a receipt line; reasons and paths are scrubbed of secret values first.
func (c *CallDoor) record(l receipts.HTTPLine) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.vault != nil {
		l.Reason = c.vault.scrub(l.Reason)
		l.Path = c.vault.scrub(l.Path)
	}
	l.Path = Truncate(l.Path, maxReceiptPathBytes)
	c.lines = append(c.lines, l)
}

// reserve counts one attempt against the cap. It returns false when the cap is reached; line reports whether
// the refusal still gets a receipt line (the first refusal does, later ones are only counted).
func (c *CallDoor) reserve() (ok, line bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.attempts < c.maxReqs {
		c.attempts++
		return true, true
	}
	c.attempts++
	if c.attempts == c.maxReqs+1 {
		return false, true
	}
	c.suppressed++
	return false, false
}

// Do sends one request for the guest through the door: it checks the URL against the grants, substitutes the
// secrets granted for the destination host, sends it over a connection whose address is checked at dial time,
// follows redirects (each hop checked again from the guest's original request, as its own attempt), and masks
// secret values out of the response. Every attempt is a receipt line. A refused or failed request is a
// *DoorError (ErrDenied, ErrLimit or ErrRequestFailed) whose message may be shown to the guest; a denied request
// never leaves the machine.
func (c *CallDoor) Do(ctx context.Context, req Request) (Response, error) {
	if !c.deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, c.deadline)
		defer cancel()
	}
	method := strings.ToUpper(req.Method)
	if method == "" {
		method = http.MethodGet
	}
	body := req.Body
	header := req.Header
	raw := req.URL
	var first target
	for hop := 0; ; hop++ {
		t, resp, next, err := c.attempt(ctx, method, raw, header, body, hop)
		if err != nil {
			return Response{}, err
		}
		if hop == 0 {
			first = t
		}
		if next == nil {
			return resp, nil
		}
		if hop == MaxRedirects {
			return Response{}, &DoorError{Method: method, Host: t.host, Reason: "more than " +
				strconv.Itoa(MaxRedirects) + " redirects", Err: ErrDenied}
		}
		// Redirect semantics of net/http's client: 301, 302 and 303 turn into a GET without a body (HEAD
		// stays HEAD); 307 and 308 resend the same method and body.
		if resp.Status == http.StatusMovedPermanently || resp.Status == http.StatusFound ||
			resp.Status == http.StatusSeeOther {
			if method != http.MethodGet && method != http.MethodHead {
				method = http.MethodGet
			}
			body = nil
			header = withoutHeaders(header, "content-type", "content-length")
		}
		// Credentials the guest wrote itself do not follow a redirect to another host (as net/http does);
		// placeholders are substituted again, only if granted for the new host.
		if nt, reason := parseTarget(next.String()); reason == "" && nt.host != first.host &&
			!strings.HasSuffix(nt.host, "."+first.host) {
			header = withoutHeaders(header, "authorization", "www-authenticate", "cookie", "cookie2",
				"proxy-authorization")
		}
		raw = next.String()
	}
}

func withoutHeaders(h map[string]string, names ...string) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		if !containsStr(names, strings.ToLower(k)) {
			out[k] = v
		}
	}
	return out
}

// hopHeaders are set by the transport; a guest's value for them is dropped.
var hopHeaders = map[string]bool{"content-length": true, "connection": true, "keep-alive": true, "te": true,
	"trailer": true, "transfer-encoding": true, "upgrade": true, "proxy-connection": true,
	"accept-encoding": true}

// attempt makes one attempt (one hop): check, substitute, send, read, mask, record. next is the redirect's
// target when the response is one the door follows.
func (c *CallDoor) attempt(ctx context.Context, method, raw string, header map[string]string, body []byte,
	hop int) (t target, resp Response, next *url.URL, err error) {
	start := time.Now()
	line := receipts.HTTPLine{Method: method, Decision: DecisionDenied}
	deny := func(reason string, kind error) (target, Response, *url.URL, error) {
		line.Reason = reason
		line.MS = time.Since(start).Milliseconds()
		c.record(line)
		return t, Response{}, nil, &DoorError{Method: method, Host: line.Host,
			Reason: c.currentVault().scrub(reason), Err: kind}
	}

	t, reason := parseTarget(raw)
	if reason == "" {
		line.Host, line.Path = t.host, t.path()
	}
	ok, withLine := c.reserve()
	if !ok {
		reason := "request cap of " + strconv.Itoa(c.maxReqs) + " reached"
		if !withLine {
			return t, Response{}, nil, &DoorError{Method: method, Host: line.Host, Reason: reason, Err: ErrLimit}
		}
		return deny(reason, ErrLimit)
	}
	if reason != "" {
		return deny(reason, ErrDenied)
	}
	if hop > 0 {
		line.Reason = "redirect"
	}
	if !doorMethods[method] {
		return deny("method "+method+" is refused", ErrDenied)
	}
	if r := c.g.allows(t, method); r != "" {
		return deny(r, ErrDenied)
	}
	if err := ctx.Err(); err != nil {
		return deny("the call's time is up", ErrLimit)
	}
	if strings.Contains(raw, placeholderPrefix) {
		return deny("secret placeholders are substituted in headers and body only, not in the URL", ErrDenied)
	}

	// Secrets: load the call's granted values once, substitute the placeholders granted for this host, and
	// refuse any other secret's value on its way out.
	v, err := c.loadVault(ctx)
	if err != nil {
		return deny("secrets unavailable", ErrRequestFailed)
	}
	hreq, used, reason := c.build(ctx, method, t, header, body, v)
	for _, u := range used {
		if u.refused {
			c.use(u.name, "refused:"+t.host)
		}
	}
	if reason != "" {
		return deny(reason, ErrDenied)
	}
	size := hreq.ContentLength
	c.mu.Lock()
	over := c.bytesOut+size > c.maxOut
	if !over {
		c.bytesOut += size
	}
	c.mu.Unlock()
	if over {
		return deny("request bodies over the call's cap of "+strconv.FormatInt(c.maxOut, 10)+" bytes", ErrLimit)
	}

	// Send. From here the decision is "allowed"; a failure is the request's, not the door's — except a
	// refusal at dial time, when nothing left the machine.
	hresp, err := c.d.client.Do(hreq)
	var dd *dialDenied
	if errors.As(err, &dd) {
		return deny(dd.reason, ErrDenied)
	}
	for _, u := range used {
		c.use(u.name, t.host)
	}
	if err != nil {
		line.Decision = DecisionAllowed
		line.BytesOut = size
		if ctx.Err() != nil {
			return deny("the call's time is up", ErrLimit)
		}
		return deny(transportReason(err), ErrRequestFailed)
	}
	defer hresp.Body.Close()
	line.Decision, line.Status, line.BytesOut = DecisionAllowed, hresp.StatusCode, size

	c.mu.Lock()
	room := c.maxIn - c.bytesIn
	c.mu.Unlock()
	b, err := io.ReadAll(io.LimitReader(hresp.Body, room+1))
	n := int64(len(b))
	c.mu.Lock()
	c.bytesIn += min(n, room)
	c.mu.Unlock()
	line.BytesIn = min(n, room)
	switch {
	case n > room:
		return deny("response bodies over the call's cap of "+strconv.FormatInt(c.maxIn, 10)+" bytes", ErrLimit)
	case err != nil && ctx.Err() != nil:
		return deny("the call's time is up", ErrLimit)
	case err != nil:
		return deny("reading the response: "+transportReason(err), ErrRequestFailed)
	}
	if enc := hresp.Header.Get("Content-Encoding"); enc != "" && enc != "identity" && v.active() {
		return deny("response content-encoding "+Truncate(enc, 32)+" cannot be checked for secret values", ErrDenied)
	}

	resp = Response{Status: hresp.StatusCode, Header: map[string]string{}, Body: v.mask(b)}
	for k, vals := range hresp.Header {
		resp.Header[strings.ToLower(k)] = v.maskString(strings.Join(vals, ", "))
	}
	line.MS = time.Since(start).Milliseconds()
	c.record(line)

	switch hresp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect,
		http.StatusPermanentRedirect:
		loc := hresp.Header.Get("Location")
		if loc == "" {
			return t, resp, nil, nil
		}
		next, err := t.u.Parse(loc)
		if err != nil {
			return t, resp, nil, &DoorError{Method: method, Host: t.host, Reason: "malformed redirect location",
				Err: ErrDenied}
		}
		return t, resp, next, nil
	}
	return t, resp, nil, nil
}

// transportReason describes a transport failure without the URL (which net/http puts in its errors).
func transportReason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timed out"
	}
	return Truncate(err.Error(), 200)
}

// secretUse is one placeholder in a request: the secret's name, and whether it was refused for the host.
type secretUse struct {
	name    string
	refused bool
}

// build makes the HTTP request of one attempt: guest headers (hop-by-hop ones dropped, Host refused unless it
// names the URL's host), placeholders substituted where granted, and no secret value sent to a host it is not
// granted for. reason is why the request is refused.
func (c *CallDoor) build(ctx context.Context, method string, t target, header map[string]string, body []byte,
	v *vault) (*http.Request, []secretUse, string) {
	if len(header) > maxRequestHeaders {
		return nil, nil, "more than " + strconv.Itoa(maxRequestHeaders) + " headers"
	}
	var uses []secretUse
	refuse := ""
	sub := func(s []byte) []byte {
		out, u, r := substitute(s, func(name string) ([]byte, string) {
			if !c.g.secretAllowed(name, t.host) {
				return nil, "secret " + name + " is not granted for host " + t.host
			}
			val, ok := v.value(name)
			if !ok {
				return nil, "secret " + name + " is not set"
			}
			return val, ""
		})
		uses = append(uses, u...)
		if r != "" && refuse == "" {
			refuse = r
		}
		return out
	}

	h := http.Header{}
	names := make([]string, 0, len(header))
	for k := range header {
		names = append(names, k)
	}
	sort.Strings(names) // deterministic: the first refusal is the same on every run
	for _, k := range names {
		val := header[k]
		lk := strings.ToLower(k)
		if hopHeaders[lk] {
			continue
		}
		if !validHeaderName(k) {
			return nil, nil, "malformed header name"
		}
		if len(val) > maxHeaderValueBytes {
			return nil, nil, "header " + k + " longer than " + strconv.Itoa(maxHeaderValueBytes) + " bytes"
		}
		if lk == "host" {
			if strings.ToLower(val) != t.u.Host {
				return nil, nil, "a Host header other than the URL's host is refused"
			}
			continue
		}
		out := sub([]byte(val))
		if bytes.ContainsAny(out, "\r\n\x00") {
			return nil, nil, "header " + k + " holds a line break"
		}
		h.Set(k, string(out))
	}
	out := body
	if len(body) > 0 {
		out = sub(body)
	}
	if refuse != "" {
		return nil, uses, refuse
	}
	if name := v.leak(t.host, c.g, t.u.String(), h, out); name != "" {
		c.use(name, "refused:"+t.host)
		return nil, uses, "the value of secret " + name + " is not granted for host " + t.host
	}
	var rd io.Reader
	if len(out) > 0 {
		rd = bytes.NewReader(out)
	}
	hreq, err := http.NewRequestWithContext(ctx, method, t.u.String(), rd)
	if err != nil {
		return nil, uses, "malformed request"
	}
	hreq.Header = h
	return hreq, uses, ""
}

// validHeaderName reports whether k is an HTTP token (RFC 9110).
func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		ch := k[i]
		if ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", ch) >= 0 {
			continue
		}
		return false
	}
	return true
}

// FailureResponse is what an engine may hand the guest for a request the door refused or could not complete,
// so that a plugin written against the Extism PDK sees an HTTP failure it can handle rather than a trap: status
// 403 for a denial, 429 for a cap, 502 for a failed request, a "toolgate-door" header with the kind, and the
// error's message (which holds no secret value) as the body.
func FailureResponse(err error) Response {
	status, kind := http.StatusBadGateway, "failed"
	switch {
	case errors.Is(err, ErrDenied):
		status, kind = http.StatusForbidden, "denied"
	case errors.Is(err, ErrLimit):
		status, kind = http.StatusTooManyRequests, "limit"
	}
	return Response{Status: status, Header: map[string]string{"toolgate-door": kind,
		"content-type": "text/plain; charset=utf-8"}, Body: []byte(err.Error())}
}
