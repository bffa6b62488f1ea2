package runtime

import (
	"errors"
	"fmt"
)

// wasmPage is the size of a WebAssembly linear memory page.
const wasmPage = 65536

// checkHeader checks the 8-byte preamble: the magic "\0asm" and binary format version 1.
func checkHeader(b []byte) error {
	if len(b) < 8 {
		if len(b) >= 4 && string(b[:4]) != "\x00asm" {
			return errors.New("not a wasm module (bad magic)")
		}
		return errors.New("truncated: shorter than the 8-byte wasm header")
	}
	if string(b[:4]) != "\x00asm" {
		return errors.New("not a wasm module (bad magic)")
	}
	if v := uint32(b[4]) | uint32(b[5])<<8 | uint32(b[6])<<16 | uint32(b[7])<<24; v != 1 {
		return fmt.Errorf("unsupported wasm binary version %d", v)
	}
	return nil
}

// Import kinds in the wasm binary format.
const (
	kindFunc   = 0
	kindTable  = 1
	kindMemory = 2
	kindGlobal = 3
	kindTag    = 4
)

// wasmImport is one entry of the import section.
type wasmImport struct {
	module, name string
	kind         byte
}

// shape is what the runtime needs from a module's binary beyond what wazero's CompiledModule reports: imports
// of every kind (wazero lists only functions and memories) and the minimum size of its linear memory, defined
// or imported, which wazero does not expose for an unexported memory.
type shape struct {
	imports     []wasmImport
	memMinPages uint64 // 0 when the module has no memory
}

// parseShape reads the import and memory sections of a wasm binary. It never panics on malformed input; the
// runtime calls it after wazero has validated the module, so an error here is unexpected.
func parseShape(b []byte) (shape, error) {
	var s shape
	if err := checkHeader(b); err != nil {
		return s, err
	}
	r := &reader{b: b, off: 8}
	for r.off < len(r.b) {
		id, err := r.byte()
		if err != nil {
			return s, err
		}
		size, err := r.u32()
		if err != nil {
			return s, err
		}
		if uint64(size) > uint64(len(r.b)-r.off) {
			return s, errors.New("truncated section")
		}
		sec := &reader{b: r.b[:r.off+int(size)], off: r.off}
		r.off += int(size)
		switch id {
		case 2: // import
			if err := s.readImports(sec); err != nil {
				return s, fmt.Errorf("import section: %w", err)
			}
		case 5: // memory
			n, err := sec.u32()
			if err != nil {
				return s, fmt.Errorf("memory section: %w", err)
			}
			if n > 0 {
				min, err := sec.limitsMin()
				if err != nil {
					return s, fmt.Errorf("memory section: %w", err)
				}
				s.memMinPages = min
			}
		}
	}
	return s, nil
}

func (s *shape) readImports(r *reader) error {
	n, err := r.u32()
	if err != nil {
		return err
	}
	for i := uint32(0); i < n; i++ {
		imp, memMin, err := r.importEntry()
		if err != nil {
			return err
		}
		if imp.kind == kindMemory {
			s.memMinPages = memMin
		}
		s.imports = append(s.imports, imp)
	}
	return nil
}

// importEntry reads one entry of the import section; memMinPages is an imported memory's minimum size.
func (r *reader) importEntry() (imp wasmImport, memMinPages uint64, err error) {
	if imp.module, err = r.name(); err != nil {
		return imp, 0, err
	}
	if imp.name, err = r.name(); err != nil {
		return imp, 0, err
	}
	if imp.kind, err = r.byte(); err != nil {
		return imp, 0, err
	}
	switch imp.kind {
	case kindFunc:
		_, err = r.u32()
	case kindTable:
		if _, err = r.byte(); err == nil { // reftype
			_, err = r.limitsMin()
		}
	case kindMemory:
		memMinPages, err = r.limitsMin()
	case kindGlobal:
		if _, err = r.byte(); err == nil { // valtype
			_, err = r.byte() // mutability
		}
	case kindTag:
		if _, err = r.byte(); err == nil { // attribute
			_, err = r.u32()
		}
	default:
		err = fmt.Errorf("unknown import kind %d", imp.kind)
	}
	return imp, memMinPages, err
}

// reader decodes the wasm binary format's primitives with bounds checks.
type reader struct {
	b   []byte
	off int
}

var errTruncated = errors.New("truncated")

func (r *reader) byte() (byte, error) {
	if r.off >= len(r.b) {
		return 0, errTruncated
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

// uleb reads an unsigned LEB128 of at most bits bits.
func (r *reader) uleb(bits uint) (uint64, error) {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		if shift >= bits+7 {
			return 0, errors.New("leb128 too long")
		}
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, nil
		}
	}
}

func (r *reader) u32() (uint32, error) {
	v, err := r.uleb(32)
	if v > 0xffffffff {
		return 0, errors.New("u32 out of range")
	}
	return uint32(v), err
}

func (r *reader) name() (string, error) {
	n, err := r.u32()
	if err != nil {
		return "", err
	}
	if uint64(n) > uint64(len(r.b)-r.off) {
		return "", errTruncated
	}
	s := string(r.b[r.off : r.off+int(n)])
	r.off += int(n)
	return s, nil
}

// limitsMin reads a limits structure and returns its minimum. Flag bit 0 says a maximum follows; bit 2 (memory64)
// widens both to 64 bits.
func (r *reader) limitsMin() (uint64, error) {
	flags, err := r.byte()
	if err != nil {
		return 0, err
	}
	bits := uint(32)
	if flags&4 != 0 {
		bits = 64
	}
	min, err := r.uleb(bits)
	if err != nil {
		return 0, err
	}
	if flags&1 != 0 {
		if _, err := r.uleb(bits); err != nil {
			return 0, err
		}
	}
	return min, nil
}
