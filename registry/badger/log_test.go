package badger

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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

// TestStore_LogIndexed runs the log suite with every entry in the index before each read (indexedStore in
// badger_test.go), so that leaf indexes come from runs and single keys rather than the pending overlay.
func TestStore_LogIndexed(t *testing.T) {
	t.Parallel()
	tlogtest.Run(t, func(t *testing.T) tlogtest.Store {
		s := open(t)
		s.log.paused.Store(true)
		return &indexedLog{indexedStore{Store: s, t: t}}
	})
}

// indexedLog is indexedStore with the log's reads too.
type indexedLog struct{ indexedStore }

func (s *indexedLog) LeafIndex(ctx context.Context, id string) (int64, error) {
	s.applied()
	return s.Store.LeafIndex(ctx, id)
}

func (s *indexedLog) Entries(ctx context.Context, start int64, limit int) ([]tlog.Entry, error) {
	s.applied()
	return s.Store.Entries(ctx, start, limit)
}

func (s *indexedLog) ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	s.applied()
	return s.Store.ReadHashes(ctx, indexes)
}

var logBase = time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)

// fillLog appends n entries, every fifth an event, and returns their ids in log order. Sequential appends are
// applied to the database one at a time, so that each run holds one leaf; concurrent ones all at once, so that
// commits hold several entries and runs several leaves.
func fillLog(t *testing.T, s *Store, n int, concurrent bool) []string {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range n {
		add := func() {
			at := logBase.Add(time.Duration(i) * time.Millisecond)
			var err error
			if i%5 == 4 {
				_, err = s.AppendEvent(ctx, tlogtest.Event(receipts.EventPin, at))
			} else {
				err = s.Append(ctx, receiptstest.Receipt("echo", receipts.StatusOK, at))
			}
			if err != nil {
				t.Error(err)
			}
		}
		if !concurrent {
			add()
			if err := s.apply(); err != nil {
				t.Fatal(err)
			}
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); add() }()
	}
	wg.Wait()
	if err := s.apply(); err != nil {
		t.Fatal(err)
	}
	es, err := s.Entries(ctx, 0, n)
	if err != nil || len(es) != n {
		t.Fatalf("Entries: got %d, %v", len(es), err)
	}
	ids := make([]string, n)
	for i, e := range es {
		ids[i] = e.ID
	}
	if runs := countKeys(t, s, logLeafPrefix); concurrent && runs == n || !concurrent && runs != n {
		t.Fatalf("concurrent=%v: %d runs of leaves for %d entries", concurrent, runs, n)
	}
	return ids
}

func countKeys(t *testing.T, s *Store, prefix string) int {
	n := 0
	s.log.db.View(func(txn *badgerdb.Txn) error {
		it := txn.NewIterator(badgerdb.IteratorOptions{Prefix: []byte(prefix)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	return n
}

// offline opens the closed store's database directly, as an operator with the disk would, and runs fn in one
// transaction.
func offline(t *testing.T, dir string, fn func(txn *badgerdb.Txn) error) {
	t.Helper()
	db, err := badgerdb.Open(badgerdb.DefaultOptions(filepath.Join(dir, receiptsDir)).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// leafRun returns the run holding leaf i: its first index and leaves.
func leafRun(txn *badgerdb.Txn, i int64) (int64, []leaf, error) {
	l := &leafReader{runReader: newRunReader(txn, logLeafPrefix)}
	defer l.close()
	if _, err := l.at(i); err != nil || !l.decoded || i-l.from >= int64(len(l.leaves)) {
		return 0, nil, fmt.Errorf("leaf %d: %v", i, err)
	}
	return l.from, slices.Clone(l.leaves), nil
}

func getLeaf(txn *badgerdb.Txn, i int64) leaf {
	first, leaves, err := leafRun(txn, i)
	if err != nil {
		panic(err)
	}
	return leaves[i-first]
}

// setLeaf puts lf at leaf index i, in whatever run holds it; remove cuts the leaf, which must end its run.
func setLeaf(txn *badgerdb.Txn, i int64, lf leaf, remove bool) error {
	first, leaves, err := leafRun(txn, i)
	if err != nil {
		return err
	}
	if remove {
		if i-first != int64(len(leaves)-1) {
			return fmt.Errorf("leaf %d does not end its run", i)
		}
		if leaves = leaves[:len(leaves)-1]; len(leaves) == 0 {
			return txn.Delete(u64Key(logLeafPrefix, first))
		}
	} else {
		leaves[i-first] = lf
	}
	return txn.Set(u64Key(logLeafPrefix, first), encodeLeafRun(leaves))
}

// patchEntry replaces old with new (of the same length) in the bytes of leaf i, in its segment file.
func patchEntry(txn *badgerdb.Txn, dir string, i int64, old, new string) ([]byte, error) {
	pos := getLeaf(txn, i).pos
	path := filepath.Join(dir, receiptsDir, segmentsDir, segmentName(pos.seg))
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, pos.n)
	if _, err := f.ReadAt(b, int64(pos.off)); err != nil {
		return nil, err
	}
	if len(old) != len(new) || !bytes.Contains(b, []byte(old)) {
		return nil, fmt.Errorf("leaf %d: cannot patch %q in %s", i, old, b)
	}
	b = bytes.Replace(b, []byte(old), []byte(new), 1)
	_, err = f.WriteAt(b, int64(pos.off))
	return b, err
}

// setHash puts h at stored hash index x, in whatever run holds it.
func setHash(txn *badgerdb.Txn, x int64, h tlog.Hash) error {
	r := newHashReader(txn)
	_, err := r.at(x)
	first, val := r.first, bytes.Clone(r.val)
	r.close()
	if err != nil {
		return err
	}
	copy(val[(x-first)*tlog.HashSize:], h[:])
	return txn.Set(u64Key(logHashPrefix, first), val)
}

func firstOfKind(ids []string, kind string, skip int) int {
	for i, id := range ids {
		if tlog.KindOf(id) == kind {
			if skip == 0 {
				return i
			}
			skip--
		}
	}
	return -1
}

// TestLog_Tamper edits the database behind the store's back — a receipt's bytes, an event's, a record deleted,
// two leaves swapped, a leaf cut out of the sequence, a tree hash forged to match, the log truncated — and checks
// that an audit against the checkpoint taken before names each change: its index and whether the entry was
// modified, deleted or reordered. Each case runs on a log filled one entry per commit and on one filled with
// many entries per commit.
func TestLog_Tamper(t *testing.T) {
	t.Parallel()
	const n = 20
	tests := []struct {
		name   string
		tamper func(txn *badgerdb.Txn, dir string, ids []string) ([]string, error)
		method string
	}{
		{"receipt modified", func(txn *badgerdb.Txn, dir string, ids []string) ([]string, error) {
			i := firstOfKind(ids, tlog.KindReceipt, 4)
			_, err := patchEntry(txn, dir, int64(i), `"status":"ok"`, `"status":"OK"`)
			return []string{fmt.Sprint(i, " modified")}, err
		}, "leaf-hashes"},
		{"event modified", func(txn *badgerdb.Txn, dir string, ids []string) ([]string, error) {
			i := firstOfKind(ids, tlog.KindEvent, 1)
			_, err := patchEntry(txn, dir, int64(i), `"because"`, `"BECAUSE"`)
			return []string{fmt.Sprint(i, " modified")}, err
		}, "leaf-hashes"},
		{"receipt deleted", func(txn *badgerdb.Txn, dir string, ids []string) ([]string, error) {
			i := firstOfKind(ids, tlog.KindReceipt, 6)
			if err := txn.Delete(receiptKey(ids[i])); err != nil {
				return nil, err
			}
			return []string{fmt.Sprint(i, " deleted")}, setLeaf(txn, int64(i), leaf{}, false)
		}, "leaf-hashes"},
		{"reordered", func(txn *badgerdb.Txn, dir string, ids []string) ([]string, error) {
			a, b := getLeaf(txn, 3), getLeaf(txn, 12)
			if err := setLeaf(txn, 3, b, false); err != nil {
				return nil, err
			}
			return []string{"3 reordered", "12 reordered"}, setLeaf(txn, 12, a, false)
		}, "leaf-hashes"},
		{"cut out of the sequence", func(txn *badgerdb.Txn, dir string, ids []string) ([]string, error) {
			want := []string{"4 deleted"}
			for i := 4; i < n-1; i++ {
				if err := setLeaf(txn, int64(i), getLeaf(txn, int64(i+1)), false); err != nil {
					return nil, err
				}
				want = append(want, fmt.Sprint(i+1, " reordered"))
			}
			if err := txn.Delete(entryKey(ids[4])); err != nil {
				return nil, err
			}
			return want, setLeaf(txn, n-1, leaf{}, true)
		}, "leaf-hashes"},
		{"leaf hash forged to match", func(txn *badgerdb.Txn, dir string, ids []string) ([]string, error) {
			i := firstOfKind(ids, tlog.KindReceipt, 5)
			forged, err := patchEntry(txn, dir, int64(i), `"cost":0.00125`, `"cost":0.00999`)
			if err != nil {
				return nil, err
			}
			// The sibling's proof runs through the forged hash: the two cannot be told apart.
			sib := i ^ 1
			want := []string{fmt.Sprint(min(i, sib), " modified"), fmt.Sprint(max(i, sib), " modified")}
			return want, setHash(txn, tlog.StoredHashIndex(0, int64(i)), tlog.RecordHash(forged))
		}, "proofs"},
	}
	for _, concurrent := range []bool{false, true} {
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%s/concurrent=%v", tc.name, concurrent), func(t *testing.T) {
				dir := t.TempDir()
				s, err := Open(dir, Options{})
				if err != nil {
					t.Fatal(err)
				}
				ids := fillLog(t, s, n, concurrent)
				before := tlogtest.Tree(t, s)
				s.Close()

				var want []string
				offline(t, dir, func(txn *badgerdb.Txn) error {
					var err error
					want, err = tc.tamper(txn, dir, ids)
					return err
				})

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
				if r.Method != tc.method || !slices.Equal(got, want) {
					t.Errorf("got %s %v, want %s %v\n%v", r.Method, got, tc.method, want, r.Problems)
				}
			})
		}
	}

	t.Run("single receipt", func(t *testing.T) {
		dir := t.TempDir()
		s, _ := Open(dir, Options{})
		ids := fillLog(t, s, n, false)
		before := tlogtest.Tree(t, s)
		s.Close()
		offline(t, dir, func(txn *badgerdb.Txn) error {
			_, err := patchEntry(txn, dir, 2, `"used":12345`, `"used":99999`)
			return err
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
		fillLog(t, s, n, false)
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
	fillLog(t, s, 13, false)
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
	fillLog(t, s, 9, true)
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

// TestLog_DuplicateAfterApply checks the duplicate check once entries have left the pending overlay for the
// database, where the committer reads only for ids at or below the newest indexed one: a stored id, older or
// newest, is refused, before and after a reopen; a new id older than the newest stored is taken, as is a newer
// one; events alike.
func TestLog_DuplicateAfterApply(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	at := func(ms int) time.Time { return time.Unix(1700000000, 0).Add(time.Duration(ms) * time.Millisecond) }
	older, newest := receiptstest.Receipt("echo", receipts.StatusOK, at(0)), receiptstest.Receipt("echo", receipts.StatusOK, at(20))
	ev := tlogtest.Event(receipts.EventPin, at(20))
	for _, r := range []*receipts.Receipt{older, newest} {
		if err := s.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.AppendEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if err := s.apply(); err != nil {
		t.Fatal(err)
	}
	check := func(s *Store, when string) {
		t.Helper()
		for _, r := range []*receipts.Receipt{older, newest} {
			if err := s.Append(ctx, r); !errors.Is(err, ErrDuplicate) {
				t.Errorf("%s: Append of stored receipt %s: got %v, want %v", when, r.ID, err, ErrDuplicate)
			}
		}
		if _, err := s.AppendEvent(ctx, ev); !errors.Is(err, ErrDuplicate) {
			t.Errorf("%s: AppendEvent of a stored event: got %v, want %v", when, err, ErrDuplicate)
		}
	}
	check(s, "applied")
	between := receiptstest.Receipt("echo", receipts.StatusOK, at(10)) // below the newest indexed id, not stored
	if err := s.Append(ctx, between); err != nil {
		t.Errorf("Append of a new receipt older than the newest stored: %v", err)
	}
	if _, err := s.AppendEvent(ctx, tlogtest.Event(receipts.EventPin, at(10))); err != nil {
		t.Errorf("AppendEvent of a new event older than the newest stored: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check(s, "reopened")
	if err := s.Append(ctx, between); !errors.Is(err, ErrDuplicate) {
		t.Errorf("reopened: Append of %s: got %v, want %v", between.ID, err, ErrDuplicate)
	}
	if err := s.Append(ctx, receiptstest.Receipt("echo", receipts.StatusOK, at(30))); err != nil {
		t.Errorf("reopened: Append of a newer receipt: %v", err)
	}
}

// TestNumberMatchesTlog checks the committer's hashing from the frontier against tlog's own stored hashes, leaf
// by leaf and in batches of every size up to 9, for the first 300 leaves.
func TestNumberMatchesTlog(t *testing.T) {
	for batch := 1; batch <= 9; batch++ {
		var l logState
		var stored []tlog.Hash
		read := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
			out := make([]tlog.Hash, len(indexes))
			for i, x := range indexes {
				out[i] = stored[x]
			}
			return out, nil
		})
		for n := int64(0); n < 300; n += int64(batch) {
			var rs []*appendReq
			for i := range batch {
				rs = append(rs, newAppendReq(fmt.Sprintf("evt_%d", n+int64(i)), "", []byte(fmt.Sprint(n+int64(i)))))
			}
			hashes, next := l.number(rs)
			var want []tlog.Hash
			for i, r := range rs {
				if r.index != n+int64(i) {
					t.Fatalf("batch %d: leaf %d numbered %d", batch, n+int64(i), r.index)
				}
				hs, err := tlog.StoredHashesForRecordHash(r.index, tlog.RecordHash(r.val), read)
				if err != nil {
					t.Fatal(err)
				}
				stored = append(stored, hs...)
				want = append(want, hs...)
			}
			if !slices.Equal(hashes, want) {
				t.Fatalf("batch %d, leaves from %d: stored hashes differ from tlog's", batch, n)
			}
			l.size.Store(next.size)
			l.frontier = next.frontier
		}
	}
}
