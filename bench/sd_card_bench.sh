#!/usr/bin/env bash
# A printer's SD card after its jobs were deleted: N corpus STL files sliced by prusa-slicer, each
# G-code also with every comment stripped, copied to a FAT32 image and deleted (`mdel`). Then their
# directory entries are zeroed, so only carving can find them. Reports how many `screen3d-image
# --carve` cuts out byte-identical, whether their verdicts and scores equal `screen3d scan` on the
# original files (side by side, alternating, RUNS runs each, 2 threads: wall-time ratio), and that
# with the entries intact carving offers nothing twice. The database holds the first K of the N
# parts, so some of the jobs are restricted.
# Usage: bench/sd_card_bench.sh CORPUS_DIR [BUILD_DIR] [N] [K] [RUNS]
#   (needs dosfstools, mtools, prusa-slicer, python3)
set -euo pipefail
corpus=$1 build=${2:-build/release} n=${3:-30} k=${4:-10} runs=${5:-2}
image_bin=$build/plugins/screen3d-image scan_bin=$build/engine/screen3d
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export MTOOLS_SKIP_CHECK=1
. "$(dirname "$0")/fat_image_lib.sh"
mkdir "$work/jobs"
mapfile -t stls < <(ls "$corpus"/*.stl | head -n "$n")
for f in "${stls[@]}"; do
  b=$(basename "$f" .stl)
  prusa-slicer --export-gcode -o "$work/jobs/$b.gcode" "$f" >/dev/null 2>&1 || { echo "slicing failed: $f"; continue; }
  sed -e 's/;.*$//' -e 's/[ \t]*$//' -e '/^$/d' "$work/jobs/$b.gcode" >"$work/jobs/${b}_stripped.gcode"
done
"$scan_bin" sig add --db "$work/ref.s3db" --label part --category other "${stls[@]:0:$k}" >/dev/null
kib=$(( $(du -sk "$work/jobs" | cut -f1) * 2 + 65536 ))
img=$work/sd.img
mkfs.fat -F 32 -C "$img" "$kib" >/dev/null
mcopy -i "$img" "$work"/jobs/*.gcode ::/
mdel -i "$img" "::/*.gcode"
echo "== $(ls "$work"/jobs/*.gcode | wc -l) G-code files ($(du -sh "$work/jobs" | cut -f1)), deleted on a FAT32 image of $kib KiB; database: $k parts"
timed "entries intact, --carve" "$work/intact.json" "$image_bin" --db "$work/ref.s3db" --threads 2 --json --carve "$img"
zero_deleted_entries "$img" "$work/wiped.img" GCO
for i in $(seq "$runs"); do
  timed "image --carve (entries zeroed)" "$work/carved.json" "$image_bin" --db "$work/ref.s3db" --threads 2 --json --carve "$work/wiped.img"
  timed "scan of the original files    " "$work/dir.json" "$scan_bin" scan -r --db "$work/ref.s3db" --threads 2 --json "$work/jobs"
done
python3 - "$work/jobs" "$work/intact.json" "$work/carved.json" "$work/dir.json" <<'PY'
import glob, hashlib, json, sys
orig = {hashlib.sha256(open(f, "rb").read()).hexdigest() for f in glob.glob(sys.argv[1] + "/*.gcode")}
intact = [d for d in map(json.loads, open(sys.argv[2]))]
carved = [d for d in map(json.loads, open(sys.argv[3])) if d["image_file"]["carved"]]
folder = {d["sha256"]: (d["verdict"], d["score"]) for d in map(json.loads, open(sys.argv[4]))}
print(f"entries intact: {len(intact)} results, {sum(d['image_file']['deleted'] for d in intact)} deleted, "
      f"{sum(d['image_file']['carved'] for d in intact)} carved")
same = sum(d["sha256"] in orig for d in carved)
print(f"entries zeroed: carved {len(carved)}, byte-identical to an original {same} of {len(orig)}, "
      f"cut short {sum(d['image_file'].get('carved_partial', False) for d in carved)}")
diff = sum(folder.get(d["sha256"]) != (d["verdict"], d["score"]) for d in carved)
verdicts = {}
for d in carved:
    verdicts[d["verdict"]] = verdicts.get(d["verdict"], 0) + 1
print(f"carved verdicts {verdicts}; differing verdict or score from the folder scan: {diff}")
PY
