package receipts

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

func sample() *Receipt {
	return &Receipt{
		ID: NewID(time.Unix(1700000000, 5)), Tool: "refund", Version: "1.2.0", Module: "sha256:aa",
		Manifest: "sha256:bb", Principal: "key:01", StartedAt: time.Unix(1700000000, 5).In(time.FixedZone("X", 3600)),
		WallNS: 42, Status: StatusOK, Input: BlobOf([]byte("in")), Output: BlobOf([]byte("<out>&")),
		Fuel: &Fuel{Limit: 10, Used: 3}, Memory: Memory{LimitBytes: 1 << 20, PeakBytes: 65536},
		HTTP:    []HTTPLine{{Method: "POST", Host: "api.example.com", Path: "/r", Status: 200, Decision: "allowed"}},
		Secrets: map[string]string{"PAY": "api.example.com"},
	}
}

func TestCanonical(t *testing.T) {
	r := sample()
	b, err := r.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.ContainsAny(b, "\n\t ") || !json.Valid(b) {
		t.Errorf("got %s, want compact valid JSON", b)
	}
	// Keys appear sorted at every level.
	var keys []string
	dec := json.NewDecoder(bytes.NewReader(b))
	depth := 0
	var expectKey []bool
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch v := tok.(type) {
		case json.Delim:
			if v == '{' {
				depth++
				expectKey = append(expectKey, true)
			} else if v == '}' {
				depth--
				expectKey = expectKey[:len(expectKey)-1]
			}
		case string:
			if depth == 1 && len(expectKey) == 1 && expectKey[0] {
				keys = append(keys, v)
			}
		}
		if len(expectKey) > 0 && tok != json.Delim('{') {
			expectKey[len(expectKey)-1] = !expectKey[len(expectKey)-1]
		}
	}
	if !slices.IsSorted(keys) || len(keys) < 15 {
		t.Errorf("top-level keys: got %v, want them all, sorted", keys)
	}
	if !strings.Contains(string(b), `"started_at":"2023-11-14T22:13:20.000000005Z"`) {
		t.Errorf("started_at: got %s, want UTC with nanoseconds", b)
	}
	if !strings.Contains(string(b), `<out>&`) && strings.Contains(string(b), `\u003c`) {
		t.Errorf("HTML escaping in canonical form: %s", b)
	}
	// Decoding and re-encoding is the identity: the bytes an auditor hashes are stable.
	r2, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := r2.Canonical()
	if err != nil || !bytes.Equal(b, b2) {
		t.Errorf("round trip:\n%s\n%s", b, b2)
	}
	empty, _ := (&Receipt{ID: r.ID}).Canonical()
	if !strings.Contains(string(empty), `"http":[]`) || !strings.Contains(string(empty), `"secrets":{}`) ||
		!strings.Contains(string(empty), `"fuel":null`) {
		t.Errorf("empty receipt: got %s, want [] {} and null for absent doors and fuel", empty)
	}
}

func TestDecodeStrict(t *testing.T) {
	for _, in := range []string{`{"id":"x","extra":1}`, `{"id":"x"} {}`, `[]`, `{"wall_ns":"1"}`} {
		if _, err := Decode([]byte(in)); err == nil {
			t.Errorf("Decode(%s): got nil error, want one", in)
		}
	}
}

func TestIDs(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	a, b := NewID(t0), NewID(t0.Add(time.Nanosecond))
	if !ValidID(a) || !ValidID(b) || a >= b {
		t.Errorf("got %s, %s: want valid ids that sort by time", a, b)
	}
	if a == NewID(t0) {
		t.Error("two ids for the same instant are equal")
	}
	bad := []string{"", "rcpt_", "rcpt_XYZ", "rcpt_" + strings.Repeat("A", 24), a + "0", "x" + a[1:], "evt_" + a[5:]}
	for _, c := range "/:`gG" { // the bytes either side of the digits' ranges
		bad = append(bad, a[:len(a)-1]+string(c), a[:5]+string(c)+a[6:])
	}
	for _, bad := range bad {
		if ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}

func FuzzDecode(f *testing.F) {
	b, _ := sample().Canonical()
	f.Add(b)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"http":[{"method":1}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := Decode(in)
		if err != nil {
			return
		}
		c1, err := r.Canonical()
		if err != nil {
			t.Fatal(err)
		}
		r2, err := Decode(c1)
		if err != nil {
			t.Fatalf("canonical form does not decode: %v", err)
		}
		c2, _ := r2.Canonical()
		if !bytes.Equal(c1, c2) {
			t.Fatalf("canonical form not stable:\n%s\n%s", c1, c2)
		}
	})
}
