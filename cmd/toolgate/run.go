package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/toolgate/toolgate/receipts"
	"github.com/toolgate/toolgate/registry"
	"github.com/toolgate/toolgate/runtime"
)

// newRun runs a module locally, the way a plugin author iterates: no server, the server's default limits, the
// output on stdout and the receipt on stderr. The exit code is non-zero when the call fails.
func newRun() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run FILE.wasm",
		Short: "Run a module locally, without a server; output to stdout, receipt to stderr",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			wasm, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			input, err := readInput(cmd)
			if err != nil {
				return err
			}
			f := cmd.Flags()
			abi, _ := f.GetString("abi")
			entry, _ := f.GetString("entry")
			cfgPairs, _ := f.GetStringArray("config")
			config := map[string]string{}
			for _, kv := range cfgPairs {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return fmt.Errorf("--config wants KEY=VALUE, got %q", kv)
				}
				config[k] = v
			}
			ctx := cmd.Context()
			rt, err := runtime.New(ctx, runtime.Config{Metering: true}) // metered, as the server runs it
			if err != nil {
				return err
			}
			defer rt.Close(ctx)
			info, err := rt.Load(ctx, wasm)
			if err != nil {
				return err
			}
			if abi == "" {
				abi = string(runtime.InferABI(info))
				if abi == "" {
					return fmt.Errorf("cannot tell the module's ABI; pass --abi %s or --abi %s",
						registry.ABIExtism, registry.ABIWASICommand)
				}
			}
			if abi == registry.ABIWASICommand {
				entry = "_start"
			}
			lim := registry.DefaultPolicy().Defaults
			if v, _ := f.GetUint64("memory-bytes"); v > 0 {
				lim.MemoryBytes = v
			}
			if v, _ := f.GetUint64("timeout-ms"); v > 0 {
				lim.TimeoutMS = v
			}
			if v, _ := f.GetUint64("fuel"); v > 0 {
				lim.Fuel = v
			}
			started := time.Now()
			res, err := rt.Invoke(ctx, runtime.Call{
				Module: info.Digest, ABI: runtime.ABI(abi), Entry: entry, Input: input, Config: config,
				Limits: runtime.Limits{Fuel: lim.Fuel, MemoryBytes: lim.MemoryBytes,
					Timeout:       time.Duration(lim.TimeoutMS) * time.Millisecond,
					MaxInputBytes: int64(lim.MaxInputBytes), MaxOutputBytes: int64(lim.MaxOutputBytes),
					MaxHTTPRequests: int(lim.MaxHTTPRequests)},
			})
			if err != nil {
				return err
			}
			r := receipts.Receipt{
				ID: receipts.NewID(started), Tool: "local", Module: info.Digest, Principal: "local",
				StartedAt: started.UTC(), WallNS: int64(res.Wall), Status: res.Status, Error: res.Error,
				Input: receipts.BlobOf(input), Output: receipts.BlobOf(res.Output), Fuel: res.Fuel,
				Memory: receipts.Memory{LimitBytes: lim.MemoryBytes, PeakBytes: res.PeakMemoryBytes},
				HTTP:   res.HTTP, Secrets: res.Secrets, Logs: res.LogCount,
			}
			for _, l := range res.Logs {
				fmt.Fprintln(cmd.ErrOrStderr(), "log:", l)
			}
			b, _ := json.Marshal(&r)
			fmt.Fprintln(cmd.ErrOrStderr(), "receipt:", string(b))
			if res.Status != receipts.StatusOK {
				return fmt.Errorf("%s: %s", res.Status, res.Error)
			}
			_, err = cmd.OutOrStdout().Write(res.Output)
			return err
		},
	}
	f := cmd.Flags()
	f.String("data", "", "the input, given inline")
	_ = f.SetAnnotation("data", noEnv, []string{"true"})
	f.String("file", "", "read the input from this file")
	f.String("abi", "", "extism or wasi-command (default: inferred)")
	f.String("entry", "run", "export to call (extism)")
	f.StringArray("config", nil, "KEY=VALUE config for the tool (repeatable)")
	f.Uint64("memory-bytes", 0, "memory cap (default: the server default)")
	f.Uint64("timeout-ms", 0, "wall-clock limit (default: the server default)")
	f.Uint64("fuel", 0, "fuel budget (default: the server default)")
	return cmd
}
