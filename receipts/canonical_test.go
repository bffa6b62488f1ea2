package receipts

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/toolgate/toolgate/internal/canonjson"
)

// jsonKeys returns the JSON keys of a struct type's fields, in declaration order, and the same with each
// field's tag and kind, sorted.
func jsonKeys(t reflect.Type) (keys, fields []string) {
	for i := range t.NumField() {
		tag := t.Field(i).Tag.Get("json")
		keys = append(keys, strings.TrimSuffix(tag, ",omitempty"))
		fields = append(fields, tag+" "+t.Field(i).Type.Kind().String())
	}
	slices.Sort(fields)
	return keys, fields
}

// TestCanonical_Mirrors checks that each mirror has exactly its type's fields (a field added to Receipt, Blob or
// HTTPLine must be added to its mirror), declared in sorted key order.
func TestCanonical_Mirrors(t *testing.T) {
	for _, tc := range []struct{ orig, mirror any }{
		{Receipt{}, canonReceipt{}}, {Blob{}, canonBlob{}}, {HTTPLine{}, canonHTTPLine{}}, {Fuel{}, Fuel{}},
		{Memory{}, Memory{}},
	} {
		_, o := jsonKeys(reflect.TypeOf(tc.orig))
		keys, m := jsonKeys(reflect.TypeOf(tc.mirror))
		if !slices.IsSorted(keys) {
			t.Errorf("%T: fields not in sorted key order: %v", tc.mirror, keys)
		}
		if !slices.Equal(o, m) {
			t.Errorf("%T mirrors %T: got fields %v, want %v", tc.mirror, tc.orig, m, o)
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
	for _, r := range []*Receipt{{}, {Fuel: &Fuel{}, Cost: 0.1 + 0.2, StartedAt: time.Unix(0, 1)}} {
		got, _ := r.Canonical()
		if want := viaCanonjson(t, r); !bytes.Equal(got, want) {
			t.Errorf("got  %s\nwant %s", got, want)
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
