#!/usr/bin/env python3
"""Non-blind restoration: deconv deblur against scikit-image's Richardson-Lucy
and Wiener filters at their best settings (each given the true kernel, the
blurry image extended by edge replication to spare it border artifacts, and
the best of a sweep of its parameter chosen with the ground truth).

    bench/nonblind_vs_skimage.py [BUILD_DIR] [PHOTOS_DIR]

Needs Debian's python3-skimage. Prints PSNR (dB) of each method against the
sharp photo, over the frame of the blurry image."""
import os, subprocess, sys, tempfile
import numpy as np
from skimage import io, restoration

build = sys.argv[1] if len(sys.argv) > 1 else "build"
photos = sys.argv[2] if len(sys.argv) > 2 else "../shared/data/photos"
deconv = os.path.join(build, "deconv")


def psnr(a, b):
    return 10 * np.log10(1.0 / np.mean((a - b) ** 2))


def gray(img):
    img = img.astype(np.float64) / 255.0
    return img if img.ndim == 2 else img[..., :3] @ [0.2126, 0.7152, 0.0722]


def run(*args):
    subprocess.run([deconv, *args], check=True)


kernels = [("motion 15 at 30", ["--motion", "15,30"]), ("gaussian 2.0", ["--gaussian", "2"]),
           ("disk 4", ["--disk", "4"])]
print(f"{'photo':10} {'kernel':16} {'noise':>5} {'blurry':>7} {'RL':>7} {'Wiener':>7} {'deconv':>7}")
with tempfile.TemporaryDirectory() as tmp:
    for name in ("camera", "astronaut", "coffee"):
        src = os.path.join(photos, name + ".png")
        sharp = gray(io.imread(src))
        gpath = os.path.join(tmp, name + "_gray.png")
        io.imsave(gpath, np.round(sharp * 255).astype(np.uint8), check_contrast=False)
        for kname, kflags in kernels:
            kcsv = os.path.join(tmp, "k.csv")
            run("psf", *kflags, "-o", kcsv)
            k = np.loadtxt(kcsv, delimiter=",", ndmin=2)
            kh, kw = k.shape
            truth = sharp[(kh - 1) // 2:, (kw - 1) // 2:]
            for noise in (0.005, 0.01, 0.02):
                blurry, out = os.path.join(tmp, "b.png"), os.path.join(tmp, "d.png")
                run("blur", gpath, "-o", blurry, *kflags, "--noise", str(noise), "--seed", "1")
                y = io.imread(blurry).astype(np.float64) / 255.0
                t = truth[: y.shape[0], : y.shape[1]]
                run("deblur", blurry, "-o", out, *kflags, "--quiet")
                d = io.imread(out).astype(np.float64) / 255.0
                P = max(kh, kw)
                yp = np.pad(y, P, mode="edge")
                rl = max(psnr(t, restoration.richardson_lucy(yp, k, n, clip=True)[P:-P, P:-P])
                         for n in (5, 10, 20, 30, 50))
                wi = max(psnr(t, np.clip(restoration.wiener(yp, k, b)[P:-P, P:-P], 0, 1))
                         for b in (0.003, 0.01, 0.03, 0.1, 0.3, 1.0))
                print(f"{name:10} {kname:16} {noise*100:4.1f}% {psnr(t, y):7.2f} {rl:7.2f} "
                      f"{wi:7.2f} {psnr(t, d):7.2f}", flush=True)
