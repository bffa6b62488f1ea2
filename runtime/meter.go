package runtime

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero/api"

	"github.com/toolgate/toolgate/receipts"
	"github.com/toolgate/toolgate/runtime/fuel"
)

// meter drives runtime/fuel's host protocol (docs/FUEL.md) on one call's instance: the budget is written to the
// fuel global right after instantiation, before anything of the guest runs; the deferred start function runs
// first, under it; afterwards the fuel left gives the fuel used, and the exhausted flag tells a trap that ran out
// of fuel (or past the call depth bound) from the guest's own. A nil *meter meters nothing.
type meter struct {
	budget uint64
	start  bool   // the module exports fuel.ExportStart
	depth  uint32 // the instrumentation's call depth bound, for the message
}

// meterRun is a meter bound to one instance. A nil *meterRun does nothing.
type meterRun struct {
	m    *meter
	fuel api.MutableGlobal
}

// bind writes the budget into mod. It returns nil for a nil meter or a module without the fuel global.
func (m *meter) bind(mod api.Module) *meterRun {
	if m == nil {
		return nil
	}
	g, ok := mod.ExportedGlobal(fuel.GlobalFuel).(api.MutableGlobal)
	if !ok {
		return nil
	}
	g.Set(m.budget)
	return &meterRun{m: m, fuel: g}
}

// runStart calls the module's deferred start function, if it has one.
func (r *meterRun) runStart(ctx context.Context, mod api.Module) error {
	if r == nil || !r.m.start {
		return nil
	}
	_, err := mod.ExportedFunction(fuel.ExportStart).Call(ctx)
	return err
}

// finish records the fuel used in out and whether its failure was the meter's. A call that ran out of fuel is
// billed its whole budget (the fuel left is less than the charge that failed).
func (r *meterRun) finish(mod api.Module, out *outcome) {
	if r == nil {
		return
	}
	used := r.m.budget - min(r.m.budget, r.fuel.Get())
	if out.err != nil {
		if g := mod.ExportedGlobal(fuel.GlobalExhausted); g != nil {
			switch uint32(g.Get()) {
			case fuel.ExhaustedFuel:
				out.outOfFuel = true
				used = r.m.budget
			case fuel.ExhaustedDepth:
				out.depthExceeded = true
				out.err = fmt.Errorf("call depth limit of %d exceeded", r.m.depth)
			}
		}
	}
	out.fuel = &receipts.Fuel{Limit: r.m.budget, Used: used}
}
