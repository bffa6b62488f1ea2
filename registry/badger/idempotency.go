package badger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	badgerdb "github.com/dgraph-io/badger/v4"

	"github.com/toolgate/toolgate/registry"
)

var _ registry.IdempotencyStore = (*Store)(nil)

// idemKey is the Badger key of an idempotency record: the record's key is any bytes, so it is hashed.
func idemKey(key string) []byte {
	sum := sha256.Sum256([]byte(key))
	return []byte("i/" + hex.EncodeToString(sum[:]))
}

func checkIdemKey(key string) error {
	if key == "" || len(key) > registry.MaxIdempotencyKeyBytes {
		return fmt.Errorf("idempotency key of %d bytes: want 1 to %d: %w", len(key),
			registry.MaxIdempotencyKeyBytes, registry.ErrInvalid)
	}
	return nil
}

// idemEntry encodes rec with a Badger expiry that outlives rec.ExpiresAt by at most a second (Badger expires
// entries at whole Unix seconds); reads compare ExpiresAt itself, so a record ends exactly on time. rec.ExpiresAt
// is on the caller's clock, which now reads: it is turned into a time on the wall clock that Badger reads.
func idemEntry(rec registry.IdempotencyRecord, now time.Time) (*badgerdb.Entry, error) {
	rec.CreatedAt, rec.ExpiresAt = rec.CreatedAt.UTC(), rec.ExpiresAt.UTC()
	val, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	e := badgerdb.NewEntry(idemKey(rec.Key), val)
	e.ExpiresAt = uint64(time.Now().Add(rec.ExpiresAt.Sub(now)).Unix()) + 1
	return e, nil
}

// heldIdem reads the unexpired record of key in txn; found is false if there is none.
func heldIdem(txn *badgerdb.Txn, key string, now time.Time) (rec registry.IdempotencyRecord, found bool, err error) {
	val, found, err := get(txn, idemKey(key))
	if err != nil || !found {
		return rec, false, err
	}
	if err := decodeJSON(val, &rec); err != nil {
		return rec, false, err
	}
	if rec.Key != key {
		return rec, false, fmt.Errorf("record under the hash of another key: %w", ErrCorrupt)
	}
	return rec, rec.ExpiresAt.After(now), nil
}

// BeginIdempotency claims rec.Key unless an unexpired record holds it.
func (s *Store) BeginIdempotency(ctx context.Context, rec registry.IdempotencyRecord, now time.Time) (registry.IdempotencyRecord, bool, error) {
	end, err := s.begin(ctx)
	if err != nil {
		return registry.IdempotencyRecord{}, false, err
	}
	defer end()
	if err := checkIdemKey(rec.Key); err != nil {
		return registry.IdempotencyRecord{}, false, err
	}
	if rec.Done || rec.Claim == "" || rec.Fingerprint == "" || !rec.ExpiresAt.After(now) {
		return registry.IdempotencyRecord{}, false, fmt.Errorf(
			"begin idempotency: want an unexpired in-flight record with a claim and fingerprint: %w", registry.ErrInvalid)
	}
	e, err := idemEntry(rec, now)
	if err != nil {
		return registry.IdempotencyRecord{}, false, err
	}
	var held registry.IdempotencyRecord
	var claimed bool
	err = s.update(ctx, func(txn *badgerdb.Txn) error {
		h, found, err := heldIdem(txn, rec.Key, now)
		if err != nil {
			return err
		}
		if found {
			held, claimed = h, false
			return nil
		}
		held, claimed = registry.IdempotencyRecord{}, true
		return txn.SetEntry(e)
	})
	if err != nil {
		return registry.IdempotencyRecord{}, false, fmt.Errorf("begin idempotency: %w", err)
	}
	return held, claimed, nil
}

// CompleteIdempotency stores the response of the claim that holds rec.Key.
func (s *Store) CompleteIdempotency(ctx context.Context, rec registry.IdempotencyRecord, now time.Time) error {
	end, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer end()
	if err := checkIdemKey(rec.Key); err != nil {
		return err
	}
	if !rec.Done || rec.Response == nil || !rec.ExpiresAt.After(now) {
		return fmt.Errorf("complete idempotency: want an unexpired done record with a response: %w", registry.ErrInvalid)
	}
	e, err := idemEntry(rec, now)
	if err != nil {
		return err
	}
	err = s.update(ctx, func(txn *badgerdb.Txn) error {
		h, found, err := heldIdem(txn, rec.Key, now)
		if err != nil {
			return err
		}
		if !found || h.Done || h.Claim != rec.Claim {
			return registry.ErrClaimLost
		}
		return txn.SetEntry(e)
	})
	if err != nil {
		return fmt.Errorf("complete idempotency: %w", err)
	}
	return nil
}

// ReleaseIdempotency deletes the in-flight record of claim.
func (s *Store) ReleaseIdempotency(ctx context.Context, key, claim string) error {
	end, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer end()
	if err := checkIdemKey(key); err != nil {
		return err
	}
	err = s.update(ctx, func(txn *badgerdb.Txn) error {
		// Expiry does not matter here: a claim's own expired record is still its to delete.
		val, found, err := get(txn, idemKey(key))
		if err != nil {
			return err
		}
		var h registry.IdempotencyRecord
		if found {
			if err := decodeJSON(val, &h); err != nil {
				return err
			}
		}
		if !found || h.Done || h.Claim != claim {
			return registry.ErrClaimLost
		}
		return txn.Delete(idemKey(key))
	})
	if err != nil {
		return fmt.Errorf("release idempotency: %w", err)
	}
	return nil
}

// Idempotency returns the unexpired record of key.
func (s *Store) Idempotency(ctx context.Context, key string, now time.Time) (registry.IdempotencyRecord, error) {
	end, err := s.begin(ctx)
	if err != nil {
		return registry.IdempotencyRecord{}, err
	}
	defer end()
	if err := checkIdemKey(key); err != nil {
		return registry.IdempotencyRecord{}, err
	}
	var rec registry.IdempotencyRecord
	err = s.db.View(func(txn *badgerdb.Txn) error {
		h, found, err := heldIdem(txn, key, now)
		if err != nil {
			return err
		}
		if !found {
			return registry.ErrNotFound
		}
		rec = h
		return nil
	})
	if err != nil {
		return rec, fmt.Errorf("idempotency record: %w", err)
	}
	return rec, nil
}
