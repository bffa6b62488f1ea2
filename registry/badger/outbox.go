package badger

import (
	"context"
	"fmt"

	badgerdb "github.com/dgraph-io/badger/v4"

	"github.com/toolgate/toolgate/registry"
)

var _ registry.Outbox = (*Store)(nil)

// ob/<event id> holds an event a change wrote for the receipt log, until the server has appended it
// (registry.Outbox).
const outboxPrefix = "ob/"

// maxOutboxEntry bounds one outbox entry: events are small (an id, a kind, a subject, a few attributes).
const maxOutboxEntry = 64 << 10

// writeOutbox writes, in txn, the entries of the event plan ctx carries (if any) for the change ch.
func writeOutbox(ctx context.Context, txn *badgerdb.Txn, ch registry.Change) error {
	plan := registry.EventPlanOf(ctx)
	if plan == nil {
		return nil
	}
	entries, err := plan(ch)
	if err != nil {
		return fmt.Errorf("log event: %w", err)
	}
	for _, e := range entries {
		if e.ID == "" || len(e.Data) == 0 || len(e.Data) > maxOutboxEntry {
			return fmt.Errorf("log event[%s] of %d bytes: %w", e.ID, len(e.Data), registry.ErrInvalid)
		}
		if err := txn.Set([]byte(outboxPrefix+e.ID), e.Data); err != nil {
			return err
		}
	}
	return nil
}

// Outbox returns the events waiting for the receipt log, in id order.
func (s *Store) Outbox(ctx context.Context) ([]registry.OutboxEntry, error) {
	end, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	var out []registry.OutboxEntry
	err = s.db.View(func(txn *badgerdb.Txn) error {
		it := txn.NewIterator(badgerdb.IteratorOptions{Prefix: []byte(outboxPrefix), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			data, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			out = append(out, registry.OutboxEntry{ID: string(it.Item().Key()[len(outboxPrefix):]), Data: data})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	return out, nil
}

// ClearOutbox removes the entries with these ids.
func (s *Store) ClearOutbox(ctx context.Context, ids []string) error {
	end, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer end()
	if len(ids) == 0 {
		return nil
	}
	err = s.update(ctx, func(txn *badgerdb.Txn) error {
		for _, id := range ids {
			if err := txn.Delete([]byte(outboxPrefix + id)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("clear outbox: %w", err)
	}
	return nil
}
