#!/usr/bin/env bash
# Runs the peer comparison against wasmtime (bench/peers: fuel counts, kernel times with fuel, fresh instances)
# and writes its section of docs/BENCHMARKS.md in place, between the <!-- peers:begin/end --> markers. About a
# minute on 2 cores with the defaults.
#
# It needs cgo and a C compiler: wasmtime-go links the static libwasmtime.a that its module ships (the first run
# downloads the module, about 200 MB unpacked). That is why bench/peers is a module of its own and not part of
# `make test`. bench/run.sh (make bench) calls it with --optional, which skips it, exit status 0, when cgo or a
# C compiler is missing; without --optional a missing prerequisite is an error.
#
# Knobs (environment, defaults in brackets): PEERS_ROUNDS [7], PEERS_COUNT [2], PEERS_BENCHTIME [100ms],
# PEERS_OUT [bench/out/peers.md], PEERS_SPLICE [docs/BENCHMARKS.md; empty: only write PEERS_OUT].
set -euo pipefail
cd "$(dirname "$0")/../.."

optional=false
if [ "${1:-}" = "--optional" ]; then
	optional=true
fi
ROUNDS=${PEERS_ROUNDS:-7}
COUNT=${PEERS_COUNT:-2}
BENCHTIME=${PEERS_BENCHTIME:-100ms}
OUT=${PEERS_OUT:-bench/out/peers.md}
SPLICE=${PEERS_SPLICE-docs/BENCHMARKS.md}

skip() {
	if $optional; then
		echo "bench/peers/run.sh: skipped: $*" >&2
		exit 0
	fi
	echo "bench/peers/run.sh: $*" >&2
	exit 1
}
[ "$(go env CGO_ENABLED)" = 1 ] || skip "cgo is off (go env CGO_ENABLED); wasmtime-go needs it"
cc=$(go env CC)
command -v "${cc%% *}" >/dev/null 2>&1 || skip "no C compiler ($cc); wasmtime-go needs one"
case "$(go env GOOS)/$(go env GOARCH)" in
linux/amd64 | linux/arm64 | darwin/amd64 | darwin/arm64 | windows/amd64) ;;
*) skip "wasmtime-go ships no libwasmtime.a for $(go env GOOS)/$(go env GOARCH)" ;;
esac

abs() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac }
out_abs=$(abs "$OUT")
mkdir -p bench/out "$(dirname "$out_abs")"
bin=$PWD/bench/out
splice_args=()
if [ -n "$SPLICE" ]; then
	splice_args=(-splice "$(abs "$SPLICE")")
fi
commit=$(git describe --always --dirty 2>/dev/null || echo unknown)

cd bench/peers
echo "== bench/peers/run.sh: building (cgo, links libwasmtime.a)" >&2
go test -c -o "$bin/peers.test" .
go build -o "$bin/peerreport" ./cmd/peerreport
"$bin/peerreport" -test "$bin/peers.test" -rounds "$ROUNDS" -count "$COUNT" -benchtime "$BENCHTIME" -commit "$commit" \
	-raw "$bin/peers.txt" -out "$out_abs" "${splice_args[@]}"
echo "bench/peers/run.sh: wrote $OUT${SPLICE:+ and its section of $SPLICE} (raw output in bench/out/peers.txt)" >&2
