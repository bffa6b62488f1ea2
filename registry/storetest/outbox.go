package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/toolgate/toolgate/registry"
)

// recorder makes EventPlans that name their entry after the change they record, and keeps what each was told.
type recorder struct {
	changes []registry.Change
}

func (r *recorder) plan(name string) registry.EventPlan {
	return func(ch registry.Change) ([]registry.OutboxEntry, error) {
		r.changes = append(r.changes, ch)
		return []registry.OutboxEntry{{ID: name, Data: fmt.Appendf(nil, `{"change":%q}`, name)}}, nil
	}
}

// outboxIDs returns the ids in s's outbox, in the order listed.
func outboxIDs(t *testing.T, s registry.Outbox) []string {
	t.Helper()
	entries, err := s.Outbox(context.Background())
	if err != nil {
		t.Fatalf("Outbox: %v", err)
	}
	var ids []string
	for _, e := range entries {
		if want := fmt.Sprintf(`{"change":%q}`, e.ID); string(e.Data) != want {
			t.Errorf("outbox entry %s holds %s, want %s", e.ID, e.Data, want)
		}
		ids = append(ids, e.ID)
	}
	return ids
}

// RunOutbox runs the outbox suite against a store that is a registry.Store, KeyStore and SecretStore at once.
// open must return a new, empty store each time it is called.
func RunOutbox[S interface {
	registry.Store
	registry.KeyStore
	registry.SecretStore
}](t *testing.T, open func(t *testing.T) S) {
	t.Run("Registry", func(t *testing.T) { testOutboxRegistry(t, open(t)) })
	t.Run("Governance", func(t *testing.T) { testOutboxGovernance(t, open(t)) })
}

// testOutboxRegistry checks that every registry change that writes writes its plan's entries, with the history
// events it makes; that a change that writes nothing, or fails, writes none; and that ClearOutbox clears.
func testOutboxRegistry(t *testing.T, s registry.Store) {
	ctx := context.Background()
	with := func(r *recorder, name string) context.Context { return registry.WithEventPlan(ctx, r.plan(name)) }
	var r recorder
	w := Wasm("a")
	info := registry.ModuleInfo{Digest: registry.DigestOf(w), Size: int64(len(w)), CreatedAt: at(0)}
	if _, _, err := s.PutModule(with(&r, "1-module"), info, w); err != nil {
		t.Fatal(err)
	}
	if _, created, err := s.PutModule(with(&r, "x-module-again"), info, w); err != nil || created {
		t.Fatalf("PutModule again: created %v, %v", created, err)
	}
	dB := PutModule(t, s, "b")
	res, err := s.Publish(with(&r, "2-publish"), Record("echo", "1.0.0", info.Digest, 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Publish(with(&r, "x-publish-again"), Record("echo", "1.0.0", info.Digest, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Publish(with(&r, "x-publish-conflict"), Record("echo", "1.0.0", info.Digest, 2)); !errors.Is(err, registry.ErrConflict) {
		t.Fatalf("Publish with another document: %v, want ErrConflict", err)
	}
	publish(t, s, Record("echo", "1.1.0", dB, 2))
	pin, err := s.SetPin(with(&r, "3-pin"), "echo", "1.1.0", "key:a", "why", at(5))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetPin(with(&r, "x-pin-again"), "echo", "1.1.0", "key:a", "why", at(6)); err != nil {
		t.Fatal(err)
	}
	back, err := s.Rollback(with(&r, "4-rollback"), "echo", "key:a", "undo", at(7))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Rollback(with(&r, "x-rollback-none"), "echo", "key:a", "undo", at(8)); !errors.Is(err, registry.ErrNoPreviousPin) {
		t.Fatalf("Rollback past the first pin: %v, want ErrNoPreviousPin", err)
	}

	if got, want := outboxIDs(t, s), []string{"1-module", "2-publish", "3-pin", "4-rollback"}; !slices.Equal(got, want) {
		t.Fatalf("outbox: got %v, want %v", got, want)
	}
	// What the plan was told: called only by the changes that wrote (no transaction is retried here).
	want := []registry.Change{{Created: true}, {Created: true, History: []registry.Event{*res.Pinned}},
		{History: []registry.Event{pin}}, {History: []registry.Event{back}}}
	if len(r.changes) != len(want) {
		t.Fatalf("plan called %d times, want %d: %+v", len(r.changes), len(want), r.changes)
	}
	for i := range want {
		if !sameChange(r.changes[i], want[i]) {
			t.Errorf("change %d: got %+v, want %+v", i, r.changes[i], want[i])
		}
	}
	if err := s.ClearOutbox(ctx, []string{"2-publish", "3-pin", "not-there"}); err != nil {
		t.Fatal(err)
	}
	if got, want := outboxIDs(t, s), []string{"1-module", "4-rollback"}; !slices.Equal(got, want) {
		t.Fatalf("outbox after clearing two: got %v, want %v", got, want)
	}
	// A plan that fails fails the change, which stores nothing.
	failing := registry.WithEventPlan(ctx, func(registry.Change) ([]registry.OutboxEntry, error) {
		return nil, errors.New("no")
	})
	if _, err := s.SetPin(failing, "echo", "1.1.0", "key:a", "", at(9)); err == nil {
		t.Fatal("SetPin with a failing plan: no error")
	}
	if tl, err := s.Tool(ctx, "echo"); err != nil || tl.Pin.Version != "1.0.0" {
		t.Fatalf("after a SetPin whose plan failed: pin %+v, %v; want 1.0.0 still", tl.Pin, err)
	}
}

func sameChange(a, b registry.Change) bool {
	return a.Created == b.Created && slices.EqualFunc(a.History, b.History, sameEvent)
}

// testOutboxGovernance checks keys and secrets: each change writes its plan's entries, a failed one none.
func testOutboxGovernance[S interface {
	registry.KeyStore
	registry.SecretStore
}](t *testing.T, s S) {
	ctx := context.Background()
	var r recorder
	with := func(name string) context.Context { return registry.WithEventPlan(ctx, r.plan(name)) }
	k := registry.Key{ID: "k1", Name: "one", Role: registry.RoleInvoker, TokenHash: []byte("h"), CreatedAt: at(0)}
	if err := s.PutKey(with("1-key"), k); err != nil {
		t.Fatal(err)
	}
	if err := s.PutKey(with("x-key-taken"), k); !errors.Is(err, registry.ErrConflict) {
		t.Fatalf("PutKey of a taken id: %v, want ErrConflict", err)
	}
	k.Disabled = true
	if err := s.UpdateKey(with("2-key-update"), k); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteKey(with("3-key-delete"), k.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteKey(with("x-key-gone"), k.ID); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("DeleteKey of a deleted key: %v, want ErrNotFound", err)
	}
	sec := registry.SealedSecret{Name: "api", Sealed: sealed("v1"), CreatedAt: at(1), UpdatedAt: at(1)}
	if _, _, err := s.PutSecret(with("4-secret"), sec); err != nil {
		t.Fatal(err)
	}
	sec.Sealed, sec.UpdatedAt = sealed("v2"), at(2)
	if _, _, err := s.PutSecret(with("5-secret-again"), sec); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSecret(with("6-secret-delete"), "api"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSecret(with("x-secret-gone"), "api"); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("DeleteSecret of a deleted secret: %v, want ErrNotFound", err)
	}
	want := []string{"1-key", "2-key-update", "3-key-delete", "4-secret", "5-secret-again", "6-secret-delete"}
	if got := outboxIDs(t, s); !slices.Equal(got, want) {
		t.Fatalf("outbox: got %v, want %v", got, want)
	}
	var created []bool
	for _, ch := range r.changes {
		created = append(created, ch.Created)
	}
	if !slices.Equal(created, []bool{true, false, false, true, false, false}) {
		t.Errorf("Created told to the plan: %v, want new key, update, delete, new secret, replaced, delete", created)
	}
	if err := s.ClearOutbox(ctx, want); err != nil {
		t.Fatal(err)
	}
	if got := outboxIDs(t, s); len(got) != 0 {
		t.Fatalf("outbox after clearing all: %v", got)
	}
}
