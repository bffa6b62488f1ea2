#!/usr/bin/env bash
# Rust plugins on sdk/rust/toolgate.rs with Debian's rustc 1.63 and no cargo or crates: Extism plugins as
# cdylibs for wasm32-unknown-unknown (with std, and once as #![no_std]), WASI commands for wasm32-wasi.
# Needs rustc and libstd-rust-dev-wasm32 (Debian), used as /usr/bin/rustc: a rustup rustc earlier on PATH has no
# wasm targets.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need Rust "$RUSTC" || exit 0
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# `mod toolgate;` finds the kit beside the tool's source: copy both into one directory.
cp "$sdk/rust/toolgate.rs" "$root/conformance/rust/conformance.rs" "$root/conformance/rust/conformance_cmd.rs" \
	"$root/examples/rust/slugify.rs" "$tmp/"
flags=(--edition 2021 -C opt-level=s -C panic=abort -C strip=symbols)
"$RUSTC" "${flags[@]}" --target wasm32-unknown-unknown --crate-type cdylib \
	-o "$out/conformance-rust.wasm" "$tmp/conformance.rs"
RUSTC_BOOTSTRAP=1 "$RUSTC" "${flags[@]}" --target wasm32-unknown-unknown --crate-type cdylib --cfg nostd \
	-o "$out/conformance-rust-nostd.wasm" "$tmp/conformance.rs"
"$RUSTC" "${flags[@]}" --target wasm32-wasi -o "$out/conformance-rust-cmd.wasm" "$tmp/conformance_cmd.rs"
"$RUSTC" "${flags[@]}" --target wasm32-unknown-unknown --crate-type cdylib -o "$out/slugify.wasm" "$tmp/slugify.rs"
built conformance-rust conformance-rust-nostd conformance-rust-cmd slugify
