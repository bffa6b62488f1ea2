package tlog

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// Files of the log's key in the server's data directory.
const (
	// KeyFile holds the private signer key (mode 0600), in x/mod/sumdb/note's "PRIVATE+KEY+…" encoding.
	KeyFile = "log.key"
	// PubFile holds the public verifier key (mode 0644), "<name>+<hash>+<base64>": what an auditor needs.
	PubFile = "log.pub"
	// DefaultKeyName is the name in a new key and so in every checkpoint's signature line.
	DefaultKeyName = "toolgate-log"
)

// Signer signs checkpoints with an Ed25519 key. It is safe for concurrent use.
type Signer struct {
	signer note.Signer
	vkey   string
}

// GenerateSigner makes a new key named name and returns the signer and its private key encoding (to store).
func GenerateSigner(name string) (s *Signer, skey string, err error) {
	skey, _, err = note.GenerateKey(rand.Reader, name)
	if err != nil {
		return nil, "", fmt.Errorf("generate log key name[%s]: %w", name, err)
	}
	s, err = NewSigner(skey)
	return s, skey, err
}

// NewSigner parses a private signer key ("PRIVATE+KEY+<name>+<hash>+<base64>") and derives its verifier key.
func NewSigner(skey string) (*Signer, error) {
	skey = strings.TrimSpace(skey)
	ns, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("log signer key: %w", err)
	}
	// note.NewSigner checked the format; the last field is base64 of the algorithm byte and the Ed25519 seed.
	// (base64 may itself contain '+', so split at the first four.)
	raw, err := base64.StdEncoding.DecodeString(strings.SplitN(skey, "+", 5)[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize {
		return nil, errors.New("log signer key: not an Ed25519 key")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(ns.Name(), pub)
	if err != nil {
		return nil, fmt.Errorf("log verifier key: %w", err)
	}
	return &Signer{signer: ns, vkey: vkey}, nil
}

// LoadOrCreateSigner reads dir/log.key, or on first start creates it (mode 0600) with a new key named name.
// Either way it (re)writes dir/log.pub with the verifier key. created reports a new key.
func LoadOrCreateSigner(dir, name string) (s *Signer, created bool, err error) {
	path := filepath.Join(dir, KeyFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if s, err = NewSigner(string(b)); err != nil {
			return nil, false, fmt.Errorf("%s: %w", path, err)
		}
	case errors.Is(err, fs.ErrNotExist):
		var skey string
		if s, skey, err = GenerateSigner(name); err != nil {
			return nil, false, err
		}
		// Write then rename, so that a crash never leaves a half-written key; O_EXCL on the temporary file
		// makes two servers racing on one directory fail instead of both writing.
		tmp := path + ".tmp"
		_ = os.Remove(tmp)
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, false, fmt.Errorf("write log key: %w", err)
		}
		_, err = f.WriteString(skey + "\n")
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp, path)
		}
		if err != nil {
			return nil, false, fmt.Errorf("write log key: %w", err)
		}
		created = true
	default:
		return nil, false, fmt.Errorf("read log key: %w", err)
	}
	pub := filepath.Join(dir, PubFile)
	if old, err := os.ReadFile(pub); err != nil || strings.TrimSpace(string(old)) != s.vkey {
		if err := os.WriteFile(pub, []byte(s.vkey+"\n"), 0o644); err != nil {
			return nil, false, fmt.Errorf("write log verifier key: %w", err)
		}
	}
	return s, created, nil
}

// VerifierKey returns the public key an auditor verifies checkpoints with, "<name>+<hash>+<base64>".
func (s *Signer) VerifierKey() string { return s.vkey }

// Name returns the key's name, as it appears in a checkpoint's signature line.
func (s *Signer) Name() string { return s.signer.Name() }

// Sign returns the checkpoint of t: a signed note whose text is FormatTree(t).
func (s *Signer) Sign(t Tree) ([]byte, error) {
	b, err := note.Sign(&note.Note{Text: string(FormatTree(t))}, s.signer)
	if err != nil {
		return nil, fmt.Errorf("sign checkpoint size[%d]: %w", t.N, err)
	}
	return b, nil
}
