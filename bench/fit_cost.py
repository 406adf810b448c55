#!/usr/bin/env python3
"""Fit the FFT path's cost model of --conv auto (src/operator.c) to the
CSV files of several runs of

    build/speed --conv --threads 1 --reps 5 --mp 0.25,1,2,4,8,12 \
        --kernels 3,7,15,31,63,101 --csv runK.csv

taking for each case the fastest of the runs' medians (the machine is
shared), and print FFT_A and FFT_B of

    seconds = tiles P (FFT_A + FFT_B L),  P = ph pw, L = log2 P,

where tiles is the number of y's tiles, each one ph x pw transform
(operator.c's tile_size),

fitted by least squares on the relative error, and how far auto's choice
with the new model would be from the better path on each case (the direct
path's times are taken as measured).  Needs numpy.

usage: bench/fit_cost.py run1.csv run2.csv ...
"""
import sys

import numpy as np


def good_size(n, even):
    """src/fft.c's deconv_fft_good_size: prime factors 2, 3, 5, 7 only."""
    m = max(n, 1)
    while True:
        if not (even and m % 2):
            r = m
            for p in (2, 3, 5, 7):
                while r % p == 0:
                    r //= p
            if r == 1:
                return m
        m += 1


def tile_padded(k):
    """src/operator.c's tile_padded: 512, 640, 1024, 1280, ... >= 8 (k - 1)."""
    p = 512
    while True:
        if p >= 8 * (k - 1):
            return p
        if p // 4 * 5 >= 8 * (k - 1):
            return p // 4 * 5
        p *= 2


def tile_size(k, extent, even):
    """src/operator.c's tile_size: (outputs, transform) along one axis."""
    p = tile_padded(k)
    t = (p - k + 1) & ~3
    if t >= extent:
        p = good_size(((extent + 3) & ~3) + k - 1, even)
        t = (p - k + 1) & ~3
    return t, p


def tiles_and_points(n, m, k):
    """y's tiles and the points of one tile's transform, a k x k kernel."""
    th, ph = tile_size(k, m + k - 1, 0)
    tw, pw = tile_size(k, n + k - 1, 1)
    return -(-m // th) * -(-n // tw), ph * pw


def main(paths):
    best = {}
    for path in paths:
        for line in open(path):
            f = line.strip().split(",")
            if f[0] != "conv" or f[4] != "1":
                continue
            key = (int(f[1]), int(f[2]), int(f[3]))
            sd, sf = float(f[5]), float(f[6])
            old = best.get(key, (np.inf, np.inf))
            best[key] = (min(old[0], sd), min(old[1], sf))
    rows, cases = [], []
    for (n, m, k), (sd, sf) in sorted(best.items()):
        tiles, p = tiles_and_points(n, m, k)
        l = np.log2(p)
        rows.append([tiles * p / sf, tiles * p * l / sf])
        cases.append((n, m, k, tiles, p, l, sd, sf))
    a, b = np.linalg.lstsq(np.array(rows), np.ones(len(rows)), rcond=None)[0]
    print("#define FFT_A %.3e\n#define FFT_B %.3e" % (a, b))
    worst = 1.0
    for n, m, k, tiles, p, l, sd, sf in cases:
        # operator.c's FFT_ONE_TILE: a single tile is not in the fit's range
        model = tiles * p * (a + b * l) * (2.0 if tiles == 1 else 1.0)
        # the direct model's estimate is not refitted: compare the FFT
        # model with the measured direct time
        pick = sf if model < sd else sd
        over = pick / min(sd, sf)
        worst = max(worst, over)
        print("%5d x %4d k %2d: fft %.4f s (model %+.0f %%), direct %.4f s, pick %s, %.2fx best"
              % (n, m, k, sf, 100 * (model / sf - 1), sd, "fft" if model < sd else "direct", over))
    print("worst pick: %.2fx the better path" % worst)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
