// Package tlogtest is the one suite every store of the receipt log must pass: call Run from the implementation's
// tests with a func that opens a fresh, empty store (and registers its cleanup with t.Cleanup). The store keeps
// receipts and the log together, as Toolgate's stores do: a receipt appended through receipts.Store is a leaf.
//
// Tampering with a store's bytes is implementation-specific, so each store tests that its own tampering is
// caught; Audit helps.
package tlogtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/toolgate/toolgate/receipts"
	"github.com/toolgate/toolgate/receipts/receiptstest"
	"github.com/toolgate/toolgate/receipts/tlog"
)

// Store is what the suite needs: receipts and the log in one store.
type Store interface {
	receipts.Store
	tlog.Store
}

var base = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// Run runs the suite. open must return a new, empty store each time it is called.
func Run(t *testing.T, open func(t *testing.T) Store) {
	t.Run("Empty", func(t *testing.T) { testEmpty(t, open(t)) })
	t.Run("Proofs", func(t *testing.T) { testProofs(t, open(t)) })
	t.Run("Events", func(t *testing.T) { testEvents(t, open(t)) })
	t.Run("Hammer", func(t *testing.T) { testHammer(t, open(t)) })
}

// Event returns a valid event of kind that happened at at.
func Event(kind string, at time.Time) *receipts.Event {
	return &receipts.Event{ID: receipts.NewEventID(at), Kind: kind, Subject: "tool:echo", Actor: "key:01", At: at,
		Reason: "because", Attrs: map[string]string{"version": "1.0.0"}}
}

// Tree returns the store's current tree: its size and root hash.
func Tree(t testing.TB, s tlog.Store) tlog.Tree {
	t.Helper()
	ctx := context.Background()
	n, err := s.TreeSize(ctx)
	if err != nil {
		t.Fatalf("TreeSize: %v", err)
	}
	h, err := tlog.TreeHash(n, tlog.Reader(ctx, s))
	if err != nil {
		t.Fatalf("TreeHash(%d): %v", n, err)
	}
	return tlog.Tree{N: n, Hash: h}
}

// Audit reads every entry of tree from the store, a page at a time, and audits them, with the store's own
// inclusion proofs for when its tree is damaged.
func Audit(t testing.TB, s tlog.Store, tree tlog.Tree) *tlog.Report {
	t.Helper()
	ctx := context.Background()
	a := tlog.NewAuditor(tree)
	for a.Next() < tree.N {
		page, err := s.Entries(ctx, a.Next(), 50)
		if err != nil {
			t.Fatalf("Entries(%d): %v", a.Next(), err)
		}
		if len(page) == 0 {
			break
		}
		if err := a.Add(page...); err != nil {
			t.Fatalf("Add: %v", err)
		}
	}
	return a.Finish(func(i int64) ([]tlog.Hash, error) { return tlog.ProveInclusion(tree.N, i, tlog.Reader(ctx, s)) })
}

// checkAll checks that every entry of the store's current tree is intact and provable, and returns the tree.
func checkAll(t testing.TB, s tlog.Store) tlog.Tree {
	t.Helper()
	ctx := context.Background()
	tree := Tree(t, s)
	if r := Audit(t, s, tree); !r.OK() || r.Method != "root" {
		t.Fatalf("audit of an untouched store: method %s, problems %v", r.Method, r.Problems)
	}
	for i := int64(0); i < tree.N; i++ {
		es, err := s.Entries(ctx, i, 1)
		if err != nil || len(es) != 1 {
			t.Fatalf("Entries(%d, 1): got %d, %v", i, len(es), err)
		}
		p, err := tlog.ProveInclusion(tree.N, i, tlog.Reader(ctx, s))
		if err != nil {
			t.Fatalf("ProveInclusion(%d, %d): %v", tree.N, i, err)
		}
		if err := tlog.VerifyInclusion(tree, i, es[0].Data, p); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if got, err := s.LeafIndex(ctx, es[0].ID); err != nil || got != i {
			t.Fatalf("LeafIndex(%s): got %d, %v, want %d", es[0].ID, got, err, i)
		}
	}
	return tree
}

func testEmpty(t *testing.T, s Store) {
	ctx := context.Background()
	if tree := Tree(t, s); tree.N != 0 {
		t.Errorf("empty store: got size %d", tree.N)
	}
	if es, err := s.Entries(ctx, 0, 10); err != nil || len(es) != 0 {
		t.Errorf("Entries: got %v, %v, want none", es, err)
	}
	if _, err := s.LeafIndex(ctx, receipts.NewID(base)); !errors.Is(err, tlog.ErrNotFound) {
		t.Errorf("LeafIndex of an unknown receipt: got %v, want ErrNotFound", err)
	}
	if _, err := s.ReadHashes(ctx, []int64{0}); err == nil {
		t.Error("ReadHashes past the tree: got nil error")
	}
}

// testProofs appends receipts one at a time and checks, at every size, that the tree extends the previous one
// and that the newest receipt is provable in it.
func testProofs(t *testing.T, s Store) {
	ctx := context.Background()
	var trees []tlog.Tree
	for i := range 40 {
		r := receiptstest.Receipt("echo", receipts.StatusOK, base.Add(time.Duration(i)*time.Millisecond))
		if err := s.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
		tree := Tree(t, s)
		if tree.N != int64(i+1) {
			t.Fatalf("after %d appends: size %d", i+1, tree.N)
		}
		idx, err := s.LeafIndex(ctx, r.ID)
		if err != nil || idx != int64(i) {
			t.Fatalf("LeafIndex: got %d, %v, want %d", idx, err, i)
		}
		b, _ := r.Canonical()
		p, err := tlog.ProveInclusion(tree.N, idx, tlog.Reader(ctx, s))
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.VerifyInclusion(tree, idx, b, p); err != nil {
			t.Fatalf("receipt %d: its canonical bytes are not the leaf: %v", i, err)
		}
		trees = append(trees, tree)
	}
	for _, pair := range [][2]int{{0, 39}, {3, 4}, {7, 8}, {15, 16}, {10, 30}, {31, 32}, {39, 39}} {
		older, newer := trees[pair[0]], trees[pair[1]]
		p, err := tlog.ProveConsistency(newer.N, older.N, tlog.Reader(ctx, s))
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.VerifyConsistency(older, newer, p); err != nil {
			t.Errorf("size %d → %d: %v", older.N, newer.N, err)
		}
	}
	checkAll(t, s)
}

func testEvents(t *testing.T, s Store) {
	ctx := context.Background()
	r := receiptstest.Receipt("echo", receipts.StatusOK, base)
	if err := s.Append(ctx, r); err != nil {
		t.Fatal(err)
	}
	ev := Event(receipts.EventKeyCreated, base)
	idx, err := s.AppendEvent(ctx, ev)
	if err != nil || idx != 1 {
		t.Fatalf("AppendEvent: got %d, %v, want index 1", idx, err)
	}
	if _, err := s.AppendEvent(ctx, ev); err == nil {
		t.Error("the same event twice: got nil error")
	}
	if _, err := s.AppendEvent(ctx, &receipts.Event{ID: "evt_x", Kind: "pin"}); err == nil {
		t.Error("invalid event: got nil error")
	}
	es, err := s.Entries(ctx, 0, 10)
	if err != nil || len(es) != 2 {
		t.Fatalf("Entries: got %d, %v", len(es), err)
	}
	want, _ := ev.Canonical()
	if es[1].ID != ev.ID || string(es[1].Data) != string(want) {
		t.Errorf("event entry: got %s %s, want %s %s", es[1].ID, es[1].Data, ev.ID, want)
	}
	if got, err := receipts.DecodeEvent(es[1].Data); err != nil || got.Kind != receipts.EventKeyCreated {
		t.Errorf("event entry decodes to %+v, %v", got, err)
	}
	if r := Audit(t, s, Tree(t, s)); !r.OK() || r.Receipts != 1 || r.Events != 1 {
		t.Errorf("audit: got %+v", r)
	}
}

// testHammer appends receipts and events from many goroutines while readers take trees and check that each
// extends the one before; then every entry must be provable and the size must be the number of appends.
func testHammer(t *testing.T, s Store) {
	ctx := context.Background()
	const writers, perWriter = 32, 40
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var readerErr error
	var rmu sync.Mutex
	var rwg sync.WaitGroup
	for range 2 {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			var prev tlog.Tree
			for {
				select {
				case <-stop:
					return
				default:
				}
				tree, err := treeOf(ctx, s)
				if err == nil {
					var p []tlog.Hash
					if p, err = tlog.ProveConsistency(tree.N, prev.N, tlog.Reader(ctx, s)); err == nil {
						err = tlog.VerifyConsistency(prev, tree, p)
					}
				}
				if err != nil {
					rmu.Lock()
					readerErr = fmt.Errorf("reader at size %d: %w", tree.N, err)
					rmu.Unlock()
					return
				}
				prev = tree
			}
		}()
	}
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range perWriter {
				at := base.Add(time.Duration(w*perWriter+i) * time.Microsecond)
				var err error
				if rng.IntN(4) == 0 {
					_, err = s.AppendEvent(ctx, Event(receipts.EventPin, at))
				} else {
					err = s.Append(ctx, receiptstest.Receipt("echo", receipts.StatusOK, at))
				}
				if err != nil {
					t.Errorf("append: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	rwg.Wait()
	if readerErr != nil {
		t.Fatal(readerErr)
	}
	tree := checkAll(t, s)
	if tree.N != writers*perWriter {
		t.Errorf("tree size: got %d, want %d", tree.N, writers*perWriter)
	}
}

func treeOf(ctx context.Context, s tlog.Store) (tlog.Tree, error) {
	n, err := s.TreeSize(ctx)
	if err != nil {
		return tlog.Tree{}, err
	}
	h, err := tlog.TreeHash(n, tlog.Reader(ctx, s))
	return tlog.Tree{N: n, Hash: h}, err
}
