#!/usr/bin/env bash
# Two screen3d builds side by side on the same files, for a change that should only make scanning
# faster: each build scans the whole list in one process (--threads 1, --json), alternately, RUNS
# times; prints each run's wall time, the ratio of the medians, and the files whose verdict or
# score differ between the two (scores compared at the JSON's 4 decimals).
# Usage: bench/compare_scans.sh OLD_SCREEN3D NEW_SCREEN3D DB LIST_FILE [RUNS]
#   LIST_FILE: one path per line. To get an old build: git worktree add /tmp/old <commit> &&
#   cmake --preset release -S /tmp/old && cmake --build /tmp/old/build/release --target screen3d
set -euo pipefail
old=$1 new=$2 db=$3 list=$4 runs=${5:-2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mapfile -t files <"$list"
# Both in-process: builds since session 11 isolate a scan of several files by default (a worker
# process); --no-isolate, where the build knows it, keeps the two builds comparable.
mode() { if "$1" scan --help 2>/dev/null | grep -q -- --no-isolate; then echo --no-isolate; fi; }
run() {  # binary, output file; prints the wall time in seconds
  local t0 t1
  t0=$(date +%s.%N)
  # shellcheck disable=SC2046
  "$1" scan --threads 1 $(mode "$1") --db "$db" --json "${files[@]}" >"$2" 2>/dev/null || true
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc
}
to=() tn=()
for i in $(seq "$runs"); do
  to+=("$(run "$old" "$work/old.json")")
  tn+=("$(run "$new" "$work/new.json")")
  echo "run $i: old ${to[-1]} s, new ${tn[-1]} s"
done
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
mo=$(med "${to[@]}") mn=$(med "${tn[@]}")
echo "${#files[@]} files; median old ${mo} s, new ${mn} s; new / old = $(echo "scale=3; $mn / $mo" | bc)"
python3 - "$work/old.json" "$work/new.json" <<'EOF'
import json, sys
def load(p):
    out = {}
    for line in open(p):
        try:
            d = json.loads(line)
        except ValueError:
            continue
        out[d["path"]] = (d["verdict"], d["score"])
    return out
a, b = load(sys.argv[1]), load(sys.argv[2])
diff = [k for k in a if a[k] != b.get(k)]
print(f"verdicts: {sum(a[k][0] != b.get(k, (None,))[0] for k in a)} of {len(a)} differ; scores: {len(diff)} differ")
for k in diff:
    print(f"  {k.split('/')[-1]}: {a[k]} -> {b.get(k)}")
EOF
