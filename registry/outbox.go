package registry

import "context"

// The outbox makes a change and the log event that records it one: the store writes the event into its outbox
// in the change's own transaction, and the server appends it to the receipt log once the change is committed,
// then clears it. If the process dies in between, the event is still in the outbox, and the server appends it
// when it starts: the log never misses a publish, pin, rollback, key or secret change that happened, nor holds
// one that did not.

// OutboxEntry is one event waiting in a store's outbox for the receipt log.
type OutboxEntry struct {
	// ID is the event's id, its place in the outbox: entries are listed in id order.
	ID string
	// Data is the event as its owner encoded it; the store keeps it as it is.
	Data []byte
}

// Change is what a store tells an EventPlan of the change it is making.
type Change struct {
	// History is the history events the change makes: the pin or rollback, or a Publish's automatic first pin;
	// none for other changes.
	History []Event
	// Created is true when the change adds something new: a module, a version or a key, or a secret set for the
	// first time. It is false when the change replaces, updates or deletes.
	Created bool
}

// EventPlan makes the outbox entries that record a change. A store calls it inside the change's transaction,
// only when the change writes something, and once per attempt: a transaction retried after a conflict calls it
// again, and only the last call's entries are kept.
type EventPlan func(Change) ([]OutboxEntry, error)

type planKey struct{}

// WithEventPlan returns ctx carrying p, for the store method that makes the change.
func WithEventPlan(ctx context.Context, p EventPlan) context.Context {
	return context.WithValue(ctx, planKey{}, p)
}

// EventPlanOf returns the plan ctx carries, or nil.
func EventPlanOf(ctx context.Context) EventPlan {
	p, _ := ctx.Value(planKey{}).(EventPlan)
	return p
}

// Outbox is a store's list of events not yet in the receipt log. Every change a Store, KeyStore or SecretStore
// method makes with an EventPlan in its context writes the plan's entries in the same transaction.
type Outbox interface {
	// Outbox returns the entries waiting, in id order.
	Outbox(ctx context.Context) ([]OutboxEntry, error)
	// ClearOutbox removes the entries with these ids; ids not in the outbox are ignored.
	ClearOutbox(ctx context.Context, ids []string) error
}
