#!/usr/bin/env bash
# Zig plugins on sdk/zig/toolgate.zig with Zig 0.11 from plugins/.toolchains (scripts/install-toolchains.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need Zig "$ZIG" || exit 0
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
export ZIG_GLOBAL_CACHE_DIR="$tmp/cache" ZIG_LOCAL_CACHE_DIR="$tmp/cache"
cp "$sdk/zig/toolgate.zig" "$root/conformance/zig/conformance.zig" "$tmp/"
(cd "$tmp" && "$ZIG" build-lib conformance.zig -target wasm32-freestanding -dynamic -rdynamic -O ReleaseSmall \
	-femit-bin="$out/conformance-zig.wasm")
rm -f "$out/conformance-zig.wasm.o" # zig leaves its object file beside the module
built conformance-zig
