package runtime

import (
	"fmt"
)

// Implementation limits of the WebAssembly JS API (https://webassembly.github.io/spec/js-api/#limits), the ones
// every browser engine enforces; checkBounds applies them before wazero sees a module.
const (
	limitTypes        = 1_000_000
	limitFunctions    = 1_000_000
	limitImports      = 100_000
	limitExports      = 100_000
	limitGlobals      = 1_000_000
	limitDataSegments = 100_000
	limitTables       = 100_000
	limitMemories     = 100
	limitElements     = 10_000_000 // segments, and entries of one segment
	limitParams       = 1_000
	limitResults      = 1_000
	limitLocals       = 50_000 // per function
)

// checkBounds walks the sections of an untrusted module and refuses any vector whose count is larger than the
// bytes that would have to hold it, or than the JS API's implementation limits. wazero's decoder allocates a
// vector from its count before it decodes the entries (and a function's locals from the sum of their run-length
// counts), so without this a 22-byte module that claims 2^31 imports, or a function that declares 2^32 locals,
// makes it allocate gigabytes and the process dies of it. Validity itself stays wazero's to decide: checkBounds
// only reads far enough to bound what wazero will allocate.
func checkBounds(b []byte) error {
	if err := checkHeader(b); err != nil {
		return err
	}
	r := &reader{b: b, off: 8}
	for r.off < len(r.b) {
		id, err := r.byte()
		if err != nil {
			return err
		}
		size, err := r.u32()
		if err != nil {
			return err
		}
		if uint64(size) > uint64(len(r.b)-r.off) {
			return errTruncated
		}
		sec := &reader{b: r.b[:r.off+int(size)], off: r.off}
		r.off += int(size)
		if err := checkSection(id, sec); err != nil {
			return fmt.Errorf("%s section: %w", sectionName(id), err)
		}
	}
	return nil
}

func sectionName(id byte) string {
	names := [...]string{"custom", "type", "import", "function", "table", "memory", "global", "export", "start",
		"element", "code", "data", "data count"}
	if int(id) < len(names) {
		return names[id]
	}
	return fmt.Sprintf("unknown (%d)", id)
}

func checkSection(id byte, r *reader) error {
	switch id {
	case 0:
		return checkCustom(r)
	case 1:
		return r.each(limitTypes, func() error {
			if _, err := r.byte(); err != nil { // 0x60
				return err
			}
			if err := r.skipVec(limitParams); err != nil {
				return err
			}
			return r.skipVec(limitResults)
		})
	case 2:
		return r.each(limitImports, func() error {
			_, _, err := r.importEntry()
			return err
		})
	case 3:
		_, err := r.count(limitFunctions)
		return err
	case 4:
		_, err := r.count(limitTables)
		return err
	case 5:
		_, err := r.count(limitMemories)
		return err
	case 6:
		_, err := r.count(limitGlobals)
		return err
	case 7:
		return r.each(limitExports, func() error {
			if _, err := r.name(); err != nil {
				return err
			}
			if _, err := r.byte(); err != nil {
				return err
			}
			_, err := r.u32()
			return err
		})
	case 9:
		return r.each(limitElements, r.skipElementSegment)
	case 10:
		return r.each(limitFunctions, func() error {
			size, err := r.u32()
			if err != nil {
				return err
			}
			body, err := r.bytes(int(size))
			if err != nil {
				return err
			}
			return checkLocals(&reader{b: body})
		})
	case 11:
		return r.each(limitDataSegments, func() error {
			flag, err := r.u32()
			if err != nil {
				return err
			}
			switch flag {
			case 0:
				err = r.skipConstExpr()
			case 1:
			case 2:
				if _, err = r.u32(); err == nil {
					err = r.skipConstExpr()
				}
			default:
				err = fmt.Errorf("unknown data segment flag %d", flag)
			}
			if err != nil {
				return err
			}
			n, err := r.u32()
			if err != nil {
				return err
			}
			_, err = r.bytes(int(n))
			return err
		})
	}
	return nil
}

// checkLocals bounds a function body's local declarations: each run-length count is a vector wazero expands.
func checkLocals(r *reader) error {
	n, err := r.count(limitLocals)
	if err != nil {
		return err
	}
	var sum uint64
	for i := uint32(0); i < n; i++ {
		c, err := r.u32()
		if err != nil {
			return err
		}
		if sum += uint64(c); sum > limitLocals {
			return fmt.Errorf("a function declares more than %d locals", limitLocals)
		}
		if _, err := r.byte(); err != nil {
			return err
		}
	}
	return nil
}

// checkCustom bounds the vectors of the name section, which wazero decodes (subsections 1, function names, and 2,
// local names); other custom sections it keeps as bytes.
func checkCustom(r *reader) error {
	name, err := r.name()
	if err != nil || name != "name" {
		return err
	}
	for r.off < len(r.b) {
		id, err := r.byte()
		if err != nil {
			return err
		}
		size, err := r.u32()
		if err != nil {
			return err
		}
		body, err := r.bytes(int(size))
		if err != nil {
			return err
		}
		sub := &reader{b: body}
		switch id {
		case 1:
			err = sub.nameMap()
		case 2:
			err = sub.each(limitFunctions, func() error {
				if _, err := sub.u32(); err != nil {
					return err
				}
				return sub.nameMap()
			})
		}
		if err != nil {
			return fmt.Errorf("name subsection %d: %w", id, err)
		}
	}
	return nil
}

// nameMap skips a vector of (index, name).
func (r *reader) nameMap() error {
	return r.each(limitFunctions, func() error {
		if _, err := r.u32(); err != nil {
			return err
		}
		_, err := r.name()
		return err
	})
}

// count reads a vector's count and checks it against limit and against the bytes left: every entry takes at
// least one.
func (r *reader) count(limit uint32) (uint32, error) {
	n, err := r.u32()
	if err != nil {
		return 0, err
	}
	if n > limit {
		return 0, fmt.Errorf("%d entries, over the limit of %d", n, limit)
	}
	if uint64(n) > uint64(len(r.b)-r.off) {
		return 0, fmt.Errorf("%d entries in %d bytes", n, len(r.b)-r.off)
	}
	return n, nil
}

// each reads a vector's count, checked by count, then calls entry for every entry.
func (r *reader) each(limit uint32, entry func() error) error {
	n, err := r.count(limit)
	if err != nil {
		return err
	}
	for i := uint32(0); i < n; i++ {
		if err := entry(); err != nil {
			return err
		}
	}
	return nil
}

// skipVec skips a vector of one-byte entries.
func (r *reader) skipVec(limit uint32) error {
	n, err := r.count(limit)
	if err != nil {
		return err
	}
	_, err = r.bytes(int(n))
	return err
}

func (r *reader) bytes(n int) ([]byte, error) {
	if n < 0 || n > len(r.b)-r.off {
		return nil, errTruncated
	}
	b := r.b[r.off : r.off+n]
	r.off += n
	return b, nil
}

// skipConstExpr skips a constant expression of Wasm 2.0 up to its end.
func (r *reader) skipConstExpr() error {
	for {
		op, err := r.byte()
		if err != nil {
			return err
		}
		switch op {
		case 0x0b: // end
			return nil
		case 0x41, 0x23, 0xd2: // i32.const, global.get, ref.func
			_, err = r.uleb(64)
		case 0x42: // i64.const
			_, err = r.uleb(70)
		case 0x43:
			_, err = r.bytes(4)
		case 0x44:
			_, err = r.bytes(8)
		case 0xd0: // ref.null t
			_, err = r.byte()
		case 0xfd: // v128.const
			var sub uint32
			if sub, err = r.u32(); err == nil && sub == 12 {
				_, err = r.bytes(16)
			} else if err == nil {
				err = fmt.Errorf("unexpected operator 0xfd %d in a constant expression", sub)
			}
		default:
			err = fmt.Errorf("unexpected operator 0x%02x in a constant expression", op)
		}
		if err != nil {
			return err
		}
	}
}

// skipElementSegment skips one element segment, bounding its vector.
func (r *reader) skipElementSegment() error {
	flags, err := r.u32()
	if err != nil {
		return err
	}
	if flags > 7 {
		return fmt.Errorf("unknown element segment flags %d", flags)
	}
	if flags&1 == 0 { // active
		if flags&2 != 0 {
			if _, err := r.u32(); err != nil { // table index
				return err
			}
		}
		if err := r.skipConstExpr(); err != nil {
			return err
		}
	}
	if flags&3 != 0 { // an elemkind (flags 1–3) or a reftype (5–7) follows
		if _, err := r.byte(); err != nil {
			return err
		}
	}
	if flags&4 == 0 {
		return r.each(limitElements, func() error { _, err := r.u32(); return err })
	}
	return r.each(limitElements, r.skipConstExpr)
}
