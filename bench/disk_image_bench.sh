#!/usr/bin/env bash
# screen3d-image on a FAT32 image of the corpus STL files, against `screen3d scan -r` on the same
# files in a folder (side by side, alternating, RUNS runs each, 2 threads): wall-time ratio, peak
# memory, and whether the verdicts and scores agree. Then the deleted-file checks: the mendel90_*
# files are deleted (`mdel`) and must all be found with their original SHA-256; their directory
# entries are then zeroed and `--carve` must cut them all out of the free blocks. The carving cost is
# timed on the image before the entries are zeroed, with and without --carve.
# Usage: bench/disk_image_bench.sh CORPUS_DIR [BUILD_DIR] [RUNS]   (needs dosfstools, mtools, python3)
set -euo pipefail
corpus=$1 build=${2:-build/release} runs=${3:-2}
image_bin=$build/plugins/screen3d-image scan_bin=$build/engine/screen3d
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export MTOOLS_SKIP_CHECK=1
. "$(dirname "$0")/fat_image_lib.sh"
mkdir "$work/dir"
cp "$corpus"/*.stl "$work/dir/"
kib=$(( $(du -sk "$work/dir" | cut -f1) * 2 + 65536 ))
img=$work/corpus.img
mkfs.fat -F 32 -C "$img" "$kib" >/dev/null
mmd -i "$img" ::/c
mcopy -i "$img" "$work"/dir/*.stl ::/c/
echo "== $(ls "$work"/dir/*.stl | wc -l) STL files, FAT32 image of $kib KiB"
for i in $(seq "$runs"); do
  timed "image  " "$work/image.json" "$image_bin" --threads 2 --json "$img"
  timed "scan -r" "$work/dir.json" "$scan_bin" scan -r --threads 2 --json "$work/dir"
done
python3 - "$work/image.json" "$work/dir.json" <<'PY'
import json, sys
def load(p):
    return {d["sha256"]: (d["verdict"], d["score"]) for d in map(json.loads, open(p))}
a, b = load(sys.argv[1]), load(sys.argv[2])
print(f"results: image {len(a)}, folder {len(b)}; differing verdict or score: {sum(a.get(k) != v for k, v in b.items())}")
PY
mdel -i "$img" "::/c/mendel90_*"
python3 - "$img" <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
print("deleted entries:", sum(1 for o in range(0, len(d) - 32, 32) if d[o] == 0xE5 and d[o + 8:o + 11] == b"STL"))
PY
# Carving cost: the same image with and without --carve (the deleted files' entries still exist, so
# carving finds nothing new to screen and the difference is reading and testing the free blocks).
for i in $(seq "$runs"); do
  timed "deleted        " "$work/deleted.json" "$image_bin" --threads 2 --json "$img"
  timed "deleted --carve" "$work/deleted_carve.json" "$image_bin" --threads 2 --json --carve "$img"
done
# Zero every deleted 8.3 entry and long-name entry: only carving can find those files now.
zero_deleted_entries "$img" "$work/wiped.img" STL
"$image_bin" --threads 2 --json --carve "$work/wiped.img" >"$work/carved.json" 2>/dev/null || true
python3 - "$corpus" "$work/deleted.json" "$work/carved.json" <<'PY'
import glob, hashlib, json, sys
orig = {hashlib.sha256(open(f, "rb").read()).hexdigest() for f in glob.glob(sys.argv[1] + "/mendel90_*.stl")}
deleted = [d for d in map(json.loads, open(sys.argv[2])) if d["image_file"]["deleted"]]
carved_dup = [d for d in map(json.loads, open(sys.argv[2].replace("deleted.json", "deleted_carve.json"))) if d["image_file"]["carved"]]
carved = [d for d in map(json.loads, open(sys.argv[3])) if d["image_file"]["carved"]]
print(f"deleted files: {len(orig)}; found by their entries: {len(deleted)}, intact {sum(d['sha256'] in orig for d in deleted)}; carved again: {len(carved_dup)}")
print(f"entries zeroed: carved {len(carved)}, equal to a deleted original {sum(d['sha256'] in orig for d in carved)}")
PY
