package server

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/toolgate/toolgate/registry"
)

// bucket is a token bucket on the server's clock. It starts full.
type bucket struct {
	mu     sync.Mutex
	rate   registry.Rate
	tokens float64
	last   time.Time
}

func newBucket(r registry.Rate, now time.Time) *bucket {
	return &bucket{rate: r, tokens: float64(r.Burst), last: now}
}

// refill adds the tokens earned since the last call. Called with mu held.
func (b *bucket) refill(now time.Time) {
	if now.After(b.last) {
		b.tokens = min(float64(b.rate.Burst), b.tokens+now.Sub(b.last).Seconds()*b.rate.RPS)
		b.last = now
	}
}

// take takes one token, or reports how long until one is there.
func (b *bucket) take(now time.Time) (wait time.Duration, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(now)
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	return time.Duration((1 - b.tokens) / b.rate.RPS * float64(time.Second)), false
}

// full reports whether the bucket has refilled completely, so that forgetting it changes nothing.
func (b *bucket) full(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(now)
	return b.tokens >= float64(b.rate.Burst)
}

// toolGate is one tool's bucket and count of running calls.
type toolGate struct {
	bucket  *bucket // nil: no rate limit
	max     int     // 0: no cap
	running int     // guarded by limiter.mu
}

// limiter holds the token buckets of keys and tools, and the tools' running-call counts. State is in memory:
// a restart refills every bucket.
type limiter struct {
	mu    sync.Mutex
	keys  map[string]*bucket
	tools map[string]*toolGate
	rules []ToolLimit
}

// maxToolGates bounds the tool gates kept: past it, idle gates (no call running, bucket full) are forgotten.
const maxToolGates = 10_000

func newLimiter(rules []ToolLimit) *limiter {
	return &limiter{keys: map[string]*bucket{}, tools: map[string]*toolGate{}, rules: rules}
}

// takeKey takes a token from the key's bucket; a key without a rate always passes.
func (l *limiter) takeKey(k registry.Key, now time.Time) (time.Duration, bool) {
	if k.Rate == nil {
		return 0, true
	}
	l.mu.Lock()
	b := l.keys[k.ID]
	if b == nil || b.rate != *k.Rate {
		b = newBucket(*k.Rate, now)
		l.keys[k.ID] = b
	}
	l.mu.Unlock()
	return b.take(now)
}

// forgetKey drops a deleted key's bucket.
func (l *limiter) forgetKey(id string) {
	l.mu.Lock()
	delete(l.keys, id)
	l.mu.Unlock()
}

// rule returns the first tool limit whose glob matches tool.
func (l *limiter) rule(tool string) (ToolLimit, bool) {
	for _, r := range l.rules {
		if matchGlob(r.Tool, tool) {
			return r, true
		}
	}
	return ToolLimit{}, false
}

// enterTool admits a call of tool under its concurrency cap and rate, in that order (a call refused for
// concurrency takes no token). done must be called when the call ends.
func (l *limiter) enterTool(tool string, now time.Time) (done func(), wait time.Duration, err *APIError) {
	rule, ok := l.rule(tool)
	if !ok {
		return func() {}, 0, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	g := l.tools[tool]
	if g == nil {
		if len(l.tools) >= maxToolGates {
			l.pruneLocked(now)
		}
		g = &toolGate{max: rule.MaxConcurrent}
		if rule.Rate != nil {
			g.bucket = newBucket(*rule.Rate, now)
		}
		l.tools[tool] = g
	}
	if g.max > 0 && g.running >= g.max {
		return nil, time.Second, apiErr(http.StatusTooManyRequests, CodeRateLimited,
			fmt.Sprintf("tool %s has %d calls running, its limit", tool, g.max))
	}
	if g.bucket != nil {
		if w, ok := g.bucket.take(now); !ok {
			return nil, w, apiErr(http.StatusTooManyRequests, CodeRateLimited,
				fmt.Sprintf("tool %s's rate limit is reached", tool))
		}
	}
	g.running++
	return func() {
		l.mu.Lock()
		g.running--
		l.mu.Unlock()
	}, 0, nil
}

// pruneLocked forgets idle tool gates. Called with mu held.
func (l *limiter) pruneLocked(now time.Time) {
	for name, g := range l.tools {
		if g.running == 0 && (g.bucket == nil || g.bucket.full(now)) {
			delete(l.tools, name)
		}
	}
}

// quotaBook tracks each key's fuel in its current quota window. A key's count is loaded from the usage store
// the first time the key is checked in a window, then kept up to date in memory as its calls are charged.
type quotaBook struct {
	usage *usageBook
	mu    sync.Mutex
	keys  map[string]*quotaState
}

type quotaState struct {
	mu     sync.Mutex
	loaded bool
	window time.Time // start of the window that fuel counts
	fuel   uint64
}

func newQuotaBook(u *usageBook) *quotaBook {
	return &quotaBook{usage: u, keys: map[string]*quotaState{}}
}

func (q *quotaBook) state(id string) *quotaState {
	q.mu.Lock()
	defer q.mu.Unlock()
	st := q.keys[id]
	if st == nil {
		st = &quotaState{}
		q.keys[id] = st
	}
	return st
}

func (q *quotaBook) forget(id string) {
	q.mu.Lock()
	delete(q.keys, id)
	q.mu.Unlock()
}

// check refuses a call when the key has used its whole quota in the current window; wait is the time until the
// window ends. A call is admitted while any quota remains, and is charged what it used afterwards, so a window's
// use can pass the quota by what the calls admitted last used.
func (q *quotaBook) check(ctx context.Context, k registry.Key, now time.Time) (wait time.Duration, err error) {
	if k.FuelQuota == nil {
		return 0, nil
	}
	fq := *k.FuelQuota
	start := fq.WindowStart(now)
	st := q.state(k.ID)
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.loaded || !st.window.Equal(start) {
		used, err := q.usage.fuelOf(ctx, k.ID, start, start.Add(fq.Window))
		if err != nil {
			return 0, fmt.Errorf("load fuel quota of key[%s]: %w", k.ID, err)
		}
		st.loaded, st.window, st.fuel = true, start, used
	}
	if st.fuel >= fq.Fuel {
		return start.Add(fq.Window).Sub(now), apiErr(http.StatusTooManyRequests, CodeQuotaExceeded,
			fmt.Sprintf("this key has used its fuel quota of %d for the window that started at %s", fq.Fuel,
				start.Format(time.RFC3339)))
	}
	return 0, nil
}

// charge records a finished call's use: in the key's quota window (if it is the one loaded) and in the usage
// counters, both under the key's quota lock so that a concurrent load never counts it twice.
func (q *quotaBook) charge(k registry.Key, d registry.Usage) {
	st := q.state(k.ID)
	st.mu.Lock()
	defer st.mu.Unlock()
	if k.FuelQuota != nil && st.loaded && st.window.Equal(k.FuelQuota.WindowStart(d.Start)) {
		st.fuel = satAdd(st.fuel, d.Fuel)
	}
	q.usage.add(d)
}

func satAdd(a, b uint64) uint64 {
	if a+b < a {
		return ^uint64(0)
	}
	return a + b
}

// admit is the invoke middleware after idempotency (a replay runs nothing and is not limited): the key's fuel
// quota, then the tool's concurrency cap and rate. After the call it charges the call's use to the key.
func (s *Server) admit(c *fiber.Ctx) error {
	k := keyOf(c)
	tool := c.Params("name")
	if !registry.ValidToolName(tool) {
		return c.Next() // the handler answers invalid_name
	}
	now := s.now()
	wait, err := s.gov.quotas.check(c.UserContext(), k, now)
	if ae, ok := err.(*APIError); ok {
		retryAfter(c, wait)
		return s.gov.reject(ae)
	}
	if err != nil {
		return err
	}
	done, wait, ae := s.gov.limits.enterTool(tool, now)
	if ae != nil {
		retryAfter(c, wait)
		return s.gov.reject(ae)
	}
	defer done()
	err = c.Next()
	if r := receiptOf(c); r != nil {
		var fuel uint64
		if r.Fuel != nil {
			fuel = r.Fuel.Used
		}
		s.gov.quotas.charge(k, registry.Usage{Key: k.ID, Tool: r.Tool, Start: r.StartedAt, Calls: 1, Fuel: fuel,
			Cost: r.Cost})
	}
	return err
}
