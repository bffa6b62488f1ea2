#!/usr/bin/env bash
# C and C++ plugins on sdk/c/toolgate.h: Extism plugins without a libc (--target=wasm32 -nostdlib), WASI
# commands against wasi-libc (--target=wasm32-wasi). Needs clang, lld, wasi-libc (Debian).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need C "$CLANG" || exit 0
cflags=(-O2 -Wall -Wextra -Werror -I "$sdk/c")
ext=(--target=wasm32 -nostdlib -Wl,--no-entry -Wl,--strip-all)
"$CLANG" "${ext[@]}" "${cflags[@]}" -o "$out/conformance-c.wasm" "$root/conformance/c/conformance.c"
"$CLANGXX" "${ext[@]}" "${cflags[@]}" -fno-exceptions -fno-rtti -o "$out/conformance-cpp.wasm" "$root/conformance/cpp/conformance.cc"
"$CLANG" --target=wasm32-wasi "${cflags[@]}" -Wl,--strip-all -o "$out/conformance-c-cmd.wasm" "$root/conformance/c/conformance_cmd.c"
built conformance-c conformance-cpp conformance-c-cmd
