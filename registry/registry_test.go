package registry

import (
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestParseSemver(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"1.0.0", true}, {"0.0.0", true}, {"10.20.30", true}, {"1.2.3-rc.1", true}, {"1.2.3-alpha-beta.0a", true},
		{"1.0", false}, {"1", false}, {"", false}, {"01.0.0", false}, {"1.02.0", false}, {"1.0.0-", false},
		{"1.0.0-01", false}, {"1.0.0-a..b", false}, {"1.0.0+build", false}, {"v1.0.0", false},
		{"1.0.0-é", false}, {"99999999999999999999.0.0", false}, {"1.0.0.0", false}, {strings.Repeat("1", 129), false},
	} {
		_, err := ParseSemver(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseSemver(%q): got err %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}

func TestCompareSemver(t *testing.T) {
	// semver.org's precedence example, in order.
	order := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
		"1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.2.0", "1.10.0", "2.0.0"}
	for i := range order {
		for j := range order {
			got := CompareSemver(order[i], order[j])
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got != want {
				t.Errorf("CompareSemver(%s, %s): got %d, want %d", order[i], order[j], got, want)
			}
		}
	}
	shuffled := slices.Clone(order)
	slices.Reverse(shuffled)
	slices.SortFunc(shuffled, CompareSemver)
	if !slices.Equal(shuffled, order) {
		t.Errorf("sorted: got %v, want %v", shuffled, order)
	}
}

func TestValidNames(t *testing.T) {
	for name, ok := range map[string]bool{"a": true, "refund-v2": true, "a" + strings.Repeat("b", 62): true,
		"a" + strings.Repeat("b", 63): false, "": false, "1a": false, "A": false, "a_b": false, "a.b": false,
		"-a": false} {
		if ValidToolName(name) != ok {
			t.Errorf("ValidToolName(%q): got %v, want %v", name, !ok, ok)
		}
	}
	d := DigestOf([]byte("x"))
	for s, ok := range map[string]bool{d: true, strings.ToUpper(d): false, d[:len(d)-1]: false,
		"sha512:" + d[7:]: false, "": false} {
		if ValidDigest(s) != ok {
			t.Errorf("ValidDigest(%q): got %v, want %v", s, !ok, ok)
		}
	}
}

// FuzzValidToolName checks the hand-written ValidToolName against the regular expression it implements.
func FuzzValidToolName(f *testing.F) {
	for _, s := range []string{"a", "refund-v2", "1a", "A", "a_b", "-a", "a-", "a" + strings.Repeat("b", 62), "é"} {
		f.Add(s)
	}
	re := regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
	f.Fuzz(func(t *testing.T, name string) {
		if got, want := ValidToolName(name), re.MatchString(name); got != want {
			t.Fatalf("ValidToolName(%q): got %v, want %v", name, got, want)
		}
	})
}

const digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"

func TestParseDocument(t *testing.T) {
	for _, tc := range []struct {
		name, doc, field string // field: "" for valid
	}{
		{"minimal", `{"module":"` + digest + `"}`, ""},
		{"full", `{"module":"` + digest + `","abi":"extism","entry":"run","description":"d",
			"input_schema":{"type":"object"},"limits":{"fuel":1,"memory_bytes":65536,"timeout_ms":1,
			"max_input_bytes":0,"max_output_bytes":1,"max_http_requests":0},
			"grants":{"http":[{"host":"api.example.com","methods":["POST"]},{"host":"*.example.org","scheme":"http","ports":[8080]}],
			"secrets":[{"name":"PAY_KEY","hosts":["api.example.com","x.example.org"]}]},"config":{"k":"v"}}`, ""},
		{"unknown field", `{"module":"` + digest + `","x":1}`, "?"},
		{"unknown nested field", `{"module":"` + digest + `","grants":{"http":[{"host":"a.com","path":"/"}]}}`, "?"},
		{"trailing data", `{"module":"` + digest + `"} {}`, "?"},
		{"wrong type", `{"module":"` + digest + `","limits":{"fuel":"lots"}}`, "?"},
		{"negative limit", `{"module":"` + digest + `","limits":{"fuel":-1}}`, "?"},
		{"bad digest", `{"module":"sha256:abc"}`, "module"},
		{"bad abi", `{"module":"` + digest + `","abi":"wasix"}`, "abi"},
		{"schema not object", `{"module":"` + digest + `","input_schema":[1]}`, "input_schema"},
		{"bad host", `{"module":"` + digest + `","grants":{"http":[{"host":"API.example.com"}]}}`, "grants.http[0]"},
		{"url as host", `{"module":"` + digest + `","grants":{"http":[{"host":"https://a.com"}]}}`, "grants.http[0]"},
		{"bad scheme", `{"module":"` + digest + `","grants":{"http":[{"host":"a.com","scheme":"ftp"}]}}`, "grants.http[0]"},
		{"bad port", `{"module":"` + digest + `","grants":{"http":[{"host":"a.com","ports":[0]}]}}`, "grants.http[0]"},
		{"bad method", `{"module":"` + digest + `","grants":{"http":[{"host":"a.com","methods":["get"]}]}}`, "grants.http[0]"},
		{"secret without hosts", `{"module":"` + digest + `","grants":{"secrets":[{"name":"K","hosts":[]}]}}`, "grants.secrets[0]"},
		{"secret to ungranted host", `{"module":"` + digest + `","grants":{"http":[{"host":"a.com"}],"secrets":[{"name":"K","hosts":["b.com"]}]}}`, "grants.secrets[0]"},
		{"secret wildcard host", `{"module":"` + digest + `","grants":{"http":[{"host":"*.a.com"}],"secrets":[{"name":"K","hosts":["*.a.com"]}]}}`, "grants.secrets[0]"},
		{"wildcard is strict", `{"module":"` + digest + `","grants":{"http":[{"host":"*.a.com"}],"secrets":[{"name":"K","hosts":["a.com"]}]}}`, "grants.secrets[0]"},
		{"secret twice", `{"module":"` + digest + `","grants":{"http":[{"host":"a.com"}],"secrets":[{"name":"K","hosts":["a.com"]},{"name":"K","hosts":["a.com"]}]}}`, "grants.secrets[1]"},
		{"too large", `{"module":"` + digest + `","description":"` + strings.Repeat("x", MaxDocumentBytes) + `"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseDocument([]byte(tc.doc))
			if tc.field == "" && tc.name != "too large" {
				if err != nil {
					t.Fatalf("got %v, want a valid document", err)
				}
				return
			}
			var de *DocumentError
			if !errors.As(err, &de) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("got %v, want a *DocumentError wrapping ErrInvalid", err)
			}
			if tc.field != "?" && de.Field != tc.field {
				t.Errorf("field: got %q, want %q (%v)", de.Field, tc.field, err)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	p := DefaultPolicy()
	d, err := ParseDocument([]byte(`{"module":"` + digest + `","limits":{"timeout_ms":500},
		"grants":{"http":[{"host":"a.com"},{"host":"b.com","scheme":"http"}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Normalize(p); err != nil {
		t.Fatal(err)
	}
	v := d.Limits.Values()
	want := p.Defaults
	want.TimeoutMS = 500
	if v != want {
		t.Errorf("limits: got %+v, want %+v", v, want)
	}
	if g := d.Grants.HTTP; g[0].Scheme != "https" || g[0].Ports[0] != 443 || g[1].Ports[0] != 80 {
		t.Errorf("grants: got %+v, want scheme and port defaults", g)
	}
	doc1, m1, err := d.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	// Normalizing twice and re-parsing the canonical form gives the same manifest: the digest is stable.
	d2, err := ParseDocument(doc1)
	if err != nil {
		t.Fatal(err)
	}
	if err := d2.Normalize(p); err != nil {
		t.Fatal(err)
	}
	if doc2, m2, _ := d2.Canonical(); m1 != m2 || string(doc1) != string(doc2) {
		t.Errorf("canonical form not stable:\n%s\n%s", doc1, doc2)
	}
	if !json.Valid(doc1) || strings.ContainsAny(string(doc1), "\n ") {
		t.Errorf("canonical: got %s, want compact JSON", doc1)
	}
	for _, lim := range []string{`{"fuel":0}`, `{"memory_bytes":0}`, `{"timeout_ms":0}`, `{"memory_bytes":1099511627776}`,
		`{"max_http_requests":100000}`} {
		d, err := ParseDocument([]byte(`{"module":"` + digest + `","limits":` + lim + `}`))
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Normalize(p); !errors.Is(err, ErrInvalid) {
			t.Errorf("limits %s: got %v, want ErrInvalid", lim, err)
		}
	}
	d, _ = ParseDocument([]byte(`{"module":"` + digest + `","limits":{"max_input_bytes":0,"max_http_requests":0}}`))
	if err := d.Normalize(p); err != nil {
		t.Errorf("zero input cap and zero requests: got %v, want allowed", err)
	}
}

// FuzzParseDocument: no input panics; whatever parses normalizes or fails cleanly, and its canonical form
// parses again to the same manifest.
func FuzzParseDocument(f *testing.F) {
	f.Add([]byte(`{"module":"` + digest + `"}`))
	f.Add([]byte(`{"module":"` + digest + `","grants":{"http":[{"host":"*.a.com","ports":[1]}],"secrets":[{"name":"K","hosts":["b.a.com"]}]},"config":{"a":"b"},"limits":{"fuel":5}}`))
	f.Add([]byte(`{"module":1}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseDocument(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if d.Normalize(DefaultPolicy()) != nil {
			return
		}
		doc, m, err := d.Canonical()
		if err != nil {
			t.Fatal(err)
		}
		d2, err := ParseDocument(doc)
		if err != nil {
			t.Fatalf("canonical form %s does not parse: %v", doc, err)
		}
		if err := d2.Normalize(DefaultPolicy()); err != nil {
			t.Fatal(err)
		}
		if _, m2, _ := d2.Canonical(); m2 != m {
			t.Fatalf("manifest changed on round trip: %s", doc)
		}
	})
}
