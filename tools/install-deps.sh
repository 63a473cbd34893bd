#!/usr/bin/env bash
# Installs every Debian 12 package screen3d needs to build, test, benchmark and fuzz.
# Idempotent: apt-get install skips what is already there. Run as root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(
  build-essential cmake ninja-build git pkg-config
  libcgal-dev libgmp-dev libmpfr-dev libboost-dev
  libassimp-dev libtbb-dev libeigen3-dev libnanoflann-dev
  nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
  libsodium-dev libssl-dev libarchive-dev libzip-dev libpugixml-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
  prusa-slicer  # real slicer output for the G-code tests and the gcode evaluation classes
  libocct-data-exchange-dev  # OpenCASCADE: STEP and IGES files (geometry/formats/cad)
  libtsk-dev    # The Sleuth Kit: disk images for screen3d-image (plugins/forensic)
  dosfstools mtools ewf-tools ntfs-3g  # FAT, E01 and NTFS images built by the disk-image tests
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
