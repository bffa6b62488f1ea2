package fuel

// Opcodes the scanner and the emitter name.
const (
	opUnreachable  = 0x00
	opNop          = 0x01
	opBlock        = 0x02
	opLoop         = 0x03
	opIf           = 0x04
	opElse         = 0x05
	opEnd          = 0x0b
	opBr           = 0x0c
	opBrIf         = 0x0d
	opBrTable      = 0x0e
	opReturn       = 0x0f
	opCall         = 0x10
	opCallIndirect = 0x11
	opDrop         = 0x1a
	opSelect       = 0x1b
	opSelectT      = 0x1c
	opLocalGet     = 0x20
	opLocalSet     = 0x21
	opLocalTee     = 0x22
	opGlobalGet    = 0x23
	opGlobalSet    = 0x24
	opTableGet     = 0x25
	opTableSet     = 0x26
	opMemorySize   = 0x3f
	opMemoryGrow   = 0x40
	opI32Const     = 0x41
	opI64Const     = 0x42
	opF32Const     = 0x43
	opF64Const     = 0x44
	opI32GtU       = 0x4b
	opI64LtS       = 0x53
	opI32Add       = 0x6a
	opI32Sub       = 0x6b
	opI64Sub       = 0x7d
	opI64Mul       = 0x7e
	opI64ShrU      = 0x88
	opI64ExtendU   = 0xad
	opRefNull      = 0xd0
	opRefIsNull    = 0xd1
	opRefFunc      = 0xd2
	opPrefixMisc   = 0xfc
	opPrefixSIMD   = 0xfd
	blockTypeEmpty = 0x40
)

// 0xFC sub-opcodes with dynamic charges.
const (
	miscMemoryInit = 8
	miscMemoryCopy = 10
	miscMemoryFill = 11
	miscTableInit  = 12
	miscTableCopy  = 14
	miscTableGrow  = 15
	miscTableFill  = 17
	miscLast       = 17
)

// maxNesting bounds the control nesting of one function. Real compilers stay in the low thousands.
const maxNesting = 1 << 16

// kind is what the metering planner needs to know about an instruction.
type kind uint8

const (
	kOther kind = iota
	kBlock
	kLoop
	kIf
	kElse
	kEnd
	kBr
	kBrIf
	kBrTable
	kReturn
	kCall      // call, call_indirect
	kMemBulk   // memory.fill/copy/init: the byte count is on top of the stack
	kTableBulk // table.fill/copy/init: the element count is on top of the stack
	kMemGrow   // memory.grow: the page delta is on top of the stack
	kTableGrow // table.grow: the element delta is on top of the stack
)

// instr is one scanned instruction. Offsets are into the function's expression.
type instr struct {
	pos, end uint32
	cost     uint32
	label    uint32 // br, br_if: the label; br_table: index of its first label in scanner.labels
	nlabels  uint32 // br_table: label count including the default
	kind     kind
	dead     bool // unreachable code: after br, br_table, return or unreachable up to the frame's end or else
}

type frame struct {
	op      byte // opBlock, opLoop, opIf, or 0 for the function
	hasElse bool
	live    bool // reachable on entry
	deadNow bool // the rest of the frame is unreachable
}

// scanner turns a function expression into instructions. Its slices are reused across functions.
type scanner struct {
	instrs []instr
	labels []uint32
	ctl    []frame
}

// scan reads one expression (ending at the function's final end) and records each instruction with its cost
// under costs. r must hold exactly the expression; locals is the function's parameter and local count.
//
// Beyond structure it checks the indices that instrumentation would otherwise make valid: a local past the
// function's own (the scratch locals follow), a global past the module's own (the fuel globals follow), a type
// past the module's own (a depth wrapper's type may follow). Without these checks an invalid module could become
// a valid one that writes its own fuel.
func (s *scanner) scan(r *reader, costs *Costs, m *Module, locals uint64) error {
	s.instrs = s.instrs[:0]
	s.labels = s.labels[:0]
	s.ctl = append(s.ctl[:0], frame{live: true})
	for r.remaining() > 0 {
		if len(s.ctl) == 0 {
			return r.fail(ErrMalformed, "%d bytes after the function's end", r.remaining())
		}
		top := &s.ctl[len(s.ctl)-1]
		in := instr{pos: uint32(r.off), dead: top.deadNow}
		op, _ := r.byte()
		in.cost = costs.Operator[op]
		switch {
		case op == opUnreachable:
			top.deadNow = true
		case op == opNop, op == opDrop, op == opSelect, op == opRefIsNull,
			op >= 0x45 && op <= 0xc4: // numeric, conversions, sign extension: no immediates
		case op == opBlock || op == opLoop || op == opIf:
			if err := s.blockType(r, m); err != nil {
				return err
			}
			if len(s.ctl) >= maxNesting {
				return r.fail(ErrLimit, "control nesting deeper than %d", maxNesting)
			}
			in.kind = kBlock
			if op == opLoop {
				in.kind = kLoop
			} else if op == opIf {
				in.kind = kIf
			}
			s.ctl = append(s.ctl, frame{op: op, live: !top.deadNow})
		case op == opElse:
			if top.op != opIf || top.hasElse {
				return r.fail(ErrMalformed, "else outside if")
			}
			top.hasElse = true
			top.deadNow = !top.live
			in.kind = kElse
			in.dead = !top.live
		case op == opEnd:
			in.kind = kEnd
			in.dead = !top.live
			live := top.live
			s.ctl = s.ctl[:len(s.ctl)-1]
			if n := len(s.ctl); n > 0 {
				s.ctl[n-1].deadNow = !live
			}
		case op == opBr || op == opBrIf:
			l, err := s.label(r)
			if err != nil {
				return err
			}
			in.label = l
			in.kind = kBr
			if op == opBrIf {
				in.kind = kBrIf
			} else {
				top.deadNow = true
			}
		case op == opBrTable:
			n, err := r.count(1, "br_table label")
			if err != nil {
				return err
			}
			in.label = uint32(len(s.labels))
			in.nlabels = uint32(n) + 1
			for i := 0; i <= n; i++ {
				l, err := s.label(r)
				if err != nil {
					return err
				}
				s.labels = append(s.labels, l)
			}
			in.kind = kBrTable
			top.deadNow = true
		case op == opReturn:
			in.kind = kReturn
			top.deadNow = true
		case op == opCall:
			if _, err := r.u32(); err != nil {
				return err
			}
			in.kind = kCall
		case op == opLocalGet, op == opLocalSet, op == opLocalTee:
			x, err := r.u32()
			if err != nil {
				return err
			}
			if uint64(x) >= locals {
				return r.fail(ErrMalformed, "local index %d with %d locals", x, locals)
			}
		case op == opGlobalGet, op == opGlobalSet:
			x, err := r.u32()
			if err != nil {
				return err
			}
			if n := uint64(m.importedGlobal) + uint64(m.globals); uint64(x) >= n {
				return r.fail(ErrMalformed, "global index %d with %d globals", x, n)
			}
		case op == opTableGet, op == opTableSet, op == opRefFunc:
			if _, err := r.u32(); err != nil {
				return err
			}
		case op == opCallIndirect:
			if x, err := r.u32(); err != nil {
				return err
			} else if int64(x) >= int64(len(m.types)) {
				return r.fail(ErrMalformed, "call_indirect type %d", x)
			}
			if _, err := r.u32(); err != nil { // table
				return err
			}
			in.kind = kCall
		case op == opSelectT:
			n, err := r.count(1, "select type")
			if err != nil {
				return err
			}
			if n != 1 {
				return r.fail(ErrMalformed, "select with %d types", n)
			}
			if err := readValTypes(r, n); err != nil {
				return err
			}
		case op >= 0x28 && op <= 0x3e: // loads and stores
			if err := memarg(r); err != nil {
				return err
			}
		case op == opMemorySize || op == opMemoryGrow:
			if _, err := r.u32(); err != nil { // memory index, 0x00 in Wasm 2.0
				return err
			}
			if op == opMemoryGrow {
				in.kind = kMemGrow
			}
		case op == opI32Const:
			if _, err := r.signed(32); err != nil {
				return err
			}
		case op == opI64Const:
			if _, err := r.signed(64); err != nil {
				return err
			}
		case op == opF32Const:
			if _, err := r.bytes(4); err != nil {
				return err
			}
		case op == opF64Const:
			if _, err := r.bytes(8); err != nil {
				return err
			}
		case op == opRefNull:
			t, err := r.byte()
			if err != nil {
				return err
			}
			if t != valFuncref && t != valExternref {
				return r.fail(ErrMalformed, "ref.null type %#x", t)
			}
		case op == opPrefixMisc:
			k, cost, err := s.misc(r, costs)
			if err != nil {
				return err
			}
			in.kind, in.cost = k, cost
		case op == opPrefixSIMD:
			if err := simd(r); err != nil {
				return err
			}
			in.cost = costs.SIMD
		case op == 0x12 || op == 0x13:
			return posError{r.pos() - 1, errorf(ErrUnsupported, "opcode %#x (tail calls)", op)}
		case op == 0x06 || op == 0x07 || op == 0x08 || op == 0x09 || op == 0x18 || op == 0x19:
			return posError{r.pos() - 1, errorf(ErrUnsupported, "opcode %#x (exception handling)", op)}
		case op == 0xfe:
			return posError{r.pos() - 1, errorf(ErrUnsupported, "opcode %#x (threads)", op)}
		default:
			return posError{r.pos() - 1, errorf(ErrUnknownOpcode, "%#x", op)}
		}
		in.end = uint32(r.off)
		s.instrs = append(s.instrs, in)
	}
	if len(s.ctl) != 0 {
		return r.fail(ErrTruncated, "function ends inside %d open blocks", len(s.ctl))
	}
	return nil
}

func (s *scanner) label(r *reader) (uint32, error) {
	l, err := r.u32()
	if err != nil {
		return 0, err
	}
	if int64(l) >= int64(len(s.ctl)) {
		return 0, r.fail(ErrMalformed, "branch depth %d with %d labels", l, len(s.ctl))
	}
	return l, nil
}

func (s *scanner) blockType(r *reader, m *Module) error {
	if r.remaining() == 0 {
		return r.fail(ErrTruncated, "block type")
	}
	if b := r.b[r.off]; b == blockTypeEmpty || isValType(b) {
		r.off++
		return nil
	} else if b >= 0x60 && b <= 0x74 {
		return valTypeErr(r, b, "block type")
	}
	t, err := r.signed(33)
	if err != nil {
		return err
	}
	if t < 0 || t >= int64(len(m.types)) {
		return r.fail(ErrMalformed, "block type %d", t)
	}
	return nil
}

func memarg(r *reader) error {
	align, err := r.u32()
	if err != nil {
		return err
	}
	if align&0x40 != 0 { // multi-memory: a memory index follows
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	_, err = r.u32()
	return err
}

func (s *scanner) misc(r *reader, costs *Costs) (kind, uint32, error) {
	sub, err := r.u32()
	if err != nil {
		return 0, 0, err
	}
	if sub > miscLast {
		return 0, 0, posError{r.pos(), errorf(ErrUnknownOpcode, "0xfc %d", sub)}
	}
	k := kOther
	var imms int // u32 immediates
	switch sub {
	case miscMemoryInit: // data index, memory index
		imms, k = 2, kMemBulk
	case 9, 13, 16: // data.drop, elem.drop, table.size
		imms = 1
	case miscMemoryCopy:
		imms, k = 2, kMemBulk
	case miscMemoryFill:
		imms, k = 1, kMemBulk
	case miscTableInit, miscTableCopy:
		imms, k = 2, kTableBulk
	case miscTableGrow:
		imms, k = 1, kTableGrow
	case miscTableFill:
		imms, k = 1, kTableBulk
	}
	for i := 0; i < imms; i++ {
		if _, err := r.u32(); err != nil {
			return 0, 0, err
		}
	}
	return k, costs.Misc[sub], nil
}

// simd skips the immediates of a 0xFD-prefixed operator. The sub-opcode is a u32 LEB128 in the spec, but wazero
// reads it as one byte, so that fd 80 01 (i16x8.abs) is to wazero i16x8.abs followed by 01, a nop. Every
// encoding both readers take the same way is accepted: one byte below 0x80, or a byte from 0x80 and 01. A padded
// encoding (fd 9e 00 for 30) would be a different instruction to each, hiding code from the metering, and is
// refused.
func simd(r *reader) error {
	b, err := r.byte()
	if err != nil {
		return err
	}
	sub := uint32(b)
	if b >= 0x80 {
		next, err := r.byte()
		if err != nil {
			return err
		}
		if next != 0x01 {
			return posError{r.pos() - 2, errorf(ErrUnsupported, "0xfd sub-opcode encoded %#x %#x (relaxed simd, or padded)", b, next)}
		}
	}
	switch {
	case sub <= 11 || sub == 92 || sub == 93: // loads, stores, load_zero: memarg
		return memarg(r)
	case sub == 12 || sub == 13: // v128.const, i8x16.shuffle: 16 bytes
		_, err = r.bytes(16)
		return err
	case sub >= 21 && sub <= 34: // extract_lane, replace_lane: lane index
		_, err = r.byte()
		return err
	case sub >= 84 && sub <= 91: // load_lane, store_lane: memarg, lane index
		if err := memarg(r); err != nil {
			return err
		}
		_, err = r.byte()
		return err
	}
	return nil // the rest of the 2.0 SIMD space has no immediates
}
