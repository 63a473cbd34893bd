#!/usr/bin/env bash
# Installs the Debian packages, builds (release preset) and runs the whole test suite with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake --preset release
cmake --build --preset release
ctest --preset release --output-on-failure -j"$(nproc)"
