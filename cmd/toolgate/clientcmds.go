package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/toolgate/toolgate/sdk/client"
)

// splitRef splits NAME@REF; ref may be empty when optional.
func splitRef(arg string, refRequired bool) (name, ref string, err error) {
	name, ref, found := strings.Cut(arg, "@")
	if name == "" || (refRequired && (!found || ref == "")) {
		if refRequired {
			return "", "", fmt.Errorf("want NAME@VERSION, got %q", arg)
		}
		return "", "", fmt.Errorf("want NAME or NAME@REF, got %q", arg)
	}
	return name, ref, nil
}

func printJSON(cmd *cobra.Command, v any) error {
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newPush() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "push NAME@VERSION FILE.wasm",
		Short: "Upload a module and publish it as a version of a tool",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, version, err := splitRef(args[0], true)
			if err != nil {
				return err
			}
			wasm, err := os.ReadFile(args[1])
			if err != nil {
				return err
			}
			doc := map[string]json.RawMessage{}
			if mf, _ := cmd.Flags().GetString("manifest"); mf != "" {
				b, err := os.ReadFile(mf)
				if err != nil {
					return err
				}
				if err := json.Unmarshal(b, &doc); err != nil {
					return fmt.Errorf("manifest %s: %w", mf, err)
				}
			}
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			m, _, err := c.PushModule(ctx, wasm)
			if err != nil {
				return fmt.Errorf("upload: %w", err)
			}
			if given, ok := doc["module"]; ok {
				var d string
				if json.Unmarshal(given, &d) != nil || d != m.Digest {
					return fmt.Errorf("manifest names module %s, but %s is %s", given, args[1], m.Digest)
				}
			}
			doc["module"], _ = json.Marshal(m.Digest)
			body, _ := json.Marshal(doc)
			v, _, err := c.PutVersion(ctx, name, version, body)
			if err != nil {
				return fmt.Errorf("publish: %w", err)
			}
			if pin, _ := cmd.Flags().GetBool("pin"); pin && !v.Pinned {
				if _, err := c.Pin(ctx, name, version, "pushed with --pin"); err != nil {
					return fmt.Errorf("pin: %w", err)
				}
				v.Pinned = true
			}
			return printJSON(cmd, v)
		},
	}
	cmd.Flags().String("manifest", "", "version document (JSON) to publish; \"module\" is filled in")
	cmd.Flags().Bool("pin", false, "pin the tool to this version")
	return cmd
}

// readInput takes the call's input from --data, --file or stdin, in that order.
func readInput(cmd *cobra.Command) ([]byte, error) {
	if cmd.Flags().Changed("data") {
		d, _ := cmd.Flags().GetString("data")
		return []byte(d), nil
	}
	if f, _ := cmd.Flags().GetString("file"); f != "" {
		return os.ReadFile(f)
	}
	return io.ReadAll(cmd.InOrStdin())
}

func newInvoke() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "invoke NAME[@REF]",
		Short: "Call a tool; output to stdout, receipt id to stderr",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, ref, err := splitRef(args[0], false)
			if err != nil {
				return err
			}
			input, err := readInput(cmd)
			if err != nil {
				return err
			}
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			key, _ := cmd.Flags().GetString("idempotency-key")
			res, err := c.Invoke(cmd.Context(), name, input, client.InvokeOptions{Ref: ref, IdempotencyKey: key})
			if err != nil {
				return err
			}
			if _, err := cmd.OutOrStdout().Write(res.Output); err != nil {
				return err
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "receipt:", res.Receipt)
			return nil
		},
	}
	cmd.Flags().String("data", "", "the input, given inline")
	_ = cmd.Flags().SetAnnotation("data", noEnv, []string{"true"})
	cmd.Flags().String("file", "", "read the input from this file")
	cmd.Flags().String("idempotency-key", "", "make retries of this call safe")
	return cmd
}

func newPin() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pin NAME@VERSION",
		Short: "Pin a tool to a version (or NAME@sha256:… to a module)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, version, err := splitRef(args[0], true)
			if err != nil {
				return err
			}
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			reason, _ := cmd.Flags().GetString("reason")
			ev, err := c.Pin(cmd.Context(), name, version, reason)
			if err != nil {
				return err
			}
			return printJSON(cmd, ev)
		},
	}
	cmd.Flags().String("reason", "", "why; kept in the history")
	return cmd
}

func newRollback() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollback NAME",
		Short: "Move a tool's pin back to the previous pinned module",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			reason, _ := cmd.Flags().GetString("reason")
			ev, err := c.Rollback(cmd.Context(), args[0], reason)
			if err != nil {
				return err
			}
			return printJSON(cmd, ev)
		},
	}
	cmd.Flags().String("reason", "", "why; kept in the history")
	return cmd
}

func newHistory() *cobra.Command {
	return &cobra.Command{
		Use:   "history NAME",
		Short: "Show a tool's pin and rollback events, oldest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			evs, err := c.History(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for _, e := range evs {
				line := fmt.Sprintf("%d\t%s\t%s\t%s\t%s\t%s", e.Seq, e.At.Format("2006-01-02T15:04:05Z07:00"),
					e.Kind, e.Version, e.Module, e.Actor)
				if e.Reason != "" {
					line += "\t" + e.Reason
				}
				fmt.Fprintln(w, line)
			}
			return nil
		},
	}
}

func newTools() *cobra.Command {
	return &cobra.Command{
		Use:   "tools",
		Short: "List tools with their pinned version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			tools, err := c.Tools(cmd.Context())
			if err != nil {
				return err
			}
			for _, t := range tools {
				pin := "-"
				if t.Pin != nil {
					pin = t.Pin.Version
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s\tpinned %s\tversions %s\n", t.Name, pin,
					strings.Join(t.Versions, ","))
			}
			return nil
		},
	}
}

func newReceipts() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "receipts",
		Short: "List receipts, newest first (one JSON object a line)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			var f client.ReceiptFilter
			f.Tool, _ = cmd.Flags().GetString("tool")
			f.Status, _ = cmd.Flags().GetString("status")
			f.Limit, _ = cmd.Flags().GetInt("limit")
			page, _, err := c.Receipts(cmd.Context(), f)
			if err != nil {
				return err
			}
			for _, r := range page {
				fmt.Fprintln(cmd.OutOrStdout(), string(r))
			}
			return nil
		},
	}
	cmd.Flags().String("tool", "", "only this tool's receipts")
	cmd.Flags().String("status", "", "only receipts with this status (ok, trap, …)")
	cmd.Flags().Int("limit", 20, "at most this many")
	cmd.AddCommand(newReceiptsVerify())
	return cmd
}

func newReceipt() *cobra.Command {
	return &cobra.Command{
		Use:   "receipt ID",
		Short: "Show one receipt (canonical JSON)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			r, err := c.Receipt(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if len(r) == 0 {
				return errors.New("empty receipt")
			}
			fmt.Fprintln(cmd.OutOrStdout(), string(r))
			return nil
		},
	}
}
