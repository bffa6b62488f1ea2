package server

// Governance is who may do what (authz.go), how often and how much (limits.go), what it cost (usage.go), and
// which calls are safe to retry (idempotency.go). This file wires them together.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/toolgate/toolgate/receipts"
	"github.com/toolgate/toolgate/registry"
)

// Governance error codes, beyond those in errors.go.
const (
	CodeRateLimited            = "rate_limited"
	CodeQuotaExceeded          = "quota_exceeded"
	CodeIdempotencyKeyReused   = "idempotency_key_reused"
	CodeIdempotencyKeyInFlight = "idempotency_key_in_flight"
	// CodeIdempotencyResponseNotKept: a retry of a call whose response was too large to keep; it did run.
	CodeIdempotencyResponseNotKept = "idempotency_response_not_kept"
	CodeLastAdminKey               = "last_admin_key"
)

// DefaultIdempotencyTTL is how long a call's response is kept for replay when Config.IdempotencyTTL is 0.
const DefaultIdempotencyTTL = 24 * time.Hour

const (
	defaultUsageFlushInterval = 250 * time.Millisecond
	localReceipt              = "receipt"
	// idempotencyLeaseMargin is how long an in-flight idempotency claim outlives the longest call, so that a claim
	// whose server died frees its key by itself.
	idempotencyLeaseMargin = time.Minute
)

// ToolLimit bounds the calls of every tool whose name matches Tool, a path.Match glob ("*" is every tool). Each
// matching tool gets its own bucket and its own cap: the glob selects tools, it does not pool them.
type ToolLimit struct {
	Tool string
	// Rate is the tool's token bucket, shared by all keys; nil: no rate limit.
	Rate *registry.Rate
	// MaxConcurrent caps the tool's calls running at once; 0: no cap. A call over the cap is refused at once
	// (429 rate_limited), not queued.
	MaxConcurrent int
}

// ParseToolLimit parses the --tool-limit flag's syntax: "GLOB:rps=N,burst=M,concurrency=C", any of the three
// settings optional (burst defaults to rps rounded up, at least 1). Example: "pay-*:rps=5,burst=10,concurrency=2".
func ParseToolLimit(s string) (ToolLimit, error) {
	glob, settings, ok := strings.Cut(s, ":")
	if !ok || glob == "" || settings == "" {
		return ToolLimit{}, fmt.Errorf("tool limit %q: want GLOB:rps=N,burst=M,concurrency=C", s)
	}
	l := ToolLimit{Tool: glob}
	var rps float64
	var burst int
	for _, kv := range strings.Split(settings, ",") {
		k, v, _ := strings.Cut(kv, "=")
		var err error
		switch strings.TrimSpace(k) {
		case "rps":
			rps, err = strconv.ParseFloat(v, 64)
		case "burst":
			burst, err = strconv.Atoi(v)
		case "concurrency":
			l.MaxConcurrent, err = strconv.Atoi(v)
		default:
			return ToolLimit{}, fmt.Errorf("tool limit %q: unknown setting %q (want rps, burst, concurrency)", s, k)
		}
		if err != nil {
			return ToolLimit{}, fmt.Errorf("tool limit %q: %s: not a number", s, k)
		}
	}
	if rps != 0 || burst != 0 {
		l.Rate = &registry.Rate{RPS: rps, Burst: burst}
		if burst == 0 {
			l.Rate.Burst = defaultBurst(rps)
		}
	}
	return l, l.validate()
}

func (l ToolLimit) validate() error {
	if !registry.ValidScope(l.Tool) {
		return fmt.Errorf("tool limit glob %q: malformed", l.Tool)
	}
	if l.Rate != nil {
		if err := l.Rate.Validate(); err != nil {
			return fmt.Errorf("tool limit %s: %w", l.Tool, err)
		}
	}
	if l.MaxConcurrent < 0 {
		return fmt.Errorf("tool limit %s: concurrency must not be negative", l.Tool)
	}
	return nil
}

// defaultBurst is the burst of a rate given without one: a second's worth of requests, at least one.
func defaultBurst(rps float64) int {
	if rps >= 1e6 {
		return 1e6
	}
	return max(1, int(math.Ceil(rps)))
}

// Prices turn what a call used into the cost in its receipt: cost = fuel/1e6 × FuelPerMillion + wall ms × PerMS
// + (bytes sent + received through the network door)/1e6 × EgressPerMB, rounded to 1e-9. Each defaults to 0.
type Prices struct {
	FuelPerMillion float64
	PerMS          float64
	EgressPerMB    float64
}

func (p Prices) validate() error {
	for name, v := range map[string]float64{"fuel": p.FuelPerMillion, "ms": p.PerMS, "egress": p.EgressPerMB} {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return fmt.Errorf("price %s[%v]: must be finite and not negative", name, v)
		}
	}
	return nil
}

// Cost prices a receipt: fuel used, wall time and egress bytes are all in it, so anyone with the prices can
// recompute it.
func (p Prices) Cost(r *receipts.Receipt) float64 {
	var fuel uint64
	if r.Fuel != nil {
		fuel = r.Fuel.Used
	}
	var egress int64
	for _, h := range r.HTTP {
		egress += h.BytesOut + h.BytesIn
	}
	return roundCost(float64(fuel)/1e6*p.FuelPerMillion + float64(r.WallNS)/1e6*p.PerMS +
		float64(egress)/1e6*p.EgressPerMB)
}

// governance is the server's state for keys, limits, usage and idempotency.
type governance struct {
	idem     registry.IdempotencyStore
	idemTTL  time.Duration
	lease    time.Duration // how long an in-flight idempotency claim holds its key: the longest call, and a margin
	usage    *usageBook
	limits   *limiter
	quotas   *quotaBook
	prices   Prices
	routes   routeTable
	rejected *prometheus.CounterVec
	replays  prometheus.Counter
	keyMu    sync.Mutex // serializes key deletes and disables, which must not remove the last active admin key
}

func newGovernance(cfg Config, s *Server) (*governance, error) {
	idem, usage := cfg.Idempotency, cfg.Usage
	if idem == nil {
		idem, _ = cfg.Store.(registry.IdempotencyStore)
	}
	if usage == nil {
		usage, _ = cfg.Store.(registry.UsageStore)
	}
	if idem == nil || usage == nil {
		return nil, errors.New("server: Idempotency and Usage are required when Store does not implement them")
	}
	for _, l := range cfg.ToolLimits {
		if err := l.validate(); err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
	}
	if err := cfg.Prices.validate(); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	g := &governance{
		idem: idem, idemTTL: DefaultIdempotencyTTL, prices: cfg.Prices,
		lease:  time.Duration(s.policy.Ceilings.TimeoutMS)*time.Millisecond + idempotencyLeaseMargin,
		usage:  newUsageBook(usage, s.log),
		limits: newLimiter(cfg.ToolLimits),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "toolgate_rejected_total",
			Help: "Requests refused by governance before running anything, by error code.",
		}, []string{"code"}),
		replays: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "toolgate_idempotent_replays_total",
			Help: "Invokes answered from a stored response (Idempotent-Replayed: true).",
		}),
	}
	if cfg.IdempotencyTTL > 0 {
		g.idemTTL = cfg.IdempotencyTTL
	}
	g.quotas = newQuotaBook(g.usage)
	s.metrics.reg.MustRegister(g.rejected, g.replays)
	g.usage.start(defaultUsageFlushInterval)
	return g, nil
}

// close flushes the usage counters and stops the flusher.
func (g *governance) close(ctx context.Context) error { return g.usage.close(ctx) }

// reject counts a refusal and returns it.
func (g *governance) reject(e *APIError) *APIError {
	g.rejected.WithLabelValues(e.Code).Inc()
	return e
}

// governanceRoutes adds the routes of keys and usage.
func (s *Server) governanceRoutes(v1 fiber.Router) {
	v1.Post("/keys", s.createKey)
	v1.Get("/keys", s.listKeys)
	v1.Get("/keys/:id", s.getKey)
	v1.Delete("/keys/:id", s.deleteKey)
	v1.Post("/keys/:id/disable", s.disableKey)
	v1.Post("/keys/:id/enable", s.enableKey)
	v1.Get("/usage", s.getUsage)
}

// keyOf returns the authenticated key of a request.
func keyOf(c *fiber.Ctx) registry.Key {
	k, _ := c.Locals(localPrincipal).(registry.Key)
	return k
}

// meter prices a call's receipt and keeps it on the request, where the admission middleware charges its usage.
func (s *Server) meter(c *fiber.Ctx, r *receipts.Receipt) {
	r.Cost = s.gov.prices.Cost(r)
	c.Locals(localReceipt, r)
}

func receiptOf(c *fiber.Ctx) *receipts.Receipt {
	r, _ := c.Locals(localReceipt).(*receipts.Receipt)
	return r
}

// retryAfter sets Retry-After to d in whole seconds, rounded up, at least 1.
func retryAfter(c *fiber.Ctx, d time.Duration) {
	secs := max(1, int64(math.Ceil(d.Seconds())))
	c.Set(fiber.HeaderRetryAfter, strconv.FormatInt(secs, 10))
}

// inScope filters tools to those the key's scopes admit.
func inScope(k registry.Key, tools []registry.Tool) []registry.Tool {
	if len(k.Tools) == 0 || k.Role == registry.RoleAdmin {
		return tools
	}
	out := make([]registry.Tool, 0, len(tools))
	for _, t := range tools {
		if k.InScope(t.Name) {
			out = append(out, t)
		}
	}
	return out
}

// matchGlob is path.Match without the error: a malformed glob matches nothing (globs are validated on entry).
func matchGlob(glob, name string) bool {
	ok, err := path.Match(glob, name)
	return err == nil && ok
}
