package runtime

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/toolgate/toolgate/host"
	"github.com/toolgate/toolgate/plugins"
	"github.com/toolgate/toolgate/receipts"
	"github.com/toolgate/toolgate/runtime/fuel"
)

func benchInvoke(b *testing.B, wasm []byte, entry string) {
	benchInvokeOn(b, testRT, wasm, Call{Entry: entry, Input: []byte(`{"name":"bench"}`)})
}

func benchInvokeOn(b *testing.B, r *Runtime, wasm []byte, c Call) {
	info, err := r.Load(context.Background(), wasm)
	if err != nil {
		b.Fatal(err)
	}
	c.Module = info.Digest
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := r.Invoke(ctx, c)
		if err != nil || res.Status != receipts.StatusOK {
			b.Fatalf("%s %q %v", res.Status, res.Error, err)
		}
	}
}

// BenchmarkInvoke measures one fresh sandbox per call, end to end, on the default (native) engine.
func BenchmarkInvoke(b *testing.B) {
	b.Run("wat-extism-echo", func(b *testing.B) { benchInvoke(b, plugins.WAT("echo"), "") })
	b.Run("wat-wasi-command-echo", func(b *testing.B) { benchInvoke(b, plugins.WAT("cmd_echo"), "") })
	b.Run("go-extism-echo", func(b *testing.B) { benchInvoke(b, built(b, "hello"), "echo") })
	b.Run("go-wasi-command-wc", func(b *testing.B) { benchInvoke(b, built(b, "wc"), "") })
}

// stubEnv instantiates an "extism:host/env" of functions that do nothing, for raw wazero.
func stubEnv(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(host.ExtismEnvModule)
	for _, name := range host.ExtismEnvNames() {
		sig, _ := host.ExtismEnv(name)
		b.NewFunctionBuilder().WithGoFunction(api.GoFunc(func(_ context.Context, s []uint64) {
			if len(s) > 0 {
				s[0] = 0
			}
		}), sig.Params, sig.Results).Export(name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

// BenchmarkSandbox is the comparison: a fresh sandbox, one call and close, of a tiny Extism-ABI tool
// (plugins/wat/counter: one page of memory, a global, three host calls), side by side:
//   - raw-wazero: wazero's own instantiate + call + close of the same module, with default module config and
//     do-nothing host functions (the floor);
//   - native: Runtime.Invoke on the native engine, end to end (limits, context, arena, classification);
//   - native-metered: the same with fuel metering (instrumented code, budget set per call);
//   - extism-sdk, extism-sdk-metered: Runtime.Invoke on the Extism Go SDK engine, without and with metering.
func BenchmarkSandbox(b *testing.B) {
	wasm := plugins.WAT("counter")
	ctx := context.Background()
	b.Run("raw-wazero", func(b *testing.B) {
		rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCoreFeatures(api.CoreFeaturesV2))
		defer rt.Close(ctx)
		if err := stubEnv(ctx, rt); err != nil {
			b.Fatal(err)
		}
		cm, err := rt.CompileModule(ctx, wasm)
		if err != nil {
			b.Fatal(err)
		}
		mc := wazero.NewModuleConfig().WithName("")
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			mod, err := rt.InstantiateModule(ctx, cm, mc)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := mod.ExportedFunction("run").Call(ctx); err != nil {
				b.Fatal(err)
			}
			_ = mod.Close(ctx)
		}
	})
	b.Run("native", func(b *testing.B) { benchInvokeOn(b, testRT, wasm, Call{}) })
	b.Run("native-metered", func(b *testing.B) {
		benchInvokeOn(b, meteredRuntime(b, EngineNative), wasm, Call{Limits: Limits{Fuel: 1 << 20}})
	})
	b.Run("extism-sdk", func(b *testing.B) { benchInvokeOn(b, sdkRuntime(b), wasm, Call{}) })
	b.Run("extism-sdk-metered", func(b *testing.B) {
		benchInvokeOn(b, meteredRuntime(b, EngineExtismSDK), wasm, Call{Limits: Limits{Fuel: 1 << 20}})
	})
}

// BenchmarkHostCall measures byte-wise host calls: hostcalls.wat copies the input into a block with
// input_load_u8 and store_u8, two calls per byte; ns/hostcall is the call's time over the number of host calls
// (the loop's own instructions and the sandbox's fixed cost included, spread over the calls). u64 is the same copy
// eight bytes per call. The input is 64 KiB on the native engine and 4 KiB on the Extism SDK, which is slow:
//   - native: the native engine without metering;
//   - native-metered: the native engine with fuel metering, as `toolgate serve` runs it (issue 4's target,
//     at most 100 ns for u8, is judged on this one; bench/run.sh reports it in docs/BENCHMARKS.md);
//   - extism-sdk: the Extism Go SDK engine without metering.
func BenchmarkHostCall(b *testing.B) {
	wasm := fixture("hostcalls")
	run := func(b *testing.B, r *Runtime, entry string, size int, fuel uint64) {
		info, err := r.Load(context.Background(), wasm)
		if err != nil {
			b.Fatal(err)
		}
		c := Call{Module: info.Digest, Entry: entry, Input: bytes.Repeat([]byte{'x'}, size),
			Limits: Limits{Timeout: time.Minute, Fuel: fuel}}
		calls := 2 * size
		if entry == "u64" {
			calls = 2 * size / 8
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if res, err := r.Invoke(context.Background(), c); err != nil || res.Status != receipts.StatusOK {
				b.Fatalf("%s %q %v", res.Status, res.Error, err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(calls), "ns/hostcall")
	}
	b.Run("native/u8", func(b *testing.B) { run(b, testRT, "u8", 64<<10, 0) })
	b.Run("native/u64", func(b *testing.B) { run(b, testRT, "u64", 64<<10, 0) })
	b.Run("native-metered/u8", func(b *testing.B) { run(b, meteredRuntime(b, EngineNative), "u8", 64<<10, 1<<30) })
	b.Run("native-metered/u64", func(b *testing.B) { run(b, meteredRuntime(b, EngineNative), "u64", 64<<10, 1<<30) })
	b.Run("extism-sdk/u8", func(b *testing.B) { run(b, sdkRuntime(b), "u8", 4<<10, 0) })
	b.Run("extism-sdk/u64", func(b *testing.B) { run(b, sdkRuntime(b), "u64", 4<<10, 0) })
}

// withoutData returns wasm without its data and data count sections: the same module, instantiated without
// copying its data segments.
func withoutData(b *testing.B, wasm []byte) []byte {
	m, err := fuel.Decode(wasm)
	if err != nil {
		b.Fatal(err)
	}
	out := append([]byte(nil), wasm[:8]...)
	for _, s := range m.Sections {
		if s.ID != 11 && s.ID != 12 { // data, data count
			out = append(out, s.Raw...)
		}
	}
	return out
}

// BenchmarkGoPlugin shows where a standard-Go plugin's fresh sandbox goes (plugins/go/hello, 3.3 MB, 37
// pages): instantiation without and with its data segments, then _initialize (the Go runtime's start), then the
// whole call through Runtime.Invoke. Each step includes close; the memory allocator is the engine's (pooled).
func BenchmarkGoPlugin(b *testing.B) {
	wasm := built(b, "hello")
	ctx := context.Background()
	r := testRT
	info, err := r.Load(ctx, wasm)
	if err != nil {
		b.Fatal(err)
	}
	m, err := r.loaded(ctx, info.Digest)
	if err != nil {
		b.Fatal(err)
	}
	noData, err := r.cmd.CompileModule(ctx, withoutData(b, wasm))
	if err != nil {
		b.Fatal(err)
	}
	defer noData.Close(ctx)
	instantiate := func(b *testing.B, cm wazero.CompiledModule, init bool) {
		mc := wazero.NewModuleConfig().WithName("").WithStartFunctions().WithRandSource(new(detRand))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			lim := newMemLimiter(1 << 30)
			cctx := experimental.WithMemoryAllocator(ctx, lim)
			mod, err := r.cmd.InstantiateModule(cctx, cm, mc)
			if err != nil {
				b.Fatal(err)
			}
			if init {
				if _, err := mod.ExportedFunction("_initialize").Call(cctx); err != nil {
					b.Fatal(err)
				}
			}
			_ = mod.Close(ctx)
			lim.release()
		}
	}
	b.Run("instantiate-without-data", func(b *testing.B) { instantiate(b, noData, false) })
	b.Run("instantiate", func(b *testing.B) { instantiate(b, m.compiled, false) })
	b.Run("instantiate+initialize", func(b *testing.B) { instantiate(b, m.compiled, true) })
	b.Run("invoke-echo", func(b *testing.B) { benchInvoke(b, wasm, "echo") })
	b.Run("invoke-echo-metered", func(b *testing.B) {
		benchInvokeOn(b, meteredRuntime(b, EngineNative), wasm, Call{Entry: "echo", Input: []byte("bench"),
			Limits: Limits{Fuel: 1 << 30}})
	})
	b.Run("invoke-echo-sdk", func(b *testing.B) {
		benchInvokeOn(b, sdkRuntime(b), wasm, Call{Entry: "echo", Input: []byte("bench")})
	})
}
