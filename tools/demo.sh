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
