package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/toolgate/toolgate/server"
)

// addGovernanceFlags adds serve's flags for idempotency, per-tool limits and prices.
func addGovernanceFlags(f *pflag.FlagSet) {
	f.Duration("idempotency-ttl", server.DefaultIdempotencyTTL, "how long a call's response is kept for Idempotency-Key retries")
	f.StringArray("tool-limit", nil, "per-tool rate limit and concurrency cap, GLOB:rps=N,burst=M,concurrency=C "+
		"(repeatable; the first matching glob applies; default: no limits)")
	f.Float64("price-fuel-per-million", 0, "cost of a million units of fuel, for receipts and usage")
	f.Float64("price-ms", 0, "cost of a millisecond of wall time, for receipts and usage")
	f.Float64("price-egress-per-mb", 0, "cost of a megabyte (10^6 bytes) through the network door, both ways")
}

// governanceConfig fills cfg from the flags of addGovernanceFlags.
func governanceConfig(cmd *cobra.Command, cfg *server.Config) error {
	f := cmd.Flags()
	cfg.IdempotencyTTL, _ = f.GetDuration("idempotency-ttl")
	if cfg.IdempotencyTTL <= 0 {
		return fmt.Errorf("--idempotency-ttl %s: must be positive", cfg.IdempotencyTTL)
	}
	limits, _ := f.GetStringArray("tool-limit")
	for _, s := range limits {
		l, err := server.ParseToolLimit(s)
		if err != nil {
			return fmt.Errorf("--tool-limit: %w", err)
		}
		cfg.ToolLimits = append(cfg.ToolLimits, l)
	}
	cfg.Prices.FuelPerMillion, _ = f.GetFloat64("price-fuel-per-million")
	cfg.Prices.PerMS, _ = f.GetFloat64("price-ms")
	cfg.Prices.EgressPerMB, _ = f.GetFloat64("price-egress-per-mb")
	return nil
}
