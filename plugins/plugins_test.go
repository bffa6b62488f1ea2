package plugins_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/toolgate/toolgate/plugins"
	"github.com/toolgate/toolgate/plugins/pluginstest"
)

// TestWAT_InSync checks that every committed wat/*.wasm is what wat2wasm makes of its .wat, and that every .wat
// has its .wasm embedded.
func TestWAT_InSync(t *testing.T) {
	wat2wasm := pluginstest.Tool(t, "wat2wasm", "apt-get install -y wabt")
	sources, err := filepath.Glob(filepath.Join("wat", "*.wat"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(sources), len(plugins.WATNames()); got != want {
		t.Errorf("got %d .wat sources, want %d (one per embedded .wasm)", got, want)
	}
	tmp := t.TempDir()
	for _, src := range sources {
		name := strings.TrimSuffix(filepath.Base(src), ".wat")
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(tmp, name+".wasm")
			if b, err := exec.Command(wat2wasm, src, "-o", out).CombinedOutput(); err != nil {
				t.Fatalf("wat2wasm %s: %v\n%s", src, err, b)
			}
			want, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if got := plugins.WAT(name); !bytes.Equal(got, want) {
				t.Errorf("wat/%s.wasm is stale: regenerate with plugins/wat/gen.sh", name)
			}
		})
	}
}

func TestWAT_Missing(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("got no panic for a missing fixture, want one")
		}
	}()
	plugins.WAT("no-such-fixture")
}
