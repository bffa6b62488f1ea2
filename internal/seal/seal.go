// Package seal encrypts secret values at rest. A value is sealed with AES-256-GCM under a 32-byte master key,
// with a fresh random nonce per seal and the secret's name as additional authenticated data, so a sealed value
// copied under another name does not open. The store only ever holds sealed bytes; the master key lives in the
// environment (TOOLGATE_MASTER_KEY) or in a key file in the data directory (master.key, mode 0600), never in the
// store.
//
// Sealed format (version 1): 0x01, the key id (8 bytes: a digest of the key, so a value names the key that
// opens it without revealing it), the 12-byte nonce, then the GCM ciphertext and tag.
package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the size of a master key in bytes.
const KeySize = 32

const (
	version   = 1
	idSize    = 8
	nonceSize = 12
	tagSize   = 16
	// Overhead is how many bytes sealing adds to a value.
	Overhead = 1 + idSize + nonceSize + tagSize
)

// Errors of sealing and opening.
var (
	// ErrBadKey: a master key is not 32 bytes, base64-encoded.
	ErrBadKey = errors.New("master key must be 32 bytes, base64-encoded")
	// ErrUnknownKey: a value was sealed under a master key that is not in the keyring.
	ErrUnknownKey = errors.New("sealed under a master key this server does not have")
	// ErrCorrupt: a sealed value is malformed, was modified, or was sealed for another name.
	ErrCorrupt = errors.New("sealed value is corrupt or belongs to another name")
)

// Key is one master key. It is safe for concurrent use.
type Key struct {
	id   [idSize]byte
	aead cipher.AEAD
}

// NewKey returns the key with raw bytes raw, which must be KeySize bytes long.
func NewKey(raw []byte) (*Key, error) {
	if len(raw) != KeySize {
		return nil, ErrBadKey
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	k := &Key{aead: aead}
	// The id is a digest of the key under a fixed label: it identifies the key without revealing anything
	// usable about it.
	sum := sha256.Sum256(append([]byte("toolgate master key id\x00"), raw...))
	copy(k.id[:], sum[:idSize])
	return k, nil
}

// ParseKey decodes a base64 master key (standard or URL alphabet, padded or not), as TOOLGATE_MASTER_KEY and
// the key file hold it. Surrounding white space is ignored.
func ParseKey(s string) (*Key, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding,
		base64.RawURLEncoding} {
		if raw, err := enc.DecodeString(s); err == nil && len(raw) == KeySize {
			return NewKey(raw)
		}
	}
	return nil, ErrBadKey
}

// GenerateKey returns a fresh random key and its base64 (standard, padded) encoding.
func GenerateKey() (*Key, string) {
	raw := make([]byte, KeySize)
	if _, err := rand.Read(raw); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	k, err := NewKey(raw)
	if err != nil {
		panic(err) // the size is right
	}
	return k, base64.StdEncoding.EncodeToString(raw)
}

// ID returns the key's id in hex: safe to log, it says which key sealed a value.
func (k *Key) ID() string { return hex.EncodeToString(k.id[:]) }

// Seal encrypts value for the secret called name.
func (k *Key) Seal(name string, value []byte) []byte {
	out := make([]byte, 1+idSize+nonceSize, Overhead+len(value))
	out[0] = version
	copy(out[1:], k.id[:])
	nonce := out[1+idSize:]
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	return k.aead.Seal(out, nonce, value, []byte(name))
}

func (k *Key) open(name string, sealed []byte) ([]byte, error) {
	nonce := sealed[1+idSize : 1+idSize+nonceSize]
	v, err := k.aead.Open(nil, nonce, sealed[1+idSize+nonceSize:], []byte(name))
	if err != nil {
		return nil, ErrCorrupt
	}
	return v, nil
}

// KeyID returns the id (hex) of the key a sealed value names, and false if the value is malformed.
func KeyID(sealed []byte) (string, bool) {
	if len(sealed) < Overhead || sealed[0] != version {
		return "", false
	}
	return hex.EncodeToString(sealed[1 : 1+idSize]), true
}

// Keyring is the current master key, which seals, and previous keys, which only open. It is immutable and safe
// for concurrent use.
type Keyring struct {
	current  *Key
	previous []*Key
}

// NewKeyring returns a keyring that seals under current and opens values sealed under current or previous.
func NewKeyring(current *Key, previous ...*Key) *Keyring {
	return &Keyring{current: current, previous: previous}
}

// Current returns the key that seals.
func (r *Keyring) Current() *Key { return r.current }

// Seal encrypts value for the secret called name under the current key.
func (r *Keyring) Seal(name string, value []byte) []byte { return r.current.Seal(name, value) }

// Open decrypts a value sealed for name under any key of the ring. The error wraps ErrCorrupt or ErrUnknownKey;
// it never contains the value.
func (r *Keyring) Open(name string, sealed []byte) ([]byte, error) {
	if len(sealed) < Overhead || sealed[0] != version {
		return nil, ErrCorrupt
	}
	id := sealed[1 : 1+idSize]
	for _, k := range append([]*Key{r.current}, r.previous...) {
		if bytes.Equal(k.id[:], id) {
			return k.open(name, sealed)
		}
	}
	return nil, fmt.Errorf("key id %x: %w", id, ErrUnknownKey)
}

// Stale reports whether sealed is not sealed under the current key, so a rotation must reseal it.
func (r *Keyring) Stale(sealed []byte) bool {
	return len(sealed) < Overhead || !bytes.Equal(sealed[1:1+idSize], r.current.id[:])
}

// Reseal opens a value sealed for name under any key of the ring and seals it again under the current key. A
// value already under the current key is returned as it is (changed false).
func (r *Keyring) Reseal(name string, sealed []byte) (out []byte, changed bool, err error) {
	if !r.Stale(sealed) {
		return sealed, false, nil
	}
	v, err := r.Open(name, sealed)
	if err != nil {
		return nil, false, err
	}
	out = r.Seal(name, v)
	clear(v)
	return out, true, nil
}
