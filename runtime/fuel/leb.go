package fuel

import "fmt"

// reader walks a byte slice with bounds checks on every read. Offsets in errors are absolute: base is the offset
// of b[0] in the module.
type reader struct {
	b    []byte
	off  int
	base int
}

// pos is the absolute offset of the next byte.
func (r *reader) pos() int { return r.base + r.off }

func (r *reader) remaining() int { return len(r.b) - r.off }

func (r *reader) fail(err error, format string, args ...any) error {
	if format == "" {
		return posError{r.pos(), err}
	}
	return posError{r.pos(), fmt.Errorf(format+": %w", append(args, err)...)}
}

func (r *reader) byte() (byte, error) {
	if r.off >= len(r.b) {
		return 0, r.fail(ErrTruncated, "")
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

func (r *reader) bytes(n int) ([]byte, error) {
	if n < 0 || n > r.remaining() {
		return nil, r.fail(ErrTruncated, "need %d bytes, %d left", n, r.remaining())
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s, nil
}

// u32 reads an unsigned LEB128 of at most 5 bytes whose value fits 32 bits.
func (r *reader) u32() (uint32, error) {
	var v uint32
	for i := 0; i < 5; i++ {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		if i == 4 && c&0xf0 != 0 {
			return 0, r.fail(ErrMalformedLEB, "u32")
		}
		v |= uint32(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v, nil
		}
	}
	return 0, r.fail(ErrMalformedLEB, "u32")
}

// signed reads a signed LEB128 of a value of the given bit width (32, 33 or 64).
func (r *reader) signed(bits int) (int64, error) {
	var v int64
	maxBytes := (bits + 6) / 7
	for i := 0; i < maxBytes; i++ {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		shift := 7 * i
		if i == maxBytes-1 {
			// The last byte holds the top bits; the bits past the width must all equal the sign bit.
			used := bits - shift
			mask := byte(0x7f) &^ (1<<(used-1) - 1)
			if c&0x80 != 0 || (c&mask != 0 && c&mask != mask) {
				return 0, r.fail(ErrMalformedLEB, "s%d", bits)
			}
		}
		v |= int64(c&0x7f) << shift
		if c&0x80 == 0 {
			if shift+7 < 64 && c&0x40 != 0 {
				v |= -1 << (shift + 7)
			}
			return v, nil
		}
	}
	return 0, r.fail(ErrMalformedLEB, "s%d", bits)
}

// count reads a vector length and rejects one that could not fit in the bytes left, given that each element
// takes at least minSize bytes. Hostile counts never size an allocation.
func (r *reader) count(minSize int, what string) (int, error) {
	n, err := r.u32()
	if err != nil {
		return 0, err
	}
	if uint64(n)*uint64(minSize) > uint64(r.remaining()) {
		return 0, r.fail(ErrMalformed, "%s count %d exceeds the %d bytes left", what, n, r.remaining())
	}
	return int(n), nil
}

// name reads a length-prefixed byte string.
func (r *reader) name() (string, error) {
	n, err := r.u32()
	if err != nil {
		return "", err
	}
	b, err := r.bytes(int(n))
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// posError carries an absolute offset until the caller wraps it into an *Error with its context.
type posError struct {
	off int
	err error
}

func (e posError) Error() string { return e.err.Error() }
func (e posError) Unwrap() error { return e.err }

func appendU32(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

func appendS64(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}
