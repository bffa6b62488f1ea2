// Package receipts defines the record of one call — what ran, for whom, on what, with what result, at what cost
// and through which doors — its canonical encoding, and the Store that keeps receipts durably.
package receipts

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors returned by receipt stores and decoders.
var (
	// ErrNotFound: no receipt has that id.
	ErrNotFound = errors.New("receipt not found")
	// ErrBadCursor: a list cursor was not one this store issued.
	ErrBadCursor = errors.New("malformed cursor")
)

// Call statuses. "ok" is success; every other value is also the error code the API returns.
const (
	StatusOK            = "ok"
	StatusToolError     = "tool_error"
	StatusTrap          = "trap"
	StatusOutOfFuel     = "out_of_fuel"
	StatusMemoryLimit   = "memory_limit"
	StatusOutputLimit   = "output_limit"
	StatusInputTooLarge = "input_too_large"
	StatusTimeout       = "timeout"
)

// Blob describes a byte string without holding it.
type Blob struct {
	SHA256 string `json:"sha256"` // "sha256:<hex>"
	Bytes  int64  `json:"bytes"`
}

// BlobOf describes b.
func BlobOf(b []byte) Blob {
	sum := sha256.Sum256(b)
	return Blob{SHA256: "sha256:" + hex.EncodeToString(sum[:]), Bytes: int64(len(b))}
}

// Fuel is the call's compute budget and use. Nil in a receipt when the module was not metered.
type Fuel struct {
	Limit uint64 `json:"limit"`
	Used  uint64 `json:"used"`
}

// Memory is the call's linear-memory cap and the peak it reached.
type Memory struct {
	LimitBytes uint64 `json:"limit_bytes"`
	PeakBytes  uint64 `json:"peak_bytes"`
}

// HTTPLine records one outbound request attempt through the network door, allowed or denied.
type HTTPLine struct {
	Method   string `json:"method"`
	Host     string `json:"host"`
	Path     string `json:"path"`
	Status   int    `json:"status"`
	BytesOut int64  `json:"bytes_out"`
	BytesIn  int64  `json:"bytes_in"`
	MS       int64  `json:"ms"`
	Decision string `json:"decision"` // "allowed" or "denied"
	Reason   string `json:"reason,omitempty"`
}

// Receipt is the record of one call that reached the sandbox.
type Receipt struct {
	ID             string            `json:"id"`
	Tool           string            `json:"tool"`
	Version        string            `json:"version"`
	Module         string            `json:"module"`
	Manifest       string            `json:"manifest"`
	Principal      string            `json:"principal"`
	IdempotencyKey string            `json:"idempotency_key"`
	StartedAt      time.Time         `json:"started_at"`
	WallNS         int64             `json:"wall_ns"`
	Status         string            `json:"status"`
	Error          string            `json:"error"`
	Input          Blob              `json:"input"`
	Output         Blob              `json:"output"`
	Fuel           *Fuel             `json:"fuel"`
	Memory         Memory            `json:"memory"`
	HTTP           []HTTPLine        `json:"http"`
	Secrets        map[string]string `json:"secrets"`
	Logs           int               `json:"logs"` // guest log lines captured
	Cost           float64           `json:"cost"`
}

// NewID returns a fresh receipt id, "rcpt_" and 24 hex digits: the start time in nanoseconds then 4 random
// bytes, so ids sort by time.
func NewID(t time.Time) string {
	var b [12]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.UnixNano()))
	if _, err := rand.Read(b[8:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return "rcpt_" + hex.EncodeToString(b[:])
}

// ValidID reports whether id has the form NewID produces.
func ValidID(id string) bool { return validID(id, "rcpt_") }

// validID reports whether id is prefix and then 24 lowercase hex digits. It runs on every receipt, several times,
// so it checks the digits in a loop rather than decoding them into memory it would throw away.
func validID(id, prefix string) bool {
	h, ok := strings.CutPrefix(id, prefix)
	if !ok || len(h) != 24 {
		return false
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Canonical returns the receipt's canonical JSON: object keys sorted, no insignificant whitespace, nil slices and
// maps written as [] and {}, times in RFC 3339 with nanoseconds in UTC.
func (r *Receipt) Canonical() ([]byte, error) {
	b, err := r.canonical(r.StartedAt.UTC()) // the bytes canonjson.Marshal would make, in one pass (canonical.go)
	if err != nil {
		return nil, fmt.Errorf("receipt[%s]: %w", r.ID, err)
	}
	return b, nil
}

// Decode parses a receipt strictly: unknown fields are an error.
func Decode(b []byte) (*Receipt, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var r Receipt
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("decode receipt: %w", err)
	}
	if dec.More() {
		return nil, errors.New("decode receipt: trailing data")
	}
	return &r, nil
}

// Filter selects receipts in a listing. Zero fields select everything.
type Filter struct {
	Tool   string
	Status string
	Since  time.Time // receipts started at or after
	Limit  int       // at most this many; stores cap it at 1000 and default to 100
	Cursor string    // from a previous page's next cursor
}

// Expecter is implemented by a Store that group-commits: a caller that is about to make a receipt says so first,
// so that the store knows when every receipt on its way has arrived and can commit without lingering for more.
type Expecter interface {
	// Expect returns ctx carrying the promise of one Append, to be passed to it, and a func that withdraws the
	// promise if that Append does not come. Calling the func after the Append, or twice, does nothing.
	Expect(ctx context.Context) (context.Context, func())
}

// Store keeps receipts. Append is durable (synced) before it returns: a response that names a receipt may be
// sent only after Append returned nil. Concurrent Appends are group-committed by the implementation.
type Store interface {
	Append(ctx context.Context, r *Receipt) error
	Get(ctx context.Context, id string) (*Receipt, error)
	// List returns receipts newest first, and a cursor for the next page ("" at the end).
	List(ctx context.Context, f Filter) (page []*Receipt, next string, err error)
}
