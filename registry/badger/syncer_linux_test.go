//go:build linux && !race

package badger

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// threadNice reads a thread's nice value from /proc/self/task/<tid>/stat (field 19).
func threadNice(t *testing.T, tid int) (int, bool) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/stat", tid))
	if os.IsNotExist(err) {
		return 0, false
	}
	if err != nil {
		t.Fatal(err)
	}
	// The command, field 2, is in parentheses and may hold spaces: count fields after its closing one.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	n, err := strconv.Atoi(f[19-3])
	if err != nil {
		t.Fatalf("stat of thread %d: %v", tid, err)
	}
	return n, true
}

// mayRaiseTo reports whether this process may give a thread nice value n: CAP_SYS_NICE, or an RLIMIT_NICE that
// allows it (the limit is 20 - n).
func mayRaiseTo(t *testing.T, n int) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			if caps&(1<<23) != 0 { // CAP_SYS_NICE
				return true
			}
		}
	}
	var lim syscall.Rlimit
	const rlimitNice = 13
	if err := syscall.Getrlimit(rlimitNice, &lim); err != nil {
		t.Fatal(err)
	}
	return lim.Cur >= uint64(20-n)
}

// TestSyncThreadPriority checks that the sync thread runs at syncNice whenever the process may raise it, that
// LogStats says whether it does, that no other thread is raised with it, and that the thread, and its priority,
// are gone once the store is closed.
func TestSyncThreadPriority(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	y := s.log.seg.sync
	want := mayRaiseTo(t, syncNice)
	if y.raised != want {
		t.Errorf("sync thread raised: %v, want %v (whether this process may set nice %d)", y.raised, want, syncNice)
	}
	if got := s.LogStats().SyncPriority; got != y.raised {
		t.Errorf("LogStats().SyncPriority = %v, the thread's: %v", got, y.raised)
	}
	nice, ok := threadNice(t, y.tid)
	if !ok {
		t.Fatalf("sync thread %d not found", y.tid)
	}
	own, _ := threadNice(t, syscall.Gettid())
	if y.raised && nice != syncNice {
		t.Errorf("sync thread's nice value: %d, want %d", nice, syncNice)
	}
	if !y.raised && nice != own {
		t.Errorf("sync thread's nice value: %d, want the process's own, %d", nice, own)
	}
	if own == syncNice {
		t.Errorf("this test's thread has nice %d too: the priority leaked beyond the sync thread", own)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The goroutine signals its exit just before it returns and the runtime ends its thread: allow for that. The
	// one thread the runtime never ends is the process's main thread, if the goroutine ran there: it parks it
	// for good instead, so it runs no goroutine either.
	if y.tid == os.Getpid() {
		return
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, ok := threadNice(t, y.tid); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sync thread %d still exists 10 s after Close: a raised thread could go on to run other goroutines", y.tid)
		}
	}
}
