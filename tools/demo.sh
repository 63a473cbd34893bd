#!/usr/bin/env bash
# Installs the Debian packages, builds (release preset) and runs the main job on the bundled examples:
# `screen3d info` and `screen3d scan` with the demo signature database the build produces.
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
