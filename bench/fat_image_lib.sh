# Shell functions for the disk-image benchmarks (sourced by disk_image_bench.sh and sd_card_bench.sh).
# They use $work (a scratch folder the caller made).

# timed LABEL OUTPUT COMMAND...: runs COMMAND with stdout to OUTPUT; prints "LABEL seconds peak-KB".
timed() {
  local label=$1 out=$2
  shift 2
  /usr/bin/time -f "$label %e s %M KB" "$@" >"$out" 2>"$work/time.txt" || true
  tail -1 "$work/time.txt"
}

# zero_deleted_entries IMAGE OUT EXT: writes IMAGE to OUT with every deleted FAT 8.3 entry whose
# extension is EXT, and every deleted long-name entry, zeroed: only carving can find those files.
zero_deleted_entries() {
  python3 - "$1" "$2" "$3" <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
ext = sys.argv[3].encode()
n = 0
for o in range(0, len(d) - 32, 32):
    e = d[o:o + 32]
    if e[0] == 0xE5 and (e[11] == 0x0F or (e[11] & 0x18) == 0 and e[8:11] == ext):
        d[o:o + 32] = bytes(32)
        n += 1
open(sys.argv[2], "wb").write(d)
print("zeroed directory entries:", n)
PY
}
