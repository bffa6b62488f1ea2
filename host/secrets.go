package host

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// SecretSource gives the network door the values of secrets. The server's implementation opens them from the
// sealed store; the door asks only for secrets the call's policy grants.
type SecretSource interface {
	// Secret returns the value of the secret called name, or an error wrapping ErrSecretNotFound. The door
	// does not keep the slice beyond the call.
	Secret(ctx context.Context, name string) ([]byte, error)
}

// SecretMap is a SecretSource over a map, for tests and local runs.
type SecretMap map[string][]byte

// Secret returns m[name].
func (m SecretMap) Secret(_ context.Context, name string) ([]byte, error) {
	v, ok := m[name]
	if !ok {
		return nil, ErrSecretNotFound
	}
	return bytes.Clone(v), nil
}

// Placeholder returns the text a guest writes for secret name: {{secret:NAME}}.
func Placeholder(name string) string { return placeholderPrefix + name + placeholderSuffix }

const (
	placeholderPrefix = "{{secret:"
	placeholderSuffix = "}}"
)

var secretNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)

// substitute replaces every {{secret:NAME}} in s with lookup(NAME). It returns the secrets named and, when a
// placeholder is malformed or lookup refuses one, the first reason; s is then not usable.
func substitute(s []byte, lookup func(name string) ([]byte, string)) ([]byte, []secretUse, string) {
	if !bytes.Contains(s, []byte(placeholderPrefix)) {
		return s, nil, ""
	}
	var out []byte
	var uses []secretUse
	reason := ""
	rest := s
	for {
		i := bytes.Index(rest, []byte(placeholderPrefix))
		if i < 0 {
			out = append(out, rest...)
			break
		}
		out = append(out, rest[:i]...)
		rest = rest[i+len(placeholderPrefix):]
		j := bytes.Index(rest, []byte(placeholderSuffix))
		if j < 0 || !secretNameRE.Match(rest[:j]) {
			return nil, uses, "malformed secret placeholder"
		}
		name := string(rest[:j])
		rest = rest[j+len(placeholderSuffix):]
		val, r := lookup(name)
		if r != "" {
			uses = append(uses, secretUse{name: name, refused: true})
			if reason == "" {
				reason = r
			}
			continue
		}
		uses = append(uses, secretUse{name: name})
		out = append(out, val...)
	}
	if reason != "" {
		return nil, uses, reason
	}
	return out, uses, ""
}

// vault holds the values of a call's granted secrets, and the forms of each value the door masks out of what the
// guest gets back. A nil vault has no values.
type vault struct {
	values map[string][]byte
	masks  []mask // longest needle first, so a value that contains another is masked whole
}

type mask struct {
	name   string
	needle []byte
}

func newVault(values map[string][]byte) *vault {
	v := &vault{values: values}
	for name, val := range values {
		if len(val) == 0 {
			continue
		}
		seen := map[string]bool{}
		for _, form := range valueForms(val) {
			if form == "" || seen[form] {
				continue
			}
			seen[form] = true
			v.masks = append(v.masks, mask{name: name, needle: []byte(form)})
		}
	}
	sort.Slice(v.masks, func(i, j int) bool {
		if len(v.masks[i].needle) != len(v.masks[j].needle) {
			return len(v.masks[i].needle) > len(v.masks[j].needle)
		}
		return v.masks[i].name < v.masks[j].name
	})
	return v
}

// valueForms are the spellings of a value that a response commonly echoes it in: as is, JSON-string-escaped
// (with and without HTML escaping), and URL-escaped.
func valueForms(val []byte) []string {
	s := string(val)
	forms := []string{s, url.QueryEscape(s), url.PathEscape(s)}
	var buf bytes.Buffer
	for _, html := range []bool{true, false} {
		buf.Reset()
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(html)
		if enc.Encode(s) == nil {
			j := strings.TrimSuffix(buf.String(), "\n")
			forms = append(forms, strings.TrimSuffix(strings.TrimPrefix(j, `"`), `"`))
		}
	}
	return forms
}

func (v *vault) value(name string) ([]byte, bool) {
	if v == nil {
		return nil, false
	}
	val, ok := v.values[name]
	return val, ok
}

// active reports whether the vault holds any value to mask.
func (v *vault) active() bool { return v != nil && len(v.masks) > 0 }

// mask replaces every form of every value in b with the value's placeholder.
func (v *vault) mask(b []byte) []byte {
	if !v.active() {
		return b
	}
	for _, m := range v.masks {
		if bytes.Contains(b, m.needle) {
			b = bytes.ReplaceAll(b, m.needle, []byte(Placeholder(m.name)))
		}
	}
	return b
}

func (v *vault) maskString(s string) string {
	if !v.active() {
		return s
	}
	return string(v.mask([]byte(s)))
}

// scrub masks values out of a text the door writes (a receipt reason, an error message).
func (v *vault) scrub(s string) string { return v.maskString(s) }

// leak returns the name of a secret whose value (in any masked form) is in the URL, a header or the body of a
// request to host although the secret is not granted for host; "" if none is. It catches a tool that read an
// exposed value, or was handed one by a response, and tries to send it elsewhere.
func (v *vault) leak(host string, g grants, rawURL string, h http.Header, body []byte) string {
	if !v.active() {
		return ""
	}
	for _, m := range v.masks {
		if g.secretAllowed(m.name, host) {
			continue
		}
		if strings.Contains(rawURL, string(m.needle)) || bytes.Contains(body, m.needle) {
			return m.name
		}
		for k, vals := range h {
			if strings.Contains(k, string(m.needle)) {
				return m.name
			}
			for _, val := range vals {
				if strings.Contains(val, string(m.needle)) {
					return m.name
				}
			}
		}
	}
	return ""
}

// loadVault loads the values of the call's granted secrets, once. A secret that is not set is left out (a
// request that names it is refused); any other failure of the source fails every request that needs secrets.
func (c *CallDoor) loadVault(ctx context.Context) (*vault, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.vaultReady {
		return c.vault, nil
	}
	if c.secrets == nil || len(c.g.secrets) == 0 {
		c.vaultReady = true
		return nil, nil
	}
	values := map[string][]byte{}
	for name := range c.g.secrets {
		val, err := c.secrets.Secret(ctx, name)
		if errors.Is(err, ErrSecretNotFound) {
			continue
		}
		if err != nil {
			// Not sticky: the next request tries again (the context may have been the cause).
			return nil, err
		}
		values[name] = val
	}
	c.vault, c.vaultReady = newVault(values), true
	return c.vault, nil
}

// currentVault returns the vault if it is loaded.
func (c *CallDoor) currentVault() *vault {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.vault
}

// ExposeSecret returns the value of secret name to the tool itself, for schemes that sign requests with it. Only
// a secret whose grant says "expose": true is given (else ErrNotExposed); the use is marked "exposed" in the
// receipt. The value is still masked out of responses and refused toward hosts it is not granted for.
func (c *CallDoor) ExposeSecret(ctx context.Context, name string) ([]byte, error) {
	g, ok := c.g.secrets[name]
	if !ok || !g.Expose {
		return nil, ErrNotExposed
	}
	v, err := c.loadVault(ctx)
	if err != nil {
		return nil, errors.New("secrets unavailable")
	}
	val, ok := v.value(name)
	if !ok {
		return nil, ErrSecretNotFound
	}
	c.use(name, "exposed")
	return bytes.Clone(val), nil
}

// Close forgets the call's secret values (overwriting them). Lines and SecretUses keep working; Do after Close
// loads the values again.
func (c *CallDoor) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.vault != nil {
		for _, val := range c.vault.values {
			clear(val)
		}
	}
	c.vault, c.vaultReady = nil, false
}
