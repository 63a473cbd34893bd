#!/usr/bin/env bash
# What screening a single file in a worker process (the default, `--isolate`) costs against
# screening it in the scan process itself (`--no-isolate`), side by side: each example file is
# scanned once each way per round, the two ways alternated, and the summed wall times compared;
# then the same for `screen3d gate` on a clean G-code.
#   bash bench/isolate_cost.sh [build-dir] [db] [rounds]
# Default db: the demo database.
set -euo pipefail
build=${1:-build/release}
db=${2:-$build/examples/demo.s3db}
rounds=${3:-10}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$build/examples/s3d_make_examples" --examples "$work" >/dev/null
files=(pipe.stl bracket_70pct.obj bracket_reposed.stl print_plate.3mf gear_30t.stl)
now() { date +%s.%N; }
t_in=0
t_iso=0
for r in $(seq "$rounds"); do
  for f in "${files[@]}"; do
    t0=$(now)
    "$build/engine/screen3d" scan --no-isolate --db "$db" "$work/$f" > "$work/in.txt" || true
    t1=$(now)
    "$build/engine/screen3d" scan --db "$db" "$work/$f" > "$work/iso.txt" || true
    t2=$(now)
    cmp -s "$work/in.txt" "$work/iso.txt" || { echo "output differs for $f" >&2; exit 1; }
    t_in=$(echo "$t_in + $t1 - $t0" | bc)
    t_iso=$(echo "$t_iso + $t2 - $t1" | bc)
  done
done
n=$((rounds * ${#files[@]}))
echo "$n single-file scans each way: isolated (default) ${t_iso} s, in-process (--no-isolate) ${t_in} s"
echo "ratio isolated / in-process: $(echo "scale=3; $t_iso / $t_in" | bc)x"
# The slicer gate on a clean G-code (left in place), the same way.
here=$(cd "$(dirname "$0")/.." && pwd)
cp "$here/tests/fixtures/gcode/prusa_style.gcode" "$work/job.gcode"
g_in=0
g_iso=0
for r in $(seq "$rounds"); do
  t0=$(now)
  "$build/engine/screen3d" gate --no-isolate --db "$db" "$work/job.gcode"
  t1=$(now)
  "$build/engine/screen3d" gate --db "$db" "$work/job.gcode"
  t2=$(now)
  g_in=$(echo "$g_in + $t1 - $t0" | bc)
  g_iso=$(echo "$g_iso + $t2 - $t1" | bc)
done
echo "$rounds gate runs each way: isolated (default) ${g_iso} s, in-process (--no-isolate) ${g_in} s"
echo "ratio isolated / in-process: $(echo "scale=3; $g_iso / $g_in" | bc)x"
