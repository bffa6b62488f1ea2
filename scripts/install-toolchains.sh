#!/usr/bin/env bash
# Installs what the tests need beyond Go, on a fresh Debian machine: wabt (wat2wasm, to check the committed WAT
# fixtures) and binaryen (wasm-opt, random modules for the fuel tests). Does nothing when they are present.
set -euo pipefail

need=()
command -v wat2wasm >/dev/null 2>&1 || need+=(wabt)
command -v wasm-opt >/dev/null 2>&1 || need+=(binaryen)
if [ ${#need[@]} -eq 0 ]; then
	exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
	sudo="sudo"
fi
echo "installing ${need[*]} (apt)" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
