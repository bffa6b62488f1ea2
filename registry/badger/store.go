// Package badger is Toolgate's embedded default store: the registry (modules, tools, versions, pins, history),
// the API keys, idempotency records, usage and secrets in one Badger database in the given directory, and the
// receipts with the signed log they are leaves of in a second one, <dir>/receipts, beside the log's segment files
// in <dir>/receipts/log. It is the only package that imports Badger; nothing it exports uses a Badger type.
//
// Every write is synced before it returns. Registry writes are read-modify-write transactions (Badger's
// SyncWrites), serialized per tool and retried on a Badger conflict. Receipt and event appends, the hot path, go
// through a group committer: concurrent Appends are gathered into one record of the log's segments, synced once
// (fdatasync; under load on a thread that holds no P of the Go scheduler, syncer_linux.go), and indexed in the
// receipts database later, in bulk (log.go, segments.go). A caller that promises its receipt ahead (Expect, as
// the server does when a call starts) lets the committer gather it into the batch.
//
// # Key layout
//
// Keys are ASCII prefixes followed by identifiers that cannot contain '/' (digests, tool names, versions and
// receipt ids are validated before use; key ids are validated not to contain it), so every prefix below selects
// exactly one kind of record and a prefix scan of one tool never reaches another tool's keys.
//
//	mi/<digest>                    module metadata: registry.ModuleInfo, JSON
//	m/<digest>                     module bytes: a format byte (1 = zstd) then one zstd frame of the Wasm
//	t/<tool>                       tool record: name, created_at, current pin, pin-stack depth, history length, JSON
//	v/<tool>/<version>             published version: registry.VersionRecord, JSON
//	p/<tool>/<depth u64 BE>        pin stack entry (version, module), depth 1-based; the top is the live pin
//	h/<tool>/<seq u64 BE>          history event: registry.Event, JSON; seq 1-based, so a scan is oldest first
//	k/<key id>                     API key: registry.Key, JSON
//	i/<sha256 hex of the key>      idempotency record: registry.IdempotencyRecord, JSON, with a Badger TTL
//	u/<key id>/<tool>/<hour u64 BE> usage counters of one key on one tool in one hour (calls, fuel, cost), JSON
//	s/<secret name>                secret: registry.SealedSecret, JSON; the value is sealed before it gets here
//
// Reserved for later use, so that no current prefix collides with them: "meta/" (schema version).
//
// The receipts database indexes the log; the entries' bytes — each receipt's and event's canonical JSON, the
// log's leaves — are only in the segments:
//
//	r/<receipt id>                 leaf index (u64 BE) and position in the segments (segment u64, offset u32, length u32);
//	                               ids sort by start time, a reverse scan is newest first
//	rt/<tool>/<receipt id>         receipt index by tool (empty value)
//	l/event/<event id>             a registry or governance event (receipts.Event): leaf index and position, as r/
//	l/leaf/<first index u64 BE>    a run of leaves: per leaf, id length u8, id, position
//	l/hash/<first index u64 BE>    a run of tree hashes (32 bytes each) from that x/mod/sumdb/tlog stored index
//	l/size                         the number of leaves indexed (u64 BE)
//	l/replay                       where the next Open replays the segments from: segment u64, offset u64
package badger

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	badgerdb "github.com/dgraph-io/badger/v4"

	"github.com/toolgate/toolgate/receipts"
	"github.com/toolgate/toolgate/registry"
)

// Interface guards.
var (
	_ registry.Store    = (*Store)(nil)
	_ registry.KeyStore = (*Store)(nil)
	_ receipts.Store    = (*Store)(nil)
)

// Errors of this store, beyond those of the registry and receipts contracts.
var (
	// ErrClosed: the store was used after Close.
	ErrClosed = errors.New("store is closed")
	// ErrCorrupt: a stored value failed its integrity checks (bad encoding, size or digest).
	ErrCorrupt = errors.New("stored value is corrupt")
	// ErrDuplicate: a receipt with that id is already stored.
	ErrDuplicate = errors.New("receipt id already stored")
)

// Options tunes the store. The zero value is the default: modest memory, suitable for a small machine.
type Options struct {
	// MemTableSize is the size of one Badger memtable (and of its write-ahead log). Badger keeps at most two.
	// A transaction holds at most 15% of it, so it also bounds one batch of receipts. Defaults to 8 MiB;
	// must be at least 1 MiB.
	MemTableSize int64
	// ValueLogFileSize is the size of one value-log file, where large values (above 64 KiB: module blobs) go.
	// It is also the largest value the store can hold, so it caps a module's compressed size. Defaults to
	// 64 MiB; must be between 1 MiB and 2 GiB.
	ValueLogFileSize int64
	// BlockCacheSize is the cache of decompressed table blocks (tables are Snappy-compressed). Defaults to
	// 8 MiB.
	BlockCacheSize int64
	// Logger receives Badger's errors and warnings (its info and debug lines at debug level). Defaults to
	// nil: Badger logs nothing.
	Logger *slog.Logger
}

const (
	defaultMemTableSize     = 8 << 20
	defaultValueLogFileSize = 64 << 20
	defaultBlockCacheSize   = 8 << 20
	// valueThreshold: values at least this big go to the value log instead of the LSM tree.
	valueThreshold = 64 << 10
	// maxRetries bounds how often a read-modify-write transaction is retried on a Badger conflict.
	maxRetries = 16
	// lockStripes is the number of per-tool write locks (tools hash onto them).
	lockStripes = 64
)

func (o Options) withDefaults() (Options, error) {
	if o.MemTableSize == 0 {
		o.MemTableSize = defaultMemTableSize
	}
	if o.ValueLogFileSize == 0 {
		o.ValueLogFileSize = defaultValueLogFileSize
	}
	if o.BlockCacheSize == 0 {
		o.BlockCacheSize = defaultBlockCacheSize
	}
	switch {
	case o.MemTableSize < 1<<20:
		return o, fmt.Errorf("memtable size[%d]: must be at least 1 MiB", o.MemTableSize)
	case o.ValueLogFileSize < 1<<20 || o.ValueLogFileSize >= 2<<30:
		return o, fmt.Errorf("value log file size[%d]: must be in [1 MiB, 2 GiB)", o.ValueLogFileSize)
	case o.BlockCacheSize < 0:
		return o, fmt.Errorf("block cache size[%d]: must not be negative", o.BlockCacheSize)
	}
	return o, nil
}

// Store is the Badger-backed registry.Store, registry.KeyStore and receipts.Store. It is safe for concurrent
// use. Close it to release the database; any use after Close returns ErrClosed.
type Store struct {
	db        *badgerdb.DB
	threshold int64 // Badger's value threshold, for sizing receipt batches

	// mu is held for reading by every operation and for writing by Close, so that no operation runs on a
	// closed database.
	mu     sync.RWMutex
	closed bool

	toolLocks [lockStripes]sync.Mutex
	usageMu   sync.Mutex // serializes usage counter updates, which contend on a few hot keys

	appends   chan *appendReq
	committer sync.WaitGroup
	// log is the receipt log's durable state: its size and frontier, advanced by the committer (log.go).
	log logState
}

// Open opens (creating if needed) the store in dir.
func Open(dir string, opts Options) (*Store, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	threshold := min(valueThreshold, o.MemTableSize*15/100/2)
	bo := badgerdb.DefaultOptions(dir).
		WithSyncWrites(true).
		WithLogger(quietLogger{o.Logger}).
		WithMetricsEnabled(false).
		WithMemTableSize(o.MemTableSize).
		WithNumMemtables(2).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(8).
		WithNumCompactors(2).
		WithNumGoroutines(2).
		WithBaseTableSize(o.MemTableSize / 4).
		WithValueLogFileSize(o.ValueLogFileSize).
		WithValueThreshold(threshold).
		WithBlockCacheSize(o.BlockCacheSize)
	db, err := badgerdb.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("open store dir[%s]: %w", dir, err)
	}
	s := &Store{db: db, threshold: threshold, appends: make(chan *appendReq, appendQueue)}
	if err := s.openLog(dir, bo); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store dir[%s]: %w", dir, err)
	}
	s.committer.Add(1)
	go s.commitLoop()
	return s, nil
}

// Close stops the receipt committer after it has written every queued receipt, and closes the database.
// Closing twice is a no-op.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	close(s.appends)
	s.committer.Wait()
	lerr := s.closeLog()
	if err := errors.Join(lerr, s.db.Close()); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// begin starts an operation: it holds the read lock until the returned func is called.
func (s *Store) begin(ctx context.Context) (end func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return nil, ErrClosed
	}
	return s.mu.RUnlock, nil
}

// lockTool serializes the read-modify-write transactions of one tool, so that they do not conflict in Badger
// and retry; different tools (mostly) take different locks and commit in parallel.
func (s *Store) lockTool(tool string) func() {
	h := fnv.New32a()
	h.Write([]byte(tool))
	m := &s.toolLocks[h.Sum32()%lockStripes]
	m.Lock()
	return m.Unlock
}

// update runs fn in a read-write transaction and commits it (synced), retrying on a Badger conflict up to
// maxRetries times with a short jittered backoff. fn must be safe to run again.
func (s *Store) update(ctx context.Context, fn func(txn *badgerdb.Txn) error) error {
	var err error
	for attempt := range maxRetries {
		err = s.db.Update(fn)
		if !errors.Is(err, badgerdb.ErrConflict) {
			return err
		}
		backoff := time.Duration(rand.Int64N(int64(50*time.Microsecond) << min(attempt, 6)))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
	}
	return fmt.Errorf("transaction still conflicting after %d attempts: %w", maxRetries, err)
}

// get reads key in txn into a fresh slice; found is false if the key is absent.
func get(txn *badgerdb.Txn, key []byte) (val []byte, found bool, err error) {
	item, err := txn.Get(key)
	if errors.Is(err, badgerdb.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	val, err = item.ValueCopy(nil)
	return val, err == nil, err
}

// exists reports whether key is present in txn.
func exists(txn *badgerdb.Txn, key []byte) (bool, error) {
	_, err := txn.Get(key)
	if errors.Is(err, badgerdb.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

// quietLogger adapts Badger's logger to slog, or discards everything when l is nil.
type quietLogger struct{ l *slog.Logger }

func (q quietLogger) Errorf(f string, a ...any)   { q.log(slog.LevelError, f, a) }
func (q quietLogger) Warningf(f string, a ...any) { q.log(slog.LevelWarn, f, a) }
func (q quietLogger) Infof(f string, a ...any)    { q.log(slog.LevelDebug, f, a) }
func (q quietLogger) Debugf(f string, a ...any)   { q.log(slog.LevelDebug, f, a) }

func (q quietLogger) log(level slog.Level, f string, a []any) {
	if q.l == nil || !q.l.Enabled(context.Background(), level) {
		return
	}
	q.l.Log(context.Background(), level, strings.TrimSpace(fmt.Sprintf(f, a...)), "component", "badger")
}
