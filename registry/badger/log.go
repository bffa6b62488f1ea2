package badger

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	badgerdb "github.com/dgraph-io/badger/v4"

	"github.com/toolgate/toolgate/receipts"
	"github.com/toolgate/toolgate/receipts/tlog"
)

var _ tlog.Store = (*Store)(nil)

// The receipt log's keys (see the package comment). Receipts and events are numbered by the group committer in
// the same transaction that stores them, so a leaf, its hashes and the tree size are durable together.
var (
	logSizeKey     = []byte("l/size") // tree size, u64 BE
	logLeafPrefix  = "l/leaf/"        // l/leaf/<index u64 BE> → the entry's id
	logHashPrefix  = "l/hash/"        // l/hash/<stored hash index u64 BE> → 32-byte hash
	logIndexPrefix = "l/index/"       // l/index/<id> → index u64 BE
	logEventPrefix = "l/event/"       // l/event/<event id> → the event's canonical JSON
)

func u64Key(prefix string, n int64) []byte {
	return binary.BigEndian.AppendUint64([]byte(prefix), uint64(n))
}

func logLeafKey(index int64) []byte  { return u64Key(logLeafPrefix, index) }
func logHashKey(stored int64) []byte { return u64Key(logHashPrefix, stored) }
func logIndexKey(id string) []byte   { return []byte(logIndexPrefix + id) }
func logEventKey(id string) []byte   { return []byte(logEventPrefix + id) }

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

// entryCost is Badger's estimate of what storing r as leaf index adds to a transaction: its record, and the
// log's leaf pointer, reverse index, hashes (one per tree level the leaf completes) and the size.
func entryCost(r *appendReq, index int64, threshold int64) int64 {
	c := entrySize(len(r.key()), len(r.val), threshold) +
		entrySize(len(logLeafPrefix)+8, len(r.id), threshold) +
		entrySize(len(logIndexPrefix)+len(r.id), 8, threshold) +
		int64(1+bits.TrailingZeros64(uint64(index+1)))*entrySize(len(logHashPrefix)+8, tlog.HashSize, threshold) +
		entrySize(len(logSizeKey), 8, threshold)
	if r.tool != "" {
		c += entrySize(len("rt/")+len(r.tool)+1+len(r.id), 0, threshold)
	}
	return c
}

// loadLogSize reads the tree size at Open.
func (s *Store) loadLogSize() error {
	return s.db.View(func(txn *badgerdb.Txn) error {
		val, found, err := get(txn, logSizeKey)
		if err != nil || !found {
			return err
		}
		if len(val) != 8 {
			return fmt.Errorf("log size: %w", ErrCorrupt)
		}
		s.logSize.Store(int64(binary.BigEndian.Uint64(val)))
		return nil
	})
}

// txnHashes reads stored hashes in a transaction, which sees its own writes: the hashes of leaves appended
// earlier in the same batch.
func txnHashes(txn *badgerdb.Txn) tlog.HashReader {
	return tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			val, found, err := get(txn, logHashKey(x))
			if err != nil {
				return nil, err
			}
			if !found || len(val) != tlog.HashSize {
				return nil, fmt.Errorf("log hash[%d]: %w", x, ErrCorrupt)
			}
			copy(out[i][:], val)
		}
		return out, nil
	})
}

// appendLeaves numbers the chunk's entries from the current tree size, in order, and writes each leaf's pointer,
// reverse index and stored hashes, and the new size, in txn. Only the committer calls it, so the size cannot move
// underneath; it returns the size the tree will have once txn commits.
func (s *Store) appendLeaves(txn *badgerdb.Txn, chunk []*appendReq) (int64, error) {
	n := s.logSize.Load()
	read := txnHashes(txn)
	for _, r := range chunk {
		hashes, err := tlog.StoredHashesForRecordHash(n, tlog.RecordHash(r.val), read)
		if err != nil {
			return 0, fmt.Errorf("log leaf[%d]: %w", n, err)
		}
		base := tlog.StoredHashIndex(0, n)
		for i, h := range hashes {
			if err := txn.Set(logHashKey(base+int64(i)), h[:]); err != nil {
				return 0, err
			}
		}
		if err := txn.Set(logLeafKey(n), []byte(r.id)); err != nil {
			return 0, err
		}
		if err := txn.Set(logIndexKey(r.id), binary.BigEndian.AppendUint64(nil, uint64(n))); err != nil {
			return 0, err
		}
		r.index = n
		n++
	}
	return n, txn.Set(logSizeKey, binary.BigEndian.AppendUint64(nil, uint64(n)))
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
	return s.logSize.Load(), nil
}

// ReadHashes returns stored hashes of the tree.
func (s *Store) ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	end, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	limit := tlog.StoredHashCount(s.logSize.Load())
	for _, x := range indexes {
		if x < 0 || x >= limit {
			return nil, fmt.Errorf("log hash[%d] beyond the tree: %w", x, tlog.ErrNotFound)
		}
	}
	var out []tlog.Hash
	err = s.db.View(func(txn *badgerdb.Txn) error {
		var err error
		out, err = txnHashes(txn).ReadHashes(indexes)
		return err
	})
	return out, err
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

// Entries returns leaves as stored, without judging them: a missing pointer, record or hash leaves that field
// empty, so that an auditor can see exactly what the store holds.
func (s *Store) Entries(ctx context.Context, start int64, limit int) ([]tlog.Entry, error) {
	end, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	size := s.logSize.Load()
	if start < 0 {
		return nil, fmt.Errorf("log entries from %d: negative start", start)
	}
	limit = min(max(limit, 0), maxLimit)
	stop := min(size, start+int64(limit))
	out := []tlog.Entry{}
	err = s.db.View(func(txn *badgerdb.Txn) error {
		for i := start; i < stop; i++ {
			e := tlog.Entry{Index: i}
			id, found, err := get(txn, logLeafKey(i))
			if err != nil {
				return err
			}
			if found {
				e.ID = string(id)
				var key []byte
				switch tlog.KindOf(e.ID) {
				case tlog.KindReceipt:
					key = receiptKey(e.ID)
				case tlog.KindEvent:
					key = logEventKey(e.ID)
				}
				if key != nil {
					if e.Data, _, err = get(txn, key); err != nil {
						return err
					}
				}
			}
			h, found, err := get(txn, logHashKey(tlog.StoredHashIndex(0, i)))
			if err != nil {
				return err
			}
			if found && len(h) == tlog.HashSize {
				copy(e.Hash[:], h)
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
