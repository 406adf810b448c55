#!/usr/bin/env bash
# Make the README's pictures from the sample: the restored photo by
# `deconv blind`, and the true and estimated kernels enlarged 8 times
# (nearest neighbour, so each kernel pixel stays a square).
#   docs/make-figures.sh [BUILD_DIR]        (needs Debian's python3-skimage)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/deconv" blind samples/coffee-shaken.png -o docs/coffee-restored.png \
  --kernel-size 19 --kernel-out "$tmp/estimated.png" --bits 8
"$build/deconv" psf --psf samples/shake-kernel.csv -o "$tmp/true.png"
/usr/bin/python3 - "$tmp" <<'PY'
import sys
import numpy as np
from skimage import io
tmp = sys.argv[1]
for name in ("true", "estimated"):
    k = io.imread(f"{tmp}/{name}.png").astype(np.float64)
    k = np.round(255 * k / k.max()).astype(np.uint8)
    io.imsave(f"docs/kernel-{name}.png", np.kron(k, np.ones((8, 8), np.uint8)),
              check_contrast=False)
PY
echo "docs/coffee-restored.png docs/kernel-true.png docs/kernel-estimated.png written"
