package fuel

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
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

// exprModule wraps a fuzzed function body in a module with a memory, a table, two globals, a few types and a
// second function to call: (func (param i32 i64) (result i32) (local i32 f64 v128) <expr>).
func exprModule(expr []byte) []byte {
	body := []byte{3, 1, valI32, 1, valF64, 1, valV128}
	body = append(body, expr...)
	code := append([]byte{2}, appendU32(nil, uint32(len(body)))...)
	code = append(code, body...)
	code = append(code, 4, 0, opI32Const, 7, opEnd) // func 1: () -> i32
	return mod(
		sec(secType, 3, 0x60, 2, valI32, valI64, 1, valI32, 0x60, 0, 1, valI32, 0x60, 1, valI32, 2, valI32, valI64),
		sec(secFunction, 2, 0, 1),
		sec(secTable, 1, valFuncref, 0, 2),
		sec(secMemory, 1, 1, 1, 2),
		sec(secGlobal, 2, valI32, 1, opI32Const, 0, opEnd, valI64, 0, opI64Const, 5, opEnd),
		sec(secExport, 1, 1, 'f', kindFunc, 0),
		sec(secElement, 1, 0, opI32Const, 0, opEnd, 2, 0, 1),
		sec(secDataCount, 1),
		sec(secCode, code...),
		sec(secData, 1, 1, 3, 'a', 'b', 'c'),
	)
}

var (
	fuzzOrigOnce sync.Once
	fuzzOrigRT   wazero.Runtime
)

// FuzzInstrumentExpr fuzzes function bodies inside a fixed module, where most inputs get past the structure
// checks: whatever wazero accepts, it accepts instrumented; the instrumented function always ends within its
// budget; and when it ends without running out, it returns or traps as the original does (run on wazero's
// interpreter, the original under a 100 ms deadline), with the same memory.
func FuzzInstrumentExpr(f *testing.F) {
	for _, e := range [][]byte{
		{opLocalGet, 0, opEnd},
		{opLoop, blockTypeEmpty, opBr, 0, opEnd, opI32Const, 0, opEnd},
		{opBlock, valI32, opI32Const, 1, opLocalGet, 0, opBrIf, 0, opDrop, opI32Const, 2, opEnd, opEnd},
		{opLoop, blockTypeEmpty, opI32Const, 0, opI32Const, 0, opLocalGet, 0, opPrefixMisc, miscMemoryFill, 0, opBr, 0, opEnd, opI32Const, 0, opEnd},
		{opLocalGet, 0, opLocalGet, 1, opCall, 0, opEnd},
		{opBlock, blockTypeEmpty, opLocalGet, 0, opBrTable, 1, 0, 0, opEnd, opI32Const, 0, opCallIndirect, 1, 0, opEnd},
		{opLocalGet, 0, opLocalGet, 0, opIf, 2, opLocalGet, 1, opElse, opDrop, opI32Const, 1, opI64Const, 1, opEnd, opDrop, opReturn, opEnd},
		{opPrefixSIMD, 12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, opPrefixSIMD, 27, 1, opEnd},
		{opPrefixSIMD, 12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, opPrefixSIMD, 0x80, 1, opPrefixSIMD, 0xa4, 1, opEnd},
	} {
		f.Add(e)
	}
	fuzzRTOnce.Do(func() {
		fuzzRT = wazero.NewRuntimeWithConfig(context.Background(), wazero.NewRuntimeConfigInterpreter())
	})
	fuzzOrigOnce.Do(func() {
		fuzzOrigRT = wazero.NewRuntimeWithConfig(context.Background(),
			wazero.NewRuntimeConfigInterpreter().WithCloseOnContextDone(true))
	})
	opts := DefaultOptions()
	opts.MaxCallDepth = 100
	f.Fuzz(func(t *testing.T, expr []byte) {
		wasm := exprModule(expr)
		ctx := context.Background()
		cm, err := fuzzRT.CompileModule(ctx, wasm)
		if err != nil {
			return
		}
		cm.Close(ctx)
		out, _, err := Instrument(wasm, opts)
		if errors.Is(err, ErrUnsupported) || errors.Is(err, ErrMalformedLEB) {
			// wazero also takes some typed-reference constructs past Wasm 2.0, LEB128 numbers whose unused bits
			// do not match the sign, and padded SIMD sub-opcodes, which the spec (or wazero) reads otherwise.
			return
		}
		if err != nil {
			t.Fatalf("wazero accepts it, Instrument fails: %v", err)
		}
		cm, err = fuzzRT.CompileModule(ctx, out)
		if err != nil {
			t.Fatalf("wazero accepts the input but not the output: %v", err)
		}
		defer cm.Close(ctx)
		mod, err := fuzzRT.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName(""))
		if err != nil {
			t.Fatal(err)
		}
		defer mod.Close(ctx)
		mod.ExportedGlobal(GlobalFuel).(api.MutableGlobal).Set(100_000)
		res, err := mod.ExportedFunction("f").Call(ctx, 3, 4) // must return
		if int64(mod.ExportedGlobal(GlobalFuel).Get()) < 0 || mod.ExportedGlobal(GlobalExhausted).Get() != 0 {
			return // out of fuel or too deep: the original may go on
		}
		got := fmt.Sprint(res, errLine(err), memDigest(mod))

		orig, err := fuzzOrigRT.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithName(""))
		if err != nil {
			t.Fatal(err)
		}
		defer orig.Close(ctx)
		dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		res, err = orig.ExportedFunction("f").Call(dctx, 3, 4)
		if dctx.Err() != nil || (err != nil && strings.Contains(err.Error(), "stack overflow")) {
			return
		}
		if want := fmt.Sprint(res, errLine(err), memDigest(orig)); got != want {
			t.Fatalf("instrumented %s, original %s", got, want)
		}
	})
}

func errLine(err error) string {
	if err == nil {
		return ""
	}
	return firstLine(err)
}

func memDigest(mod api.Module) string {
	b, _ := mod.Memory().Read(0, mod.Memory().Size())
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}
