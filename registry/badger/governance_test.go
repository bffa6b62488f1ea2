package badger

import (
	"context"
	"errors"
	"testing"
	"time"

	badgerdb "github.com/dgraph-io/badger/v4"

	"github.com/toolgate/toolgate/registry"
	"github.com/toolgate/toolgate/registry/storetest"
)

func TestStore_Idempotency(t *testing.T) {
	t.Parallel()
	storetest.RunIdempotency(t, func(t *testing.T) registry.IdempotencyStore { return open(t) })
}

func TestStore_Usage(t *testing.T) {
	t.Parallel()
	storetest.RunUsage(t, func(t *testing.T) registry.UsageStore { return open(t) })
}

// TestStore_IdempotencyTTL checks that Badger itself drops a record once its time has passed (the suite checks
// the logical expiry against the caller's clock; this is the garbage collection).
func TestStore_IdempotencyTTL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t)
	now := time.Now()
	rec := registry.IdempotencyRecord{Key: "k", Fingerprint: "fp", Claim: "c", CreatedAt: now,
		ExpiresAt: now.Add(200 * time.Millisecond)}
	if _, claimed, err := s.BeginIdempotency(ctx, rec, now); err != nil || !claimed {
		t.Fatalf("Begin: %v %v", claimed, err)
	}
	present := func() bool {
		err := s.db.View(func(txn *badgerdb.Txn) error { _, err := txn.Get(idemKey("k")); return err })
		if err != nil && !errors.Is(err, badgerdb.ErrKeyNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	if !present() {
		t.Fatal("record not stored")
	}
	time.Sleep(1500 * time.Millisecond) // Badger's TTLs are whole seconds, rounded up
	if present() {
		t.Error("record still in Badger after its TTL")
	}
	// Read with a clock that says the record is still live: Badger has dropped it anyway.
	if _, err := s.Idempotency(ctx, "k", now); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("Idempotency after the TTL: got %v, want ErrNotFound", err)
	}
}

// TestStore_GovernanceReopen checks that idempotency records, usage and key changes survive a reopen.
func TestStore_GovernanceReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	rec := registry.IdempotencyRecord{Key: "k", Fingerprint: "fp", Claim: "c", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if _, _, err := s.BeginIdempotency(ctx, rec, now); err != nil {
		t.Fatal(err)
	}
	rec.Done, rec.Response = true, &registry.StoredResponse{Status: 200, Body: []byte("out"), Receipt: "rcpt_x"}
	if err := s.CompleteIdempotency(ctx, rec, now); err != nil {
		t.Fatal(err)
	}
	if err := s.AddUsage(ctx, []registry.Usage{{Key: "ka", Tool: "echo", Start: now, Calls: 2, Fuel: 9, Cost: 1.5}}); err != nil {
		t.Fatal(err)
	}
	k := registry.Key{ID: "ka", Role: registry.RoleInvoker, TokenHash: make([]byte, 32), CreatedAt: now}
	if err := s.PutKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	k.Disabled, k.ExpiresAt = true, now.Add(time.Hour)
	if err := s.UpdateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open2(t, dir)
	got, err := s.Idempotency(ctx, "k", now)
	if err != nil || !got.Done || string(got.Response.Body) != "out" || got.Response.Receipt != "rcpt_x" {
		t.Errorf("idempotency record after reopen: got %+v, %v", got, err)
	}
	us, err := s.Usage(ctx, registry.UsageFilter{Key: "ka"})
	if err != nil || len(us) != 1 || us[0].Calls != 2 || us[0].Fuel != 9 || us[0].Cost != 1.5 {
		t.Errorf("usage after reopen: got %+v, %v", us, err)
	}
	gk, err := s.Key(ctx, "ka")
	if err != nil || !gk.Disabled || !gk.ExpiresAt.Equal(k.ExpiresAt) {
		t.Errorf("key after reopen: got %+v, %v", gk, err)
	}
}

func open2(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
