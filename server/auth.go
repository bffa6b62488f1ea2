package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/toolgate/toolgate/registry"
)

const localPrincipal = "principal"

// Tokens look like "tg_<16 hex id>_<43 base64url secret>". The id finds the key; only the SHA-256 of the secret is
// stored, and it is compared in constant time.
const tokenPrefix = "tg_"

// NewToken makes a fresh key id and token; the key stores TokenHash(secret).
func NewToken() (id, token string, hash []byte) {
	var idb [8]byte
	var sec [32]byte
	if _, err := rand.Read(idb[:]); err != nil {
		panic(err)
	}
	if _, err := rand.Read(sec[:]); err != nil {
		panic(err)
	}
	id = hex.EncodeToString(idb[:])
	secret := base64.RawURLEncoding.EncodeToString(sec[:])
	sum := sha256.Sum256([]byte(secret))
	return id, tokenPrefix + id + "_" + secret, sum[:]
}

// parseToken splits a token into its key id and secret.
func parseToken(tok string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(tok, tokenPrefix)
	if !ok || len(rest) != 16+1+43 || rest[16] != '_' {
		return "", "", false
	}
	return rest[:16], rest[17:], true
}

// dummyHash is compared against when the key id is unknown, so a miss costs what a hit costs.
var dummyHash = sha256.Sum256([]byte("toolgate-no-such-key"))

// authenticate resolves the bearer token to a key and stores the principal; 401 otherwise.
func (s *Server) authenticate(c *fiber.Ctx) error {
	h := c.Get(fiber.HeaderAuthorization)
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return apiErr(http.StatusUnauthorized, CodeUnauthorized, "missing bearer token")
	}
	id, secret, ok := parseToken(strings.TrimSpace(tok))
	want := dummyHash[:]
	var key registry.Key
	if ok {
		k, err := s.keys.Key(c.UserContext(), id)
		switch {
		case err == nil:
			key, want = k, k.TokenHash
		case !errors.Is(err, registry.ErrNotFound):
			return fmt.Errorf("look up key: %w", err)
		}
	}
	got := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(got[:], want) != 1 || key.ID == "" {
		return apiErr(http.StatusUnauthorized, CodeUnauthorized, "invalid token")
	}
	if st := key.State(s.now()); st != registry.KeyActive {
		return apiErr(http.StatusUnauthorized, CodeUnauthorized, "key is "+st)
	}
	c.Locals(localPrincipal, key)
	return c.Next()
}

// principal returns the authenticated key's id ("key:<id>") for receipts and events.
func principal(c *fiber.Ctx) string {
	k, _ := c.Locals(localPrincipal).(registry.Key)
	return "key:" + k.ID
}

// AdminTokenFile is the file, inside the data directory, that holds the first admin token.
const AdminTokenFile = "admin.token"

// EnsureAdminKey creates an admin key when the store has no keys and writes its token to dataDir/admin.token
// with mode 0600. It reports whether it created one.
func EnsureAdminKey(ctx context.Context, keys registry.KeyStore, dataDir string, now time.Time) (bool, error) {
	existing, err := keys.Keys(ctx)
	if err != nil {
		return false, fmt.Errorf("list keys: %w", err)
	}
	if len(existing) > 0 {
		return false, nil
	}
	id, token, hash := NewToken()
	path := filepath.Join(dataDir, AdminTokenFile)
	// Write the token first: a key whose token was lost would lock the owner out.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(token+"\n"), 0o600); err != nil {
		return false, fmt.Errorf("write admin token: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return false, fmt.Errorf("write admin token: %w", err)
	}
	k := registry.Key{ID: id, Name: "admin", Role: registry.RoleAdmin, TokenHash: hash, CreatedAt: now,
		CreatedBy: "bootstrap"}
	if err := keys.PutKey(ctx, k); err != nil {
		return false, fmt.Errorf("store admin key: %w", err)
	}
	return true, nil
}
