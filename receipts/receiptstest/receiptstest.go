// Package receiptstest is the one suite every receipts.Store implementation must pass: call Run from the
// implementation's tests with a func that opens a fresh, empty store (and registers its cleanup with t.Cleanup).
//
// Beyond the interface's comments, the suite pins down two behaviours a client relies on: the cursor of the last
// page is "" (a store looks one receipt ahead instead of handing out a cursor to an empty page), and a duplicate
// id is refused without touching the stored receipt.
package receiptstest

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/toolgate/toolgate/receipts"
)

// base is the suite's clock; receipt i of a set starts i milliseconds after it.
var base = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// Run runs the suite. open must return a new, empty store each time it is called.
func Run(t *testing.T, open func(t *testing.T) receipts.Store) {
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, open(t)) })
	t.Run("Duplicate", func(t *testing.T) { testDuplicate(t, open(t)) })
	t.Run("NewestFirst", func(t *testing.T) { testNewestFirst(t, open(t)) })
	t.Run("Filters", func(t *testing.T) { testFilters(t, open(t)) })
	t.Run("Pagination", func(t *testing.T) { testPagination(t, open(t)) })
	t.Run("BadCursor", func(t *testing.T) { testBadCursor(t, open(t)) })
	t.Run("Limits", func(t *testing.T) { testLimits(t, open(t)) })
	t.Run("Hammer", func(t *testing.T) { testHammer(t, open(t)) })
}

// Receipt returns a receipt of tool with status that started at start, with every field set.
func Receipt(tool, status string, start time.Time) *receipts.Receipt {
	in, out := []byte(`{"order_id":42}`), []byte(`{"refund":"ok"}`)
	r := &receipts.Receipt{
		ID: receipts.NewID(start), Tool: tool, Version: "1.2.0",
		Module:    "sha256:" + fmt.Sprintf("%064x", 1),
		Manifest:  "sha256:" + fmt.Sprintf("%064x", 2),
		Principal: "key_abc", IdempotencyKey: "idem-1",
		StartedAt: start, WallNS: 1_234_567, Status: status,
		Input: receipts.BlobOf(in), Output: receipts.BlobOf(out),
		Fuel:   &receipts.Fuel{Limit: 1_000_000, Used: 12_345},
		Memory: receipts.Memory{LimitBytes: 64 << 20, PeakBytes: 2 << 20},
		HTTP: []receipts.HTTPLine{
			{Method: "POST", Host: "api.payments.example", Path: "/refunds", Status: 201, BytesOut: 120, BytesIn: 64, MS: 12, Decision: "allowed"},
			{Method: "GET", Host: "169.254.169.254", Path: "/", Decision: "denied", Reason: "metadata address"},
		},
		Secrets: map[string]string{"PAYMENTS_KEY": "api.payments.example"},
		Logs:    3,
		Cost:    0.00125,
	}
	if status != receipts.StatusOK {
		r.Error = "the tool said no"
		r.Output = receipts.Blob{}
	}
	return r
}

func canonical(t testing.TB, r *receipts.Receipt) []byte {
	t.Helper()
	b, err := r.Canonical()
	if err != nil {
		t.Fatalf("Canonical(%s): %v", r.ID, err)
	}
	return b
}

func appendAll(t testing.TB, s receipts.Store, rs []*receipts.Receipt) {
	t.Helper()
	for _, r := range rs {
		if err := s.Append(context.Background(), r); err != nil {
			t.Fatalf("Append(%s): %v", r.ID, err)
		}
	}
}

// appendConcurrently appends rs from workers goroutines.
func appendConcurrently(t testing.TB, s receipts.Store, rs []*receipts.Receipt, workers int) {
	t.Helper()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(rs); i += workers {
				if err := s.Append(context.Background(), rs[i]); err != nil {
					t.Errorf("Append(%s): %v", rs[i].ID, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
}

func ids(rs []*receipts.Receipt) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// newestFirst returns the ids of rs that keep selects, newest first.
func newestFirst(rs []*receipts.Receipt, keep func(*receipts.Receipt) bool) []string {
	var out []string
	for _, r := range rs {
		if keep == nil || keep(r) {
			out = append(out, r.ID)
		}
	}
	slices.Sort(out)
	slices.Reverse(out)
	return out
}

// listAll follows cursors from f to the end and returns every id, checking each page's size.
func listAll(t testing.TB, s receipts.Store, f receipts.Filter) []string {
	t.Helper()
	var all []string
	for pages := 0; ; pages++ {
		if pages > 10_000 {
			t.Fatalf("List(%+v): cursor never ends", f)
		}
		page, next, err := s.List(context.Background(), f)
		if err != nil {
			t.Fatalf("List(%+v): %v", f, err)
		}
		limit := f.Limit
		switch {
		case limit <= 0:
			limit = 100
		case limit > 1000:
			limit = 1000
		}
		if len(page) > limit {
			t.Fatalf("List(%+v): got %d receipts, want at most %d", f, len(page), limit)
		}
		if next != "" && len(page) != limit {
			t.Fatalf("List(%+v): got a short page of %d with a next cursor", f, len(page))
		}
		if next == "" && len(page) == 0 && pages > 0 {
			t.Fatalf("List(%+v): an empty last page: the previous cursor should have been \"\"", f)
		}
		all = append(all, ids(page)...)
		if next == "" {
			return all
		}
		f.Cursor = next
	}
}

func testRoundTrip(t *testing.T, s receipts.Store) {
	ctx := context.Background()
	tests := []struct {
		name string
		r    *receipts.Receipt
	}{
		{"full", Receipt("refund", receipts.StatusOK, base)},
		{"failed", Receipt("refund", receipts.StatusOutOfFuel, base.Add(time.Millisecond))},
		{"minimal", &receipts.Receipt{ID: receipts.NewID(base.Add(2 * time.Millisecond)), Tool: "echo", Status: receipts.StatusTrap,
			StartedAt: base.Add(2 * time.Millisecond)}},
		{"local time zone", func() *receipts.Receipt {
			start := base.Add(3 * time.Millisecond).In(time.FixedZone("CET", 3600))
			return Receipt("echo", receipts.StatusOK, start)
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := canonical(t, tc.r)
			if err := s.Append(ctx, tc.r); err != nil {
				t.Fatalf("Append: %v", err)
			}
			got, err := s.Get(ctx, tc.r.ID)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if g := canonical(t, got); !bytes.Equal(g, want) {
				t.Errorf("Get: got %s, want %s", g, want)
			}
		})
	}
	_, err := s.Get(ctx, receipts.NewID(base.Add(time.Hour)))
	if !errors.Is(err, receipts.ErrNotFound) {
		t.Errorf("Get of an unknown id: got %v, want %v", err, receipts.ErrNotFound)
	}
}

func testDuplicate(t *testing.T, s receipts.Store) {
	ctx := context.Background()
	r := Receipt("echo", receipts.StatusOK, base)
	want := canonical(t, r)
	appendAll(t, s, []*receipts.Receipt{r})
	dup := *r
	dup.Status, dup.Error = receipts.StatusTrap, "overwritten"
	if err := s.Append(ctx, &dup); err == nil {
		t.Errorf("Append of a duplicate id: got nil error, want an error")
	}
	got, err := s.Get(ctx, r.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if g := canonical(t, got); !bytes.Equal(g, want) {
		t.Errorf("Get after a duplicate append: got %s, want %s", g, want)
	}
	if all := listAll(t, s, receipts.Filter{}); len(all) != 1 {
		t.Errorf("List after a duplicate append: got %d receipts, want 1", len(all))
	}
}

func testNewestFirst(t *testing.T, s receipts.Store) {
	var rs []*receipts.Receipt
	for i := range 30 {
		rs = append(rs, Receipt("echo", receipts.StatusOK, base.Add(time.Duration(i)*time.Millisecond)))
	}
	shuffled := slices.Clone(rs)
	rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	appendAll(t, s, shuffled)

	page, next, err := s.List(context.Background(), receipts.Filter{})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if want := newestFirst(rs, nil); !slices.Equal(ids(page), want) || next != "" {
		t.Errorf("List: got %v next %q, want %v next \"\"", ids(page), next, want)
	}
	if len(page) > 0 && !page[0].StartedAt.Equal(rs[len(rs)-1].StartedAt) {
		t.Errorf("List[0].StartedAt: got %v, want %v", page[0].StartedAt, rs[len(rs)-1].StartedAt)
	}
}

// set returns 60 receipts over three tools (one a prefix of another) and four statuses, one per millisecond.
func set() []*receipts.Receipt {
	tools := []string{"alpha", "alpha-2", "beta"}
	statuses := []string{receipts.StatusOK, receipts.StatusOK, receipts.StatusTrap, receipts.StatusOutOfFuel}
	var rs []*receipts.Receipt
	for i := range 60 {
		rs = append(rs, Receipt(tools[i%3], statuses[i%4], base.Add(time.Duration(i)*time.Millisecond)))
	}
	return rs
}

func testFilters(t *testing.T, s receipts.Store) {
	rs := set()
	appendConcurrently(t, s, rs, 4)
	since := base.Add(30 * time.Millisecond)
	tests := []struct {
		name string
		f    receipts.Filter
		keep func(*receipts.Receipt) bool
	}{
		{"none", receipts.Filter{}, nil},
		{"tool", receipts.Filter{Tool: "alpha"}, func(r *receipts.Receipt) bool { return r.Tool == "alpha" }},
		{"tool with a prefix of its name taken", receipts.Filter{Tool: "alpha-2"}, func(r *receipts.Receipt) bool { return r.Tool == "alpha-2" }},
		{"status", receipts.Filter{Status: receipts.StatusTrap}, func(r *receipts.Receipt) bool { return r.Status == receipts.StatusTrap }},
		{"since", receipts.Filter{Since: since}, func(r *receipts.Receipt) bool { return !r.StartedAt.Before(since) }},
		{"since in another zone", receipts.Filter{Since: since.In(time.FixedZone("PST", -8*3600))},
			func(r *receipts.Receipt) bool { return !r.StartedAt.Before(since) }},
		{"tool and status", receipts.Filter{Tool: "beta", Status: receipts.StatusOK},
			func(r *receipts.Receipt) bool { return r.Tool == "beta" && r.Status == receipts.StatusOK }},
		{"all three", receipts.Filter{Tool: "alpha", Status: receipts.StatusOK, Since: since},
			func(r *receipts.Receipt) bool {
				return r.Tool == "alpha" && r.Status == receipts.StatusOK && !r.StartedAt.Before(since)
			}},
		{"unknown tool", receipts.Filter{Tool: "nobody"}, func(*receipts.Receipt) bool { return false }},
		{"unknown status", receipts.Filter{Status: "melted"}, func(*receipts.Receipt) bool { return false }},
		{"since the future", receipts.Filter{Since: base.Add(time.Hour)}, func(*receipts.Receipt) bool { return false }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			page, next, err := s.List(context.Background(), tc.f)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if want := newestFirst(rs, tc.keep); !slices.Equal(ids(page), want) || next != "" {
				t.Errorf("List: got %v next %q, want %v next \"\"", ids(page), next, want)
			}
		})
	}
}

func testPagination(t *testing.T, s receipts.Store) {
	rs := set()
	appendConcurrently(t, s, rs, 4)
	filters := []struct {
		name string
		f    receipts.Filter
		keep func(*receipts.Receipt) bool
	}{
		{"all", receipts.Filter{}, nil},
		{"tool", receipts.Filter{Tool: "alpha"}, func(r *receipts.Receipt) bool { return r.Tool == "alpha" }},
		{"status", receipts.Filter{Status: receipts.StatusOK}, func(r *receipts.Receipt) bool { return r.Status == receipts.StatusOK }},
	}
	for _, fc := range filters {
		want := newestFirst(rs, fc.keep)
		for _, limit := range []int{1, 3, 7, len(want) - 1, len(want), len(want) + 1} {
			t.Run(fmt.Sprintf("%s/limit=%d", fc.name, limit), func(t *testing.T) {
				f := fc.f
				f.Limit = limit
				if got := listAll(t, s, f); !slices.Equal(got, want) {
					t.Errorf("pages: got %v, want %v", got, want)
				}
			})
		}
	}

	// A cursor stays valid while newer receipts arrive: they are not on later pages.
	page, next, err := s.List(context.Background(), receipts.Filter{Limit: 10})
	if err != nil || next == "" {
		t.Fatalf("List: %d receipts next %q, %v", len(page), next, err)
	}
	appendAll(t, s, []*receipts.Receipt{Receipt("alpha", receipts.StatusOK, base.Add(time.Hour))})
	rest := listAll(t, s, receipts.Filter{Limit: 10, Cursor: next})
	if want := newestFirst(rs, nil)[10:]; !slices.Equal(rest, want) {
		t.Errorf("pages after a newer append: got %v, want %v", rest, want)
	}
}

func testBadCursor(t *testing.T, s receipts.Store) {
	appendAll(t, s, set()[:3])
	for _, cursor := range []string{
		"!!!",
		"not base64 at all",
		base64.RawURLEncoding.EncodeToString([]byte("not-a-receipt-id")),
		base64.StdEncoding.EncodeToString([]byte{0xff, 0xfe, 0x00}),
	} {
		t.Run(cursor, func(t *testing.T) {
			_, _, err := s.List(context.Background(), receipts.Filter{Cursor: cursor})
			if !errors.Is(err, receipts.ErrBadCursor) {
				t.Errorf("List(cursor %q): got %v, want %v", cursor, err, receipts.ErrBadCursor)
			}
		})
	}
}

func testLimits(t *testing.T, s receipts.Store) {
	var rs []*receipts.Receipt
	for i := range 1005 {
		rs = append(rs, Receipt("echo", receipts.StatusOK, base.Add(time.Duration(i)*time.Microsecond)))
	}
	appendConcurrently(t, s, rs, 8)
	want := newestFirst(rs, nil)
	tests := []struct {
		name     string
		limit    int
		wantLen  int
		wantNext bool
	}{
		{"default", 0, 100, true},
		{"negative", -5, 100, true},
		{"one", 1, 1, true},
		{"at the cap", 1000, 1000, true},
		{"over the cap", 5000, 1000, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			page, next, err := s.List(context.Background(), receipts.Filter{Limit: tc.limit})
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if len(page) != tc.wantLen || (next != "") != tc.wantNext {
				t.Fatalf("List(limit %d): got %d receipts next %q, want %d next %v", tc.limit, len(page), next, tc.wantLen, tc.wantNext)
			}
			if !slices.Equal(ids(page), want[:tc.wantLen]) {
				t.Errorf("List(limit %d): not the newest %d, newest first", tc.limit, tc.wantLen)
			}
		})
	}
	if got := listAll(t, s, receipts.Filter{Limit: 5000}); !slices.Equal(got, want) {
		t.Errorf("pages of the cap: got %d receipts, want %d in order", len(got), len(want))
	}
}

// testHammer appends from 8 goroutines at once, then checks that every receipt is there exactly once.
func testHammer(t *testing.T, s receipts.Store) {
	const goroutines, each = 8, 50
	var mu sync.Mutex
	var all []*receipts.Receipt
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tool := fmt.Sprintf("tool-%d", g%3)
			for i := range each {
				r := Receipt(tool, receipts.StatusOK, base.Add(time.Duration(g*each+i)*time.Millisecond))
				if err := s.Append(context.Background(), r); err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				mu.Lock()
				all = append(all, r)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	want := newestFirst(all, nil)
	got := listAll(t, s, receipts.Filter{Limit: 1000})
	if !slices.Equal(got, want) {
		t.Fatalf("List: got %d receipts, want %d in order", len(got), len(want))
	}
	for _, r := range all {
		stored, err := s.Get(context.Background(), r.ID)
		if err != nil {
			t.Fatalf("Get(%s): %v", r.ID, err)
		}
		if !bytes.Equal(canonical(t, stored), canonical(t, r)) {
			t.Errorf("Get(%s): canonical bytes differ", r.ID)
		}
	}
	for tool, n := range map[string]int{"tool-0": 3 * each, "tool-1": 3 * each, "tool-2": 2 * each} {
		if got := listAll(t, s, receipts.Filter{Tool: tool, Limit: 1000}); len(got) != n {
			t.Errorf("List(tool %s): got %d receipts, want %d", tool, len(got), n)
		}
	}
}
