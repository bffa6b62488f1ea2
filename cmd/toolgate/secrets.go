package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/toolgate/toolgate/host"
	"github.com/toolgate/toolgate/internal/seal"
	"github.com/toolgate/toolgate/receipts"
	"github.com/toolgate/toolgate/receipts/tlog"
	"github.com/toolgate/toolgate/registry"
	tgbadger "github.com/toolgate/toolgate/registry/badger"
)

// addDoorFlags adds serve's flags for the network door and the master key.
func addDoorFlags(f *pflag.FlagSet) {
	f.String("allow-private-egress", "", "comma-separated CIDR ranges that tools may reach although they are "+
		"loopback, private or link-local (default none; e.g. 127.0.0.0/8 for tests)")
	f.String("previous-master-key", "", "the master key before a rotation of "+seal.EnvMasterKey+
		" (base64); secrets sealed under it are resealed under the new key at start. Prefer the environment "+
		"variable TOOLGATE_PREVIOUS_MASTER_KEY to the flag")
}

// secretLog is what openDoors needs of the store: the secrets, and the log that records their rotation.
type secretLog interface {
	registry.SecretStore
	tlog.Store
}

// localActor names the user this process runs as, as an event's actor: local:<user name>, or local:uid:<uid>.
func localActor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "local:" + u.Username
	}
	return "local:uid:" + strconv.Itoa(os.Getuid())
}

// logRotation appends the master_key_rotated event of a rotation that left every secret under key, resealing n.
func logRotation(ctx context.Context, events tlog.Store, key, from string, n int, reason string) (string, error) {
	attrs := map[string]string{"resealed": strconv.Itoa(n)}
	if from != "" && from != key { // the same when this run finished an interrupted rotation
		attrs["from"] = from
	}
	now := time.Now().UTC()
	ev := &receipts.Event{ID: receipts.NewEventID(now), Kind: receipts.EventMasterKeyRotated,
		Subject: "master_key:" + key, Actor: localActor(), At: now, Reason: reason, Attrs: attrs}
	if _, err := events.AppendEvent(ctx, ev); err != nil {
		return "", fmt.Errorf("log the master key rotation: %w", err)
	}
	return ev.ID, nil
}

// rotatedAtStart is the reason to log for a rotation this start completed, having resealed n secrets: "" if
// there was none.
func rotatedAtStart(master *seal.Master, n int) string {
	switch {
	case master.Pending():
		return "an interrupted rotation of the key file, finished at start"
	case n > 0:
		return "secrets resealed at start under the current key"
	}
	return ""
}

// openDoors loads the master key (TOOLGATE_MASTER_KEY, else <data>/master.key, created at first start with mode
// 0600), reseals every secret not under it (finishing a rotation, which it logs as an event), and builds the
// network door with the private-egress allowance. A secret sealed under a key the server does not have stops the
// start.
func openDoors(ctx context.Context, f *pflag.FlagSet, data string, store secretLog,
	log *slog.Logger) (*host.Door, *seal.Master, error) {
	allowFlag, _ := f.GetString("allow-private-egress")
	allow, err := host.ParseAllowPrivateEgress(allowFlag)
	if err != nil {
		return nil, nil, err
	}
	prev, _ := f.GetString("previous-master-key")
	master, created, err := seal.LoadMaster(data, os.Getenv(seal.EnvMasterKey), prev)
	if err != nil {
		return nil, nil, err
	}
	// The keys stay in this process only.
	_ = os.Unsetenv(seal.EnvMasterKey)
	_ = os.Unsetenv("TOOLGATE_PREVIOUS_MASTER_KEY")
	if created {
		log.Info("created master key", "key_file", filepath.Join(data, seal.KeyFile), "key_id",
			master.Keyring().Current().ID())
	}
	n, err := store.ResealSecrets(ctx, master.Keyring().Reseal)
	if err != nil {
		return nil, nil, fmt.Errorf("secrets: %w", err)
	}
	if reason := rotatedAtStart(master, n); reason != "" {
		if err := master.Finish(); err != nil {
			return nil, nil, err
		}
		key := master.Keyring().Current().ID()
		id, err := logRotation(ctx, store, key, "", n, reason)
		if err != nil {
			return nil, nil, err
		}
		log.Info(reason, "resealed", n, "key_id", key, "event", id)
	}
	door, err := host.NewDoor(host.DoorConfig{AllowPrivateEgress: allow})
	if err != nil {
		return nil, nil, err
	}
	return door, master, nil
}

func newSecrets() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Manage secrets: set, ls, rm, rotate-master-key",
	}
	cmd.AddCommand(newSecretsSet(), newSecretsLs(), newSecretsRm(), newSecretsRotate())
	return cmd
}

func newSecretsSet() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "set NAME",
		Short: "Store a secret (value from --file, --value or stdin; one trailing newline on stdin is dropped)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var value []byte
			var err error
			switch f, _ := cmd.Flags().GetString("file"); {
			case f != "":
				value, err = os.ReadFile(f)
			case cmd.Flags().Changed("value"):
				v, _ := cmd.Flags().GetString("value")
				value = []byte(v)
			default:
				value, err = io.ReadAll(io.LimitReader(cmd.InOrStdin(), registry.MaxSecretBytes+2))
				value = bytes.TrimSuffix(bytes.TrimSuffix(value, []byte("\n")), []byte("\r"))
			}
			if err != nil {
				return err
			}
			defer clear(value)
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			s, created, err := c.PutSecret(cmd.Context(), args[0], value)
			if err != nil {
				return err
			}
			verb := "updated"
			if created {
				verb = "created"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", verb, s.Name)
			return nil
		},
	}
	cmd.Flags().String("value", "", "the value, inline (it stays in your shell history: prefer stdin or --file)")
	_ = cmd.Flags().SetAnnotation("value", noEnv, []string{"true"})
	cmd.Flags().String("file", "", "read the value from this file, as is")
	_ = cmd.Flags().SetAnnotation("file", noEnv, []string{"true"})
	return cmd
}

func newSecretsLs() *cobra.Command {
	return &cobra.Command{
		Use:   "ls",
		Short: "List secrets: names and times, never values",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			list, err := c.Secrets(cmd.Context())
			if err != nil {
				return err
			}
			for _, s := range list {
				fmt.Fprintf(cmd.OutOrStdout(), "%s\tcreated %s\tupdated %s\n", s.Name,
					s.CreatedAt.Format("2006-01-02T15:04:05Z07:00"), s.UpdatedAt.Format("2006-01-02T15:04:05Z07:00"))
			}
			return nil
		},
	}
}

func newSecretsRm() *cobra.Command {
	return &cobra.Command{
		Use:   "rm NAME",
		Short: "Delete a secret",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			return c.DeleteSecret(cmd.Context(), args[0])
		},
	}
}

func newSecretsRotate() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rotate-master-key",
		Short: "Replace the master key file with a fresh key and reseal every secret (server stopped)",
		Long: "Replaces <data>/master.key with a fresh random key and reseals every secret under it. It works on " +
			"the data directory, so the server must be stopped. The new key is written before any secret is " +
			"resealed and replaces the old one only after the last, so an interruption is finished by the next " +
			"start of the server or of this command. The rotation is logged in the receipt log as a " +
			"master_key_rotated event, with the local user as its actor and --reason as its reason. A key from " +
			seal.EnvMasterKey + " is rotated by setting the new key there and the old one in " +
			"TOOLGATE_PREVIOUS_MASTER_KEY, then starting the server, which logs the event.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			data, _ := cmd.Flags().GetString("data")
			if os.Getenv(seal.EnvMasterKey) != "" {
				return seal.ErrKeyFromEnv
			}
			if _, err := os.Stat(filepath.Join(data, seal.KeyFile)); err != nil {
				return fmt.Errorf("no master key file in %s (does the server take its key from %s?): %w", data,
					seal.EnvMasterKey, err)
			}
			master, _, err := seal.LoadMaster(data, "", "")
			if err != nil {
				return err
			}
			store, err := tgbadger.Open(filepath.Join(data, "db"), tgbadger.Options{})
			if err != nil {
				if strings.Contains(err.Error(), "Cannot acquire directory lock") {
					return errors.New("the data directory is in use: stop the server first")
				}
				return fmt.Errorf("open store: %w", err)
			}
			defer store.Close()
			from := master.Keyring().Current().ID()
			n, err := master.Rotate(cmd.Context(), func(ctx context.Context, r *seal.Keyring) (int, error) {
				return store.ResealSecrets(ctx, r.Reseal)
			})
			if err != nil {
				return err
			}
			key := master.Keyring().Current().ID()
			reason, _ := cmd.Flags().GetString("reason")
			id, err := logRotation(cmd.Context(), store, key, from, n, reason)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "rotated the master key: %d secrets resealed, key id %s, logged as %s\n",
				n, key, id)
			return nil
		},
	}
	cmd.Flags().String("data", defaultDataDir, "data directory of the (stopped) server")
	cmd.Flags().String("reason", "", "why, recorded in the rotation's event in the receipt log")
	return cmd
}
