package runtime

import (
	"math/rand"
	"sync"
)

// wazero's default WASI random source is math/rand seeded with 42, made fresh for every instance; seeding it
// costs about a quarter of a small instantiation. detRand gives every call the same bytes without seeding: the
// first randPrefix bytes of that stream, computed once per process, then (rarely) the stream itself, advanced past
// the prefix. Guests see exactly what they would with wazero's default, so both engines and every run agree.
const (
	randSeed   = 42 // wazero internal/platform.NewFakeRandSource
	randPrefix = 4 << 10
)

var (
	randOnce  sync.Once
	randBytes []byte
)

func randStream() []byte {
	randOnce.Do(func() {
		randBytes = make([]byte, randPrefix)
		_, _ = rand.New(rand.NewSource(randSeed)).Read(randBytes)
	})
	return randBytes
}

// detRand is one call's random source. Its zero value is ready to use.
type detRand struct {
	pos  int
	tail *rand.Rand // the stream past the prefix, made on first need
}

// Read implements io.Reader. math/rand's Read keeps its position across calls, so the bytes do not depend on how
// the guest splits its reads.
func (r *detRand) Read(p []byte) (int, error) {
	n := 0
	if r.pos < randPrefix {
		n = copy(p, randStream()[r.pos:])
		r.pos += n
	}
	if n < len(p) {
		if r.tail == nil {
			r.tail = rand.New(rand.NewSource(randSeed))
			skip := make([]byte, randPrefix)
			_, _ = r.tail.Read(skip)
		}
		m, _ := r.tail.Read(p[n:])
		n += m
	}
	return n, nil
}
