package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/toolgate/toolgate/receipts/tlog"
	"github.com/toolgate/toolgate/sdk/client"
)

// entriesPage is how many log entries `receipts verify --all` asks for at a time (the server's maximum).
const entriesPage = 1000

func newReceiptsVerify() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "verify [ID...] [--all] --key PUBKEYFILE",
		Short: "Verify receipts against the signed log, offline, with the server's public key",
		Long: `Verify checks the server's answers with nothing but the public key of its log (the file log.pub in
its data directory, or GET /v1/log/key fetched once and kept). It verifies the signature of the current
checkpoint, then:

  ID...  that each receipt is in the signed tree: its bytes at the index its inclusion proof names;
  --all  every entry of the log, receipts and events: a modified, deleted or reordered entry is reported with
         its index.

With --checkpoint FILE it also checks that the log extends the checkpoint kept in FILE by an earlier run
(nothing signed before was changed, removed or reordered since), and on success writes the new checkpoint
there. Problems are printed one a line; the exit code is non-zero if there is any.`,
		RunE: runVerify,
	}
	f := cmd.Flags()
	f.String("key", "", "file holding the log's verifier key, \"<name>+<hash>+<base64>\" (required)")
	f.Bool("all", false, "verify every entry of the log")
	f.String("checkpoint", "", "checkpoint kept from an earlier verify: the log must extend it; updated on success")
	return cmd
}

// verifier holds one run of `receipts verify`.
type verifier struct {
	c        *client.Client
	vkey     string
	out      io.Writer
	problems int
}

func (v *verifier) problem(format string, a ...any) {
	v.problems++
	fmt.Fprintf(v.out, format+"\n", a...)
}

func runVerify(cmd *cobra.Command, ids []string) error {
	keyFile, _ := cmd.Flags().GetString("key")
	all, _ := cmd.Flags().GetBool("all")
	cpFile, _ := cmd.Flags().GetString("checkpoint")
	if keyFile == "" {
		return errors.New("--key PUBKEYFILE is required: the log's verifier key (log.pub in the server's data directory)")
	}
	if len(ids) == 0 && !all {
		return errors.New("name receipt ids to verify, or --all")
	}
	kb, err := os.ReadFile(keyFile)
	if err != nil {
		return fmt.Errorf("read key: %w", err)
	}
	c, err := newClient(cmd)
	if err != nil {
		return err
	}
	v := &verifier{c: c, vkey: strings.TrimSpace(string(kb)), out: cmd.OutOrStdout()}
	ctx := cmd.Context()

	note, err := c.Checkpoint(ctx)
	if err != nil {
		return fmt.Errorf("fetch checkpoint: %w", err)
	}
	cp, err := tlog.OpenCheckpoint(note, v.vkey)
	if err != nil {
		return fmt.Errorf("the server's checkpoint does not verify with the key in %s: %w", keyFile, err)
	}
	fmt.Fprintf(v.out, "checkpoint: %d entries, root %s, signed by %s\n", cp.N, cp.Hash, cp.Signer)
	if cpFile != "" {
		if err := v.extends(ctx, cpFile, cp); err != nil {
			return err
		}
	}
	for _, id := range ids {
		if err := v.receipt(ctx, cp, id); err != nil {
			return err
		}
	}
	if all {
		if err := v.all(ctx, cp); err != nil {
			return err
		}
	}
	if v.problems > 0 {
		return fmt.Errorf("log verification failed: %d problem(s)", v.problems)
	}
	if cpFile != "" {
		if err := os.WriteFile(cpFile, cp.Note, 0o644); err != nil {
			return fmt.Errorf("keep checkpoint: %w", err)
		}
	}
	return nil
}

// extends checks that the log's current checkpoint extends the one kept in file, if there is one.
func (v *verifier) extends(ctx context.Context, file string, cp tlog.Checkpoint) error {
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(v.out, "no checkpoint kept in %s yet: it will hold this one\n", file)
		return nil
	}
	if err != nil {
		return fmt.Errorf("read kept checkpoint: %w", err)
	}
	old, err := tlog.OpenCheckpoint(b, v.vkey)
	if err != nil {
		return fmt.Errorf("the checkpoint kept in %s does not verify with this key: %w", file, err)
	}
	if old.N > cp.N {
		v.problem("log: shrank from %d entries (kept checkpoint) to %d: entries %d to %d were deleted, or the log was replaced",
			old.N, cp.N, cp.N, old.N-1)
		return nil
	}
	cons, err := v.c.LogConsistency(ctx, old.N, cp.N)
	if err != nil {
		return fmt.Errorf("fetch consistency proof %d → %d: %w", old.N, cp.N, err)
	}
	proof, err := hashesOf(cons.Proof)
	if err == nil {
		err = tlog.VerifyConsistency(old.Tree, cp.Tree, proof)
	}
	if err != nil {
		v.problem("log: does not extend the kept checkpoint of %d entries: what was signed then has been changed, removed or reordered (%v)",
			old.N, err)
		return nil
	}
	fmt.Fprintf(v.out, "ok: extends the kept checkpoint of %d entries\n", old.N)
	return nil
}

// receipt checks one receipt's inclusion in the tree of cp.
func (v *verifier) receipt(ctx context.Context, cp tlog.Checkpoint, id string) error {
	p, err := v.c.ReceiptProof(ctx, id, cp.N)
	switch {
	case client.IsCode(err, "not_found"):
		v.problem("%s: not in the log", id)
		return nil
	case err != nil:
		return fmt.Errorf("fetch proof of %s: %w", id, err)
	}
	leaf, err := v.c.Receipt(ctx, id)
	switch {
	case client.IsCode(err, "not_found"):
		v.problem("%s: deleted: the log has it at index %d, the server no longer has the receipt", id, p.Index)
		return nil
	case err != nil:
		return fmt.Errorf("fetch receipt %s: %w", id, err)
	}
	proof, err := hashesOf(p.Proof)
	if err == nil {
		err = tlog.VerifyReceipt(cp.Tree, id, p.Index, leaf, proof)
	}
	if err != nil {
		v.problem("%s: modified: the receipt the server returns is not the one the checkpoint signed at index %d (%v)",
			id, p.Index, err)
		return nil
	}
	fmt.Fprintf(v.out, "ok: %s is entry %d of %d\n", id, p.Index, cp.N)
	return nil
}

// all audits every entry of the tree of cp.
func (v *verifier) all(ctx context.Context, cp tlog.Checkpoint) error {
	a := tlog.NewAuditor(cp.Tree)
	for a.Next() < cp.N {
		page, _, err := v.c.LogEntries(ctx, a.Next(), entriesPage)
		if err != nil {
			return fmt.Errorf("fetch entries from %d: %w", a.Next(), err)
		}
		if len(page) == 0 {
			break // the server has fewer entries than it signed: the auditor reports the rest as deleted
		}
		for _, e := range page {
			te := tlog.Entry{Index: e.Index, ID: e.ID, Data: e.Data}
			if len(e.Hash) == tlog.HashSize {
				copy(te.Hash[:], e.Hash)
			}
			if err := a.Add(te); err != nil {
				return fmt.Errorf("entries from the server: %w", err)
			}
		}
	}
	r := a.Finish(func(i int64) ([]tlog.Hash, error) {
		p, err := v.c.LogProof(ctx, i, cp.N)
		if err != nil {
			return nil, err
		}
		return hashesOf(p.Proof)
	})
	for _, p := range r.Problems {
		v.problem("%s", p)
	}
	if r.OK() {
		fmt.Fprintf(v.out, "ok: all %d entries (%d receipts, %d events) are the ones the checkpoint signed\n",
			r.Entries, r.Receipts, r.Events)
	}
	return nil
}

func hashesOf(bs [][]byte) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(bs))
	for i, b := range bs {
		if len(b) != tlog.HashSize {
			return nil, fmt.Errorf("proof hash %d has %d bytes: %w", i, len(b), tlog.ErrNotIncluded)
		}
		copy(out[i][:], b)
	}
	return out, nil
}
