package server

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/toolgate/toolgate/registry"
)

// usageBook gathers the usage of calls in memory and writes it to the usage store in batches: every flush
// interval, before every read, and at shutdown. The receipts are the durable record of every call; the counters
// are their running sum, so a crash loses at most the last interval's counts, never a receipt.
type usageBook struct {
	store registry.UsageStore
	log   *slog.Logger

	mu      sync.Mutex
	pending map[usageBucket]*registry.Usage

	flushMu sync.Mutex // one flush at a time, so that reads after a flush see everything before it

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

type usageBucket struct {
	key, tool string
	start     int64 // bucket start, Unix seconds
}

// usageBatch caps the buckets written in one transaction.
const usageBatch = 512

func newUsageBook(store registry.UsageStore, log *slog.Logger) *usageBook {
	return &usageBook{store: store, log: log, pending: map[usageBucket]*registry.Usage{},
		stop: make(chan struct{}), done: make(chan struct{})}
}

func (u *usageBook) start(interval time.Duration) {
	go func() {
		defer close(u.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-u.stop:
				return
			case <-t.C:
				if err := u.flush(context.Background()); err != nil {
					u.log.Error("flush usage", "err", err)
				}
			}
		}
	}()
}

// close stops the flusher and writes what is pending.
func (u *usageBook) close(ctx context.Context) error {
	u.once.Do(func() { close(u.stop) })
	select {
	case <-u.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return u.flush(ctx)
}

func bucketStart(t time.Time) time.Time { return t.UTC().Truncate(registry.UsageBucket) }

// add counts one call's usage.
func (u *usageBook) add(d registry.Usage) {
	d.Start = bucketStart(d.Start)
	b := usageBucket{d.Key, d.Tool, d.Start.Unix()}
	u.mu.Lock()
	defer u.mu.Unlock()
	p := u.pending[b]
	if p == nil {
		p = &registry.Usage{Key: d.Key, Tool: d.Tool, Start: d.Start}
		u.pending[b] = p
	}
	p.Calls += d.Calls
	p.Fuel = satAdd(p.Fuel, d.Fuel)
	p.Cost += d.Cost
}

// flush writes the pending counts. What fails to be written is put back, to be tried again.
func (u *usageBook) flush(ctx context.Context) error {
	u.flushMu.Lock()
	defer u.flushMu.Unlock()
	u.mu.Lock()
	batch := make([]registry.Usage, 0, len(u.pending))
	for _, p := range u.pending {
		batch = append(batch, *p)
	}
	clear(u.pending)
	u.mu.Unlock()
	for len(batch) > 0 {
		n := min(len(batch), usageBatch)
		if err := u.store.AddUsage(ctx, batch[:n]); err != nil {
			for _, d := range batch {
				u.add(d)
			}
			return fmt.Errorf("write %d usage buckets: %w", len(batch), err)
		}
		batch = batch[n:]
	}
	return nil
}

// fuelOf returns the fuel a key used in [since, until), after flushing what is pending.
func (u *usageBook) fuelOf(ctx context.Context, key string, since, until time.Time) (uint64, error) {
	if err := u.flush(ctx); err != nil {
		return 0, err
	}
	us, err := u.store.Usage(ctx, registry.UsageFilter{Key: key, Since: since, Until: until})
	if err != nil {
		return 0, err
	}
	var fuel uint64
	for _, x := range us {
		fuel = satAdd(fuel, x.Fuel)
	}
	return fuel, nil
}

// usageRow is one key's use of one tool over the requested period.
type usageRow struct {
	Key   string  `json:"key"`
	Tool  string  `json:"tool"`
	Calls uint64  `json:"calls"`
	Fuel  uint64  `json:"fuel"`
	Cost  float64 `json:"cost"`
}

// getUsage answers GET /v1/usage?key=&tool=&since=&until=: calls, fuel and cost per key and tool, summed over
// the hourly buckets from since (rounded down to the hour) to until (exclusive), with their total.
func (s *Server) getUsage(c *fiber.Ctx) error {
	f := registry.UsageFilter{Key: c.Query("key"), Tool: c.Query("tool")}
	if f.Key != "" && !validKeyID(f.Key) {
		return apiErr(http.StatusBadRequest, CodeInvalidRequest, "key ids are 16 lowercase hex digits")
	}
	if f.Tool != "" && !registry.ValidToolName(f.Tool) {
		return apiErr(http.StatusBadRequest, CodeInvalidName, "tool names match ^[a-z][a-z0-9-]{0,62}$")
	}
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := c.Query(name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return apiErr(http.StatusBadRequest, CodeInvalidRequest, name+" must be an RFC 3339 time")
			}
			*dst = t
		}
	}
	ctx := c.UserContext()
	if err := s.gov.usage.flush(ctx); err != nil {
		return err
	}
	buckets, err := s.gov.usage.store.Usage(ctx, f)
	if err != nil {
		return err
	}
	rows := []usageRow{}
	index := map[[2]string]int{}
	var total usageRow
	for _, b := range buckets {
		i, ok := index[[2]string{b.Key, b.Tool}]
		if !ok {
			i = len(rows)
			index[[2]string{b.Key, b.Tool}] = i
			rows = append(rows, usageRow{Key: b.Key, Tool: b.Tool})
		}
		rows[i].Calls += b.Calls
		rows[i].Fuel = satAdd(rows[i].Fuel, b.Fuel)
		rows[i].Cost += b.Cost
		total.Calls += b.Calls
		total.Fuel = satAdd(total.Fuel, b.Fuel)
		total.Cost += b.Cost
	}
	for i := range rows {
		rows[i].Cost = roundCost(rows[i].Cost)
	}
	sort.Slice(rows, func(i, j int) bool {
		return rows[i].Key < rows[j].Key || rows[i].Key == rows[j].Key && rows[i].Tool < rows[j].Tool
	})
	body := fiber.Map{"usage": rows, "total": fiber.Map{"calls": total.Calls, "fuel": total.Fuel,
		"cost": roundCost(total.Cost)}}
	if !f.Since.IsZero() {
		body["since"] = bucketStart(f.Since)
	}
	if !f.Until.IsZero() {
		body["until"] = bucketStart(f.Until)
	}
	return c.JSON(body)
}

func roundCost(c float64) float64 { return math.Round(c*1e9) / 1e9 }
