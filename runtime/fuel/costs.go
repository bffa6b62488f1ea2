package fuel

import (
	"fmt"
	"math"
	"math/bits"
)

// Costs is the cost model: the fuel that one execution of each operator consumes, and the dynamic charges of the
// operations whose work grows with an operand. It is the one place where costs are set; DefaultCosts documents
// the defaults and why.
//
// One unit of fuel is one executed Wasm operator of the simple kind (an add, a local.get, a load, a call), the
// unit wasmtime's fuel counts in, so a budget means the same on both runtimes.
type Costs struct {
	// Operator is the cost of each one-byte opcode, indexed by opcode (0x00 unreachable … 0xd2 ref.func).
	// The costs of else (0x05) and end (0x0b) must be zero: they mark structure and execute no work.
	Operator [256]uint32
	// Misc is the cost of each 0xFC-prefixed operator, indexed by sub-opcode: 0–7 saturating truncations,
	// 8 memory.init, 9 data.drop, 10 memory.copy, 11 memory.fill, 12 table.init, 13 elem.drop, 14 table.copy,
	// 15 table.grow, 16 table.size, 17 table.fill.
	Misc [18]uint32
	// SIMD is the cost of every 0xFD-prefixed (128-bit SIMD) operator.
	SIMD uint32
	// FunctionEntry is charged once on entry to every defined function, on top of the caller's call operator.
	FunctionEntry uint32
	// MemoryBytes is charged per byte that memory.fill, memory.copy and memory.init touch, before they run and
	// on top of the operator's own cost. An operation that then traps out of bounds has still paid.
	MemoryBytes Rate
	// MemoryPages is charged per 64 KiB page that memory.grow asks for, before it runs, whether or not it
	// succeeds.
	MemoryPages Rate
	// TableElements is charged per element that table.fill, table.copy, table.init and table.grow touch, before
	// they run.
	TableElements Rate
}

// Rate is a dynamic charge: Units of fuel for every Per items (bytes, pages or elements), rounded down, computed
// in 64-bit arithmetic as (n × Units) >> log2(Per). Per must be a power of two and Units below 2^31; a Rate with
// Units 0 charges nothing and emits no code.
type Rate struct {
	Units uint32
	Per   uint32
}

// DefaultCosts returns the default cost model.
//
// Operators follow wasmtime's default fuel costs: 0 for nop, drop, block, loop, end, else, unreachable and
// return (they generate no work of their own), 1 for every other operator including if, br, br_if, br_table,
// call and call_indirect, every 0xFC and every SIMD operator; and 1 on every function entry, as wasmtime starts
// each function's count at 1 "because even empty functions should consume at least some fuel".
//
// Bulk operations are charged for their size, which wasmtime does not do by default, because a single
// memory.fill of 4 GiB is otherwise one unit: 1 unit per 64 bytes of memory.fill/copy/init (a bulk copy moves
// about 64 bytes in the time of one simple operator), 1024 units per page for memory.grow (the same as filling
// the page), 1 unit per table element for table.fill/copy/init/grow (tables are copied element by element).
func DefaultCosts() Costs {
	var c Costs
	for i := range c.Operator {
		c.Operator[i] = 1
	}
	for _, op := range []byte{opUnreachable, opNop, opBlock, opLoop, opElse, opEnd, opReturn, opDrop} {
		c.Operator[op] = 0
	}
	for i := range c.Misc {
		c.Misc[i] = 1
	}
	c.SIMD = 1
	c.FunctionEntry = 1
	c.MemoryBytes = Rate{Units: 1, Per: 64}
	c.MemoryPages = Rate{Units: 1024, Per: 1}
	c.TableElements = Rate{Units: 1, Per: 1}
	return c
}

func (c *Costs) validate() error {
	if c.Operator[opElse] != 0 || c.Operator[opEnd] != 0 {
		return fmt.Errorf("%w: else and end must cost 0", ErrInvalidOptions)
	}
	for _, r := range []struct {
		name string
		rate Rate
	}{{"MemoryBytes", c.MemoryBytes}, {"MemoryPages", c.MemoryPages}, {"TableElements", c.TableElements}} {
		if r.rate.Units != 0 && (r.rate.Per == 0 || r.rate.Per&(r.rate.Per-1) != 0) {
			return fmt.Errorf("%w: %s.Per %d is not a power of two", ErrInvalidOptions, r.name, r.rate.Per)
		}
		if r.rate.Units > math.MaxInt32 {
			return fmt.Errorf("%w: %s.Units %d is above 2^31-1", ErrInvalidOptions, r.name, r.rate.Units)
		}
	}
	return nil
}

func (r Rate) shift() int { return bits.TrailingZeros32(r.Per) }
