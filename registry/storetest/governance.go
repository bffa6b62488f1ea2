package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/toolgate/toolgate/registry"
)

func testUpdateKey(t *testing.T, s registry.KeyStore) {
	ctx := context.Background()
	k := registry.Key{ID: "key_u", Name: "ci", Role: registry.RoleInvoker, Tools: []string{"pay-*"},
		TokenHash: bytes.Repeat([]byte{7}, 32), CreatedAt: at(1), CreatedBy: "key:admin"}
	wantErr(t, "UpdateKey of an unknown id", s.UpdateKey(ctx, k), registry.ErrNotFound)
	if err := s.PutKey(ctx, k); err != nil {
		t.Fatalf("PutKey: %v", err)
	}
	got, err := s.Key(ctx, k.ID)
	if err != nil || got.Rate != nil || got.FuelQuota != nil || !got.ExpiresAt.IsZero() || got.Disabled {
		t.Errorf("Key of a plain key: got %+v, %v, want no rate, quota, expiry or disable", got, err)
	}
	k.Rate = &registry.Rate{RPS: 2.5, Burst: 5}
	k.FuelQuota = &registry.FuelQuota{Fuel: 1e9, Window: 24 * time.Hour}
	k.ExpiresAt = at(100)
	k.Disabled = true
	if err := s.UpdateKey(ctx, k); err != nil {
		t.Fatalf("UpdateKey: %v", err)
	}
	got, err = s.Key(ctx, k.ID)
	if err != nil || !reflect.DeepEqual(got.Rate, k.Rate) || !reflect.DeepEqual(got.FuelQuota, k.FuelQuota) ||
		!got.ExpiresAt.Equal(k.ExpiresAt) || !got.Disabled || got.Name != k.Name || !bytes.Equal(got.TokenHash, k.TokenHash) {
		t.Errorf("Key after UpdateKey: got %+v, %v, want %+v", got, err, k)
	}
	if got.State(at(99)) != registry.KeyDisabled {
		t.Errorf("State of a disabled key: got %s", got.State(at(99)))
	}
	k.Disabled = false
	if err := s.UpdateKey(ctx, k); err != nil {
		t.Fatalf("UpdateKey: %v", err)
	}
	got, _ = s.Key(ctx, k.ID)
	if got.State(at(99)) != registry.KeyActive || got.State(at(100)) != registry.KeyExpired {
		t.Errorf("State around ExpiresAt: got %s then %s, want active then expired", got.State(at(99)), got.State(at(100)))
	}
}

// RunIdempotency runs the registry.IdempotencyStore suite. open must return a new, empty store each time.
func RunIdempotency(t *testing.T, open func(t *testing.T) registry.IdempotencyStore) {
	t.Run("Lifecycle", func(t *testing.T) { testIdemLifecycle(t, open(t)) })
	t.Run("Release", func(t *testing.T) { testIdemRelease(t, open(t)) })
	t.Run("Expiry", func(t *testing.T) { testIdemExpiry(t, open(t)) })
	t.Run("Invalid", func(t *testing.T) { testIdemInvalid(t, open(t)) })
	t.Run("Hammer", func(t *testing.T) { testIdemHammer(t, open(t)) })
}

func inFlight(key, claim string, now time.Time, ttl time.Duration) registry.IdempotencyRecord {
	return registry.IdempotencyRecord{Key: key, Fingerprint: "fp:" + key, Claim: claim, CreatedAt: now,
		ExpiresAt: now.Add(ttl)}
}

func done(rec registry.IdempotencyRecord, now time.Time, ttl time.Duration, body []byte) registry.IdempotencyRecord {
	rec.Done = true
	rec.ExpiresAt = now.Add(ttl)
	rec.Response = &registry.StoredResponse{Status: 200, Headers: map[string]string{"Toolgate-Receipt": "rcpt_1"},
		Body: body, Receipt: "rcpt_1"}
	return rec
}

func sameIdem(a, b registry.IdempotencyRecord) bool {
	if a.Key != b.Key || a.Fingerprint != b.Fingerprint || a.Claim != b.Claim || a.Done != b.Done ||
		!a.CreatedAt.Equal(b.CreatedAt) || !a.ExpiresAt.Equal(b.ExpiresAt) || (a.Response == nil) != (b.Response == nil) {
		return false
	}
	if a.Response == nil {
		return true
	}
	x, y := a.Response, b.Response
	return x.Status == y.Status && maps.Equal(x.Headers, y.Headers) && bytes.Equal(x.Body, y.Body) && x.Receipt == y.Receipt
}

func testIdemLifecycle(t *testing.T, s registry.IdempotencyStore) {
	ctx := context.Background()
	now := at(0)
	_, err := s.Idempotency(ctx, "k1", now)
	wantErr(t, "Idempotency of an unknown key", err, registry.ErrNotFound)

	first := inFlight("k1", "claim-a", now, time.Hour)
	if held, claimed, err := s.BeginIdempotency(ctx, first, now); err != nil || !claimed {
		t.Fatalf("first Begin: got held %+v, claimed %v, %v, want claimed", held, claimed, err)
	}
	second := inFlight("k1", "claim-b", at(1), time.Hour)
	held, claimed, err := s.BeginIdempotency(ctx, second, at(1))
	if err != nil || claimed || !sameIdem(held, first) {
		t.Fatalf("Begin of a held key: got %+v, claimed %v, %v, want the first claim, not claimed", held, claimed, err)
	}
	if got, err := s.Idempotency(ctx, "k1", at(1)); err != nil || !sameIdem(got, first) {
		t.Errorf("Idempotency in flight: got %+v, %v, want %+v", got, err, first)
	}

	body := bytes.Repeat([]byte("output "), 150_000) // ~1 MiB: outputs are capped by max_output_bytes, not small
	wrong := done(second, at(2), 24*time.Hour, body)
	wantErr(t, "Complete by a claim that does not hold the key", s.CompleteIdempotency(ctx, wrong, at(2)), registry.ErrClaimLost)
	fin := done(first, at(2), 24*time.Hour, body)
	if err := s.CompleteIdempotency(ctx, fin, at(2)); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	wantErr(t, "Complete twice", s.CompleteIdempotency(ctx, fin, at(3)), registry.ErrClaimLost)
	wantErr(t, "Release of a done record", s.ReleaseIdempotency(ctx, "k1", "claim-a"), registry.ErrClaimLost)
	if got, err := s.Idempotency(ctx, "k1", at(3)); err != nil || !sameIdem(got, fin) {
		t.Errorf("Idempotency after Complete: got %v, want the stored response of %d bytes", err, len(body))
	}
	held, claimed, err = s.BeginIdempotency(ctx, inFlight("k1", "claim-c", at(4), time.Hour), at(4))
	if err != nil || claimed || !sameIdem(held, fin) {
		t.Errorf("Begin of a done key: got claimed %v, %v, want the done record", claimed, err)
	}
	// Keys are any bytes; they must not collide.
	for _, k := range []string{"k1/x", "k1 ", "ключ", strings.Repeat("k", registry.MaxIdempotencyKeyBytes)} {
		if _, claimed, err := s.BeginIdempotency(ctx, inFlight(k, "c", now, time.Hour), now); err != nil || !claimed {
			t.Errorf("Begin(%.20q): got claimed %v, %v, want a fresh claim", k, claimed, err)
		}
	}
}

func testIdemRelease(t *testing.T, s registry.IdempotencyStore) {
	ctx := context.Background()
	now := at(0)
	rec := inFlight("k", "claim-a", now, time.Hour)
	if _, claimed, err := s.BeginIdempotency(ctx, rec, now); err != nil || !claimed {
		t.Fatalf("Begin: claimed %v, %v", claimed, err)
	}
	wantErr(t, "Release by another claim", s.ReleaseIdempotency(ctx, "k", "claim-b"), registry.ErrClaimLost)
	if err := s.ReleaseIdempotency(ctx, "k", "claim-a"); err != nil {
		t.Fatalf("Release: %v", err)
	}
	_, err := s.Idempotency(ctx, "k", now)
	wantErr(t, "Idempotency after Release", err, registry.ErrNotFound)
	wantErr(t, "Release twice", s.ReleaseIdempotency(ctx, "k", "claim-a"), registry.ErrClaimLost)
	wantErr(t, "Complete after Release", s.CompleteIdempotency(ctx, done(rec, now, time.Hour, nil), now), registry.ErrClaimLost)
	if _, claimed, err := s.BeginIdempotency(ctx, inFlight("k", "claim-b", now, time.Hour), now); err != nil || !claimed {
		t.Errorf("Begin after Release: claimed %v, %v, want a fresh claim", claimed, err)
	}
}

func testIdemExpiry(t *testing.T, s registry.IdempotencyStore) {
	ctx := context.Background()
	rec := inFlight("k", "claim-a", at(0), 10*time.Second)
	if _, claimed, err := s.BeginIdempotency(ctx, rec, at(0)); err != nil || !claimed {
		t.Fatalf("Begin: claimed %v, %v", claimed, err)
	}
	if _, err := s.Idempotency(ctx, "k", at(9)); err != nil {
		t.Errorf("Idempotency just before ExpiresAt: %v", err)
	}
	_, err := s.Idempotency(ctx, "k", at(10))
	wantErr(t, "Idempotency at ExpiresAt", err, registry.ErrNotFound)
	// An expired claim (a request whose server died) is taken over; the old claim can no longer complete.
	taken := inFlight("k", "claim-b", at(10), time.Hour)
	if _, claimed, err := s.BeginIdempotency(ctx, taken, at(10)); err != nil || !claimed {
		t.Fatalf("Begin after expiry: claimed %v, %v, want a fresh claim", claimed, err)
	}
	wantErr(t, "Complete by the expired claim", s.CompleteIdempotency(ctx, done(rec, at(11), time.Hour, nil), at(11)), registry.ErrClaimLost)
	fin := done(taken, at(11), 5*time.Second, []byte("x"))
	if err := s.CompleteIdempotency(ctx, fin, at(11)); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if got, err := s.Idempotency(ctx, "k", at(15)); err != nil || !sameIdem(got, fin) {
		t.Errorf("Idempotency before the done record expires: got %+v, %v", got, err)
	}
	_, err = s.Idempotency(ctx, "k", at(16))
	wantErr(t, "Idempotency after the done record expired", err, registry.ErrNotFound)
}

func testIdemInvalid(t *testing.T, s registry.IdempotencyStore) {
	ctx := context.Background()
	now := at(0)
	for name, rec := range map[string]registry.IdempotencyRecord{
		"empty key":       inFlight("", "c", now, time.Hour),
		"key too long":    inFlight(strings.Repeat("k", registry.MaxIdempotencyKeyBytes+1), "c", now, time.Hour),
		"no claim":        inFlight("k", "", now, time.Hour),
		"already expired": inFlight("k", "c", now, 0),
		"done":            done(inFlight("k", "c", now, time.Hour), now, time.Hour, nil),
	} {
		_, _, err := s.BeginIdempotency(ctx, rec, now)
		wantErr(t, "Begin with "+name, err, registry.ErrInvalid)
	}
	_, err := s.Idempotency(ctx, "k", now)
	wantErr(t, "Idempotency after invalid Begins", err, registry.ErrNotFound)
	rec := inFlight("k", "c", now, time.Hour)
	if _, _, err := s.BeginIdempotency(ctx, rec, now); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "Complete without a response", s.CompleteIdempotency(ctx, rec, now), registry.ErrInvalid)
}

func testIdemHammer(t *testing.T, s registry.IdempotencyStore) {
	ctx := context.Background()
	now := at(0)
	const workers, keys = 8, 16
	var claims [keys]atomic.Int32
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range keys {
				_, claimed, err := s.BeginIdempotency(ctx, inFlight(fmt.Sprint("k", k), fmt.Sprint("w", w), now, time.Hour), now)
				if err != nil {
					t.Errorf("Begin: %v", err)
					return
				}
				if claimed {
					claims[k].Add(1)
				}
			}
		}()
	}
	wg.Wait()
	for k := range keys {
		if n := claims[k].Load(); n != 1 {
			t.Errorf("key k%d: claimed %d times by concurrent Begins, want exactly once", k, n)
		}
	}
}

// RunUsage runs the registry.UsageStore suite. open must return a new, empty store each time.
func RunUsage(t *testing.T, open func(t *testing.T) registry.UsageStore) {
	t.Run("AddAndFilter", func(t *testing.T) { testUsage(t, open(t)) })
	t.Run("Invalid", func(t *testing.T) { testUsageInvalid(t, open(t)) })
	t.Run("Hammer", func(t *testing.T) { testUsageHammer(t, open(t)) })
}

func hour(n int) time.Time { return base.Truncate(time.Hour).Add(time.Duration(n) * time.Hour) }

func usageString(us []registry.Usage) string {
	var b strings.Builder
	for _, u := range us {
		fmt.Fprintf(&b, "%s/%s@%s:%d,%d,%g ", u.Key, u.Tool, u.Start.UTC().Format("15"), u.Calls, u.Fuel, u.Cost)
	}
	return strings.TrimSpace(b.String())
}

func testUsage(t *testing.T, s registry.UsageStore) {
	ctx := context.Background()
	if got, err := s.Usage(ctx, registry.UsageFilter{}); err != nil || len(got) != 0 {
		t.Errorf("Usage of an empty store: got %v, %v", got, err)
	}
	add := func(us ...registry.Usage) {
		t.Helper()
		if err := s.AddUsage(ctx, us); err != nil {
			t.Fatalf("AddUsage: %v", err)
		}
	}
	u := func(key, tool string, at time.Time, calls, fuel uint64, cost float64) registry.Usage {
		return registry.Usage{Key: key, Tool: tool, Start: at, Calls: calls, Fuel: fuel, Cost: cost}
	}
	add(u("kb", "echo", hour(0), 1, 100, 0.5), u("kb", "echo", hour(0).Add(59*time.Minute), 2, 50, 0.25),
		u("ka", "wc", hour(1), 1, 10, 0), u("ka", "echo", hour(2), 1, 1, 1))
	add(u("kb", "echo", hour(0).Add(30*time.Minute), 1, 0, 0), u("kb", "echo", hour(3), 1, 7, 0))
	add() // nothing to add is fine

	for _, tc := range []struct {
		name string
		f    registry.UsageFilter
		want string
	}{
		{"all", registry.UsageFilter{}, "ka/echo@14:1,1,1 ka/wc@13:1,10,0 kb/echo@12:4,150,0.75 kb/echo@15:1,7,0"},
		{"key", registry.UsageFilter{Key: "kb"}, "kb/echo@12:4,150,0.75 kb/echo@15:1,7,0"},
		{"tool", registry.UsageFilter{Tool: "echo"}, "ka/echo@14:1,1,1 kb/echo@12:4,150,0.75 kb/echo@15:1,7,0"},
		{"key and tool", registry.UsageFilter{Key: "ka", Tool: "wc"}, "ka/wc@13:1,10,0"},
		{"since rounds down", registry.UsageFilter{Since: hour(2).Add(10 * time.Minute)}, "ka/echo@14:1,1,1 kb/echo@15:1,7,0"},
		{"until excludes", registry.UsageFilter{Until: hour(1)}, "kb/echo@12:4,150,0.75"},
		{"window", registry.UsageFilter{Key: "kb", Since: hour(1), Until: hour(4)}, "kb/echo@15:1,7,0"},
		{"unknown key", registry.UsageFilter{Key: "kz"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Usage(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if usageString(got) != tc.want {
				t.Errorf("got %s, want %s", usageString(got), tc.want)
			}
		})
	}
}

func testUsageInvalid(t *testing.T, s registry.UsageStore) {
	ctx := context.Background()
	good := registry.Usage{Key: "ka", Tool: "echo", Start: hour(0), Calls: 1}
	for name, bad := range map[string]registry.Usage{
		"bad tool":      {Key: "ka", Tool: "Echo", Start: hour(0), Calls: 1},
		"bad key":       {Key: "k/a", Tool: "echo", Start: hour(0), Calls: 1},
		"negative cost": {Key: "ka", Tool: "echo", Start: hour(0), Cost: -1},
		"NaN cost":      {Key: "ka", Tool: "echo", Start: hour(0), Cost: math.NaN()},
	} {
		err := s.AddUsage(ctx, []registry.Usage{good, bad})
		wantErr(t, "AddUsage with a "+name, err, registry.ErrInvalid)
	}
	if got, err := s.Usage(ctx, registry.UsageFilter{}); err != nil || len(got) != 0 {
		t.Errorf("Usage after refused adds: got %s, %v, want nothing (all or none)", usageString(got), err)
	}
}

func testUsageHammer(t *testing.T, s registry.UsageStore) {
	ctx := context.Background()
	const workers, adds = 8, 24
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range adds {
				us := []registry.Usage{
					{Key: "ka", Tool: "echo", Start: hour(0), Calls: 1, Fuel: 3, Cost: 0.5},
					{Key: "ka", Tool: "echo", Start: hour(i % 2), Calls: 1, Fuel: 1},
				}
				if err := s.AddUsage(ctx, us); err != nil && !errors.Is(err, context.Canceled) {
					t.Errorf("worker %d: AddUsage: %v", w, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got, err := s.Usage(ctx, registry.UsageFilter{})
	if err != nil {
		t.Fatal(err)
	}
	n := uint64(workers * adds)
	want := fmt.Sprintf("ka/echo@12:%d,%d,%g ka/echo@13:%d,%d,0", n+n/2, 3*n+n/2, 0.5*float64(n), n/2, n/2)
	if usageString(got) != want {
		t.Errorf("after %d concurrent adds: got %s, want %s", workers*adds, usageString(got), want)
	}
}
