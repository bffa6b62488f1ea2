package badger

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/toolgate/toolgate/receipts"
	"github.com/toolgate/toolgate/receipts/receiptstest"
	"github.com/toolgate/toolgate/receipts/tlog"
	"github.com/toolgate/toolgate/receipts/tlog/tlogtest"
)

// crash stops s the way a killed process stops: every acknowledged entry is in the segments, whatever the
// applier had not indexed stays unindexed, and the segment being written keeps whatever follows its last record.
// (Badger's own files are closed normally: what a crash does to those is Badger's business; the segments answer
// for the receipts.)
func crash(t *testing.T, s *Store) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	close(s.appends)
	s.committer.Wait()
	close(s.log.stop)
	<-s.log.stopped
	if s.log.seg.w != nil {
		s.log.seg.w.Close() // no seal: the allocation after the last record stays
		s.log.seg.w = nil
	}
	s.log.seg.close()
	s.log.db.Close()
	s.db.Close()
}

func segmentFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, receiptsDir, segmentsDir, "*"+segSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// appendMany appends n receipts from n goroutines and returns their ids.
func appendMany(t *testing.T, s *Store, n int, at time.Time) []string {
	t.Helper()
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := receiptstest.Receipt("echo", receipts.StatusOK, at.Add(time.Duration(i)*time.Microsecond))
			ids[i] = r.ID
			if err := s.Append(context.Background(), r); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	return ids
}

func checkRecovered(t *testing.T, s *Store, ids []string, want tlog.Tree) {
	t.Helper()
	ctx := context.Background()
	got := tlogtest.Tree(t, s)
	if got != want {
		t.Fatalf("tree after recovery: got %v, want %v", got, want)
	}
	if r := tlogtest.Audit(t, s, got); !r.OK() {
		t.Fatalf("audit after recovery: %v", r.Problems)
	}
	for _, id := range ids {
		if _, err := s.Get(ctx, id); err != nil {
			t.Fatalf("Get(%s) after recovery: %v", id, err)
		}
	}
	page, _, err := s.List(ctx, receipts.Filter{Limit: 1000})
	if err != nil || len(page) < len(ids) {
		t.Fatalf("List after recovery: %d receipts, %v; want at least %d", len(page), err, len(ids))
	}
}

// TestSegments_Recovery crashes a store with entries acknowledged but not yet indexed, and checks that they all
// come back at the next Open — then that a record torn by the crash is ignored, and that the log goes on.
func TestSegments_Recovery(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ids := appendMany(t, s, 40, logBase)
	if err := s.apply(); err != nil { // the first 40 are indexed
		t.Fatal(err)
	}
	ids = append(ids, appendMany(t, s, 60, logBase.Add(time.Second))...)
	if _, err := s.AppendEvent(context.Background(), tlogtest.Event(receipts.EventPin, logBase)); err != nil {
		t.Fatal(err)
	}
	want := tlogtest.Tree(t, s)
	if base := s.log.appliedBase(); base != 40 {
		t.Fatalf("indexed before the crash: %d entries, want 40", base)
	}
	end := s.log.seg.wOff
	crash(t, s)

	// A record torn by the crash after the last acknowledged one: a valid header, a payload cut short.
	files := segmentFiles(t, dir)
	torn, _ := encodeRecord(nil, want.N, []*appendReq{{id: receipts.NewID(logBase), tool: "echo", val: []byte(`{"torn":1}`)}})
	f, err := os.OpenFile(files[len(files)-1], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt(torn[:len(torn)-3], end)
	f.Close()

	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkRecovered(t, s, ids, want)
	if fi, _ := os.Stat(files[len(files)-1]); fi.Size() != end {
		t.Errorf("the torn record and the unused allocation were not cut: size %d, want %d", fi.Size(), end)
	}
	more := appendMany(t, s, 10, logBase.Add(2*time.Second))
	after := tlogtest.Tree(t, s)
	p, err := tlog.ProveConsistency(after.N, want.N, tlog.Reader(context.Background(), s))
	if err != nil || tlog.VerifyConsistency(want, after, p) != nil || after.N != want.N+10 {
		t.Fatalf("after recovery the log does not extend the tree before the crash: %v → %v", want, after)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if base := s.log.appliedBase(); base != after.N {
		t.Errorf("after a clean close %d of %d entries are indexed", base, after.N)
	}
	checkRecovered(t, s, append(ids, more...), after)
}

// TestSegments_Rotation writes through many small segments, with a crash between, and checks that reads and
// recovery go across segments, and that a damaged record before the last segment stops Open instead of
// silently dropping what follows it.
func TestSegments_Rotation(t *testing.T) {
	defer func(n int64) { segmentBytes = n }(segmentBytes)
	segmentBytes = 16 << 10
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 6 {
		ids = append(ids, appendMany(t, s, 30, logBase.Add(time.Duration(i)*time.Second))...)
	}
	if n := len(segmentFiles(t, dir)); n < 4 {
		t.Fatalf("%d segments for 180 receipts in 16 KiB segments, want several", n)
	}
	if err := s.apply(); err != nil {
		t.Fatal(err)
	}
	base := s.log.appliedBase()
	for i := range 6 {
		ids = append(ids, appendMany(t, s, 30, logBase.Add(time.Duration(10+i)*time.Second))...)
	}
	want := tlogtest.Tree(t, s)
	crash(t, s)
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkRecovered(t, s, ids, want)
	// Entries left unindexed across several segments at the next crash.
	s.log.paused.Store(true)
	if err := s.apply(); err != nil {
		t.Fatal(err)
	}
	base = s.log.appliedBase()
	for i := range 6 {
		appendMany(t, s, 30, logBase.Add(time.Duration(20+i)*time.Second))
	}
	crash(t, s)

	// Damage the record holding the first unindexed leaf, in a segment before the last.
	files := segmentFiles(t, dir)
	var target string
	for _, f := range files {
		var first int64
		fmt := filepath.Base(f)
		for _, c := range fmt[:16] {
			first = first*16 + int64(hexVal(c))
		}
		if first <= base {
			target = f
		}
	}
	if target == files[len(files)-1] {
		t.Fatal("the first unindexed leaf is in the last segment")
	}
	b, _ := os.ReadFile(target)
	off := 0
	for {
		first, es, n, ok := parseRecord(b[off:])
		if !ok {
			t.Fatal("no record holds the first unindexed leaf")
		}
		if first+int64(len(es)) > base {
			break
		}
		off += n
	}
	f, _ := os.OpenFile(target, os.O_RDWR, 0)
	var crc [4]byte
	f.ReadAt(crc[:], int64(off)+4)
	binary.BigEndian.PutUint32(crc[:], binary.BigEndian.Uint32(crc[:])^1)
	f.WriteAt(crc[:], int64(off)+4)
	f.Close()
	if s, err := Open(dir, Options{}); !errors.Is(err, ErrCorrupt) {
		if err == nil {
			s.Close()
		}
		t.Fatalf("Open with a damaged record before the last segment: got %v, want ErrCorrupt", err)
	}
}

func hexVal(c rune) int {
	if c >= 'a' {
		return int(c-'a') + 10
	}
	return int(c - '0')
}

func TestSegments_Record(t *testing.T) {
	rs := []*appendReq{{id: "rcpt_1", tool: "echo", val: []byte(`{"a":1}`)}, {id: "evt_2", val: []byte{}}}
	b, offs := encodeRecord(nil, 7, rs)
	first, es, n, ok := parseRecord(append(b, 0, 0, 0))
	if !ok || first != 7 || n != len(b) || len(es) != 2 || es[0].id != "rcpt_1" || es[0].tool != "echo" ||
		string(es[0].val) != `{"a":1}` || es[1].id != "evt_2" || es[1].tool != "" || len(es[1].val) != 0 {
		t.Fatalf("round trip: got %d %v %d %v", first, es, n, ok)
	}
	if string(b[offs[0]:offs[0]+7]) != `{"a":1}` {
		t.Errorf("value offset: got %q", b[offs[0]:offs[0]+7])
	}
	for i := range b {
		c := append([]byte(nil), b...)
		c[i] ^= 0x40
		if _, _, _, ok := parseRecord(c); ok {
			t.Errorf("byte %d flipped: record still parses", i)
		}
	}
	for cut := range len(b) {
		if _, _, _, ok := parseRecord(b[:cut]); ok {
			t.Errorf("record cut at %d parses", cut)
		}
	}
}

func FuzzSegmentRecord(f *testing.F) {
	b, _ := encodeRecord(nil, 3, []*appendReq{{id: "rcpt_1", tool: "echo", val: []byte(`{}`)}})
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		first, es, n, ok := parseRecord(b)
		if !ok {
			return
		}
		if n > len(b) {
			t.Fatalf("record of %d bytes in %d", n, len(b))
		}
		rs := make([]*appendReq, len(es))
		for i, e := range es {
			rs[i] = &appendReq{id: e.id, tool: e.tool, val: e.val}
		}
		if again, _ := encodeRecord(nil, first, rs); string(again) != string(b[:n]) {
			t.Fatalf("re-encoding differs")
		}
	})
}

// TestSegments_Handover runs the segment and log tests with every sync handed to the sync thread, as under load,
// and with none.
func TestSegments_Handover(t *testing.T) {
	defer func(h *bool) { handAllSyncs = h }(handAllSyncs)
	for _, handed := range []bool{true, false} {
		handAllSyncs = &handed
		t.Run(fmt.Sprint(handed), func(t *testing.T) {
			t.Run("Recovery", TestSegments_Recovery)
			t.Run("Rotation", TestSegments_Rotation)
			t.Run("Log", TestStore_Log)
			t.Run("Reopen", TestLog_Reopen)
		})
	}
}
