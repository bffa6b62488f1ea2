// Package fuel makes a WebAssembly module meter its own execution, so that every call runs against an exact,
// deterministic compute budget on any engine.
//
// Instrument rewrites a module's bytes before it is compiled. It appends two exported globals, GlobalFuel (the
// remaining fuel, a signed mutable i64) and GlobalExhausted (a mutable i32 flag), and inserts an inline charge at
// the start of every metered block, a run of code that executes all or nothing:
//
//	global.set $toolgate_fuel (global.get $toolgate_fuel - COST)
//
// and, at each function entry and loop header, where every cycle of execution passes, a check:
//
//	if global.get $toolgate_fuel <s 0 { global.set $toolgate_fuel_exhausted 1; unreachable }
//
// Operations whose work grows with an operand (memory.fill/copy/init, table.fill/copy/init, memory.grow,
// table.grow) also pay for their size, in 64-bit arithmetic, and check, before they run. No import, helper
// function or host call is added: the hot path is a load, a subtract and a store.
//
// A host drives it through the globals:
//
//   - Budget: after instantiation (with wazero, instantiate with WithStartFunctions() so _start or _initialize
//     does not run yet) write the call's budget to GlobalFuel. A start section runs during instantiation, before
//     the host can write anything; it runs against Options.InitialFuel.
//   - Used: budget minus GlobalFuel after the call.
//   - Out of fuel: GlobalFuel is negative after the call. Such a call trapped with GlobalExhausted set to
//     ExhaustedFuel (1), or ran out in the loop-free, call-free stretch after its last check and completed; the
//     host fails it either way. Any other trap (GlobalExhausted 0, fuel not negative) is the guest's own;
//     ExhaustedDepth (2) is a call deeper than Options.MaxCallDepth.
//
// Start functions run against Options.InitialFuel, or, with Options.DeferStart, are exported as ExportStart for
// the host to call under the call's budget. Options.MaxCallDepth bounds recursion deterministically.
//
// The package has its own decoder and encoder for the binary format (Decode, Module.Encode): sections it does not
// change are copied byte for byte, and its instruction scanner knows the immediates of every Wasm 2.0 operator.
// The cost model lives in Costs; see DefaultCosts and docs/FUEL.md.
package fuel
