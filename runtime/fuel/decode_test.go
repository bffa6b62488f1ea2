package fuel

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/toolgate/toolgate/plugins/pluginstest"
)

// mod assembles a module from sections given as id and payload.
func mod(sections ...[]byte) []byte {
	out := append([]byte(nil), wasmHeader...)
	for _, s := range sections {
		out = append(out, s[0])
		out = appendU32(out, uint32(len(s)-1))
		out = append(out, s[1:]...)
	}
	return out
}

func sec(id byte, payload ...byte) []byte { return append([]byte{id}, payload...) }

// funcModule is a module with one function of type [] -> [] and the given expression (ending with its end).
func funcModule(expr ...byte) []byte {
	body := append([]byte{0}, expr...) // no locals
	code := append([]byte{1}, appendU32(nil, uint32(len(body)))...)
	code = append(code, body...)
	return mod(sec(secType, 1, 0x60, 0, 0), sec(secFunction, 1, 0), sec(secCode, code...))
}

// malformedInputs are hostile or broken modules; each one must be refused with an error, never a panic.
func malformedInputs() [][]byte {
	var cases [][]byte
	for _, tc := range decodeErrorCases() {
		if len(tc.wasm) < 1024 { // the nesting case is tested, not kept in the corpus
			cases = append(cases, tc.wasm)
		}
	}
	return cases
}

type decodeErrorCase struct {
	name string
	wasm []byte
	want error
}

func decodeErrorCases() []decodeErrorCase {
	deep := bytes.Repeat([]byte{opBlock, blockTypeEmpty}, maxNesting+1)
	deep = append(deep, bytes.Repeat([]byte{opEnd}, maxNesting+2)...)
	return []decodeErrorCase{
		{"empty", nil, ErrNotWasm},
		{"bad magic", []byte("\x00asm\x02\x00\x00\x00"), ErrNotWasm},
		{"section past the end", append(mod(), secType, 10, 0), ErrTruncated},
		{"six-byte u32", append(mod(), secType, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00), ErrMalformedLEB},
		{"u32 over 32 bits", append(mod(), secType, 0xff, 0xff, 0xff, 0xff, 0x1f), ErrMalformedLEB},
		{"huge type count", mod(sec(secType, 0xff, 0xff, 0xff, 0xff, 0x0f)), ErrMalformed},
		{"huge function count", mod(sec(secType, 1, 0x60, 0, 0), sec(secFunction, 0xff, 0xff, 0xff, 0xff, 0x0f, 0)), ErrMalformed},
		{"huge local count", mod(sec(secType, 1, 0x60, 0, 0), sec(secFunction, 1, 0),
			sec(secCode, 1, 13, 2, 0xff, 0xff, 0xff, 0xff, 0x0f, valI32, 0xff, 0xff, 0xff, 0xff, 0x0f, valI32, opEnd)), ErrLimit},
		{"huge br_table", funcModule(opI32Const, 0, opBrTable, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, opEnd), ErrMalformed},
		{"sections out of order", mod(sec(secFunction, 0), sec(secType, 0)), ErrMalformed},
		{"repeated section", mod(sec(secType, 0), sec(secType, 0)), ErrMalformed},
		{"unknown section", mod(sec(13, 0)), ErrUnsupported},
		{"bytes after a section's content", mod(sec(secType, 0, 0)), ErrMalformed},
		{"function type out of range", mod(sec(secType, 0), sec(secFunction, 1, 0)), ErrMalformed},
		{"functions without bodies", mod(sec(secType, 1, 0x60, 0, 0), sec(secFunction, 1, 0)), ErrMalformed},
		{"body past the section", mod(sec(secType, 1, 0x60, 0, 0), sec(secFunction, 1, 0), sec(secCode, 1, 9, 0, opEnd)), ErrTruncated},
		{"memory64", mod(sec(secMemory, 1, 0x04, 1)), ErrUnsupported},
		{"gc type", mod(sec(secType, 1, 0x5f, 0, 0)), ErrUnsupported},
		{"unknown opcode", funcModule(0xc5, opEnd), ErrUnknownOpcode},
		{"tail call", funcModule(0x12, 0, opEnd), ErrUnsupported},
		{"threads", funcModule(0xfe, 0, opEnd), ErrUnsupported},
		{"exceptions", funcModule(0x06, blockTypeEmpty, opEnd, opEnd), ErrUnsupported},
		{"unknown 0xfc", funcModule(opPrefixMisc, 18, opEnd), ErrUnknownOpcode},
		{"relaxed simd", funcModule(opPrefixSIMD, 0x80, 0x02, opEnd), ErrUnsupported},
		{"truncated v128.const", funcModule(opPrefixSIMD, 12, 1, 2, 3), ErrTruncated},
		{"truncated i64.const", funcModule(opI64Const, 0x80), ErrTruncated},
		{"overlong i32.const", funcModule(opI32Const, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, opDrop, opEnd), ErrMalformedLEB},
		{"i32.const over 32 bits", funcModule(opI32Const, 0xff, 0xff, 0xff, 0xff, 0x4f, opDrop, opEnd), ErrMalformedLEB},
		{"branch too deep", funcModule(opBr, 1, opEnd), ErrMalformed},
		{"else outside if", funcModule(opBlock, blockTypeEmpty, opElse, opEnd, opEnd), ErrMalformed},
		{"missing end", funcModule(opNop), ErrTruncated},
		{"code after the end", funcModule(opEnd, opNop), ErrMalformed},
		{"block type out of range", funcModule(opBlock, 5, opEnd, opEnd), ErrMalformed},
		{"nesting too deep", funcModule(deep...), ErrLimit},
	}
}

func TestDecode_Errors(t *testing.T) {
	for _, tc := range decodeErrorCases() {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.wasm)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %T, want *Error", err)
			}
			if _, _, err := Instrument(tc.wasm, DefaultOptions()); !errors.Is(err, tc.want) {
				t.Fatalf("Instrument: got %v, want %v", err, tc.want)
			}
		})
	}
}

// TestDecode_Identity: every fixture decodes and encodes back to the same bytes.
func TestDecode_Identity(t *testing.T) {
	paths, _ := filepath.Glob("testdata/*/*.wasm")
	if len(paths) < 100 {
		t.Fatalf("only %d fixtures", len(paths))
	}
	for _, p := range paths {
		in := readFile(t, p)
		m, err := Decode(in)
		if err != nil {
			if strings.Contains(p, "ttf") && errors.Is(err, ErrMalformed) {
				continue // binaryen's typed references, past Wasm 2.0; see TestTTF_Differential
			}
			t.Fatalf("%s: %v", p, err)
		}
		if !bytes.Equal(m.Encode(), in) {
			t.Fatalf("%s: Encode is not the input", p)
		}
	}
}

func TestInstrument_NameConflict(t *testing.T) {
	for _, name := range []string{GlobalFuel, GlobalExhausted} {
		wasm := mod(sec(secType, 1, 0x60, 0, 0), sec(secFunction, 1, 0),
			append(append([]byte{secExport, 1, byte(len(name))}, name...), kindFunc, 0), sec(secCode, 1, 2, 0, opEnd))
		if _, _, err := Instrument(wasm, DefaultOptions()); !errors.Is(err, ErrNameConflict) {
			t.Errorf("%s: got %v, want %v", name, err, ErrNameConflict)
		}
	}
}

func TestInstrument_InvalidOptions(t *testing.T) {
	for name, mutate := range map[string]func(*Options){
		"end cost":      func(o *Options) { o.Costs.Operator[opEnd] = 1 },
		"else cost":     func(o *Options) { o.Costs.Operator[opElse] = 1 },
		"rate per 3":    func(o *Options) { o.Costs.MemoryBytes = Rate{Units: 1, Per: 3} },
		"rate per zero": func(o *Options) { o.Costs.TableElements = Rate{Units: 1} },
		"rate units":    func(o *Options) { o.Costs.MemoryPages = Rate{Units: 1 << 31, Per: 1} },
		"initial fuel":  func(o *Options) { o.InitialFuel = math.MaxInt64 + 1 },
	} {
		opts := DefaultOptions()
		mutate(&opts)
		if _, _, err := Instrument(kernel(t, "sum"), opts); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%s: got %v, want %v", name, err, ErrInvalidOptions)
		}
	}
}

// TestInstrument_Sections: sections the rewriter does not own are copied byte for byte and in place, custom
// ones included; missing Global and Export sections are created in order; a module with no functions works.
func TestInstrument_Sections(t *testing.T) {
	custom := func(name string) []byte {
		return append(append([]byte{secCustom, byte(1 + len(name) + 3), byte(len(name))}, name...), 1, 2, 3)
	}
	body := []byte{1, 4, 0, opI32Const, 7, opEnd}
	var wasm []byte
	wasm = append(wasm, mod(sec(secType, 1, 0x60, 0, 1, valI32))...)
	wasm = append(wasm, custom("a")...)
	wasm = append(wasm, mod(sec(secFunction, 1, 0))[8:]...)
	wasm = append(wasm, custom("b")...)
	wasm = append(wasm, mod(sec(secDataCount, 0), sec(secCode, body...))[8:]...)
	wasm = append(wasm, custom("c")...)

	out := mustInstrument(t, wasm, unlimited())
	m, err := Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	var ids []byte
	for _, s := range m.Sections {
		ids = append(ids, s.ID)
		if s.ID == secCustom && !bytes.Contains(wasm, s.Raw) {
			t.Errorf("custom section %q changed", s.Name)
		}
	}
	if want := []byte{secType, secCustom, secFunction, secCustom, secGlobal, secExport, secDataCount, secCode, secCustom}; !bytes.Equal(ids, want) {
		t.Errorf("sections %v, want %v", ids, want)
	}
	for _, e := range engines {
		got := runAll(t, e.cfg(), out, math.MaxInt64, nil)
		if len(got) != 0 {
			t.Fatalf("%s: %v", e.name, got)
		}
	}

	empty := mustInstrument(t, mod(), DefaultOptions())
	if _, err := wazero.NewRuntime(context.Background()).CompileModule(context.Background(), empty); err != nil {
		t.Errorf("empty module: %v", err)
	}
}

func TestLEB(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 63, 64, -64, -65, 1 << 31, -1 << 31, math.MaxInt64, math.MinInt64} {
		r := reader{b: appendS64(nil, v)}
		got, err := r.signed(64)
		if err != nil || got != v || r.remaining() != 0 {
			t.Errorf("s64 %d: got %d, %v", v, got, err)
		}
		if v >= math.MinInt32 && v <= math.MaxInt32 {
			r = reader{b: appendS64(nil, v)}
			if got, err := r.signed(32); err != nil || got != v {
				t.Errorf("s32 %d: got %d, %v", v, got, err)
			}
		}
	}
	for _, v := range []uint32{0, 1, 127, 128, 1 << 28, math.MaxUint32} {
		r := reader{b: appendU32(nil, v)}
		if got, err := r.u32(); err != nil || got != v {
			t.Errorf("u32 %d: got %d, %v", v, got, err)
		}
	}
	for _, b := range [][]byte{{0x80, 0x80, 0x80, 0x80, 0x10}, {0x80, 0x80, 0x80, 0x80, 0x80, 0}, {0x80}} {
		r := reader{b: b}
		if _, err := r.u32(); err == nil {
			t.Errorf("u32 % x: no error", b)
		}
	}
	// s33 block types: -64 (0x40) ... type index 2^32-1.
	r := reader{b: []byte{0xff, 0xff, 0xff, 0xff, 0x0f}}
	if got, err := r.signed(33); err != nil || got != math.MaxUint32 {
		t.Errorf("s33: got %d, %v", got, err)
	}
}

// TestFixturesInSync regenerates the kernels with wat2wasm, when it is installed, and compares.
func TestFixturesInSync(t *testing.T) {
	pluginstest.Tool(t, "wat2wasm", "apt-get install -y wabt")
	wats, _ := filepath.Glob("testdata/kernels/*.wat")
	for _, w := range wats {
		out, err := exec.Command("wat2wasm", w, "--output=-").Output()
		if err != nil {
			t.Fatalf("%s: %v", w, err)
		}
		if !bytes.Equal(out, readFile(t, strings.TrimSuffix(w, ".wat")+".wasm")) {
			t.Errorf("%s: out of date; run sh testdata/gen.sh", w)
		}
	}
}
