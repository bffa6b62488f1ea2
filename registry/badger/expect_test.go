package badger

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/toolgate/toolgate/receipts"
	"github.com/toolgate/toolgate/receipts/receiptstest"
)

var _ receipts.Expecter = (*Store)(nil)

// TestExpect checks the promises the server makes before a call: an Append made with the promise's context keeps
// it, withdrawing it is idempotent, and a promise of another store is not this store's to keep.
func TestExpect(t *testing.T) {
	ctx := context.Background()
	s, other := open(t), open(t)
	at := time.Now()
	pctx, withdraw := s.Expect(ctx)
	if n := s.log.expected.Load(); n != 1 {
		t.Fatalf("after Expect: %d promises outstanding, want 1", n)
	}
	if err := s.Append(pctx, receiptstest.Receipt("echo", receipts.StatusOK, at)); err != nil {
		t.Fatal(err)
	}
	withdraw()
	if n := s.log.expected.Load(); n != 0 {
		t.Fatalf("after the Append and a withdraw: %d promises outstanding, want 0", n)
	}
	_, withdraw = s.Expect(ctx)
	withdraw()
	withdraw()
	if n := s.log.expected.Load(); n != 0 {
		t.Fatalf("after withdrawing twice: %d promises outstanding, want 0", n)
	}
	octx, _ := other.Expect(ctx)
	if err := s.Append(octx, receiptstest.Receipt("echo", receipts.StatusOK, at.Add(time.Microsecond))); err != nil {
		t.Fatal(err)
	}
	if n, m := s.log.expected.Load(), other.log.expected.Load(); n != 0 || m != 1 {
		t.Fatalf("an Append here with the other store's promise: %d and %d outstanding, want 0 and 1", n, m)
	}
}

// TestExpectContext checks that the context a promise returns is still the caller's: its values, its deadline
// and its cancellation pass through, wrapped in other contexts too, as the server wraps it.
func TestExpectContext(t *testing.T) {
	type key struct{}
	s := open(t)
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	pctx, withdraw := s.Expect(parent)
	defer withdraw()
	if v := pctx.Value(key{}); v != "v" {
		t.Errorf("Value through the promise: %v, want v", v)
	}
	inner, stop := context.WithTimeout(pctx, time.Hour)
	defer stop()
	if e, ok := inner.Value(expectKey{}).(*expectation); !ok || e.s != s {
		t.Error("the promise is not found through a context derived from it")
	}
	cancel()
	select {
	case <-inner.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("cancelling the caller's context did not reach a context derived from the promise")
	}
	if pctx.Err() != context.Canceled {
		t.Errorf("Err after cancel: %v, want context.Canceled", pctx.Err())
	}
}

// TestExpectNeverKept checks that a promise never kept — a call that hangs — holds a commit back by at most the
// linger bound: Appends go on being committed.
func TestExpectNeverKept(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	s.Expect(ctx) // never kept
	start := time.Now()
	for i := range 20 {
		if err := s.Append(ctx, receiptstest.Receipt("echo", receipts.StatusOK, start.Add(time.Duration(i)))); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("20 Appends took %v with a promise outstanding", d)
	}
	if st := s.LogStats(); st.Leaves != 20 || st.Commits < 1 {
		t.Fatalf("LogStats = %d commits, %d leaves; want 20 leaves", st.Commits, st.Leaves)
	}
}

// TestDataSyncer checks the log's sync path on its own, handed to the sync thread and done by the committer
// itself: a sync of a file succeeds and the bytes are there, a sync the kernel refuses returns the
// kernel's error, and the syncer goes on serving after it; closing twice is harmless.
func TestDataSyncer(t *testing.T) {
	for _, handed := range []bool{true, false} {
		t.Run(map[bool]string{true: "thread", false: "committer"}[handed], func(t *testing.T) {
			y, err := newDataSyncer()
			if err != nil {
				t.Fatal(err)
			}
			defer y.close()
			forceHandover(y, handed)
			path := filepath.Join(t.TempDir(), "seg")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt([]byte("record"), 3); err != nil {
				t.Fatal(err)
			}
			if err := y.sync(f); err != nil {
				t.Fatalf("sync: %v", err)
			}
			if b, err := os.ReadFile(path); err != nil || string(b) != "\x00\x00\x00record" {
				t.Fatalf("the file holds %q, %v; want 3 zeros and the record", b, err)
			}
			p, err := os.Open(os.DevNull) // fdatasync of a character device: EINVAL
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if err := y.sync(p); err == nil {
				t.Fatal("sync of /dev/null: no error")
			}
			for range 3 {
				if err := y.sync(f); err != nil {
					t.Fatalf("sync after an error: %v", err)
				}
			}
			y.close()
			y.close()
		})
	}
}
