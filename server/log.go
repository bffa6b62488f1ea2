package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/toolgate/toolgate/receipts"
	"github.com/toolgate/toolgate/receipts/tlog"
	"github.com/toolgate/toolgate/registry"
)

// txLog is the server's side of the receipt log: the store that numbers leaves, the key that signs checkpoints,
// and the last checkpoint signed, which GET /v1/log/checkpoint answers again until the tree grows.
type txLog struct {
	store  tlog.Store // nil when receipts are off (Config.NoReceipts)
	signer *tlog.Signer

	mu       sync.Mutex
	lastTree tlog.Tree
	lastNote []byte
}

// newTxLog wires the log from cfg: the store is cfg.Log, else cfg.Receipts if it keeps the log too; the signer is
// cfg.LogSigner, else a key made for this process alone.
func newTxLog(cfg Config) (*txLog, error) {
	l := &txLog{store: cfg.Log, signer: cfg.LogSigner}
	if cfg.NoReceipts {
		l.store = nil
		return l, nil
	}
	if l.store == nil {
		ls, ok := cfg.Receipts.(tlog.Store)
		if !ok {
			return nil, errors.New("server: Log is required when Receipts does not keep the log")
		}
		l.store = ls
	}
	if l.signer == nil {
		s, _, err := tlog.GenerateSigner(tlog.DefaultKeyName)
		if err != nil {
			return nil, err
		}
		l.signer = s
	}
	return l, nil
}

// discardReceipts drops every receipt: Config.NoReceipts, for benchmarks only.
type discardReceipts struct{ receipts.Store }

func (discardReceipts) Append(context.Context, *receipts.Receipt) error { return nil }

// logRoutes adds the routes of the receipt log.
func (s *Server) logRoutes(v1 fiber.Router) {
	v1.Get("/log/key", s.logKey)
	v1.Get("/log/checkpoint", s.logCheckpoint)
	v1.Get("/log/consistency", s.logConsistency)
	v1.Get("/log/entries", s.logEntries)
	v1.Get("/log/proof", s.logProof)
	v1.Get("/receipts/:id/proof", s.receiptProof)
}

// event makes the log event of a change this request makes: its principal is the actor and now the time.
// attrs must never hold a secret value.
func (s *Server) event(c *fiber.Ctx, kind, subject, reason string, attrs map[string]string) *receipts.Event {
	return &receipts.Event{Kind: kind, Subject: subject, Actor: principal(c), At: s.now().UTC(), Reason: reason,
		Attrs: attrs}
}

// oneEvent is the events func (see logged) of a change that one event records, made when the change is made.
func (s *Server) oneEvent(c *fiber.Ctx, kind, subject string, attrs map[string]string) func(registry.Change) []*receipts.Event {
	return func(registry.Change) []*receipts.Event {
		return []*receipts.Event{s.event(c, kind, subject, "", attrs)}
	}
}

// pinEvent makes the log event of a pin or rollback from the registry's own history event, with its actor, time
// and reason.
func pinEvent(ev registry.Event) *receipts.Event {
	attrs := map[string]string{"version": ev.Version, "module": ev.Module, "seq": strconv.FormatInt(ev.Seq, 10)}
	if ev.From != "" {
		attrs["from"] = ev.From
	}
	kind := receipts.EventPin
	if ev.Kind == registry.EventRollback {
		kind = receipts.EventRollback
	}
	return &receipts.Event{Kind: kind, Subject: "tool:" + ev.Tool, Actor: ev.Actor, At: ev.At.UTC(),
		Reason: ev.Reason, Attrs: attrs}
}

// logged makes a registry or governance change and records it in the log before the change is acknowledged,
// with no window in which one is stored and not the other.
//
// change makes the change with the context it is given. That context carries an event plan
// (registry.WithEventPlan): the store calls it in the change's transaction, and it makes the change's events with
// events, from what the store reports, for the store to write into its outbox ob. change reports whether it wrote
// anything; if it did, logged appends the events to the log and clears them from the outbox. If the process dies
// first, the server appends them when it next starts (drainOutbox). With receipts off, logged only makes the
// change.
func (s *Server) logged(c *fiber.Ctx, ob registry.Outbox, events func(registry.Change) []*receipts.Event,
	change func(ctx context.Context) (wrote bool, err error)) error {
	ctx := c.UserContext()
	if s.txlog.store == nil {
		_, err := change(ctx)
		return err
	}
	plan, last := eventPlan(events)
	wrote, err := change(registry.WithEventPlan(ctx, plan))
	if err != nil || !wrote {
		return err
	}
	evs := *last
	// With its own deadline: the change is stored, so a client that hung up must not hold its events back.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	ids := make([]string, len(evs))
	for i, ev := range evs {
		if _, err := s.txlog.store.AppendEvent(actx, ev); err != nil {
			return fmt.Errorf("log event kind[%s] subject[%s]: %w", ev.Kind, ev.Subject, err)
		}
		ids[i] = ev.ID
	}
	if err := ob.ClearOutbox(actx, ids); err != nil {
		return fmt.Errorf("log events: %w", err) // they are in the log; the next start clears them
	}
	return nil
}

// eventPlan returns an EventPlan that makes a change's events with events, gives them ids and encodes them for
// the outbox, and where it leaves the events of its latest call (a transaction retried calls it again).
func eventPlan(events func(registry.Change) []*receipts.Event) (registry.EventPlan, *[]*receipts.Event) {
	var last []*receipts.Event
	return func(ch registry.Change) ([]registry.OutboxEntry, error) {
		last = events(ch)
		out := make([]registry.OutboxEntry, len(last))
		for i, ev := range last {
			ev.ID = receipts.NewEventID(ev.At)
			if err := ev.Validate(); err != nil {
				return nil, err
			}
			data, err := ev.Canonical()
			if err != nil {
				return nil, err
			}
			out[i] = registry.OutboxEntry{ID: ev.ID, Data: data}
		}
		return out, nil
	}, &last
}

// drainOutbox appends to the log the events that changes stored in the outboxes but that never reached the log
// (the process died in between), in the order of their ids, and clears them. An entry that is not a valid event
// is left where it is and reported in the server log, so that it cannot keep the server from starting.
func (s *Server) drainOutbox(ctx context.Context, outboxes ...registry.Outbox) error {
	if s.txlog.store == nil {
		return nil
	}
	seen := map[registry.Outbox]bool{}
	for _, ob := range outboxes {
		if ob == nil || seen[ob] {
			continue
		}
		seen[ob] = true
		entries, err := ob.Outbox(ctx)
		if err != nil {
			return err
		}
		var done []string
		for _, e := range entries {
			ev, err := receipts.DecodeEvent(e.Data)
			if err == nil && ev.ID != e.ID {
				err = fmt.Errorf("event id %s", ev.ID)
			}
			if err == nil {
				err = ev.Validate()
			}
			if err != nil {
				s.log.Error("outbox entry left undelivered", "id", e.ID, "err", err)
				continue
			}
			switch _, err := s.txlog.store.LeafIndex(ctx, ev.ID); {
			case errors.Is(err, tlog.ErrNotFound):
				if _, err := s.txlog.store.AppendEvent(ctx, ev); err != nil {
					return fmt.Errorf("outbox event[%s]: %w", ev.ID, err)
				}
			case err != nil:
				return fmt.Errorf("outbox event[%s]: %w", ev.ID, err)
			}
			done = append(done, e.ID)
		}
		if err := ob.ClearOutbox(ctx, done); err != nil {
			return err
		}
		if len(done) > 0 {
			s.log.Info("appended log events a restart found in the outbox", "events", len(done))
		}
	}
	return nil
}

// logOn answers 404 when receipts are off.
func (s *Server) logOn() error {
	if s.txlog.store == nil {
		return apiErr(http.StatusNotFound, CodeNotFound, "the receipt log is off on this server")
	}
	return nil
}

// tree returns the log's tree of size n; n < 0 means the current size.
func (s *Server) tree(ctx context.Context, n int64) (tlog.Tree, error) {
	size, err := s.txlog.store.TreeSize(ctx)
	if err != nil {
		return tlog.Tree{}, err
	}
	if n < 0 {
		n = size
	}
	if n > size {
		return tlog.Tree{}, apiErr(http.StatusBadRequest, CodeInvalidRequest,
			fmt.Sprintf("tree size %d is beyond the log, which has %d entries", n, size))
	}
	h, err := tlog.TreeHash(n, tlog.Reader(ctx, s.txlog.store))
	if err != nil {
		return tlog.Tree{}, fmt.Errorf("tree hash size[%d]: %w", n, err)
	}
	return tlog.Tree{N: n, Hash: h}, nil
}

// checkpoint signs t, reusing the last signature when t is the tree last signed.
func (s *Server) checkpoint(t tlog.Tree) ([]byte, error) {
	l := s.txlog
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lastNote != nil && l.lastTree == t {
		return l.lastNote, nil
	}
	note, err := l.signer.Sign(t)
	if err != nil {
		return nil, err
	}
	if t.N >= l.lastTree.N {
		l.lastTree, l.lastNote = t, note
	}
	return note, nil
}

// queryInt64 reads a non-negative integer query parameter; def when absent.
func queryInt64(c *fiber.Ctx, name string, def int64) (int64, error) {
	v := c.Query(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, apiErr(http.StatusBadRequest, CodeInvalidRequest, name+" must be a non-negative integer")
	}
	return n, nil
}

// logKey answers the verifier key of the checkpoints, "<name>+<hash>+<base64>", as text.
func (s *Server) logKey(c *fiber.Ctx) error {
	if err := s.logOn(); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
	return c.SendString(s.txlog.signer.VerifierKey() + "\n")
}

// logCheckpoint answers the signed checkpoint of the current tree, as note text.
func (s *Server) logCheckpoint(c *fiber.Ctx) error {
	if err := s.logOn(); err != nil {
		return err
	}
	t, err := s.tree(c.UserContext(), -1)
	if err != nil {
		return err
	}
	note, err := s.checkpoint(t)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
	return c.Send(note)
}

// proofView is an inclusion proof and the signed checkpoint it is against.
type proofView struct {
	ID         string      `json:"id,omitempty"`
	Index      int64       `json:"index"`
	TreeSize   int64       `json:"tree_size"`
	LeafHash   tlog.Hash   `json:"leaf_hash"`
	Proof      []tlog.Hash `json:"proof"`
	Checkpoint string      `json:"checkpoint"`
}

// receiptProof answers the inclusion proof of a receipt in the current tree, or in ?tree_size=N.
func (s *Server) receiptProof(c *fiber.Ctx) error {
	if err := s.logOn(); err != nil {
		return err
	}
	id := c.Params("id")
	if !receipts.ValidID(id) {
		return apiErr(http.StatusBadRequest, CodeInvalidRequest, "receipt ids look like rcpt_<24 hex>")
	}
	index, err := s.txlog.store.LeafIndex(c.UserContext(), id)
	if errors.Is(err, tlog.ErrNotFound) {
		return apiErr(http.StatusNotFound, CodeNotFound, "receipt not in the log")
	}
	if err != nil {
		return err
	}
	return s.proveIndex(c, id, index)
}

// logProof answers the inclusion proof of leaf ?index=I in the current tree, or in ?tree_size=N.
func (s *Server) logProof(c *fiber.Ctx) error {
	if err := s.logOn(); err != nil {
		return err
	}
	if c.Query("index") == "" {
		return apiErr(http.StatusBadRequest, CodeInvalidRequest, "index is required")
	}
	index, err := queryInt64(c, "index", 0)
	if err != nil {
		return err
	}
	return s.proveIndex(c, "", index)
}

func (s *Server) proveIndex(c *fiber.Ctx, id string, index int64) error {
	ctx := c.UserContext()
	size, err := queryInt64(c, "tree_size", -1)
	if err != nil {
		return err
	}
	t, err := s.tree(ctx, size)
	if err != nil {
		return err
	}
	if index >= t.N {
		return apiErr(http.StatusBadRequest, CodeInvalidRequest,
			fmt.Sprintf("index %d is not in a tree of %d entries", index, t.N))
	}
	read := tlog.Reader(ctx, s.txlog.store)
	proof, err := tlog.ProveInclusion(t.N, index, read)
	if err != nil {
		return fmt.Errorf("prove index[%d] size[%d]: %w", index, t.N, err)
	}
	leaf, err := read.ReadHashes([]int64{tlog.StoredHashIndex(0, index)})
	if err != nil {
		return err
	}
	note, err := s.checkpoint(t)
	if err != nil {
		return err
	}
	return c.JSON(proofView{ID: id, Index: index, TreeSize: t.N, LeafHash: leaf[0], Proof: proof,
		Checkpoint: string(note)})
}

// consistencyView proves that the tree of size From is a prefix of the tree of size To.
type consistencyView struct {
	From       int64       `json:"from"`
	To         int64       `json:"to"`
	Proof      []tlog.Hash `json:"proof"`
	Checkpoint string      `json:"checkpoint"` // of the tree of size To
}

// logConsistency answers the consistency proof from ?from=N to ?to=M (default: the current size).
func (s *Server) logConsistency(c *fiber.Ctx) error {
	if err := s.logOn(); err != nil {
		return err
	}
	ctx := c.UserContext()
	if c.Query("from") == "" {
		return apiErr(http.StatusBadRequest, CodeInvalidRequest, "from is required")
	}
	from, err := queryInt64(c, "from", 0)
	if err != nil {
		return err
	}
	to, err := queryInt64(c, "to", -1)
	if err != nil {
		return err
	}
	t, err := s.tree(ctx, to)
	if err != nil {
		return err
	}
	if from > t.N {
		return apiErr(http.StatusBadRequest, CodeInvalidRequest,
			fmt.Sprintf("from %d is past to %d", from, t.N))
	}
	proof, err := tlog.ProveConsistency(t.N, from, tlog.Reader(ctx, s.txlog.store))
	if err != nil {
		return fmt.Errorf("prove consistency %d to %d: %w", from, t.N, err)
	}
	note, err := s.checkpoint(t)
	if err != nil {
		return err
	}
	return c.JSON(consistencyView{From: from, To: t.N, Proof: proof, Checkpoint: string(note)})
}

// entryView is one leaf as stored. Data is the leaf's exact bytes (base64 in JSON, so that nothing re-encodes
// them); it is absent, like Hash or ID, when the store has lost it.
type entryView struct {
	Index int64      `json:"index"`
	ID    string     `json:"id"`
	Kind  string     `json:"kind"`
	Hash  *tlog.Hash `json:"hash"`
	Data  []byte     `json:"data"`
}

// logEntries answers up to ?limit= (1 to 1000, default 100) leaves from ?start=, for offline audits.
func (s *Server) logEntries(c *fiber.Ctx) error {
	if err := s.logOn(); err != nil {
		return err
	}
	start, err := queryInt64(c, "start", 0)
	if err != nil {
		return err
	}
	limit, err := queryInt64(c, "limit", 100)
	if err != nil || limit < 1 || limit > 1000 {
		return apiErr(http.StatusBadRequest, CodeInvalidRequest, "limit must be 1 to 1000")
	}
	ctx := c.UserContext()
	size, err := s.txlog.store.TreeSize(ctx)
	if err != nil {
		return err
	}
	es, err := s.txlog.store.Entries(ctx, start, int(limit))
	if err != nil {
		return err
	}
	out := make([]entryView, len(es))
	for i, e := range es {
		out[i] = entryView{Index: e.Index, ID: e.ID, Kind: tlog.KindOf(e.ID), Data: e.Data}
		if e.Hash != (tlog.Hash{}) {
			out[i].Hash = &es[i].Hash
		}
	}
	return c.JSON(fiber.Map{"tree_size": max(size, start+int64(len(es))), "entries": out})
}
