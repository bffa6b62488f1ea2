package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/toolgate/toolgate/receipts"
	"github.com/toolgate/toolgate/registry"
)

// keyRequest is the body of POST /v1/keys.
type keyRequest struct {
	Name      string         `json:"name"`
	Role      string         `json:"role"`
	Tools     []string       `json:"tools"`
	Rate      *registry.Rate `json:"rate"`
	FuelQuota *quotaJSON     `json:"fuel_quota"`
	ExpiresAt *time.Time     `json:"expires_at"`
}

// quotaJSON is a fuel quota as the API writes it: the window as a Go duration string ("24h").
type quotaJSON struct {
	Fuel   uint64 `json:"fuel"`
	Window string `json:"window"`
}

// keyView is a key as the API shows it: never its token or hash.
type keyView struct {
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	Role      string         `json:"role"`
	Tools     []string       `json:"tools"`
	Rate      *registry.Rate `json:"rate,omitempty"`
	FuelQuota *quotaJSON     `json:"fuel_quota,omitempty"`
	ExpiresAt *time.Time     `json:"expires_at,omitempty"`
	Disabled  bool           `json:"disabled"`
	State     string         `json:"state"` // active, disabled or expired
	CreatedAt time.Time      `json:"created_at"`
	CreatedBy string         `json:"created_by"`
}

func viewOfKey(k registry.Key, now time.Time) keyView {
	v := keyView{ID: k.ID, Name: k.Name, Role: k.Role, Tools: k.Tools, Rate: k.Rate, Disabled: k.Disabled,
		State: k.State(now), CreatedAt: k.CreatedAt, CreatedBy: k.CreatedBy}
	if v.Tools == nil {
		v.Tools = []string{}
	}
	if k.FuelQuota != nil {
		v.FuelQuota = &quotaJSON{Fuel: k.FuelQuota.Fuel, Window: k.FuelQuota.Window.String()}
	}
	if !k.ExpiresAt.IsZero() {
		t := k.ExpiresAt.UTC()
		v.ExpiresAt = &t
	}
	return v
}

// validKeyID reports whether id looks like the ids NewToken makes: 16 lowercase hex digits.
func validKeyID(id string) bool {
	if len(id) != 16 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

const (
	maxKeyNameBytes = 128
	maxKeyScopes    = 64
)

// keyOfRequest validates a key request into a key (without id, token or creation fields).
func keyOfRequest(req keyRequest, now time.Time) (registry.Key, error) {
	bad := func(msg string) error { return apiErr(http.StatusBadRequest, CodeInvalidRequest, msg) }
	k := registry.Key{Name: req.Name, Role: req.Role, Tools: req.Tools}
	if req.Name == "" || len(req.Name) > maxKeyNameBytes || !utf8.ValidString(req.Name) {
		return k, bad(fmt.Sprintf(`"name" must be 1 to %d bytes of UTF-8`, maxKeyNameBytes))
	}
	for _, r := range req.Name {
		if r < ' ' || r == 0x7f {
			return k, bad(`"name" must not contain control characters`)
		}
	}
	if !registry.ValidRole(req.Role) {
		return k, bad(`"role" must be admin, publisher, invoker or auditor`)
	}
	if len(req.Tools) > maxKeyScopes {
		return k, bad(fmt.Sprintf(`"tools" has more than %d globs`, maxKeyScopes))
	}
	if req.Role == registry.RoleAdmin && len(req.Tools) > 0 {
		return k, bad(`admin keys reach every tool; leave "tools" out`)
	}
	for _, g := range req.Tools {
		if !registry.ValidScope(g) {
			return k, bad(fmt.Sprintf("tool scope %q is not a glob of tool names (path.Match syntax, no '/')", g))
		}
	}
	if req.Rate != nil {
		r := *req.Rate
		if r.Burst == 0 {
			r.Burst = defaultBurst(r.RPS)
		}
		if err := r.Validate(); err != nil {
			return k, bad(`"rate": rps must be in (0, 1000000] and burst in [1, 1000000]`)
		}
		k.Rate = &r
	}
	if req.FuelQuota != nil {
		w, err := time.ParseDuration(req.FuelQuota.Window)
		q := registry.FuelQuota{Fuel: req.FuelQuota.Fuel, Window: w}
		if err != nil || q.Validate() != nil {
			return k, bad(`"fuel_quota": fuel must be positive and window whole hours from "1h" to "8784h"`)
		}
		k.FuelQuota = &q
	}
	if req.ExpiresAt != nil {
		if !req.ExpiresAt.After(now) {
			return k, bad(`"expires_at" must be in the future`)
		}
		k.ExpiresAt = req.ExpiresAt.UTC()
	}
	return k, nil
}

// keyAttrs describes a new key for its log event: everything but the token.
func keyAttrs(k registry.Key) map[string]string {
	a := map[string]string{"name": k.Name, "role": k.Role, "tools": strings.Join(k.Tools, ",")}
	if k.Rate != nil {
		a["rate"] = fmt.Sprintf("%g/s burst %d", k.Rate.RPS, k.Rate.Burst)
	}
	if k.FuelQuota != nil {
		a["fuel_quota"] = fmt.Sprintf("%d per %s", k.FuelQuota.Fuel, k.FuelQuota.Window)
	}
	if !k.ExpiresAt.IsZero() {
		a["expires_at"] = k.ExpiresAt.UTC().Format(time.RFC3339Nano)
	}
	return a
}

// createKey makes a key and answers its token, the only time the token is shown.
func (s *Server) createKey(c *fiber.Ctx) error {
	var req keyRequest
	if err := decodeStrict(c.Body(), &req); err != nil {
		return err
	}
	now := s.now()
	k, err := keyOfRequest(req, now)
	if err != nil {
		return err
	}
	id, token, hash := NewToken()
	k.ID, k.TokenHash, k.CreatedAt, k.CreatedBy = id, hash, now.UTC(), principal(c)
	err = s.logged(c, s.keys, s.oneEvent(c, receipts.EventKeyCreated, "key:"+k.ID, keyAttrs(k)),
		func(ctx context.Context) (bool, error) {
			if err := s.keys.PutKey(ctx, k); err != nil {
				return false, fmt.Errorf("store key[%s]: %w", id, err)
			}
			return true, nil
		})
	if err != nil {
		return err
	}
	c.Status(http.StatusCreated)
	return c.JSON(struct {
		keyView
		Token string `json:"token"`
	}{viewOfKey(k, now), token})
}

func (s *Server) listKeys(c *fiber.Ctx) error {
	keys, err := s.keys.Keys(c.UserContext())
	if err != nil {
		return err
	}
	now := s.now()
	views := make([]keyView, 0, len(keys))
	for _, k := range keys {
		views = append(views, viewOfKey(k, now))
	}
	return c.JSON(fiber.Map{"keys": views})
}

func (s *Server) keyParam(c *fiber.Ctx) (registry.Key, error) {
	id := c.Params("id")
	if !validKeyID(id) {
		return registry.Key{}, apiErr(http.StatusBadRequest, CodeInvalidRequest, "key ids are 16 lowercase hex digits")
	}
	k, err := s.keys.Key(c.UserContext(), id)
	if errors.Is(err, registry.ErrNotFound) {
		return k, apiErr(http.StatusNotFound, CodeNotFound, "key not found")
	}
	return k, err
}

func (s *Server) getKey(c *fiber.Ctx) error {
	k, err := s.keyParam(c)
	if err != nil {
		return err
	}
	return c.JSON(viewOfKey(k, s.now()))
}

// keepsAnAdmin refuses a change that would leave no active admin key: the server would be locked out, with no
// way back short of editing the store.
func (s *Server) keepsAnAdmin(c *fiber.Ctx, changing registry.Key) error {
	now := s.now()
	if changing.Role != registry.RoleAdmin || changing.State(now) != registry.KeyActive {
		return nil
	}
	keys, err := s.keys.Keys(c.UserContext())
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k.ID != changing.ID && k.Role == registry.RoleAdmin && k.State(now) == registry.KeyActive {
			return nil
		}
	}
	return apiErr(http.StatusConflict, CodeLastAdminKey, "this is the last active admin key; create another first")
}

// deleteKey removes a key; its token stops working at once.
func (s *Server) deleteKey(c *fiber.Ctx) error {
	s.gov.keyMu.Lock()
	defer s.gov.keyMu.Unlock()
	k, err := s.keyParam(c)
	if err != nil {
		return err
	}
	if err := s.keepsAnAdmin(c, k); err != nil {
		return err
	}
	err = s.logged(c, s.keys, s.oneEvent(c, receipts.EventKeyDeleted, "key:"+k.ID, nil),
		func(ctx context.Context) (bool, error) {
			if err := s.keys.DeleteKey(ctx, k.ID); err != nil {
				if errors.Is(err, registry.ErrNotFound) {
					return false, apiErr(http.StatusNotFound, CodeNotFound, "key not found")
				}
				return false, err
			}
			s.gov.limits.forgetKey(k.ID)
			s.gov.quotas.forget(k.ID)
			return true, nil
		})
	if err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

func (s *Server) disableKey(c *fiber.Ctx) error { return s.setDisabled(c, true) }
func (s *Server) enableKey(c *fiber.Ctx) error  { return s.setDisabled(c, false) }

// setDisabled disables or enables a key; doing it twice is a no-op.
func (s *Server) setDisabled(c *fiber.Ctx, disabled bool) error {
	s.gov.keyMu.Lock()
	defer s.gov.keyMu.Unlock()
	k, err := s.keyParam(c)
	if err != nil {
		return err
	}
	if disabled {
		if err := s.keepsAnAdmin(c, k); err != nil {
			return err
		}
	}
	if k.Disabled != disabled {
		k.Disabled = disabled
		err := s.logged(c, s.keys, s.oneEvent(c, receipts.EventKeyUpdated, "key:"+k.ID,
			map[string]string{"disabled": strconv.FormatBool(disabled)}),
			func(ctx context.Context) (bool, error) { return true, s.keys.UpdateKey(ctx, k) })
		if err != nil {
			return err
		}
	}
	return c.JSON(viewOfKey(k, s.now()))
}
