package receipts

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/toolgate/toolgate/internal/canonjson"
)

// Event kinds: the registry and governance changes that are leaves of the log beside receipts. The list is open:
// any kind matching ^[a-z][a-z0-9_]{0,62}$ may be appended; these are the ones Toolgate writes.
const (
	EventModuleUploaded   = "module_uploaded"   // subject module:<digest>; attrs size
	EventVersionPublished = "version_published" // subject tool:<name>; attrs version, module, manifest
	EventPin              = "pin"               // subject tool:<name>; attrs version, module, from, seq
	EventRollback         = "rollback"          // subject tool:<name>; attrs version, module, from, seq
	EventKeyCreated       = "key_created"       // subject key:<id>; attrs name, role, …
	EventKeyDeleted       = "key_deleted"       // subject key:<id>
	EventKeyUpdated       = "key_updated"       // subject key:<id>; attrs what changed (disabled, expiry, …)
	EventSecretSet        = "secret_set"        // subject secret:<name>; never the value
	EventSecretDeleted    = "secret_deleted"    // subject secret:<name>
	// EventMasterKeyRotated: every secret is now sealed under the key of the subject, master_key:<key id>; attrs
	// resealed (how many secrets were), from (the key file's previous key id, when the CLI rotated it). The actor
	// is the local user, local:<name>: rotation works on the data directory, with no API key involved.
	EventMasterKeyRotated = "master_key_rotated"
)

// Event is a registry or governance change recorded in the log: who did what to which subject, when, and why.
// Like a receipt it is hashed in its canonical JSON, so every field is part of what the log commits to. Attrs
// hold kind-specific facts as strings and must never hold a secret value.
type Event struct {
	ID      string            `json:"id"`      // "evt_<24 hex>", see NewEventID
	Kind    string            `json:"kind"`    // one of the Event* kinds, or another ^[a-z][a-z0-9_]{0,62}$
	Subject string            `json:"subject"` // what changed: "tool:<name>", "module:<digest>", "key:<id>", "secret:<name>"
	Actor   string            `json:"actor"`   // the principal that made the change, "key:<id>"
	At      time.Time         `json:"at"`
	Reason  string            `json:"reason"`
	Attrs   map[string]string `json:"attrs"`
}

var eventKindRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// NewEventID returns a fresh event id, "evt_" and 24 hex digits: the time in nanoseconds then 4 random bytes, so
// ids sort by time like receipt ids.
func NewEventID(t time.Time) string {
	var b [12]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.UnixNano()))
	if _, err := rand.Read(b[8:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return "evt_" + hex.EncodeToString(b[:])
}

// ValidEventID reports whether id has the form NewEventID produces.
func ValidEventID(id string) bool { return validID(id, "evt_") }

// Validate checks what a store relies on: a well-formed id and kind, an actor and a time.
func (e *Event) Validate() error {
	switch {
	case !ValidEventID(e.ID):
		return fmt.Errorf("event[%s]: malformed id", e.ID)
	case !eventKindRE.MatchString(e.Kind):
		return fmt.Errorf("event[%s] kind[%s]: want ^[a-z][a-z0-9_]{0,62}$", e.ID, e.Kind)
	case e.Subject == "":
		return fmt.Errorf("event[%s]: no subject", e.ID)
	case e.Actor == "":
		return fmt.Errorf("event[%s]: no actor", e.ID)
	case e.At.IsZero():
		return fmt.Errorf("event[%s]: no time", e.ID)
	}
	return nil
}

// Canonical returns the event's canonical JSON: keys sorted, no insignificant whitespace, a nil Attrs written as
// {}, the time in RFC 3339 with nanoseconds in UTC. These are the bytes the log hashes.
func (e *Event) Canonical() ([]byte, error) {
	c := *e
	c.At = c.At.UTC()
	if c.Attrs == nil {
		c.Attrs = map[string]string{}
	}
	b, err := canonjson.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("event[%s]: %w", e.ID, err)
	}
	return b, nil
}

// DecodeEvent parses an event strictly: unknown fields are an error.
func DecodeEvent(b []byte) (*Event, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var e Event
	if err := dec.Decode(&e); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	if dec.More() {
		return nil, errors.New("decode event: trailing data")
	}
	return &e, nil
}
