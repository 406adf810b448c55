#!/usr/bin/env bash
# Metadata from input to output, as a real tool reads it: exiftool tags a
# PNG, a JPEG and a TIFF with an ICC profile, EXIF's orientation (6: to be
# turned 90 degrees clockwise) and text tags (and a PNG with text chunks, a
# TIFF with an EXIF IFD);
# deconv deblurs each into every format; exiftool must find the
# orientation, the profile's description and the text in the output, and
# the pixels in their stored orientation (the width and height unchanged).
# Skipped, with a message, when exiftool is not installed
# (libimage-exiftool-perl, tools/install-deps.sh).
#   usage: bash metadata.sh /path/to/deconv /path/to/tests/data
. "$(dirname "$0")/lib/harness.sh" "$@"
if ! command -v exiftool >/dev/null; then
    echo "metadata.sh: skipped: exiftool is not installed (apt-get install libimage-exiftool-perl)"
    exit 0
fi
ICC=$DATA/../fuzz/corpus/fuzz_icc/v2_gamma22.icc # "version 2, gamma 2.2"
DESCRIPTION="version 2, gamma 2.2"
tag() { exiftool -s3 -n "-$2" "$1" 2>/dev/null | head -n 1; } # FILE TAG -> its value
run() { # ARGS...: deconv must succeed
    if "$DECONV" "$@" 2>"$T/stderr"; then ok; else
        bad "deconv $*: exit $?: $(cat "$T/stderr")"
        return 1
    fi
}
expect_tag() { # FILE TAG VALUE WHAT
    local got
    got=$(tag "$1" "$2")
    if [ "$got" = "$3" ]; then ok; else bad "$4: $2 is '$got', expected '$3'"; fi
}

# fixtures: 600 x 400 (not square: a rotation would show), each format
# written by deconv without metadata, then tagged by exiftool
for ext in png jpg tif; do
    run blur "$DATA/coffee.png" -o "$T/plain.$ext" --gaussian 0.5,1
    cp "$T/plain.$ext" "$T/in.$ext"
    exiftool -q -overwrite_original "-ICC_Profile<=$ICC" -Orientation#=6 -Artist="Ada Lovelace" \
        -Make=TestCam "$T/in.$ext" || bad "exiftool cannot tag in.$ext"
done
exiftool -q -overwrite_original -PNG:Comment="a text chunk" -PNG:Title="Title text" "$T/in.png" ||
    bad "exiftool cannot add PNG text"
expect_tag "$T/in.png" Orientation 6 "fixture in.png"
expect_tag "$T/in.tif" ProfileDescription "$DESCRIPTION" "fixture in.tif"
W=$(tag "$T/plain.png" ImageWidth)
H=$(tag "$T/plain.png" ImageHeight)

for in in png jpg tif; do
    for out in png jpg tif; do
        o=$T/out_$in.$out
        run deblur "$T/in.$in" -o "$o" --gaussian 0.5,1 --iterations 2 --quiet || continue
        what="$in -> $out"
        expect_tag "$o" Orientation 6 "$what"
        expect_tag "$o" ProfileDescription "$DESCRIPTION" "$what"
        expect_tag "$o" Artist "Ada Lovelace" "$what"
        expect_tag "$o" Make TestCam "$what"
        expect_tag "$o" ImageWidth "$W" "$what: the pixels kept their orientation"
        expect_tag "$o" ImageHeight "$H" "$what: the pixels kept their orientation"
    done
done
# a TIFF's EXIF IFD goes to JPEG and PNG outputs
cp "$T/plain.tif" "$T/exif.tif"
exiftool -q -overwrite_original -Orientation#=8 -DateTimeOriginal="2024:01:02 03:04:05" \
    -ExposureTime=0.01 -ISO=400 -UserComment="hello there" "$T/exif.tif" || bad "exiftool exif.tif"
for out in jpg png; do
    run deblur "$T/exif.tif" -o "$T/exif_out.$out" --gaussian 0.5,1 --iterations 2 --quiet || continue
    expect_tag "$T/exif_out.$out" Orientation 8 "tif (EXIF IFD) -> $out"
    expect_tag "$T/exif_out.$out" DateTimeOriginal "2024:01:02 03:04:05" "tif (EXIF IFD) -> $out"
    expect_tag "$T/exif_out.$out" ExposureTime 0.01 "tif (EXIF IFD) -> $out"
    expect_tag "$T/exif_out.$out" ISO 400 "tif (EXIF IFD) -> $out"
    expect_tag "$T/exif_out.$out" UserComment "hello there" "tif (EXIF IFD) -> $out"
done
# PNG text chunks go to PNG outputs
expect_tag "$T/out_png.png" Comment "a text chunk" "png -> png"
expect_tag "$T/out_png.png" Title "Title text" "png -> png"
# and through blur and blind too
run blur "$T/in.jpg" -o "$T/blur.tif" --gaussian 0.5
expect_tag "$T/blur.tif" Orientation 6 "blur jpg -> tif"
run blind "$T/in.tif" -o "$T/blind.jpg" --kernel-size 3 --iterations 1 --levels 1 --starts 1 --quiet
expect_tag "$T/blind.jpg" Orientation 6 "blind tif -> jpg"
expect_tag "$T/blind.jpg" ProfileDescription "$DESCRIPTION" "blind tif -> jpg"
# no metadata in, none out
run deblur "$T/plain.jpg" -o "$T/plain_out.png" --gaussian 0.5,1 --iterations 2 --quiet
expect_tag "$T/plain_out.png" Orientation "" "untagged jpg -> png"
expect_tag "$T/plain_out.png" ProfileDescription "" "untagged jpg -> png"
# exiftool finds nothing wrong in what deconv wrote
for f in "$T/out_png.png" "$T/out_tif.jpg"; do
    v=$(exiftool -s3 -validate "$f")
    if [ "$v" = OK ]; then ok; else bad "exiftool -validate $(basename "$f"): $v"; fi
done
finish
