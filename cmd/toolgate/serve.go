package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/toolgate/toolgate/receipts/tlog"
	"github.com/toolgate/toolgate/registry"
	tgbadger "github.com/toolgate/toolgate/registry/badger"
	"github.com/toolgate/toolgate/runtime"
	"github.com/toolgate/toolgate/server"
)

func newServe() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Start the Toolgate server",
		Args:  cobra.NoArgs,
		RunE:  runServe,
	}
	f := cmd.Flags()
	f.String("addr", "127.0.0.1:8080", "address to listen on")
	f.String("data", defaultDataDir, "data directory (store, compile cache, keys)")
	f.Int64("max-module-bytes", 32<<20, "largest module accepted for upload")
	f.String("engine", runtime.EngineNative, "engine for the extism ABI: "+runtime.EngineNative+" or "+runtime.EngineExtismSDK+" (the reference)")
	def := registry.DefaultPolicy()
	f.Uint64("default-fuel", def.Defaults.Fuel, "fuel budget of a call when its version sets none")
	f.Uint64("max-fuel", def.Ceilings.Fuel, "largest fuel budget a version may set")
	f.Uint64("default-memory-bytes", def.Defaults.MemoryBytes, "memory cap of a call when its version sets none")
	f.Uint64("max-memory-bytes", def.Ceilings.MemoryBytes, "largest memory cap a version may set")
	f.Uint64("default-timeout-ms", def.Defaults.TimeoutMS, "wall-clock limit of a call when its version sets none")
	f.Uint64("max-timeout-ms", def.Ceilings.TimeoutMS, "largest wall-clock limit a version may set")
	f.Uint64("default-max-input-bytes", def.Defaults.MaxInputBytes, "input cap when a version sets none")
	f.Uint64("max-input-bytes", def.Ceilings.MaxInputBytes, "largest input cap a version may set")
	f.Uint64("default-max-output-bytes", def.Defaults.MaxOutputBytes, "output cap when a version sets none")
	f.Uint64("max-output-bytes", def.Ceilings.MaxOutputBytes, "largest output cap a version may set")
	addGovernanceFlags(f)
	addDoorFlags(f)
	return cmd
}

func policyFromFlags(cmd *cobra.Command) registry.Policy {
	f := cmd.Flags()
	get := func(name string) uint64 { v, _ := f.GetUint64(name); return v }
	p := registry.DefaultPolicy()
	p.Defaults.Fuel, p.Ceilings.Fuel = get("default-fuel"), get("max-fuel")
	p.Defaults.MemoryBytes, p.Ceilings.MemoryBytes = get("default-memory-bytes"), get("max-memory-bytes")
	p.Defaults.TimeoutMS, p.Ceilings.TimeoutMS = get("default-timeout-ms"), get("max-timeout-ms")
	p.Defaults.MaxInputBytes, p.Ceilings.MaxInputBytes = get("default-max-input-bytes"), get("max-input-bytes")
	p.Defaults.MaxOutputBytes, p.Ceilings.MaxOutputBytes = get("default-max-output-bytes"), get("max-output-bytes")
	return p
}

func runServe(cmd *cobra.Command, _ []string) error {
	f := cmd.Flags()
	addr, _ := f.GetString("addr")
	data, _ := f.GetString("data")
	maxMod, _ := f.GetInt64("max-module-bytes")
	engine, _ := f.GetString("engine")
	policy := policyFromFlags(cmd)
	for _, c := range []struct {
		name      string
		def, ceil uint64
	}{
		{"fuel", policy.Defaults.Fuel, policy.Ceilings.Fuel},
		{"memory-bytes", policy.Defaults.MemoryBytes, policy.Ceilings.MemoryBytes},
		{"timeout-ms", policy.Defaults.TimeoutMS, policy.Ceilings.TimeoutMS},
		{"max-input-bytes", policy.Defaults.MaxInputBytes, policy.Ceilings.MaxInputBytes},
		{"max-output-bytes", policy.Defaults.MaxOutputBytes, policy.Ceilings.MaxOutputBytes},
	} {
		if c.def > c.ceil {
			return fmt.Errorf("default %s %d is over its ceiling %d", c.name, c.def, c.ceil)
		}
	}

	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := os.MkdirAll(data, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	store, err := tgbadger.Open(filepath.Join(data, "db"), tgbadger.Options{})
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer store.Close()
	door, master, err := openDoors(ctx, f, data, store, log)
	if err != nil {
		return err
	}
	defer door.Close()
	rt, err := runtime.New(ctx, runtime.Config{
		CacheDir: filepath.Join(data, "cache"), MaxModuleBytes: maxMod, Engine: engine, Door: door,
		Metering: true, // fuel bounds guest compute (docs/FUEL.md)
	})
	if err != nil {
		return fmt.Errorf("start runtime: %w", err)
	}
	defer rt.Close(context.Background())

	created, err := server.EnsureAdminKey(ctx, store, data, time.Now().UTC())
	if err != nil {
		return err
	}
	if created {
		log.Info("created admin key", "token_file", filepath.Join(data, server.AdminTokenFile))
	}
	signer, created, err := tlog.LoadOrCreateSigner(data, tlog.DefaultKeyName)
	if err != nil {
		return err
	}
	if created {
		log.Info("created log key", "key_file", filepath.Join(data, tlog.KeyFile),
			"verifier_key_file", filepath.Join(data, tlog.PubFile), "verifier_key", signer.VerifierKey())
	}
	cfg := server.Config{
		Store: store, Keys: store, Receipts: store, Runtime: rt, Policy: &policy, MaxModuleBytes: maxMod,
		Logger: log, MasterKey: master,
	}
	if err := governanceConfig(cmd, &cfg); err != nil {
		return err
	}
	cfg.LogSigner = signer
	srv, err := server.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// Whether the log's sync thread got its raised priority: without CAP_SYS_NICE or RLIMIT_NICE it has not, and
	// under load a sync can then wait for a CPU (docs/LOG.md, "How the server keeps the log").
	log.Info("serving", "addr", ln.Addr().String(), "data", data, "engine", engine,
		"log_sync_priority_raised", store.LogStats().SyncPriority)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
