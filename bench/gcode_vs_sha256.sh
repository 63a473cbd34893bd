#!/usr/bin/env bash
# Whole-file G-code screening against sha256sum on the same file, side by side (issue: a 100 MB
# G-code file is screened end to end in at most 8x the time of sha256sum). Also peak memory at two
# sizes (10 MB vs 100 MB) for the streaming claim. Needs prusa-slicer and a release build.
#   bash bench/gcode_vs_sha256.sh [build-dir] [runs]
set -euo pipefail
build=${1:-build/release}
runs=${2:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
bin="$build/engine/screen3d"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/ex" && "$build/examples/s3d_make_examples" --examples "$work/ex" >/dev/null
db="$build/examples/demo.s3db"
# A plate of gears: --duplicate N copies of the example gear on a large bed.
slice() { prusa-slicer --export-gcode --loglevel 0 --bed-shape "0x0,$2x0,$2x$2,0x$2" --duplicate "$1" -o "$3" "$work/ex/gear_30t.stl" >/dev/null 2>&1; }
slice 6 250 "$work/small.gcode"
slice 62 640 "$work/big.gcode"
for f in small big; do echo "$f.gcode: $(stat -c %s "$work/$f.gcode") bytes"; done
wall() { /usr/bin/time -f "%e %M" "$@" 2>&1 >/dev/null | tail -1; }
for i in $(seq "$runs"); do
  s=$(wall sha256sum "$work/big.gcode")
  g=$(wall "$bin" scan --db "$db" "$work/big.gcode" || true)
  echo "run $i: sha256sum ${s% *} s; screen3d scan ${g% *} s (peak ${g#* } KiB); ratio $(echo "${g% *} / ${s% *}" | bc -l | cut -c1-5)"
done
echo "peak RSS: small $(wall "$bin" scan --db "$db" "$work/small.gcode" | cut -d' ' -f2) KiB, big $(wall "$bin" scan --db "$db" "$work/big.gcode" | cut -d' ' -f2) KiB"
