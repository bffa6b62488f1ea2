package fuel

import (
	"bytes"
	"fmt"
	"math"
)

// Names of the globals that Instrument appends and exports.
const (
	// GlobalFuel is the exported mutable i64 global holding the remaining fuel, a signed number: the host writes
	// the budget (at most math.MaxInt64, which means unlimited) and a negative value after a call means it ran out
	// of fuel.
	GlobalFuel = "toolgate_fuel"
	// GlobalExhausted is the exported mutable i32 global that says why the guest trapped on purpose:
	// ExhaustedFuel or ExhaustedDepth; it stays 0 for the guest's own traps.
	GlobalExhausted = "toolgate_fuel_exhausted"
	// ExportStart is the export name of the start function under Options.DeferStart.
	ExportStart = "toolgate_start"
	// GlobalDepth is the exported mutable i32 global counting active calls under Options.MaxCallDepth. A trap
	// leaves it where the trap happened: a host that calls an instance again after a trap sets it to 0 first.
	GlobalDepth = "toolgate_call_depth"
)

// Values of GlobalExhausted.
const (
	// ExhaustedFuel means a charge found less fuel than it needed: the call ran out of fuel.
	ExhaustedFuel = 1
	// ExhaustedDepth means a call went deeper than Options.MaxCallDepth.
	ExhaustedDepth = 2
)

// Options configure Instrument. The zero value is usable but charges nothing; start from DefaultOptions.
type Options struct {
	// Costs is the cost model. Zero: every operator is free (only useful in tests).
	Costs Costs
	// InitialFuel is the initial value of GlobalFuel, at most math.MaxInt64: the budget of the module's start
	// function, which runs during instantiation before the host can set a budget. Defaults to 0: a start
	// function that executes any costed operator traps with GlobalExhausted = ExhaustedFuel.
	InitialFuel uint64
	// CheckEveryBlock checks the remaining fuel at every charge instead of only at function entries and loop
	// headers. Every charge is paid either way, so the fuel used by a completed call is the same; what changes is
	// where a call that ran out stops: at the first charge that took the fuel below zero, instead of at the next
	// function entry or loop header after it (a loop-free, call-free stretch later). It costs about 15% more on
	// a Go program. Defaults to false.
	CheckEveryBlock bool
	// MaxCallDepth, if not 0, bounds the call depth: a function entered with MaxCallDepth frames already active
	// traps with GlobalExhausted = ExhaustedDepth. The count lives in the exported global GlobalDepth. It makes unbounded recursion fail at the same depth on every
	// engine (wazero's compiler otherwise grows its stack to 400 MB; its interpreter stops at 2,000 frames).
	// Defaults to 0: no bound of its own.
	MaxCallDepth uint32
	// DeferStart removes the start section and exports its function as ExportStart instead, for the host to
	// call right after instantiation, with the call's budget set, before any other export. The order of effects
	// is the same (the spec runs the start function after the element and data segments), but a trap in it is
	// then a call's trap, after which the host can read GlobalExhausted; a start function's trap during
	// instantiation leaves no instance to read it from. Defaults to false: the start function runs during
	// instantiation against InitialFuel.
	DeferStart bool
	// CallsEndBlocks ends a metered block after every call. Without it, a call is charged with the code around
	// it, so when a run ends inside a call that never returns (WASI proc_exit, a host function that aborts),
	// each frame on the stack has pre-paid the rest of its metered block: a few units per frame more than the
	// operators executed (16 units in 94 million for the Go command in the tests). With it, such runs pay exactly what they
	// executed, as wasmtime counts, for one more charge after each call site. Runs that return normally are
	// charged the same either way. Defaults to false.
	CallsEndBlocks bool
}

// DefaultOptions returns DefaultCosts, no initial fuel, and a call depth bound of DefaultMaxCallDepth.
func DefaultOptions() Options {
	return Options{Costs: DefaultCosts(), MaxCallDepth: DefaultMaxCallDepth}
}

// DefaultMaxCallDepth is the call depth bound of DefaultOptions: deep enough for recursive parsers and Go's
// runtime, shallow enough that wazero's compiler stays within a few megabytes of stack. (wazero's interpreter
// stops at 2,000 frames on its own, with a stack overflow trap.)
const DefaultMaxCallDepth = 10000

// Stats describe one instrumentation.
type Stats struct {
	// Functions is the number of function bodies rewritten.
	Functions int
	// Charges is the number of static charges emitted (one per metered block).
	Charges int
	// DynamicCharges is the number of size-dependent charges emitted (bulk memory and table operations, grows).
	DynamicCharges int
	// Checks is the number of places where the remaining fuel is checked (function entries and loop headers;
	// every charge under CheckEveryBlock). Dynamic charges always check and are not counted here.
	Checks int
	// MaxBlockCost is the largest static charge. Under CheckEveryBlock, a call that runs out of fuel on a static
	// charge stops at most MaxBlockCost past its budget.
	MaxBlockCost uint64
	// InputBytes and OutputBytes are the module sizes before and after.
	InputBytes, OutputBytes int
}

// Instrument rewrites a module so that it meters its own execution. It appends two exported globals: GlobalFuel
// (mutable i64, initialised to opts.InitialFuel) and GlobalExhausted (mutable i32, 0). Every function pre-pays
// each metered block's cost from GlobalFuel; at each function entry and loop header (at every charge under
// CheckEveryBlock, and at every dynamic charge) it checks the fuel, and if it is negative sets GlobalExhausted to
// ExhaustedFuel and traps with unreachable. No import is added and no function is renumbered;
// sections other than Global, Export and Code are copied byte for byte, except that Type gains an entry when
// MaxCallDepth needs a block type for a function with several results that no existing type describes, and
// DeferStart drops the Start section.
//
// A valid module always becomes a valid module. Instrument does not type-check, but it refuses the invalid
// modules that appending would make valid: an instruction, constant expression or export naming a local, global
// or type past the module's own, which would reach the appended ones (and could write the fuel). Still, decide
// validity by compiling the original.
//
// Instrument is safe for concurrent use. Besides its output it holds about 24 bytes per instruction of the
// largest function, far less than compiling the module takes.
func Instrument(wasm []byte, opts Options) ([]byte, Stats, error) {
	return instrument(wasm, opts, planMetered)
}

func instrument(wasm []byte, opts Options, plan planFunc) ([]byte, Stats, error) {
	st := Stats{InputBytes: len(wasm)}
	if err := opts.Costs.validate(); err != nil {
		return nil, st, err
	}
	if opts.InitialFuel > math.MaxInt64 {
		return nil, st, fmt.Errorf("%w: InitialFuel %d is above math.MaxInt64", ErrInvalidOptions, opts.InitialFuel)
	}
	m, err := decode(wasm)
	if err != nil {
		return nil, st, err
	}
	for _, e := range m.exports {
		if e.Name == GlobalFuel || e.Name == GlobalExhausted || (e.Name == ExportStart && opts.DeferStart) ||
			(e.Name == GlobalDepth && opts.MaxCallDepth != 0) {
			return nil, st, &Error{Section: "export", Func: -1, Err: fmt.Errorf("%w: %q", ErrNameConflict, e.Name)}
		}
	}
	w := rewriter{m: m, opts: &opts, plan: plan, st: &st}
	w.pl.callsEnd = opts.CallsEndBlocks
	w.fuel = m.importedGlobal + m.globals
	w.exhausted = w.fuel + 1
	w.depth = w.fuel + 2
	if w.fuel > 1<<32-4 {
		return nil, st, &Error{Section: "global", Func: -1, Err: fmt.Errorf("%w: %d globals", ErrLimit, w.fuel)}
	}

	replaced := map[byte][]byte{}
	if sec := m.section(secCode); sec != nil {
		code, err := w.code(sec)
		if err != nil {
			return nil, st, err
		}
		replaced[secCode] = code
	}
	replaced[secGlobal] = w.globalSection()
	replaced[secExport] = w.exportSection()
	if len(w.newTypes) > 0 {
		replaced[secType] = w.typeSection()
	}

	out := make([]byte, 0, len(wasm)+len(wasm)/2+64)
	out = append(out, wasmHeader...)
	emit := func(id byte) {
		out = append(out, id)
		out = appendU32(out, uint32(len(replaced[id])))
		out = append(out, replaced[id]...)
		delete(replaced, id)
	}
	for i := range m.Sections {
		s := &m.Sections[i]
		if s.ID != secCustom {
			// Sections the module lacks go before the first section that must follow them.
			for _, id := range []byte{secType, secGlobal, secExport} {
				if _, ok := replaced[id]; ok && m.section(id) == nil && sectionOrder[id] < sectionOrder[s.ID] {
					emit(id)
				}
			}
		}
		if _, ok := replaced[s.ID]; ok && s.ID != secCustom {
			emit(s.ID)
			continue
		}
		if s.ID == secStart && opts.DeferStart {
			continue
		}
		out = append(out, s.Raw...)
	}
	for _, id := range []byte{secType, secGlobal, secExport} {
		if _, ok := replaced[id]; ok {
			emit(id)
		}
	}
	st.OutputBytes = len(out)
	return out, st, nil
}

// rewriter holds the state of one Instrument call.
type rewriter struct {
	m    *Module
	opts *Options
	plan planFunc
	st   *Stats

	fuel, exhausted, depth uint32 // indices of the appended globals
	newTypes               []funcType
	sc                     scanner
	pl                     planner
	buf                    []byte
}

func (w *rewriter) globalSection() []byte {
	var b []byte
	var old []byte
	if s := w.m.section(secGlobal); s != nil {
		r := reader{b: s.Payload()}
		_, _ = r.u32()
		old = r.b[r.off:]
	}
	n := w.m.globals + 2
	if w.opts.MaxCallDepth != 0 {
		n++
	}
	b = appendU32(b, n)
	b = append(b, old...)
	b = append(b, valI64, 1, opI64Const)
	b = appendS64(b, int64(w.opts.InitialFuel))
	b = append(b, opEnd)
	b = append(b, valI32, 1, opI32Const, 0, opEnd)
	if w.opts.MaxCallDepth != 0 {
		b = append(b, valI32, 1, opI32Const, 0, opEnd)
	}
	return b
}

func (w *rewriter) exportSection() []byte {
	var b []byte
	var old []byte
	if s := w.m.section(secExport); s != nil {
		r := reader{b: s.Payload()}
		_, _ = r.u32()
		old = r.b[r.off:]
	}
	type export struct {
		name string
		kind byte
		idx  uint32
	}
	add := []export{{GlobalFuel, kindGlobal, w.fuel}, {GlobalExhausted, kindGlobal, w.exhausted}}
	if w.opts.MaxCallDepth != 0 {
		add = append(add, export{GlobalDepth, kindGlobal, w.depth})
	}
	if w.opts.DeferStart && w.m.hasStart {
		add = append(add, export{ExportStart, kindFunc, w.m.start})
	}
	b = appendU32(b, uint32(len(w.m.exports)+len(add)))
	b = append(b, old...)
	for _, e := range add {
		b = appendU32(b, uint32(len(e.name)))
		b = append(b, e.name...)
		b = append(b, e.kind)
		b = appendU32(b, e.idx)
	}
	return b
}

func (w *rewriter) typeSection() []byte {
	s := w.m.section(secType)
	r := reader{b: s.Payload()}
	_, _ = r.u32()
	b := appendU32(nil, uint32(len(w.m.types)+len(w.newTypes)))
	b = append(b, r.b[r.off:]...)
	for _, t := range w.newTypes {
		b = append(b, 0x60, 0)
		b = appendU32(b, uint32(len(t.results)))
		b = append(b, t.results...)
	}
	return b
}

// resultBlockType returns the block type of a block producing the function type's results, adding a type
// [] -> results when the module has none.
func (w *rewriter) resultBlockType(b []byte, t funcType) []byte {
	switch len(t.results) {
	case 0:
		return append(b, blockTypeEmpty)
	case 1:
		return append(b, t.results[0])
	}
	for i, u := range w.m.types {
		if u.params == 0 && bytes.Equal(u.results, t.results) {
			return appendS64(b, int64(i))
		}
	}
	for i, u := range w.newTypes {
		if bytes.Equal(u.results, t.results) {
			return appendS64(b, int64(len(w.m.types)+i))
		}
	}
	w.newTypes = append(w.newTypes, funcType{results: t.results})
	return appendS64(b, int64(len(w.m.types)+len(w.newTypes)-1))
}

func (w *rewriter) code(sec *Section) ([]byte, error) {
	payload := sec.Payload()
	base := sec.Offset + sec.payload
	out := make([]byte, 0, len(payload)+len(payload)/2+16)
	out = appendU32(out, uint32(len(w.m.bodies)))
	for i := range w.m.bodies {
		body, err := w.function(i, payload, base)
		if err != nil {
			return nil, wrapErr(err, "code", i)
		}
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	return out, nil
}

// dynamicRate returns the rate of a size-dependent instruction, or a zero Rate.
func (c *Costs) dynamicRate(k kind) Rate {
	switch k {
	case kMemBulk:
		return c.MemoryBytes
	case kMemGrow:
		return c.MemoryPages
	case kTableBulk, kTableGrow:
		return c.TableElements
	}
	return Rate{}
}

// function rewrites body i and returns its new bytes (locals and expression, without the size).
func (w *rewriter) function(i int, payload []byte, base int) ([]byte, error) {
	bd := &w.m.bodies[i]
	costs := &w.opts.Costs
	r := reader{b: payload[bd.exprStart:bd.end], base: base + bd.exprStart}
	ft := w.m.types[w.m.funcTypes[i]]
	if err := w.sc.scan(&r, costs, w.m, uint64(ft.params)+bd.locals); err != nil {
		return nil, err
	}
	ins := w.sc.instrs
	charges := w.plan(&w.pl, ins, w.sc.labels, uint64(costs.FunctionEntry))

	// Scratch locals, after the declared ones: an i32 for a size operand, an i64 for the remaining fuel.
	sc := scratch{n: ft.params + uint32(bd.locals)}
	sc.b = sc.n + 1

	b := w.buf[:0]
	lr := reader{b: payload[bd.start:bd.exprStart]}
	_, _ = lr.u32()
	b = appendU32(b, uint32(bd.localDecl+2))
	b = append(b, lr.b[lr.off:]...)
	b = append(b, 1, valI32, 1, valI64)

	expr := payload[bd.exprStart:bd.end]
	depth := w.opts.MaxCallDepth != 0
	if depth {
		b = w.depthPrologue(b, sc)
		b = append(b, opBlock)
		b = w.resultBlockType(b, ft)
	}
	nesting := 0 // open control blocks inside the function, for rewriting return under MaxCallDepth
	ci := 0
	for j := range ins {
		in := &ins[j]
		// Checks go where every cycle passes, the function entry and each loop header, even without a charge.
		header := j == 0 || ins[j-1].kind == kLoop
		var cost uint64
		for ci < len(charges) && charges[ci].at == j {
			cost += charges[ci].cost
			ci++
		}
		check := header || (w.opts.CheckEveryBlock && cost > 0)
		if cost > 0 || (header && !in.dead) {
			if cost > maxCharge {
				return nil, posError{r.base + int(in.pos), errorf(ErrLimit, "metered block cost %d", cost)}
			}
			b = w.staticCharge(b, cost, check, sc)
		}
		if rate := costs.dynamicRate(in.kind); rate.Units != 0 && !in.dead {
			b = w.dynamicCharge(b, rate, sc)
		}
		switch {
		case in.kind == kBlock || in.kind == kLoop || in.kind == kIf:
			nesting++
		case in.kind == kEnd:
			nesting--
		}
		switch {
		case depth && in.kind == kReturn:
			b = append(b, opBr) // to the wrapper block, whose end pops the depth
			b = appendU32(b, uint32(nesting))
		case depth && j == len(ins)-1:
			b = append(b, opEnd, opGlobalGet)
			b = appendU32(b, w.depth)
			b = append(b, opI32Const, 1, opI32Sub, opGlobalSet)
			b = appendU32(b, w.depth)
			b = append(b, opEnd)
		default:
			b = append(b, expr[in.pos:in.end]...)
		}
	}
	w.st.Functions++
	w.buf = b
	return b, nil
}

// scratch are the indices of the locals a charge works in.
type scratch struct {
	n uint32 // i32: the size operand of a dynamic charge
	b uint32 // i64: the remaining fuel after a charge
}

// maxCharge bounds one static charge, so that subtracting it from a budget of at most MaxInt64 cannot wrap.
const maxCharge = 1 << 56

// staticCharge emits fuel -= cost, and with check: if fuel <s 0 { exhausted = 1; unreachable }.
func (w *rewriter) staticCharge(b []byte, cost uint64, check bool, sc scratch) []byte {
	if cost > 0 {
		w.st.Charges++
		if cost > w.st.MaxBlockCost {
			w.st.MaxBlockCost = cost
		}
	}
	if check {
		w.st.Checks++
	}
	b = append(b, opGlobalGet)
	b = appendU32(b, w.fuel)
	if cost == 0 { // a check alone
		b = append(b, opI64Const, 0, opI64LtS)
		return w.trap(b, ExhaustedFuel)
	}
	b = append(b, opI64Const)
	b = appendS64(b, int64(cost))
	b = append(b, opI64Sub)
	if !check {
		b = append(b, opGlobalSet)
		return appendU32(b, w.fuel)
	}
	b = append(b, opLocalTee)
	b = appendU32(b, sc.b)
	b = append(b, opGlobalSet)
	b = appendU32(b, w.fuel)
	b = append(b, opLocalGet)
	b = appendU32(b, sc.b)
	b = append(b, opI64Const, 0, opI64LtS)
	return w.trap(b, ExhaustedFuel)
}

// dynamicCharge emits, with the i32 size operand n on top of the stack (and left there):
// fuel -= (u64(n) * Units) >> log2(Per); if fuel <s 0 { exhausted = 1; unreachable }. It always checks: one
// such charge can be as large as any budget. The charge is below 2^63 (Units < 2^31, n < 2^32).
func (w *rewriter) dynamicCharge(b []byte, rate Rate, sc scratch) []byte {
	w.st.DynamicCharges++
	b = append(b, opLocalTee)
	b = appendU32(b, sc.n)
	b = append(b, opGlobalGet)
	b = appendU32(b, w.fuel)
	b = append(b, opLocalGet)
	b = appendU32(b, sc.n)
	b = append(b, opI64ExtendU)
	if rate.Units != 1 {
		b = append(b, opI64Const)
		b = appendS64(b, int64(rate.Units))
		b = append(b, opI64Mul)
	}
	if s := rate.shift(); s != 0 {
		b = append(b, opI64Const)
		b = appendS64(b, int64(s))
		b = append(b, opI64ShrU)
	}
	b = append(b, opI64Sub, opLocalTee)
	b = appendU32(b, sc.b)
	b = append(b, opGlobalSet)
	b = appendU32(b, w.fuel)
	b = append(b, opLocalGet)
	b = appendU32(b, sc.b)
	b = append(b, opI64Const, 0, opI64LtS)
	return w.trap(b, ExhaustedFuel)
}

// trap emits: if (i32 on stack) { exhausted = why; unreachable }.
func (w *rewriter) trap(b []byte, why byte) []byte {
	b = append(b, opIf, blockTypeEmpty, opI32Const, why, opGlobalSet)
	b = appendU32(b, w.exhausted)
	return append(b, opUnreachable, opEnd)
}

// depthPrologue emits, with one load of the depth global:
// n = depth + 1; depth = n; if n >u max { exhausted = 2; unreachable }.
func (w *rewriter) depthPrologue(b []byte, sc scratch) []byte {
	b = append(b, opGlobalGet)
	b = appendU32(b, w.depth)
	b = append(b, opI32Const, 1, opI32Add, opLocalTee)
	b = appendU32(b, sc.n)
	b = append(b, opGlobalSet)
	b = appendU32(b, w.depth)
	b = append(b, opLocalGet)
	b = appendU32(b, sc.n)
	b = append(b, opI32Const)
	b = appendS64(b, int64(int32(w.opts.MaxCallDepth)))
	b = append(b, opI32GtU)
	return w.trap(b, ExhaustedDepth)
}
