package badger

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	badgerdb "github.com/dgraph-io/badger/v4"

	"github.com/toolgate/toolgate/receipts"
	"github.com/toolgate/toolgate/receipts/receiptstest"
	"github.com/toolgate/toolgate/receipts/tlog"
	"github.com/toolgate/toolgate/receipts/tlog/tlogtest"
)

func TestStore_Log(t *testing.T) {
	t.Parallel()
	tlogtest.Run(t, func(t *testing.T) tlogtest.Store { return open(t) })
}

var logBase = time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)

// fillLog appends n entries, every fifth an event, and returns their ids in log order.
func fillLog(t *testing.T, s *Store, n int) []string {
	t.Helper()
	ctx := context.Background()
	ids := make([]string, n)
	for i := range n {
		at := logBase.Add(time.Duration(i) * time.Millisecond)
		if i%5 == 4 {
			ev := tlogtest.Event(receipts.EventPin, at)
			if _, err := s.AppendEvent(ctx, ev); err != nil {
				t.Fatal(err)
			}
			ids[i] = ev.ID
			continue
		}
		r := receiptstest.Receipt("echo", receipts.StatusOK, at)
		if err := s.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
		ids[i] = r.ID
	}
	return ids
}

// offline opens the closed store's database directly, as an operator with the disk would, and runs fn in one
// transaction.
func offline(t *testing.T, dir string, fn func(txn *badgerdb.Txn) error) {
	t.Helper()
	db, err := badgerdb.Open(badgerdb.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

func mustGet(txn *badgerdb.Txn, key []byte) []byte {
	v, _, err := get(txn, key)
	if err != nil {
		panic(err)
	}
	return v
}

// TestLog_Tamper edits the database behind the store's back — a receipt's bytes, an event's, a record deleted,
// two leaves swapped, a leaf cut out of the sequence, a tree hash forged to match, the log truncated — and checks
// that an audit against the checkpoint taken before names each change: its index and whether the entry was
// modified, deleted or reordered.
func TestLog_Tamper(t *testing.T) {
	t.Parallel()
	const n = 20
	tests := []struct {
		name   string
		tamper func(txn *badgerdb.Txn, ids []string) error
		method string
		want   []string
	}{
		{"receipt modified", func(txn *badgerdb.Txn, ids []string) error {
			v := mustGet(txn, receiptKey(ids[5]))
			return txn.Set(receiptKey(ids[5]), bytes.Replace(v, []byte(`"status":"ok"`), []byte(`"status":"trap"`), 1))
		}, "leaf-hashes", []string{"5 modified"}},
		{"event modified", func(txn *badgerdb.Txn, ids []string) error {
			v := mustGet(txn, logEventKey(ids[9]))
			return txn.Set(logEventKey(ids[9]), bytes.Replace(v, []byte(`"because"`), []byte(`"approved"`), 1))
		}, "leaf-hashes", []string{"9 modified"}},
		{"receipt deleted", func(txn *badgerdb.Txn, ids []string) error {
			return txn.Delete(receiptKey(ids[7]))
		}, "leaf-hashes", []string{"7 deleted"}},
		{"reordered", func(txn *badgerdb.Txn, ids []string) error {
			if err := txn.Set(logLeafKey(3), []byte(ids[12])); err != nil {
				return err
			}
			return txn.Set(logLeafKey(12), []byte(ids[3]))
		}, "leaf-hashes", []string{"3 reordered", "12 reordered"}},
		{"cut out of the sequence", func(txn *badgerdb.Txn, ids []string) error {
			for i := 4; i < n-1; i++ {
				if err := txn.Set(logLeafKey(int64(i)), []byte(ids[i+1])); err != nil {
					return err
				}
			}
			if err := txn.Delete(logEventKey(ids[4])); err != nil {
				return err
			}
			return txn.Delete(logLeafKey(n - 1))
		}, "leaf-hashes", func() []string {
			out := []string{"4 deleted"}
			for i := 5; i < n; i++ {
				out = append(out, fmt.Sprintf("%d reordered", i))
			}
			return out
		}()},
		{"leaf hash forged to match", func(txn *badgerdb.Txn, ids []string) error {
			forged := bytes.Replace(mustGet(txn, receiptKey(ids[6])), []byte(`"cost":0.00125`), []byte(`"cost":0`), 1)
			h := tlog.RecordHash(forged)
			if err := txn.Set(logHashKey(tlog.StoredHashIndex(0, 6)), h[:]); err != nil {
				return err
			}
			return txn.Set(receiptKey(ids[6]), forged)
		}, "proofs", []string{"6 modified", "7 modified"}}, // 7's proof runs through 6's forged hash
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			ids := fillLog(t, s, n)
			before := tlogtest.Tree(t, s)
			s.Close()

			offline(t, dir, func(txn *badgerdb.Txn) error { return tc.tamper(txn, ids) })

			s, err = Open(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			r := tlogtest.Audit(t, s, before)
			var got []string
			for _, p := range r.Problems {
				got = append(got, fmt.Sprintf("%d %s", p.Index, p.Kind))
			}
			if r.Method != tc.method || !slices.Equal(got, tc.want) {
				t.Errorf("got %s %v, want %s %v\n%v", r.Method, got, tc.method, tc.want, r.Problems)
			}
		})
	}

	t.Run("single receipt", func(t *testing.T) {
		dir := t.TempDir()
		s, _ := Open(dir, Options{})
		ids := fillLog(t, s, n)
		before := tlogtest.Tree(t, s)
		s.Close()
		offline(t, dir, func(txn *badgerdb.Txn) error {
			v := mustGet(txn, receiptKey(ids[2]))
			return txn.Set(receiptKey(ids[2]), bytes.Replace(v, []byte(`"fuel":{"limit":1000000,"used":12345}`),
				[]byte(`"fuel":{"limit":1000000,"used":1}`), 1))
		})
		s, _ = Open(dir, Options{})
		defer s.Close()
		ctx := context.Background()
		for _, i := range []int64{1, 2} {
			r, err := s.Get(ctx, ids[i])
			if err != nil {
				t.Fatal(err)
			}
			b, _ := r.Canonical()
			idx, _ := s.LeafIndex(ctx, ids[i])
			p, _ := tlog.ProveInclusion(before.N, idx, tlog.Reader(ctx, s))
			err = tlog.VerifyInclusion(before, idx, b, p)
			if (i == 2) != errors.Is(err, tlog.ErrNotIncluded) {
				t.Errorf("receipt %d: got %v", i, err)
			}
		}
	})

	t.Run("truncated", func(t *testing.T) {
		dir := t.TempDir()
		s, _ := Open(dir, Options{})
		fillLog(t, s, n)
		before := tlogtest.Tree(t, s)
		s.Close()
		offline(t, dir, func(txn *badgerdb.Txn) error {
			return txn.Set(logSizeKey, binary.BigEndian.AppendUint64(nil, n-3))
		})
		s, _ = Open(dir, Options{})
		defer s.Close()
		after := tlogtest.Tree(t, s)
		// The shorter tree is internally consistent; only an earlier checkpoint shows what went missing.
		if !tlogtest.Audit(t, s, after).OK() {
			t.Error("the truncated tree does not audit on its own")
		}
		if err := tlog.VerifyConsistency(before, after, nil); !errors.Is(err, tlog.ErrInconsistent) {
			t.Errorf("consistency %d → %d: got %v, want ErrInconsistent", before.N, after.N, err)
		}
		// Against the earlier checkpoint, the missing entries are deleted; the rest cannot be proved in a tree
		// the store no longer has.
		r := tlogtest.Audit(t, s, before)
		var deleted []int64
		for _, p := range r.Problems {
			if p.Kind == tlog.ProblemDeleted {
				deleted = append(deleted, p.Index)
			} else if p.Kind != tlog.ProblemUnverifiable {
				t.Errorf("audit against the earlier checkpoint: %v", p)
			}
		}
		if !slices.Equal(deleted, []int64{n - 3, n - 2, n - 1}) {
			t.Errorf("deleted: got %v, want the last three", deleted)
		}
	})
}

// TestLog_Reopen checks the log survives a restart and keeps growing as an extension of itself.
func TestLog_Reopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fillLog(t, s, 13)
	before := tlogtest.Tree(t, s)
	s.Close()
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := tlogtest.Tree(t, s); got != before {
		t.Fatalf("after reopen: got %v, want %v", got, before)
	}
	fillLog(t, s, 9)
	after := tlogtest.Tree(t, s)
	ctx := context.Background()
	p, err := tlog.ProveConsistency(after.N, before.N, tlog.Reader(ctx, s))
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.VerifyConsistency(before, after, p); err != nil || after.N != 22 {
		t.Errorf("grown to %d: %v", after.N, err)
	}
	if r := tlogtest.Audit(t, s, after); !r.OK() {
		t.Errorf("audit: %v", r.Problems)
	}
}

// TestLog_BatchSplit fills batches bigger than one transaction: each chunk continues the numbering of the last.
func TestLog_BatchSplit(t *testing.T) {
	t.Parallel()
	s, err := Open(t.TempDir(), Options{MemTableSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	const n = 600
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := receiptstest.Receipt("echo", receipts.StatusOK, time.Unix(1000, int64(i)))
			r.Error = string(bytes.Repeat([]byte("x"), 1000))
			if err := s.Append(context.Background(), r); err != nil {
				t.Errorf("Append: %v", err)
			}
		}()
	}
	wg.Wait()
	tree := tlogtest.Tree(t, s)
	if r := tlogtest.Audit(t, s, tree); tree.N != n || !r.OK() {
		t.Errorf("got size %d, problems %v; want %d and none", tree.N, r.Problems, n)
	}
}
