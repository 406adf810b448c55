#!/usr/bin/python3
"""Compare deconv's speed with scikit-image and OpenCV (issue 4).

  - one iteration of skimage.restoration.richardson_lucy on a 4 MP gray
    image with a 31x31 kernel, against one iteration of our image step
    (bench/speed --step: deconv_image_step, tol 0, median of several);
    goal: ours at least 4x faster;
  - cv2.filter2D on 12 MP with 31x31 and 7x7 kernels, against our valid
    convolution (bench/speed --conv, the path auto picks); goal: at least
    as fast with 31x31, within 1.2x with 7x7;
  - 2 threads against 1 on 12 MP (our convolution and image step); goal:
    at least 1.7x.

Times are medians of REPS runs, with 1 and 2 threads for each library
(cv2.setNumThreads; scikit-image's richardson_lucy uses scipy's FFT
convolution and is single-threaded). Usage:

  /usr/bin/python3 bench/compare.py [path/to/speed] [--reps N]

Needs python3-skimage and python3-opencv (apt-get install); a library that
is missing is skipped.
"""
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

REPS = 5


def median_time(fn, reps=REPS):
    fn()  # warm: imports, plans, pages
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return statistics.median(t)


def photo_size(mp):
    m = round((mp * 1e6 * 3 / 4) ** 0.5)
    return round(m * 4 / 3), m  # width, height, as bench/speed


def run_speed(speed, args):
    with tempfile.NamedTemporaryFile(suffix=".csv", delete=False) as f:
        path = f.name
    try:
        subprocess.run([speed] + args + ["--csv", path], check=True, stdout=subprocess.DEVNULL)
        with open(path) as f:
            return [row for row in csv.reader(f) if row and not row[0].startswith("#")]
    finally:
        os.unlink(path)


def main():
    global REPS
    args = sys.argv[1:]
    speed = "build/speed"
    while args:
        a = args.pop(0)
        if a == "--reps":
            REPS = int(args.pop(0))
        else:
            speed = a
    rng = np.random.default_rng(1)
    print("== ours (bench/speed) ==", flush=True)
    conv = run_speed(speed, ["--conv", "--mp", "12", "--kernels", "7,31", "--reps", str(REPS)])
    step = run_speed(speed, ["--step", "--reps", str(REPS)])
    # conv rows: conv,N,M,k,threads,s_direct,s_fft,gt_direct,gt_fft,auto,ratio
    ours_conv = {}
    for r in conv:
        k, th = int(r[3]), int(r[4])
        s = float(r[6]) if r[9] == "fft" else float(r[5])
        ours_conv[(k, th)] = (s, r[9])
    ours_step = {}
    for r in step:  # step,N,M,k,threads,s_per_iter,path
        mp = round(int(r[1]) * int(r[2]) / 1e6)
        ours_step[(mp, int(r[4]))] = float(r[5])
    for (k, th), (s, path) in sorted(ours_conv.items()):
        print(f"valid conv 12 MP {k}x{k}, {th} thread(s): {s:.4f} s ({path})")
    for (mp, th), s in sorted(ours_step.items()):
        print(f"image step {mp} MP, {th} thread(s): {s:.4f} s/iteration")

    print("\n== scikit-image richardson_lucy, 4 MP gray, 31x31, 1 iteration ==", flush=True)
    try:
        from skimage import restoration
        w, h = photo_size(4)
        img = rng.random((h, w), dtype=np.float64)
        psf = np.ones((31, 31)) / 961.0
        try:
            fn = lambda: restoration.richardson_lucy(img, psf, num_iter=1, clip=False)
            fn()
        except TypeError:  # scikit-image < 0.19
            fn = lambda: restoration.richardson_lucy(img, psf, iterations=1, clip=False)
        t_rl = median_time(fn)
        print(f"skimage: {t_rl:.4f} s/iteration")
        for th in (1, 2):
            if (4, th) in ours_step:
                s = ours_step[(4, th)]
                r = t_rl / s
                print(f"ours, {th} thread(s): {s:.4f} s/iteration: {r:.1f}x faster "
                      f"({'meets' if r >= 4 else 'misses'} the goal of 4x)")
    except ImportError as e:
        print(f"skipped: {e}")

    print("\n== OpenCV filter2D, 12 MP, float32 ==", flush=True)
    try:
        import cv2
        w, h = photo_size(12)
        img = rng.random((h, w), dtype=np.float32)
        for k in (31, 7):
            ker = rng.random((k, k), dtype=np.float32)
            ker /= ker.sum()
            for th in (1, 2):
                cv2.setNumThreads(th)
                t_cv = median_time(lambda: cv2.filter2D(img, -1, ker))
                s, path = ours_conv.get((k, th), (float("nan"), "?"))
                r = s / t_cv
                goal = 1.0 if k == 31 else 1.2
                print(f"{k}x{k}, {th} thread(s): OpenCV {t_cv:.4f} s, ours {s:.4f} s ({path}): "
                      f"ours/OpenCV = {r:.2f} ({'meets' if r <= goal else 'misses'} the goal "
                      f"<= {goal})")
    except ImportError as e:
        print(f"skipped: {e}")

    print("\n== 2 threads against 1, 12 MP ==")
    for k in (7, 31):
        if (k, 1) in ours_conv and (k, 2) in ours_conv:
            r = ours_conv[(k, 1)][0] / ours_conv[(k, 2)][0]
            print(f"valid conv {k}x{k}: {r:.2f}x ({'meets' if r >= 1.7 else 'misses'} 1.7x)")
    if (12, 1) in ours_step and (12, 2) in ours_step:
        r = ours_step[(12, 1)] / ours_step[(12, 2)]
        print(f"image step: {r:.2f}x ({'meets' if r >= 1.7 else 'misses'} 1.7x)")


if __name__ == "__main__":
    main()
