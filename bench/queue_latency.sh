#!/usr/bin/env bash
# The print-queue gateway against one `screen3d scan` run per job, side by side: the same files are
# dropped one at a time into a running `screen3d-queue` (each waited for until it has been moved
# on) and screened by a fresh `screen3d scan` process each, as a gateway without the daemon would.
# The daemon keeps the database loaded; the ratio shows what that saves per job for a database.
#   bash bench/queue_latency.sh [build-dir] [db] [rounds]
# Default db: the demo database. Files: the examples (a clean, a review, a restricted, a 3MF plate).
set -euo pipefail
build=${1:-build/release}
db=${2:-$build/examples/demo.s3db}
rounds=${3:-5}
work=$(mktemp -d)
queue_pid=
cleanup() { [ -n "$queue_pid" ] && kill "$queue_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$work/ex" "$work/in" "$work/ok" "$work/held"
"$build/examples/s3d_make_examples" --examples "$work/ex" >/dev/null
files=(pipe.stl bracket_70pct.obj bracket_reposed.stl print_plate.3mf gear_30t.stl)
now() { date +%s.%N; }

"$build/plugins/screen3d-queue" --db "$db" --inbox "$work/in" --approved "$work/ok" --held "$work/held" \
  --review approve > "$work/queue.log" 2>&1 &
queue_pid=$!
sleep 1
# Waiting costs no process start (the daemon's screening uses every core): builtins only, and a
# 2 ms pause read from a FIFO nobody writes to.
mkfifo "$work/fifo"
exec 3<> "$work/fifo"
delivered() { [ -e "$work/ok/$1" ] || compgen -G "$work/held/$1.*.held" > /dev/null; }
t_queue=0
t_scan=0
for r in $(seq "$rounds"); do
  for f in "${files[@]}"; do
    name="r$r-$f"
    cp "$work/ex/$f" "$work/$name.tmp"
    t0=$(now)
    mv "$work/$name.tmp" "$work/in/$name"        # one rename: the job arrives whole
    until delivered "$name"; do read -r -t 0.002 -u 3 || true; done
    t1=$(now)
    "$build/engine/screen3d" scan --db "$db" "$work/ex/$f" > /dev/null || true
    t2=$(now)
    t_queue=$(echo "$t_queue + $t1 - $t0" | bc -l)
    t_scan=$(echo "$t_scan + $t2 - $t1" | bc -l)
  done
done
n=$((rounds * ${#files[@]}))
echo "$n jobs against $(basename "$db"): screen3d-queue $(printf %.3f "$t_queue") s in all, one screen3d scan per job $(printf %.3f "$t_scan") s; queue / scan = $(echo "$t_queue / $t_scan" | bc -l | cut -c1-5)"
