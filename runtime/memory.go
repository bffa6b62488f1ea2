package runtime

import (
	"sync"

	"github.com/tetratelabs/wazero/experimental"
)

// memLimiter is one call's linear-memory budget. It is the experimental.MemoryAllocator the call's context
// carries, so it sees every linear memory the call's instantiations make (for the Extism SDK engine: the SDK's
// kernel memory and the guest's) and caps their sum. Growth past the cap is refused: memory.grow returns -1 and
// the guest decides what follows; Result reports a trap or crash after a refusal as memory_limit.
//
// A memory's initial size cannot be refused (wazero requires the minimum be allocated), so Invoke checks the
// module's minimum against the cap before it instantiates; if an initial allocation still goes over (the SDK
// kernel's own pages), the limiter records it and the call does not run.
type memLimiter struct {
	limit uint64

	mu      sync.Mutex
	total   uint64 // bytes of all live memories
	peak    uint64
	refused bool
}

var _ experimental.MemoryAllocator = (*memLimiter)(nil)

func newMemLimiter(limit uint64) *memLimiter { return &memLimiter{limit: limit} }

// Allocate implements experimental.MemoryAllocator.
func (l *memLimiter) Allocate(_, max uint64) experimental.LinearMemory {
	return &cappedMemory{l: l, max: max}
}

// wasRefused reports whether any allocation or growth went over the cap.
func (l *memLimiter) wasRefused() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.refused
}

// peakBytes returns the most bytes the call's memories held at once.
func (l *memLimiter) peakBytes() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.peak
}

// cappedMemory backs one linear memory. wasm memories never shrink while their instance lives.
type cappedMemory struct {
	l       *memLimiter
	max     uint64
	buf     []byte
	started bool
}

// Reallocate implements experimental.LinearMemory. It returns nil to refuse growth.
func (m *cappedMemory) Reallocate(size uint64) []byte {
	l := m.l
	l.mu.Lock()
	defer l.mu.Unlock()
	initial := !m.started
	m.started = true
	cur := uint64(len(m.buf))
	if size <= cur {
		m.buf = m.buf[:size]
		return m.buf
	}
	if size > m.max {
		return nil
	}
	delta := size - cur
	if l.total+delta > l.limit {
		l.refused = true
		if !initial {
			return nil
		}
		// The minimum must be allocated; the caller sees refused and does not run the guest.
	}
	if uint64(cap(m.buf)) >= size {
		m.buf = m.buf[:size]
	} else {
		// Grow the backing array geometrically, but never past what this memory could reach under the cap.
		newCap := 2 * uint64(cap(m.buf))
		if room := cur + (l.limit - min(l.limit, l.total)); newCap > room {
			newCap = room
		}
		newCap = min(max(newCap, size), m.max)
		nb := make([]byte, size, newCap)
		copy(nb, m.buf)
		m.buf = nb
	}
	l.total += delta
	l.peak = max(l.peak, l.total)
	return m.buf
}

// Free implements experimental.LinearMemory.
func (m *cappedMemory) Free() {
	l := m.l
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total -= min(l.total, uint64(len(m.buf)))
	m.buf = nil
}
