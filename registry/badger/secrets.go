package badger

import (
	"context"
	"encoding/json"
	"fmt"

	badgerdb "github.com/dgraph-io/badger/v4"

	"github.com/toolgate/toolgate/registry"
)

var _ registry.SecretStore = (*Store)(nil)

// secretKey is "s/<name>"; names are checked by registry.ValidSecretName, so they hold no '/'.
func secretKey(name string) []byte { return []byte("s/" + name) }

// resealBatch is how many secrets one transaction of ResealSecrets rewrites. One: a transaction then conflicts
// only with a concurrent write to that very secret, so a rotation finishes while secrets are being written (with
// eight per transaction, any write to any of the eight forced a retry, and a busy store ran out of retries).
const resealBatch = 1

func checkSecretName(name string) error {
	if !registry.ValidSecretName(name) {
		return fmt.Errorf("secret[%q]: malformed name: %w", name, registry.ErrInvalid)
	}
	return nil
}

// PutSecret stores a sealed secret, replacing one of the same name (which keeps its CreatedAt).
func (s *Store) PutSecret(ctx context.Context, sec registry.SealedSecret) (registry.SecretInfo, bool, error) {
	end, err := s.begin(ctx)
	if err != nil {
		return registry.SecretInfo{}, false, err
	}
	defer end()
	if err := checkSecretName(sec.Name); err != nil {
		return registry.SecretInfo{}, false, err
	}
	if len(sec.Sealed) == 0 || len(sec.Sealed) > 2*registry.MaxSecretBytes {
		return registry.SecretInfo{}, false, fmt.Errorf("secret[%s]: sealed value of %d bytes: %w", sec.Name,
			len(sec.Sealed), registry.ErrInvalid)
	}
	sec.CreatedAt, sec.UpdatedAt = sec.CreatedAt.UTC(), sec.UpdatedAt.UTC()
	var created bool
	err = s.update(ctx, func(txn *badgerdb.Txn) error {
		rec := sec
		old, found, err := get(txn, secretKey(sec.Name))
		if err != nil {
			return err
		}
		created = !found
		if found {
			var prev registry.SealedSecret
			if err := decodeJSON(old, &prev); err != nil {
				return err
			}
			rec.CreatedAt = prev.CreatedAt
		}
		val, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		sec = rec
		if err := writeOutbox(ctx, txn, registry.Change{Created: created}); err != nil {
			return err
		}
		return txn.Set(secretKey(sec.Name), val)
	})
	if err != nil {
		return registry.SecretInfo{}, false, fmt.Errorf("secret[%s]: %w", sec.Name, err)
	}
	return registry.SecretInfo{Name: sec.Name, CreatedAt: sec.CreatedAt, UpdatedAt: sec.UpdatedAt}, created, nil
}

// SealedSecret returns one sealed secret.
func (s *Store) SealedSecret(ctx context.Context, name string) (registry.SealedSecret, error) {
	end, err := s.begin(ctx)
	if err != nil {
		return registry.SealedSecret{}, err
	}
	defer end()
	if err := checkSecretName(name); err != nil {
		return registry.SealedSecret{}, err
	}
	var sec registry.SealedSecret
	err = s.db.View(func(txn *badgerdb.Txn) error {
		val, found, err := get(txn, secretKey(name))
		if err != nil {
			return err
		}
		if !found {
			return registry.ErrNotFound
		}
		return decodeJSON(val, &sec)
	})
	if err != nil {
		return registry.SealedSecret{}, fmt.Errorf("secret[%s]: %w", name, err)
	}
	return sec, nil
}

// Secrets lists every secret by name, without its sealed value.
func (s *Store) Secrets(ctx context.Context) ([]registry.SecretInfo, error) {
	end, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	list := []registry.SecretInfo{}
	err = s.db.View(func(txn *badgerdb.Txn) error {
		it := txn.NewIterator(badgerdb.IteratorOptions{Prefix: []byte("s/"), PrefetchValues: true, PrefetchSize: 32})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			val, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			var sec registry.SealedSecret
			if err := decodeJSON(val, &sec); err != nil {
				return fmt.Errorf("secret[%s]: %w", it.Item().Key()[2:], err)
			}
			list = append(list, registry.SecretInfo{Name: sec.Name, CreatedAt: sec.CreatedAt, UpdatedAt: sec.UpdatedAt})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	return list, nil
}

// DeleteSecret removes a secret; registry.ErrNotFound if absent.
func (s *Store) DeleteSecret(ctx context.Context, name string) error {
	end, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer end()
	if err := checkSecretName(name); err != nil {
		return err
	}
	err = s.update(ctx, func(txn *badgerdb.Txn) error {
		if ok, err := exists(txn, secretKey(name)); err != nil {
			return err
		} else if !ok {
			return registry.ErrNotFound
		}
		if err := writeOutbox(ctx, txn, registry.Change{}); err != nil {
			return err
		}
		return txn.Delete(secretKey(name))
	})
	if err != nil {
		return fmt.Errorf("secret[%s]: %w", name, err)
	}
	return nil
}

// ResealSecrets rewrites every secret that fn changes, a few per transaction. Each secret is read and written in
// the same transaction, so a concurrent PutSecret either lands before (and is resealed) or conflicts and the
// batch is retried.
func (s *Store) ResealSecrets(ctx context.Context, fn func(name string, sealed []byte) ([]byte, bool, error)) (int, error) {
	list, err := s.Secrets(ctx)
	if err != nil {
		return 0, err
	}
	end, err := s.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer end()
	total := 0
	for i := 0; i < len(list); i += resealBatch {
		batch := list[i:min(i+resealBatch, len(list))]
		var n int
		err := s.update(ctx, func(txn *badgerdb.Txn) error {
			n = 0
			for _, info := range batch {
				val, found, err := get(txn, secretKey(info.Name))
				if err != nil {
					return err
				}
				if !found {
					continue // deleted meanwhile
				}
				var sec registry.SealedSecret
				if err := decodeJSON(val, &sec); err != nil {
					return fmt.Errorf("secret[%s]: %w", info.Name, err)
				}
				out, changed, err := fn(sec.Name, sec.Sealed)
				if err != nil {
					return fmt.Errorf("secret[%s]: %w", info.Name, err)
				}
				if !changed {
					continue
				}
				sec.Sealed = out
				b, err := json.Marshal(sec)
				if err != nil {
					return err
				}
				if err := txn.Set(secretKey(sec.Name), b); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("reseal secrets: %w", err)
		}
		total += n
	}
	return total, nil
}
