#!/usr/bin/env bash
# Runs Toolgate's whole-system benchmarks and writes docs/BENCHMARKS.md (issue 2's performance baseline).
# `make bench` runs it after `make toolchains plugins`. Takes about nine minutes on 2 cores (each engine, and the
# receipts-off server, adds LOAD_ROUNDS × tools × concurrencies × LOAD_DURATION, 2 minutes by default).
#
#   1. BenchmarkFreshSandbox (bench/bench_test.go), ROUNDS times, each round a fresh process running every
#      subject (toolgate, wazero, extism-sdk) on every case (nop, echo, hello): interleaved, so that a noisy
#      neighbour hits all subjects alike. Each round then runs it again with GOGC=GC_GOGC, to show how much of
#      each cost is the garbage collection that the per-call allocations drive. Each round ends with
#      BenchmarkHostCall (runtime/bench_test.go, HOSTCALL_BENCHTIME per case, about 3 s a round): byte-wise host
#      calls on the native engine without and with metering and on the Extism SDK, for issue 4's figure.
#   2. cmd/loadgen: the real server on loopback with receipts on, one server per Extism ABI engine in LOAD_ENGINES
#      (native, Toolgate's own and the default, and extism-sdk, the reference Extism Go SDK), LOAD_ROUNDS rounds of
#      every tool at every concurrency on every engine, each run bounded by LOAD_REQUESTS requests and LOAD_DURATION.
#      For each tool and concurrency the servers take turns of LOAD_SLICE (loadgen -slice) until each has had its
#      LOAD_DURATION, so that load from neighbours, which comes and goes over seconds, falls on all of them alike. With LOAD_RECEIPTS_OFF=1 (the default) a second native-engine server with receipts off
#      (loadgen -receipts-off) runs interleaved with them, for issue 7's figure: what the receipt log costs.
#   3. Optional: the peer comparison against wasmtime (bench/peers/run.sh --optional), a separate Go module that
#      needs cgo and a C compiler; skipped without them, and a failure there only leaves a note in the report.
#   4. cmd/benchreport: medians, ratios to raw wazero, the tables, the engines side by side and receipts on against
#      off, into docs/BENCHMARKS.md.
#
# Knobs (environment, defaults in brackets): ROUNDS [5], BENCHTIME [500ms], HOSTCALL_BENCHTIME [200ms], GC_GOGC [800], LOAD_ROUNDS [5], LOAD_DURATION [4s],
# LOAD_SLICE [500ms], LOAD_REQUESTS [1000000], LOAD_CONCURRENCY [1,8,64], LOAD_TOOLS [echo,hello], LOAD_ENGINES [native,extism-sdk],
# LOAD_RECEIPTS_OFF [1; 0 runs no receipts-off server, and the report has no "What the log costs"; 1 needs native
# in LOAD_ENGINES], REPORT [docs/BENCHMARKS.md],
# PEERS [1; 0 skips the peer comparison], and bench/peers/run.sh's PEERS_ROUNDS [7], PEERS_COUNT [2], PEERS_BENCHTIME [100ms].
# Raw outputs are kept in bench/out/ (gitignored).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
BENCHTIME=${BENCHTIME:-500ms}
HOSTCALL_BENCHTIME=${HOSTCALL_BENCHTIME:-200ms}
GC_GOGC=${GC_GOGC:-800}
LOAD_ROUNDS=${LOAD_ROUNDS:-5}
LOAD_DURATION=${LOAD_DURATION:-4s}
LOAD_SLICE=${LOAD_SLICE:-500ms}
LOAD_REQUESTS=${LOAD_REQUESTS:-1000000}
LOAD_CONCURRENCY=${LOAD_CONCURRENCY:-1,8,64}
LOAD_TOOLS=${LOAD_TOOLS:-echo,hello}
LOAD_ENGINES=${LOAD_ENGINES:-native,extism-sdk}
LOAD_RECEIPTS_OFF=${LOAD_RECEIPTS_OFF:-1}
REPORT=${REPORT:-docs/BENCHMARKS.md}
PEERS=${PEERS:-1}

if [ ! -f plugins/build/hello.wasm ]; then
	echo "bench/run.sh: plugins/build/hello.wasm is missing; build it with: bash plugins/build.sh (make plugins)" >&2
	exit 1
fi

out=bench/out
rm -rf "$out"
mkdir -p "$out"
# One wazero compilation cache for every subject and round: hello.wasm is compiled once, not per process.
export TOOLGATE_BENCH_CACHE="$PWD/$out/cache"

started=$(date +%s)
loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)
tmpfs=$(df -PT "${TMPDIR:-/tmp}" | awk 'NR==2 {print $2}')
commit=$(git describe --always --dirty 2>/dev/null || echo unknown)

go test -c -o "$out/bench.test" ./bench
go test -c -o "$out/runtime.test" ./runtime
go build -o "$out/loadgen" ./bench/cmd/loadgen

hostcall_cmd="runtime.test -test.run '^\$' -test.bench '^BenchmarkHostCall\$' -test.benchtime $HOSTCALL_BENCHTIME"
bench_cmd="bench.test -test.run '^\$' -test.bench '^BenchmarkFreshSandbox\$' -test.benchtime $BENCHTIME -test.benchmem"
for i in $(seq 1 "$ROUNDS"); do
	echo "== bench/run.sh: BenchmarkFreshSandbox round $i/$ROUNDS" >&2
	(cd bench && "../$out/bench.test" -test.run '^$' -test.bench '^BenchmarkFreshSandbox$' \
		-test.benchtime "$BENCHTIME" -test.benchmem) | tee -a "$out/bench.txt"
	# The same under a lazier collector, to show how much of each cost is garbage collection.
	(cd bench && GOGC=$GC_GOGC "../$out/bench.test" -test.run '^$' -test.bench '^BenchmarkFreshSandbox$' \
		-test.benchtime "$BENCHTIME" -test.benchmem) | tee -a "$out/bench-gogc.txt"
	# Byte-wise host calls (issue 4), from runtime/, where the test binary finds its fixtures.
	(cd runtime && "../$out/runtime.test" -test.run '^$' -test.bench '^BenchmarkHostCall$' \
		-test.benchtime "$HOSTCALL_BENCHTIME") | tee -a "$out/hostcall.txt"
done

echo "== bench/run.sh: HTTP load" >&2
receipts_args=()
if [ "$LOAD_RECEIPTS_OFF" = 1 ]; then
	receipts_args=(-receipts-off)
fi
load_cmd="loadgen -engines $LOAD_ENGINES${receipts_args:+ ${receipts_args[*]}} -c $LOAD_CONCURRENCY -tools $LOAD_TOOLS -rounds $LOAD_ROUNDS -d $LOAD_DURATION -slice $LOAD_SLICE -n $LOAD_REQUESTS"
"$out/loadgen" -engines "$LOAD_ENGINES" "${receipts_args[@]}" -c "$LOAD_CONCURRENCY" -tools "$LOAD_TOOLS" \
	-rounds "$LOAD_ROUNDS" -d "$LOAD_DURATION" -slice "$LOAD_SLICE" -n "$LOAD_REQUESTS" -cache "$TOOLGATE_BENCH_CACHE" -out "$out/load.jsonl"

# The peer comparison writes its section to $out/peers.md; benchreport puts it at the end of the report, or a
# note when it was skipped or failed.
peers_args=()
peers_cmd=""
if [ "$PEERS" = 1 ]; then
	echo "== bench/run.sh: peer comparison (bench/peers)" >&2
	if PEERS_OUT="$out/peers.md" PEERS_SPLICE="" bash bench/peers/run.sh --optional; then
		if [ -f "$out/peers.md" ]; then
			peers_args=(-peers "$out/peers.md")
			peers_cmd="bash bench/peers/run.sh --optional   # the peer comparison; its own commands are in its section"
		fi
	else
		echo "bench/run.sh: the peer comparison failed; the report says it was not measured" >&2
	fi
fi

loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)
cat >"$out/commands.txt" <<CMDS
make bench                 # = make toolchains plugins && bash bench/run.sh
# bench/run.sh, with ROUNDS=$ROUNDS BENCHTIME=$BENCHTIME HOSTCALL_BENCHTIME=$HOSTCALL_BENCHTIME LOAD_ROUNDS=$LOAD_ROUNDS LOAD_DURATION=$LOAD_DURATION LOAD_SLICE=$LOAD_SLICE LOAD_ENGINES=$LOAD_ENGINES LOAD_RECEIPTS_OFF=$LOAD_RECEIPTS_OFF:
go test -c -o bench/out/bench.test ./bench
go test -c -o bench/out/runtime.test ./runtime
go build -o bench/out/loadgen ./bench/cmd/loadgen
# $ROUNDS rounds of these three, the first two from bench/ with TOOLGATE_BENCH_CACHE=bench/out/cache, the third from runtime/:
$bench_cmd
GOGC=$GC_GOGC $bench_cmd
$hostcall_cmd
$load_cmd
$peers_cmd
CMDS
go run ./bench/cmd/benchreport -bench "$out/bench.txt" -load "$out/load.jsonl" -commands "$out/commands.txt" \
	-bench-gc "$out/bench-gogc.txt" -hostcall "$out/hostcall.txt" -gogc "$GC_GOGC" -loadavg-start "$loadavg_start" -loadavg-end "$loadavg_end" -tmpfs "$tmpfs" -commit "$commit" \
	-elapsed "$(($(date +%s) - started))s" -out "$REPORT" "${peers_args[@]}"
echo "bench/run.sh: wrote $REPORT (raw outputs in $out/)" >&2
