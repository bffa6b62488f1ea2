// Command toolgate is Toolgate's single binary: `toolgate serve` runs the server, the other subcommands are
// clients of its HTTP API, and `toolgate run` runs a module locally without a server. Every flag can also be set
// through a TOOLGATE_* environment variable (flag --max-module-bytes ↔ TOOLGATE_MAX_MODULE_BYTES); a flag given
// on the command line wins.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/toolgate/toolgate/sdk/client"
)

const defaultDataDir = "./toolgate-data"

func main() {
	root := newRoot()
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "toolgate: "+oneLine(err))
		os.Exit(1)
	}
}

// oneLine keeps failures to one line on stderr, as the CLI promises.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "toolgate",
		Short:         "Run sandboxed WebAssembly tools with receipts",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return flagsFromEnv(cmd)
		},
	}
	root.PersistentFlags().String("url", "http://127.0.0.1:8080", "server URL for client commands")
	root.PersistentFlags().String("token", "", "API token for client commands (default: <data>/admin.token)")
	root.AddCommand(newServe(), newRun(), newPush(), newInvoke(), newPin(), newRollback(), newHistory(),
		newTools(), newReceipts(), newReceipt(), newKeys(), newUsage())
	root.AddCommand(newSecrets())
	root.AddCommand(newInit())
	return root
}

// noEnv marks a flag that no environment variable sets (invoke's --data is the call's input, while
// TOOLGATE_DATA names the data directory).
const noEnv = "toolgate_no_env"

// flagsFromEnv sets every flag not given on the command line from TOOLGATE_<NAME>, if that is set.
func flagsFromEnv(cmd *cobra.Command) error {
	var errs []error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Annotations[noEnv] != nil {
			return
		}
		env := "TOOLGATE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if err := cmd.Flags().Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", env, err))
			}
		}
	})
	return errors.Join(errs...)
}

// newClient builds an API client from --url and --token, else the token in the data directory's admin.token
// ($TOOLGATE_DATA, default ./toolgate-data).
func newClient(cmd *cobra.Command) (*client.Client, error) {
	url, _ := cmd.Flags().GetString("url")
	token, _ := cmd.Flags().GetString("token")
	if token == "" {
		data := os.Getenv("TOOLGATE_DATA")
		if data == "" {
			data = defaultDataDir
		}
		b, err := os.ReadFile(filepath.Join(data, "admin.token"))
		if err != nil {
			return nil, errors.New("no token: set TOOLGATE_TOKEN or --token (or TOOLGATE_DATA to a data directory with admin.token)")
		}
		token = strings.TrimSpace(string(b))
	}
	return client.New(url, token, nil), nil
}
