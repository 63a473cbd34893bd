#!/usr/bin/env bash
# Two screen3d builds side by side on what hashing dominates: a 1 GB file that is not 3D (read,
# hashed, skipped) and a 124 MB G-code (62 gears sliced by prusa-slicer), with sha256sum as the
# reference for the G-code. Used for the switch of the input hash from libsodium to libcrypto.
#   bash bench/hash_ab.sh OLD_SCREEN3D NEW_SCREEN3D [build-dir] [runs]
#   (an old build: git worktree add /tmp/old <commit> && cmake --preset release -S /tmp/old &&
#    cmake --build /tmp/old/build/release --target screen3d)
set -euo pipefail
old=$1 new=$2 build=${3:-build/release} runs=${4:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/ex" && "$build/examples/s3d_make_examples" --examples "$work/ex" >/dev/null
db="$build/examples/demo.s3db"
prusa-slicer --export-gcode --loglevel 0 --bed-shape "0x0,640x0,640x640,0x640" --duplicate 62 \
  -o "$work/big.gcode" "$work/ex/gear_30t.stl" >/dev/null 2>&1
head -c 1000000000 /dev/urandom >"$work/random.bin"
echo "big.gcode: $(stat -c %s "$work/big.gcode") bytes; random.bin: $(stat -c %s "$work/random.bin") bytes"
wall() { /usr/bin/time -f "%e" "$@" 2>&1 >/dev/null | tail -1; }
ratio() { echo "$1 / $2" | bc -l | cut -c1-5; }
for i in $(seq "$runs"); do
  s=$(wall sha256sum "$work/big.gcode")
  a=$(wall "$old" scan --db "$db" "$work/big.gcode" || true)
  b=$(wall "$new" scan --db "$db" "$work/big.gcode" || true)
  echo "run $i, G-code: sha256sum $s s; old $a s ($(ratio "$a" "$s")x); new $b s ($(ratio "$b" "$s")x)"
  a=$(wall "$old" scan --db "$db" "$work/random.bin" || true)
  b=$(wall "$new" scan --db "$db" "$work/random.bin" || true)
  echo "run $i, 1 GB not 3D: old $a s; new $b s (new $(ratio "$a" "$b")x faster)"
done
