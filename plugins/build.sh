#!/usr/bin/env bash
# Builds the example and conformance plugins from source into plugins/build/<name>.wasm (gitignored), one
# language per script in plugins/scripts/: go, c (C and C++), rust, assemblyscript, zig, wat. With arguments,
# only those languages:
#   bash plugins/build.sh             (or: make plugins)
#   bash plugins/build.sh rust c
# Go needs only Go; the others need scripts/install-toolchains.sh. A missing toolchain skips that language,
# except under CI=true, where it fails the build.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
langs=("$@")
[ ${#langs[@]} -gt 0 ] || langs=(go c rust assemblyscript zig wat)
for l in "${langs[@]}"; do
	start=${EPOCHREALTIME/./}
	echo "plugins: $l" >&2
	bash "$here/scripts/build-$l.sh"
	ms=$(((${EPOCHREALTIME/./} - start) / 1000))
	echo "plugins: $l done in $((ms / 1000)).$((ms % 1000 / 100))s" >&2
done
