#!/bin/sh
# Regenerates the test fixtures of runtime/fuel. Needs wabt (wat2wasm) and binaryen (wasm-opt):
#   apt-get install -y wabt binaryen
#   sh runtime/fuel/testdata/gen.sh        # kernels/*.wasm from kernels/*.wat
#   sh runtime/fuel/testdata/gen.sh ttf    # also ttf/*.wasm: random modules from wasm-opt -ttf, fixed seeds
set -eu
cd "$(dirname "$0")"
for f in kernels/*.wat; do
	wat2wasm "$f" -o "${f%.wat}.wasm"
done
[ "${1:-}" = ttf ] || exit 0
rm -rf ttf && mkdir ttf
base="--enable-sign-ext --enable-nontrapping-float-to-int --enable-bulk-memory --enable-mutable-globals"
i=0
while [ $i -lt 120 ]; do
	case $((i % 4)) in
	0) feats="$base" ;;
	1) feats="$base --enable-simd" ;;
	2) feats="$base --enable-multivalue" ;;
	3) feats="$base --enable-simd --enable-multivalue" ;;
	esac
	python3 -c "import random,sys; random.seed($i); sys.stdout.buffer.write(random.randbytes(512 + 48 * $i))" >ttf/seed
	# shellcheck disable=SC2086
	wasm-opt -ttf ttf/seed $feats -o "$(printf 'ttf/%03d.wasm' $i)" 2>/dev/null
	i=$((i + 1))
done
rm ttf/seed
