package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/toolgate/toolgate/plugins"
	"github.com/toolgate/toolgate/receipts"
	"github.com/toolgate/toolgate/receipts/tlog"
	"github.com/toolgate/toolgate/sdk/client"
)

func hashes(t testing.TB, bs [][]byte) []tlog.Hash {
	t.Helper()
	out := make([]tlog.Hash, len(bs))
	for i, b := range bs {
		if len(b) != tlog.HashSize {
			t.Fatalf("hash %d has %d bytes", i, len(b))
		}
		copy(out[i][:], b)
	}
	return out
}

// verifyReceipt checks a receipt the way an auditor does: the checkpoint's signature, then the receipt's bytes
// at the proof's index.
func verifyReceipt(t testing.TB, c *client.Client, vkey, id string) tlog.Checkpoint {
	t.Helper()
	ctx := context.Background()
	p, err := c.ReceiptProof(ctx, id, 0)
	if err != nil {
		t.Fatalf("proof of %s: %v", id, err)
	}
	cp, err := tlog.OpenCheckpoint([]byte(p.Checkpoint), vkey)
	if err != nil {
		t.Fatalf("proof of %s: %v", id, err)
	}
	if cp.N != p.TreeSize {
		t.Fatalf("proof of %s: checkpoint of size %d, proof for %d", id, cp.N, p.TreeSize)
	}
	leaf, err := c.Receipt(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.VerifyInclusion(cp.Tree, p.Index, leaf, hashes(t, p.Proof)); err != nil {
		t.Fatalf("receipt %s at index %d: %v", id, p.Index, err)
	}
	return cp
}

// audit fetches every entry of the current tree and audits it.
func audit(t testing.TB, c *client.Client, vkey string) (*tlog.Report, []client.LogEntry) {
	t.Helper()
	ctx := context.Background()
	note, err := c.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := tlog.OpenCheckpoint(note, vkey)
	if err != nil {
		t.Fatal(err)
	}
	a := tlog.NewAuditor(cp.Tree)
	var all []client.LogEntry
	for a.Next() < cp.N {
		page, _, err := c.LogEntries(ctx, a.Next(), 7)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			te := tlog.Entry{Index: e.Index, ID: e.ID, Data: e.Data}
			copy(te.Hash[:], e.Hash)
			if err := a.Add(te); err != nil {
				t.Fatal(err)
			}
		}
		all = append(all, page...)
	}
	return a.Finish(func(i int64) ([]tlog.Hash, error) {
		p, err := c.LogProof(ctx, i, cp.N)
		if err != nil {
			return nil, err
		}
		return hashes(t, p.Proof), nil
	}), all[:cp.N]
}

// TestLog_Routes drives the log through the API: registry changes and calls become leaves in order, every
// receipt is provable against a signed checkpoint, later checkpoints extend earlier ones, and the entries audit.
func TestLog_Routes(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	vkey, err := h.c.LogKey(ctx)
	if err != nil || !strings.HasPrefix(vkey, tlog.DefaultKeyName+"+") {
		t.Fatalf("log key: got %q, %v", vkey, err)
	}
	note, err := h.c.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	empty, err := tlog.OpenCheckpoint(note, vkey)
	if err != nil || empty.N != 0 {
		t.Fatalf("checkpoint of the empty log: got %+v, %v", empty, err)
	}

	h.push(t, "echo", "1.0.0", plugins.WAT("echo"), "")
	h.push(t, "echo", "1.1.0", plugins.WAT("echo"), "") // the module is not uploaded twice
	if _, err := h.c.Pin(ctx, "echo", "1.1.0", "try it"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.c.Pin(ctx, "echo", "1.1.0", "again"); err != nil { // a no-op: no event
		t.Fatal(err)
	}
	var ids []string
	for i := range 3 {
		res, err := h.c.Invoke(ctx, "echo", fmt.Appendf(nil, "call %d", i), client.InvokeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Receipt)
	}
	mid := verifyReceipt(t, h.c, vkey, ids[0])
	if _, err := h.c.Rollback(ctx, "echo", "not yet"); err != nil {
		t.Fatal(err)
	}
	_, err = h.c.Invoke(ctx, "echo", []byte("x"), client.InvokeOptions{Ref: "9.9.9"})
	if !client.IsCode(err, "not_found") {
		t.Fatalf("invoke of a missing version: got %v", err)
	}
	res, err := h.c.Invoke(ctx, "echo", []byte("last"), client.InvokeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ids = append(ids, res.Receipt)

	var last tlog.Checkpoint
	for _, id := range ids {
		last = verifyReceipt(t, h.c, vkey, id)
	}
	// The log only grows: the checkpoint taken mid-way is a prefix of the last.
	cons, err := h.c.LogConsistency(ctx, mid.N, 0)
	if err != nil {
		t.Fatal(err)
	}
	newer, err := tlog.OpenCheckpoint([]byte(cons.Checkpoint), vkey)
	if err != nil || newer.Tree != last.Tree {
		t.Fatalf("consistency checkpoint: got %v %v, want %v", newer.Tree, err, last.Tree)
	}
	if err := tlog.VerifyConsistency(mid.Tree, newer.Tree, hashes(t, cons.Proof)); err != nil {
		t.Errorf("consistency %d → %d: %v", mid.N, newer.N, err)
	}

	// Every entry, in order: upload, publish (and the automatic first pin), publish, pin, three calls, rollback,
	// the last call. The failed invoke never reached the sandbox, so it has no receipt.
	r, entries := audit(t, h.c, vkey)
	if !r.OK() || r.Method != "root" {
		t.Fatalf("audit: %s %v", r.Method, r.Problems)
	}
	var kinds []string
	for _, e := range entries {
		if e.Kind == tlog.KindReceipt {
			kinds = append(kinds, "receipt")
			continue
		}
		ev, err := receipts.DecodeEvent(e.Data)
		if err != nil {
			t.Fatalf("entry %d: %v", e.Index, err)
		}
		if ev.Actor == "" || ev.At.IsZero() || !strings.HasPrefix(ev.Actor, "key:") {
			t.Errorf("event %d: no actor or time: %s", e.Index, e.Data)
		}
		kinds = append(kinds, ev.Kind)
	}
	want := []string{"module_uploaded", "version_published", "pin", "version_published", "pin",
		"receipt", "receipt", "receipt", "rollback", "receipt"}
	if !slices.Equal(kinds, want) {
		t.Errorf("log: got %v, want %v", kinds, want)
	}
	var pin receipts.Event
	json.Unmarshal(entries[4].Data, &pin)
	if pin.Reason != "try it" || pin.Attrs["version"] != "1.1.0" || pin.Attrs["from"] != "1.0.0" || pin.Subject != "tool:echo" {
		t.Errorf("pin event: got %+v", pin)
	}
	if r.Receipts != 4 || r.Events != 6 {
		t.Errorf("audit counts: got %d receipts, %d events", r.Receipts, r.Events)
	}

	// A proof against an older tree, for the auditor who holds that checkpoint.
	p, err := h.c.ReceiptProof(ctx, ids[0], mid.N)
	if err != nil || p.TreeSize != mid.N {
		t.Fatalf("proof at size %d: %+v %v", mid.N, p, err)
	}
	leaf, _ := h.c.Receipt(ctx, ids[0])
	if err := tlog.VerifyInclusion(mid.Tree, p.Index, leaf, hashes(t, p.Proof)); err != nil {
		t.Errorf("proof at size %d: %v", mid.N, err)
	}

	for _, tc := range []struct{ path, code string }{
		{"/v1/receipts/rcpt_000000000000000000000000/proof", "not_found"},
		{"/v1/receipts/nope/proof", "invalid_request"},
		{fmt.Sprintf("/v1/receipts/%s/proof?tree_size=%d", ids[0], last.N+1), "invalid_request"},
		{fmt.Sprintf("/v1/receipts/%s/proof?tree_size=1", ids[0]), "invalid_request"},
		{"/v1/log/consistency", "invalid_request"},
		{"/v1/log/consistency?from=3&to=2", "invalid_request"},
		{"/v1/log/consistency?from=-1", "invalid_request"},
		{"/v1/log/entries?limit=0", "invalid_request"},
		{"/v1/log/entries?limit=1001", "invalid_request"},
		{"/v1/log/proof", "invalid_request"},
		{fmt.Sprintf("/v1/log/proof?index=%d", last.N), "invalid_request"},
	} {
		if _, _, code, _ := h.raw(t, "GET", tc.path, nil, nil); code != tc.code {
			t.Errorf("GET %s: got %q, want %q", tc.path, code, tc.code)
		}
	}
	if es, size, err := h.c.LogEntries(ctx, last.N+5, 10); err != nil || len(es) != 0 || size < last.N {
		t.Errorf("entries past the end: got %v %d %v", es, size, err)
	}
}

// TestLog_Hammer invokes from 64 goroutines at once, with readers checking that every checkpoint extends the
// one before; then every receipt must be provable and the tree size must count every call and event.
func TestLog_Hammer(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	vkey, _ := h.c.LogKey(ctx)
	h.push(t, "echo", "1.0.0", plugins.WAT("echo"), "")
	const callers, calls = 64, 8
	var mu sync.Mutex
	var ids []string
	var wg sync.WaitGroup
	stop := make(chan struct{})
	readerErr := make(chan error, 1)
	go func() {
		var prev tlog.Tree
		for {
			select {
			case <-stop:
				readerErr <- nil
				return
			default:
			}
			note, err := h.c.Checkpoint(ctx)
			if err != nil {
				readerErr <- err
				return
			}
			cp, err := tlog.OpenCheckpoint(note, vkey)
			if err != nil {
				readerErr <- err
				return
			}
			if prev.N > 0 {
				cons, err := h.c.LogConsistency(ctx, prev.N, cp.N)
				if err == nil {
					err = tlog.VerifyConsistency(prev, cp.Tree, hashes(t, cons.Proof))
				}
				if err != nil {
					readerErr <- fmt.Errorf("%d → %d: %w", prev.N, cp.N, err)
					return
				}
			}
			prev = cp.Tree
		}
	}()
	for w := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range calls {
				res, err := h.c.Invoke(ctx, "echo", fmt.Appendf(nil, "%d/%d", w, i), client.InvokeOptions{})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				ids = append(ids, res.Receipt)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(stop)
	if err := <-readerErr; err != nil {
		t.Fatal(err)
	}
	var size int64
	for _, id := range ids {
		size = verifyReceipt(t, h.c, vkey, id).N
	}
	const events = 3 // upload, publish, first pin
	if size != callers*calls+events {
		t.Errorf("tree size: got %d, want %d", size, callers*calls+events)
	}
	if r, _ := audit(t, h.c, vkey); !r.OK() || r.Receipts != callers*calls {
		t.Errorf("audit: %d receipts, %v", r.Receipts, r.Problems)
	}
	if _, err := h.c.ReceiptProof(ctx, "rcpt_"+strings.Repeat("0", 24), 0); !errors.As(err, new(*client.Error)) {
		t.Errorf("unknown receipt: got %v", err)
	}
}
