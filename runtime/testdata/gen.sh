#!/usr/bin/env bash
# Regenerates every runtime/testdata/*.wasm from its .wat with wat2wasm (wabt). The .wasm files are committed;
# TestTestdata_InSync checks they match. Install wabt with `apt-get install -y wabt`.
set -euo pipefail
cd "$(dirname "$0")"
command -v wat2wasm >/dev/null || { echo "gen.sh: wat2wasm not found; apt-get install -y wabt" >&2; exit 1; }
for wat in *.wat; do
	wat2wasm "$wat" -o "${wat%.wat}.wasm"
done
