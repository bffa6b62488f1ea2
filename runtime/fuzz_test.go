package runtime

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/toolgate/toolgate/plugins"
)

func addWATSeeds(f *testing.F) {
	for _, name := range plugins.WATNames() {
		f.Add(plugins.WAT(name))
	}
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x02\x05\x01\x00\x00\x02\x00")) // import with empty names, memory kind
}

// FuzzParseShape: the section walker never panics, whatever the bytes.
func FuzzParseShape(f *testing.F) {
	addWATSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseShape(b)
	})
}

// FuzzLoad: Load never panics, refuses with a *ModuleError, and what it accepts can be invoked without an
// infrastructure error.
func FuzzLoad(f *testing.F) {
	addWATSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		ctx := context.Background()
		info, err := testRT.Load(ctx, b)
		if err != nil {
			var me *ModuleError
			if !errors.As(err, &me) || !errors.Is(err, ErrInvalidModule) {
				t.Fatalf("Load: got %v, want a *ModuleError", err)
			}
			return
		}
		if info.ABI == "" {
			return
		}
		_, err = testRT.Invoke(ctx, Call{Module: info.Digest,
			Limits: Limits{MemoryBytes: 4 << 20, Timeout: 50 * time.Millisecond}})
		if err != nil && !errors.Is(err, ErrUnknownEntry) {
			t.Fatalf("Invoke: %v", err)
		}
	})
}

// FuzzLoadMetered is FuzzLoad on a metering runtime: the fuel instrumenter sees the bytes after checkBounds and
// before wazero, and what it accepts runs against a budget.
func FuzzLoadMetered(f *testing.F) {
	addWATSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		ctx := context.Background()
		r := meteredRuntime(t, EngineNative)
		info, err := r.Load(ctx, b)
		if err != nil {
			var me *ModuleError
			if !errors.As(err, &me) || !errors.Is(err, ErrInvalidModule) {
				t.Fatalf("Load: got %v, want a *ModuleError", err)
			}
			return
		}
		if info.ABI == "" {
			return
		}
		_, err = r.Invoke(ctx, Call{Module: info.Digest,
			Limits: Limits{Fuel: 1_000_000, MemoryBytes: 4 << 20, Timeout: 50 * time.Millisecond}})
		if err != nil && !errors.Is(err, ErrUnknownEntry) {
			t.Fatalf("Invoke: %v", err)
		}
	})
}
