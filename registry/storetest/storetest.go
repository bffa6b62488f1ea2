// Package storetest is the one suite every registry.Store and registry.KeyStore implementation must pass: call
// Run and RunKeys from the implementation's tests with a func that opens a fresh, empty store (and registers
// its cleanup with t.Cleanup). Persistence across a reopen is the implementation's own test, since only it knows
// how to reopen.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/toolgate/toolgate/registry"
)

// base is the suite's clock: whole seconds, so that stores with coarse timestamps pass too.
var base = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func at(n int) time.Time { return base.Add(time.Duration(n) * time.Second) }

// Run runs the registry.Store suite. open must return a new, empty store each time it is called.
func Run(t *testing.T, open func(t *testing.T) registry.Store) {
	t.Run("PutModule", func(t *testing.T) { testPutModule(t, open(t)) })
	t.Run("Publish", func(t *testing.T) { testPublish(t, open(t)) })
	t.Run("PublishInvalid", func(t *testing.T) { testPublishInvalid(t, open(t)) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, open(t)) })
	t.Run("FirstVersionPinned", func(t *testing.T) { testFirstVersionPinned(t, open(t)) })
	t.Run("SetPin", func(t *testing.T) { testSetPin(t, open(t)) })
	t.Run("Rollback", func(t *testing.T) { testRollback(t, open(t)) })
	t.Run("HistoryPerTool", func(t *testing.T) { testHistoryPerTool(t, open(t)) })
	t.Run("Tools", func(t *testing.T) { testTools(t, open(t)) })
	t.Run("Hammer", func(t *testing.T) { testHammer(t, open(t)) })
}

// Wasm returns distinct module bytes for seed (a Wasm header and the seed: stores do not validate Wasm).
func Wasm(seed string) []byte {
	return append([]byte("\x00asm\x01\x00\x00\x00"), seed...)
}

// PutModule stores Wasm(seed) in s and returns its digest.
func PutModule(t testing.TB, s registry.Store, seed string) string {
	t.Helper()
	w := Wasm(seed)
	info := registry.ModuleInfo{Digest: registry.DigestOf(w), Size: int64(len(w)), Exports: []string{"run"}, CreatedAt: at(0)}
	if _, _, err := s.PutModule(context.Background(), info, w); err != nil {
		t.Fatalf("PutModule(%s): %v", seed, err)
	}
	return info.Digest
}

// Record returns a version record of tool@version on module, with a document that differs for each n.
func Record(tool, version, module string, n int) registry.VersionRecord {
	doc := fmt.Appendf(nil, `{"abi":"extism","entry":"run","module":%q,"n":%d}`, module, n)
	return registry.VersionRecord{
		Tool: tool, Version: version, Module: module,
		Manifest: registry.DigestOf(doc), Document: doc,
		PublishedBy: "alice", PublishedAt: at(n),
	}
}

func publish(t testing.TB, s registry.Store, rec registry.VersionRecord) registry.PublishResult {
	t.Helper()
	res, err := s.Publish(context.Background(), rec)
	if err != nil {
		t.Fatalf("Publish(%s@%s): %v", rec.Tool, rec.Version, err)
	}
	return res
}

func wantErr(t testing.TB, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got error %v, want %v", what, err, want)
	}
}

func sameInfo(a, b registry.ModuleInfo) bool {
	return a.Digest == b.Digest && a.Size == b.Size && slices.Equal(a.Imports, b.Imports) &&
		slices.Equal(a.Exports, b.Exports) && a.CreatedAt.Equal(b.CreatedAt)
}

func sameRecord(a, b registry.VersionRecord) bool {
	return a.Tool == b.Tool && a.Version == b.Version && a.Module == b.Module && a.Manifest == b.Manifest &&
		bytes.Equal(a.Document, b.Document) && a.PublishedBy == b.PublishedBy && a.PublishedAt.Equal(b.PublishedAt)
}

func sameEvent(a, b registry.Event) bool {
	at, bt := a.At, b.At
	a.At, b.At = time.Time{}, time.Time{}
	return a == b && at.Equal(bt)
}

func samePin(a, b *registry.Pin) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Version == b.Version && a.Module == b.Module && a.Actor == b.Actor && a.Reason == b.Reason &&
		a.At.Equal(b.At)
}

func testPutModule(t *testing.T, s registry.Store) {
	ctx := context.Background()
	w := Wasm("put")
	info := registry.ModuleInfo{
		Digest: registry.DigestOf(w), Size: int64(len(w)),
		Imports: []string{"extism:host/env.output_set"}, Exports: []string{"run"}, CreatedAt: at(1),
	}
	stored, created, err := s.PutModule(ctx, info, w)
	if err != nil {
		t.Fatalf("PutModule: %v", err)
	}
	if !created || !sameInfo(stored, info) {
		t.Errorf("first put: got %+v created %v, want %+v created true", stored, created, info)
	}

	again := info
	again.Imports, again.CreatedAt = nil, at(2)
	stored, created, err = s.PutModule(ctx, again, w)
	if err != nil {
		t.Fatalf("second PutModule: %v", err)
	}
	if created || !sameInfo(stored, info) {
		t.Errorf("second put: got %+v created %v, want the first info %+v created false", stored, created, info)
	}
	if got, err := s.Module(ctx, info.Digest); err != nil || !sameInfo(got, info) {
		t.Errorf("Module: got %+v, %v, want %+v", got, err, info)
	}
	if got, err := s.ModuleBytes(ctx, info.Digest); err != nil || !bytes.Equal(got, w) {
		t.Errorf("ModuleBytes: got %q, %v, want %q", got, err, w)
	}

	// A large, compressible module goes through whatever path a store has for big values.
	big := append(Wasm("big"), bytes.Repeat([]byte("(func (result i32) i32.const 42)"), 1<<14)...)
	bigInfo := registry.ModuleInfo{Digest: registry.DigestOf(big), Size: int64(len(big)), CreatedAt: at(3)}
	if _, created, err := s.PutModule(ctx, bigInfo, big); err != nil || !created {
		t.Fatalf("PutModule(big): created %v, %v", created, err)
	}
	if got, err := s.ModuleBytes(ctx, bigInfo.Digest); err != nil || !bytes.Equal(got, big) {
		t.Errorf("ModuleBytes(big): got %d bytes, %v, want %d bytes", len(got), err, len(big))
	}

	other := Wasm("other")
	tests := []struct {
		name   string
		digest string
	}{
		{"digest of other bytes", registry.DigestOf(other)},
		{"malformed digest", "sha256:1234"},
		{"uppercase hex", strings.ToUpper(registry.DigestOf(w))},
		{"empty digest", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bad := registry.ModuleInfo{Digest: tc.digest, Size: int64(len(w))}
			_, _, err := s.PutModule(ctx, bad, w)
			wantErr(t, "PutModule", err, registry.ErrInvalid)
		})
	}
	if _, err := s.Module(ctx, registry.DigestOf(other)); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("Module after a rejected put: got %v, want %v", err, registry.ErrNotFound)
	}
}

func testPublish(t *testing.T, s registry.Store) {
	ctx := context.Background()
	d := PutModule(t, s, "echo")
	rec := Record("echo", "1.0.0", d, 1)
	res := publish(t, s, rec)
	if !res.Created || !sameRecord(res.Record, rec) {
		t.Errorf("Publish: got created %v record %+v, want created true record %+v", res.Created, res.Record, rec)
	}
	if got, err := s.Version(ctx, "echo", "1.0.0"); err != nil || !sameRecord(got, rec) {
		t.Errorf("Version: got %+v, %v, want %+v", got, err, rec)
	}

	same := rec
	same.PublishedBy, same.PublishedAt = "bob", at(9)
	res = publish(t, s, same)
	if res.Created || res.Pinned != nil || !sameRecord(res.Record, rec) {
		t.Errorf("identical republish: got created %v pinned %v record %+v, want a no-op returning %+v",
			res.Created, res.Pinned, res.Record, rec)
	}

	_, err := s.Publish(ctx, Record("echo", "1.0.0", d, 2))
	wantErr(t, "republish with a different document", err, registry.ErrConflict)
	if got, err := s.Version(ctx, "echo", "1.0.0"); err != nil || !sameRecord(got, rec) {
		t.Errorf("Version after a conflict: got %+v, %v, want %+v", got, err, rec)
	}

	unknown := registry.DigestOf([]byte("never stored"))
	_, err = s.Publish(ctx, Record("ghost", "1.0.0", unknown, 3))
	wantErr(t, "publish of an unknown module", err, registry.ErrNotFound)
	_, err = s.Tool(ctx, "ghost")
	wantErr(t, "Tool after a failed publish", err, registry.ErrNotFound)
}

func testPublishInvalid(t *testing.T, s registry.Store) {
	d := PutModule(t, s, "valid")
	tests := []struct {
		name, tool, version, module string
	}{
		{"empty tool", "", "1.0.0", d},
		{"uppercase tool", "Echo", "1.0.0", d},
		{"tool starts with a digit", "1echo", "1.0.0", d},
		{"tool with underscore", "echo_2", "1.0.0", d},
		{"tool with slash", "echo/2", "1.0.0", d},
		{"tool too long", "a" + strings.Repeat("b", 63), "1.0.0", d},
		{"empty version", "echo", "", d},
		{"two-part version", "echo", "1.0", d},
		{"leading zero", "echo", "01.0.0", d},
		{"v prefix", "echo", "v1.0.0", d},
		{"build metadata", "echo", "1.0.0+build.1", d},
		{"empty pre-release", "echo", "1.0.0-", d},
		{"version with slash", "echo", "1.0.0-a/b", d},
		{"empty module", "echo", "1.0.0", ""},
		{"short module digest", "echo", "1.0.0", "sha256:abcd"},
		{"other algorithm", "echo", "1.0.0", "md5:" + strings.Repeat("0", 32)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Publish(context.Background(), Record(tc.tool, tc.version, tc.module, 1))
			wantErr(t, "Publish", err, registry.ErrInvalid)
		})
	}
	if tools, err := s.Tools(context.Background()); err != nil || len(tools) != 0 {
		t.Errorf("Tools after invalid publishes: got %v, %v, want none", tools, err)
	}
	// The longest valid name is accepted.
	publish(t, s, Record("a"+strings.Repeat("b", 62), "1.0.0-rc.1", d, 1))
}

func testNotFound(t *testing.T, s registry.Store) {
	ctx := context.Background()
	missing := registry.DigestOf([]byte("missing"))
	tests := []struct {
		name string
		call func() error
	}{
		{"Module", func() error { _, err := s.Module(ctx, missing); return err }},
		{"ModuleBytes", func() error { _, err := s.ModuleBytes(ctx, missing); return err }},
		{"Version", func() error { _, err := s.Version(ctx, "echo", "1.0.0"); return err }},
		{"Tool", func() error { _, err := s.Tool(ctx, "echo"); return err }},
		{"History", func() error { _, err := s.History(ctx, "echo"); return err }},
		{"SetPin", func() error { _, err := s.SetPin(ctx, "echo", "1.0.0", "bob", "", at(1)); return err }},
		{"Rollback", func() error { _, err := s.Rollback(ctx, "echo", "bob", "", at(1)); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.name, tc.call(), registry.ErrNotFound) })
	}
	if tools, err := s.Tools(ctx); err != nil || len(tools) != 0 {
		t.Errorf("Tools of an empty store: got %v, %v, want none", tools, err)
	}
}

func testFirstVersionPinned(t *testing.T, s registry.Store) {
	ctx := context.Background()
	d1, d2 := PutModule(t, s, "one"), PutModule(t, s, "two")
	rec := Record("echo", "1.0.0", d1, 1)
	res := publish(t, s, rec)
	want := registry.Event{
		Seq: 1, Kind: registry.EventPin, Tool: "echo", Version: "1.0.0", Module: d1,
		Actor: rec.PublishedBy, At: rec.PublishedAt, Reason: "first version",
	}
	if res.Pinned == nil || !sameEvent(*res.Pinned, want) {
		t.Fatalf("first publish pinned: got %+v, want %+v", res.Pinned, want)
	}
	wantPin := &registry.Pin{Version: "1.0.0", Module: d1, Actor: rec.PublishedBy, At: rec.PublishedAt, Reason: "first version"}
	tool, err := s.Tool(ctx, "echo")
	if err != nil || !samePin(tool.Pin, wantPin) {
		t.Errorf("Tool pin: got %+v, %v, want %+v", tool.Pin, err, wantPin)
	}

	res = publish(t, s, Record("echo", "1.1.0", d2, 2))
	if res.Pinned != nil {
		t.Errorf("second publish pinned: got %+v, want nil", res.Pinned)
	}
	tool, err = s.Tool(ctx, "echo")
	if err != nil || !samePin(tool.Pin, wantPin) {
		t.Errorf("Tool pin after a second version: got %+v, %v, want %+v", tool.Pin, err, wantPin)
	}
	hist, err := s.History(ctx, "echo")
	if err != nil || len(hist) != 1 || !sameEvent(hist[0], want) {
		t.Errorf("History: got %+v, %v, want [%+v]", hist, err, want)
	}
}

func testSetPin(t *testing.T, s registry.Store) {
	ctx := context.Background()
	dA, dB := PutModule(t, s, "a"), PutModule(t, s, "b")
	publish(t, s, Record("echo", "1.0.0", dA, 1))
	publish(t, s, Record("echo", "1.1.0", dB, 2))

	ev, err := s.SetPin(ctx, "echo", "1.1.0", "bob", "promote", at(10))
	if err != nil {
		t.Fatalf("SetPin: %v", err)
	}
	want := registry.Event{
		Seq: 2, Kind: registry.EventPin, Tool: "echo", Version: "1.1.0", Module: dB, From: "1.0.0",
		Actor: "bob", At: at(10), Reason: "promote",
	}
	if !sameEvent(ev, want) {
		t.Errorf("SetPin: got %+v, want %+v", ev, want)
	}
	tool, err := s.Tool(ctx, "echo")
	wantPin := &registry.Pin{Version: "1.1.0", Module: dB, Actor: "bob", At: at(10), Reason: "promote"}
	if err != nil || !samePin(tool.Pin, wantPin) {
		t.Errorf("Tool pin: got %+v, %v, want %+v", tool.Pin, err, wantPin)
	}

	// Pinning the live pin again changes nothing and returns the event that set it.
	ev, err = s.SetPin(ctx, "echo", "1.1.0", "carol", "again", at(11))
	if err != nil || !sameEvent(ev, want) {
		t.Errorf("SetPin of the live pin: got %+v, %v, want %+v", ev, err, want)
	}
	if hist, err := s.History(ctx, "echo"); err != nil || len(hist) != 2 {
		t.Errorf("History after a no-op pin: got %d events, %v, want 2", len(hist), err)
	}

	_, err = s.SetPin(ctx, "echo", "9.9.9", "bob", "", at(12))
	wantErr(t, "SetPin of an unknown version", err, registry.ErrNotFound)
	_, err = s.SetPin(ctx, "nope", "1.0.0", "bob", "", at(12))
	wantErr(t, "SetPin of an unknown tool", err, registry.ErrNotFound)
	_, err = s.SetPin(ctx, "echo", "latest", "bob", "", at(12))
	wantErr(t, "SetPin of a malformed version", err, registry.ErrInvalid)
}

func testRollback(t *testing.T, s registry.Store) {
	ctx := context.Background()
	dA, dB, dC := PutModule(t, s, "a"), PutModule(t, s, "b"), PutModule(t, s, "c")
	first := publish(t, s, Record("echo", "1.0.0", dA, 1)).Pinned
	publish(t, s, Record("echo", "1.1.0", dB, 2))
	publish(t, s, Record("echo", "2.0.0", dC, 3))

	var events []registry.Event
	events = append(events, *first)
	step := func(name string, ev registry.Event, err error, want registry.Event) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !sameEvent(ev, want) {
			t.Errorf("%s: got %+v, want %+v", name, ev, want)
		}
		events = append(events, ev)
		tool, err := s.Tool(ctx, "echo")
		wantPin := &registry.Pin{Version: want.Version, Module: want.Module, Actor: want.Actor, At: want.At, Reason: want.Reason}
		if err != nil || !samePin(tool.Pin, wantPin) {
			t.Errorf("%s: Tool pin: got %+v, %v, want %+v", name, tool.Pin, err, wantPin)
		}
	}
	pin := func(version, module, from string, n int) {
		t.Helper()
		ev, err := s.SetPin(ctx, "echo", version, "bob", "pin "+version, at(n))
		step("SetPin "+version, ev, err, registry.Event{Seq: int64(len(events) + 1), Kind: registry.EventPin,
			Tool: "echo", Version: version, Module: module, From: from, Actor: "bob", At: at(n), Reason: "pin " + version})
	}
	rollback := func(version, module, from string, n int) {
		t.Helper()
		ev, err := s.Rollback(ctx, "echo", "carol", "bad release", at(n))
		step("Rollback to "+version, ev, err, registry.Event{Seq: int64(len(events) + 1), Kind: registry.EventRollback,
			Tool: "echo", Version: version, Module: module, From: from, Actor: "carol", At: at(n), Reason: "bad release"})
	}

	_, err := s.Rollback(ctx, "echo", "carol", "", at(9))
	wantErr(t, "Rollback with one pin", err, registry.ErrNoPreviousPin)

	pin("1.1.0", dB, "1.0.0", 10)      // A → B
	pin("2.0.0", dC, "1.1.0", 11)      // B → C
	rollback("1.1.0", dB, "2.0.0", 12) // C → B

	// The live pin was set by the rollback: pinning it again returns that event.
	if ev, err := s.SetPin(ctx, "echo", "1.1.0", "dave", "", at(13)); err != nil || !sameEvent(ev, events[len(events)-1]) {
		t.Errorf("SetPin of a rolled-back-to pin: got %+v, %v, want %+v", ev, err, events[len(events)-1])
	}

	rollback("1.0.0", dA, "1.1.0", 14) // B → A
	_, err = s.Rollback(ctx, "echo", "carol", "", at(15))
	wantErr(t, "Rollback past the first pin", err, registry.ErrNoPreviousPin)

	pin("2.0.0", dC, "1.0.0", 16)      // A → C
	pin("1.0.0", dA, "2.0.0", 17)      // C → A: the same version may sit twice on the stack
	rollback("2.0.0", dC, "1.0.0", 18) // A → C
	rollback("1.0.0", dA, "2.0.0", 19) // C → A
	_, err = s.Rollback(ctx, "echo", "carol", "", at(20))
	wantErr(t, "Rollback at the bottom again", err, registry.ErrNoPreviousPin)

	hist, err := s.History(ctx, "echo")
	if err != nil {
		t.Fatalf("History: %v", err)
	}
	if len(hist) != len(events) {
		t.Fatalf("History: got %d events, want %d", len(hist), len(events))
	}
	for i := range hist {
		if !sameEvent(hist[i], events[i]) {
			t.Errorf("History[%d]: got %+v, want %+v", i, hist[i], events[i])
		}
	}
}

func testHistoryPerTool(t *testing.T, s registry.Store) {
	ctx := context.Background()
	dA, dB := PutModule(t, s, "a"), PutModule(t, s, "b")
	// "echo" is a prefix of "echo-2": neither's history may leak into the other's.
	for _, tool := range []string{"echo", "echo-2"} {
		publish(t, s, Record(tool, "1.0.0", dA, 1))
		publish(t, s, Record(tool, "1.0.1", dB, 2))
	}
	if _, err := s.SetPin(ctx, "echo-2", "1.0.1", "bob", "", at(5)); err != nil {
		t.Fatalf("SetPin: %v", err)
	}
	tests := []struct {
		tool     string
		versions []string
	}{
		{"echo", []string{"1.0.0"}},
		{"echo-2", []string{"1.0.0", "1.0.1"}},
	}
	for _, tc := range tests {
		hist, err := s.History(ctx, tc.tool)
		if err != nil {
			t.Fatalf("History(%s): %v", tc.tool, err)
		}
		var got []string
		for i, ev := range hist {
			got = append(got, ev.Version)
			if ev.Tool != tc.tool || ev.Seq != int64(i+1) {
				t.Errorf("History(%s)[%d]: got tool %s seq %d, want tool %s seq %d", tc.tool, i, ev.Tool, ev.Seq, tc.tool, i+1)
			}
		}
		if !slices.Equal(got, tc.versions) {
			t.Errorf("History(%s) versions: got %v, want %v", tc.tool, got, tc.versions)
		}
		tool, err := s.Tool(ctx, tc.tool)
		if err != nil || !slices.Equal(tool.Versions, []string{"1.0.0", "1.0.1"}) {
			t.Errorf("Tool(%s).Versions: got %v, %v, want [1.0.0 1.0.1]", tc.tool, tool.Versions, err)
		}
	}
}

func testTools(t *testing.T, s registry.Store) {
	ctx := context.Background()
	d := PutModule(t, s, "m")
	for i, tool := range []string{"zeta", "alpha", "mid"} {
		publish(t, s, Record(tool, "1.0.0", d, i+1))
	}
	published := []string{"1.10.0", "1.2.0", "1.2.0-rc.1", "0.9.0", "1.2.0-alpha", "1.2.0-rc.10", "1.2.0-rc.2"}
	for i, v := range published {
		publish(t, s, Record("alpha", v, d, 10+i))
	}
	wantVersions := []string{"0.9.0", "1.0.0", "1.2.0-alpha", "1.2.0-rc.1", "1.2.0-rc.2", "1.2.0-rc.10", "1.2.0", "1.10.0"}

	tools, err := s.Tools(ctx)
	if err != nil {
		t.Fatalf("Tools: %v", err)
	}
	var names []string
	for _, tool := range tools {
		names = append(names, tool.Name)
	}
	if want := []string{"alpha", "mid", "zeta"}; !slices.Equal(names, want) {
		t.Errorf("Tools names: got %v, want %v", names, want)
	}
	alpha, err := s.Tool(ctx, "alpha")
	if err != nil {
		t.Fatalf("Tool: %v", err)
	}
	if !slices.Equal(alpha.Versions, wantVersions) {
		t.Errorf("Tool versions: got %v, want %v", alpha.Versions, wantVersions)
	}
	if len(tools) == 3 && !slices.Equal(tools[0].Versions, wantVersions) {
		t.Errorf("Tools[0] versions: got %v, want %v", tools[0].Versions, wantVersions)
	}
	if alpha.Pin == nil || alpha.Pin.Version != "1.0.0" {
		t.Errorf("Tool pin: got %+v, want version 1.0.0", alpha.Pin)
	}
	if !alpha.CreatedAt.Equal(at(2)) {
		t.Errorf("Tool created_at: got %v, want %v (the first publish)", alpha.CreatedAt, at(2))
	}
}

// testHammer publishes, pins and rolls back from many goroutines, on one shared tool and on one tool each, then
// checks that every answer is in the history and that the history replays to the final pin.
func testHammer(t *testing.T, s registry.Store) {
	ctx := context.Background()
	const goroutines, rounds = 8, 8
	d := PutModule(t, s, "hammer")
	publish(t, s, Record("shared", "0.0.1", d, 0))

	var mu sync.Mutex
	var answered []registry.Event
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := fmt.Sprintf("own-%d", g)
			for i := range rounds {
				v := fmt.Sprintf("1.%d.%d", g, i)
				for _, rec := range []registry.VersionRecord{Record("shared", v, d, 100*g+i), Record(own, v, d, i)} {
					res, err := s.Publish(ctx, rec)
					if err != nil || !res.Created {
						t.Errorf("Publish(%s@%s): created %v, %v", rec.Tool, rec.Version, res.Created, err)
						return
					}
				}
				if res, err := s.Publish(ctx, Record(own, v, d, i)); err != nil || res.Created {
					t.Errorf("republish(%s@%s): created %v, %v, want a no-op", own, v, res.Created, err)
					return
				}
				ev, err := s.SetPin(ctx, "shared", v, own, "hammer", at(1000+i))
				if err != nil {
					t.Errorf("SetPin(shared@%s): %v", v, err)
					return
				}
				evs := []registry.Event{ev}
				if i%3 == 2 {
					ev, err := s.Rollback(ctx, "shared", own, "hammer", at(2000+i))
					switch {
					case err == nil:
						evs = append(evs, ev)
					case !errors.Is(err, registry.ErrNoPreviousPin):
						t.Errorf("Rollback(shared): %v", err)
						return
					}
				}
				mu.Lock()
				answered = append(answered, evs...)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	shared, err := s.Tool(ctx, "shared")
	if err != nil {
		t.Fatalf("Tool(shared): %v", err)
	}
	if got, want := len(shared.Versions), 1+goroutines*rounds; got != want {
		t.Errorf("shared versions: got %d, want %d", got, want)
	}
	if !slices.IsSortedFunc(shared.Versions, registry.CompareSemver) {
		t.Errorf("shared versions not in semver order: %v", shared.Versions)
	}
	hist, err := s.History(ctx, "shared")
	if err != nil {
		t.Fatalf("History(shared): %v", err)
	}
	// Every answer is the history's event at its Seq.
	for _, ev := range answered {
		if ev.Seq < 1 || ev.Seq > int64(len(hist)) || !sameEvent(hist[ev.Seq-1], ev) {
			t.Errorf("answered event %+v is not in the history", ev)
		}
	}
	// The history replays on a stack to the live pin.
	var stack []string
	for i, ev := range hist {
		if ev.Seq != int64(i+1) {
			t.Fatalf("History[%d].Seq: got %d, want %d", i, ev.Seq, i+1)
		}
		from := ""
		if len(stack) > 0 {
			from = stack[len(stack)-1]
		}
		if ev.From != from {
			t.Errorf("History[%d].From: got %q, want %q", i, ev.From, from)
		}
		switch ev.Kind {
		case registry.EventPin:
			stack = append(stack, ev.Version)
		case registry.EventRollback:
			if len(stack) < 2 || stack[len(stack)-2] != ev.Version {
				t.Fatalf("History[%d]: rollback to %s, stack %v", i, ev.Version, stack)
			}
			stack = stack[:len(stack)-1]
		default:
			t.Fatalf("History[%d].Kind: got %q", i, ev.Kind)
		}
	}
	if shared.Pin == nil || shared.Pin.Version != stack[len(stack)-1] {
		t.Errorf("shared pin: got %+v, want version %s", shared.Pin, stack[len(stack)-1])
	}

	for g := range goroutines {
		own := fmt.Sprintf("own-%d", g)
		tool, err := s.Tool(ctx, own)
		if err != nil || len(tool.Versions) != rounds || tool.Pin == nil || tool.Pin.Version != fmt.Sprintf("1.%d.0", g) {
			t.Errorf("Tool(%s): got %+v, %v, want %d versions pinned at 1.%d.0", own, tool, err, rounds, g)
		}
		if hist, err := s.History(ctx, own); err != nil || len(hist) != 1 {
			t.Errorf("History(%s): got %d events, %v, want 1", own, len(hist), err)
		}
	}
}

// RunKeys runs the registry.KeyStore suite. open must return a new, empty store each time it is called.
func RunKeys(t *testing.T, open func(t *testing.T) registry.KeyStore) {
	t.Run("Keys", func(t *testing.T) { testKeys(t, open(t)) })
	t.Run("UpdateKey", func(t *testing.T) { testUpdateKey(t, open(t)) })
}

func testKeys(t *testing.T, s registry.KeyStore) {
	ctx := context.Background()
	if keys, err := s.Keys(ctx); err != nil || len(keys) != 0 {
		t.Errorf("Keys of an empty store: got %v, %v, want none", keys, err)
	}
	mk := func(id, role string, tools []string, n int) registry.Key {
		return registry.Key{
			ID: id, Name: "key " + id, Role: role, Tools: tools,
			TokenHash: bytes.Repeat([]byte{byte(n)}, 32), CreatedAt: at(n), CreatedBy: "admin",
		}
	}
	keys := []registry.Key{
		mk("key_b", registry.RolePublisher, []string{"echo", "pay-*"}, 1),
		mk("key_c", registry.RoleInvoker, nil, 2),
		mk("key_a", registry.RoleAdmin, []string{}, 3),
	}
	for _, k := range keys {
		if err := s.PutKey(ctx, k); err != nil {
			t.Fatalf("PutKey(%s): %v", k.ID, err)
		}
	}
	same := func(a, b registry.Key) bool {
		return a.ID == b.ID && a.Name == b.Name && a.Role == b.Role && slices.Equal(a.Tools, b.Tools) &&
			bytes.Equal(a.TokenHash, b.TokenHash) && a.CreatedAt.Equal(b.CreatedAt) && a.CreatedBy == b.CreatedBy
	}
	for _, k := range keys {
		if got, err := s.Key(ctx, k.ID); err != nil || !same(got, k) {
			t.Errorf("Key(%s): got %+v, %v, want %+v", k.ID, got, err, k)
		}
	}

	dup := mk("key_b", registry.RoleAdmin, nil, 9)
	wantErr(t, "PutKey of a taken id", s.PutKey(ctx, dup), registry.ErrConflict)
	if got, err := s.Key(ctx, "key_b"); err != nil || !same(got, keys[0]) {
		t.Errorf("Key after a conflicting put: got %+v, %v, want %+v", got, err, keys[0])
	}

	list := func() []string {
		t.Helper()
		ks, err := s.Keys(ctx)
		if err != nil {
			t.Fatalf("Keys: %v", err)
		}
		var ids []string
		for _, k := range ks {
			ids = append(ids, k.ID)
		}
		return ids
	}
	if got, want := list(), []string{"key_a", "key_b", "key_c"}; !slices.Equal(got, want) {
		t.Errorf("Keys: got %v, want %v", got, want)
	}

	if err := s.DeleteKey(ctx, "key_b"); err != nil {
		t.Fatalf("DeleteKey: %v", err)
	}
	_, err := s.Key(ctx, "key_b")
	wantErr(t, "Key after delete", err, registry.ErrNotFound)
	wantErr(t, "DeleteKey twice", s.DeleteKey(ctx, "key_b"), registry.ErrNotFound)
	_, err = s.Key(ctx, "key_zz")
	wantErr(t, "Key of an unknown id", err, registry.ErrNotFound)
	if got, want := list(), []string{"key_a", "key_c"}; !slices.Equal(got, want) {
		t.Errorf("Keys after delete: got %v, want %v", got, want)
	}
	// A deleted id may be used again.
	if err := s.PutKey(ctx, dup); err != nil {
		t.Errorf("PutKey of a deleted id: %v", err)
	}
}
