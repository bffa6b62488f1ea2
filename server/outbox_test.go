package server

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/toolgate/toolgate/plugins"
	"github.com/toolgate/toolgate/receipts"
	"github.com/toolgate/toolgate/receipts/tlog"
	"github.com/toolgate/toolgate/registry"
)

// TestOutbox_Restart checks the window between a registry change and its log event. The server's own changes
// leave nothing in the outbox. A change whose events reached the outbox with it but not the log — what a
// process killed between the two leaves on disk — has them appended, with the bytes the outbox kept, when the
// server next starts, and only once; an entry that is not a valid event stays where it is without stopping the
// start.
func TestOutbox_Restart(t *testing.T) {
	h := startGov(t, nil)
	ctx := context.Background()
	h.push("echo", "1.0.0", plugins.WAT("echo"), "")
	h.push("echo", "1.1.0", plugins.WAT("echo"), `,"config":{"v":"2"}`)
	h.key(`{"name":"ci","role":"invoker"}`)
	if got, err := h.store.Outbox(ctx); err != nil || len(got) != 0 {
		t.Fatalf("outbox after the server's own changes: %d entries, %v; want none", len(got), err)
	}

	// The change commits with its events in the outbox; the process "dies" before appending them.
	plan, last := eventPlan(pinEvents)
	at := time.Now().UTC()
	pin, err := h.store.SetPin(registry.WithEventPlan(ctx, plan), "echo", "1.1.0", "key:admin", "canary", at)
	if err != nil {
		t.Fatal(err)
	}
	if len(*last) != 1 {
		t.Fatalf("plan made %d events for a pin, want 1", len(*last))
	}
	id := (*last)[0].ID
	pending, err := h.store.Outbox(ctx)
	if err != nil || len(pending) != 1 || pending[0].ID != id {
		t.Fatalf("outbox after the change: %+v, %v; want the pin's event %s", pending, err, id)
	}
	if _, err := h.store.LeafIndex(ctx, id); !errors.Is(err, tlog.ErrNotFound) {
		t.Fatalf("the pin's event is in the log before the restart: %v", err)
	}
	// And an entry nobody can read.
	noActor := `{"actor":"","at":"2026-01-01T00:00:00Z","attrs":{},"id":"evt_000000000000000000000001",` +
		`"kind":"pin","reason":"","subject":"tool:echo"}`
	bad := registry.WithEventPlan(ctx, func(registry.Change) ([]registry.OutboxEntry, error) {
		return []registry.OutboxEntry{{ID: "evt_garbage", Data: []byte("not an event")},
			{ID: "evt_000000000000000000000001", Data: []byte(noActor)}}, nil
	})
	if err := h.store.PutKey(bad, registry.Key{ID: "k-bad", Name: "bad", Role: registry.RoleAuditor,
		TokenHash: []byte("x"), CreatedAt: at}); err != nil {
		t.Fatal(err)
	}

	h.restart()
	index, err := h.store.LeafIndex(ctx, id)
	if err != nil {
		t.Fatalf("the pin's event after the restart: %v", err)
	}
	entries, err := h.store.Entries(ctx, index, 1)
	if err != nil || len(entries) != 1 || !bytes.Equal(entries[0].Data, pending[0].Data) {
		t.Fatalf("log entry %d: %+v, %v; want the outbox's bytes %s", index, entries, err, pending[0].Data)
	}
	ev, err := receipts.DecodeEvent(entries[0].Data)
	if err != nil || ev.Kind != receipts.EventPin || ev.Subject != "tool:echo" || ev.Attrs["version"] != "1.1.0" ||
		ev.Attrs["seq"] != "2" || ev.Reason != "canary" || !ev.At.Equal(pin.At) {
		t.Fatalf("logged event: %+v, %v; want the pin of 1.1.0, seq 2, for a canary", ev, err)
	}
	left, err := h.store.Outbox(ctx)
	if err != nil || len(left) != 2 || left[0].ID != "evt_000000000000000000000001" || left[1].ID != "evt_garbage" {
		t.Fatalf("outbox after the restart: %+v, %v; want only the two entries that are not valid events", left, err)
	}
	size, err := h.store.TreeSize(ctx)
	if err != nil {
		t.Fatal(err)
	}

	h.restart()
	if again, err := h.store.TreeSize(ctx); err != nil || again != size {
		t.Fatalf("tree size after a second restart: %d, %v; want %d (nothing appended twice)", again, err, size)
	}
}
