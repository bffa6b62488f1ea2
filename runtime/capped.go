package runtime

import (
	"errors"
	"sync"
)

// errOverCap is what a cappedBuffer's Write returns once the cap is passed, so that a guest writing to stdout
// learns early (fd_write fails) instead of writing until its timeout.
var errOverCap = errors.New("output limit exceeded")

// cappedBuffer keeps the first max bytes written to it and notes whether more came. Safe for concurrent use.
type cappedBuffer struct {
	max      int
	failOver bool // return errOverCap once over, instead of silently dropping

	mu   sync.Mutex
	buf  []byte
	over bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - len(b.buf); len(p) > room {
		b.buf = append(b.buf, p[:max(room, 0)]...)
		b.over = true
		if b.failOver {
			return max(room, 0), errOverCap
		}
		return len(p), nil
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *cappedBuffer) bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf...)
}

func (b *cappedBuffer) overflowed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.over
}
