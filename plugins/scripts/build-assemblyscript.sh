#!/usr/bin/env bash
# AssemblyScript plugins on sdk/assemblyscript (over @extism/as-pdk 1.0.0), compiled with asc 0.28.20 from
# plugins/.toolchains (scripts/install-toolchains.sh installs it).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need AssemblyScript "$ASC" || exit 0
need AssemblyScript node || exit 0
# asc resolves "@extism/as-pdk" from the node_modules above its working directory: build in a directory beside
# plugins/.toolchains/node_modules.
tmp="$root/.toolchains/build-as"
rm -rf "$tmp" && mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
cp "$sdk/assemblyscript/toolgate.ts" "$root/conformance/assemblyscript/conformance.ts" "$tmp/"
(cd "$tmp" && node "$ASC" conformance.ts --outFile "$out/conformance-as.wasm" --optimize --use abort=toolgate/abort)
built conformance-as
