package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/toolgate/toolgate/host"
	"github.com/toolgate/toolgate/internal/seal"
	"github.com/toolgate/toolgate/receipts"
	"github.com/toolgate/toolgate/registry"
)

// MinSecretBytes is the shortest secret value the API accepts: the network door masks every occurrence of a
// value out of responses, which would mangle them for a value of a byte or two.
const MinSecretBytes = 8

// CodeSecretsUnavailable: the server has no secret store.
const CodeSecretsUnavailable = "secrets_unavailable"

// secretsDoor is the server's secret store and master key. Values are sealed here, before the store sees them,
// and opened only for the network door of a call whose version grants them.
type secretsDoor struct {
	store  registry.SecretStore
	master *seal.Master
}

// newSecretsDoor takes the secret store from cfg.Secrets, else from cfg.Store if it implements one; without a
// store, the secrets routes answer 503 and calls get no secrets. Without a master key, values are sealed under
// a random key held in memory only, and s.log says so: they do not survive a restart.
func newSecretsDoor(cfg Config, s *Server) *secretsDoor {
	st := cfg.Secrets
	if st == nil {
		st, _ = cfg.Store.(registry.SecretStore)
	}
	if st == nil {
		return nil
	}
	m := cfg.MasterKey
	if m == nil {
		k, _ := seal.GenerateKey()
		m = seal.NewMaster(k)
		s.log.Warn("no master key configured: secrets are sealed under a key held in memory only and are lost at restart")
	}
	return &secretsDoor{store: st, master: m}
}

// Secret implements host.SecretSource: it opens a stored value for the network door.
func (sd *secretsDoor) Secret(ctx context.Context, name string) ([]byte, error) {
	sec, err := sd.store.SealedSecret(ctx, name)
	if errors.Is(err, registry.ErrNotFound) {
		return nil, fmt.Errorf("secret[%s]: %w", name, host.ErrSecretNotFound)
	}
	if err != nil {
		return nil, err
	}
	v, err := sd.master.Keyring().Open(name, sec.Sealed)
	if err != nil {
		return nil, fmt.Errorf("secret[%s]: %w", name, err)
	}
	return v, nil
}

var _ host.SecretSource = (*secretsDoor)(nil)

func (s *Server) secretRoutes(v1 fiber.Router) {
	v1.Put("/secrets/:name", s.putSecret)
	v1.Get("/secrets", s.listSecrets)
	v1.Delete("/secrets/:name", s.deleteSecret)
}

func (s *Server) secretsOrErr() (*secretsDoor, error) {
	if s.secrets == nil {
		return nil, apiErr(http.StatusServiceUnavailable, CodeSecretsUnavailable,
			"this server has no secret store")
	}
	return s.secrets, nil
}

func secretNameParam(c *fiber.Ctx) (string, error) {
	name := c.Params("name")
	if !registry.ValidSecretName(name) {
		return "", apiErr(http.StatusBadRequest, CodeInvalidName,
			"secret names match [A-Za-z_][A-Za-z0-9_]*, at most 128 bytes")
	}
	return name, nil
}

// putSecret stores a secret: the body is the value, sealed before it reaches the store. 201 new, 200 replaced;
// the answer names the secret and its times, never the value.
func (s *Server) putSecret(c *fiber.Ctx) error {
	sd, err := s.secretsOrErr()
	if err != nil {
		return err
	}
	name, err := secretNameParam(c)
	if err != nil {
		return err
	}
	value := c.Body() // a copy: the app is Immutable
	defer clear(value)
	switch {
	case len(value) > registry.MaxSecretBytes:
		return apiErr(http.StatusRequestEntityTooLarge, CodeTooLarge,
			fmt.Sprintf("secret values are at most %d bytes", registry.MaxSecretBytes))
	case len(value) < MinSecretBytes:
		return apiErr(http.StatusBadRequest, CodeInvalidRequest,
			fmt.Sprintf("secret values are at least %d bytes", MinSecretBytes))
	}
	now := s.now().UTC()
	var info registry.SecretInfo
	var created bool
	// The event names the secret and whether it is new, never the value or anything derived from it.
	err = s.logged(c, sd.store, func(ch registry.Change) []*receipts.Event {
		return []*receipts.Event{s.event(c, receipts.EventSecretSet, "secret:"+name, "",
			map[string]string{"created": strconv.FormatBool(ch.Created)})}
	}, func(ctx context.Context) (bool, error) {
		var err error
		info, created, err = sd.store.PutSecret(ctx, registry.SealedSecret{
			Name: name, Sealed: sd.master.Keyring().Seal(name, value), CreatedAt: now, UpdatedAt: now,
		})
		if err != nil {
			return false, fmt.Errorf("put secret[%s]: %w", name, err)
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	if created {
		c.Status(http.StatusCreated)
	}
	return c.JSON(info)
}

// listSecrets lists names and times, never values.
func (s *Server) listSecrets(c *fiber.Ctx) error {
	sd, err := s.secretsOrErr()
	if err != nil {
		return err
	}
	list, err := sd.store.Secrets(c.UserContext())
	if err != nil {
		return fmt.Errorf("list secrets: %w", err)
	}
	return c.JSON(fiber.Map{"secrets": list})
}

func (s *Server) deleteSecret(c *fiber.Ctx) error {
	sd, err := s.secretsOrErr()
	if err != nil {
		return err
	}
	name, err := secretNameParam(c)
	if err != nil {
		return err
	}
	err = s.logged(c, sd.store, s.oneEvent(c, receipts.EventSecretDeleted, "secret:"+name, nil),
		func(ctx context.Context) (bool, error) {
			if err := sd.store.DeleteSecret(ctx, name); err != nil {
				if errors.Is(err, registry.ErrNotFound) {
					return false, apiErr(http.StatusNotFound, CodeNotFound, "secret not found")
				}
				return false, fmt.Errorf("delete secret[%s]: %w", name, err)
			}
			return true, nil
		})
	if err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

// doorPolicy is what a version's document lets a call reach through the network door: its grants, and its
// max_http_requests as the request cap (0 = none).
func doorPolicy(doc *registry.Document) host.Policy {
	p := host.Policy{MaxRequests: int(doc.Limits.Values().MaxHTTPRequests)}
	for _, g := range doc.Grants.HTTP {
		p.HTTP = append(p.HTTP, host.HTTPGrant{Host: g.Host, Scheme: g.Scheme, Ports: g.Ports, Methods: g.Methods})
	}
	for _, g := range doc.Grants.Secrets {
		p.Secrets = append(p.Secrets, host.SecretGrant{Name: g.Name, Hosts: g.Hosts, Expose: g.Expose})
	}
	return p
}

// callSecrets is the secret source of a call, nil when the server has none.
func (s *Server) callSecrets() host.SecretSource {
	if s.secrets == nil {
		return nil
	}
	return s.secrets
}
