#!/usr/bin/env python3
"""How the default TV weight of deconv deblur was chosen: for blurred copies
of the sample photos with 0.5 % to 2 % noise (8-bit), PSNR of deblur with
--tv = f x sigma for a sweep of f, next to the default (which estimates
sigma from the photo itself and uses f = 0.1).

    bench/tune_tv.py [BUILD_DIR] [PHOTOS_DIR]"""
import os, subprocess, sys, tempfile
import numpy as np
from skimage import io

build = sys.argv[1] if len(sys.argv) > 1 else "build"
photos = sys.argv[2] if len(sys.argv) > 2 else "../shared/data/photos"
deconv = os.path.join(build, "deconv")
factors = (0.025, 0.05, 0.1, 0.2, 0.4)


def psnr(a, b):
    return 10 * np.log10(1.0 / np.mean((a - b) ** 2))


def run(*args):
    subprocess.run([deconv, *args, "--quiet"] if args[0] == "deblur" else [deconv, *args],
                   check=True)


print("photo      kernel        noise " + " ".join(f"f={f:<5}" for f in factors) + " default")
with tempfile.TemporaryDirectory() as tmp:
    for name in ("camera", "astronaut", "coffee"):
        img = io.imread(os.path.join(photos, name + ".png")).astype(np.float64) / 255
        sharp = img if img.ndim == 2 else img[..., :3] @ [0.2126, 0.7152, 0.0722]
        gpath = os.path.join(tmp, "g.png")
        io.imsave(gpath, np.round(sharp * 255).astype(np.uint8), check_contrast=False)
        for kname, kflags in (("motion 15,30", ["--motion", "15,30"]), ("disk 4", ["--disk", "4"]),
                              ("gaussian 2", ["--gaussian", "2"])):
            kcsv = os.path.join(tmp, "k.csv")
            run("psf", *kflags, "-o", kcsv)
            kh, kw = np.loadtxt(kcsv, delimiter=",", ndmin=2).shape
            for noise in (0.005, 0.01, 0.02):
                b, d = os.path.join(tmp, "b.png"), os.path.join(tmp, "d.png")
                run("blur", gpath, "-o", b, *kflags, "--noise", str(noise), "--seed", "2")
                y = io.imread(b).astype(np.float64) / 255
                t = sharp[(kh - 1) // 2:, (kw - 1) // 2:][: y.shape[0], : y.shape[1]]
                row = []
                for f in factors + (None,):
                    extra = [] if f is None else ["--tv", str(f * noise)]
                    run("deblur", b, "-o", d, *kflags, *extra)
                    row.append(psnr(t, io.imread(d).astype(np.float64) / 255))
                print(f"{name:10} {kname:13} {noise*100:4.1f}% " +
                      " ".join(f"{v:7.2f}" for v in row), flush=True)
