#!/usr/bin/env bash
# The committed example inputs are exactly what s3d_make_examples generates.
# Usage: examples_reproducible.sh MAKE_EXAMPLES_BINARY EXAMPLES_DIR
set -euo pipefail
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
"$1" --examples "$d"
for f in "$2"/*; do
  cmp "$f" "$d/$(basename "$f")" || { echo "differs: $(basename "$f")"; exit 1; }
done
[ "$(ls "$d" | wc -l)" -eq "$(ls "$2" | wc -l)" ] || { echo "file sets differ"; exit 1; }
echo "examples reproducible: $(ls "$2" | wc -l) files"
