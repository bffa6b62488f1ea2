package badger

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	badgerdb "github.com/dgraph-io/badger/v4"

	"github.com/toolgate/toolgate/receipts"
	"github.com/toolgate/toolgate/receipts/receiptstest"
	"github.com/toolgate/toolgate/registry"
	"github.com/toolgate/toolgate/registry/storetest"
)

func open(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestStore_Registry(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) registry.Store { return open(t) })
}

func TestStore_Outbox(t *testing.T) {
	t.Parallel()
	storetest.RunOutbox(t, func(t *testing.T) *Store { return open(t) })
}

func TestStore_Keys(t *testing.T) {
	t.Parallel()
	storetest.RunKeys(t, func(t *testing.T) registry.KeyStore { return open(t) })
}

func TestStore_Receipts(t *testing.T) {
	t.Parallel()
	receiptstest.Run(t, func(t *testing.T) receipts.Store { return open(t) })
}

// TestStore_ReceiptsIndexed runs the receipts suite with every receipt in the index, not pending: the applier
// paused, and the pending receipts applied after each Append ("each": one run per receipt, and a receipt older
// than one already indexed kept singly, as the suite appends out of order) or before each read ("bulk": runs of
// many, in log order).
func TestStore_ReceiptsIndexed(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"each", "bulk"} {
		t.Run(mode, func(t *testing.T) {
			receiptstest.Run(t, func(t *testing.T) receipts.Store {
				s := open(t)
				s.log.paused.Store(true)
				return &indexedStore{Store: s, t: t, each: mode == "each"}
			})
		})
	}
}

// indexedStore applies pending receipts after each Append (each) or before each read.
type indexedStore struct {
	*Store
	t    *testing.T
	each bool
}

// applied indexes every entry pending now (appends running concurrently may add more).
func (s *indexedStore) applied() {
	if err := s.apply(); err != nil {
		s.t.Errorf("apply: %v", err)
	}
}

func (s *indexedStore) Append(ctx context.Context, r *receipts.Receipt) error {
	err := s.Store.Append(ctx, r)
	if s.each {
		s.applied()
	}
	return err
}

func (s *indexedStore) Get(ctx context.Context, id string) (*receipts.Receipt, error) {
	s.applied()
	return s.Store.Get(ctx, id)
}

func (s *indexedStore) List(ctx context.Context, f receipts.Filter) ([]*receipts.Receipt, string, error) {
	s.applied()
	return s.Store.List(ctx, f)
}

// TestStore_Reopen closes a store with one of everything in it and checks it all comes back.
func TestStore_Reopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	dA, dB := storetest.PutModule(t, s, "a"), storetest.PutModule(t, s, "b")
	// An incompressible module big enough to live in the value log.
	noise := storetest.Wasm("noise")
	for rng := rand.New(rand.NewPCG(1, 2)); len(noise) < 200<<10; {
		noise = binary.LittleEndian.AppendUint64(noise, rng.Uint64())
	}
	if _, _, err := s.PutModule(ctx, registry.ModuleInfo{Digest: registry.DigestOf(noise)}, noise); err != nil {
		t.Fatalf("PutModule(noise): %v", err)
	}
	for i, v := range []string{"1.0.0", "1.1.0", "2.0.0"} {
		if _, err := s.Publish(ctx, storetest.Record("echo", v, []string{dA, dB, dA}[i], i+1)); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	for _, v := range []string{"1.1.0", "2.0.0"} {
		if _, err := s.SetPin(ctx, "echo", v, "bob", "", time.Unix(100, 0)); err != nil {
			t.Fatalf("SetPin: %v", err)
		}
	}
	if _, err := s.Rollback(ctx, "echo", "carol", "bad", time.Unix(200, 0)); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	key := registry.Key{ID: "key_1", Name: "ci", Role: registry.RolePublisher, TokenHash: []byte{1, 2, 3}}
	if err := s.PutKey(ctx, key); err != nil {
		t.Fatalf("PutKey: %v", err)
	}
	var rcpts []*receipts.Receipt
	for i := range 5 {
		r := receiptstest.Receipt("echo", receipts.StatusOK, time.Unix(300, int64(i)))
		rcpts = append(rcpts, r)
		if err := s.Append(ctx, r); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
	tool, _ := s.Tool(ctx, "echo")
	hist, _ := s.History(ctx, "echo")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := s.Tool(ctx, "echo"); !errors.Is(err, ErrClosed) {
		t.Errorf("Tool after Close: got %v, want %v", err, ErrClosed)
	}
	if err := s.Append(ctx, rcpts[0]); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: got %v, want %v", err, ErrClosed)
	}

	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()

	if got, err := s.ModuleBytes(ctx, dB); err != nil || !bytes.Equal(got, storetest.Wasm("b")) {
		t.Errorf("ModuleBytes after reopen: got %q, %v", got, err)
	}
	if got, err := s.ModuleBytes(ctx, registry.DigestOf(noise)); err != nil || !bytes.Equal(got, noise) {
		t.Errorf("ModuleBytes(noise) after reopen: got %d bytes, %v, want %d", len(got), err, len(noise))
	}
	got, err := s.Tool(ctx, "echo")
	if err != nil || !slices.Equal(got.Versions, tool.Versions) || fmt.Sprint(got.Pin) != fmt.Sprint(tool.Pin) || got.Pin.Version != "1.1.0" {
		t.Errorf("Tool after reopen: got %+v, %v, want %+v pinned at 1.1.0", got, err, tool)
	}
	gotHist, err := s.History(ctx, "echo")
	if err != nil || fmt.Sprint(gotHist) != fmt.Sprint(hist) || len(hist) != 4 {
		t.Errorf("History after reopen: got %+v, %v, want %+v", gotHist, err, hist)
	}
	if _, err := s.Rollback(ctx, "echo", "carol", "", time.Unix(400, 0)); err != nil {
		t.Errorf("Rollback after reopen (the pin stack survives): %v", err)
	}
	if got, err := s.Key(ctx, "key_1"); err != nil || got.Name != "ci" || !bytes.Equal(got.TokenHash, key.TokenHash) {
		t.Errorf("Key after reopen: got %+v, %v", got, err)
	}
	page, _, err := s.List(ctx, receipts.Filter{})
	if err != nil || len(page) != len(rcpts) || page[0].ID != rcpts[len(rcpts)-1].ID {
		t.Errorf("List after reopen: got %d receipts, %v, want %d newest first", len(page), err, len(rcpts))
	}
	if err := s.Append(ctx, rcpts[0]); !errors.Is(err, ErrDuplicate) {
		t.Errorf("Append of a stored id after reopen: got %v, want %v", err, ErrDuplicate)
	}
}

// TestStore_ModuleCompressed checks that module blobs are stored zstd-compressed.
func TestStore_ModuleCompressed(t *testing.T) {
	t.Parallel()
	s := open(t)
	wasm := append(storetest.Wasm("big"), bytes.Repeat([]byte("(local.get 0) (i32.const 1) (i32.add) "), 10_000)...)
	info := registry.ModuleInfo{Digest: registry.DigestOf(wasm)}
	stored, _, err := s.PutModule(context.Background(), info, wasm)
	if err != nil {
		t.Fatalf("PutModule: %v", err)
	}
	if stored.Size != int64(len(wasm)) {
		t.Errorf("Size: got %d, want %d (filled in)", stored.Size, len(wasm))
	}
	blob := rawValue(t, s, moduleBlobKey(info.Digest))
	if blob[0] != blobZstd || len(blob) > len(wasm)/20 {
		t.Errorf("stored blob: got %d bytes (format %d), want zstd and under %d", len(blob), blob[0], len(wasm)/20)
	}
}

// TestStore_ModuleCorrupt overwrites module blobs and checks that reads fail with ErrCorrupt, never returning
// wrong bytes or decompressing past the recorded size.
func TestStore_ModuleCorrupt(t *testing.T) {
	t.Parallel()
	wasm := append(storetest.Wasm("victim"), bytes.Repeat([]byte{0}, 4096)...)
	c, err := codecs()
	if err != nil {
		t.Fatal(err)
	}
	zstdOf := func(b []byte) []byte { return c.enc.EncodeAll(b, []byte{blobZstd}) }
	tests := []struct {
		name string
		blob []byte
	}{
		{"empty", []byte{}},
		{"unknown format", append([]byte{9}, zstdOf(wasm)[1:]...)},
		{"garbage", append([]byte{blobZstd}, bytes.Repeat([]byte{0xab}, 100)...)},
		{"truncated", func() []byte { z := zstdOf(wasm); return z[:len(z)/2] }()},
		{"other bytes of the same size", zstdOf(append(storetest.Wasm("victiM"), bytes.Repeat([]byte{0}, 4096)...))},
		{"too long: a bomb", zstdOf(bytes.Repeat([]byte{0}, 64<<20))},
		{"too short", zstdOf(wasm[:100])},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			ctx := context.Background()
			digest := registry.DigestOf(wasm)
			if _, _, err := s.PutModule(ctx, registry.ModuleInfo{Digest: digest}, wasm); err != nil {
				t.Fatalf("PutModule: %v", err)
			}
			if err := s.db.Update(func(txn *badgerdb.Txn) error { return txn.Set(moduleBlobKey(digest), tc.blob) }); err != nil {
				t.Fatalf("overwrite: %v", err)
			}
			got, err := s.ModuleBytes(ctx, digest)
			if !errors.Is(err, ErrCorrupt) || got != nil {
				t.Errorf("ModuleBytes: got %d bytes, %v, want %v", len(got), err, ErrCorrupt)
			}
		})
	}
}

// TestStore_PublishManifest checks this store's own rules on a record: the manifest is the document's digest.
func TestStore_PublishManifest(t *testing.T) {
	t.Parallel()
	s := open(t)
	ctx := context.Background()
	d := storetest.PutModule(t, s, "m")
	rec := storetest.Record("echo", "1.0.0", d, 1)
	bad := rec
	bad.Manifest = registry.DigestOf([]byte("something else"))
	if _, err := s.Publish(ctx, bad); !errors.Is(err, registry.ErrInvalid) {
		t.Errorf("Publish with a wrong manifest: got %v, want %v", err, registry.ErrInvalid)
	}
	empty := rec
	empty.Manifest = ""
	res, err := s.Publish(ctx, empty)
	if err != nil || res.Record.Manifest != rec.Manifest {
		t.Errorf("Publish with no manifest: got %q, %v, want %q", res.Record.Manifest, err, rec.Manifest)
	}
}

func TestStore_AppendInvalid(t *testing.T) {
	t.Parallel()
	s := open(t)
	ok := receiptstest.Receipt("echo", receipts.StatusOK, time.Unix(1, 0))
	tests := []struct {
		name string
		edit func(r *receipts.Receipt)
	}{
		{"empty id", func(r *receipts.Receipt) { r.ID = "" }},
		{"uppercase id", func(r *receipts.Receipt) { r.ID = "rcpt_" + "ABCDEF0123456789ABCDEF01" }},
		{"tool with slash", func(r *receipts.Receipt) { r.Tool = "a/b" }},
		{"no tool", func(r *receipts.Receipt) { r.Tool = "" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := *ok
			tc.edit(&r)
			if err := s.Append(context.Background(), &r); err == nil {
				t.Errorf("Append: got nil error, want one")
			}
		})
	}
	if err := s.Append(context.Background(), nil); err == nil {
		t.Errorf("Append(nil): got nil error, want one")
	}
}

// TestStore_AppendBatchSplit appends more receipts at once than one Badger transaction holds (a 1 MiB memtable
// allows about 150 KiB per transaction), so the committer must split its batch.
func TestStore_AppendBatchSplit(t *testing.T) {
	t.Parallel()
	s, err := Open(t.TempDir(), Options{MemTableSize: 1 << 20})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	var failed atomic.Int64
	const n = 600
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := receiptstest.Receipt("echo", receipts.StatusOK, time.Unix(1000, int64(i)))
			r.Error = string(bytes.Repeat([]byte("x"), 1000))
			if err := s.Append(context.Background(), r); err != nil {
				failed.Add(1)
				t.Errorf("Append: %v", err)
			}
		}()
	}
	wg.Wait()
	page, _, err := s.List(context.Background(), receipts.Filter{Limit: 1000})
	if err != nil || len(page) != n {
		t.Errorf("List: got %d receipts, %v, want %d", len(page), err, n)
	}
}

func TestOpen_Options(t *testing.T) {
	t.Parallel()
	tests := []Options{
		{MemTableSize: 1000},
		{ValueLogFileSize: 1000},
		{ValueLogFileSize: 4 << 30},
		{BlockCacheSize: -1},
	}
	for _, o := range tests {
		t.Run(fmt.Sprintf("%+v", o), func(t *testing.T) {
			if s, err := Open(t.TempDir(), o); err == nil {
				s.Close()
				t.Errorf("Open: got nil error, want one")
			}
		})
	}
}

func rawValue(t testing.TB, s *Store, key []byte) []byte {
	t.Helper()
	var val []byte
	err := s.db.View(func(txn *badgerdb.Txn) error {
		item, err := txn.Get(key)
		if err != nil {
			return err
		}
		val, err = item.ValueCopy(nil)
		return err
	})
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return val
}

// BenchmarkAppendReceipt appends receipts, each Append returning only once synced. "serial" is one caller, so
// one sync per receipt; "parallel" is many callers (16 × GOMAXPROCS, like a loaded server), whose receipts share
// syncs through the group committer: the ratio of the two appends/s is the batching factor.
func BenchmarkAppendReceipt(b *testing.B) {
	var n atomic.Int64
	receipt := func() *receipts.Receipt {
		return receiptstest.Receipt("echo", receipts.StatusOK, time.Unix(0, n.Add(1)))
	}
	b.Run("serial", func(b *testing.B) {
		s := open(b)
		start := time.Now()
		for b.Loop() {
			if err := s.Append(context.Background(), receipt()); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "appends/s")
	})
	b.Run("parallel", func(b *testing.B) {
		s := open(b)
		b.SetParallelism(16)
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := s.Append(context.Background(), receipt()); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "appends/s")
	})
}
