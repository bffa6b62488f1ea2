package badger

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	badgerdb "github.com/dgraph-io/badger/v4"

	"github.com/toolgate/toolgate/registry"
)

// toolRec is the value at t/<tool>: what changes with each pin event. Versions are not in it: they are the keys
// under v/<tool>/, so a publish never rewrites a growing list.
type toolRec struct {
	Name      string       `json:"name"`
	CreatedAt time.Time    `json:"created_at"`
	Pin       registry.Pin `json:"pin"`   // the live pin: the top of the stack, as set by the last event
	Depth     uint64       `json:"depth"` // entries on the pin stack (p/<tool>/1..Depth)
	Seq       int64        `json:"seq"`   // events in the history (h/<tool>/1..Seq)
}

// stackEntry is the value at p/<tool>/<depth>.
type stackEntry struct {
	Version string `json:"version"`
	Module  string `json:"module"`
}

func toolKey(tool string) []byte             { return []byte("t/" + tool) }
func versionPrefix(tool string) []byte       { return []byte("v/" + tool + "/") }
func versionKey(tool, version string) []byte { return append(versionPrefix(tool), version...) }
func stackKey(tool string, depth uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte("p/"+tool+"/"), depth)
}
func historyPrefix(tool string) []byte { return []byte("h/" + tool + "/") }
func historyKey(tool string, seq int64) []byte {
	return binary.BigEndian.AppendUint64(historyPrefix(tool), uint64(seq))
}

func checkTool(tool string) error {
	if !registry.ValidToolName(tool) {
		return fmt.Errorf("tool[%s]: malformed name: %w", tool, registry.ErrInvalid)
	}
	return nil
}

func checkToolVersion(tool, version string) error {
	if err := checkTool(tool); err != nil {
		return err
	}
	if _, err := registry.ParseSemver(version); err != nil {
		return fmt.Errorf("tool[%s] version[%s]: %v: %w", tool, version, err, registry.ErrInvalid)
	}
	return nil
}

// Publish stores rec as rec.Tool@rec.Version. Besides the contract's checks, rec.Manifest must be
// registry.DigestOf(rec.Document) (an empty Manifest is filled in), and a zero PublishedAt is set to now.
func (s *Store) Publish(ctx context.Context, rec registry.VersionRecord) (registry.PublishResult, error) {
	end, err := s.begin(ctx)
	if err != nil {
		return registry.PublishResult{}, err
	}
	defer end()
	if err := checkToolVersion(rec.Tool, rec.Version); err != nil {
		return registry.PublishResult{}, err
	}
	if !registry.ValidDigest(rec.Module) {
		return registry.PublishResult{}, fmt.Errorf("tool[%s] version[%s]: module[%s]: malformed digest: %w", rec.Tool, rec.Version, rec.Module, registry.ErrInvalid)
	}
	switch doc := registry.DigestOf(rec.Document); rec.Manifest {
	case "":
		rec.Manifest = doc
	case doc:
	default:
		return registry.PublishResult{}, fmt.Errorf("tool[%s] version[%s]: manifest[%s] is not the document's digest %s: %w", rec.Tool, rec.Version, rec.Manifest, doc, registry.ErrInvalid)
	}
	if rec.PublishedAt.IsZero() {
		rec.PublishedAt = time.Now()
	}
	rec.PublishedAt = rec.PublishedAt.UTC()
	val, err := json.Marshal(rec)
	if err != nil {
		return registry.PublishResult{}, fmt.Errorf("tool[%s] version[%s]: %w", rec.Tool, rec.Version, err)
	}

	defer s.lockTool(rec.Tool)()
	var res registry.PublishResult
	err = s.update(ctx, func(txn *badgerdb.Txn) error {
		res = registry.PublishResult{}
		old, found, err := get(txn, versionKey(rec.Tool, rec.Version))
		if err != nil {
			return err
		}
		if found {
			if err := decodeJSON(old, &res.Record); err != nil {
				return err
			}
			if res.Record.Manifest != rec.Manifest {
				return fmt.Errorf("%w (manifest %s, published %s)", registry.ErrConflict, rec.Manifest, res.Record.Manifest)
			}
			return nil
		}
		if ok, err := exists(txn, moduleInfoKey(rec.Module)); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("module[%s] %w", rec.Module, registry.ErrNotFound)
		}
		tr, found, err := readTool(txn, rec.Tool)
		if err != nil {
			return err
		}
		if !found {
			tr = toolRec{Name: rec.Tool, CreatedAt: rec.PublishedAt}
			ev := registry.Event{
				Seq: 1, Kind: registry.EventPin, Tool: rec.Tool, Version: rec.Version, Module: rec.Module,
				Actor: rec.PublishedBy, At: rec.PublishedAt, Reason: "first version",
			}
			if err := push(txn, &tr, ev); err != nil {
				return err
			}
			res.Pinned = &ev
		}
		res.Created, res.Record = true, rec
		ch := registry.Change{Created: true}
		if res.Pinned != nil {
			ch.History = []registry.Event{*res.Pinned}
		}
		if err := writeOutbox(ctx, txn, ch); err != nil {
			return err
		}
		return txn.Set(versionKey(rec.Tool, rec.Version), val)
	})
	if err != nil {
		return registry.PublishResult{}, fmt.Errorf("tool[%s] version[%s]: %w", rec.Tool, rec.Version, err)
	}
	return res, nil
}

// Version returns one published version.
func (s *Store) Version(ctx context.Context, tool, version string) (registry.VersionRecord, error) {
	end, err := s.begin(ctx)
	if err != nil {
		return registry.VersionRecord{}, err
	}
	defer end()
	if err := checkToolVersion(tool, version); err != nil {
		return registry.VersionRecord{}, err
	}
	var rec registry.VersionRecord
	err = s.db.View(func(txn *badgerdb.Txn) error {
		val, found, err := get(txn, versionKey(tool, version))
		if err != nil {
			return err
		}
		if !found {
			return registry.ErrNotFound
		}
		return decodeJSON(val, &rec)
	})
	if err != nil {
		return registry.VersionRecord{}, fmt.Errorf("tool[%s] version[%s]: %w", tool, version, err)
	}
	return rec, nil
}

// Tool returns one tool with its versions in ascending semver order and its pin.
func (s *Store) Tool(ctx context.Context, name string) (registry.Tool, error) {
	end, err := s.begin(ctx)
	if err != nil {
		return registry.Tool{}, err
	}
	defer end()
	if err := checkTool(name); err != nil {
		return registry.Tool{}, err
	}
	var t registry.Tool
	err = s.db.View(func(txn *badgerdb.Txn) error {
		tr, found, err := readTool(txn, name)
		if err != nil {
			return err
		}
		if !found {
			return registry.ErrNotFound
		}
		t, err = toolOf(txn, tr)
		return err
	})
	if err != nil {
		return registry.Tool{}, fmt.Errorf("tool[%s]: %w", name, err)
	}
	return t, nil
}

// Tools lists every tool by name (the order of the t/ keys).
func (s *Store) Tools(ctx context.Context) ([]registry.Tool, error) {
	end, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	tools := []registry.Tool{}
	err = s.db.View(func(txn *badgerdb.Txn) error {
		it := txn.NewIterator(badgerdb.IteratorOptions{Prefix: []byte("t/"), PrefetchValues: true, PrefetchSize: 32})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			val, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			var tr toolRec
			if err := decodeJSON(val, &tr); err != nil {
				return fmt.Errorf("key[%s]: %w", it.Item().Key(), err)
			}
			t, err := toolOf(txn, tr)
			if err != nil {
				return err
			}
			tools = append(tools, t)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tools: %w", err)
	}
	return tools, nil
}

// SetPin pins tool@version. If version is already the live pin, nothing is written and the event that made it
// the pin (the latest history event, a pin or a rollback) is returned. A zero at is set to now.
func (s *Store) SetPin(ctx context.Context, tool, version, actor, reason string, at time.Time) (registry.Event, error) {
	end, err := s.begin(ctx)
	if err != nil {
		return registry.Event{}, err
	}
	defer end()
	if err := checkToolVersion(tool, version); err != nil {
		return registry.Event{}, err
	}
	if at.IsZero() {
		at = time.Now()
	}
	defer s.lockTool(tool)()
	var ev registry.Event
	err = s.update(ctx, func(txn *badgerdb.Txn) error {
		tr, found, err := readTool(txn, tool)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("tool %w", registry.ErrNotFound)
		}
		val, found, err := get(txn, versionKey(tool, version))
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("version %w", registry.ErrNotFound)
		}
		var rec registry.VersionRecord
		if err := decodeJSON(val, &rec); err != nil {
			return err
		}
		if tr.Pin.Version == version {
			ev, err = readEvent(txn, tool, tr.Seq)
			return err
		}
		ev = registry.Event{
			Seq: tr.Seq + 1, Kind: registry.EventPin, Tool: tool, Version: version, Module: rec.Module,
			From: tr.Pin.Version, Actor: actor, At: at.UTC(), Reason: reason,
		}
		if err := writeOutbox(ctx, txn, registry.Change{History: []registry.Event{ev}}); err != nil {
			return err
		}
		return push(txn, &tr, ev)
	})
	if err != nil {
		return registry.Event{}, fmt.Errorf("tool[%s] version[%s]: %w", tool, version, err)
	}
	return ev, nil
}

// Rollback pops the pin stack: the pin moves back to the entry below the current one. A zero at is set to now.
func (s *Store) Rollback(ctx context.Context, tool, actor, reason string, at time.Time) (registry.Event, error) {
	end, err := s.begin(ctx)
	if err != nil {
		return registry.Event{}, err
	}
	defer end()
	if err := checkTool(tool); err != nil {
		return registry.Event{}, err
	}
	if at.IsZero() {
		at = time.Now()
	}
	defer s.lockTool(tool)()
	var ev registry.Event
	err = s.update(ctx, func(txn *badgerdb.Txn) error {
		tr, found, err := readTool(txn, tool)
		if err != nil {
			return err
		}
		if !found {
			return registry.ErrNotFound
		}
		if tr.Depth <= 1 {
			return registry.ErrNoPreviousPin
		}
		val, found, err := get(txn, stackKey(tool, tr.Depth-1))
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("pin stack entry %d missing: %w", tr.Depth-1, ErrCorrupt)
		}
		var prev stackEntry
		if err := decodeJSON(val, &prev); err != nil {
			return err
		}
		if err := txn.Delete(stackKey(tool, tr.Depth)); err != nil {
			return err
		}
		tr.Depth--
		ev = registry.Event{
			Seq: tr.Seq + 1, Kind: registry.EventRollback, Tool: tool, Version: prev.Version, Module: prev.Module,
			From: tr.Pin.Version, Actor: actor, At: at.UTC(), Reason: reason,
		}
		if err := writeOutbox(ctx, txn, registry.Change{History: []registry.Event{ev}}); err != nil {
			return err
		}
		return record(txn, &tr, ev)
	})
	if err != nil {
		return registry.Event{}, fmt.Errorf("tool[%s]: %w", tool, err)
	}
	return ev, nil
}

// History returns the tool's events, oldest first.
func (s *Store) History(ctx context.Context, tool string) ([]registry.Event, error) {
	end, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	if err := checkTool(tool); err != nil {
		return nil, err
	}
	var events []registry.Event
	err = s.db.View(func(txn *badgerdb.Txn) error {
		tr, found, err := readTool(txn, tool)
		if err != nil {
			return err
		}
		if !found {
			return registry.ErrNotFound
		}
		events = make([]registry.Event, 0, tr.Seq)
		it := txn.NewIterator(badgerdb.IteratorOptions{Prefix: historyPrefix(tool), PrefetchValues: true, PrefetchSize: 64})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			val, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			var ev registry.Event
			if err := decodeJSON(val, &ev); err != nil {
				return err
			}
			events = append(events, ev)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tool[%s]: %w", tool, err)
	}
	return events, nil
}

func readTool(txn *badgerdb.Txn, tool string) (toolRec, bool, error) {
	var tr toolRec
	val, found, err := get(txn, toolKey(tool))
	if err != nil || !found {
		return tr, found, err
	}
	return tr, true, decodeJSON(val, &tr)
}

func readEvent(txn *badgerdb.Txn, tool string, seq int64) (registry.Event, error) {
	var ev registry.Event
	val, found, err := get(txn, historyKey(tool, seq))
	if err != nil {
		return ev, err
	}
	if !found {
		return ev, fmt.Errorf("history event %d missing: %w", seq, ErrCorrupt)
	}
	return ev, decodeJSON(val, &ev)
}

// push puts ev's version on the pin stack and records ev.
func push(txn *badgerdb.Txn, tr *toolRec, ev registry.Event) error {
	entry, err := json.Marshal(stackEntry{Version: ev.Version, Module: ev.Module})
	if err != nil {
		return err
	}
	tr.Depth++
	if err := txn.Set(stackKey(tr.Name, tr.Depth), entry); err != nil {
		return err
	}
	return record(txn, tr, ev)
}

// record appends ev to the history and makes it the tool's live pin.
func record(txn *badgerdb.Txn, tr *toolRec, ev registry.Event) error {
	tr.Seq = ev.Seq
	tr.Pin = registry.Pin{Version: ev.Version, Module: ev.Module, Actor: ev.Actor, At: ev.At, Reason: ev.Reason}
	evb, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	if err := txn.Set(historyKey(tr.Name, ev.Seq), evb); err != nil {
		return err
	}
	trb, err := json.Marshal(tr)
	if err != nil {
		return err
	}
	return txn.Set(toolKey(tr.Name), trb)
}

// toolOf builds a registry.Tool from its record and its v/ keys.
func toolOf(txn *badgerdb.Txn, tr toolRec) (registry.Tool, error) {
	prefix := versionPrefix(tr.Name)
	it := txn.NewIterator(badgerdb.IteratorOptions{Prefix: prefix})
	defer it.Close()
	versions := []string{}
	for it.Rewind(); it.Valid(); it.Next() {
		versions = append(versions, string(it.Item().Key()[len(prefix):]))
	}
	slices.SortFunc(versions, registry.CompareSemver)
	pin := tr.Pin
	return registry.Tool{Name: tr.Name, Versions: versions, Pin: &pin, CreatedAt: tr.CreatedAt}, nil
}
