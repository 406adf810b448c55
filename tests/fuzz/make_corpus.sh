#!/usr/bin/env bash
# Make the seed corpus of the fuzz targets in tests/fuzz/corpus/<target>/:
# small valid files of every image format deconv reads (PNG in its layouts,
# JPEG, TIFF, BMP, TGA, GIF, PSD, HDR, PNM), kernel text matrices, and command
# lines. The pictures start from the project's own program (crops and blurs
# of tests/data, kernels from 'deconv psf'); Python 3 with PIL (Debian's
# python3-pil) converts them to the other formats, and writes by hand those
# PIL cannot (interlaced and low-depth PNG, PNM plain and 16-bit, HDR, PSD).
# Files with colour tags (ICC profiles for fuzz_icc; PNGs with iCCP, cICP,
# sRGB or gAMA chunks and JPEGs with ICC profiles) come from
# make_icc_corpus.c, built here with LittleCMS, libjpeg and libpng.
# The folders are emptied and remade; every file stays under 4 KB.
#   usage: tests/fuzz/make_corpus.sh [DECONV]     (default: build/deconv)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DECONV=${1:-$ROOT/build/deconv}
PYTHON=${PYTHON:-/usr/bin/python3}
[ -x "$DECONV" ] || { echo "make_corpus: no deconv program at $DECONV (build it first)" >&2; exit 1; }
"$PYTHON" -c 'import PIL' 2>/dev/null ||
    { echo "make_corpus: $PYTHON lacks PIL (apt-get install python3-pil)" >&2; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# A crop as a valid convolution: a kernel of (W-w+1) x (H-h+1) that is a
# single 1 gives a w x h window of a W x H picture.
delta_csv() { # KW KH ROW COL FILE
    "$PYTHON" - "$@" <<'PY'
import sys
kw, kh, r, c, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
with open(path, "w") as f:
    for i in range(kh):
        f.write(",".join("1" if (i, j) == (r, c) else "0" for j in range(kw)) + "\n")
PY
}
delta_csv 585 389 150 280 "$T/crop_coffee.csv"   # coffee 600 x 400 -> 16 x 12
delta_csv 497 497 250 240 "$T/crop_camera.csv"   # camera 512 x 512 -> 16 x 16
"$DECONV" blur "$ROOT/tests/data/coffee.png" -o "$T/rgb8.png" --psf "$T/crop_coffee.csv"
"$DECONV" blur "$ROOT/tests/data/coffee.png" -o "$T/rgb16.png" --psf "$T/crop_coffee.csv" \
    --bits 16 --noise 0.02 --seed 7
"$DECONV" blur "$ROOT/tests/data/camera.png" -o "$T/gray8.png" --psf "$T/crop_camera.csv"
"$DECONV" psf --motion 7,30 -o "$T/psf_motion.png"       # 16-bit gray
for k in "gaussian 1,5" "disk 1.5" "motion 5,30"; do
    set -- $k
    "$DECONV" psf "--$1" "$2" -o "$T/psf_$1.csv"
done
"$DECONV" psf --gaussian 0.8 -o "$T/psf_gaussian.tsv"

rm -rf "$HERE/corpus"
mkdir -p "$HERE/corpus/fuzz_image" "$HERE/corpus/fuzz_kernel_text" "$HERE/corpus/fuzz_flags" \
    "$HERE/corpus/fuzz_icc"
"$PYTHON" - "$T" "$HERE/corpus" <<'PY'
import os, shutil, struct, sys, zlib
from PIL import Image

T, C = sys.argv[1], sys.argv[2]
IMG, KER, FLG = (os.path.join(C, d) for d in ("fuzz_image", "fuzz_kernel_text", "fuzz_flags"))

def put(folder, name, data):
    if isinstance(data, str):
        data = data.encode()
    assert len(data) < 4096, (name, len(data))
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)

# ---- pictures from deconv
for n in ("rgb8.png", "rgb16.png", "gray8.png", "psf_motion.png"):
    shutil.copy(os.path.join(T, n), os.path.join(IMG, "png_deconv_" + n))
rgb = Image.open(os.path.join(T, "rgb8.png")).convert("RGB")     # 16 x 12
gray = Image.open(os.path.join(T, "gray8.png")).convert("L")     # 16 x 16
W, H = rgb.size
px = list(rgb.getdata())
gx = list(gray.getdata())
GW, GH = gray.size

# ---- PNG by hand: every colour type and depth, Adam7, tRNS, palettes
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)

def pack_row(samples, depth):
    if depth >= 8:
        fmt = ">%d%s" % (len(samples), "B" if depth == 8 else "H")
        return struct.pack(fmt, *samples)
    out, acc, nb = bytearray(), 0, 0
    for s in samples:
        acc = (acc << depth) | s
        nb += depth
        if nb == 8:
            out.append(acc); acc = nb = 0
    if nb:
        out.append(acc << (8 - nb))
    return bytes(out)

ADAM7 = [(0, 0, 8, 8), (0, 4, 8, 8), (4, 0, 8, 4), (0, 2, 4, 4), (2, 0, 4, 2), (0, 1, 2, 2), (1, 0, 2, 1)]

def png(w, h, depth, ctype, pixels, interlace=0, pre=b"", post=b""):
    """pixels[y][x] is a tuple of samples."""
    raw = bytearray()
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for (y0, x0, dy, dx) in passes:
        xs = list(range(x0, w, dx))
        if not xs:
            continue
        for y in range(y0, h, dy):
            raw.append(0)
            raw += pack_row([s for x in xs for s in pixels[y][x]], depth)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, interlace)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + pre +
            chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + post + chunk(b"IEND", b""))

grid = lambda w, h, f: [[f(x, y) for x in range(w)] for y in range(h)]
g8 = lambda x, y: gx[(y % GH) * GW + x % GW]
c8 = lambda x, y: px[(y % H) * W + x % W]
put(IMG, "png_gray1.png", png(13, 5, 1, 0, grid(13, 5, lambda x, y: (g8(x, y) >> 7,))))
put(IMG, "png_gray2_adam7.png", png(9, 9, 2, 0, grid(9, 9, lambda x, y: (g8(x, y) >> 6,)), 1))
put(IMG, "png_gray4.png", png(7, 3, 4, 0, grid(7, 3, lambda x, y: (g8(x, y) >> 4,))))
put(IMG, "png_gray8_adam7.png", png(GW, GH, 8, 0, grid(GW, GH, lambda x, y: (g8(x, y),)), 1))
put(IMG, "png_gray16_trns.png", png(6, 4, 16, 0, grid(6, 4, lambda x, y: (g8(x, y) * 257,)),
    pre=chunk(b"tRNS", struct.pack(">H", g8(0, 0) * 257))))
put(IMG, "png_graya8.png", png(8, 6, 8, 4, grid(8, 6, lambda x, y: (g8(x, y), 40 * x % 256))))
put(IMG, "png_graya16_adam7.png",
    png(5, 5, 16, 4, grid(5, 5, lambda x, y: (g8(x, y) * 257, 65535 - 900 * x * y)), 1))
put(IMG, "png_rgb8_adam7.png", png(W, H, 8, 2, grid(W, H, c8), 1))
put(IMG, "png_rgb8_trns.png", png(8, 8, 8, 2, grid(8, 8, c8),
    pre=chunk(b"tRNS", struct.pack(">HHH", *c8(1, 1)))))
put(IMG, "png_rgb16.png", png(4, 3, 16, 2, grid(4, 3, lambda x, y: tuple(257 * v for v in c8(x, y)))))
put(IMG, "png_rgba8.png", png(8, 6, 8, 6, grid(8, 6, lambda x, y: c8(x, y) + (255 - 30 * y,))))
put(IMG, "png_rgba16_adam7.png",
    png(7, 7, 16, 6, grid(7, 7, lambda x, y: tuple(257 * v for v in c8(x, y)) + (9000 * x,)), 1))
pal = rgb.quantize(colors=16)
palette = pal.getpalette()[:48]
pidx = list(pal.getdata())
pi = lambda x, y: pidx[(y % H) * W + x % W]
put(IMG, "png_palette4_trns.png", png(W, H, 4, 3, grid(W, H, lambda x, y: (pi(x, y),)),
    pre=chunk(b"PLTE", bytes(palette)) + chunk(b"tRNS", bytes([0, 128, 255]))))
put(IMG, "png_palette8_adam7.png", png(W, H, 8, 3, grid(W, H, lambda x, y: (pi(x, y),)), 1,
    pre=chunk(b"PLTE", bytes(palette))))
put(IMG, "png_palette1.png", png(10, 2, 1, 3, grid(10, 2, lambda x, y: ((x + y) & 1,)),
    pre=chunk(b"PLTE", bytes([0, 0, 0, 255, 255, 255]))))
put(IMG, "png_palette2_text.png", png(6, 6, 2, 3, grid(6, 6, lambda x, y: ((x * y) % 3,)),
    pre=chunk(b"gAMA", struct.pack(">I", 45455)) + chunk(b"PLTE", bytes(range(9))),
    post=chunk(b"tEXt", b"Comment\0deconv fuzz seed")))
# metadata after the image data too, which the row reader reads in a second pass
EXIF6 = b"II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0\x06\0\0\0\0\0\0\0"
put(IMG, "png_rgb8_metadata_after_data.png", png(8, 6, 8, 2, grid(8, 6, c8),
    pre=chunk(b"tEXt", b"Title\0before the data"),
    post=chunk(b"eXIf", EXIF6) + chunk(b"zTXt", b"Comment\0\0" + zlib.compress(b"after the data"))))

# ---- PIL: JPEG, BMP, TGA, GIF
def pil(name, im, **kw):
    path = os.path.join(IMG, name)
    im.save(path, **kw)
    assert os.path.getsize(path) < 4096, name

pil("jpeg_rgb.jpg", rgb, quality=60)
pil("jpeg_gray.jpg", gray, quality=60)
pil("jpeg_rgb_progressive.jpg", rgb, quality=40, progressive=True)
pil("jpeg_rgb_444.jpg", rgb.resize((9, 7)), quality=80, subsampling=0)
pil("bmp_rgb24.bmp", rgb.resize((7, 5)))
pil("bmp_palette8.bmp", rgb.resize((9, 4)).quantize(colors=8))
pil("bmp_gray.bmp", gray.resize((6, 6)))
pil("bmp_bilevel.bmp", gray.resize((11, 3)).convert("1"))
pil("bmp_rgba32.bmp", rgb.resize((4, 4)).convert("RGBA"))
pil("tga_rgb.tga", rgb.resize((8, 5)))
pil("tga_rgba_rle.tga", rgb.convert("RGBA"), compression="tga_rle")
pil("tga_gray.tga", gray.resize((7, 7)))
pil("tga_palette.tga", rgb.resize((6, 4)).quantize(colors=8))
pil("gif_palette.gif", rgb.quantize(colors=32))
pil("gif_gray.gif", gray.resize((9, 9)))
pil("gif_transparent.gif", rgb.resize((5, 5)).quantize(colors=4), transparency=0)

# ---- PNM: all six kinds, plain and binary, 8 and 16 bits, comments
gs = lambda w, h: [g8(x, y) for y in range(h) for x in range(w)]
cs = lambda w, h: [v for y in range(h) for x in range(w) for v in c8(x, y)]
put(IMG, "pnm_p1.pbm", "P1\n# bitmap\n5 3\n" + "\n".join(
    " ".join(str(g8(x, y) >> 7) for x in range(5)) for y in range(3)) + "\n")
put(IMG, "pnm_p2.pgm", "P2\n4 3\n255\n" + " ".join(map(str, gs(4, 3))) + "\n")
put(IMG, "pnm_p2_max1000.pgm", "P2 3 2 1000 0 500 1000 # c\n250 999 1\n")
put(IMG, "pnm_p3.ppm", "P3\n3 2\n255\n" + " ".join(map(str, cs(3, 2))) + "\n")
put(IMG, "pnm_p4.pbm", b"P4\n10 2\n" + bytes([0xa5, 0x40, 0x3c, 0x80]))
put(IMG, "pnm_p5.pgm", b"P5\n# comment\n8 8\n255\n" + bytes(gs(8, 8)))
put(IMG, "pnm_p5_16.pgm", b"P5 4 3 65535\n" + struct.pack(">12H", *[v * 257 for v in gs(4, 3)]))
put(IMG, "pnm_p6.ppm", b"P6\n6 5\n255\n" + bytes(cs(6, 5)))
put(IMG, "pnm_p6_16.ppm", b"P6 3 2 4095\n" + struct.pack(">18H", *[v * 16 for v in cs(3, 2)]))

# ---- Radiance HDR: flat RGBE and run-length scanlines (width 8..32767)
def rgbe(r, g, b):
    import math
    m = max(r, g, b)
    if m < 1e-32:
        return bytes(4)
    mant, e = math.frexp(m)
    s = mant * 256.0 / m
    return bytes([int(r * s), int(g * s), int(b * s), e + 128])
hdr_px = lambda w, h: [rgbe(*(v / 128.0 for v in c8(x, y))) for y in range(h) for x in range(w)]
put(IMG, "hdr_flat.hdr", b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 2 +X 4\n" + b"".join(hdr_px(4, 2)))
def rle_line(pixels):
    out = bytearray([2, 2, len(pixels) >> 8, len(pixels) & 255])
    for c in range(4):
        vals = [p[c] for p in pixels]
        i = 0
        while i < len(vals):
            run = 1
            while i + run < len(vals) and run < 127 and vals[i + run] == vals[i]:
                run += 1
            if run >= 3:
                out += bytes([128 + run, vals[i]]); i += run
            else:
                n = min(len(vals) - i, 128)
                out += bytes([n]) + bytes(vals[i:i + n]); i += n
    return bytes(out)
p = hdr_px(10, 3)
put(IMG, "hdr_rle.hdr", b"#?RGBE\nEXPOSURE=1.0\nFORMAT=32-bit_rle_rgbe\n\n-Y 3 +X 10\n" +
    b"".join(rle_line(p[y * 10:(y + 1) * 10]) for y in range(3)))

# ---- PSD (stb_image reads RGB mode only): raw, and PackBits rows
def psd(w, h, chans, mode, planes, rle):
    head = b"8BPS" + struct.pack(">H6xHIIHH", 1, chans, h, w, 8, mode) + struct.pack(">III", 0, 0, 0)
    if not rle:
        return head + struct.pack(">H", 0) + b"".join(planes)
    rows = [bytes([w - 1]) + pl[y * w:(y + 1) * w] for pl in planes for y in range(h)]
    return head + struct.pack(">H", 1) + struct.pack(">%dH" % len(rows), *map(len, rows)) + b"".join(rows)
cp = [bytes(c8(x, y)[c] for y in range(4) for x in range(5)) for c in range(3)]
put(IMG, "psd_rgb_raw.psd", psd(5, 4, 3, 3, cp, False))
put(IMG, "psd_rgb_rle.psd", psd(5, 4, 3, 3, cp, True))

# ---- kernel text matrices
for n in ("psf_gaussian.csv", "psf_disk.csv", "psf_motion.csv", "psf_gaussian.tsv"):
    with open(os.path.join(T, n), "rb") as f:
        put(KER, n.replace(".", "_") + ".txt", f.read())
kernels = {
    "one": "1\n",
    "delta3": "0 0 0\n0 1 0\n0 0 0\n",
    "comments_crlf": "# a 2 x 3 kernel\r\n1, 2, 3 # first row\r\n\r\n4,5,6\r\n",
    "cr_only": "1,2\r3,4\r",
    "tabs_blanks": "\t0.25\t0.25 \v\n 0.25 ,\f0.25\n",
    "exponents": "1e-3, 2E+2, -0.5, +.5, 5., 0.000123e4\n",
    "negative": "0,-1,0\n-1,5,-1\n0,-1,0\n",
    "zero": "0,0\n0,0\n",
    "signed_zero": "-0 +0 0.0 -0.0e10\n",
    "tiny_huge": "1e-45 3.4028234e38\n1e-46 1e-50\n",
    "many_digits": "0.1234567890123456789012345 12345678901234567890123\n",
    "nan": "1,nan\n", "inf": "-Infinity 1\n", "float_max": "3.4028235e38,1\n",
    "ragged": "1,2,3\n4,5\n", "double_comma": "1,,2\n", "leading_comma": ",1\n",
    "trailing_comma": "1,2,\n", "hex": "0x10 1\n", "no_newline": "0.5 0.5",
    "only_comment": "# nothing here\n\n", "letters": "1 a 2\n",
}
for n, t in kernels.items():
    put(KER, n + ".txt", t)

# ---- command lines: one argument a line
flags = {
    "deblur": "deblur\nin.png\n-o\nout.png\n--gaussian\n2.5\n--iterations\n300\n",
    "deblur_all": "deblur\nin.png\n--output=out.png\n--psf\nk.csv\n--iterations=5\n--step\n0.5\n"
                  "--line-search\nexact\n--method\ngd\n--conv\nfft\n--tol\n1e-4\n--tv\n0.01\n"
                  "--tikhonov\n0\n--no-clip\n--full\n--bits\n16\n--threads\n2\n--log\nl.csv\n"
                  "--quiet\n--max-pixels\n0\n--force\n",
    "blind": "blind\nshaky.png\n-o\nsharp.png\n--kernel-size\n25x15\n--kernel-out\nk.png\n",
    "blind_all": "blind\nin.png\n-o\no.png\n--kernel-size=9\n--iterations\n3\n--kernel-iterations\n2\n"
                 "--step\n1\n--kernel-step\n0.1\n--line-search\narmijo\n--tv\n0.02\n--levels\nauto\n"
                 "--kernel-init\ngaussian\n--threads\n1\n",
    "blind_init_file": "blind\nin.png\n-o\no.png\n--kernel-size\n3\n--levels\n4\n--kernel-init\nk.csv\n",
    "blur": "blur\nphoto.png\n-o\nblurry.png\n--motion\n9,30\n--noise\n0.01\n--seed\n3\n",
    "blur_disk": "blur\nphoto.png\n-o\nb.png\n--disk\n4.5\n--bits\n8\n",
    "psf": "psf\n--disk\n4.5\n-o\ndisk.csv\n",
    "psf_gaussian_size": "psf\n--gaussian=1.5,9\n-o\nk.png\n",
    "compare": "compare\na.png\nb.png\n--max-pixels\n1000\n",
    "help": "--help\n", "help_cmd": "help\nblind\n", "version": "--version\n",
    "cmd_help": "deblur\n--help\n", "dashdash": "deblur\n-o\nout.png\n--gaussian\n1\n--\n-in.png\n",
    "nul_separated": "blur\0in.png\0-o\0o.png\0--gaussian\0" "2\0",
    "empty_arg": "deblur\n\n-o\nout.png\n--gaussian\n1\n",
    "bad_numbers": "deblur\nin.png\n-o\nout.png\n--gaussian\n2\n--iterations\n1e99\n",
    "nan": "deblur\nin.png\n-o\nout.png\n--gaussian\nnan\n",
    "twice": "deblur\nin.png\n-o\nout.png\n--gaussian\n2\n--quiet\n--quiet\n",
    "missing_value": "deblur\nin.png\n-o\nout.png\n--gaussian\n2\n--tv\n",
}
for n, t in flags.items():
    put(FLG, n + ".txt", t)
PY
# ---- colour tags
"${CC:-cc}" -O1 -o "$T/make_icc_corpus" "$HERE/make_icc_corpus.c" -llcms2 -ljpeg -lpng -lm
"$T/make_icc_corpus" "$HERE/corpus"
# TIFF of every layout deconv reads, made with libtiff (make_tiff_corpus.c).
"${CC:-cc}" -O1 -o "$T/make_tiff_corpus" "$HERE/make_tiff_corpus.c" -ltiff -lm
"$T/make_tiff_corpus" "$HERE/corpus/fuzz_image"
# Metadata seeds: the tagged TIFF as a JPEG (APP1 Exif, APP2 ICC) and a PNG
# (eXIf), written by deconv (a 1 x 1 kernel keeps the pixels).
printf '1\n' >"$T/one.csv"
"$DECONV" blur "$HERE/corpus/fuzz_image/tiff_rgb8_tags.tif" -o "$HERE/corpus/fuzz_image/jpeg_exif_icc.jpg" \
    --psf "$T/one.csv" 2>/dev/null
"$DECONV" blur "$HERE/corpus/fuzz_image/tiff_rgb8_tags.tif" -o "$HERE/corpus/fuzz_image/png_exif.png" \
    --psf "$T/one.csv" 2>/dev/null
n=0; total=0
for f in "$HERE"/corpus/*/*; do n=$((n + 1)); total=$((total + $(stat -c %s "$f"))); done
echo "make_corpus: $n files, $total bytes in $HERE/corpus"
