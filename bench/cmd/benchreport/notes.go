package main

import (
	goruntime "runtime"

	"github.com/toolgate/toolgate/bench/benchfmt"
)

// writeNotes explains what dominates each cost. The figures come from this run; the attributions come from CPU
// profiles taken while the benchmarks were written (`go test ./bench -run '^$' -bench
// 'FreshSandbox/<subject>/<case>' -cpuprofile cpu.prof`, and `loadgen -cpuprofile`), which run.sh does not
// repeat: rerun them when the code underneath changes.
func writeNotes(p func(string, ...any), br, gc *benchResults, gogc string, load loadGroups) {
	med := func(s, c string) float64 { return br.ns(s, c).med }
	bytes := func(s, c string) float64 { return br.stat(s, c, func(x sample) float64 { return x.bytes }).med }
	allocs := func(s, c string) float64 { return br.stat(s, c, func(x sample) float64 { return x.allocs }).med }
	cpu := func(s, c string) float64 { return br.cpu(s, c).med }

	p("\n## What dominates\n\n")
	p("Attributions from CPU profiles of single benchmarks (`go test ./bench -run '^$' -bench ")
	p("'FreshSandbox/wazero/hello' -cpuprofile cpu.prof`, and `loadgen -cpuprofile`), taken when this harness was ")
	p("written; the figures are this run's.\n\n")

	p("- **Raw wazero, the floor** (nop %s, echo %s). A fresh instance is mostly Go heap work: the module's linear ",
		benchfmt.Dur(med("wazero", "nop")), benchfmt.Dur(med("wazero", "echo")))
	p("memory is allocated and zeroed (nop's one 64 KiB page, %s/op; echo declares no memory — its data lives in ",
		size(bytes("wazero", "nop")))
	cheaper := ""
	if med("wazero", "echo") < med("wazero", "nop") {
		cheaper = " and is the cheaper of the two"
	}
	p("the host's kernel — so it allocates %s/op%s), the instance's system context ", size(bytes("wazero", "echo")), cheaper)
	p("seeds a fresh deterministic `math/rand` source (about a tenth of nop's profile), and the garbage collector ")
	p("sweeps what the previous instances left. Echo's 15 host calls into Go functions are a small share. This is ")
	p("what a native Extism engine on raw wazero would start from.\n")

	p("- **The Extism SDK over wazero** (+%s on nop). Every `Instance` also instantiates the SDK's Wasm kernel, ",
		benchfmt.Dur(med("extism-sdk", "nop")-med("wazero", "nop")))
	p("whose 16 pages (1 MiB) are allocated and zeroed on the Go heap per call: %s/op against raw wazero's %s. ",
		size(bytes("extism-sdk", "echo")), size(bytes("wazero", "echo")))
	p("Most of the CPU in its profile is that allocation and the collection it drives (background sweeping, mark ")
	p("assists, scheduler wake-ups), not Wasm")
	if gc != nil {
		p(": with `GOGC=%s` the SDK's echo costs %s of CPU instead of %s", gogc, benchfmt.Dur(gc.cpu("extism-sdk", "echo").med),
			benchfmt.Dur(cpu("extism-sdk", "echo")))
	}
	p(". So the figure depends on the host's heap: it can be lower in a server, whose larger live heap makes ")
	p("collections rarer. Echo adds the SDK's per-host-call cost (each forwarded call looks up a kernel export ")
	p("afresh); nop makes none.\n")

	p("- **Toolgate against raw wazero** (echo %s wall, %s CPU; nop %s wall, %s CPU). Toolgate's native ",
		signed(med("toolgate", "echo")-med("wazero", "echo")), signed(cpu("toolgate", "echo")-cpu("wazero", "echo")),
		signed(med("toolgate", "nop")-med("wazero", "nop")), signed(cpu("toolgate", "nop")-cpu("wazero", "nop")))
	p("engine does more than the raw subject — fuel instrumentation and a budget per call, the memory cap and peak, ")
	p("input and output caps, log capture, the classification of the result — and still costs less, because it ")
	p("skips what dominates raw wazero: linear memories and kernel arenas come zeroed from pools that refill only ")
	p("after a call has closed its instance, and the deterministic random source is served from a precomputed ")
	p("prefix instead of seeding a `math/rand` source per instance (%.0f allocations and %s per call on echo, ",
		allocs("toolgate", "echo"), size(bytes("toolgate", "echo")))
	p("against raw wazero's %.0f and %s). A difference smaller than the ranges in the table is noise.\n",
		allocs("wazero", "echo"), size(bytes("wazero", "echo")))

	p("- **hello, a standard-Go guest** (wazero %s, %s× nop). The module has 37,311 data segments: each fresh ",
		benchfmt.Dur(med("wazero", "hello")), ratioNum(med("wazero", "hello"), med("wazero", "nop")))
	p("instance evaluates every segment's offset expression and copies it into a new 37-page memory — %.0f ",
		allocs("wazero", "hello"))
	p("allocations and %s per call, the same under all three subjects. In the profile, instantiation (data ",
		size(bytes("wazero", "hello")))
	p("segments most of it) is about 70%% of the call and the guest's own code (the Go runtime's `_initialize`, ")
	p("then `run`) under a fifth. The SDK's kernel, a millisecond at most, is a small part of that (extism-sdk ")
	p("%s and toolgate %s raw wazero's time; see the ranges): ",
		ratio(med("extism-sdk", "hello"), med("wazero", "hello")), ratio(med("toolgate", "hello"), med("wazero", "hello")))
	p("what would move hello is a post-`_initialize` snapshot or a memory image instead of per-segment ")
	p("instantiation (RESEARCH.md, \"Standard-Go guests\").\n")

	cpuPerReq := load.cpuAtLowest(engineNative)
	if echo, ok := cpuPerReq["echo"]; ok && echo > 0 {
		inv := cpu("toolgate", "echo")
		p("- **Over HTTP** (echo on the native engine: %s of CPU per request at the lowest concurrency, server and ",
			benchfmt.Dur(echo))
		p("load generator together, against %s of CPU for `runtime.Invoke` alone in the benchmark loop", benchfmt.Dur(inv))
		if gc != nil {
			p(" and %s with `GOGC=%s`", benchfmt.Dur(gc.cpu("toolgate", "echo").med), gogc)
		}
		if echo < inv {
			p(": a whole request costs less than a bare call in the loop because the server's larger live heap makes ")
			p("its collector run less often per call")
		}
		p("). req/s is the `cores` the process kept busy ÷ CPU per request; where `cores` is below the machine's ")
		p("%d, the process was waiting — for cores its neighbours held (see the load average) or, at low ", goruntime.NumCPU())
		p("concurrency, for the synced receipt commit. Beyond that, more concurrency adds queueing (Little's law: ")
		p("mean latency = concurrency ÷ req/s). Besides the sandbox, each request pays the HTTP path (fasthttp ")
		p("and Fiber, the token check, the server's admission checks, resolving the pin in Badger), the receipt ")
		p("(its canonical JSON, its hashes in the log and a synced write of the log's segment, which concurrent ")
		p("requests share, so higher concurrency amortizes the sync) and the load generator's own `net/http` client ")
		p("in the same process.")
		if load.off {
			p(" What the receipt takes, against the same server with receipts off, is in \"What the log costs\" above.")
		}
		if hello, ok := cpuPerReq["hello"]; ok && hello > 0 {
			p(" hello's %s per request is its sandbox again (%s of CPU in process).", benchfmt.Dur(hello), benchfmt.Dur(cpu("toolgate", "hello")))
		}
		p("\n")
	}

	sdkPerReq := load.cpuAtLowest(engineSDK)
	if echo, sdk := cpuPerReq["echo"], sdkPerReq["echo"]; echo > 0 && sdk > 0 {
		p("- **The Extism SDK engine over HTTP** (echo: %s of CPU per request at the lowest concurrency, %s over ",
			benchfmt.Dur(sdk), signed(sdk-echo))
		p("the native engine's). The HTTP path, the receipt and the load generator are the same for both engines; the ")
		p("difference is the sandbox. The SDK instantiates its Wasm kernel beside the guest in every call (1 MiB ")
		p("allocated and zeroed on the Go heap, and the collection this drives: the extism-sdk rows of the ")
		p("in-process table, %s against raw wazero's %s on echo) and forwards each host call through it, where the ",
			benchfmt.Dur(med("extism-sdk", "echo")), benchfmt.Dur(med("wazero", "echo")))
		p("native engine serves the ABI from Go over pooled, pre-zeroed arenas. With one request in flight it shows ")
		p("as latency; under load as req/s, which is the cores kept busy ÷ CPU per request.")
		if hello, sdkHello := cpuPerReq["hello"], sdkPerReq["hello"]; hello > 0 && sdkHello > 0 {
			p(" On hello the kernel is a small part of a large sandbox (%s against %s of CPU per request).",
				benchfmt.Dur(sdkHello), benchfmt.Dur(hello))
		}
		p("\n")
	}
}

func ratioNum(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return benchfmt.Sig3(a / b)
}
