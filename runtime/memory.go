package runtime

import (
	"sync"

	"github.com/tetratelabs/wazero/experimental"
)

// memLimiter is one call's memory budget. It is the experimental.MemoryAllocator the call's context carries, so it
// sees every linear memory the call's instantiations make (the guest's; for the Extism SDK engine also the SDK's
// kernel memory), and the native engine charges its Extism arena to it too (reserve): the cap covers everything
// the sandbox holds. Growth past the cap is refused: memory.grow returns -1, an arena allocation returns 0, and
// the guest decides what follows; Result reports a trap or crash after a refusal as memory_limit.
//
// A memory's initial size cannot be refused (wazero requires the minimum be allocated), so Invoke checks the
// module's minimum against the cap before it instantiates; if an initial allocation still goes over (the SDK
// kernel's own pages), the limiter records it and the call does not run.
//
// Buffers come from the pools of pool.go and go back to them when the call ends (release), not when wazero frees
// a memory: a module closed by proc_exit is freed while its call is still unwinding.
type memLimiter struct {
	limit uint64

	mu      sync.Mutex
	total   uint64 // bytes of all live memories and the arena
	peak    uint64
	refused bool
	done    [][]byte // buffers to return to the pools at release
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

// reserve charges n more bytes, or records a refusal and returns false when they would go over the cap.
func (l *memLimiter) reserve(n uint64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n > l.limit-min(l.limit, l.total) {
		l.refused = true
		return false
	}
	l.total += n
	l.peak = max(l.peak, l.total)
	return true
}

// room returns how many more bytes the cap allows.
func (l *memLimiter) room() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limit - min(l.limit, l.total)
}

// retire queues b for the pools; release returns everything queued. Call release once the call's instances are
// closed and nothing reads their memories any more.
func (l *memLimiter) retire(b []byte) {
	if b == nil {
		return
	}
	l.mu.Lock()
	l.done = append(l.done, b)
	l.mu.Unlock()
}

func (l *memLimiter) release() {
	l.mu.Lock()
	done := l.done
	l.done = nil
	l.mu.Unlock()
	for _, b := range done {
		putBuf(b)
	}
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
		room := cur + (l.limit - min(l.limit, l.total))
		want := min(2*uint64(cap(m.buf)), room)
		nb := getBuf(size, want, min(m.max, max(room, size)))
		copy(nb, m.buf)
		if m.buf != nil {
			l.done = append(l.done, m.buf)
		}
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
	if m.buf != nil {
		l.done = append(l.done, m.buf)
	}
	m.buf = nil
}
