package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/toolgate/toolgate/internal/canonjson"
	"regexp"
	"strings"
)

// MaxDocumentBytes caps the size of a version document.
const MaxDocumentBytes = 64 << 10

// ABIs a version document may name.
const (
	ABIExtism      = "extism"
	ABIWASICommand = "wasi-command"
)

// Document is a version document: it binds a module to the policy it runs under. Once normalized every limit is
// set, so the document (and its digest, the manifest) states the whole policy that was in force for a call.
type Document struct {
	Module      string            `json:"module"`
	ABI         string            `json:"abi,omitempty"`
	Entry       string            `json:"entry,omitempty"`
	Description string            `json:"description,omitempty"`
	InputSchema json.RawMessage   `json:"input_schema,omitempty"`
	Limits      Limits            `json:"limits"`
	Grants      Grants            `json:"grants"`
	Config      map[string]string `json:"config,omitempty"`
}

// Limits bound one call. Nil fields take the server's default when a document is normalized.
type Limits struct {
	Fuel            *uint64 `json:"fuel,omitempty"`
	MemoryBytes     *uint64 `json:"memory_bytes,omitempty"`
	TimeoutMS       *uint64 `json:"timeout_ms,omitempty"`
	MaxInputBytes   *uint64 `json:"max_input_bytes,omitempty"`
	MaxOutputBytes  *uint64 `json:"max_output_bytes,omitempty"`
	MaxHTTPRequests *uint64 `json:"max_http_requests,omitempty"`
}

// Grants name what a version may reach. Nothing is granted by default.
type Grants struct {
	HTTP    []HTTPGrant   `json:"http,omitempty"`
	Secrets []SecretGrant `json:"secrets,omitempty"`
}

// HTTPGrant allows outbound requests to a host (exact, or "*.suffix" for any subdomain).
type HTTPGrant struct {
	Host    string   `json:"host"`
	Scheme  string   `json:"scheme,omitempty"`  // default "https"
	Ports   []int    `json:"ports,omitempty"`   // default the scheme's port
	Methods []string `json:"methods,omitempty"` // default any
}

// SecretGrant binds a secret to the hosts it may be sent to.
type SecretGrant struct {
	Name   string   `json:"name"`
	Hosts  []string `json:"hosts"`
	Expose bool     `json:"expose,omitempty"`
}

// Policy is the server's default and ceiling for each limit.
type Policy struct {
	Defaults LimitValues
	Ceilings LimitValues
}

// LimitValues is a complete set of limits.
type LimitValues struct {
	Fuel, MemoryBytes, TimeoutMS, MaxInputBytes, MaxOutputBytes, MaxHTTPRequests uint64
}

// DefaultPolicy is the policy a server uses unless configured otherwise.
func DefaultPolicy() Policy {
	return Policy{
		Defaults: LimitValues{Fuel: 1_000_000_000, MemoryBytes: 64 << 20, TimeoutMS: 10_000,
			MaxInputBytes: 1 << 20, MaxOutputBytes: 1 << 20, MaxHTTPRequests: 8},
		Ceilings: LimitValues{Fuel: 100_000_000_000, MemoryBytes: 1 << 30, TimeoutMS: 300_000,
			MaxInputBytes: 16 << 20, MaxOutputBytes: 16 << 20, MaxHTTPRequests: 256},
	}
}

// Values returns the limits with every field set (call after Normalize).
func (l Limits) Values() LimitValues {
	v := func(p *uint64) uint64 {
		if p == nil {
			return 0
		}
		return *p
	}
	return LimitValues{v(l.Fuel), v(l.MemoryBytes), v(l.TimeoutMS), v(l.MaxInputBytes), v(l.MaxOutputBytes),
		v(l.MaxHTTPRequests)}
}

// DocumentError is a version document that failed validation. It wraps ErrInvalid.
type DocumentError struct {
	Field  string
	Reason string
}

func (e *DocumentError) Error() string {
	if e.Field == "" {
		return "version document: " + e.Reason
	}
	return fmt.Sprintf("version document: %s: %s", e.Field, e.Reason)
}

// Unwrap lets errors.Is(err, ErrInvalid) match.
func (e *DocumentError) Unwrap() error { return ErrInvalid }

func docErr(field, format string, args ...any) error {
	return &DocumentError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// ParseDocument decodes a version document strictly (unknown fields and trailing data are errors) and checks what
// can be checked without the module: syntax of every field, grants, config sizes. It does not apply defaults.
func ParseDocument(b []byte) (*Document, error) {
	if len(b) > MaxDocumentBytes {
		return nil, docErr("", "larger than %d bytes", MaxDocumentBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var d Document
	if err := dec.Decode(&d); err != nil {
		return nil, docErr("", "%s", jsonReason(err))
	}
	if dec.More() {
		return nil, docErr("", "trailing data after the document")
	}
	if err := d.check(); err != nil {
		return nil, err
	}
	return &d, nil
}

// jsonReason turns a decoding error into a message without Go type names.
func jsonReason(err error) string {
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		return fmt.Sprintf("field %q has the wrong type", ute.Field)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

var (
	secretNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
	hostLabelRE  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	methods      = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true,
		"DELETE": true, "OPTIONS": true}
)

func (d *Document) check() error {
	if !ValidDigest(d.Module) {
		return docErr("module", "want a digest sha256:<64 lowercase hex>")
	}
	switch d.ABI {
	case "", ABIExtism, ABIWASICommand:
	default:
		return docErr("abi", "unknown ABI %q (want %q or %q)", d.ABI, ABIExtism, ABIWASICommand)
	}
	if len(d.Entry) > 128 {
		return docErr("entry", "longer than 128 bytes")
	}
	if len(d.Description) > 4096 {
		return docErr("description", "longer than 4096 bytes")
	}
	if len(d.InputSchema) > 0 {
		if s := bytes.TrimSpace(d.InputSchema); len(s) == 0 || s[0] != '{' {
			return docErr("input_schema", "must be a JSON object")
		}
	}
	if len(d.Config) > 64 {
		return docErr("config", "more than 64 entries")
	}
	for k, v := range d.Config {
		if k == "" || len(k) > 128 {
			return docErr("config", "keys must be 1 to 128 bytes")
		}
		if len(v) > 4096 {
			return docErr("config", "value of %q longer than 4096 bytes", k)
		}
	}
	return d.Grants.check()
}

func validHostPattern(h string) bool {
	name := strings.TrimPrefix(h, "*.")
	if name == "" || len(name) > 253 {
		return false
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if !hostLabelRE.MatchString(l) {
			return false
		}
	}
	return true
}

// matchHost reports whether host is allowed by pattern (exact, or "*.suffix" for strict subdomains).
func matchHost(pattern, host string) bool {
	if suffix, ok := strings.CutPrefix(pattern, "*."); ok {
		return strings.HasSuffix(host, "."+suffix)
	}
	return pattern == host
}

func (g *Grants) check() error {
	if len(g.HTTP) > 64 || len(g.Secrets) > 64 {
		return docErr("grants", "more than 64 entries")
	}
	for i, h := range g.HTTP {
		f := fmt.Sprintf("grants.http[%d]", i)
		if !validHostPattern(h.Host) {
			return docErr(f, "host %q is not a lowercase host name or *.suffix pattern", h.Host)
		}
		switch h.Scheme {
		case "", "https", "http":
		default:
			return docErr(f, "scheme must be https or http")
		}
		for _, p := range h.Ports {
			if p < 1 || p > 65535 {
				return docErr(f, "port %d out of range", p)
			}
		}
		for _, m := range h.Methods {
			if !methods[m] {
				return docErr(f, "unknown method %q", m)
			}
		}
	}
	seen := map[string]bool{}
	for i, s := range g.Secrets {
		f := fmt.Sprintf("grants.secrets[%d]", i)
		if !secretNameRE.MatchString(s.Name) {
			return docErr(f, "secret name %q must match [A-Za-z_][A-Za-z0-9_]*", s.Name)
		}
		if seen[s.Name] {
			return docErr(f, "secret %q granted twice", s.Name)
		}
		seen[s.Name] = true
		if len(s.Hosts) == 0 {
			return docErr(f, "a secret grant must name the hosts it may be sent to")
		}
		for _, h := range s.Hosts {
			if !validHostPattern(h) || strings.HasPrefix(h, "*.") {
				return docErr(f, "host %q is not a host name", h)
			}
			allowed := false
			for _, hg := range g.HTTP {
				allowed = allowed || matchHost(hg.Host, h)
			}
			if !allowed {
				return docErr(f, "host %q is not allowed by any http grant", h)
			}
		}
	}
	return nil
}

// Normalize fills every omitted limit from p's defaults and rejects limits over p's ceilings or of zero (except
// max_http_requests, where zero means none). It also defaults the HTTP grants' scheme and ports.
func (d *Document) Normalize(p Policy) error {
	fields := []struct {
		name        string
		v           **uint64
		def, ceil   uint64
		zeroAllowed bool
	}{
		{"limits.fuel", &d.Limits.Fuel, p.Defaults.Fuel, p.Ceilings.Fuel, false},
		{"limits.memory_bytes", &d.Limits.MemoryBytes, p.Defaults.MemoryBytes, p.Ceilings.MemoryBytes, false},
		{"limits.timeout_ms", &d.Limits.TimeoutMS, p.Defaults.TimeoutMS, p.Ceilings.TimeoutMS, false},
		{"limits.max_input_bytes", &d.Limits.MaxInputBytes, p.Defaults.MaxInputBytes, p.Ceilings.MaxInputBytes, true},
		{"limits.max_output_bytes", &d.Limits.MaxOutputBytes, p.Defaults.MaxOutputBytes, p.Ceilings.MaxOutputBytes, true},
		{"limits.max_http_requests", &d.Limits.MaxHTTPRequests, p.Defaults.MaxHTTPRequests, p.Ceilings.MaxHTTPRequests, true},
	}
	for _, f := range fields {
		if *f.v == nil {
			v := f.def
			*f.v = &v
		}
		switch v := **f.v; {
		case v == 0 && !f.zeroAllowed:
			return docErr(f.name, "must be greater than 0")
		case v > f.ceil:
			return docErr(f.name, "%d is over the server's ceiling of %d", v, f.ceil)
		}
	}
	for i := range d.Grants.HTTP {
		h := &d.Grants.HTTP[i]
		if h.Scheme == "" {
			h.Scheme = "https"
		}
		if len(h.Ports) == 0 {
			if h.Scheme == "https" {
				h.Ports = []int{443}
			} else {
				h.Ports = []int{80}
			}
		}
	}
	return nil
}

// Canonical returns the document's canonical JSON (sorted keys, no insignificant whitespace) and its digest, the
// manifest digest that receipts name.
func (d *Document) Canonical() (doc []byte, manifest string, err error) {
	doc, err = canonjson.Marshal(d)
	if err != nil {
		return nil, "", err
	}
	return doc, DigestOf(doc), nil
}
