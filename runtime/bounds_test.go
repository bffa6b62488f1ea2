package runtime

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/toolgate/toolgate/plugins/pluginstest"
)

// TestCheckBounds_Bombs: tiny modules whose counts would make wazero allocate gigabytes are refused, quickly,
// as invalid modules.
func TestCheckBounds_Bombs(t *testing.T) {
	const hdr = "\x00asm\x01\x00\x00\x00"
	tests := []struct {
		name, wasm, reason string
	}{
		{"imports", hdr + "\x02\x05\xff\xff\xff\xff\x07", "import section: 2147483647 entries"},
		{"functions", hdr + "\x03\x05\xff\xff\xff\x0f\x00", "function section: 33554431 entries"},
		{"exports in few bytes", hdr + "\x07\x03\x40\x00\x00", "export section: 64 entries in 2 bytes"},
		{"type params", hdr + "\x01\x08\x01\x60\xff\xff\xff\xff\x0f\x00", "type section: 4294967295 entries"},
		// one function of type 0 whose body declares 2^32-1 i32 locals
		{"locals", hdr + "\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x0a\x0a\x01\x08\x01\xff\xff\xff\xff\x0f\x7f\x0b",
			"more than 50000 locals"},
		{"data bytes", hdr + "\x0b\x0a\x01\x01\xff\xff\xff\xff\x0f\x00\x00\x00", "data section: truncated"},
		{"element entries", hdr + "\x09\x08\x01\x01\x00\xff\xff\xff\x7f\x00", "element section: 268435455 entries"},
		{"function names", hdr + "\x00\x0c\x04name\x01\x05\xff\xff\xff\x7f\x00", "name subsection 1: 268435455 entries"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := testRT.Load(context.Background(), []byte(tc.wasm))
			var me *ModuleError
			if !errors.As(err, &me) || !strings.Contains(me.Reason, tc.reason) {
				t.Errorf("got %v, want a refusal containing %q", err, tc.reason)
			}
		})
	}
}

// TestCheckBounds_Corpus: every module of the project that wazero accepts passes checkBounds: the WAT fixtures,
// the built plugins and runtime/fuel's corpora (random binaryen modules, kernels, the Go guest).
func TestCheckBounds_Corpus(t *testing.T) {
	var files []string
	for _, pattern := range []string{"testdata/*.wasm", "../plugins/wat/*.wasm", filepath.Join(pluginstest.Dir(), "*.wasm"),
		"fuel/testdata/*/*.wasm", "fuel/testdata/*/*/*.wasm"} {
		m, _ := filepath.Glob(pattern)
		files = append(files, m...)
	}
	if len(files) < 20 {
		t.Fatalf("found %d modules, want the corpus", len(files))
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(api.CoreFeaturesV2))
	defer rt.Close(ctx)
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cm, err := rt.CompileModule(ctx, b)
		if err != nil {
			continue // wazero refuses it: not a module checkBounds must accept
		}
		_ = cm.Close(ctx)
		n++
		if err := checkBounds(b); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	t.Logf("%d modules checked", n)
}
