#!/usr/bin/env bash
# Install what deconv needs to build, from Debian's packages. Installs only
# what is missing; uses sudo when not run as root (liblcms2-dev: LittleCMS,
# which reads ICC profiles; libjpeg-dev: JPEG output; libtiff-dev: TIFF;
# for the tests: valgrind, and exiftool (libimage-exiftool-perl), which
# reads the metadata of what deconv writes; Open MPI, for distributed runs,
# which the build uses when it finds it). With --fuzz, also what
# tests/fuzz/run.sh needs: clang, its libFuzzer and sanitizer runtimes
# (libclang-rt-dev) and its OpenMP (libomp-dev).
set -euo pipefail
packages=(build-essential cmake libpng-dev libstb-dev libfftw3-dev liblcms2-dev libjpeg-dev libtiff-dev
  valgrind libimage-exiftool-perl libopenmpi-dev openmpi-bin)
if [[ ${1:-} == --fuzz ]]; then
  packages+=(clang libclang-rt-dev libomp-dev)
elif [[ $# -gt 0 ]]; then
  echo "usage: install-deps.sh [--fuzz]" >&2
  exit 2
fi
# pkg-config: tests/package/check.sh builds a client of the installed
# library with it.
packages+=(pkg-config)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0
as_root=()
if [[ $(id -u) != 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root, or install sudo" >&2; exit 1; }
  as_root=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update
"${as_root[@]}" apt-get install -y "${missing[@]}"
