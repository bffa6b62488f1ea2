// Package server is Toolgate's HTTP API (v1) on Fiber: routing, authentication, error mapping and the flow of an
// invoke from the registry through the runtime to a durable receipt. It is the only package that imports Fiber,
// and no exported signature uses a Fiber type.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/toolgate/toolgate/internal/seal"
	"github.com/toolgate/toolgate/receipts"
	"github.com/toolgate/toolgate/receipts/tlog"
	"github.com/toolgate/toolgate/registry"
	"github.com/toolgate/toolgate/runtime"
)

// Response headers of an invoke.
const (
	HeaderReceipt  = "Toolgate-Receipt"
	HeaderModule   = "Toolgate-Module"
	HeaderVersion  = "Toolgate-Version"
	HeaderFuelUsed = "Toolgate-Fuel-Used"
)

const localRequestID = "request_id"

// Config wires a Server. Store, Keys, Receipts and Runtime are required.
type Config struct {
	Store    registry.Store
	Keys     registry.KeyStore
	Receipts receipts.Store
	Runtime  *runtime.Runtime
	// Policy holds the default and ceiling of every limit. Defaults to registry.DefaultPolicy().
	Policy *registry.Policy
	// MaxModuleBytes caps an uploaded module. Defaults to 32 MiB.
	MaxModuleBytes int64
	// Logger receives request failures and lifecycle events. Defaults to slog.Default().
	Logger *slog.Logger
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// Log numbers receipts and registry events into the signed Merkle log. Defaults to Receipts, which must then
	// implement it (the Badger store does: its Append puts each receipt in the log).
	Log tlog.Store
	// LogSigner signs the log's checkpoints. Defaults to a key made for this process alone, which no auditor
	// holds; `toolgate serve` passes the key kept in its data directory.
	LogSigner *tlog.Signer
	// NoReceipts drops every receipt and turns the log off. For benchmarks only, to measure what receipts cost:
	// it breaks the promise that every call has a durable receipt. Defaults to false.
	NoReceipts bool

	// Idempotency keeps Idempotency-Key records. Defaults to Store, which must then implement it.
	Idempotency registry.IdempotencyStore
	// IdempotencyTTL is how long a call's response is kept for replay. Defaults to DefaultIdempotencyTTL (24h).
	IdempotencyTTL time.Duration
	// Usage keeps per key and tool usage counters. Defaults to Store, which must then implement it.
	Usage registry.UsageStore
	// ToolLimits are per-tool rate limits and concurrency caps; the first whose glob matches a tool applies.
	// Defaults to none.
	ToolLimits []ToolLimit
	// Prices make each receipt's cost. Defaults to zero prices: every call costs 0.
	Prices Prices

	// Secrets keeps the sealed secrets. Defaults to Store if it implements registry.SecretStore.
	Secrets registry.SecretStore
	// MasterKey seals and opens secret values. Defaults to a random key held in memory only (for tests): secrets
	// do not survive a restart. toolgate serve always passes one (TOOLGATE_MASTER_KEY or <data>/master.key).
	MasterKey *seal.Master
}

// Server serves the HTTP API. Make one with New.
type Server struct {
	app      *fiber.App
	store    registry.Store
	keys     registry.KeyStore
	rcpts    receipts.Store
	rt       *runtime.Runtime
	policy   registry.Policy
	maxMod   int64
	log      *slog.Logger
	now      func() time.Time
	metrics  *metrics
	txlog    *txLog
	gov      *governance
	secrets  *secretsDoor // nil: no secret store
	docs     sync.Map     // manifest digest → *registry.Document, parsed once
	shutdown chan struct{}
}

// New validates cfg and builds the server's routes.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Keys == nil || cfg.Receipts == nil || cfg.Runtime == nil {
		return nil, errors.New("server: Store, Keys, Receipts and Runtime are required")
	}
	s := &Server{
		store: cfg.Store, keys: cfg.Keys, rcpts: cfg.Receipts, rt: cfg.Runtime,
		policy: registry.DefaultPolicy(), maxMod: 32 << 20, log: slog.Default(), now: time.Now,
		metrics: newMetrics(), shutdown: make(chan struct{}),
	}
	if cfg.Policy != nil {
		s.policy = *cfg.Policy
	}
	if cfg.MaxModuleBytes > 0 {
		s.maxMod = cfg.MaxModuleBytes
	}
	if cfg.Logger != nil {
		s.log = cfg.Logger
	}
	if cfg.Now != nil {
		s.now = cfg.Now
	}
	var err error
	if s.txlog, err = newTxLog(cfg); err != nil {
		return nil, err
	}
	if cfg.NoReceipts {
		s.rcpts = discardReceipts{s.rcpts}
	}
	if sr, ok := s.txlog.store.(tlog.StatsReporter); ok {
		s.metrics.reg.MustRegister(newLogCollector(sr))
	}
	gov, err := newGovernance(cfg, s)
	if err != nil {
		return nil, err
	}
	s.gov = gov
	s.secrets = newSecretsDoor(cfg, s)
	outboxes := []registry.Outbox{cfg.Store, cfg.Keys}
	if s.secrets != nil {
		outboxes = append(outboxes, s.secrets.store)
	}
	dctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.drainOutbox(dctx, outboxes...); err != nil {
		return nil, fmt.Errorf("server: log the events a restart found in the outbox: %w", err)
	}
	bodyLimit := max(s.maxMod, int64(s.policy.Ceilings.MaxInputBytes), registry.MaxDocumentBytes) + 1
	s.app = fiber.New(fiber.Config{
		Immutable:             true, // handlers keep params and bodies beyond the request
		BodyLimit:             int(bodyLimit),
		DisableStartupMessage: true,
		ErrorHandler:          s.handleError,
		ReadTimeout:           time.Minute,
		WriteTimeout:          10 * time.Minute,
		IdleTimeout:           2 * time.Minute,
	})
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	a := s.app
	a.Use(s.requestID)
	a.Get("/healthz", s.healthz)
	a.Get("/readyz", s.readyz)
	a.Get("/metrics", s.metrics.handler())

	v1 := a.Group("/v1", s.authenticate, s.authorize)
	v1.Post("/modules", s.uploadModule)
	v1.Get("/modules/:digest", s.getModule)
	v1.Get("/modules/:digest/wasm", s.getModuleWasm)
	v1.Get("/tools", s.listTools)
	v1.Get("/tools/:name", s.getTool)
	v1.Put("/tools/:name/versions/:version", s.publish)
	v1.Get("/tools/:name/versions/:version", s.getVersion)
	v1.Post("/tools/:name/pin", s.pin)
	v1.Post("/tools/:name/rollback", s.rollback)
	v1.Get("/tools/:name/history", s.history)
	v1.Post("/tools/:name/invoke", s.idempotent, s.admit, s.invoke)
	v1.Get("/receipts", s.listReceipts)
	v1.Get("/receipts/:id", s.getReceipt)
	s.logRoutes(v1)
	s.governanceRoutes(v1)
	s.secretRoutes(v1)
}

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.app.Listener(ln) }

// Shutdown stops accepting connections and waits for requests in flight, up to ctx's deadline.
func (s *Server) Shutdown(ctx context.Context) error {
	select {
	case <-s.shutdown:
	default:
		close(s.shutdown)
	}
	err := s.app.ShutdownWithContext(ctx)
	return errors.Join(err, s.gov.close(ctx))
}

func (s *Server) healthz(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) }

// readyz answers 200 when the stores answer, the receipt log has not stopped and the server is not shutting down.
func (s *Server) readyz(c *fiber.Ctx) error {
	select {
	case <-s.shutdown:
		return apiErr(fiber.StatusServiceUnavailable, CodeUnavailable, "shutting down")
	default:
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	if _, err := s.store.Tools(ctx); err != nil {
		return apiErr(fiber.StatusServiceUnavailable, CodeUnavailable, "registry not ready")
	}
	if sr, ok := s.txlog.store.(tlog.StatsReporter); ok && sr.LogStats().Err != nil {
		// Every invoke fails until a restart reads the log back: send traffic elsewhere.
		return apiErr(fiber.StatusServiceUnavailable, CodeUnavailable, "the receipt log stopped after a storage error")
	}
	return c.JSON(fiber.Map{"status": "ready"})
}

var requestSeq atomic.Uint64

func (s *Server) requestID(c *fiber.Ctx) error {
	c.Locals(localRequestID, fmt.Sprintf("req_%x_%d", s.now().UnixNano(), requestSeq.Add(1)))
	return c.Next()
}
