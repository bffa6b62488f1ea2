package fuel

import "sort"

// charge is a static charge: cost units pre-paid before instruction at.
type charge struct {
	at   int
	cost uint64
}

// planFunc chooses where a function's static costs are charged. The result is sorted by at, one charge per at.
type planFunc func(p *planner, ins []instr, labels []uint32, entry uint64) []charge

// planner holds the reusable state of planMetered.
type planner struct {
	stack []ctlBlock
	out   []charge
	// callsEnd makes every call end a metered block, as if it might branch out of the function (Options.CallsEndBlocks).
	callsEnd bool
}

// meteredBlock is a run of instructions that executes all or nothing (traps aside): its cost is pre-paid at start.
type meteredBlock struct {
	start int
	cost  uint64
}

type ctlBlock struct {
	// lowestFwd is the outermost control block (by stack index) that a branch from inside this one may target.
	// If it is below this block's own index, code after this block's end may be skipped.
	lowestFwd int
	active    meteredBlock
}

// planMetered is the metered-block algorithm of paritytech's wasm-instrument gas_metering: a metered block
// starts at the function entry, at each loop header, at the start of each if and else arm, after every branch,
// and after the end of any block that a branch can leave early; a nested block with no such exit is merged into
// its parent's metered block, so straight-line code through blocks pays once. Two differences from the
// original, both found by the counting oracle: return is a branch to the function's outermost label, and a
// branch back to a loop header counts like a forward branch to that loop's label; either way the code after the
// ends of the blocks the branch leaves is never charged on a path that skipped it. Charges in unreachable code
// are dropped.
func planMetered(p *planner, ins []instr, labels []uint32, entry uint64) []charge {
	p.stack = p.stack[:0]
	p.out = p.out[:0]
	p.begin(0)
	p.stack[0].active.cost = entry
	for i := range ins {
		in := &ins[i]
		switch in.kind {
		case kBlock:
			p.add(in.cost)
			p.begin(p.top().active.start)
		case kIf:
			p.add(in.cost)
			p.begin(i + 1)
		case kLoop:
			p.add(in.cost)
			p.begin(i + 1)
		case kElse:
			p.finalizeMetered(i)
		case kEnd:
			p.finalizeControl(i)
		case kBr, kBrIf:
			p.add(in.cost)
			p.branch(i, len(p.stack)-1-int(in.label))
		case kBrTable:
			p.add(in.cost)
			p.finalizeMetered(i)
			for _, l := range labels[in.label : in.label+in.nlabels] {
				p.target(len(p.stack) - 1 - int(l))
			}
		case kReturn:
			p.add(in.cost)
			p.branch(i, 0)
		case kCall:
			p.add(in.cost)
			if p.callsEnd {
				p.branch(i, 0) // the callee may never return: an exit unwinds the whole stack
			}
		default:
			p.add(in.cost)
		}
	}
	out := p.out[:0]
	for _, c := range p.out { // drop charges that start in dead code: they can never run
		if c.at < len(ins) && !ins[c.at].dead {
			out = append(out, c)
		}
	}
	return sortCharges(out)
}

// sortCharges orders charges by position and merges those at the same position.
func sortCharges(cs []charge) []charge {
	sort.SliceStable(cs, func(a, b int) bool { return cs[a].at < cs[b].at })
	out := cs[:0]
	for _, c := range cs {
		if n := len(out); n > 0 && out[n-1].at == c.at {
			out[n-1].cost += c.cost
			continue
		}
		out = append(out, c)
	}
	return out
}

func (p *planner) top() *ctlBlock { return &p.stack[len(p.stack)-1] }

func (p *planner) add(cost uint32) { p.top().active.cost += uint64(cost) }

func (p *planner) begin(start int) {
	p.stack = append(p.stack, ctlBlock{lowestFwd: len(p.stack), active: meteredBlock{start: start}})
}

// finalizeMetered closes the active metered block of the innermost control block at cursor: merged into the
// parent's if both start at the same instruction (a block entered by falling through), else recorded.
func (p *planner) finalizeMetered(cursor int) {
	top := p.top()
	closing := top.active
	top.active = meteredBlock{start: cursor + 1}
	if n := len(p.stack); n > 1 {
		if prev := &p.stack[n-2].active; prev.start == closing.start {
			prev.cost += closing.cost
			return
		}
	}
	if closing.cost > 0 {
		p.out = append(p.out, charge{at: closing.start, cost: closing.cost})
	}
}

func (p *planner) finalizeControl(cursor int) {
	p.finalizeMetered(cursor)
	closing := p.stack[len(p.stack)-1]
	p.stack = p.stack[:len(p.stack)-1]
	if len(p.stack) == 0 {
		return
	}
	closingIdx := len(p.stack)
	parent := p.top()
	if closing.lowestFwd < parent.lowestFwd {
		parent.lowestFwd = closing.lowestFwd
	}
	if closing.lowestFwd < closingIdx {
		// A branch from inside may skip the parent's code after this end: the parent's block stops here.
		p.finalizeMetered(cursor)
	}
}

func (p *planner) branch(cursor, target int) {
	p.finalizeMetered(cursor)
	p.target(target)
}

// target records a branch to the control block at stack index t. Forward (to a block's end) or backward (to a
// loop's header), it skips the code after the end of every block nested inside t, and nothing after t's end.
func (p *planner) target(t int) {
	if top := p.top(); t < top.lowestFwd {
		top.lowestFwd = t
	}
}
