package badger

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	badgerdb "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"github.com/toolgate/toolgate/receipts"
	"github.com/toolgate/toolgate/receipts/tlog"
)

var _ tlog.Store = (*Store)(nil)

// How receipts and events get into the log, and stay there:
//
//  1. The group committer (receipts.go) takes a batch of Appends, numbers them as the next leaves, computes the
//     tree hashes they add from the in-memory frontier, writes them as one record at the end of the log's
//     segments (segments.go) and syncs it: one fdatasync per batch. Only then does it publish them — to the
//     pending overlay that every read consults — advance the tree size, and answer the Appends. An acknowledged
//     receipt is durable and visible, and a checkpoint can only ever sign synced leaves.
//  2. The applier indexes pending entries in the receipts database in bulk, every applyInterval or when applyKick
//     entries wait, one transaction at a time: the receipts as one run of ids → leaf index and position in the
//     segments, sorted by id, and one such run per tool (applyChunk; a receipt older than one already indexed, and
//     every event, gets a key of its own instead); one run of leaf ids and positions, one run of tree hashes, and
//     the size. It then drops them from the overlay. The entries' bytes stay in the segments: the database holds no
//     receipt twice, and a few keys per transaction rather than two per receipt.
//  3. At Open, the database indexes a prefix of the log; the segments' entries past it are numbered and hashed
//     again, and pending once more.
//
// The receipts database is a second Badger database in <dir>/receipts, the segments are in <dir>/receipts/log:
// apart from the registry's database, so that the receipts' volume neither slows the registry's reads (its LSM
// tree stays small) nor shares its syncs.
const (
	receiptsDir   = "receipts"
	segmentsDir   = "log"
	applyInterval = 250 * time.Millisecond
	applyKick     = 8192
	// maxPending is how many entries may wait for the applier before the committer waits for it.
	maxPending = 1 << 16
)

// Keys of the receipts database (see also the package comment). r/<receipt id> and l/event/<event id> hold the
// entry's leaf index (u64 BE) and its position in the segments (entryPos); rt/<tool>/<receipt id> is empty; the
// runs, rc/ and rtc/, are described at runPrefix.
var (
	logSizeKey     = []byte("l/size")   // tree size, u64 BE
	logReplayKey   = []byte("l/replay") // where replay starts in the segments: segment u64 BE, offset u64 BE
	logLeafPrefix  = "l/leaf/"          // l/leaf/<first index u64 BE> → per leaf: id length u8, id, entryPos
	logHashPrefix  = "l/hash/"          // l/hash/<first stored index u64 BE> → a run of 32-byte stored hashes
	logEventPrefix = "l/event/"         // l/event/<event id> → index and position, as r/<receipt id>
)

// entryKey is where an entry is indexed: r/<id> for a receipt, l/event/<id> for an event; nil for no entry.
func entryKey(id string) []byte {
	switch {
	case receipts.ValidID(id):
		return receiptKey(id)
	case receipts.ValidEventID(id):
		return logEventKey(id)
	}
	return nil
}

// indexValue is the value of an entry's key: its leaf index and position.
func indexValue(index int64, pos entryPos) []byte {
	return pos.append(binary.BigEndian.AppendUint64(make([]byte, 0, 8+entryPosSize), uint64(index)))
}

func decodeIndexValue(v []byte) (int64, entryPos, error) {
	if len(v) != 8+entryPosSize {
		return 0, entryPos{}, fmt.Errorf("index value of %d bytes: %w", len(v), ErrCorrupt)
	}
	return int64(binary.BigEndian.Uint64(v)), decodeEntryPos(v[8:]), nil
}

// logState is the receipt log: the receipts database, the WAL, the tree's size and frontier, and the entries
// that are durable in the WAL but not yet in the database.
type logState struct {
	db  *badgerdb.DB
	seg *segments

	// size is the number of durable leaves: written by the committer after each sync, read by all.
	size atomic.Int64
	// frontier holds, per tree level, the hash of the last complete node at that level: node (size>>level)-1.
	// Those are exactly the hashes that adding the next leaf reads (its left siblings), so the committer hashes
	// without reading anything. Committer only.
	frontier [64]tlog.Hash
	// batchIDs is the committer's set of the ids in the batch it checks, accepted the requests of the batch it
	// commits, and hashBuf the hashes they add: its memory, kept from batch to batch.
	batchIDs map[string]struct{}
	accepted []*appendReq
	hashBuf  []tlog.Hash

	mu      sync.RWMutex
	pending pendingLog // guarded by mu
	// indexedMax is the greatest receipt id and event id the database indexes (guarded by mu; set at Open and
	// by apply). An id above it is not in the database, so the committer's duplicate check reads the database
	// only for an id at or below it: ids start with their time, so that is a call that started before the
	// newest receipt applied, i.e. rarely.
	indexedMax struct{ receipt, event string }

	applyMu sync.Mutex // one apply at a time: the applier's, or Close's last

	kick    chan struct{} // wakes the applier
	applied chan struct{} // closed and replaced after each apply, for a committer waiting on backpressure
	stop    chan struct{}
	stopped chan struct{}

	errMu sync.Mutex
	err   error // sticky: the log cannot take more entries

	paused atomic.Bool // for tests: the applier skips its turns

	commits, committed atomic.Int64 // synced writes, and the entries they held (LogStats)
	// commitHist counts synced writes by their time to write and sync, in tlog.CommitBounds' buckets; commitNS
	// is their sum.
	commitHist []atomic.Uint64
	commitNS   atomic.Int64

	expected atomic.Int64  // promised Appends outstanding (Store.Expect)
	arrived  chan struct{} // wakes a lingering committer when the last promise is kept
}

// pendingLog is the entries from base on, with the stored hashes from hashBase on: durable, not yet applied.
type pendingLog struct {
	base     int64
	entries  []*appendReq
	byID     map[string]int64
	hashBase int64
	hashes   []tlog.Hash
}

func (l *logState) fail(err error) {
	l.errMu.Lock()
	defer l.errMu.Unlock()
	if l.err == nil {
		l.err = fmt.Errorf("receipt log stopped: %w", err)
	}
}

func (l *logState) failed() error {
	l.errMu.Lock()
	defer l.errMu.Unlock()
	return l.err
}

func u64Key(prefix string, n int64) []byte {
	return binary.BigEndian.AppendUint64([]byte(prefix), uint64(n))
}

func logEventKey(id string) []byte { return []byte(logEventPrefix + id) }

// key is where the entry's record lives: r/<id> for a receipt, l/event/<id> for an event.
func (r *appendReq) key() []byte {
	if r.tool == "" {
		return logEventKey(r.id)
	}
	return receiptKey(r.id)
}

// openLog opens the receipts database beside the registry's (with the same options but its directory), loads the
// tree, replays the segments past what the database indexes, and starts the applier.
func (s *Store) openLog(dir string, bo badgerdb.Options) error {
	rdir := filepath.Join(dir, receiptsDir)
	// The index has one writer, the applier, so no conflicts to detect; its keys are random hex ids, which
	// compression would not shrink by much for its CPU. Its values are runs of tens of kilobytes, written once and
	// never changed: they go to the value log, which is append-only, so that the LSM tree holds only keys and
	// pointers and its flushes and compactions stay small instead of rewriting every run, level after level. Its
	// commits stay synced (the value log before the pointers to it), so that a machine crash cannot leave a
	// pointer to a value that never reached the disk; with runs, that is a few syncs a second.
	db, err := badgerdb.Open(bo.WithDir(rdir).WithValueDir(rdir).
		WithDetectConflicts(false).
		WithCompression(options.None).
		WithValueThreshold(logValueThreshold))
	if err != nil {
		return fmt.Errorf("open receipts dir[%s]: %w", rdir, err)
	}
	l := &s.log
	l.db = db
	l.kick, l.applied = make(chan struct{}, 1), make(chan struct{})
	l.arrived = make(chan struct{}, 1)
	l.commitHist = make([]atomic.Uint64, len(tlog.CommitBounds)+1)
	l.stop, l.stopped = make(chan struct{}), make(chan struct{})
	if err := s.loadLog(); err != nil {
		db.Close()
		return err
	}
	if l.seg, err = openSegments(filepath.Join(rdir, segmentsDir)); err != nil {
		db.Close()
		return fmt.Errorf("open log segments: %w", err)
	}
	at, err := s.replayPoint()
	if err != nil {
		l.seg.close()
		db.Close()
		return err
	}
	_, err = l.seg.replay(l.size.Load(), at, func(index int64, e segEntry, pos entryPos, rec recordSpan) error {
		if index != l.size.Load() {
			return fmt.Errorf("log segments hold leaf %d, the log needs %d next: %w", index, l.size.Load(), ErrCorrupt)
		}
		r := newAppendReq(e.id, e.tool, e.val)
		r.pos, r.rec, r.done = pos, rec, nil
		hashes, next := l.number([]*appendReq{r})
		l.publish([]*appendReq{r}, hashes, next)
		return nil
	})
	if err != nil {
		l.seg.close()
		db.Close()
		return fmt.Errorf("replay log segments: %w", err)
	}
	go s.applyLoop()
	return nil
}

// replayPoint reads where replay starts: the record holding the last indexed leaf, or the one after it.
func (s *Store) replayPoint() (segPoint, error) {
	var at segPoint
	err := s.log.db.View(func(txn *badgerdb.Txn) error {
		val, found, err := get(txn, logReplayKey)
		switch {
		case err != nil || !found:
			return err
		case len(val) != 16:
			return fmt.Errorf("log replay point: %w", ErrCorrupt)
		}
		at = segPoint{seg: int64(binary.BigEndian.Uint64(val)), off: int64(binary.BigEndian.Uint64(val[8:]))}
		return nil
	})
	return at, err
}

// closeLog stops the applier, indexes what is pending, and closes the segments and the database.
func (s *Store) closeLog() error {
	l := &s.log
	close(l.stop)
	<-l.stopped
	return errors.Join(s.apply(), l.seg.close(), l.db.Close())
}

// loadLog reads the database's tree size and frontier.
func (s *Store) loadLog() error {
	l := &s.log
	l.pending = pendingLog{byID: map[string]int64{}}
	l.batchIDs = make(map[string]struct{}, maxBatch)
	return l.db.View(func(txn *badgerdb.Txn) error {
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
			if l.frontier[level], err = h.at(tlog.StoredHashIndex(level, size>>level-1)); err != nil {
				return fmt.Errorf("log frontier level[%d]: %w", level, err)
			}
		}
		l.size.Store(size)
		l.pending = pendingLog{base: size, hashBase: tlog.StoredHashIndex(0, size), byID: map[string]int64{}}
		single, err := lastID(txn, receiptKey(""))
		if err != nil {
			return err
		}
		newestRun, err := lastID(txn, []byte(runPrefix))
		if err != nil {
			return err
		}
		l.indexedMax.receipt = max(single, newestRun)
		l.indexedMax.event, err = lastID(txn, logEventKey(""))
		return err
	})
}

// lastID is the greatest id under prefix r/ or l/event/, "" if none.
func lastID(txn *badgerdb.Txn, prefix []byte) (string, error) {
	it := txn.NewIterator(badgerdb.IteratorOptions{Prefix: prefix, Reverse: true})
	defer it.Close()
	it.Seek(append(bytes.Clone(prefix), 0xff))
	if !it.Valid() {
		return "", nil
	}
	id := string(it.Item().Key()[len(prefix):])
	if entryKey(id) == nil {
		return "", fmt.Errorf("key[%q]: %w", it.Item().Key(), ErrCorrupt)
	}
	return id, nil
}

// newestIndexed is where indexedMax keeps the newest id of r's kind; l.mu is held.
func (l *logState) newestIndexed(r *appendReq) *string {
	if r.tool == "" {
		return &l.indexedMax.event
	}
	return &l.indexedMax.receipt
}

// mayBeIndexed reports whether the database may index r's id already; l.mu is held.
func (l *logState) mayBeIndexed(r *appendReq) bool { return r.id <= *l.newestIndexed(r) }

// logNext is the tree a batch makes.
type logNext struct {
	size     int64
	frontier [64]tlog.Hash
}

// number numbers entries as the next leaves and computes the hashes they add (contiguous stored hashes from
// StoredHashIndex(0, size)) and the tree they make; nothing changes until publish. Committer only.
//
// It is tlog.StoredHashesForRecordHash with the frontier as its hash reader: leaf n's stored hashes are its leaf
// hash and then, for each trailing 1 bit of n, the node it completes, whose left child is the frontier's node at
// that level (TestNumberMatchesTlog).
func (l *logState) number(entries []*appendReq) ([]tlog.Hash, logNext) {
	next := logNext{size: l.size.Load(), frontier: l.frontier}
	hashes := l.hashBuf[:0] // publish copies them
	defer func() { l.hashBuf = hashes[:0] }()
	for _, r := range entries {
		h := r.leaf
		hashes = append(hashes, h)
		level := 0
		for n := next.size; n&1 == 1; n >>= 1 {
			left := next.frontier[level]
			next.frontier[level] = h
			h = tlog.NodeHash(left, h)
			hashes = append(hashes, h)
			level++
		}
		next.frontier[level] = h // node size>>level at level, now the last complete one
		r.index = next.size
		next.size++
	}
	return hashes, next
}

// publish makes numbered, durable entries visible: pending, and inside the tree size. Committer only.
func (l *logState) publish(entries []*appendReq, hashes []tlog.Hash, next logNext) {
	l.mu.Lock()
	for _, r := range entries {
		l.pending.byID[r.id] = r.index
	}
	l.pending.entries = append(l.pending.entries, entries...)
	l.pending.hashes = append(l.pending.hashes, hashes...)
	l.mu.Unlock()
	l.frontier = next.frontier
	l.size.Store(next.size)
}

// waitForApplier blocks the committer while too many entries are pending, so that memory stays bounded when the
// database falls behind.
func (l *logState) waitForApplier() error {
	for {
		l.mu.RLock()
		n, applied := len(l.pending.entries), l.applied
		l.mu.RUnlock()
		if n < maxPending {
			return nil
		}
		if err := l.failed(); err != nil {
			return err
		}
		l.wake()
		select {
		case <-applied:
		case <-time.After(applyInterval):
		}
	}
}

func (l *logState) wake() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// applyLoop is the applier: until closeLog, it applies pending entries every applyInterval or when kicked.
func (s *Store) applyLoop() {
	l := &s.log
	defer close(l.stopped)
	t := time.NewTicker(applyInterval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-l.kick:
		case <-t.C:
		}
		if l.paused.Load() {
			continue
		}
		if err := s.apply(); err != nil {
			l.fail(err) // the WAL keeps the entries; Open applies them again
		}
	}
}

// apply writes every entry pending now into the database, in transactions as big as Badger allows, each synced,
// and then forgets them: drops them from the overlay and deletes their WAL segments.
func (s *Store) apply() error {
	l := &s.log
	l.applyMu.Lock()
	defer l.applyMu.Unlock()
	l.mu.RLock()
	base, hashBase := l.pending.base, l.pending.hashBase
	entries, hashes := l.pending.entries, l.pending.hashes
	l.mu.RUnlock()
	limit := l.db.MaxBatchSize() - 1
	for len(entries) > 0 {
		var size int64
		n := 0
		for n < len(entries) {
			sz := entryCost(entries[n], base+int64(n), s.threshold)
			if n > 0 && size+sz > limit {
				break
			}
			size += sz
			n++
		}
		end := base + int64(n)
		from, to := tlog.StoredHashIndex(0, base)-hashBase, tlog.StoredHashIndex(0, end)-hashBase
		if err := s.applyChunk(base, entries[:n], hashes[from:to]); err != nil {
			return fmt.Errorf("apply log leaves from %d: %w", base, err)
		}
		l.mu.Lock()
		for _, r := range entries[:n] {
			delete(l.pending.byID, r.id)
			newest := l.newestIndexed(r)
			*newest = max(*newest, r.id)
		}
		l.pending.entries = l.pending.entries[n:]
		l.pending.hashes = l.pending.hashes[to:]
		l.pending.base, l.pending.hashBase = end, hashBase+to
		close(l.applied)
		l.applied = make(chan struct{})
		l.mu.Unlock()
		base, hashBase, entries, hashes = end, hashBase+to, entries[n:], hashes[to:]
	}
	return nil
}

// applyChunk indexes entries numbered from first, with the stored hashes they added, in one transaction.
// Receipts newer than every receipt indexed so far — nearly all — go into one run (rc/) and one run per tool
// (rtc/); an older one, whose call outlasted calls that started after it, gets keys of its own (r/, rt/), as
// does every event (l/event/). Runs stay disjoint and ascending, which is what lookups and listings rely on.
func (s *Store) applyChunk(first int64, entries []*appendReq, hashes []tlog.Hash) error {
	l := &s.log
	l.mu.RLock()
	floor := l.indexedMax.receipt // only the applier changes it
	l.mu.RUnlock()
	txn := l.db.NewTransaction(true)
	defer txn.Discard()
	leaves := make([]byte, 0, len(entries)*(30+entryPosSize))
	var run []runRec
	for i, r := range entries {
		index := first + int64(i)
		leaves = r.pos.append(append(append(leaves, byte(len(r.id))), r.id...))
		if r.tool != "" && r.id > floor {
			run = append(run, runRec{id: r.id, tool: r.tool, index: index, pos: r.pos})
			continue
		}
		if err := txn.Set(r.key(), indexValue(index, r.pos)); err != nil {
			return err
		}
		if r.tool != "" {
			if err := txn.Set(append(receiptToolPrefix(r.tool), r.id...), nil); err != nil {
				return err
			}
		}
	}
	if len(run) > 0 {
		slices.SortFunc(run, func(a, b runRec) int { return strings.Compare(a.id, b.id) })
		if err := txn.Set(append([]byte(runPrefix), run[len(run)-1].id...), encodeRun(run, "")); err != nil {
			return err
		}
		tools := map[string]string{} // tool → its newest id in the run
		for _, r := range run {
			tools[r.tool] = r.id
		}
		for tool, hi := range tools {
			if err := txn.Set(append(runToolPrefix(tool), hi...), encodeRun(run, tool)); err != nil {
				return err
			}
		}
	}
	hashRun := make([]byte, 0, len(hashes)*tlog.HashSize)
	for _, h := range hashes {
		hashRun = append(hashRun, h[:]...)
	}
	end := first + int64(len(entries))
	// Replay at the next Open starts after the last record fully indexed, or at the one indexed in part.
	last := entries[len(entries)-1]
	at := segPoint{seg: last.pos.seg, off: last.rec.off}
	if last.rec.last {
		at.off = last.rec.end
	}
	replay := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, uint64(at.seg)), uint64(at.off))
	for _, kv := range []struct{ k, v []byte }{
		{u64Key(logLeafPrefix, first), leaves},
		{u64Key(logHashPrefix, tlog.StoredHashIndex(0, first)), hashRun},
		{logSizeKey, binary.BigEndian.AppendUint64(nil, uint64(end))},
		{logReplayKey, replay},
	} {
		if err := txn.Set(kv.k, kv.v); err != nil {
			return err
		}
	}
	return txn.Commit()
}

// Runs: rc/<newest id> and rtc/<tool>/<newest id of the tool> hold, ids ascending, one runRecSize record per
// receipt: its id, leaf index (u64 BE) and position in the segments. Every receipt of a run is newer than every
// receipt indexed before it, so runs never overlap: the run that may hold an id is the first whose key is at or
// after it.
const (
	// logValueThreshold: index values this big or bigger (the runs) go to the receipts database's value log.
	logValueThreshold = 1 << 10
	runPrefix         = "rc/"
	receiptIDSize     = len("rcpt_") + 24
	runRecSize        = receiptIDSize + 8 + entryPosSize
)

func runToolPrefix(tool string) []byte { return []byte("rtc/" + tool + "/") }

// runRec is one receipt of a run.
type runRec struct {
	id, tool string
	index    int64
	pos      entryPos
}

// encodeRun encodes the records of run (ids ascending) of tool, or all if tool is "".
func encodeRun(run []runRec, tool string) []byte {
	b := make([]byte, 0, len(run)*runRecSize)
	for _, r := range run {
		if tool == "" || r.tool == tool {
			b = r.pos.append(binary.BigEndian.AppendUint64(append(b, r.id...), uint64(r.index)))
		}
	}
	return b
}

// runLen is how many records run value v holds; an error if v is not whole records.
func runLen(v []byte) (int, error) {
	if len(v)%runRecSize != 0 || len(v) == 0 {
		return 0, fmt.Errorf("index run of %d bytes: %w", len(v), ErrCorrupt)
	}
	return len(v) / runRecSize, nil
}

// runAt decodes record i of run value v.
func runAt(v []byte, i int) (id string, index int64, pos entryPos) {
	r := v[i*runRecSize : (i+1)*runRecSize]
	return string(r[:receiptIDSize]), int64(binary.BigEndian.Uint64(r[receiptIDSize:])), decodeEntryPos(r[receiptIDSize+8:])
}

// runFind returns the record of id in run value v.
func runFind(v []byte, id string) (index int64, pos entryPos, found bool, err error) {
	n, err := runLen(v)
	if err != nil {
		return 0, entryPos{}, false, err
	}
	i := sort.Search(n, func(i int) bool { return string(v[i*runRecSize:i*runRecSize+receiptIDSize]) >= id })
	if i == n {
		return 0, entryPos{}, false, nil
	}
	got, index, pos := runAt(v, i)
	return index, pos, got == id, nil
}

// indexOf finds where the database indexes an entry: its leaf index and position in the segments.
func indexOf(txn *badgerdb.Txn, id string) (index int64, pos entryPos, found bool, err error) {
	key := entryKey(id)
	if key == nil {
		return 0, entryPos{}, false, nil
	}
	val, found, err := get(txn, key)
	if err != nil || found {
		if err == nil {
			index, pos, err = decodeIndexValue(val)
		}
		return index, pos, found, err
	}
	if !receipts.ValidID(id) {
		return 0, entryPos{}, false, nil
	}
	_, err = runCovering(txn, []byte(runPrefix), id, func(v []byte) error {
		index, pos, found, err = runFind(v, id)
		return err
	})
	return index, pos, found, err
}

// runCovering calls fn with the value of the run under prefix that may hold id — the first whose key is at or
// after it — and reports whether there is one.
func runCovering(txn *badgerdb.Txn, prefix []byte, id string, fn func(v []byte) error) (bool, error) {
	it := txn.NewIterator(badgerdb.IteratorOptions{Prefix: prefix})
	defer it.Close()
	if it.Seek(append(bytes.Clone(prefix), id...)); !it.Valid() {
		return false, nil
	}
	return true, it.Item().Value(fn)
}

// logChunkCost is Badger's estimate of the keys a transaction writes once, whatever its size: the two runs and
// the size.
var logChunkCost = 2*entrySize(len(logLeafPrefix)+8, 0, 0) + entrySize(len(logSizeKey), 8, 0) +
	entrySize(len(logReplayKey), 16, 0)

// entryCost is Badger's estimate of what indexing r as leaf index adds to a transaction: its key (and a receipt's
// tool index), its share of the runs (its id and position, and one hash per tree level the leaf completes) and —
// counted for every entry, to stay on the safe side — the runs' keys and the size.
func entryCost(r *appendReq, index int64, threshold int64) int64 {
	c := entrySize(len(r.key()), 8+entryPosSize, threshold) +
		int64(1+len(r.id)+entryPosSize) + int64(1+bits.TrailingZeros64(uint64(index+1)))*tlog.HashSize + logChunkCost
	if r.tool != "" {
		// As a receipt of its own, or as its records in two runs and, at most, their keys.
		c += entrySize(len("rt/")+len(r.tool)+1+len(r.id), 0, threshold) + int64(2*runRecSize) +
			entrySize(len(runPrefix)+receiptIDSize, 0, threshold) +
			entrySize(len(runToolPrefix(r.tool))+receiptIDSize, 0, threshold)
	}
	return c
}

// pendingByID returns the pending entry with that id, if any.
func (l *logState) pendingByID(id string) (*appendReq, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	i, ok := l.pending.byID[id]
	if !ok {
		return nil, false
	}
	return l.pending.entries[i-l.pending.base], true
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

// leaf is one leaf of a run: the entry's id ("" for none) and position.
type leaf struct {
	id  string
	pos entryPos
}

// decodeLeafRun splits a run of leaves; ok is false if the run is malformed.
func decodeLeafRun(val []byte) (leaves []leaf, ok bool) {
	for len(val) > 0 {
		n := int(val[0])
		if len(val) < 1+n+entryPosSize {
			return leaves, false
		}
		leaves = append(leaves, leaf{id: string(val[1 : 1+n]), pos: decodeEntryPos(val[1+n:])})
		val = val[1+n+entryPosSize:]
	}
	return leaves, true
}

func encodeLeafRun(leaves []leaf) []byte {
	var b []byte
	for _, l := range leaves {
		b = l.pos.append(append(append(b, byte(len(l.id))), l.id...))
	}
	return b
}

// leafReader reads leaves from their runs.
type leafReader struct {
	*runReader
	leaves  []leaf // of the run starting at from
	from    int64
	decoded bool
}

func (l *leafReader) at(i int64) (leaf, error) {
	found, err := l.seek(i, func(first int64, val []byte) bool {
		if !l.decoded || l.from != first {
			l.leaves, _ = decodeLeafRun(val) // a malformed run yields the leaves before the damage
			l.from, l.decoded = first, true
		}
		return i-first < int64(len(l.leaves))
	})
	if err != nil || !found {
		return leaf{}, err
	}
	return l.leaves[i-l.first], nil
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
	req := newAppendReq(ev.ID, "", val)
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

// ReadHashes returns stored hashes of the tree: pending ones from memory, the rest from the database.
func (s *Store) ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	end, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	l := &s.log
	limit := tlog.StoredHashCount(l.size.Load())
	out := make([]tlog.Hash, len(indexes))
	var stored []int // positions to read from the database
	l.mu.RLock()
	for i, x := range indexes {
		switch {
		case x < 0 || x >= limit:
			l.mu.RUnlock()
			return nil, fmt.Errorf("log hash[%d] beyond the tree: %w", x, tlog.ErrNotFound)
		case x >= l.pending.hashBase && x-l.pending.hashBase < int64(len(l.pending.hashes)):
			out[i] = l.pending.hashes[x-l.pending.hashBase]
		default:
			stored = append(stored, i) // below the overlay: applied before we looked, so in the database
		}
	}
	l.mu.RUnlock()
	if len(stored) == 0 {
		return out, nil
	}
	err = l.db.View(func(txn *badgerdb.Txn) error {
		h := newHashReader(txn)
		defer h.close()
		for _, i := range stored {
			var err error
			if out[i], err = h.at(indexes[i]); err != nil {
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
	if r, ok := s.log.pendingByID(id); ok {
		return r.index, nil
	}
	var index int64
	err = s.log.db.View(func(txn *badgerdb.Txn) error {
		var found bool
		var err error
		index, _, found, err = indexOf(txn, id)
		if err == nil && !found {
			err = tlog.ErrNotFound
		}
		return err
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
	l := &s.log
	stop := min(l.size.Load(), start+int64(min(max(limit, 0), maxLimit)))
	if stop <= start {
		return []tlog.Entry{}, nil
	}
	// The pending tail, from memory; what is below it was applied before we looked, so is in the database.
	var tail []tlog.Entry
	l.mu.RLock()
	from := max(start, l.pending.base)
	for i := from; i < stop; i++ {
		r := l.pending.entries[i-l.pending.base]
		h := l.pending.hashes[tlog.StoredHashIndex(0, i)-l.pending.hashBase]
		tail = append(tail, tlog.Entry{Index: i, ID: r.id, Hash: h, Data: r.val})
	}
	l.mu.RUnlock()
	out := make([]tlog.Entry, 0, stop-start)
	err = l.db.View(func(txn *badgerdb.Txn) error {
		leaves := &leafReader{runReader: newRunReader(txn, logLeafPrefix)}
		defer leaves.close()
		hashes := newHashReader(txn)
		defer hashes.close()
		for i := start; i < min(from, stop); i++ {
			e := tlog.Entry{Index: i}
			lf, err := leaves.at(i)
			if err != nil {
				return err
			}
			if e.ID = lf.id; lf.id != "" {
				if e.Data, err = l.seg.read(lf.pos); err != nil {
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
	return append(out, tail...), nil
}

// appliedBase returns the index of the first entry not yet in the database.
func (l *logState) appliedBase() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.pending.base
}
