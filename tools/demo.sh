#!/usr/bin/env bash
# Installs the Debian packages, builds (release preset) and runs the main job on the bundled examples:
# `screen3d info` and `screen3d scan` with the demo signature database the build produces, the same
# on G-code that prusa-slicer makes, `screen3d-image` on a FAT image holding a deleted copy, and
# `screen3d-queue --once` on an inbox of the examples.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake --preset release
cmake --build --preset release
echo "== screen3d info examples/files/*"
./build/release/engine/screen3d info examples/files/* || true
echo "== screen3d scan examples/files/*   (exit 1 = something matched, the expected outcome here)"
set +e
./build/release/engine/screen3d scan examples/files/*
rc=$?
set -e
echo "== scan exit status: $rc"
[ "$rc" -eq 1 ]
echo "== G-code: the plate and the pipe sliced by prusa-slicer, and the plate with every comment stripped"
g=build/release/examples/gcode
mkdir -p "$g"
prusa-slicer --export-gcode --loglevel 0 -o "$g/print_plate.gcode" examples/files/print_plate.3mf >/dev/null
prusa-slicer --export-gcode --loglevel 0 -o "$g/pipe.gcode" examples/files/pipe.stl >/dev/null
sed -e 's/;.*//' -e '/^[[:space:]]*$/d' "$g/print_plate.gcode" > "$g/print_plate_stripped.gcode"
set +e
./build/release/engine/screen3d scan "$g"/*.gcode
rc=$?
set -e
echo "== G-code scan exit status: $rc"
[ "$rc" -eq 1 ]
echo "== Disk image: the examples on a FAT image, one renamed and then deleted; screen3d-image finds it"
img=build/release/examples/demo_disk.img
rm -f "$img"
mkfs.fat -C "$img" 8192 >/dev/null
export MTOOLS_SKIP_CHECK=1
mmd -i "$img" ::/jobs ::/old
mcopy -i "$img" examples/files/gear_30t.stl examples/files/pipe.stl ::/jobs/
mcopy -i "$img" examples/files/bracket_reposed.stl ::/old/holiday.jpg
mdel -i "$img" ::/old/holiday.jpg
set +e
./build/release/plugins/screen3d-image "$img"
rc=$?
set -e
echo "== disk image exit status: $rc"
[ "$rc" -eq 1 ]
echo "== Print queue: the examples dropped into an inbox; screen3d-queue --once moves each on"
q=build/release/examples/queue
rm -rf "$q"
mkdir -p "$q/inbox" "$q/approved"
cp examples/files/* "$q/inbox/"
set +e
./build/release/plugins/screen3d-queue --inbox "$q/inbox" --approved "$q/approved" --held "$q/held" --once
rc=$?
set -e
echo "== queue exit status: $rc; approved: $(ls "$q/approved" | tr '\n' ' ')"
[ "$rc" -eq 1 ]
