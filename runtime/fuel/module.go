package fuel

import (
	"bytes"
	"errors"
	"fmt"
)

// Section ids of the binary format.
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
)

// sectionOrder ranks the non-custom sections in the order the format requires (DataCount sits before Code).
var sectionOrder = [...]int{
	secType: 1, secImport: 2, secFunction: 3, secTable: 4, secMemory: 5, secGlobal: 6, secExport: 7,
	secStart: 8, secElement: 9, secDataCount: 10, secCode: 11, secData: 12,
}

var sectionNames = [...]string{
	"custom", "type", "import", "function", "table", "memory", "global", "export", "start", "element", "code",
	"data", "datacount",
}

// Export kinds.
const (
	kindFunc   = 0
	kindTable  = 1
	kindMemory = 2
	kindGlobal = 3
)

// Value types.
const (
	valI32       = 0x7f
	valI64       = 0x7e
	valF32       = 0x7d
	valF64       = 0x7c
	valV128      = 0x7b
	valFuncref   = 0x70
	valExternref = 0x6f
)

// valTypeErr is the error for a byte that is not a Wasm 2.0 value type: the GC and typed-reference types some
// engines accept (0x60–0x74: (ref ht), (ref null ht), exnref, anyref…) are unsupported, anything else malformed.
func valTypeErr(r *reader, t byte, what string) error {
	if t >= 0x60 && t <= 0x74 {
		return r.fail(ErrUnsupported, "%s: value type %#x (typed or GC references)", what, t)
	}
	return r.fail(ErrMalformed, "%s: value type %#x", what, t)
}

func isValType(b byte) bool {
	switch b {
	case valI32, valI64, valF32, valF64, valV128, valFuncref, valExternref:
		return true
	}
	return false
}

var wasmHeader = []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}

// Section is one section of a module, kept as the exact bytes it was read from.
type Section struct {
	// ID is the section id (0 for custom sections).
	ID byte
	// Name is a custom section's name; empty for the others.
	Name string
	// Raw is the whole section: id, size and payload, byte for byte.
	Raw []byte
	// Offset is where Raw starts in the module.
	Offset int

	payload int // index in Raw where the payload starts
}

// Payload returns the section's content after its id and size.
func (s *Section) Payload() []byte { return s.Raw[s.payload:] }

// Export is one entry of the export section.
type Export struct {
	Name  string
	Kind  byte
	Index uint32
}

type funcType struct {
	params  uint32
	results []byte
}

// body is one entry of the code section, as offsets into the code section's payload.
type body struct {
	start     int    // first byte of the locals vector
	exprStart int    // first instruction
	end       int    // one past the final end
	localDecl int    // number of local declarations (entries, not locals)
	locals    uint64 // total locals declared
}

// Module is a decoded module: every section as the bytes it was read from, plus what instrumentation needs to
// know about types, imports, exports and function bodies. Encode writes the sections back unchanged.
type Module struct {
	Sections []Section

	types          []funcType
	importedFuncs  uint32
	importedGlobal uint32
	funcTypes      []uint32 // type index per defined function
	globals        uint32   // defined globals
	exports        []Export
	bodies         []body
	hasStart       bool
	start          uint32
}

// Exports returns the module's exports in section order.
func (m *Module) Exports() []Export { return m.exports }

// NumFunctions returns the number of functions the module defines (imports excluded).
func (m *Module) NumFunctions() int { return len(m.funcTypes) }

// HasStart reports whether the module has a start section.
func (m *Module) HasStart() bool { return m.hasStart }

// Encode writes the module. For a decoded module it returns exactly the input bytes.
func (m *Module) Encode() []byte {
	n := len(wasmHeader)
	for i := range m.Sections {
		n += len(m.Sections[i].Raw)
	}
	out := make([]byte, 0, n)
	out = append(out, wasmHeader...)
	for i := range m.Sections {
		out = append(out, m.Sections[i].Raw...)
	}
	return out
}

// section returns the first section with the id, or nil.
func (m *Module) section(id byte) *Section {
	for i := range m.Sections {
		if m.Sections[i].ID == id && id != secCustom {
			return &m.Sections[i]
		}
	}
	return nil
}

// Decode parses a module's sections and checks the structure of everything the rewriter reads: types, imports,
// functions, exports, and every function body down to each instruction's immediates. It does not validate types
// (a compiler does that); it guarantees that a later Instrument of the same bytes sees well-formed input.
func Decode(wasm []byte) (*Module, error) {
	m, err := decode(wasm)
	if err != nil {
		return nil, err
	}
	code := m.section(secCode)
	var costs Costs // a zero table: scanning only
	var sc scanner
	for i := range m.bodies {
		b := &m.bodies[i]
		r := reader{b: code.Payload()[b.exprStart:b.end], base: code.Offset + code.payload + b.exprStart}
		if err := sc.scan(&r, &costs, m, uint64(m.types[m.funcTypes[i]].params)+b.locals); err != nil {
			return nil, wrapErr(err, "code", i)
		}
	}
	return m, nil
}

func wrapErr(err error, section string, fn int) error {
	var pe posError
	if errors.As(err, &pe) {
		return &Error{Offset: pe.off, Section: section, Func: fn, Err: pe.err}
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Section: section, Func: fn, Err: err}
}

// decode parses the module structure, without scanning instructions.
func decode(wasm []byte) (*Module, error) {
	if len(wasm) < len(wasmHeader) || !bytes.Equal(wasm[:len(wasmHeader)], wasmHeader) {
		return nil, &Error{Func: -1, Err: ErrNotWasm}
	}
	m := &Module{}
	r := reader{b: wasm, off: len(wasmHeader)}
	lastOrder := 0
	for r.remaining() > 0 {
		start := r.off
		id, _ := r.byte()
		size, err := r.u32()
		if err != nil {
			return nil, wrapErr(err, "", -1)
		}
		payloadAt := r.off
		payload, err := r.bytes(int(size))
		if err != nil {
			return nil, wrapErr(err, "", -1)
		}
		if int(id) >= len(sectionNames) {
			return nil, &Error{Offset: start, Func: -1, Err: fmt.Errorf("section id %d: %w", id, ErrUnsupported)}
		}
		s := Section{ID: id, Raw: wasm[start:r.off:r.off], Offset: start, payload: payloadAt - start}
		pr := reader{b: payload, base: payloadAt}
		if id == secCustom {
			if s.Name, err = pr.name(); err != nil {
				return nil, wrapErr(err, "custom", -1)
			}
		} else {
			o := sectionOrder[id]
			if o <= lastOrder {
				return nil, &Error{Offset: start, Section: sectionNames[id], Func: -1,
					Err: fmt.Errorf("%w: section out of order or repeated", ErrMalformed)}
			}
			lastOrder = o
			if err := m.decodeSection(id, &pr, payloadAt); err != nil {
				return nil, wrapErr(err, sectionNames[id], -1)
			}
		}
		m.Sections = append(m.Sections, s)
	}
	if len(m.bodies) != len(m.funcTypes) {
		return nil, &Error{Offset: len(wasm), Func: -1, Err: fmt.Errorf("%w: %d functions declared, %d bodies",
			ErrMalformed, len(m.funcTypes), len(m.bodies))}
	}
	return m, nil
}

func (m *Module) decodeSection(id byte, r *reader, payloadAt int) error {
	var err error
	switch id {
	case secType:
		err = m.decodeTypes(r)
	case secImport:
		err = m.decodeImports(r)
	case secFunction:
		var n int
		if n, err = r.count(1, "function"); err != nil {
			return err
		}
		m.funcTypes = make([]uint32, n)
		for i := range m.funcTypes {
			if m.funcTypes[i], err = r.u32(); err != nil {
				return err
			}
			if int(m.funcTypes[i]) >= len(m.types) {
				return r.fail(ErrMalformed, "function %d: type index %d out of range", i, m.funcTypes[i])
			}
		}
	case secMemory:
		var n int
		if n, err = r.count(2, "memory"); err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if err = readLimits(r, true); err != nil {
				return err
			}
		}
	case secGlobal:
		// The entries are copied; they are read for their number (it fixes the appended globals' index) and to
		// check their initialisers.
		var n int
		if n, err = r.count(4, "global"); err != nil {
			return err
		}
		m.globals = uint32(n)
		for i := 0; i < n && err == nil; i++ {
			var t byte
			if t, err = r.byte(); err == nil && !isValType(t) {
				return valTypeErr(r, t, fmt.Sprintf("global %d", i))
			}
			if _, err = r.byte(); err == nil {
				err = m.constExpr(r)
			}
		}
	case secElement:
		err = m.decodeElements(r)
	case secData:
		err = m.decodeData(r)
	case secExport:
		err = m.decodeExports(r)
	case secStart:
		m.hasStart = true
		m.start, err = r.u32()
	case secCode:
		err = m.decodeCode(r)
	default: // table, datacount: copied as they are
		r.off = len(r.b)
	}
	if err != nil {
		return err
	}
	if r.remaining() != 0 {
		return r.fail(ErrMalformed, "%d bytes past the section's content", r.remaining())
	}
	return nil
}

func (m *Module) decodeTypes(r *reader) error {
	n, err := r.count(3, "type")
	if err != nil {
		return err
	}
	m.types = make([]funcType, n)
	for i := range m.types {
		form, err := r.byte()
		if err != nil {
			return err
		}
		if form != 0x60 {
			return r.fail(ErrUnsupported, "type %d: form %#x", i, form)
		}
		np, err := r.count(1, "param")
		if err != nil {
			return err
		}
		if err := readValTypes(r, np); err != nil {
			return err
		}
		nr, err := r.count(1, "result")
		if err != nil {
			return err
		}
		at := r.off
		if err := readValTypes(r, nr); err != nil {
			return err
		}
		m.types[i] = funcType{params: uint32(np), results: r.b[at:r.off:r.off]}
	}
	return nil
}

func readValTypes(r *reader, n int) error {
	for j := 0; j < n; j++ {
		t, err := r.byte()
		if err != nil {
			return err
		}
		if !isValType(t) {
			return valTypeErr(r, t, "type")
		}
	}
	return nil
}

// readLimits reads table or memory limits. Memory64 (flag bit 2) is refused: bulk-memory operands would be i64.
func readLimits(r *reader, memory bool) error {
	flag, err := r.byte()
	if err != nil {
		return err
	}
	switch {
	case flag&^3 != 0 && memory:
		return r.fail(ErrUnsupported, "memory limits flag %#x (memory64)", flag)
	case flag > 1 && !memory:
		return r.fail(ErrMalformed, "table limits flag %#x", flag)
	}
	if _, err := r.u32(); err != nil {
		return err
	}
	if flag&1 != 0 {
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	return nil
}

func (m *Module) decodeImports(r *reader) error {
	n, err := r.count(4, "import")
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if _, err := r.name(); err != nil {
			return err
		}
		if _, err := r.name(); err != nil {
			return err
		}
		kind, err := r.byte()
		if err != nil {
			return err
		}
		switch kind {
		case kindFunc:
			t, err := r.u32()
			if err != nil {
				return err
			}
			if int(t) >= len(m.types) {
				return r.fail(ErrMalformed, "import %d: type index %d out of range", i, t)
			}
			m.importedFuncs++
		case kindTable:
			t, err := r.byte()
			if err != nil {
				return err
			}
			if t != valFuncref && t != valExternref {
				return r.fail(ErrMalformed, "import %d: table element type %#x", i, t)
			}
			if err := readLimits(r, false); err != nil {
				return err
			}
		case kindMemory:
			if err := readLimits(r, true); err != nil {
				return err
			}
		case kindGlobal:
			t, err := r.byte()
			if err != nil {
				return err
			}
			if !isValType(t) {
				return valTypeErr(r, t, fmt.Sprintf("import %d", i))
			}
			if mut, err := r.byte(); err != nil {
				return err
			} else if mut > 1 {
				return r.fail(ErrMalformed, "import %d: global mutability %#x", i, mut)
			}
			m.importedGlobal++
		default:
			return r.fail(ErrUnsupported, "import %d: kind %#x", i, kind)
		}
	}
	return nil
}

func (m *Module) decodeExports(r *reader) error {
	n, err := r.count(3, "export")
	if err != nil {
		return err
	}
	m.exports = make([]Export, n)
	for i := range m.exports {
		e := &m.exports[i]
		if e.Name, err = r.name(); err != nil {
			return err
		}
		if e.Kind, err = r.byte(); err != nil {
			return err
		}
		if e.Kind > kindGlobal {
			return r.fail(ErrUnsupported, "export %d: kind %#x", i, e.Kind)
		}
		if e.Index, err = r.u32(); err != nil {
			return err
		}
		if e.Kind == kindGlobal && uint64(e.Index) >= uint64(m.importedGlobal)+uint64(m.globals) {
			return r.fail(ErrMalformed, "export %q: global index %d out of range", e.Name, e.Index)
		}
	}
	return nil
}

// maxLocals bounds the locals of one function so that the appended scratch locals have valid indices.
const maxLocals = 1<<32 - 16

func (m *Module) decodeCode(r *reader) error {
	n, err := r.count(2, "code")
	if err != nil {
		return err
	}
	if n != len(m.funcTypes) {
		return r.fail(ErrMalformed, "%d bodies for %d functions", n, len(m.funcTypes))
	}
	m.bodies = make([]body, n)
	for i := range m.bodies {
		size, err := r.u32()
		if err != nil {
			return err
		}
		b := &m.bodies[i]
		b.start = r.off
		if int(size) > r.remaining() {
			return r.fail(ErrTruncated, "func %d: body of %d bytes, %d left", i, size, r.remaining())
		}
		br := reader{b: r.b[:r.off+int(size)], off: r.off, base: r.base}
		decls, err := br.count(2, "local declaration")
		if err != nil {
			return err
		}
		b.localDecl = decls
		for j := 0; j < decls; j++ {
			k, err := br.u32()
			if err != nil {
				return err
			}
			t, err := br.byte()
			if err != nil {
				return err
			}
			if !isValType(t) {
				return valTypeErr(&br, t, fmt.Sprintf("func %d: local", i))
			}
			b.locals += uint64(k)
		}
		if uint64(m.types[m.funcTypes[i]].params)+b.locals > maxLocals {
			return br.fail(ErrLimit, "func %d: %d locals", i, b.locals)
		}
		b.exprStart = br.off
		b.end = len(br.b)
		if b.end == b.exprStart {
			return br.fail(ErrTruncated, "func %d: empty body", i)
		}
		r.off = b.end
	}
	return nil
}

// constExpr reads a constant expression up to its end. A global.get must name one of the module's own globals:
// past them are the appended fuel globals, which the module must not read.
func (m *Module) constExpr(r *reader) error {
	for {
		op, err := r.byte()
		if err != nil {
			return err
		}
		switch op {
		case opEnd:
			return nil
		case opI32Const:
			_, err = r.signed(32)
		case opI64Const:
			_, err = r.signed(64)
		case opF32Const:
			_, err = r.bytes(4)
		case opF64Const:
			_, err = r.bytes(8)
		case opRefNull:
			_, err = r.byte()
		case opRefFunc:
			_, err = r.u32()
		case opGlobalGet:
			var x uint32
			if x, err = r.u32(); err == nil && uint64(x) >= uint64(m.importedGlobal)+uint64(m.globals) {
				return r.fail(ErrMalformed, "constant expression reads global %d", x)
			}
		case 0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e: // extended-const add, sub, mul
		case opPrefixSIMD:
			var sub uint32
			if sub, err = r.u32(); err == nil {
				if sub != 12 {
					return r.fail(ErrMalformed, "0xfd %d in a constant expression", sub)
				}
				_, err = r.bytes(16)
			}
		default:
			return r.fail(ErrMalformed, "opcode %#x in a constant expression", op)
		}
		if err != nil {
			return err
		}
	}
}

func (m *Module) decodeElements(r *reader) error {
	n, err := r.count(2, "element segment")
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		flag, err := r.u32()
		if err != nil {
			return err
		}
		if flag > 7 {
			return r.fail(ErrMalformed, "element segment %d: flag %d", i, flag)
		}
		if flag&3 == 2 { // explicit table index
			if _, err := r.u32(); err != nil {
				return err
			}
		}
		if flag&1 == 0 { // active: offset
			if err := m.constExpr(r); err != nil {
				return err
			}
		}
		if flag&3 != 0 { // elemkind or reftype
			if _, err := r.byte(); err != nil {
				return err
			}
		}
		k, err := r.count(1, "element")
		if err != nil {
			return err
		}
		for j := 0; j < k; j++ {
			if flag&4 != 0 {
				err = m.constExpr(r)
			} else {
				_, err = r.u32()
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *Module) decodeData(r *reader) error {
	n, err := r.count(1, "data segment")
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		flag, err := r.u32()
		if err != nil {
			return err
		}
		switch flag {
		case 0:
			err = m.constExpr(r)
		case 1:
		case 2:
			if _, err = r.u32(); err == nil {
				err = m.constExpr(r)
			}
		default:
			return r.fail(ErrMalformed, "data segment %d: flag %d", i, flag)
		}
		if err != nil {
			return err
		}
		size, err := r.u32()
		if err != nil {
			return err
		}
		if _, err := r.bytes(int(size)); err != nil {
			return err
		}
	}
	return nil
}
