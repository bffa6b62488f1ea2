package receipts

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/toolgate/toolgate/internal/canonjson"
)

// jsonKeys returns the JSON keys of a struct type's fields, sorted.
func jsonKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		keys = append(keys, strings.TrimSuffix(t.Field(i).Tag.Get("json"), ",omitempty"))
	}
	slices.Sort(keys)
	return keys
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestCanonical_Fields checks that the hand-written encoding writes every field of the receipt and of the types
// inside it, and nothing else: a field added to Receipt, Blob, Fuel, Memory or HTTPLine must be written too.
func TestCanonical_Fields(t *testing.T) {
	r := sample()
	r.HTTP[0].Reason = "why"
	b, err := r.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		got  map[string]any
		want reflect.Type
	}{
		{m, reflect.TypeOf(Receipt{})},
		{m["input"].(map[string]any), reflect.TypeOf(Blob{})},
		{m["fuel"].(map[string]any), reflect.TypeOf(Fuel{})},
		{m["memory"].(map[string]any), reflect.TypeOf(Memory{})},
		{m["http"].([]any)[0].(map[string]any), reflect.TypeOf(HTTPLine{})},
	} {
		if got, want := sortedKeys(tc.got), jsonKeys(tc.want); !slices.Equal(got, want) {
			t.Errorf("%s: got keys %v, want %v", tc.want.Name(), got, want)
		}
	}
}

// viaCanonjson is the reference: canonjson's generic encode, decode and encode.
func viaCanonjson(t testing.TB, r *Receipt) []byte {
	c := *r
	c.StartedAt = c.StartedAt.UTC()
	if c.HTTP == nil {
		c.HTTP = []HTTPLine{}
	}
	if c.Secrets == nil {
		c.Secrets = map[string]string{}
	}
	b, err := canonjson.Marshal(&c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func tricky(s string) *Receipt {
	r := sample()
	r.Error, r.Tool, r.Principal = s, s+"x", "<"+s+">"
	r.HTTP = append(r.HTTP, HTTPLine{Method: s, Host: s, Path: "/" + s, Reason: s, Status: -1, BytesIn: 1 << 40})
	r.Secrets = map[string]string{s: s, "b": "&", "a": s + s}
	r.Cost = 1e21
	r.WallNS = -5
	r.IdempotencyKey = s
	return r
}

func TestCanonical_MatchesCanonjson(t *testing.T) {
	for _, s := range []string{"", "plain", "<tag>&amp;", "line\nbreak\t\x01\x7f", "\u2028\u2029", "\xff\xfe bad",
		"é日本\U0001F600", `quote " back \ slash`, "\ufffd"} {
		r := tricky(s)
		got, err := r.Canonical()
		if err != nil {
			t.Fatal(err)
		}
		if want := viaCanonjson(t, r); !bytes.Equal(got, want) {
			t.Errorf("%q:\ngot  %s\nwant %s", s, got, want)
		}
	}
	for _, r := range []*Receipt{{}, {Fuel: &Fuel{}, Cost: 0.1 + 0.2, StartedAt: time.Unix(0, 1)},
		{Cost: 1e-7, Secrets: map[string]string{"\xff": "a", "\xfe": "b", "\xef\xbf\xbd": "c", "z": "\b\f"}},
		{Cost: -2.5e-300}, {Cost: 123456789012345678901234.0}} {
		got, _ := r.Canonical()
		if want := viaCanonjson(t, r); !bytes.Equal(got, want) {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
}

// TestCanonical_YearRange checks that a start time JSON cannot hold, as time.Time.MarshalJSON refuses it, is
// refused.
func TestCanonical_YearRange(t *testing.T) {
	for _, at := range []time.Time{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if _, err := (&Receipt{StartedAt: at}).Canonical(); err == nil {
			t.Errorf("started_at %v: no error", at)
		}
		if _, err := at.MarshalJSON(); err == nil {
			t.Errorf("started_at %v: MarshalJSON took it", at)
		}
	}
}

func FuzzCanonical(f *testing.F) {
	f.Add("x", "<&>", int64(1), 0.5)
	f.Add("\xff", "\u2028", int64(-1), 1e300)
	f.Fuzz(func(t *testing.T, a, b string, n int64, cost float64) {
		r := tricky(a)
		r.Version, r.Module, r.Secrets[b] = b, a+b, a
		r.Input.Bytes, r.Output.SHA256, r.Cost = n, b, cost
		got, err := r.Canonical()
		if err != nil {
			return // NaN and infinite costs do not encode, either way
		}
		if want := viaCanonjson(t, r); !bytes.Equal(got, want) {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	})
}

func BenchmarkCanonical(b *testing.B) {
	r := sample()
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r.Canonical()
		}
	})
	b.Run("canonjson", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			viaCanonjson(b, r)
		}
	})
}
