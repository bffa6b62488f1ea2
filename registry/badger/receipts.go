package badger

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime/metrics"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	badgerdb "github.com/dgraph-io/badger/v4"

	"github.com/toolgate/toolgate/receipts"
	"github.com/toolgate/toolgate/receipts/tlog"
	"github.com/toolgate/toolgate/registry"
)

const (
	// appendQueue is how many Appends may wait for the committer before senders block.
	appendQueue = 1024
	// maxBatch is the most receipts one commit takes from the queue.
	maxBatch = 256
	// lingerInterval is the most a commit waits, from the start of the previous one, for its batch to gather
	// (see commitLoop).
	lingerInterval = time.Millisecond
	// Listing limits.
	defaultLimit = 100
	maxLimit     = 1000
)

// appendReq is one receipt or event (tool "") queued for the group committer, which sets index, the entry's leaf
// index in the log, before answering on done.
type appendReq struct {
	id, tool string
	val      []byte    // canonical JSON
	leaf     tlog.Hash // tlog.RecordHash(val), computed by the caller so that the committer's turn stays short
	index    int64
	pos      entryPos   // where the committer wrote val in the log's segments
	rec      recordSpan // and the record holding it
	done     chan error
}

// newAppendReq is the request to append val, the canonical bytes of a receipt of tool or ("") of an event.
func newAppendReq(id, tool string, val []byte) *appendReq {
	return &appendReq{id: id, tool: tool, val: val, leaf: tlog.RecordHash(val), done: make(chan error, 1)}
}

func receiptKey(id string) []byte          { return []byte("r/" + id) }
func receiptToolPrefix(tool string) []byte { return []byte("rt/" + tool + "/") }

// Append stores r durably: it returns once r is in the log, synced, and readable. Concurrent Appends are
// group-committed: one goroutine takes every receipt and event queued while the previous commit was syncing and
// writes them as one record of the log's segments, so that they share one fdatasync (commitLoop, commitBatch).
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
	req := newAppendReq(r.ID, r.Tool, val)
	if err := s.enqueue(ctx, req); err != nil {
		return fmt.Errorf("receipt[%s]: %w", r.ID, err)
	}
	return nil
}

// enqueue hands req to the group committer and waits for its commit. A promise of ctx (Expect) is kept once req is
// queued.
func (s *Store) enqueue(ctx context.Context, req *appendReq) error {
	end, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer end()
	select {
	case s.appends <- req:
	default:
		// The queue is full (the disk is slow): wait for room, as long as ctx allows. The send is tried first
		// without ctx because asking a deadline context for its Done channel makes one, and a select on two
		// channels locks both, on every receipt.
		select {
		case s.appends <- req:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if e, ok := ctx.Value(expectKey{}).(*expectation); ok && e.s == s {
		e.keep()
	}
	return <-req.done
}

// expectKey is the context key of an expectation.
type expectKey struct{}

// expectation is one promised Append (Expect), and the context that carries it: one allocation, not two.
type expectation struct {
	context.Context
	s    *Store
	kept atomic.Bool
}

// Value returns e for expectKey, and otherwise what the parent context holds.
func (e *expectation) Value(key any) any {
	if key == (expectKey{}) {
		return e
	}
	return e.Context.Value(key)
}

// Expect promises one Append (receipts.Expecter): until it is kept or withdrawn, the committer knows a receipt
// is on its way and lingers for it, within lingerInterval. The server promises one when a call starts.
func (s *Store) Expect(ctx context.Context) (context.Context, func()) {
	e := &expectation{Context: ctx, s: s}
	s.log.expected.Add(1)
	return e, e.keep
}

// keep ends the promise, once: the Append is queued, or will not come. The last one outstanding wakes a
// lingering committer.
func (e *expectation) keep() {
	if e.kept.CompareAndSwap(false, true) && e.s.log.expected.Add(-1) == 0 {
		select {
		case e.s.log.arrived <- struct{}{}:
		default:
		}
	}
}

// LogStats reports the log's size, its group commits since Open and how long they took, how far the index lags,
// whether the sync thread runs at raised priority, and whether the log has stopped (tlog.StatsReporter).
func (s *Store) LogStats() tlog.Stats {
	l := &s.log
	base := l.appliedBase() // before size: the index never passes the durable size
	st := tlog.Stats{Size: l.size.Load(), Commits: l.commits.Load(), Leaves: l.committed.Load(),
		CommitCounts: make([]uint64, len(l.commitHist)), CommitSeconds: time.Duration(l.commitNS.Load()).Seconds(),
		Err: l.failed()}
	for i := range l.commitHist {
		st.CommitCounts[i] = l.commitHist[i].Load()
	}
	st.Unindexed = st.Size - base
	st.SyncPriority = l.seg.sync.priorityRaised()
	return st
}

// observeCommit counts a synced write that took d.
func (l *logState) observeCommit(d time.Duration) {
	i := 0
	for i < len(tlog.CommitBounds) && d.Seconds() > tlog.CommitBounds[i] {
		i++
	}
	l.commitHist[i].Add(1)
	l.commitNS.Add(int64(d))
}

// commitLoop is the group committer: it runs until Close closes the queue, and writes every receipt queued
// before that. A sync costs much the same for one entry as for a hundred, so under load it lingers, and each
// sync saved is CPU given back to the calls. Once the queue is empty it commits if no promised receipt (Expect)
// is outstanding — every call running has queued its receipt — or if no goroutine waits for a CPU — the calls
// have caught up, and lingering on would only delay them; otherwise it sleeps until the last promise is kept, or
// until lingerInterval after the previous commit started. Appends without a promise (the CLI, events) are
// committed at once, with whatever else was queued while the previous commit synced.
//
// While it lingers the committer sleeps, woken only by the timer or by the last promise kept: queued Appends do
// not wake it, which under load would cost a wake-up per receipt.
//
// Measured with 64 callers of a trivial tool over loopback (TestReceiptsOverhead in package server; loadgen in
// bench): with the sync on a thread of its own, batches are what arrives during a sync, 17-18 receipts, whatever
// the bound between 0.5 and 2.5 ms; the bound is 1 ms.
func (s *Store) commitLoop() {
	defer s.committer.Done()
	l := &s.log
	batch := make([]*appendReq, 0, maxBatch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	probe := newSchedProbe(1)
	var last time.Time
	for open := true; open; {
		req, ok := <-s.appends
		if !ok {
			break
		}
		batch = append(batch[:0], req)
		deadline := last.Add(lingerInterval)
	fill:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-s.appends:
				if !ok {
					open = false
					break fill
				}
				batch = append(batch, r)
				continue
			default:
			}
			// The queue is empty: commit now, or linger for the receipts promised while the CPUs are busy.
			now := time.Now()
			if l.expected.Load() <= 0 || !now.Before(deadline) || !probe.busy() {
				break
			}
			timer.Reset(deadline.Sub(now))
			select {
			case <-l.arrived:
				timer.Stop()
			case <-timer.C:
			}
		}
		last = time.Now()
		s.commitBatch(batch)
	}
}

// schedProbe reads how many goroutines wait for a P (runtime/metrics, a few tens of nanoseconds).
type schedProbe struct {
	min     uint64
	samples []metrics.Sample
}

// newSchedProbe returns a probe whose busy reports whether at least min goroutines wait for a P.
func newSchedProbe(min uint64) *schedProbe {
	return &schedProbe{min: min, samples: []metrics.Sample{{Name: "/sched/goroutines/runnable:goroutines"}}}
}

// busy reports whether at least p.min goroutines wait for a P; true where the runtime does not say.
func (p *schedProbe) busy() bool {
	metrics.Read(p.samples)
	v := p.samples[0].Value
	return v.Kind() != metrics.KindUint64 || v.Uint64() >= p.min
}

// commitBatch makes a batch of receipts and events durable and visible, and answers each request: it refuses
// duplicates, numbers the rest as the next leaves of the log, writes them as one WAL record and syncs it, then
// publishes them (log.go).
func (s *Store) commitBatch(batch []*appendReq) {
	l := &s.log
	answer := func(rs []*appendReq, err error) {
		for _, r := range rs {
			r.done <- err
		}
	}
	if err := l.failed(); err != nil {
		answer(batch, err)
		return
	}
	if err := l.waitForApplier(); err != nil {
		answer(batch, err)
		return
	}
	// Duplicates: within the batch, among pending entries, and in the database. Only this goroutine adds
	// entries, so what it sees is current.
	// The pending check and the watermark are read under one lock, so an entry the applier moves in between
	// is seen in one or the other.
	accepted := l.accepted[:0]
	defer func() { l.accepted = accepted[:0] }() // kept for the next batch, with its capacity
	// check holds the ids the database may hold.
	var check []*appendReq
	seen := l.batchIDs
	clear(seen)
	l.mu.RLock()
	for _, r := range batch {
		_, pending := l.pending.byID[r.id]
		if _, dup := seen[r.id]; dup || pending {
			r.done <- ErrDuplicate
			continue
		}
		seen[r.id] = struct{}{}
		accepted = append(accepted, r)
		if l.mayBeIndexed(r) {
			check = append(check, r)
		}
	}
	l.mu.RUnlock()
	if len(check) > 0 {
		dup := map[*appendReq]bool{}
		err := l.db.View(func(txn *badgerdb.Txn) error {
			for _, r := range check {
				_, _, found, err := indexOf(txn, r.id)
				if err != nil {
					return err
				}
				dup[r] = found
			}
			return nil
		})
		if err != nil {
			answer(accepted, err)
			return
		}
		kept := accepted[:0]
		for _, r := range accepted {
			if dup[r] {
				r.done <- ErrDuplicate
			} else {
				kept = append(kept, r)
			}
		}
		accepted = kept
	}
	if len(accepted) == 0 {
		return
	}
	first := l.size.Load()
	hashes, next := l.number(accepted)
	start := time.Now()
	if err := l.seg.append(first, accepted); err != nil {
		l.fail(err) // after a failed write or sync, what the file holds is unknown
		answer(accepted, err)
		return
	}
	l.observeCommit(time.Since(start))
	l.publish(accepted, hashes, next)
	l.commits.Add(1)
	l.committed.Add(int64(len(accepted)))
	answer(accepted, nil)
	if next.size-l.appliedBase() >= applyKick {
		l.wake()
	}
}

// entrySize is Badger's estimate of an entry's share of a transaction, with the 10 bytes of its version.
func entrySize(key, val int, threshold int64) int64 {
	if int64(val) < threshold {
		return int64(key+val) + 2 + 10
	}
	return int64(key) + 12 + 2 + 10
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
	// Pending first: an entry leaves the overlay only after it is in the database.
	if p, ok := s.log.pendingByID(id); ok {
		r, err := decodeReceipt(p.val)
		if err != nil {
			return nil, fmt.Errorf("receipt[%s]: %w", id, err)
		}
		return r, nil
	}
	var r *receipts.Receipt
	err = s.log.db.View(func(txn *badgerdb.Txn) error {
		_, pos, found, err := indexOf(txn, id)
		if err != nil {
			return err
		}
		if !found {
			return receipts.ErrNotFound
		}
		r, err = s.readReceipt(pos)
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
	since := f.Since.UnixNano()
	keep := func(r *receipts.Receipt) bool {
		return (f.Status == "" || r.Status == f.Status) && (f.Since.IsZero() || !r.StartedAt.Before(f.Since))
	}
	// Pending receipts first, then the database's: an entry leaves the overlay only after it is in the database,
	// so none is missed; one applied in between is in both, and counted once.
	var vals [][]byte
	s.log.mu.RLock()
	for _, p := range s.log.pending.entries {
		if p.tool != "" && (f.Tool == "" || p.tool == f.Tool) && (after == "" || p.id < after) &&
			(f.Since.IsZero() || idTime(p.id) >= since) {
			vals = append(vals, p.val)
		}
	}
	s.log.mu.RUnlock()
	var found []*receipts.Receipt
	for _, val := range vals {
		r, err := decodeReceipt(val)
		if err != nil {
			return nil, "", fmt.Errorf("list receipts: %w", err)
		}
		if keep(r) {
			found = append(found, r)
		}
	}
	var stored []*receipts.Receipt
	err = s.log.db.View(func(txn *badgerdb.Txn) error {
		ids := newIndexWalk(txn, f.Tool, after)
		defer ids.close()
		for {
			id, pos, ok, err := ids.next()
			if err != nil || !ok {
				return err
			}
			if !f.Since.IsZero() && idTime(id) < since {
				return nil
			}
			r, err := s.readReceipt(pos)
			if err != nil {
				return fmt.Errorf("receipt[%s]: %w", id, err)
			}
			if !keep(r) {
				continue
			}
			if stored = append(stored, r); len(stored) > limit { // one more than a page tells there is a next
				return nil
			}
		}
	})
	if err != nil {
		return nil, "", fmt.Errorf("list receipts: %w", err)
	}
	// The newest limit+1 of the union are among the newest limit+1 of each.
	all := append(found, stored...)
	slices.SortFunc(all, func(a, b *receipts.Receipt) int { return strings.Compare(b.ID, a.ID) })
	all = slices.CompactFunc(all, func(a, b *receipts.Receipt) bool { return a.ID == b.ID })
	var next string
	if len(all) > limit {
		all = all[:limit]
		next = base64.RawURLEncoding.EncodeToString([]byte(all[limit-1].ID))
	}
	return append(page, all...), next, nil
}

// idTime is the start time, in Unix nanoseconds, that receipts.NewID put at the front of an id (which must be
// valid).
func idTime(id string) int64 {
	b, _ := hex.DecodeString(id[len("rcpt_") : len("rcpt_")+16])
	return int64(binary.BigEndian.Uint64(b))
}

// readReceipt reads the receipt at pos in the log's segments.
func (s *Store) readReceipt(pos entryPos) (*receipts.Receipt, error) {
	val, err := s.log.seg.read(pos)
	if err != nil {
		return nil, err
	}
	if val == nil {
		return nil, fmt.Errorf("not in the log's segments: %w", ErrCorrupt)
	}
	return decodeReceipt(val)
}

func decodeReceipt(val []byte) (*receipts.Receipt, error) {
	r, err := receipts.Decode(val)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", err, ErrCorrupt)
	}
	return r, nil
}

// indexWalk yields the receipts the database indexes, or those of one tool, newest id first, from just before
// an id: it merges the receipts indexed singly with the runs (log.go, applyChunk), both walked backwards.
type indexWalk struct {
	txn     *badgerdb.Txn
	singles *badgerdb.Iterator // r/<id> or rt/<tool>/<id>, backwards
	runs    *badgerdb.Iterator // rc/<hi> or rtc/<tool>/<hi>, backwards
	sPrefix []byte
	rPrefix []byte
	byTool  bool
	after   string // yield only ids before it; "" for all

	single    string // the next single's id, "" when done
	singleVal []byte // and its r/ value (not for a tool's)
	run       []byte // the run being walked, and the next record of it
	runNext   int
	firstRun  []byte // the run holding after, walked before the others
	err       error  // the first error met, which next returns
}

func newIndexWalk(txn *badgerdb.Txn, tool, after string) *indexWalk {
	w := &indexWalk{txn: txn, after: after, byTool: tool != "", sPrefix: receiptKey(""), rPrefix: []byte(runPrefix)}
	if w.byTool {
		w.sPrefix, w.rPrefix = receiptToolPrefix(tool), runToolPrefix(tool)
	}
	// Index entries have no value worth prefetching, and a page is usually small: values are read as needed.
	w.singles = txn.NewIterator(badgerdb.IteratorOptions{Prefix: w.sPrefix, Reverse: true})
	w.runs = txn.NewIterator(badgerdb.IteratorOptions{Prefix: w.rPrefix, Reverse: true})
	if after == "" {
		w.singles.Seek(append(bytes.Clone(w.sPrefix), 0xff))
		w.runs.Seek(append(bytes.Clone(w.rPrefix), 0xff))
	} else {
		seek := append(bytes.Clone(w.sPrefix), after...)
		if w.singles.Seek(seek); w.singles.Valid() && bytes.Equal(w.singles.Item().Key(), seek) {
			w.singles.Next()
		}
		// The run that may hold ids on both sides of after is the first whose key is at or after it, if any: walk
		// its older part first, then the runs wholly before after.
		_, w.err = runCovering(txn, w.rPrefix, after, func(v []byte) error {
			w.firstRun = bytes.Clone(v)
			return nil
		})
		seek = append(bytes.Clone(w.rPrefix), after...)
		if w.runs.Seek(seek); w.runs.Valid() && bytes.Equal(w.runs.Item().Key(), seek) {
			w.runs.Next() // that run is firstRun
		}
	}
	w.advanceSingle()
	return w
}

func (w *indexWalk) close() {
	w.singles.Close()
	w.runs.Close()
}

// advanceSingle reads the next single's id.
func (w *indexWalk) advanceSingle() {
	w.single = ""
	if !w.singles.Valid() {
		return
	}
	id := string(w.singles.Item().Key()[len(w.sPrefix):])
	if !receipts.ValidID(id) {
		w.err = fmt.Errorf("key[%q]: %w", w.singles.Item().Key(), ErrCorrupt)
		return
	}
	w.single = id
	if !w.byTool {
		w.singleVal, w.err = w.singles.Item().ValueCopy(w.singleVal[:0])
	}
	w.singles.Next()
}

// runHead returns the next id of the runs, loading runs as needed; "" when done.
func (w *indexWalk) runHead() (string, error) {
	for {
		for w.runNext >= 0 && w.run != nil {
			id, _, _ := runAt(w.run, w.runNext)
			if w.after == "" || id < w.after {
				return id, nil
			}
			w.runNext--
		}
		var val []byte
		var err error
		switch {
		case w.firstRun != nil:
			val, w.firstRun = w.firstRun, nil
		case w.runs.Valid():
			val, err = w.runs.Item().ValueCopy(nil)
			w.runs.Next()
		default:
			return "", nil
		}
		if err != nil {
			return "", err
		}
		n, err := runLen(val)
		if err != nil {
			return "", err
		}
		w.run, w.runNext = val, n-1
	}
}

// next returns the next receipt's id and position, newest first.
func (w *indexWalk) next() (id string, pos entryPos, ok bool, err error) {
	if w.err != nil {
		return "", entryPos{}, false, w.err
	}
	head, err := w.runHead()
	if err != nil {
		return "", entryPos{}, false, err
	}
	if head != "" && head > w.single { // ids are unique: a run's and a single's never tie
		_, _, pos = runAt(w.run, w.runNext)
		w.runNext--
		return head, pos, true, nil
	}
	if w.single == "" {
		return "", entryPos{}, false, nil
	}
	id = w.single
	if w.byTool { // rt/ keys are bare: the position is under r/
		var found bool
		if _, pos, found, err = indexOf(w.txn, id); err == nil && !found {
			err = fmt.Errorf("receipt[%s] indexed but missing: %w", id, ErrCorrupt)
		}
	} else {
		_, pos, err = decodeIndexValue(w.singleVal)
	}
	if err != nil {
		return "", entryPos{}, false, err
	}
	w.advanceSingle()
	return id, pos, true, nil
}
