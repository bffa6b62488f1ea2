package tlog

import (
	"fmt"

	"golang.org/x/mod/sumdb/note"
	sumtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/toolgate/toolgate/receipts"
)

// maxNote bounds the checkpoint text accepted from a server.
const maxNote = 64 << 10

// Checkpoint is a signed tree head whose signature has been verified.
type Checkpoint struct {
	Tree
	// Signer is the name of the key that signed it.
	Signer string
	// Note is the signed note as received, to keep and compare with later checkpoints.
	Note []byte
}

// OpenCheckpoint verifies that note is a checkpoint signed by the verifier key vkey ("<name>+<hash>+<base64>")
// and returns the tree it signs. Every failure wraps ErrBadSignature.
func OpenCheckpoint(msg []byte, vkey string) (Checkpoint, error) {
	if len(msg) > maxNote {
		return Checkpoint{}, fmt.Errorf("checkpoint of %d bytes: %w", len(msg), ErrBadSignature)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("verifier key: %v: %w", err, ErrBadSignature)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint: %v: %w", err, ErrBadSignature)
	}
	t, err := sumtlog.ParseTree([]byte(n.Text))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint text: %v: %w", err, ErrBadSignature)
	}
	return Checkpoint{Tree: t, Signer: v.Name(), Note: append([]byte(nil), msg...)}, nil
}

// VerifyInclusion checks that leaf (the entry's bytes) is leaf index of tree t, given the proof's hashes. A
// failure wraps ErrNotIncluded.
func VerifyInclusion(t Tree, index int64, leaf []byte, proof []Hash) error {
	return VerifyInclusionHash(t, index, RecordHash(leaf), proof)
}

// VerifyInclusionHash is VerifyInclusion given the leaf's hash instead of its bytes.
func VerifyInclusionHash(t Tree, index int64, leafHash Hash, proof []Hash) error {
	if index < 0 || index >= t.N {
		return fmt.Errorf("index %d outside a tree of %d entries: %w", index, t.N, ErrNotIncluded)
	}
	if len(proof) > 64 {
		return fmt.Errorf("proof of %d hashes: %w", len(proof), ErrNotIncluded)
	}
	if err := sumtlog.CheckRecord(proof, t.N, t.Hash, index, leafHash); err != nil {
		return fmt.Errorf("index %d of tree size %d: %w", index, t.N, ErrNotIncluded)
	}
	return nil
}

// VerifyConsistency checks that the older tree is a prefix of the newer one, given the consistency proof's
// hashes: nothing signed in the older tree was changed, removed or reordered since. A failure wraps
// ErrInconsistent.
func VerifyConsistency(older, newer Tree, proof []Hash) error {
	switch {
	case older.N < 0 || newer.N < older.N:
		return fmt.Errorf("tree size went from %d to %d: %w", older.N, newer.N, ErrInconsistent)
	case len(proof) > 128:
		return fmt.Errorf("proof of %d hashes: %w", len(proof), ErrInconsistent)
	case older.N == 0:
		if len(proof) != 0 {
			return fmt.Errorf("non-empty proof from the empty tree: %w", ErrInconsistent)
		}
		return nil
	case older.N == newer.N:
		if len(proof) != 0 || older.Hash != newer.Hash {
			return fmt.Errorf("two different trees of size %d: %w", older.N, ErrInconsistent)
		}
		return nil
	}
	if err := sumtlog.CheckTree(proof, newer.N, newer.Hash, older.N, older.Hash); err != nil {
		return fmt.Errorf("tree size %d to %d: %w", older.N, newer.N, ErrInconsistent)
	}
	return nil
}

// rootBuilder computes an RFC 6962 root from leaf hashes given in order, in O(log n) space: a stack of the roots
// of the perfect subtrees seen so far, largest first.
type rootBuilder struct {
	hashes []Hash
	sizes  []int64
}

func (b *rootBuilder) add(h Hash) {
	b.hashes, b.sizes = append(b.hashes, h), append(b.sizes, 1)
	for n := len(b.sizes); n >= 2 && b.sizes[n-2] == b.sizes[n-1]; n = len(b.sizes) {
		b.hashes[n-2] = NodeHash(b.hashes[n-2], b.hashes[n-1])
		b.sizes[n-2] *= 2
		b.hashes, b.sizes = b.hashes[:n-1], b.sizes[:n-1]
	}
}

// root folds the stack from the right: the tree of n leaves is its perfect subtrees in decreasing size.
func (b *rootBuilder) root() Hash {
	if len(b.hashes) == 0 {
		h, _ := sumtlog.TreeHash(0, nil) // SHA-256 of nothing
		return h
	}
	h := b.hashes[len(b.hashes)-1]
	for i := len(b.hashes) - 2; i >= 0; i-- {
		h = NodeHash(b.hashes[i], h)
	}
	return h
}

// VerifyReceipt checks that leaf, the bytes a server returned for receipt id, is that receipt and sits at index in
// tree t, given the inclusion proof's hashes. A proof that verifies for another receipt's bytes is refused: the
// leaf must be the receipt that was asked for. Failures wrap ErrNotIncluded.
func VerifyReceipt(t Tree, id string, index int64, leaf []byte, proof []Hash) error {
	r, err := receipts.Decode(leaf)
	if err != nil {
		return fmt.Errorf("receipt[%s]: %v: %w", id, err, ErrNotIncluded)
	}
	if r.ID != id {
		return fmt.Errorf("receipt[%s]: the server answered with receipt %s: %w", id, r.ID, ErrNotIncluded)
	}
	return VerifyInclusion(t, index, leaf, proof)
}
