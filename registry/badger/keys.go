package badger

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	badgerdb "github.com/dgraph-io/badger/v4"

	"github.com/toolgate/toolgate/registry"
)

func keyKey(id string) []byte { return []byte("k/" + id) }

// checkKeyID keeps ids usable as key suffixes: non-empty, short, printable ASCII without '/'.
func checkKeyID(id string) error {
	ok := id != "" && len(id) <= 128 && !strings.ContainsRune(id, '/')
	for i := 0; ok && i < len(id); i++ {
		ok = id[i] > ' ' && id[i] < 0x7f
	}
	if !ok {
		return fmt.Errorf("key[%q]: malformed id: %w", id, registry.ErrInvalid)
	}
	return nil
}

// PutKey stores a new key; registry.ErrConflict if the id is taken. Ids are 1 to 128 printable ASCII bytes
// without '/' (else registry.ErrInvalid).
func (s *Store) PutKey(ctx context.Context, k registry.Key) error {
	end, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer end()
	if err := checkKeyID(k.ID); err != nil {
		return err
	}
	k.CreatedAt = k.CreatedAt.UTC()
	val, err := json.Marshal(k)
	if err != nil {
		return fmt.Errorf("key[%s]: %w", k.ID, err)
	}
	err = s.update(ctx, func(txn *badgerdb.Txn) error {
		if ok, err := exists(txn, keyKey(k.ID)); err != nil {
			return err
		} else if ok {
			return fmt.Errorf("id taken: %w", registry.ErrConflict)
		}
		if err := writeOutbox(ctx, txn, registry.Change{Created: true}); err != nil {
			return err
		}
		return txn.Set(keyKey(k.ID), val)
	})
	if err != nil {
		return fmt.Errorf("key[%s]: %w", k.ID, err)
	}
	return nil
}

// Key returns one key.
func (s *Store) Key(ctx context.Context, id string) (registry.Key, error) {
	end, err := s.begin(ctx)
	if err != nil {
		return registry.Key{}, err
	}
	defer end()
	if err := checkKeyID(id); err != nil {
		return registry.Key{}, err
	}
	var k registry.Key
	err = s.db.View(func(txn *badgerdb.Txn) error {
		val, found, err := get(txn, keyKey(id))
		if err != nil {
			return err
		}
		if !found {
			return registry.ErrNotFound
		}
		return decodeJSON(val, &k)
	})
	if err != nil {
		return registry.Key{}, fmt.Errorf("key[%s]: %w", id, err)
	}
	return k, nil
}

// Keys lists every key by id.
func (s *Store) Keys(ctx context.Context) ([]registry.Key, error) {
	end, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	keys := []registry.Key{}
	err = s.db.View(func(txn *badgerdb.Txn) error {
		it := txn.NewIterator(badgerdb.IteratorOptions{Prefix: []byte("k/"), PrefetchValues: true, PrefetchSize: 32})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			val, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			var k registry.Key
			if err := decodeJSON(val, &k); err != nil {
				return fmt.Errorf("key[%s]: %w", it.Item().Key()[2:], err)
			}
			keys = append(keys, k)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	return keys, nil
}

// DeleteKey removes a key; registry.ErrNotFound if absent.
func (s *Store) DeleteKey(ctx context.Context, id string) error {
	end, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer end()
	if err := checkKeyID(id); err != nil {
		return err
	}
	err = s.update(ctx, func(txn *badgerdb.Txn) error {
		if ok, err := exists(txn, keyKey(id)); err != nil {
			return err
		} else if !ok {
			return registry.ErrNotFound
		}
		if err := writeOutbox(ctx, txn, registry.Change{}); err != nil {
			return err
		}
		return txn.Delete(keyKey(id))
	})
	if err != nil {
		return fmt.Errorf("key[%s]: %w", id, err)
	}
	return nil
}

// UpdateKey replaces a stored key; registry.ErrNotFound if absent.
func (s *Store) UpdateKey(ctx context.Context, k registry.Key) error {
	end, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer end()
	if err := checkKeyID(k.ID); err != nil {
		return err
	}
	k.CreatedAt = k.CreatedAt.UTC()
	k.ExpiresAt = k.ExpiresAt.UTC()
	val, err := json.Marshal(k)
	if err != nil {
		return fmt.Errorf("key[%s]: %w", k.ID, err)
	}
	err = s.update(ctx, func(txn *badgerdb.Txn) error {
		if ok, err := exists(txn, keyKey(k.ID)); err != nil {
			return err
		} else if !ok {
			return registry.ErrNotFound
		}
		if err := writeOutbox(ctx, txn, registry.Change{}); err != nil {
			return err
		}
		return txn.Set(keyKey(k.ID), val)
	})
	if err != nil {
		return fmt.Errorf("key[%s]: %w", k.ID, err)
	}
	return nil
}
