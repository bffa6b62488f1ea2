package tlog

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// entries returns the log's entries as a store would serve them.
func (m *memLog) entries() []Entry {
	out := make([]Entry, len(m.data))
	for i, d := range m.data {
		out[i] = Entry{Index: int64(i), ID: entryID(i), Hash: m.hashes[StoredHashIndex(0, int64(i))], Data: d}
	}
	return out
}

func audit(t *testing.T, m *memLog, tree Tree, es []Entry, prove ProveFunc) *Report {
	t.Helper()
	a := NewAuditor(tree)
	for len(es) > 0 { // pages of 7
		n := min(7, len(es))
		if err := a.Add(es[:n]...); err != nil {
			t.Fatal(err)
		}
		es = es[n:]
	}
	return a.Finish(prove)
}

func summary(r *Report) []string {
	var out []string
	for _, p := range r.Problems {
		out = append(out, fmt.Sprintf("%d %s", p.Index, p.Kind))
	}
	return out
}

func TestAuditor(t *testing.T) {
	const n = 23
	m := newMemLog(t, n)
	tree := m.tree(t, n)
	prove := func(i int64) ([]Hash, error) { return ProveInclusion(tree.N, i, m) }
	tests := []struct {
		name       string
		tamper     func(es []Entry) []Entry
		method     string
		want       []string
		wantDetail string
	}{
		{"intact", func(es []Entry) []Entry { return es }, "root", nil, ""},
		{"modified", func(es []Entry) []Entry {
			es[6].Data = []byte(strings.Replace(string(es[6].Data), "ok", "trap", 1))
			return es
		}, "leaf-hashes", []string{"6 modified"}, "but the checkpoint signed"},
		{"record deleted", func(es []Entry) []Entry { es[11].Data = nil; return es }, "leaf-hashes",
			[]string{"11 deleted"}, "has no entry here"},
		{"swapped", func(es []Entry) []Entry {
			es[3].Data, es[17].Data = es[17].Data, es[3].Data
			es[3].ID, es[17].ID = es[17].ID, es[3].ID
			return es
		}, "leaf-hashes", []string{"3 reordered", "17 reordered"}, "holds the entry signed at index 17"},
		{"deleted and shifted", func(es []Entry) []Entry {
			for i := 8; i < n-1; i++ {
				es[i].Data, es[i].ID = es[i+1].Data, es[i+1].ID
			}
			es[n-1].Data, es[n-1].ID = nil, ""
			return es
		}, "leaf-hashes", func() []string {
			out := []string{"8 deleted"}
			for i := 9; i < n; i++ {
				out = append(out, fmt.Sprintf("%d reordered", i))
			}
			return out
		}(), "the entry signed at this index is nowhere; this index holds the entry signed at index 9"},
		{"leaf hash changed, entry intact", func(es []Entry) []Entry { es[2].Hash[0] ^= 1; return es }, "root",
			[]string{"2 tree_modified"}, "entry is intact"},
		{"entry and its leaf hash changed", func(es []Entry) []Entry {
			es[14].Data = []byte(`{"forged":1}`)
			es[14].Hash = RecordHash(es[14].Data)
			return es
		}, "proofs", []string{"14 modified"}, "not provable against the checkpoint"},
		{"truncated", func(es []Entry) []Entry { return es[:n-2] }, "proofs",
			[]string{"21 deleted", "22 deleted"}, "no entry here"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := audit(t, m, tree, tc.tamper(m.entries()), prove)
			if r.Method != tc.method || !slices.Equal(summary(r), tc.want) {
				t.Fatalf("got %s %v, want %s %v\n%v", r.Method, summary(r), tc.method, tc.want, r.Problems)
			}
			if len(tc.want) > 0 && !strings.Contains(r.Problems[0].String(), tc.wantDetail) {
				t.Errorf("detail: got %q, want it to say %q", r.Problems[0], tc.wantDetail)
			}
			if r.OK() != (tc.want == nil) {
				t.Errorf("OK: got %v", r.OK())
			}
		})
	}
	r := audit(t, m, tree, m.entries(), nil)
	if r.Entries != n || r.Events != 4 || r.Receipts != n-4 {
		t.Errorf("counts: got %d entries, %d receipts, %d events", r.Entries, r.Receipts, r.Events)
	}
	// Without proofs, a damaged tree is reported as such instead of being located.
	es := m.entries()
	es[5].Hash = Hash{1}
	es[5].Data = []byte("x")
	if r := audit(t, m, tree, es, nil); len(r.Problems) != 1 || r.Problems[0].Kind != ProblemUnverifiable {
		t.Errorf("no proofs: got %v", r.Problems)
	}
	// Entries past the checkpoint are ignored; a gap is an error.
	a := NewAuditor(m.tree(t, 3))
	if err := a.Add(m.entries()[:5]...); err != nil || !a.Finish(nil).OK() {
		t.Errorf("entries past the tree: %v", err)
	}
	if err := NewAuditor(tree).Add(m.entries()[1]); err == nil {
		t.Error("gap: got nil error")
	}
}
