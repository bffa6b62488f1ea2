package tlog

import (
	"bytes"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// fuzzSigner is a fixed key, so that checkpoints in the seed corpus stay valid from run to run.
func fuzzSigner(t testing.TB) *Signer {
	skey, _, err := note.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{7}, 64)), "fuzz-log")
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func joinHashes(hs []Hash) []byte {
	var b []byte
	for _, h := range hs {
		b = append(b, h[:]...)
	}
	return b
}

func splitHashes(b []byte) []Hash {
	hs := make([]Hash, 0, len(b)/HashSize)
	for len(b) >= HashSize {
		var h Hash
		copy(h[:], b)
		hs = append(hs, h)
		b = b[HashSize:]
	}
	return hs
}

// FuzzVerify feeds untrusted checkpoints, indexes, leaves and proofs to the verifier. It must never panic, and
// whatever it accepts must be true of the real log: the signature pins the tree, and the proofs pin the leaf and
// the older tree.
func FuzzVerify(f *testing.F) {
	s := fuzzSigner(f)
	m := newMemLog(f, 13)
	cp13, _ := s.Sign(m.tree(f, 13))
	cp5, _ := s.Sign(m.tree(f, 5))
	p, _ := ProveInclusion(13, 4, m)
	c, _ := ProveConsistency(13, 5, m)
	f.Add(cp13, int64(4), m.data[4], joinHashes(p), cp5, joinHashes(c))
	f.Add(cp13, int64(12), m.data[12], []byte{}, cp13, []byte{})
	f.Add(cp5, int64(-1), []byte("x"), joinHashes(p[:1]), []byte("go.sum database tree\n1\n\n"), joinHashes(c))
	vkey := s.VerifierKey()
	f.Fuzz(func(t *testing.T, note []byte, index int64, leaf, proof, oldNote, consistency []byte) {
		cp, err := OpenCheckpoint(note, vkey)
		if err != nil {
			return
		}
		if cp.N > 13 || cp.N < 0 || cp.Hash != m.tree(t, cp.N).Hash {
			t.Fatalf("accepted a checkpoint the key never signed: %v", cp.Tree)
		}
		if err := VerifyInclusion(cp.Tree, index, leaf, splitHashes(proof)); err == nil {
			if index < 0 || index >= cp.N || !bytes.Equal(leaf, m.data[index]) {
				t.Fatalf("accepted leaf %q at index %d of %d", leaf, index, cp.N)
			}
		}
		old, err := OpenCheckpoint(oldNote, vkey)
		if err != nil {
			return
		}
		if err := VerifyConsistency(old.Tree, cp.Tree, splitHashes(consistency)); err == nil && old.N > cp.N {
			t.Fatalf("accepted a shrinking log %d → %d", old.N, cp.N)
		}
	})
}

// FuzzAuditor feeds the auditor entries tampered with by the fuzzer. It must never panic, must report every
// tampered entry, and must report nothing when the entries are intact.
func FuzzAuditor(f *testing.F) {
	m := newMemLog(f, 11)
	tree := m.tree(f, 11)
	f.Add([]byte{})
	f.Add([]byte{3, 0, 5, 1, 7, 2})
	f.Add([]byte{0, 3, 9, 3, 10, 4})
	f.Fuzz(func(t *testing.T, ops []byte) {
		es := m.entries()
		for len(ops) >= 2 && len(es) > 0 {
			i, op := int(ops[0])%len(es), ops[1]%5
			ops = ops[2:]
			switch op {
			case 0:
				es[i].Data = append(bytes.Clone(es[i].Data), 'x')
			case 1:
				es[i].Data = nil
			case 2:
				j := (i + 1) % len(es)
				es[i].Data, es[j].Data = es[j].Data, es[i].Data
			case 3:
				es[i].Hash[i%HashSize] ^= 0x80
			case 4:
				es = es[:i]
			}
		}
		a := NewAuditor(tree)
		if err := a.Add(es...); err != nil {
			t.Fatal(err)
		}
		r := a.Finish(func(i int64) ([]Hash, error) { return ProveInclusion(tree.N, i, m) })
		intact := len(es) == len(m.data)
		for i, e := range es {
			intact = intact && bytes.Equal(e.Data, m.data[i])
		}
		flagged := map[int64]bool{}
		for _, p := range r.Problems {
			flagged[p.Index] = true
		}
		for i := range m.data {
			if i >= len(es) || !bytes.Equal(es[i].Data, m.data[i]) {
				if !flagged[int64(i)] {
					t.Fatalf("entry %d tampered but not reported: %v", i, r.Problems)
				}
			}
		}
		if intact && r.Method != "root" {
			t.Fatalf("intact entries: got method %s", r.Method)
		}
	})
}
