package peers

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/toolgate/toolgate/runtime/fuel"
)

// Budget is the fuel every metered call starts with, on both engines: far more than any call here uses, and
// below math.MaxInt64 so that neither engine's own clamping is involved.
const Budget = int64(1) << 62

// Call is one call of an export of a kernel, runtime/fuel/testdata/kernels/{Kernel}.wasm.
type Call struct {
	// ID names the call in benchmark names and tables.
	ID string
	// Kernel is the module's file name without .wasm.
	Kernel string
	// Export is the function called, with Args (raw bits, as wazero takes them).
	Export string
	Args   []uint64
}

// String is the call as it reads in a table: "sum(1000000)", "fib.run()".
func (c Call) String() string {
	args := make([]string, len(c.Args))
	for i, a := range c.Args {
		args[i] = strconv.FormatUint(a, 10)
	}
	fn := c.Export
	if fn != c.Kernel {
		fn = c.Kernel + "." + fn
	}
	return fn + "(" + strings.Join(args, ", ") + ")"
}

// TimedCalls are the kernels the time comparison runs: the loop- and call-heavy kernels of docs/FUEL.md's
// overhead table, with the same arguments (fib through run(), so that its count is wasmtime's 2,427,849).
var TimedCalls = []Call{
	{"sum", "sum", "sum", []uint64{1_000_000}},
	{"fib", "fib", "run", nil},
	{"brtable", "brtable", "run", []uint64{100_000}},
	{"callind", "callind", "run", []uint64{100_000}},
	{"bulk", "bulk", "run", []uint64{2_000}},
	{"simd", "simd", "run", []uint64{100_000}},
}

// CountCalls are the calls whose fuel counts are compared: the timed ones, then the other kernels that return
// normally (multi-value blocks, sign extension and saturating truncation, reference types and tables, deep
// recursion) and a memory.grow.
var CountCalls = append(append([]Call(nil), TimedCalls...),
	Call{"multivalue", "multivalue", "run", []uint64{1001}},
	Call{"signext", "signext", "sweep", nil},
	Call{"reftypes", "reftypes", "run", nil},
	Call{"depth-down", "depth", "down", []uint64{1000}},
	Call{"depth-pair", "depth", "pair", []uint64{50}},
	Call{"bulk-grow", "bulk", "grow", []uint64{1}},
)

// FreshModule is the module of the fresh-instance comparison: bench/testdata/nop.wasm (no imports, one 64 KiB
// page, run returns 0), the floor case of the main benchmarks.
const (
	FreshModule = "bench/testdata/nop.wasm"
	FreshExport = "run"
)

// FreshInput is the input of the toolgate fresh subject's calls, the one bench.Input gives every case of the
// main benchmarks (nop ignores it); the other subjects pass none, the module having no way to read it.
var FreshInput = []byte(`{"name":"Ada"}`)

// DefaultRoot is the repository root as seen from bench/peers, where `go test` runs this package.
const DefaultRoot = "../.."

// Kernel reads the original (uninstrumented) kernel from the checkout at root.
func Kernel(root, kernel string) ([]byte, error) {
	return os.ReadFile(filepath.Join(root, "runtime", "fuel", "testdata", "kernels", kernel+".wasm"))
}

// ToolgateOptions is how Toolgate instruments a module: fuel.DefaultOptions.
func ToolgateOptions() fuel.Options { return fuel.DefaultOptions() }

// WasmtimeCostOptions is fuel.DefaultOptions without the charges for the size of bulk operations (memory.fill,
// copy and init per 64 bytes, memory.grow per page, table operations per element): the one place where
// Toolgate's default costs differ from wasmtime's. Counts under it must equal wasmtime's on every call.
func WasmtimeCostOptions() fuel.Options {
	o := fuel.DefaultOptions()
	o.Costs.MemoryBytes, o.Costs.MemoryPages, o.Costs.TableElements = fuel.Rate{}, fuel.Rate{}, fuel.Rate{}
	return o
}

// Instrument returns wasm instrumented under opts.
func Instrument(wasm []byte, opts fuel.Options) ([]byte, error) {
	out, _, err := fuel.Instrument(wasm, opts)
	return out, err
}

// Count is the fuel one call uses on each side.
type Count struct {
	Call Call
	// Wasmtime is wasmtime's consumed fuel: the budget set with Store.SetFuel minus Store.GetFuel after the call.
	Wasmtime int64
	// Toolgate is the budget minus toolgate_fuel after the call, instrumented with ToolgateOptions, on wazero's
	// compiler.
	Toolgate int64
	// ToolgateWasmtimeCosts is the same under WasmtimeCostOptions.
	ToolgateWasmtimeCosts int64
	// Results are the call's results, the same on every side.
	Results []uint64
}

// ErrMismatch is returned when the engines disagree on what a call returns.
var ErrMismatch = errors.New("engines disagree")

// Counts runs each call once on each side, each in a fresh instance, and returns the fuel each used.
func Counts(root string, calls []Call) ([]Count, error) {
	var out []Count
	for _, c := range calls {
		wasm, err := Kernel(root, c.Kernel)
		if err != nil {
			return nil, err
		}
		n := Count{Call: c}
		sides := []struct {
			subject string
			opts    *fuel.Options
			used    *int64
		}{
			{SubjectWasmtimeFuel, nil, &n.Wasmtime},
			{SubjectWazeroFuel, ptr(ToolgateOptions()), &n.Toolgate},
			{SubjectWazeroFuel, ptr(WasmtimeCostOptions()), &n.ToolgateWasmtimeCosts},
		}
		for i, s := range sides {
			r, err := newRunner(s.subject, wasm, c, s.opts)
			if err != nil {
				return nil, fmt.Errorf("peers: call[%s] subject[%s]: %w", c, s.subject, err)
			}
			err = r.Call()
			used, _ := r.Used()
			res := r.Results()
			r.Close()
			if err != nil {
				return nil, fmt.Errorf("peers: call[%s] subject[%s]: %w", c, s.subject, err)
			}
			*s.used = used
			if i == 0 {
				n.Results = res
			} else if !equal(res, n.Results) {
				return nil, fmt.Errorf("peers: call[%s]: %s returned %v, wasmtime %v: %w", c, s.subject, res,
					n.Results, ErrMismatch)
			}
		}
		out = append(out, n)
	}
	return out, nil
}

func ptr[T any](v T) *T { return &v }

func equal(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
