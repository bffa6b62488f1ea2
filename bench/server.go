package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	tgbadger "github.com/toolgate/toolgate/registry/badger"
	"github.com/toolgate/toolgate/runtime"
	"github.com/toolgate/toolgate/sdk/client"
	"github.com/toolgate/toolgate/server"
)

// Server is a real Toolgate server on loopback, wired as `toolgate serve` wires it: a Badger store and a
// runtime with its compilation cache in one data directory, the admin key from server.EnsureAdminKey,
// server.New, and Serve on 127.0.0.1 at a free port. Every invoke writes its receipt durably before answering,
// unless the server was started with ServerOptions.NoReceipts.
type Server struct {
	URL        string // "http://127.0.0.1:<port>"
	Token      string // the admin token
	Engine     string // the runtime's Extism ABI engine: runtime.EngineNative or runtime.EngineExtismSDK
	NoReceipts bool   // receipts and the log are off (ServerOptions.NoReceipts)

	srv   *server.Server
	rt    *runtime.Runtime
	store *tgbadger.Store
	done  chan error
}

// ServerOptions configure StartServer. The zero value is the server as `toolgate serve` runs it.
type ServerOptions struct {
	// Engine is the runtime's Extism ABI engine (runtime.Config.Engine): runtime.EngineNative or
	// runtime.EngineExtismSDK. Defaults to "": runtime.EngineNative, the engine `toolgate serve` runs.
	Engine string
	// CacheDir is the runtime's compilation cache directory. Defaults to "": <dir>/cache.
	CacheDir string
	// Logger receives the server's logs. Defaults to nil: warnings and errors go to stderr.
	Logger *slog.Logger
	// NoReceipts turns receipts and the log off (server.Config.NoReceipts): invokes still answer with a receipt
	// id, but nothing is signed, stored or synced. It exists to measure what receipts cost, against a server that
	// writes them; never run a server this way. Defaults to false: every invoke writes a signed, synced receipt.
	NoReceipts bool
}

// StartServer starts a Server on data directory dir (created if needed), with fuel metering on
// (runtime.Config.Metering) and the Extism ABI engine o.Engine: the native engine unless o says otherwise.
// Receipts are on unless o.NoReceipts.
func StartServer(ctx context.Context, dir string, o ServerOptions) (*Server, error) {
	logger, cacheDir := o.Logger, o.CacheDir
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if cacheDir == "" {
		cacheDir = filepath.Join(dir, "cache")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("bench: data dir: %w", err)
	}
	s := &Server{NoReceipts: o.NoReceipts, done: make(chan error, 1)}
	var err error
	if s.store, err = tgbadger.Open(filepath.Join(dir, "db"), tgbadger.Options{}); err != nil {
		return nil, fmt.Errorf("bench: open store: %w", err)
	}
	if s.rt, err = runtime.New(ctx, runtime.Config{CacheDir: cacheDir, Engine: o.Engine, Metering: true}); err != nil {
		return nil, errors.Join(fmt.Errorf("bench: start runtime: %w", err), s.store.Close())
	}
	if s.Engine = o.Engine; s.Engine == "" {
		s.Engine = runtime.EngineNative
	}
	fail := func(err error) (*Server, error) {
		return nil, errors.Join(fmt.Errorf("bench: start server: %w", err), s.rt.Close(ctx), s.store.Close())
	}
	if _, err := server.EnsureAdminKey(ctx, s.store, dir, time.Now().UTC()); err != nil {
		return fail(err)
	}
	tok, err := os.ReadFile(filepath.Join(dir, server.AdminTokenFile))
	if err != nil {
		return fail(err)
	}
	s.Token = strings.TrimSpace(string(tok))
	s.srv, err = server.New(server.Config{Store: s.store, Keys: s.store, Receipts: s.store, Runtime: s.rt, Logger: logger,
		NoReceipts: o.NoReceipts})
	if err != nil {
		return fail(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	s.URL = "http://" + ln.Addr().String()
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// Client returns an API client for s whose transport keeps up to conns connections open, so that a load of
// that concurrency reuses its connections instead of dialing per request.
func (s *Server) Client(conns int) *client.Client {
	tr := &http.Transport{
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	return client.New(s.URL, s.Token, &http.Client{Transport: tr, Timeout: time.Minute})
}

// Close shuts the server down and closes its runtime and store.
func (s *Server) Close(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if serr := <-s.done; serr != nil && err == nil {
		err = serr
	}
	return errors.Join(err, s.rt.Close(ctx), s.store.Close())
}

// Publish uploads wasm and publishes it as tool@version with the smallest version document, {"module": digest}:
// the ABI, entry ("run") and limits take their defaults. The first version of a tool is pinned.
func Publish(ctx context.Context, c *client.Client, tool, version string, wasm []byte) error {
	m, _, err := c.PushModule(ctx, wasm)
	if err != nil {
		return fmt.Errorf("bench: upload tool[%s]: %w", tool, err)
	}
	doc, _ := json.Marshal(map[string]string{"module": m.Digest})
	if _, _, err := c.PutVersion(ctx, tool, version, doc); err != nil {
		return fmt.Errorf("bench: publish tool[%s] version[%s]: %w", tool, version, err)
	}
	return nil
}
