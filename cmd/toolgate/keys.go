package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/toolgate/toolgate/sdk/client"
)

// timeArg parses a point in time given as RFC 3339 or as a duration from now (ago: before now).
func timeArg(s string, ago bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return time.Time{}, fmt.Errorf("%q: want an RFC 3339 time or a positive duration such as 720h", s)
	}
	if ago {
		d = -d
	}
	return time.Now().Add(d), nil
}

// noEnvFlags keeps a command's own flags from being set by TOOLGATE_* variables: TOOLGATE_NAME must not name
// every key created in that shell.
func noEnvFlags(cmd *cobra.Command) {
	cmd.Flags().VisitAll(func(f *pflag.Flag) { _ = cmd.Flags().SetAnnotation(f.Name, noEnv, []string{"true"}) })
}

func newKeys() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage API keys: create, ls, rm, disable, enable (admin)",
	}
	cmd.AddCommand(newKeysCreate(), newKeysList(), newKeysRemove(),
		newKeysToggle("disable", "Stop a key from authenticating until it is enabled"),
		newKeysToggle("enable", "Let a disabled key authenticate again"))
	return cmd
}

func newKeysCreate() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "create --name NAME --role ROLE",
		Short: "Create a key; its token goes to stdout, shown this once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			var req client.KeyRequest
			req.Name, _ = f.GetString("name")
			req.Role, _ = f.GetString("role")
			req.Tools, _ = f.GetStringSlice("tools")
			if rps, _ := f.GetFloat64("rps"); rps != 0 || f.Changed("burst") {
				burst, _ := f.GetInt("burst")
				req.Rate = &client.Rate{RPS: rps, Burst: burst}
			}
			if fuel, _ := f.GetUint64("fuel-quota"); fuel != 0 {
				window, _ := f.GetString("quota-window")
				req.FuelQuota = &client.FuelQuota{Fuel: fuel, Window: window}
			}
			if exp, _ := f.GetString("expires"); exp != "" {
				t, err := timeArg(exp, false)
				if err != nil {
					return fmt.Errorf("--expires %w", err)
				}
				req.ExpiresAt = &t
			}
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			k, token, err := c.CreateKey(cmd.Context(), req)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), token)
			fmt.Fprintf(cmd.ErrOrStderr(), "key %s (%s, %s) created; its token above is shown only now\n", k.ID, k.Name, k.Role)
			return nil
		},
	}
	f := cmd.Flags()
	f.String("name", "", "what the key is for (required)")
	f.String("role", "", "admin, publisher, invoker or auditor (required)")
	f.StringSlice("tools", nil, "tool-name globs the key is scoped to, comma-separated (default: every tool)")
	f.Float64("rps", 0, "requests per second the key may make (default: no limit)")
	f.Int("burst", 0, "requests the key may make at once (default: a second's worth)")
	f.Uint64("fuel-quota", 0, "fuel the key's calls may use per window (default: no quota)")
	f.String("quota-window", "24h", "the fuel quota's window, whole hours")
	f.String("expires", "", "when the key stops working: RFC 3339, or a duration from now such as 720h (default: never)")
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.MarkFlagRequired("role")
	noEnvFlags(cmd)
	return cmd
}

func newKeysList() *cobra.Command {
	return &cobra.Command{
		Use:   "ls",
		Short: "List keys: id, name, role, tool scopes, state, expiry, rate, fuel quota",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			keys, err := c.Keys(cmd.Context())
			if err != nil {
				return err
			}
			for _, k := range keys {
				tools, expires, rate, quota := "*", "-", "-", "-"
				if len(k.Tools) > 0 {
					tools = strings.Join(k.Tools, ",")
				}
				if k.ExpiresAt != nil {
					expires = k.ExpiresAt.Format(time.RFC3339)
				}
				if k.Rate != nil {
					rate = fmt.Sprintf("%grps/%d", k.Rate.RPS, k.Rate.Burst)
				}
				if k.FuelQuota != nil {
					quota = fmt.Sprintf("%d/%s", k.FuelQuota.Fuel, k.FuelQuota.Window)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Role, tools, k.State,
					expires, rate, quota)
			}
			return nil
		},
	}
}

func newKeysRemove() *cobra.Command {
	return &cobra.Command{
		Use:   "rm ID",
		Short: "Delete a key; its token stops working at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			return c.DeleteKey(cmd.Context(), args[0])
		},
	}
}

func newKeysToggle(verb, short string) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " ID",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			toggle := c.DisableKey
			if verb == "enable" {
				toggle = c.EnableKey
			}
			k, err := toggle(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\n", k.ID, k.State)
			return nil
		},
	}
}

func newUsage() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "usage",
		Short: "Show calls, fuel and cost per key and tool, and their total",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			var uf client.UsageFilter
			uf.Key, _ = f.GetString("key")
			uf.Tool, _ = f.GetString("tool")
			if s, _ := f.GetString("since"); s != "" {
				t, err := timeArg(s, true)
				if err != nil {
					return fmt.Errorf("--since %w", err)
				}
				uf.Since = t
			}
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			rows, total, err := c.Usage(cmd.Context(), uf)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for _, r := range rows {
				fmt.Fprintf(w, "%s\t%s\tcalls %d\tfuel %d\tcost %g\n", r.Key, r.Tool, r.Calls, r.Fuel, r.Cost)
			}
			fmt.Fprintf(w, "total\t\tcalls %d\tfuel %d\tcost %g\n", total.Calls, total.Fuel, total.Cost)
			return nil
		},
	}
	cmd.Flags().String("key", "", "only this key id")
	cmd.Flags().String("tool", "", "only this tool")
	cmd.Flags().String("since", "", "from this time: RFC 3339, or a duration ago such as 24h (default: all)")
	noEnvFlags(cmd)
	return cmd
}
