package tlog

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sumtlog "golang.org/x/mod/sumdb/tlog"
)

// memLog is an in-memory log built the way a store builds one: StoredHashes per appended leaf.
type memLog struct {
	hashes []Hash
	data   [][]byte
}

func (m *memLog) ReadHashes(indexes []int64) ([]Hash, error) {
	out := make([]Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m.hashes)) {
			return nil, fmt.Errorf("no stored hash %d", x)
		}
		out[i] = m.hashes[x]
	}
	return out, nil
}

func (m *memLog) add(t testing.TB, data []byte) {
	t.Helper()
	n := int64(len(m.data))
	hs, err := StoredHashesForRecordHash(n, RecordHash(data), m)
	if err != nil {
		t.Fatal(err)
	}
	if StoredHashIndex(0, n) != int64(len(m.hashes)) {
		t.Fatalf("stored hash index %d, have %d hashes", StoredHashIndex(0, n), len(m.hashes))
	}
	m.hashes = append(m.hashes, hs...)
	m.data = append(m.data, data)
}

func (m *memLog) tree(t testing.TB, n int64) Tree {
	t.Helper()
	h, err := TreeHash(n, m)
	if err != nil {
		t.Fatal(err)
	}
	return Tree{N: n, Hash: h}
}

func entryData(i int) []byte {
	if i%5 == 4 {
		return fmt.Appendf(nil, `{"id":"evt_%024x","kind":"pin"}`, i)
	}
	return fmt.Appendf(nil, `{"id":"rcpt_%024x","status":"ok"}`, i)
}

func entryID(i int) string {
	if i%5 == 4 {
		return fmt.Sprintf("evt_%024x", i)
	}
	return fmt.Sprintf("rcpt_%024x", i)
}

func newMemLog(t testing.TB, n int) *memLog {
	m := &memLog{}
	for i := range n {
		m.add(t, entryData(i))
	}
	return m
}

func testSigner(t testing.TB) *Signer {
	t.Helper()
	s, _, err := GenerateSigner("test-log")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRootBuilder_MatchesTreeHash(t *testing.T) {
	m := newMemLog(t, 70)
	var b rootBuilder
	if got, want := b.root(), m.tree(t, 0).Hash; got != want {
		t.Errorf("empty: got %v, want %v", got, want)
	}
	for n := 1; n <= 70; n++ {
		b.add(RecordHash(m.data[n-1]))
		if got, want := b.root(), m.tree(t, int64(n)).Hash; got != want {
			t.Fatalf("size %d: got %v, want %v", n, got, want)
		}
	}
}

func TestVerifyInclusion(t *testing.T) {
	m := newMemLog(t, 37)
	for _, n := range []int64{1, 2, 3, 8, 17, 37} {
		tree := m.tree(t, n)
		for i := range n {
			p, err := ProveInclusion(n, i, m)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyInclusion(tree, i, m.data[i], p); err != nil {
				t.Errorf("size %d index %d: got %v, want nil", n, i, err)
			}
			// The wrong bytes, the wrong index, a truncated proof: all refused.
			if err := VerifyInclusion(tree, i, append(bytes.Clone(m.data[i]), ' '), p); !errors.Is(err, ErrNotIncluded) {
				t.Errorf("size %d index %d modified: got %v, want ErrNotIncluded", n, i, err)
			}
			if n > 1 {
				if err := VerifyInclusion(tree, (i+1)%n, m.data[i], p); !errors.Is(err, ErrNotIncluded) {
					t.Errorf("size %d index %d moved: got %v, want ErrNotIncluded", n, i, err)
				}
			}
			if len(p) > 0 {
				if err := VerifyInclusion(tree, i, m.data[i], p[:len(p)-1]); !errors.Is(err, ErrNotIncluded) {
					t.Errorf("size %d index %d short proof: got %v, want ErrNotIncluded", n, i, err)
				}
			}
		}
	}
	tree := m.tree(t, 5)
	for _, i := range []int64{-1, 5, 6} {
		if err := VerifyInclusion(tree, i, m.data[0], nil); !errors.Is(err, ErrNotIncluded) {
			t.Errorf("index %d of 5: got %v, want ErrNotIncluded", i, err)
		}
	}
}

func TestVerifyConsistency(t *testing.T) {
	m := newMemLog(t, 33)
	for from := int64(0); from <= 33; from++ {
		for _, to := range []int64{from, from + 1, 33} {
			if to > 33 {
				continue
			}
			p, err := ProveConsistency(to, from, m)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyConsistency(m.tree(t, from), m.tree(t, to), p); err != nil {
				t.Errorf("%d → %d: got %v, want nil", from, to, err)
			}
		}
	}
	// A rewritten history: a tree of the same entries but one changed is not an extension.
	forged := &memLog{}
	for i, d := range m.data {
		if i == 3 {
			d = []byte(`{"forged":true}`)
		}
		forged.add(t, d)
	}
	p, _ := ProveConsistency(33, 10, forged)
	if err := VerifyConsistency(m.tree(t, 10), forged.tree(t, 33), p); !errors.Is(err, ErrInconsistent) {
		t.Errorf("forged history: got %v, want ErrInconsistent", err)
	}
	if err := VerifyConsistency(m.tree(t, 10), m.tree(t, 9), nil); !errors.Is(err, ErrInconsistent) {
		t.Errorf("shrunk: got %v, want ErrInconsistent", err)
	}
	if err := VerifyConsistency(m.tree(t, 10), forged.tree(t, 10), nil); !errors.Is(err, ErrInconsistent) {
		t.Errorf("same size, other root: got %v, want ErrInconsistent", err)
	}
}

func TestCheckpoint(t *testing.T) {
	s := testSigner(t)
	m := newMemLog(t, 9)
	tree := m.tree(t, 9)
	note, err := s.Sign(tree)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(note, FormatTree(tree)) || !strings.Contains(string(note), "\n— test-log ") {
		t.Errorf("checkpoint: got\n%s", note)
	}
	cp, err := OpenCheckpoint(note, s.VerifierKey())
	if err != nil || cp.Tree != tree || cp.Signer != "test-log" || !bytes.Equal(cp.Note, note) {
		t.Fatalf("OpenCheckpoint: got %+v %v, want tree %v", cp, err, tree)
	}
	other := testSigner(t)
	tampered := bytes.Replace(note, []byte("\n9\n"), []byte("\n8\n"), 1)
	for name, tc := range map[string]struct {
		note []byte
		key  string
	}{
		"other key":     {note, other.VerifierKey()},
		"size changed":  {tampered, s.VerifierKey()},
		"no signature":  {FormatTree(tree), s.VerifierKey()},
		"malformed key": {note, "test-log+00000000+AAAA"},
		"empty":         {nil, s.VerifierKey()},
	} {
		if _, err := OpenCheckpoint(tc.note, tc.key); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: got %v, want ErrBadSignature", name, err)
		}
	}
}

func TestLoadOrCreateSigner(t *testing.T) {
	dir := t.TempDir()
	s1, created, err := LoadOrCreateSigner(dir, DefaultKeyName)
	if err != nil || !created {
		t.Fatalf("first start: got %v %v, want a new key", created, err)
	}
	fi, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: got %v %v, want mode 0600", KeyFile, fi.Mode(), err)
	}
	pub, _ := os.ReadFile(filepath.Join(dir, PubFile))
	if strings.TrimSpace(string(pub)) != s1.VerifierKey() || !strings.HasPrefix(s1.VerifierKey(), DefaultKeyName+"+") {
		t.Errorf("%s: got %q, want %q", PubFile, pub, s1.VerifierKey())
	}
	os.Remove(filepath.Join(dir, PubFile))
	s2, created, err := LoadOrCreateSigner(dir, "ignored")
	if err != nil || created || s2.VerifierKey() != s1.VerifierKey() {
		t.Fatalf("restart: got %v %v %q, want the same key", created, err, s2.VerifierKey())
	}
	if pub, _ := os.ReadFile(filepath.Join(dir, PubFile)); strings.TrimSpace(string(pub)) != s1.VerifierKey() {
		t.Errorf("%s not rewritten: %q", PubFile, pub)
	}
	note, _ := s2.Sign(Tree{N: 0})
	if _, err := OpenCheckpoint(note, s1.VerifierKey()); err != nil {
		t.Errorf("reloaded key's checkpoint: %v", err)
	}
	os.WriteFile(filepath.Join(dir, KeyFile), []byte("PRIVATE+KEY+garbage"), 0o600)
	if _, _, err := LoadOrCreateSigner(dir, DefaultKeyName); err == nil {
		t.Error("corrupt key file: got nil error")
	}
}

func TestKindOf(t *testing.T) {
	for id, want := range map[string]string{"rcpt_00": KindReceipt, "evt_00": KindEvent, "x": "", "": ""} {
		if got := KindOf(id); got != want {
			t.Errorf("KindOf(%q) = %q, want %q", id, got, want)
		}
	}
}

func TestVerifyReceipt(t *testing.T) {
	m := &memLog{}
	var ids []string
	for i := range 3 {
		id := fmt.Sprintf("rcpt_%024x", i)
		ids = append(ids, id)
		m.add(t, fmt.Appendf(nil, `{"id":%q,"status":"ok"}`, id))
	}
	tree := m.tree(t, 3)
	p1, _ := ProveInclusion(3, 1, m)
	if err := VerifyReceipt(tree, ids[1], 1, m.data[1], p1); err != nil {
		t.Errorf("receipt 1: %v", err)
	}
	// A server that answers with another receipt, and that one's valid proof, is caught.
	if err := VerifyReceipt(tree, ids[2], 1, m.data[1], p1); !errors.Is(err, ErrNotIncluded) {
		t.Errorf("substituted receipt: got %v, want ErrNotIncluded", err)
	}
	if err := VerifyReceipt(tree, ids[1], 1, []byte("not json"), p1); !errors.Is(err, ErrNotIncluded) {
		t.Errorf("garbage: got %v, want ErrNotIncluded", err)
	}
}

// TestDocsExample checks the worked example in docs/LOG.md.
func TestDocsExample(t *testing.T) {
	const vkey = "toolgate-log+cce7b894+ARl/ayPhbIUyxqvIOPrNXqeJvgx2spIDNAOb+os9No1h"
	note := "go.sum database tree\n3\nFaeAyGKD1CyME604W/lnlPK2G+zyLO/wjQJV4FUch48=\n\n" +
		"— toolgate-log zOe4lBY6APfa7jjkAziHcyTIOqVddujcrREVA5WUNBLDTxQi4lr/errCO/3NRvLuQ4N0ufHn9nNQ8x4wMcuvTDC5Bgg=\n"
	cp, err := OpenCheckpoint([]byte(note), vkey)
	if err != nil || cp.N != 3 {
		t.Fatalf("checkpoint: %+v %v", cp, err)
	}
	var proof []Hash
	for _, s := range []string{"xyYUY+vXdvRlC20P6ULZzDjJJdkPd9RAq2341d0ljF8=", "8Ty7nyXnt1r+c8Un/Kh3TEL2x54Lbszs0C0Vby1Pm9Q="} {
		h, err := sumtlog.ParseHash(s)
		if err != nil {
			t.Fatal(err)
		}
		proof = append(proof, h)
	}
	if got := RecordHash([]byte(`{"b":2}`)).String(); got != "KSfOQrL6ED1XL7xynBk9C09BKMw1NbdpyCPAm5sa7go=" {
		t.Errorf("leaf hash: got %s", got)
	}
	if err := VerifyInclusion(cp.Tree, 1, []byte(`{"b":2}`), proof); err != nil {
		t.Errorf("inclusion: %v", err)
	}
}
