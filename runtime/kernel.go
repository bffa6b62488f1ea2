package runtime

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// kernel is the Extism kernel of one call, in Go: the memory that Extism offsets point into, its allocator, and
// the input, output and error registers, exactly as extism-runtime.wasm v1.7.0 (the kernel extism/go-sdk v1.7.1
// embeds and instantiates beside every guest) keeps them, byte for byte. Every offset a guest sees, every block
// header, every bounds check and every quirk is the same, so a plugin cannot tell the engines apart; but nothing
// is instantiated, and a host call is a Go function over a byte slice instead of a forward into a Wasm module.
//
// The kernel's linear memory starts at 16 pages and grows when the allocator asks. Only a prefix of it is
// materialized (mem): the rest reads as zero, as fresh Wasm memory does, and is materialized when written or
// allocated, charged to the call's memory budget. So the arena costs what it holds, not 1 MiB per call.
//
// Memory layout (offsets in bytes): a root at 1 — initialized flag (1), bump position (9), usable length (17),
// error (25), input offset (33) and length (41), output offset (49) and length (57) — then blocks from 65, each a
// 12-byte header (status u8, size u32 at +4, used u32 at +8) followed by its data. A handle is the offset of a
// block's data.
//
// Where the SDK answers a call with Go instead of the kernel (load_u64, store_u64, input_load_u64, and the
// helpers behind config_get, var_*, log_* and http_*), kernel has the SDK's semantics too: see the sdk* methods.
type kernel struct {
	mem  []byte // the materialized prefix of the kernel's memory
	size uint64 // the kernel memory's size in bytes
	lim  *memLimiter
	// inputOffset is the handle the input was allocated at, which the SDK's input_load_u64 adds to its offset
	// whatever the guest did to the input registers since.
	inputOffset uint64
}

// Kernel memory layout.
const (
	kRootInit         = 1
	kRootPosition     = 9
	kRootLength       = 17
	kRootError        = 25
	kRootInputOffset  = 33
	kRootInputLength  = 41
	kRootOutputOffset = 49
	kRootOutputLength = 57
	kBlocks           = 65 // first block header
	kRootSize         = 64
	kBlockHeader      = 12
	kBlockStatus      = 0
	kBlockSize        = 4
	kBlockUsed        = 8

	kStatusUnused = 0
	kStatusActive = 1
	kStatusFree   = 2

	kInitialPages = 16      // the kernel module's declared minimum memory
	kMaxPages     = 1 << 16 // wasm32
	kInitLength   = wasmPage - kRootSize
	kArenaBuf     = 4 << 10 // first buffer of an arena
)

// Traps the kernel's Wasm code would raise; their messages read as wazero's do once it reports them.
var (
	errKernelOOB = errors.New("wasm error: out of bounds memory access")
	// errArenaLimit: the guest wrote to kernel memory that the call's memory cap has no room to materialize.
	errArenaLimit = errors.New("memory limit reached in the extism kernel memory")
	// errSDKInvalidBlock and errSDKWriteFailed are the SDK's own errors from its memory helpers.
	errSDKInvalidBlock = errors.New("invalid memory block")
	errSDKWriteFailed  = errors.New("failed to write to memory")
)

// reset makes k a fresh kernel over a pooled buffer, charged to lim.
func (k *kernel) reset(lim *memLimiter) {
	*k = kernel{size: kInitialPages * wasmPage, lim: lim}
}

// release returns the arena's buffer to the call's limiter (and from there to the pools).
func (k *kernel) release() {
	if k.mem != nil {
		k.lim.retire(k.mem)
		k.mem = nil
	}
}

// setInput does what the SDK does before every call (reset, alloc, write, input_set). It returns false when the
// input does not fit under the memory cap.
func (k *kernel) setInput(input []byte) bool {
	k.kreset()
	p := k.alloc(uint64(len(input)))
	if p == 0 && len(input) > 0 {
		return false
	}
	copy(k.mem[p:], input)
	k.inputSet(p, uint64(len(input)))
	k.inputOffset = p
	return true
}

// materialize makes mem cover [0, end), charging the growth; end must be within size. It returns false when the
// cap refuses.
func (k *kernel) materialize(end uint64) bool {
	n := uint64(len(k.mem))
	if end <= n {
		return true
	}
	if !k.lim.reserve(end - n) {
		return false
	}
	if end <= uint64(cap(k.mem)) {
		k.mem = k.mem[:end] // beyond its length a buffer is still zero
		return true
	}
	want := max(2*uint64(cap(k.mem)), kArenaBuf)
	// Ask for at least a pooled size (a small arena's first buffer is then a pool's), use end bytes of it.
	nb := getBuf(max(end, min(want, kArenaBuf)), want, end+k.lim.room())[:end] // capacity within the cap's room
	copy(nb, k.mem)
	k.lim.retire(k.mem)
	k.mem = nb
	return true
}

// Loads and stores of the kernel's own code: out of bounds traps, reads past the materialized prefix are zero,
// writes materialize.

func (k *kernel) check(addr, n uint64) {
	if addr+n > k.size {
		panic(errKernelOOB)
	}
}

func (k *kernel) ld8(addr uint64) byte {
	k.check(addr, 1)
	if addr < uint64(len(k.mem)) {
		return k.mem[addr]
	}
	return 0
}

func (k *kernel) ld32(addr uint64) uint32 {
	k.check(addr, 4)
	if addr+4 <= uint64(len(k.mem)) {
		return binary.LittleEndian.Uint32(k.mem[addr:])
	}
	var b [4]byte
	k.read(b[:], addr)
	return binary.LittleEndian.Uint32(b[:])
}

func (k *kernel) ld64(addr uint64) uint64 {
	k.check(addr, 8)
	if addr+8 <= uint64(len(k.mem)) {
		return binary.LittleEndian.Uint64(k.mem[addr:])
	}
	var b [8]byte
	k.read(b[:], addr)
	return binary.LittleEndian.Uint64(b[:])
}

// read copies memory at addr into dst, zeros past the materialized prefix; the range must be in bounds.
func (k *kernel) read(dst []byte, addr uint64) {
	n := 0
	if addr < uint64(len(k.mem)) {
		n = copy(dst, k.mem[addr:])
	}
	clear(dst[n:])
}

func (k *kernel) writable(addr, n uint64) {
	k.check(addr, n)
	if !k.materialize(addr + n) {
		panic(errArenaLimit)
	}
}

func (k *kernel) st8(addr uint64, v byte) {
	if addr >= uint64(len(k.mem)) {
		k.writable(addr, 1)
	}
	k.mem[addr] = v
}

func (k *kernel) st32(addr uint64, v uint32) {
	if addr+4 > uint64(len(k.mem)) {
		k.writable(addr, 4)
	}
	binary.LittleEndian.PutUint32(k.mem[addr:], v)
}

func (k *kernel) st64(addr uint64, v uint64) {
	if addr+8 > uint64(len(k.mem)) {
		k.writable(addr, 8)
	}
	binary.LittleEndian.PutUint64(k.mem[addr:], v)
}

// zero is memset(addr, 0, n) of the kernel's code.
func (k *kernel) zero(addr, n uint64) {
	k.check(addr, n)
	if addr < uint64(len(k.mem)) {
		clear(k.mem[addr:min(addr+n, uint64(len(k.mem)))])
	}
}

// root is MemoryRoot::new: it initializes the root on first use.
func (k *kernel) root() {
	if k.ld8(kRootInit) != 0 {
		return
	}
	k.st8(kRootInit, 1)
	k.st64(kRootInputOffset, 0)
	k.st64(kRootInputLength, 0)
	k.st64(kRootOutputOffset, 0)
	k.st64(kRootOutputLength, 0)
	k.st64(kRootError, 0)
	k.st64(kRootLength, kInitLength)
	k.st64(kRootPosition, 0)
	k.zero(kBlocks, 144)
}

// The kernel's exports, by name.

// alloc returns the handle of a new block of n bytes, or 0 when n is 0 or the memory cannot grow.
func (k *kernel) alloc(n uint64) uint64 {
	if n == 0 {
		return 0
	}
	k.root()
	b := k.allocBlock(n)
	if b == 0 {
		return 0
	}
	return b + kBlockHeader
}

// allocBlock is MemoryRoot::alloc as compiled: bump allocation while the block fits in the usable length; when
// it does not, first a freed or unused block that is large enough (split when the excess is 128 bytes or more),
// then growth by whole pages. It returns the block's header offset, or 0.
func (k *kernel) allocBlock(n uint64) uint64 {
	pos := k.ld64(kRootPosition)
	length := k.ld64(kRootLength)
	withHeader := n + kBlockHeader
	left := length - pos - kRootSize
	b := uint64(uint32(pos) + kBlocks)
	if withHeader >= left {
		if b, ok := k.reuse(n, withHeader, pos); ok {
			return b
		}
		// Grow by the pages the shortfall needs (32-bit arithmetic, as compiled). memory.grow fails past 4 GiB,
		// and here also when the call's memory cap cannot hold the block.
		d := withHeader - left
		pages := uint64(uint32(d>>16) + b2u32(d&0xffff != 0))
		if k.size/wasmPage+pages > kMaxPages {
			return 0
		}
		size := k.size + pages*wasmPage
		if !k.materialize(min(b+withHeader, size)) {
			return 0
		}
		k.size = size
		k.st64(kRootLength, k.ld64(kRootLength)+pages<<16)
	} else if !k.materialize(min(b+withHeader, k.size)) {
		return 0
	}
	k.st64(kRootPosition, k.ld64(kRootPosition)+withHeader)
	k.st32(b+kBlockUsed, uint32(n))
	k.st32(b+kBlockSize, uint32(n))
	k.st8(b+kBlockStatus, kStatusActive)
	return b
}

// reuse looks for a block to reuse, as the compiled kernel does before it grows the memory.
func (k *kernel) reuse(n, withHeader, pos uint64) (uint64, bool) {
	end := pos + kBlocks
	if withHeader > pos || end <= kBlocks {
		return 0, false
	}
	n32 := uint32(n)
	b := uint32(kBlocks)
	for steps := 0; ; steps++ {
		var size uint32
		switch k.ld8(uint64(b)) {
		case kStatusUnused:
			return k.use(uint64(b), n32), true
		case kStatusFree:
			size = k.ld32(uint64(b) + kBlockSize)
			if size >= n32 {
				if rem := size - n32; rem >= 128 {
					k.st32(uint64(b)+kBlockUsed, 0)
					k.st32(uint64(b)+kBlockSize, rem-kBlockHeader)
					b += rem
					k.st32(uint64(b)+kBlockUsed, 0)
					k.st32(uint64(b)+kBlockSize, n32)
					k.st8(uint64(b), kStatusFree)
				}
				return k.use(uint64(b), n32), true
			}
		default:
			size = k.ld32(uint64(b) + kBlockSize)
		}
		b = b + size + kBlockHeader
		if end <= uint64(b) {
			return 0, false
		}
	}
}

func (k *kernel) use(b uint64, n uint32) uint64 {
	k.st8(b, kStatusActive)
	k.st32(b+kBlockUsed, n)
	return b
}

// findBlock walks the blocks from the first for the active one whose data starts at p, as the compiled kernel
// does (it walks while the next block starts before p + 65). It returns the header offset.
func (k *kernel) findBlock(p uint64) (uint64, bool) {
	end := p + kBlocks
	b := uint32(kBlocks)
	for {
		data := b + kBlockHeader
		if k.ld8(uint64(b)) == kStatusActive && uint64(data) == p {
			return uint64(b), true
		}
		b = data + k.ld32(uint64(b)+kBlockSize)
		if end <= uint64(b) {
			return 0, false
		}
	}
}

func (k *kernel) free(p uint64) {
	if p == 0 {
		return
	}
	k.root()
	if p < kRootSize || k.size < p {
		return
	}
	b, ok := k.findBlock(p)
	if !ok {
		return
	}
	k.st8(b, kStatusFree)
	if k.ld64(kRootInputOffset) == p {
		k.st64(kRootInputLength, 0)
	}
}

// length returns the used length of the active block whose data starts at p, or 0.
func (k *kernel) length(p uint64) uint64 {
	if p == 0 {
		return 0
	}
	k.root()
	if p < kRootSize || k.size < p {
		return 0
	}
	b, ok := k.findBlock(p)
	if !ok {
		return 0
	}
	return uint64(k.ld32(b + kBlockUsed))
}

// lengthUnsafe trusts p to be a handle and reads the header before it.
func (k *kernel) lengthUnsafe(p uint64) uint64 {
	if p == 0 || p < kRootSize || k.size < p {
		return 0
	}
	h := uint64(uint32(p) - kBlockHeader)
	if k.ld8(h) != kStatusActive {
		return 0
	}
	return uint64(k.ld32(h + kBlockUsed))
}

func (k *kernel) loadU8(p uint64) uint32 {
	if p < kRootSize || k.size < p {
		return 0
	}
	return uint32(k.ld8(uint64(uint32(p))))
}

func (k *kernel) storeU8(p uint64, v byte) {
	if p < kRootSize || k.size < p {
		return
	}
	k.st8(uint64(uint32(p)), v)
}

func (k *kernel) inputLoadU8(off uint64) uint32 {
	k.root()
	if k.ld64(kRootInputLength) <= off {
		return 0
	}
	return uint32(k.ld8(uint64(uint32(k.ld64(kRootInputOffset) + off))))
}

// inputSet and outputSet accept a range only within the usable length.
func (k *kernel) inputSet(h, n uint64) {
	k.root()
	if k.rangeOK(h, n) {
		k.st64(kRootInputOffset, h)
		k.st64(kRootInputLength, n)
	}
}

func (k *kernel) outputSet(p, n uint64) {
	k.root()
	if k.rangeOK(p, n) {
		k.st64(kRootOutputOffset, p)
		k.st64(kRootOutputLength, n)
	}
}

func (k *kernel) rangeOK(p, n uint64) bool {
	limit := k.ld64(kRootLength) + kBlocks
	last := p + n - 1
	return p >= kBlocks && limit > p && last >= kBlocks && last < limit
}

func (k *kernel) reg(off uint64) uint64 {
	k.root()
	return k.ld64(off)
}

// kreset is the kernel's reset: it zeroes the blocks in use and every register but the length.
func (k *kernel) kreset() {
	k.root()
	pos := uint64(k.ld32(kRootPosition))
	k.st64(kRootPosition, 0)
	k.zero(kBlocks, pos)
	k.st64(kRootError, 0)
	k.st64(kRootOutputLength, 0)
	k.st64(kRootOutputOffset, 0)
	k.st64(kRootInputLength, 0)
	k.st64(kRootInputOffset, 0)
}

func (k *kernel) errorSet(h uint64) {
	k.root()
	if h != 0 && (h <= kRootSize || k.ld64(kRootLength)+kBlocks <= h) {
		return
	}
	k.st64(kRootError, h)
}

// The SDK's Go side: its api.Memory reads and writes of the kernel's memory, and the functions it answers in Go.

// memRange reports whether [uint32(off), +n) is within the memory, as api.Memory.Read and Write check it.
func (k *kernel) memRange(off uint32, n uint64) bool {
	return uint64(off)+n <= k.size
}

// readBytes is CurrentPlugin.ReadBytes: length(off) bytes at off, copied.
func (k *kernel) readBytes(off uint64) ([]byte, error) {
	n := uint64(uint32(k.length(off)))
	if !k.memRange(uint32(off), n) {
		return nil, errSDKInvalidBlock
	}
	b := make([]byte, n)
	k.read(b, uint64(uint32(off)))
	return b, nil
}

// writeBytes is CurrentPlugin.WriteBytes: alloc, then write (at 0 when the allocation failed, as the SDK does).
func (k *kernel) writeBytes(b []byte) (uint64, error) {
	p := k.alloc(uint64(len(b)))
	if !k.memRange(uint32(p), uint64(len(b))) {
		return 0, errSDKWriteFailed
	}
	if len(b) > 0 {
		k.writable(uint64(uint32(p)), uint64(len(b)))
		copy(k.mem[uint32(p):], b)
	}
	return p, nil
}

// message reads length(h) bytes at h, as Plugin.GetError does: "" when there is none or it is out of range.
func (k *kernel) message(h uint64) string {
	if h == 0 {
		return ""
	}
	n := uint64(uint32(k.length(h)))
	if !k.memRange(uint32(h), n) {
		return ""
	}
	b := make([]byte, n)
	k.read(b, uint64(uint32(h)))
	return string(b)
}

// output returns the output registers' bytes, as Plugin.GetOutput does, or only their length when it is over
// max (then the bytes are not copied).
func (k *kernel) output(max int64) ([]byte, uint64) {
	off, n := k.reg(kRootOutputOffset), k.reg(kRootOutputLength)
	n32 := uint64(uint32(n))
	if !k.memRange(uint32(off), n32) {
		return []byte{}, 0
	}
	if n32 > uint64(max) {
		return nil, n32
	}
	b := make([]byte, n32)
	k.read(b, uint64(uint32(off)))
	return b, n32
}

// sdkLoadU64 is the SDK's load_u64: a plain read of the memory, with no lower bound.
func (k *kernel) sdkLoadU64(p uint64) uint64 {
	if !k.memRange(uint32(p), 8) {
		// The SDK's message prints the offset after its read has zeroed it.
		panic("could not read value at offset: 0")
	}
	return k.ld64(uint64(uint32(p)))
}

// sdkInputLoadU64 is the SDK's input_load_u64: a read at the input's original handle plus off, with no check
// against the input's length.
func (k *kernel) sdkInputLoadU64(off uint64) uint64 {
	return k.sdkLoadU64(off + k.inputOffset)
}

// sdkStoreU64 is the SDK's store_u64: a plain write, with no lower bound.
func (k *kernel) sdkStoreU64(p, v uint64) {
	if !k.memRange(uint32(p), 8) {
		panic(fmt.Sprintf("could not write value '%v' at offset: %v", v, p))
	}
	k.st64(uint64(uint32(p)), v)
}

func b2u32(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}
