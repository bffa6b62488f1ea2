package server

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/toolgate/toolgate/receipts"
	"github.com/toolgate/toolgate/registry"
	tgbadger "github.com/toolgate/toolgate/registry/badger"
)

var t0 = time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)

func TestBucket_Take(t *testing.T) {
	b := newBucket(registry.Rate{RPS: 2, Burst: 3}, t0)
	for i, tc := range []struct {
		at   time.Duration
		ok   bool
		wait time.Duration
	}{
		{0, true, 0}, {0, true, 0}, {0, true, 0}, // the burst
		{0, false, 500 * time.Millisecond},                      // empty: one token every 500 ms
		{250 * time.Millisecond, false, 250 * time.Millisecond}, // half a token
		{500 * time.Millisecond, true, 0},
		{time.Hour, true, 0}, {time.Hour, true, 0}, {time.Hour, true, 0}, // refilled to the burst, not beyond
		{time.Hour, false, 500 * time.Millisecond},
		{time.Hour - time.Second, false, 500 * time.Millisecond}, // a clock going back earns nothing
	} {
		wait, ok := b.take(t0.Add(tc.at))
		if ok != tc.ok || wait != tc.wait {
			t.Errorf("take %d at +%s: got %v wait %s, want %v wait %s", i+1, tc.at, ok, wait, tc.ok, tc.wait)
		}
	}
}

// TestLimiter_Hammer takes from one key's bucket and enters one capped tool from many goroutines at once: the
// bucket admits exactly its burst, and the tool never runs more calls than its cap.
func TestLimiter_Hammer(t *testing.T) {
	l := newLimiter([]ToolLimit{{Tool: "capped", MaxConcurrent: 3}})
	k := registry.Key{ID: "k", Rate: &registry.Rate{RPS: 1, Burst: 50}}
	var admitted, running, peak, refused atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if _, ok := l.takeKey(k, t0); ok {
					admitted.Add(1)
				}
				done, _, err := l.enterTool("capped", t0)
				if err != nil {
					refused.Add(1)
					continue
				}
				n := running.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				time.Sleep(10 * time.Microsecond)
				running.Add(-1)
				done()
			}
		}()
	}
	wg.Wait()
	if admitted.Load() != 50 {
		t.Errorf("key bucket admitted %d of 800 at one instant, want its burst of 50", admitted.Load())
	}
	if peak.Load() > 3 || peak.Load() < 1 {
		t.Errorf("tool ran at most %d calls at once, want 1 to its cap of 3", peak.Load())
	}
	if l.tools["capped"].running != 0 {
		t.Errorf("running after every call ended: got %d, want 0", l.tools["capped"].running)
	}
	t.Logf("refused %d of 800 for the cap", refused.Load())
}

// TestQuotaBook_Hammer charges one key from many goroutines while others check it, then checks the count the
// book holds and the one a fresh book loads from the store agree, exactly.
func TestQuotaBook_Hammer(t *testing.T) {
	store, err := tgbadger.Open(t.TempDir(), tgbadger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	u := newUsageBook(store, slog.Default())
	u.start(time.Millisecond) // flush often, to race flushes with charges and loads
	defer u.close(ctx)
	q := newQuotaBook(u)
	k := registry.Key{ID: "k", FuelQuota: &registry.FuelQuota{Fuel: 1 << 40, Window: 24 * time.Hour}}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				if w%2 == 0 {
					q.charge(k, registry.Usage{Key: "k", Tool: "echo", Start: t0, Calls: 1, Fuel: 7})
				} else if _, err := q.check(ctx, k, t0.Add(time.Duration(i)*time.Second)); err != nil {
					t.Errorf("check: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if _, err := q.check(ctx, k, t0); err != nil {
		t.Fatal(err)
	}
	if got, want := q.state("k").fuel, uint64(4*100*7); got != want {
		t.Errorf("fuel in the book: got %d, want %d", got, want)
	}
	fresh := newQuotaBook(u)
	if _, err := fresh.check(ctx, k, t0); err != nil {
		t.Fatal(err)
	}
	if got, want := fresh.state("k").fuel, uint64(4*100*7); got != want {
		t.Errorf("fuel loaded from the store: got %d, want %d", got, want)
	}
}

func TestPrices_Cost(t *testing.T) {
	p := Prices{FuelPerMillion: 0.5, PerMS: 0.001, EgressPerMB: 0.09}
	for _, tc := range []struct {
		name string
		r    receipts.Receipt
		want float64
	}{
		{"nothing used", receipts.Receipt{}, 0},
		{"unmetered, 20 ms", receipts.Receipt{WallNS: 20e6}, 0.02},
		{"fuel", receipts.Receipt{Fuel: &receipts.Fuel{Limit: 1e9, Used: 3e6}}, 1.5},
		{"egress both ways", receipts.Receipt{HTTP: []receipts.HTTPLine{{BytesOut: 400_000, BytesIn: 600_000},
			{BytesOut: 1_000_000}}}, 0.18},
		{"all three", receipts.Receipt{WallNS: 1_500_000, Fuel: &receipts.Fuel{Used: 1}, HTTP: []receipts.HTTPLine{{BytesIn: 1}}},
			0.0015 + 0.0000005 + 0.00000009},
	} {
		if got := p.Cost(&tc.r); got != roundCost(tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, roundCost(tc.want))
		}
	}
	if got := (Prices{}).Cost(&receipts.Receipt{WallNS: 1e9, Fuel: &receipts.Fuel{Used: 1e9}}); got != 0 {
		t.Errorf("zero prices: got %v, want 0", got)
	}
}
