package fuel_test

import (
	"context"
	"fmt"
	"os"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/toolgate/toolgate/runtime/fuel"
)

// A host instruments a module once, then per call sets a budget, calls, and reads the fuel used or the
// out-of-fuel flag.
func ExampleInstrument() {
	wasm, _ := os.ReadFile("testdata/kernels/sum.wasm")
	out, _, err := fuel.Instrument(wasm, fuel.DefaultOptions())
	if err != nil {
		panic(err)
	}

	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	compiled, _ := rt.CompileModule(ctx, out)

	for _, budget := range []uint64{1_000_000, 1_000} {
		mod, _ := rt.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions())
		remaining := mod.ExportedGlobal(fuel.GlobalFuel).(api.MutableGlobal)
		remaining.Set(budget)
		res, err := mod.ExportedFunction("sum").Call(ctx, 10_000)
		left := int64(remaining.Get()) // signed: negative when the call ran out
		switch {
		case left < 0: // with err != nil and GlobalExhausted == fuel.ExhaustedFuel, unless it ran out in its last stretch
			fmt.Printf("budget %d: out of fuel (exhausted flag %d)\n", budget, mod.ExportedGlobal(fuel.GlobalExhausted).Get())
		case err != nil:
			fmt.Printf("budget %d: the guest trapped: %v\n", budget, err)
		default:
			fmt.Printf("budget %d: sum %d, used %d\n", budget, res[0], budget-uint64(left))
		}
		mod.Close(ctx)
	}
	// Output:
	// budget 1000000: sum 49995000, used 120002
	// budget 1000: out of fuel (exhausted flag 1)
}
