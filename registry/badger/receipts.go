package badger

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	badgerdb "github.com/dgraph-io/badger/v4"

	"github.com/toolgate/toolgate/receipts"
	"github.com/toolgate/toolgate/registry"
)

const (
	// appendQueue is how many Appends may wait for the committer before senders block.
	appendQueue = 1024
	// maxBatch is the most receipts one commit takes from the queue.
	maxBatch = 256
	// Listing limits.
	defaultLimit = 100
	maxLimit     = 1000
)

// appendReq is one receipt or event (tool "") queued for the group committer, which sets index, the entry's leaf
// index in the log, before answering on done.
type appendReq struct {
	id, tool string
	val      []byte // canonical JSON
	index    int64
	done     chan error
}

func receiptKey(id string) []byte          { return []byte("r/" + id) }
func receiptToolPrefix(tool string) []byte { return []byte("rt/" + tool + "/") }

// Append stores r durably: it returns after the transaction holding r is committed and synced. Concurrent
// Appends are group-committed: a single goroutine takes every receipt queued while the previous commit was
// syncing and writes them in one transaction, so they share one sync. Badger alone does not give this: it
// syncs its write-ahead log once per transaction even when it batches them.
//
// r.ID must be a receipts.ValidID id and r.Tool a valid tool name; an id already stored is ErrDuplicate. Once
// r is queued, Append waits for the commit even if ctx is cancelled, so that its answer is the truth.
func (s *Store) Append(ctx context.Context, r *receipts.Receipt) error {
	if r == nil {
		return errors.New("append: nil receipt")
	}
	if !receipts.ValidID(r.ID) {
		return fmt.Errorf("receipt[%s]: malformed id", r.ID)
	}
	if !registry.ValidToolName(r.Tool) {
		return fmt.Errorf("receipt[%s] tool[%s]: malformed tool name", r.ID, r.Tool)
	}
	val, err := r.Canonical()
	if err != nil {
		return err
	}
	req := &appendReq{id: r.ID, tool: r.Tool, val: val, done: make(chan error, 1)}
	if err := s.enqueue(ctx, req); err != nil {
		return fmt.Errorf("receipt[%s]: %w", r.ID, err)
	}
	return nil
}

// enqueue hands req to the group committer and waits for its commit.
func (s *Store) enqueue(ctx context.Context, req *appendReq) error {
	end, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer end()
	select {
	case s.appends <- req:
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-req.done
}

// commitLoop is the group committer: it runs until Close closes the queue, and writes every receipt queued
// before that.
func (s *Store) commitLoop() {
	defer s.committer.Done()
	batch := make([]*appendReq, 0, maxBatch)
	for req := range s.appends {
		batch = append(batch[:0], req)
	fill:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-s.appends:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		s.commitBatch(batch)
	}
}

// commitBatch writes a batch of receipts and events, in as few transactions as Badger's size limit allows, and
// answers each request. Each transaction also numbers its entries as the next leaves of the log (appendLeaves).
func (s *Store) commitBatch(batch []*appendReq) {
	// Duplicates are found in a snapshot: only this goroutine writes r/ and l/ keys, so the snapshot is current.
	accepted := batch[:0:0]
	seen := make(map[string]bool, len(batch))
	err := s.db.View(func(txn *badgerdb.Txn) error {
		for _, r := range batch {
			dup := seen[r.id]
			if !dup {
				var err error
				if dup, err = exists(txn, r.key()); err != nil {
					return err
				}
			}
			if dup {
				r.done <- ErrDuplicate
				continue
			}
			seen[r.id] = true
			accepted = append(accepted, r)
		}
		return nil
	})
	if err != nil {
		for _, r := range batch {
			r.done <- err
		}
		return
	}

	limit := s.db.MaxBatchSize() - 1
	threshold := s.threshold
	for len(accepted) > 0 {
		var size int64
		n := 0
		next := s.log.size.Load()
		for n < len(accepted) {
			sz := entryCost(accepted[n], next+int64(n), threshold)
			if n > 0 && size+sz > limit {
				break
			}
			size += sz
			n++
		}
		chunk := accepted[:n]
		accepted = accepted[n:]
		err := s.writeChunk(chunk)
		for _, r := range chunk {
			r.done <- err
		}
	}
}

// entrySize is Badger's estimate of an entry's share of a transaction, with the 10 bytes of its version.
func entrySize(key, val int, threshold int64) int64 {
	if int64(val) < threshold {
		return int64(key+val) + 2 + 10
	}
	return int64(key) + 12 + 2 + 10
}

// writeChunk stores the chunk's records and log leaves in one synced transaction, and only then moves the log
// that readers see.
func (s *Store) writeChunk(chunk []*appendReq) error {
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	for _, r := range chunk {
		if err := r.setRecord(txn); err != nil {
			return err
		}
	}
	next, err := s.appendLeaves(txn, chunk)
	if err != nil {
		return err
	}
	if err := txn.Commit(); err != nil {
		// The commit may or may not have reached the database: take the log from what it holds.
		if lerr := s.loadLog(); lerr != nil {
			return errors.Join(err, lerr)
		}
		return err
	}
	s.log.advance(next)
	return nil
}

// Get returns one receipt; receipts.ErrNotFound if absent.
func (s *Store) Get(ctx context.Context, id string) (*receipts.Receipt, error) {
	end, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	if !receipts.ValidID(id) {
		return nil, fmt.Errorf("receipt[%s]: %w", id, receipts.ErrNotFound)
	}
	var r *receipts.Receipt
	err = s.db.View(func(txn *badgerdb.Txn) error {
		val, found, err := get(txn, receiptKey(id))
		if err != nil {
			return err
		}
		if !found {
			return receipts.ErrNotFound
		}
		r, err = decodeReceipt(val)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("receipt[%s]: %w", id, err)
	}
	return r, nil
}

// List returns receipts newest first (by id, which orders them by start time). With f.Tool it walks that
// tool's index; f.Status is checked on each receipt; f.Since is checked on StartedAt, and the walk stops at the
// first id whose embedded time is before f.Since, since ids are made from the start time (receipts.NewID).
// The cursor is the base64url of the last id returned; the next page starts strictly after it.
func (s *Store) List(ctx context.Context, f receipts.Filter) ([]*receipts.Receipt, string, error) {
	end, err := s.begin(ctx)
	if err != nil {
		return nil, "", err
	}
	defer end()
	limit := f.Limit
	switch {
	case limit <= 0:
		limit = defaultLimit
	case limit > maxLimit:
		limit = maxLimit
	}
	var after string
	if f.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(f.Cursor)
		if err != nil || !receipts.ValidID(string(b)) {
			return nil, "", fmt.Errorf("cursor[%s]: %w", f.Cursor, receipts.ErrBadCursor)
		}
		after = string(b)
	}
	page := []*receipts.Receipt{}
	if f.Tool != "" && !registry.ValidToolName(f.Tool) {
		return page, "", nil // no receipt can have it
	}
	prefix := []byte("r/")
	if f.Tool != "" {
		prefix = receiptToolPrefix(f.Tool)
	}
	since := f.Since.UnixNano()
	var next string
	err = s.db.View(func(txn *badgerdb.Txn) error {
		// Index entries have no value worth prefetching, and a page is usually small: values are read as needed.
		it := txn.NewIterator(badgerdb.IteratorOptions{Prefix: prefix, Reverse: true})
		defer it.Close()
		if after == "" {
			it.Seek(append(bytes.Clone(prefix), 0xff))
		} else {
			seek := append(bytes.Clone(prefix), after...)
			it.Seek(seek)
			if it.Valid() && bytes.Equal(it.Item().Key(), seek) {
				it.Next()
			}
		}
		for ; it.Valid(); it.Next() {
			item := it.Item()
			id := string(item.Key()[len(prefix):])
			if !receipts.ValidID(id) {
				return fmt.Errorf("key[%q]: %w", item.Key(), ErrCorrupt)
			}
			if !f.Since.IsZero() && idTime(id) < since {
				break
			}
			var val []byte
			var err error
			if f.Tool == "" {
				val, err = item.ValueCopy(nil)
			} else {
				var found bool
				val, found, err = get(txn, receiptKey(id))
				if err == nil && !found {
					err = fmt.Errorf("receipt[%s] indexed but missing: %w", id, ErrCorrupt)
				}
			}
			if err != nil {
				return err
			}
			r, err := decodeReceipt(val)
			if err != nil {
				return fmt.Errorf("receipt[%s]: %w", id, err)
			}
			if f.Status != "" && r.Status != f.Status || !f.Since.IsZero() && r.StartedAt.Before(f.Since) {
				continue
			}
			if len(page) == limit { // one more match exists: there is a next page
				next = base64.RawURLEncoding.EncodeToString([]byte(page[len(page)-1].ID))
				break
			}
			page = append(page, r)
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("list receipts: %w", err)
	}
	return page, next, nil
}

// idTime is the start time, in Unix nanoseconds, that receipts.NewID put at the front of an id (which must be
// valid).
func idTime(id string) int64 {
	b, _ := hex.DecodeString(id[len("rcpt_") : len("rcpt_")+16])
	return int64(binary.BigEndian.Uint64(b))
}

func decodeReceipt(val []byte) (*receipts.Receipt, error) {
	r, err := receipts.Decode(val)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", err, ErrCorrupt)
	}
	return r, nil
}
