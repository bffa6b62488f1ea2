package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/toolgate/toolgate/host"
)

// rawKernel is the least a host can do to run an Extism-ABI guest without the SDK's Wasm kernel: the kernel's
// memory is a Go byte slice, each block preceded by its 8-byte little-endian length, and the call's input,
// output and error live in Go. It is one call's state, made fresh per call like the sandbox itself. It is not a
// sandbox boundary (a guest can make it allocate without bound; an out-of-range offset panics, which wazero turns
// into a trap): it runs trusted fixtures, to show the floor under an Extism engine.
type rawKernel struct {
	input  []byte
	mem    []byte
	output []byte
	err    string
}

// rawKernelBase is the offset of the first block: offset 0 must stay the null block.
const rawKernelBase = 16

func newRawKernel(input []byte) *rawKernel {
	return &rawKernel{input: input, mem: make([]byte, rawKernelBase-8, 256)}
}

func (k *rawKernel) alloc(n uint64) uint64 {
	k.mem = binary.LittleEndian.AppendUint64(k.mem, n)
	off := uint64(len(k.mem))
	k.mem = append(k.mem, make([]byte, n)...)
	return off
}

func (k *rawKernel) length(off uint64) uint64 {
	if off < rawKernelBase || off > uint64(len(k.mem)) {
		return 0
	}
	return binary.LittleEndian.Uint64(k.mem[off-8:])
}

func (k *rawKernel) block(off uint64) []byte { return k.mem[off : off+k.length(off)] }

// le64 reads the little-endian uint64 at off, zero-padded past the end of b as the SDK's kernel memory is.
func le64(b []byte, off uint64) uint64 {
	if off+8 <= uint64(len(b)) {
		return binary.LittleEndian.Uint64(b[off:])
	}
	var w [8]byte
	copy(w[:], b[off:])
	return binary.LittleEndian.Uint64(w[:])
}

type rawKernelKey struct{}

func withRawKernel(ctx context.Context, k *rawKernel) context.Context {
	return context.WithValue(ctx, rawKernelKey{}, k)
}

// rawKernelFuncs implements the extism:host/env functions the benchmark guests use. go-pdk's config_get finds
// no configuration (hello then greets with its default), get_log_level turns every level off and log lines are
// dropped.
var rawKernelFuncs = map[string]func(k *rawKernel, stack []uint64){
	"alloc":          func(k *rawKernel, s []uint64) { s[0] = k.alloc(s[0]) },
	"free":           func(*rawKernel, []uint64) {},
	"length":         func(k *rawKernel, s []uint64) { s[0] = k.length(s[0]) },
	"load_u8":        func(k *rawKernel, s []uint64) { s[0] = uint64(k.mem[s[0]]) },
	"load_u64":       func(k *rawKernel, s []uint64) { s[0] = le64(k.mem, s[0]) },
	"store_u8":       func(k *rawKernel, s []uint64) { k.mem[s[0]] = byte(s[1]) },
	"store_u64":      func(k *rawKernel, s []uint64) { binary.LittleEndian.PutUint64(k.mem[s[0]:], s[1]) },
	"input_length":   func(k *rawKernel, s []uint64) { s[0] = uint64(len(k.input)) },
	"input_load_u8":  func(k *rawKernel, s []uint64) { s[0] = uint64(k.input[s[0]]) },
	"input_load_u64": func(k *rawKernel, s []uint64) { s[0] = le64(k.input, s[0]) },
	"output_set": func(k *rawKernel, s []uint64) {
		k.output = append([]byte(nil), k.mem[s[0]:s[0]+s[1]]...)
	},
	"error_set":     func(k *rawKernel, s []uint64) { k.err = string(k.block(s[0])) },
	"config_get":    func(k *rawKernel, s []uint64) { s[0] = 0 },
	"get_log_level": func(k *rawKernel, s []uint64) { s[0] = math.MaxInt32 },
	"log_trace":     func(*rawKernel, []uint64) {},
	"log_debug":     func(*rawKernel, []uint64) {},
	"log_info":      func(*rawKernel, []uint64) {},
	"log_warn":      func(*rawKernel, []uint64) {},
	"log_error":     func(*rawKernel, []uint64) {},
}

// instantiateRawKernel instantiates module extism:host/env in rt with every function of host.ExtismEnvNames, so
// any Extism-ABI module links: those in rawKernelFuncs work, the others panic when called (a trap).
func instantiateRawKernel(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(host.ExtismEnvModule)
	for _, name := range host.ExtismEnvNames() {
		sig, _ := host.ExtismEnv(name)
		impl, ok := rawKernelFuncs[name]
		if !ok {
			impl = func(*rawKernel, []uint64) {
				panic(fmt.Sprintf("bench: %s.%s is not provided by the raw kernel", host.ExtismEnvModule, name))
			}
		}
		fn := api.GoFunc(func(ctx context.Context, stack []uint64) {
			impl(ctx.Value(rawKernelKey{}).(*rawKernel), stack)
		})
		b.NewFunctionBuilder().WithGoFunction(fn, sig.Params, sig.Results).Export(name)
	}
	_, err := b.Instantiate(ctx)
	return err
}
