// Package tlog is Toolgate's transparency log of receipts and registry events: the storage contract a store
// implements, the signing of checkpoints, and the pure verification an auditor runs offline against the public
// key — inclusion of one entry, consistency of two checkpoints, and a full audit of every entry that names the
// index of each one modified, deleted or reordered.
//
// The log is RFC 6962's Merkle tree as the Go checksum database implements it (golang.org/x/mod/sumdb/tlog,
// whose types this package re-exports so that callers need no second import): each leaf is the canonical JSON of
// one receipt (receipts.Receipt.Canonical, the bytes GET /v1/receipts/{id} serves) or one event
// (receipts.Event.Canonical), hashed as SHA-256(0x00 || bytes); interior nodes are SHA-256(0x01 || left || right).
// A checkpoint is a signed note (golang.org/x/mod/sumdb/note) whose text is tlog.FormatTree of the tree size and
// root hash, signed with the server's Ed25519 key:
//
//	go.sum database tree
//	42
//	9hq1E0/q1ONSiXhFPjPhAFDOpaUHg3UJ6+kaZUwrnOQ=
//
//	— toolgate-log Az3grl2Wh6sM1XIjtLb7k1a3GsjbmWlpOA3e8XIwAqDy7zyqrTKQ+3EeI4kcDtMJdJe2WJ+qlJ5fTXzNgBTEQ/BNIA0=
//
// (The first line is x/mod's tree format, not a claim about Go modules: it lets the checksum database's own
// parsers and tools read Toolgate checkpoints unchanged.) This package imports nothing that runs or serves, so an
// auditor's program can use it with nothing but the public key and what the API returns.
package tlog

import (
	"context"
	"errors"
	"strings"

	sumtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/toolgate/toolgate/receipts"
)

// Errors of the log.
var (
	// ErrNotFound: no entry with that id is in the log.
	ErrNotFound = errors.New("not in the log")
	// ErrBadSignature: a checkpoint is malformed or not signed by the expected key.
	ErrBadSignature = errors.New("checkpoint signature does not verify")
	// ErrNotIncluded: an inclusion proof does not show the entry at that index of the signed tree.
	ErrNotIncluded = errors.New("entry is not in the signed tree at that index")
	// ErrInconsistent: a consistency proof does not show the older tree as a prefix of the newer one.
	ErrInconsistent = errors.New("the newer tree does not extend the older one")
)

// Re-exported from golang.org/x/mod/sumdb/tlog, the one door to that dependency.
type (
	// Hash is a SHA-256 node hash of the tree.
	Hash = sumtlog.Hash
	// Tree is a tree size (N, the number of leaves) and its root hash: what a checkpoint signs.
	Tree = sumtlog.Tree
	// HashReader reads stored hashes by stored-hash index.
	HashReader = sumtlog.HashReader
	// HashReaderFunc adapts a func to HashReader.
	HashReaderFunc = sumtlog.HashReaderFunc
)

// HashSize is the size of a Hash in bytes.
const HashSize = sumtlog.HashSize

// RecordHash is the leaf hash of data: SHA-256(0x00 || data).
func RecordHash(data []byte) Hash { return sumtlog.RecordHash(data) }

// NodeHash is the interior hash of two children: SHA-256(0x01 || left || right).
func NodeHash(left, right Hash) Hash { return sumtlog.NodeHash(left, right) }

// StoredHashIndex maps a tree level and the index of a node at that level to its stored-hash index.
func StoredHashIndex(level int, n int64) int64 { return sumtlog.StoredHashIndex(level, n) }

// SplitStoredHashIndex is the inverse of StoredHashIndex: the level and the index of a node at that level.
func SplitStoredHashIndex(index int64) (level int, n int64) {
	return sumtlog.SplitStoredHashIndex(index)
}

// StoredHashCount is how many hashes a tree of n leaves stores.
func StoredHashCount(n int64) int64 { return sumtlog.StoredHashCount(n) }

// StoredHashesForRecordHash returns the hashes to store, from StoredHashIndex(0, n) on, when leaf n with hash h
// is added; it reads up to log₂ n earlier hashes from r.
func StoredHashesForRecordHash(n int64, h Hash, r HashReader) ([]Hash, error) {
	return sumtlog.StoredHashesForRecordHash(n, h, r)
}

// TreeHash computes the root of the tree of n leaves from stored hashes.
func TreeHash(n int64, r HashReader) (Hash, error) { return sumtlog.TreeHash(n, r) }

// ProveInclusion returns the hashes that prove leaf index is in the tree of size treeSize.
func ProveInclusion(treeSize, index int64, r HashReader) ([]Hash, error) {
	return sumtlog.ProveRecord(treeSize, index, r)
}

// ProveConsistency returns the hashes that prove the tree of size from is a prefix of the tree of size to. It is
// empty when from is 0 or equal to to.
func ProveConsistency(to, from int64, r HashReader) ([]Hash, error) {
	if from == 0 || from == to {
		return []Hash{}, nil
	}
	return sumtlog.ProveTree(to, from, r)
}

// FormatTree is the text a checkpoint signs.
func FormatTree(t Tree) []byte { return sumtlog.FormatTree(t) }

// Entry kinds, told apart by the id's prefix.
const (
	KindReceipt = "receipt" // id "rcpt_…"
	KindEvent   = "event"   // id "evt_…"
)

// KindOf returns the kind of entry an id names, or "" if it names none.
func KindOf(id string) string {
	switch {
	case strings.HasPrefix(id, "rcpt_"):
		return KindReceipt
	case strings.HasPrefix(id, "evt_"):
		return KindEvent
	}
	return ""
}

// Entry is one leaf as a store holds it. A store returns what it has, tampered or not: verifying it is the
// auditor's job.
type Entry struct {
	Index int64
	// ID is the receipt or event id at this index, "" if the store lost it.
	ID string
	// Hash is the leaf hash the store's tree holds for this index (zero if the store lost it).
	Hash Hash
	// Data is the leaf's bytes, the canonical JSON of the receipt or event; nil if the record is missing.
	Data []byte
}

// Store keeps the log: it numbers leaves, stores the tree's hashes and serves entries and hashes for proofs.
// Receipts appended through the same store's receipts.Store.Append are leaves too. Every method is safe for
// concurrent use.
type Store interface {
	// AppendEvent appends ev as the next leaf and returns its index once the leaf and its hashes are synced.
	AppendEvent(ctx context.Context, ev *receipts.Event) (index int64, err error)
	// TreeSize returns the number of leaves whose hashes are durable: the largest tree a checkpoint may sign.
	TreeSize(ctx context.Context) (int64, error)
	// ReadHashes returns the stored hashes at the given stored-hash indexes (see StoredHashIndex), each of which
	// must belong to a tree of at most TreeSize leaves.
	ReadHashes(ctx context.Context, indexes []int64) ([]Hash, error)
	// LeafIndex returns the index of the receipt or event with that id; ErrNotFound if it is not in the log.
	LeafIndex(ctx context.Context, id string) (int64, error)
	// Entries returns the leaves from start, at most limit of them and none at or past TreeSize, in index order.
	Entries(ctx context.Context, start int64, limit int) ([]Entry, error)
}

// StatsReporter is implemented by a Store that group-commits, to show an operator how its log is doing.
type StatsReporter interface {
	LogStats() Stats
}

// Stats is a snapshot of a log store's work and health: the server's /metrics and /readyz read it.
type Stats struct {
	// Size is the number of durable leaves.
	Size int64
	// Commits is how many synced writes the store has made since it opened, and Leaves how many leaves they held:
	// Leaves/Commits is the mean group commit.
	Commits, Leaves int64
	// CommitCounts counts those writes by how long each took to write and sync: CommitCounts[i] took at most
	// CommitBounds[i] and more than CommitBounds[i-1]; the last counts those over every bound. CommitSeconds is
	// their sum.
	CommitCounts  []uint64
	CommitSeconds float64
	// Unindexed is the durable leaves that are not yet in the store's index (served from memory meanwhile).
	Unindexed int64
	// SyncPriority is whether the store syncs on a thread the kernel runs at raised priority, where it has one:
	// without it, under load, a sync can wait for a CPU while the callers wait for the sync.
	SyncPriority bool
	// Err is non-nil once the log refuses appends: a write or sync failed, and what the disk holds is unknown
	// until a restart reads it back.
	Err error
}

// CommitBounds are the upper bounds, in seconds, of Stats.CommitCounts' buckets.
var CommitBounds = []float64{100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 1}

// Reader adapts a Store to a HashReader bound to ctx, for TreeHash and the Prove functions.
func Reader(ctx context.Context, s Store) HashReader {
	return HashReaderFunc(func(indexes []int64) ([]Hash, error) { return s.ReadHashes(ctx, indexes) })
}
