#!/usr/bin/env bash
# Peak memory of the streaming scan (4 KiB chunks) on a short and a long G-code of the same part
# footprint: tubes 10 mm and 100 mm tall, 12 copies on the plate, sliced with prusa-slicer (about
# 10 MB and 100 MB of G-code). Flat memory means the long file costs no more than the short one.
#   bash bench/stream_memory.sh [build-dir]
set -euo pipefail
build=${1:-build/release}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
db="$build/examples/demo.s3db"
for h in 10 100; do
  "$build/bench/stream_bench" tube "$h" "$work/tube$h.stl"
  prusa-slicer --export-gcode --loglevel 0 --bed-shape 0x0,300x0,300x300,0x300 --max-print-height 200 --duplicate 12 \
    -o "$work/tube$h.gcode" "$work/tube$h.stl" >/dev/null 2>&1
  "$build/bench/stream_bench" feed "$db" "$work/tube$h.gcode"
done
