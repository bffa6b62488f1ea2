package registry

import (
	"context"
	"time"
)

// MaxSecretBytes caps a secret's value.
const MaxSecretBytes = 64 << 10

// ValidSecretName reports whether name can name a secret: [A-Za-z_][A-Za-z0-9_]*, at most 128 bytes, the same
// rule a version document's secret grants follow.
func ValidSecretName(name string) bool { return secretNameRE.MatchString(name) }

// SealedSecret is a secret as a SecretStore keeps it: the value is sealed (encrypted and authenticated) before
// it reaches the store, which never sees plaintext.
type SealedSecret struct {
	Name      string    `json:"name"`
	Sealed    []byte    `json:"sealed"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// SecretInfo is what a listing of secrets shows: names and times, never values.
type SecretInfo struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// SecretStore keeps sealed secrets. Every method is safe for concurrent use and every write is durable before it
// returns. Names must satisfy ValidSecretName (else ErrInvalid).
type SecretStore interface {
	// Outbox keeps the log events of the changes made with an EventPlan in their context.
	Outbox
	// PutSecret stores s, replacing a secret of the same name; created reports whether it is new. A replaced
	// secret keeps its CreatedAt; UpdatedAt is taken from s.
	PutSecret(ctx context.Context, s SealedSecret) (stored SecretInfo, created bool, err error)
	// SealedSecret returns one secret, ErrNotFound if absent.
	SealedSecret(ctx context.Context, name string) (SealedSecret, error)
	// Secrets lists every secret by name, without values.
	Secrets(ctx context.Context) ([]SecretInfo, error)
	// DeleteSecret removes a secret, ErrNotFound if absent.
	DeleteSecret(ctx context.Context, name string) error
	// ResealSecrets calls fn on every stored secret and, when fn returns changed, replaces its sealed bytes with
	// out, atomically with respect to a concurrent PutSecret or DeleteSecret of the same name (a master-key
	// rotation). It returns how many it replaced; an error from fn stops it (replacements already made stay).
	ResealSecrets(ctx context.Context, fn func(name string, sealed []byte) (out []byte, changed bool, err error)) (int, error)
}
