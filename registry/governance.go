package registry

import (
	"context"
	"fmt"
	"math"
	"path"
	"strings"
	"time"
)

// Rate is a token bucket: Burst tokens at most, refilled at RPS tokens per second; each request takes one.
type Rate struct {
	RPS   float64 `json:"rps"`
	Burst int     `json:"burst"`
}

// Validate checks that the bucket can ever admit a request: RPS in (0, 1e6], Burst in [1, 1e6].
func (r Rate) Validate() error {
	switch {
	case math.IsNaN(r.RPS) || r.RPS <= 0 || r.RPS > 1e6:
		return fmt.Errorf("rate rps[%v]: must be in (0, 1000000]: %w", r.RPS, ErrInvalid)
	case r.Burst < 1 || r.Burst > 1e6:
		return fmt.Errorf("rate burst[%d]: must be in [1, 1000000]: %w", r.Burst, ErrInvalid)
	}
	return nil
}

// FuelQuota caps the fuel a key's calls may use per window. Windows are fixed and aligned to the Unix epoch (a
// 24h window is a UTC day), so everyone can tell when one resets.
type FuelQuota struct {
	Fuel   uint64        `json:"fuel"`
	Window time.Duration `json:"window"` // a whole number of hours, from 1h to MaxQuotaWindow
}

// MaxQuotaWindow is the longest fuel-quota window: 366 days.
const MaxQuotaWindow = 366 * 24 * time.Hour

// Validate checks the quota: some fuel, and a window of whole hours from 1h to MaxQuotaWindow (usage is kept in
// hourly buckets, so a window is a whole number of them).
func (q FuelQuota) Validate() error {
	switch {
	case q.Fuel == 0:
		return fmt.Errorf("fuel quota: fuel must be positive: %w", ErrInvalid)
	case q.Window < time.Hour || q.Window > MaxQuotaWindow || q.Window%time.Hour != 0:
		return fmt.Errorf("fuel quota window[%s]: must be whole hours from 1h to %s: %w", q.Window,
			MaxQuotaWindow, ErrInvalid)
	}
	return nil
}

// WindowStart returns the start of the quota window that t falls in.
func (q FuelQuota) WindowStart(t time.Time) time.Time {
	w := int64(q.Window / time.Second)
	s := t.Unix()
	start := s - ((s%w)+w)%w
	return time.Unix(start, 0).UTC()
}

// ValidRole reports whether role is one of the four key roles.
func ValidRole(role string) bool {
	switch role {
	case RoleAdmin, RolePublisher, RoleInvoker, RoleAuditor:
		return true
	}
	return false
}

// ValidScope reports whether glob is a usable tool scope: 1 to 128 bytes, no '/', and a well-formed
// path.Match pattern ('*' any run of characters, '?' one, '[a-z]' a class, '\\' escapes).
func ValidScope(glob string) bool {
	if glob == "" || len(glob) > 128 || strings.ContainsRune(glob, '/') {
		return false
	}
	_, err := path.Match(glob, "x")
	return err == nil
}

// InScope reports whether the key's tool scopes admit tool: no scopes admits every tool, otherwise one glob must
// match the whole name (path.Match).
func (k Key) InScope(tool string) bool {
	if len(k.Tools) == 0 {
		return true
	}
	for _, g := range k.Tools {
		if ok, err := path.Match(g, tool); err == nil && ok {
			return true
		}
	}
	return false
}

// Key states, as Key.State reports them.
const (
	KeyActive   = "active"
	KeyDisabled = "disabled"
	KeyExpired  = "expired"
)

// State tells whether the key may authenticate at now: active, disabled, or expired (ExpiresAt passed).
func (k Key) State(now time.Time) string {
	switch {
	case k.Disabled:
		return KeyDisabled
	case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
		return KeyExpired
	}
	return KeyActive
}

// IdempotencyRecord is what an Idempotency-Key holds: while its first request runs, a claim (Done false); after
// that, the response to replay (Done true). Records vanish at ExpiresAt.
type IdempotencyRecord struct {
	// Key identifies the record: the server scopes it to an API key and a tool. 1 to 1024 bytes.
	Key string `json:"key"`
	// Fingerprint identifies the request (what it runs and on what input); a retry must match it.
	Fingerprint string `json:"fingerprint"`
	// Claim is the random id of the request that made the record.
	Claim     string    `json:"claim"`
	Done      bool      `json:"done"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// Response is the stored answer, set when Done.
	Response *StoredResponse `json:"response,omitempty"`
}

// StoredResponse is an HTTP answer kept for replay.
type StoredResponse struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    []byte            `json:"body"`
	Receipt string            `json:"receipt"`
}

// MaxIdempotencyKeyBytes bounds IdempotencyRecord.Key.
const MaxIdempotencyKeyBytes = 1024

// IdempotencyStore keeps Idempotency-Key records until they expire. Every method is safe for concurrent use and
// every write is durable before it returns. A record whose ExpiresAt is not after now is treated as absent
// (stores may also drop it then).
type IdempotencyStore interface {
	// BeginIdempotency stores rec (Done false) if no unexpired record holds rec.Key, and reports claimed true.
	// Otherwise it writes nothing and returns the record that holds the key, with claimed false.
	BeginIdempotency(ctx context.Context, rec IdempotencyRecord, now time.Time) (held IdempotencyRecord, claimed bool, err error)
	// CompleteIdempotency replaces the in-flight record of rec.Claim with rec (Done true, Response set).
	// ErrClaimLost if rec.Key is no longer held by that claim.
	CompleteIdempotency(ctx context.Context, rec IdempotencyRecord, now time.Time) error
	// ReleaseIdempotency deletes the in-flight record of claim, for a request that ended without a response to
	// keep. ErrClaimLost if key is not held in flight by claim.
	ReleaseIdempotency(ctx context.Context, key, claim string) error
	// Idempotency returns the unexpired record of key, ErrNotFound if there is none.
	Idempotency(ctx context.Context, key string, now time.Time) (IdempotencyRecord, error)
}

// Usage is what calls of one key on one tool used: the sum of UsageBucket-long buckets starting at Start.
type Usage struct {
	Key   string    `json:"key"`
	Tool  string    `json:"tool"`
	Start time.Time `json:"start"`
	Calls uint64    `json:"calls"`
	Fuel  uint64    `json:"fuel"`
	Cost  float64   `json:"cost"`
}

// UsageBucket is the granularity of stored usage: one hour, aligned to the Unix epoch.
const UsageBucket = time.Hour

// UsageFilter selects usage buckets; zero fields select everything. Since and Until are rounded down to a
// bucket start; a bucket is selected when Since <= Start < Until.
type UsageFilter struct {
	Key   string
	Tool  string
	Since time.Time
	Until time.Time
}

// UsageStore keeps per key, per tool, per hour counters of calls, fuel and cost. Safe for concurrent use;
// writes are durable before they return.
type UsageStore interface {
	// AddUsage adds each delta to the counters of its key, tool and bucket (Start rounded down), in one
	// transaction: all of them or none.
	AddUsage(ctx context.Context, deltas []Usage) error
	// Usage returns the selected buckets, ordered by key, tool and start.
	Usage(ctx context.Context, f UsageFilter) ([]Usage, error)
}
