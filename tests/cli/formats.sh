#!/usr/bin/env bash
# Output formats by extension (PNG, JPEG, TIFF) end to end: JPEG in and out
# with --quality and the chroma subsampling kept or 4:4:4, 16-bit TIFF in
# and out, float TIFF in and out (linear light, unclamped), --bits against
# the formats, and no temporary file left. The structure of the files is
# read from their bytes (signature, JPEG frame header, TIFF header); with
# exiftool installed, its view of the TIFF tags too.
#   usage: bash formats.sh /path/to/deconv /path/to/tests/data
. "$(dirname "$0")/lib/harness.sh" "$@"
check() { # DESCRIPTION COMMAND...: the command must succeed
    local what=$1
    shift
    if "$@"; then ok; else bad "$what"; fi
}
run() { # ARGS...: deconv must succeed
    if "$DECONV" "$@" 2>"$T/stderr"; then ok; else
        bad "deconv $*: exit $?: $(cat "$T/stderr")"
        return 1
    fi
}
psnr() { "$DECONV" compare "$1" "$2" | awk '$1 == "PSNR" { print $2 }'; }
greater() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }
magic() { od -An -tx1 -N4 "$1" | tr -d ' '; }
# the luma's sampling factors (hex, "11" for 4:4:4, "22" for 4:2:0) of a
# JPEG's first frame header (SOF0 or SOF2): 11 bytes after the marker
jpeg_sampling() {
    od -An -tx1 -v "$1" | tr -s ' ' '\n' | grep . |
        awk 'prev == "ff" && ($1 == "c0" || $1 == "c2") && !at { at = NR } at && NR == at + 10 { print; exit } { prev = $1 }'
}
size_of() { stat -c %s "$1"; }

CAM=$DATA/camera.png
COFFEE=$DATA/coffee.png
JPEG420=$DATA/../fuzz/corpus/fuzz_image/jpeg_rgb.jpg # 16 x 12, 4:2:0
K=(--gaussian 1.2)

# --- JPEG --------------------------------------------------------------
run blur "$COFFEE" -o "$T/blurry.jpg" "${K[@]}" --quality 90
check "a .jpg output is a JPEG" [ "$(magic "$T/blurry.jpg" | cut -c 1-6)" = ffd8ff ]
check "PNG in, JPEG out: 4:4:4 (got $(jpeg_sampling "$T/blurry.jpg"))" [ "$(jpeg_sampling "$T/blurry.jpg")" = 11 ]
run deblur "$T/blurry.jpg" -o "$T/sharp95.jpg" "${K[@]}" --iterations 10 --quiet
run deblur "$T/blurry.jpg" -o "$T/sharp40.jpeg" "${K[@]}" --iterations 10 --quiet --quality 40
check "JPEG in, JPEG out" [ "$(magic "$T/sharp95.jpg" | cut -c 1-6)" = ffd8ff ]
check "a 4:4:4 JPEG in keeps 4:4:4" [ "$(jpeg_sampling "$T/sharp95.jpg")" = 11 ]
check "--quality 40 ($(size_of "$T/sharp40.jpeg") bytes) is smaller than the default 95 ($(size_of "$T/sharp95.jpg"))" \
    [ "$(size_of "$T/sharp40.jpeg")" -lt "$(size_of "$T/sharp95.jpg")" ]
run deblur "$T/blurry.jpg" -o "$T/sharp.png" "${K[@]}" --iterations 10 --quiet
check "the JPEG at 95 is close to the PNG of the same result ($(psnr "$T/sharp.png" "$T/sharp95.jpg") dB)" \
    greater "$(psnr "$T/sharp.png" "$T/sharp95.jpg")" 38
run blur "$JPEG420" -o "$T/sub.jpg" --gaussian 0.5,3
check "a 4:2:0 JPEG in keeps 4:2:0 (got $(jpeg_sampling "$T/sub.jpg"))" [ "$(jpeg_sampling "$T/sub.jpg")" = 22 ]
run blind "$T/blurry.jpg" -o "$T/blind.jpg" --kernel-size 5 --iterations 2 --levels 1 --starts 1 --quality 70 --quiet
check "blind writes a JPEG" [ "$(magic "$T/blind.jpg" | cut -c 1-6)" = ffd8ff ]
# alpha: dropped, with a warning
run blur "$DATA/../fuzz/corpus/fuzz_image/png_rgba8.png" -o "$T/rgba.jpg" --gaussian 0.5,1
check "JPEG output of RGBA warns that alpha is dropped" grep -q "JPEG has no alpha channel" "$T/stderr"

# --- 16-bit TIFF ---------------------------------------------------------
run blur "$CAM" -o "$T/b16.tif" "${K[@]}" --bits 16 --noise 0.01 --seed 5
run blur "$CAM" -o "$T/b16.png" "${K[@]}" --bits 16 --noise 0.01 --seed 5
check "a .tif output is a little-endian TIFF" [ "$(magic "$T/b16.tif")" = 49492a00 ]
check "16-bit TIFF and PNG hold the same samples" [ "$(psnr "$T/b16.png" "$T/b16.tif")" = inf ]
run deblur "$T/b16.tif" -o "$T/d16.tiff" "${K[@]}" --iterations 5 --quiet
run deblur "$T/b16.png" -o "$T/d16.png" "${K[@]}" --iterations 5 --quiet
check "16-bit TIFF in, 16-bit TIFF out (the input's depth): as the PNG" [ "$(psnr "$T/d16.png" "$T/d16.tiff")" = inf ]
run deblur "$T/b16.tif" -o "$T/d8.tif" "${K[@]}" --iterations 5 --quiet --bits 8
check "--bits 8 TIFF is not the 16-bit one" [ "$(psnr "$T/d16.png" "$T/d8.tif")" != inf ]

# --- float TIFF ----------------------------------------------------------
run blur "$CAM" -o "$T/bf.tif" "${K[@]}" --bits 32 --response linear --noise 0.05 --seed 2
run blur "$CAM" -o "$T/bf16.png" "${K[@]}" --bits 16 --response linear --noise 0.05 --seed 2
check "float TIFF keeps the noise outside [0, 1] (PNG clamps it: $(psnr "$T/bf16.png" "$T/bf.tif") dB apart)" \
    [ "$(psnr "$T/bf16.png" "$T/bf.tif")" != inf ]
run deblur "$T/bf.tif" -o "$T/df.tif" "${K[@]}" --iterations 5 --response linear
check "float TIFF in: the run names linear light" grep -q "response linear" "$T/stderr"
run deblur "$T/bf.tif" -o "$T/dfa.tif" "${K[@]}" --iterations 5
check "float TIFF in, auto: linear (float TIFF): $(cat "$T/stderr")" grep -q "response linear (float TIFF)" "$T/stderr"
run deblur "$T/bf.tif" -o "$T/df16.png" "${K[@]}" --iterations 5 --response linear --quiet
check "float TIFF in, PNG out: 16 bits, close to the float result" greater "$(psnr "$T/df.tif" "$T/df16.png")" 80
if command -v exiftool >/dev/null; then
    tags=$(exiftool -s3 -n -BitsPerSample -SampleFormat "$T/df.tif" | tr '\n' ' ')
    check "the float TIFF out is 32-bit float (exiftool: $tags)" [ "$tags" = "32 3 " ]
    tags=$(exiftool -s3 -n -BitsPerSample -Compression "$T/d16.tiff" | tr '\n' ' ')
    check "the 16-bit TIFF out is 16-bit Deflate (exiftool: $tags)" [ "$tags" = "16 8 " ]
else
    echo "formats.sh: exiftool not installed: the TIFF tag checks are skipped"
fi

# --- nothing left behind ---------------------------------------------------
check "no temporary file left: $(ls -A "$T" | grep '\.tmp$' || true)" [ -z "$(ls -A "$T" | grep '\.tmp$')" ]
finish
