// Package registry holds Toolgate's state: modules (Wasm bytes by digest), tools, their immutable versions, the
// live pin and the history of pin changes. The state lives behind the Store interface so that the embedded Badger
// store (registry/badger) can be replaced by one on a shared engine; every implementation must pass the suite in
// registry/storetest.
package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Errors returned by every Store. Callers test them with errors.Is.
var (
	// ErrNotFound: the module, tool or version does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a version is already published with a different document.
	ErrConflict = errors.New("version already published with a different document")
	// ErrNoPreviousPin: a rollback was asked for with nothing to roll back to.
	ErrNoPreviousPin = errors.New("no previous pin")
	// ErrInvalid: an argument failed validation (name, version, digest).
	ErrInvalid = errors.New("invalid")
	// ErrClaimLost: an idempotency claim was completed or released after it expired or another request took it.
	ErrClaimLost = errors.New("idempotency claim no longer held")
)

// DigestOf returns the OCI-style digest of b: "sha256:" and 64 lowercase hex digits.
func DigestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ValidDigest reports whether s is a well-formed "sha256:<64 lowercase hex>" digest.
func ValidDigest(s string) bool {
	h, ok := strings.CutPrefix(s, "sha256:")
	if !ok || len(h) != 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// ValidToolName reports whether name is a valid tool name: ^[a-z][a-z0-9-]{0,62}$. Every receipt is checked, so
// it is a loop rather than a regular expression: about 5 ns against 150 here.
func ValidToolName(name string) bool {
	if len(name) == 0 || len(name) > 63 || name[0] < 'a' || name[0] > 'z' {
		return false
	}
	for i := 1; i < len(name); i++ {
		if c := name[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// ModuleInfo describes a stored module.
type ModuleInfo struct {
	Digest    string    `json:"digest"`
	Size      int64     `json:"size"`
	Imports   []string  `json:"imports"` // "module.name" of each imported function
	Exports   []string  `json:"exports"` // names of exported functions
	CreatedAt time.Time `json:"created_at"`
}

// VersionRecord is a published version: its document (normalized, canonical JSON) and what was derived from it.
type VersionRecord struct {
	Tool        string    `json:"tool"`
	Version     string    `json:"version"`
	Module      string    `json:"module"`   // module digest, copied from the document
	Manifest    string    `json:"manifest"` // digest of Document
	Document    []byte    `json:"document"` // canonical JSON of the normalized version document
	PublishedBy string    `json:"published_by"`
	PublishedAt time.Time `json:"published_at"`
}

// Pin is what a plain invoke of a tool runs.
type Pin struct {
	Version string    `json:"version"`
	Module  string    `json:"module"`
	Actor   string    `json:"actor"`
	At      time.Time `json:"at"`
	Reason  string    `json:"reason,omitempty"`
}

// Tool is a tool's summary: its versions (ascending semver order) and pin.
type Tool struct {
	Name      string    `json:"name"`
	Versions  []string  `json:"versions"`
	Pin       *Pin      `json:"pin"`
	CreatedAt time.Time `json:"created_at"`
}

// Event kinds in a tool's history.
const (
	EventPin      = "pin"
	EventRollback = "rollback"
)

// Event is one pin change. History is append-only: a rollback is a new event, never an edit.
type Event struct {
	Seq     int64     `json:"seq"` // 1-based position in the tool's history
	Kind    string    `json:"kind"`
	Tool    string    `json:"tool"`
	Version string    `json:"version"` // the version pinned by this event
	Module  string    `json:"module"`
	From    string    `json:"from,omitempty"` // the version pinned before, if any
	Actor   string    `json:"actor"`
	At      time.Time `json:"at"`
	Reason  string    `json:"reason,omitempty"`
}

// PublishResult tells what Publish did.
type PublishResult struct {
	Created bool          // false: the identical document was already published (a no-op)
	Pinned  *Event        // non-nil when this publish pinned the tool (its first version)
	Record  VersionRecord // the stored record
}

// Store is the registry's persistent state. Every method is safe for concurrent use, and every write is durable
// (synced) before it returns.
//
// Pin semantics: pins form a stack. The first published version is pinned automatically (an EventPin with
// reason "first version"); Pin pushes a version (a no-op returning the current pin's event if it is already the
// pin); Rollback pops back to the module pinned before the current pin was set, recorded as an EventRollback, and
// fails with ErrNoPreviousPin when the stack has one entry.
type Store interface {
	// Outbox keeps the log events of the changes made with an EventPlan in their context.
	Outbox
	// PutModule stores a module's bytes once per digest (info.Digest must equal DigestOf(wasm)). created is
	// false when the digest was already stored; the stored info is then returned unchanged.
	PutModule(ctx context.Context, info ModuleInfo, wasm []byte) (stored ModuleInfo, created bool, err error)
	// Module returns a module's metadata, ErrNotFound if absent.
	Module(ctx context.Context, digest string) (ModuleInfo, error)
	// ModuleBytes returns a module's original bytes, ErrNotFound if absent.
	ModuleBytes(ctx context.Context, digest string) ([]byte, error)

	// Publish stores rec as tool@version. Republishing an identical Manifest is a no-op (Created false);
	// a different one is ErrConflict. The module must exist (ErrNotFound otherwise).
	Publish(ctx context.Context, rec VersionRecord) (PublishResult, error)
	// Version returns one published version, ErrNotFound if absent.
	Version(ctx context.Context, tool, version string) (VersionRecord, error)
	// Tool returns one tool, ErrNotFound if absent.
	Tool(ctx context.Context, name string) (Tool, error)
	// Tools lists every tool, by name.
	Tools(ctx context.Context) ([]Tool, error)

	// SetPin pins tool@version (which must be published) and records the event.
	SetPin(ctx context.Context, tool, version, actor, reason string, at time.Time) (Event, error)
	// Rollback moves the pin back to the previous pinned module and records the event.
	Rollback(ctx context.Context, tool, actor, reason string, at time.Time) (Event, error)
	// History returns the tool's pin and rollback events, oldest first.
	History(ctx context.Context, tool string) ([]Event, error)

	// Close releases the store.
	Close() error
}

// Semver is a parsed MAJOR.MINOR.PATCH[-pre] version (semver 2.0.0 without build metadata: two versions that
// differ only in build metadata would have equal precedence, so Toolgate does not accept it).
type Semver struct {
	Major, Minor, Patch uint64
	Pre                 []string
}

// ParseSemver parses a semantic version. Numeric parts have no leading zeros; a pre-release is dot-separated
// identifiers of [0-9A-Za-z-], numeric ones without leading zeros. Versions are at most 128 bytes.
func ParseSemver(s string) (Semver, error) {
	var v Semver
	if s == "" || len(s) > 128 {
		return v, errors.New("version must be 1 to 128 bytes")
	}
	rest := s
	if strings.IndexByte(rest, '+') >= 0 {
		return v, errors.New("build metadata (+...) is not accepted")
	}
	if i := strings.IndexByte(rest, '-'); i >= 0 {
		pre := rest[i+1:]
		rest = rest[:i]
		if !validIdents(pre) {
			return v, errors.New("malformed pre-release")
		}
		v.Pre = strings.Split(pre, ".")
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 3 {
		return v, errors.New("want MAJOR.MINOR.PATCH")
	}
	nums := [3]*uint64{&v.Major, &v.Minor, &v.Patch}
	for i, p := range parts {
		if !isNumeric(p) || (len(p) > 1 && p[0] == '0') {
			return v, errors.New("version numbers must be decimal without leading zeros")
		}
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return v, errors.New("version number out of range")
		}
		*nums[i] = n
	}
	return v, nil
}

func isNumeric(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func validIdents(s string) bool {
	if s == "" {
		return false
	}
	for _, id := range strings.Split(s, ".") {
		if id == "" {
			return false
		}
		for i := 0; i < len(id); i++ {
			c := id[i]
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
				return false
			}
		}
		if isNumeric(id) && len(id) > 1 && id[0] == '0' {
			return false
		}
	}
	return true
}

// CompareSemver orders two valid versions by semver precedence: -1, 0 or +1. Invalid versions sort first, by
// string.
func CompareSemver(a, b string) int {
	va, ea := ParseSemver(a)
	vb, eb := ParseSemver(b)
	if ea != nil || eb != nil {
		switch {
		case ea != nil && eb == nil:
			return -1
		case ea == nil && eb != nil:
			return 1
		}
		return strings.Compare(a, b)
	}
	for _, d := range [3][2]uint64{{va.Major, vb.Major}, {va.Minor, vb.Minor}, {va.Patch, vb.Patch}} {
		if d[0] != d[1] {
			if d[0] < d[1] {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(va.Pre) == 0 && len(vb.Pre) == 0:
		return 0
	case len(va.Pre) == 0:
		return 1
	case len(vb.Pre) == 0:
		return -1
	}
	for i := 0; i < len(va.Pre) && i < len(vb.Pre); i++ {
		x, y := va.Pre[i], vb.Pre[i]
		if x == y {
			continue
		}
		xn, yn := isNumeric(x), isNumeric(y)
		switch {
		case xn && yn:
			if len(x) != len(y) {
				if len(x) < len(y) {
					return -1
				}
				return 1
			}
			return strings.Compare(x, y)
		case xn:
			return -1
		case yn:
			return 1
		}
		return strings.Compare(x, y)
	}
	switch {
	case len(va.Pre) < len(vb.Pre):
		return -1
	case len(va.Pre) > len(vb.Pre):
		return 1
	}
	return 0
}

// Key roles.
const (
	RoleAdmin     = "admin"
	RolePublisher = "publisher"
	RoleInvoker   = "invoker"
	RoleAuditor   = "auditor"
)

// Key is an API key. The token itself is never stored: only TokenHash, the SHA-256 of the token's secret part,
// which the server compares in constant time.
type Key struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Tools     []string  `json:"tools"` // tool-name globs this key is scoped to; empty means all
	TokenHash []byte    `json:"token_hash"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	// Rate limits every request made with the key; nil: no limit.
	Rate *Rate `json:"rate,omitempty"`
	// FuelQuota caps the fuel of the key's calls per window; nil: no quota.
	FuelQuota *FuelQuota `json:"fuel_quota,omitempty"`
	// ExpiresAt is when the key stops authenticating; zero: never.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// Disabled keys do not authenticate until enabled again.
	Disabled bool `json:"disabled,omitempty"`
}

// KeyStore keeps API keys. Writes are durable before they return.
type KeyStore interface {
	// Outbox keeps the log events of the changes made with an EventPlan in their context.
	Outbox
	// PutKey stores a new key; ErrConflict if the id exists.
	PutKey(ctx context.Context, k Key) error
	// Key returns one key, ErrNotFound if absent.
	Key(ctx context.Context, id string) (Key, error)
	// Keys lists every key, by id.
	Keys(ctx context.Context) ([]Key, error)
	// DeleteKey removes a key, ErrNotFound if absent.
	DeleteKey(ctx context.Context, id string) error
	// UpdateKey replaces the stored key with k.ID by k, ErrNotFound if absent.
	UpdateKey(ctx context.Context, k Key) error
}
