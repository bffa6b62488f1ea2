#!/usr/bin/env bash
# Go plugins (the plugins/go module; the Go kit is sdk/go): Extism plugins with -buildmode=c-shared, WASI
# commands without. Needs only Go and the module proxy (for go-pdk).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$root/go"
export GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0
go build -trimpath -buildmode=c-shared -o "$out/hello.wasm" ./hello
go build -trimpath -o "$out/wc.wasm" ./wc
go build -trimpath -buildmode=c-shared -o "$out/refund.wasm" ./refund
go build -trimpath -buildmode=c-shared -o "$out/jsonpick.wasm" ./jsonpick
go build -trimpath -buildmode=c-shared -o "$out/conformance-go.wasm" ./conformance
go build -trimpath -o "$out/conformance-go-cmd.wasm" ./conformance-cmd
built hello wc refund jsonpick conformance-go conformance-go-cmd
