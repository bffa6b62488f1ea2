package badger

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/toolgate/toolgate/receipts"
	"github.com/toolgate/toolgate/receipts/receiptstest"
	"github.com/toolgate/toolgate/receipts/tlog"
)

var _ tlog.StatsReporter = (*Store)(nil)

// TestLogStats checks what an operator reads of the log: its size, its commits and their times, the leaves the
// index has yet to take, and — once a write fails — the error that stops it, with nothing durable lost.
func TestLogStats(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.log.paused.Store(true) // the applier waits, so that the leaves stay unindexed until apply
	at := time.Now()
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Append(ctx, receiptstest.Receipt("echo", receipts.StatusOK, at.Add(time.Duration(i)))); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if _, err := s.AppendEvent(ctx, &receipts.Event{ID: receipts.NewEventID(at), Kind: receipts.EventPin, Subject: "tool:echo",
		Actor: "key:k1", At: at}); err != nil {
		t.Fatal(err)
	}
	st := s.LogStats()
	if st.Size != 17 || st.Leaves != 17 || st.Commits < 2 || st.Commits > 17 || st.Err != nil {
		t.Fatalf("after 17 appends: size %d, %d leaves in %d commits, err %v", st.Size, st.Leaves, st.Commits, st.Err)
	}
	if len(st.CommitCounts) != len(tlog.CommitBounds)+1 {
		t.Fatalf("%d commit buckets for %d bounds", len(st.CommitCounts), len(tlog.CommitBounds))
	}
	var counted uint64
	for _, n := range st.CommitCounts {
		counted += n
	}
	if counted != uint64(st.Commits) || st.CommitSeconds <= 0 {
		t.Fatalf("commit times: %d counted for %d commits, %v s in all", counted, st.Commits, st.CommitSeconds)
	}
	if st.Unindexed != 17 {
		t.Fatalf("with the applier paused: %d unindexed, want 17", st.Unindexed)
	}
	if err := s.apply(); err != nil {
		t.Fatal(err)
	}
	if st := s.LogStats(); st.Unindexed != 0 {
		t.Fatalf("after apply: %d unindexed, want 0", st.Unindexed)
	}

	// A write that fails stops the log: the error shows, and later appends are refused. The segment is swapped
	// for the same file opened read-only, so that the kernel refuses the write.
	w := s.log.seg.w
	ro, err := os.Open(w.Name())
	if err != nil {
		t.Fatal(err)
	}
	s.log.seg.w = ro
	w.Close()
	if err := s.Append(ctx, receiptstest.Receipt("echo", receipts.StatusOK, at.Add(time.Second))); err == nil {
		t.Fatal("Append with the segment closed under it: no error")
	}
	failed := s.LogStats()
	if failed.Err == nil || failed.Size != 17 || failed.Commits != st.Commits {
		t.Fatalf("after a failed write: size %d, %d commits, err %v; want 17, %d, an error", failed.Size,
			failed.Commits, failed.Err, st.Commits)
	}
	if err := s.Append(ctx, receiptstest.Receipt("echo", receipts.StatusOK, at.Add(2*time.Second))); err == nil {
		t.Fatal("Append after the log stopped: no error")
	}
	s.Close() // its seal fails on the read-only file; the next Open reads the segment back

	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st := s.LogStats(); st.Size != 17 || st.Err != nil || st.Commits != 0 {
		t.Fatalf("reopened: size %d, %d commits, err %v; want 17 leaves, none committed yet, no error", st.Size,
			st.Commits, st.Err)
	}
	if err := s.Append(ctx, receiptstest.Receipt("echo", receipts.StatusOK, at.Add(3*time.Second))); err != nil {
		t.Fatalf("Append after reopening: %v", err)
	}
}
