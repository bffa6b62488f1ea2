package fuel

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
)

// fuzzSeeds are the kernels and the smallest random modules; the checked-in corpus under testdata/fuzz adds
// malformed inputs (TOOLGATE_WRITE_FUZZ_CORPUS=1 go test -run TestWriteFuzzCorpus rewrites it).
func fuzzSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	entries, _ := kernelFS.ReadDir("testdata/kernels")
	for _, e := range entries {
		if filepath.Ext(e.Name()) == ".wasm" {
			seeds = append(seeds, kernel(t, e.Name()[:len(e.Name())-5]))
		}
	}
	for _, name := range []string{"000", "004", "009", "013", "021"} {
		seeds = append(seeds, readFile(t, "testdata/ttf/"+name+".wasm"))
	}
	return seeds
}

// FuzzDecode: Decode never panics, and what it accepts Encode writes back byte for byte.
func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			return
		}
		if out := m.Encode(); !bytes.Equal(out, data) {
			t.Fatalf("Encode changed the module: %d bytes in, %d out", len(data), len(out))
		}
	})
}

var (
	fuzzRTOnce sync.Once
	fuzzRT     wazero.Runtime
)

// FuzzInstrument: Instrument never panics; its output decodes; and when wazero accepts the input it accepts the
// output.
func FuzzInstrument(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	fuzzRTOnce.Do(func() {
		fuzzRT = wazero.NewRuntimeWithConfig(context.Background(), wazero.NewRuntimeConfigInterpreter())
	})
	opts := DefaultOptions()
	opts.InitialFuel = 1000
	f.Fuzz(func(t *testing.T, data []byte) {
		out, _, err := Instrument(data, opts)
		if err != nil {
			return
		}
		if _, err := Decode(out); err != nil {
			t.Fatalf("output does not decode: %v", err)
		}
		ctx := context.Background()
		cm, err := fuzzRT.CompileModule(ctx, data)
		if err != nil {
			return
		}
		cm.Close(ctx)
		cm, err = fuzzRT.CompileModule(ctx, out)
		if err != nil {
			t.Fatalf("wazero accepts the input but not the output: %v", err)
		}
		cm.Close(ctx)
	})
}

// TestWriteFuzzCorpus regenerates testdata/fuzz when TOOLGATE_WRITE_FUZZ_CORPUS=1.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("TOOLGATE_WRITE_FUZZ_CORPUS") != "1" {
		t.Skip("set TOOLGATE_WRITE_FUZZ_CORPUS=1 to rewrite testdata/fuzz")
	}
	seeds := fuzzSeeds(t)
	seeds = append(seeds, malformedInputs()...)
	for _, target := range []string{"FuzzDecode", "FuzzInstrument"} {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range seeds {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed%03d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
