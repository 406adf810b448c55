#!/usr/bin/env bash
# Make the README's pictures from the sample: the restored photo by
# `deconv blind`, and the true and estimated kernels enlarged 8 times
# (nearest neighbour, so each kernel pixel stays a square; deconv writes a
# kernel PNG with its maximum white).
#   docs/make-figures.sh [BUILD_DIR]        (needs Debian's imagemagick)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/deconv" blind samples/coffee-shaken.png -o docs/coffee-restored.png \
  --kernel-out "$tmp/estimated.png" --bits 8
"$build/deconv" psf --psf samples/shake-kernel.csv -o "$tmp/true.png"
for name in true estimated; do
  convert "$tmp/$name.png" -depth 8 -filter point -scale 800% "docs/kernel-$name.png"
done
echo "docs/coffee-restored.png docs/kernel-true.png docs/kernel-estimated.png written"
