#!/usr/bin/env bash
# Whole-process comparison, side by side in one run: `screen3d info` on a 1,000,000-triangle binary
# STL against a process that only loads the same file with Assimp (ReadFile +
# aiProcess_JoinIdenticalVertices, `load_bench --peak assimp`). Runs each 3 times, interleaved, and
# prints the median wall times, peak RSS and the ratio.
# Usage: bench/info_vs_assimp.sh [BUILD_DIR]   (default build/release)
set -euo pipefail
build=${1:-build/release}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
f=$dir/torus_1m.stl
"$build/bench/load_bench" --write "$f" >/dev/null
run() { /usr/bin/time -f "%e %M" "$@" >/dev/null 2>>"$dir/t" || true; tail -1 "$dir/t"; }
info=() assimp=()
for i in 1 2 3; do
  info+=("$(run "$build/engine/screen3d" info "$f")")
  assimp+=("$(run "$build/bench/load_bench" --peak assimp "$f")")
done
med() { printf '%s\n' "$@" | awk '{print $1}' | sort -n | sed -n 2p; }
rss() { printf '%s\n' "$@" | awk '{print $2}' | sort -n | sed -n 2p; }
mi=$(med "${info[@]}"); ma=$(med "${assimp[@]}")
echo "file: $(stat -c %s "$f") bytes, 1,000,000 triangles"
echo "screen3d info:          median ${mi} s, peak RSS $(rss "${info[@]}") KiB"
echo "assimp load + join:     median ${ma} s, peak RSS $(rss "${assimp[@]}") KiB"
awk -v a="$ma" -v b="$mi" 'BEGIN { printf "ratio assimp / info: %.1fx\n", a / b }'
