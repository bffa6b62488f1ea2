package runtime

import (
	"math/bits"
	"sync"
)

// Buffers of linear memories and Extism arenas are pooled across calls: allocating and zeroing a fresh 64 KiB
// page on the Go heap is a large part of a small sandbox's cost. A buffer goes back to its pool only after the
// call that used it has ended and its instance is closed, zeroed over every byte it ever exposed, so what one
// call wrote is never seen by the next: the pool holds memory, never guest state.
const (
	minPooledBytes = 4 << 10   // smaller buffers are not worth a pool
	maxPooledBytes = 256 << 20 // larger ones go back to the garbage collector
)

// bufPools holds zeroed buffers by size class: class k holds buffers whose capacity is in [2^k, 2^(k+1)).
var bufPools [64]sync.Pool

// pooledBuf boxes a slice so that sync.Pool does not allocate on Put.
type pooledBuf struct{ b []byte }

// getBuf returns a zeroed buffer of length n whose capacity is at least n and at most maxCap (when maxCap ≥ n):
// from a pool when one of a fitting class is there, else freshly allocated with capacity want (clamped to
// [n, maxCap]).
func getBuf(n, want, maxCap uint64) []byte {
	if maxCap < n {
		maxCap = n
	}
	if n >= minPooledBytes && n <= maxPooledBytes {
		k := bits.Len64(n - 1) // the smallest class whose every buffer holds n bytes
		if v := bufPools[k].Get(); v != nil {
			pb := v.(*pooledBuf)
			if uint64(cap(pb.b)) <= maxCap {
				b := pb.b[:n]
				pb.b = nil
				pbPool.Put(pb)
				return b
			}
			bufPools[k].Put(pb) // too large for this memory's limit: leave it for another call
		}
	}
	// A fresh buffer gets its class's full size when the limit allows, so that it comes back to this class.
	c := max(want, n)
	if n >= minPooledBytes && n <= maxPooledBytes {
		c = max(c, uint64(1)<<bits.Len64(n-1))
	}
	return make([]byte, n, min(c, maxCap))
}

// putBuf zeroes b up to its length (the bytes a guest could have seen; the rest of its capacity is still zero)
// and returns it to its pool.
func putBuf(b []byte) {
	c := uint64(cap(b))
	if c < minPooledBytes || c > maxPooledBytes {
		return
	}
	clear(b)
	pb := pbPool.Get().(*pooledBuf)
	pb.b = b[:0]
	bufPools[bits.Len64(c)-1].Put(pb)
}

var pbPool = sync.Pool{New: func() any { return new(pooledBuf) }}
