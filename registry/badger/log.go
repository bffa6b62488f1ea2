package badger

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"sync/atomic"

	badgerdb "github.com/dgraph-io/badger/v4"

	"github.com/toolgate/toolgate/receipts"
	"github.com/toolgate/toolgate/receipts/tlog"
)

var _ tlog.Store = (*Store)(nil)

// The receipt log's keys (see the package comment). The group committer numbers the receipts and events of a
// transaction as the next leaves and writes, in that same synced transaction, one run of their ids, one run of
// the tree hashes they add (stored hashes are contiguous from one leaf to the next), an index entry per leaf and
// the new size. Per receipt, the log so costs one small key beyond the receipt's own two; the runs are per
// transaction, so batching amortizes them.
var (
	logSizeKey     = []byte("l/size") // tree size, u64 BE
	logLeafPrefix  = "l/leaf/"        // l/leaf/<first index u64 BE> → a run of leaves: per leaf, a length byte and its id
	logHashPrefix  = "l/hash/"        // l/hash/<first stored index u64 BE> → a run of 32-byte stored hashes
	logIndexPrefix = "l/index/"       // l/index/<id> → index u64 BE
	logEventPrefix = "l/event/"       // l/event/<event id> → the event's canonical JSON
)

// logState is the log as the committer last committed it. size is read by anyone; frontier only by the
// committer (and by Open before the committer starts).
type logState struct {
	size atomic.Int64
	// frontier holds, per tree level, the hash of the last complete node at that level: node (size>>level)-1.
	// Those are exactly the hashes that adding the next leaf reads (its left siblings), so the committer hashes
	// without reading the database.
	frontier [64]tlog.Hash
}

// logNext is what a transaction will make the log once it commits.
type logNext struct {
	size     int64
	frontier [64]tlog.Hash
}

func (l *logState) advance(n logNext) {
	l.frontier = n.frontier
	l.size.Store(n.size)
}

func u64Key(prefix string, n int64) []byte {
	return binary.BigEndian.AppendUint64([]byte(prefix), uint64(n))
}

func logIndexKey(id string) []byte { return []byte(logIndexPrefix + id) }
func logEventKey(id string) []byte { return []byte(logEventPrefix + id) }

// key is where the entry's record lives: r/<id> for a receipt, l/event/<id> for an event.
func (r *appendReq) key() []byte {
	if r.tool == "" {
		return logEventKey(r.id)
	}
	return receiptKey(r.id)
}

// setRecord writes the entry's record (and a receipt's tool index) in txn.
func (r *appendReq) setRecord(txn *badgerdb.Txn) error {
	if err := txn.Set(r.key(), r.val); err != nil {
		return err
	}
	if r.tool != "" {
		return txn.Set(append(receiptToolPrefix(r.tool), r.id...), nil)
	}
	return nil
}

// logChunkCost is Badger's estimate of the keys a transaction writes once, whatever its size: the two runs and
// the size.
var logChunkCost = 2*entrySize(len(logLeafPrefix)+8, 0, 0) + entrySize(len(logSizeKey), 8, 0)

// entryCost is Badger's estimate of what storing r as leaf index adds to a transaction: its record, its index
// entry, its share of the runs (its id, and one hash per tree level the leaf completes), and — counted for every
// entry, to stay on the safe side — the runs' keys and the size.
func entryCost(r *appendReq, index int64, threshold int64) int64 {
	c := entrySize(len(r.key()), len(r.val), threshold) +
		entrySize(len(logIndexPrefix)+len(r.id), 8, threshold) +
		int64(1+len(r.id)) + int64(1+bits.TrailingZeros64(uint64(index+1)))*tlog.HashSize + logChunkCost
	if r.tool != "" {
		c += entrySize(len("rt/")+len(r.tool)+1+len(r.id), 0, threshold)
	}
	return c
}

// loadLog reads the tree size and the frontier at Open.
func (s *Store) loadLog() error {
	return s.db.View(func(txn *badgerdb.Txn) error {
		val, found, err := get(txn, logSizeKey)
		if err != nil || !found {
			return err
		}
		if len(val) != 8 {
			return fmt.Errorf("log size: %w", ErrCorrupt)
		}
		size := int64(binary.BigEndian.Uint64(val))
		h := newHashReader(txn)
		defer h.close()
		for level := 0; level < 64 && size>>level > 0; level++ {
			if s.log.frontier[level], err = h.at(tlog.StoredHashIndex(level, size>>level-1)); err != nil {
				return fmt.Errorf("log frontier level[%d]: %w", level, err)
			}
		}
		s.log.size.Store(size)
		return nil
	})
}

// appendLeaves numbers the chunk's entries from the current tree size, in order, and writes in txn their index
// entries, the run of their ids, the run of the hashes they add, and the new size. Only the committer calls it,
// so the log cannot move underneath; the returned state is the log's once txn commits.
func (s *Store) appendLeaves(txn *badgerdb.Txn, chunk []*appendReq) (logNext, error) {
	next := logNext{size: s.log.size.Load(), frontier: s.log.frontier}
	first, firstHash := next.size, tlog.StoredHashIndex(0, next.size)
	// The hashes adding leaf n reads are its left siblings: the frontier.
	read := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			level, k := tlog.SplitStoredHashIndex(x)
			if k != next.size>>level-1 {
				return nil, fmt.Errorf("log hash[%d] is not on the frontier of size %d", x, next.size)
			}
			out[i] = next.frontier[level]
		}
		return out, nil
	})
	leaves := make([]byte, 0, len(chunk)*30)
	hashes := make([]byte, 0, len(chunk)*2*tlog.HashSize)
	for _, r := range chunk {
		n := next.size
		hs, err := tlog.StoredHashesForRecordHash(n, tlog.RecordHash(r.val), read)
		if err != nil {
			return logNext{}, fmt.Errorf("log leaf[%d]: %w", n, err)
		}
		for level, h := range hs {
			next.frontier[level] = h // node n>>level at level, now the last complete one
			hashes = append(hashes, h[:]...)
		}
		leaves = append(append(leaves, byte(len(r.id))), r.id...)
		if err := txn.Set(logIndexKey(r.id), binary.BigEndian.AppendUint64(nil, uint64(n))); err != nil {
			return logNext{}, err
		}
		r.index = n
		next.size++
	}
	if want := tlog.StoredHashCount(next.size) - firstHash; int64(len(hashes)) != want*tlog.HashSize {
		return logNext{}, fmt.Errorf("log hashes from %d: %d bytes for %d hashes", firstHash, len(hashes), want)
	}
	if err := txn.Set(u64Key(logLeafPrefix, first), leaves); err != nil {
		return logNext{}, err
	}
	if err := txn.Set(u64Key(logHashPrefix, firstHash), hashes); err != nil {
		return logNext{}, err
	}
	return next, txn.Set(logSizeKey, binary.BigEndian.AppendUint64(nil, uint64(next.size)))
}

// runReader finds the run (of leaves or hashes) holding an index: the run with the greatest first index not above
// it. It keeps the last run read, since lookups come in order.
type runReader struct {
	prefix []byte
	it     *badgerdb.Iterator
	first  int64
	val    []byte
	ok     bool
}

func newRunReader(txn *badgerdb.Txn, prefix string) *runReader {
	return &runReader{prefix: []byte(prefix),
		it: txn.NewIterator(badgerdb.IteratorOptions{Prefix: []byte(prefix), Reverse: true})}
}

func (r *runReader) close() { r.it.Close() }

// seek loads the run that would hold x, if any. covers reports whether the loaded run holds x.
func (r *runReader) seek(x int64, covers func(first int64, val []byte) bool) (bool, error) {
	if r.ok && x >= r.first && covers(r.first, r.val) {
		return true, nil
	}
	r.it.Seek(u64Key(string(r.prefix), x))
	if !r.it.ValidForPrefix(r.prefix) {
		r.ok = false
		return false, nil
	}
	item := r.it.Item()
	if len(item.Key()) != len(r.prefix)+8 {
		return false, fmt.Errorf("key[%q]: %w", item.Key(), ErrCorrupt)
	}
	val, err := item.ValueCopy(nil)
	if err != nil {
		return false, err
	}
	r.first, r.val, r.ok = int64(binary.BigEndian.Uint64(item.Key()[len(r.prefix):])), val, true
	return covers(r.first, r.val), nil
}

// hashReader reads stored hashes from their runs.
type hashReader struct{ *runReader }

func newHashReader(txn *badgerdb.Txn) hashReader { return hashReader{newRunReader(txn, logHashPrefix)} }

func (h hashReader) at(x int64) (tlog.Hash, error) {
	found, err := h.seek(x, func(first int64, val []byte) bool {
		return len(val)%tlog.HashSize == 0 && x-first < int64(len(val)/tlog.HashSize)
	})
	if err != nil {
		return tlog.Hash{}, err
	}
	if !found {
		return tlog.Hash{}, fmt.Errorf("log hash[%d] missing: %w", x, ErrCorrupt)
	}
	var out tlog.Hash
	copy(out[:], h.val[(x-h.first)*tlog.HashSize:])
	return out, nil
}

// decodeLeafRun splits a run of leaves into ids; ok is false if the run is malformed.
func decodeLeafRun(val []byte) (ids []string, ok bool) {
	for len(val) > 0 {
		n := int(val[0])
		if n == 0 || len(val) < 1+n {
			return ids, false
		}
		ids = append(ids, string(val[1:1+n]))
		val = val[1+n:]
	}
	return ids, true
}

func encodeLeafRun(ids []string) []byte {
	var b []byte
	for _, id := range ids {
		b = append(append(b, byte(len(id))), id...)
	}
	return b
}

// leafReader reads leaf ids from their runs.
type leafReader struct {
	*runReader
	ids     []string // of the run starting at idsFrom
	idsFrom int64
	decoded bool
}

func (l *leafReader) at(i int64) (string, error) {
	found, err := l.seek(i, func(first int64, val []byte) bool {
		if !l.decoded || l.idsFrom != first {
			l.ids, _ = decodeLeafRun(val) // a malformed run yields the leaves before the damage
			l.idsFrom, l.decoded = first, true
		}
		return i-first < int64(len(l.ids))
	})
	if err != nil || !found {
		return "", err
	}
	return l.ids[i-l.first], nil
}

// AppendEvent appends ev as the next leaf of the log and returns its index once it is synced. It goes through
// the receipts' group committer, so events and receipts share batches and syncs and are numbered in one order.
// An event id already in the log is ErrDuplicate.
func (s *Store) AppendEvent(ctx context.Context, ev *receipts.Event) (int64, error) {
	if ev == nil {
		return 0, errors.New("append: nil event")
	}
	if err := ev.Validate(); err != nil {
		return 0, err
	}
	val, err := ev.Canonical()
	if err != nil {
		return 0, err
	}
	req := &appendReq{id: ev.ID, val: val, done: make(chan error, 1)}
	if err := s.enqueue(ctx, req); err != nil {
		return 0, fmt.Errorf("event[%s]: %w", ev.ID, err)
	}
	return req.index, nil
}

// TreeSize returns the number of durable leaves.
func (s *Store) TreeSize(ctx context.Context) (int64, error) {
	end, err := s.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer end()
	return s.log.size.Load(), nil
}

// ReadHashes returns stored hashes of the tree.
func (s *Store) ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	end, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	limit := tlog.StoredHashCount(s.log.size.Load())
	for _, x := range indexes {
		if x < 0 || x >= limit {
			return nil, fmt.Errorf("log hash[%d] beyond the tree: %w", x, tlog.ErrNotFound)
		}
	}
	out := make([]tlog.Hash, len(indexes))
	err = s.db.View(func(txn *badgerdb.Txn) error {
		h := newHashReader(txn)
		defer h.close()
		for i, x := range indexes {
			var err error
			if out[i], err = h.at(x); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// LeafIndex returns the leaf index of a receipt or event.
func (s *Store) LeafIndex(ctx context.Context, id string) (int64, error) {
	end, err := s.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer end()
	if !receipts.ValidID(id) && !receipts.ValidEventID(id) {
		return 0, fmt.Errorf("entry[%s]: %w", id, tlog.ErrNotFound)
	}
	var index int64
	err = s.db.View(func(txn *badgerdb.Txn) error {
		val, found, err := get(txn, logIndexKey(id))
		switch {
		case err != nil:
			return err
		case !found:
			return tlog.ErrNotFound
		case len(val) != 8:
			return ErrCorrupt
		}
		index = int64(binary.BigEndian.Uint64(val))
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("entry[%s]: %w", id, err)
	}
	return index, nil
}

// Entries returns leaves as stored, without judging them: a missing id, record or hash leaves that field empty,
// so that an auditor sees exactly what the store holds.
func (s *Store) Entries(ctx context.Context, start int64, limit int) ([]tlog.Entry, error) {
	end, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	if start < 0 {
		return nil, fmt.Errorf("log entries from %d: negative start", start)
	}
	size := s.log.size.Load()
	stop := min(size, start+int64(min(max(limit, 0), maxLimit)))
	out := []tlog.Entry{}
	err = s.db.View(func(txn *badgerdb.Txn) error {
		leaves := &leafReader{runReader: newRunReader(txn, logLeafPrefix)}
		defer leaves.close()
		hashes := newHashReader(txn)
		defer hashes.close()
		for i := start; i < stop; i++ {
			e := tlog.Entry{Index: i}
			id, err := leaves.at(i)
			if err != nil {
				return err
			}
			e.ID = id
			var key []byte
			switch tlog.KindOf(id) {
			case tlog.KindReceipt:
				key = receiptKey(id)
			case tlog.KindEvent:
				key = logEventKey(id)
			}
			if key != nil && !bytes.ContainsRune([]byte(id), '/') {
				if e.Data, _, err = get(txn, key); err != nil {
					return err
				}
			}
			if h, err := hashes.at(tlog.StoredHashIndex(0, i)); err == nil {
				e.Hash = h
			} else if !errors.Is(err, ErrCorrupt) {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("log entries from %d: %w", start, err)
	}
	return out, nil
}
