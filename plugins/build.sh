#!/usr/bin/env bash
# Builds the Go example plugins into plugins/build/<name>.wasm (gitignored):
#   hello.wasm  an Extism tool (go-pdk, -buildmode=c-shared)
#   wc.wasm     a WASI command
# Needs only Go (1.24+ for go:wasmexport) and the module proxy for go-pdk. Run from anywhere:
#   bash plugins/build.sh      (or: make -C plugins)
set -euo pipefail
root="$(cd "$(dirname "$0")" && pwd)"
out="$root/build"
mkdir -p "$out"
cd "$root/go"
export GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0
go build -trimpath -buildmode=c-shared -o "$out/hello.wasm" ./hello
go build -trimpath -o "$out/wc.wasm" ./wc
echo "built: $(cd "$out" && ls *.wasm | tr '\n' ' ')"
