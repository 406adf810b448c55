#!/usr/bin/env bash
# The bad-input table of issue 5, beyond tests/cli/errors.sh and
# tests/test_imageio.c: broken files of every format (truncated, corrupt
# checksum, wrong magic, zero size, billions of pixels claimed, palette
# indices out of range), bad kernels, bad flags, and awkward but valid
# images (constant, tiny, 1 x 10 million pixels, 16-bit full range).
# Each row is an invocation, the exit code expected and a substring of the
# expected message. A failure must also leave no output file and an existing
# output byte-identical; a success must write a PNG. No row may take more
# than a minute (a hang fails it).
#   usage: bash bad_inputs.sh /path/to/deconv /path/to/tests/data
. "$(dirname "$0")/lib/harness.sh" "$@"
SEEDS=$DATA/../fuzz/corpus/fuzz_image # small valid files of every format
OUT=$T/out.png
printf 'sentinel output, must survive\n' >"$T/sentinel"

# ---- byte helpers: files from hex, PNG chunks with their CRC, zlib
hexfile() { printf '%b' "$(printf '%s' "$1" | sed 's/../\\x&/g')" >"$2"; }
crc32() { # HEX -> 8 hex digits (the PNG/zlib CRC-32)
    local hex=$1 crc=$((0xFFFFFFFF)) i k
    for ((i = 0; i < ${#hex}; i += 2)); do
        crc=$((crc ^ 16#${hex:i:2}))
        for ((k = 0; k < 8; k++)); do
            if ((crc & 1)); then crc=$(((crc >> 1) ^ 0xEDB88320)); else crc=$((crc >> 1)); fi
        done
    done
    printf '%08x' $((crc ^ 0xFFFFFFFF))
}
chunk() { # TYPE HEXDATA -> hex of the chunk
    local type hex=$2
    type=$(printf '%s' "$1" | od -An -tx1 | tr -d ' \n')
    printf '%08x%s%s%s' $((${#hex} / 2)) "$type" "$hex" "$(crc32 "$type$hex")"
}
zlib_stored() { # HEX (< 64 KiB) -> hex of a zlib stream holding it uncompressed
    local hex=$1 n=$((${#1} / 2)) a=1 b=0 i
    for ((i = 0; i < ${#hex}; i += 2)); do
        a=$(((a + 16#${hex:i:2}) % 65521))
        b=$(((b + a) % 65521))
    done
    printf '780101%02x%02x%02x%02x%s%08x' $((n & 255)) $((n >> 8)) $((~n & 255)) $(((~n >> 8) & 255)) \
        "$hex" $(((b << 16) | a))
}
png() { # OUT W H DEPTH COLOURTYPE RAWHEX [CHUNKHEX...]: one IDAT of the filtered rows
    local out=$1 ihdr raw=$6 extra=""
    ihdr=$(printf '%08x%08x%02x%02x000000' "$2" "$3" "$4" "$5")
    shift 6
    for c in "$@"; do extra+=$c; done
    hexfile "89504e470d0a1a0a$(chunk IHDR "$ihdr")$extra$(chunk IDAT "$(zlib_stored "$raw")")$(chunk IEND "")" "$out"
}
truncate_half() { head -c $(($(stat -c %s "$1") / 2)) "$1" >"$2"; }
flip_byte() { # FILE OFFSET: xor that byte with 0x55, in place
    local b
    b=$(od -An -tu1 -j"$2" -N1 "$1" | tr -d ' ')
    printf '%b' "$(printf '\\x%02x' $((b ^ 0x55)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# ---- fixtures
"$DECONV" psf --gaussian 5,20 -o "$T/k20.png" || bad "fixture k20.png" # 20 x 20, 16-bit
cp "$DATA/camera.png" "$T/crc.png"
flip_byte "$T/crc.png" 29                                        # the IHDR's CRC
cp "$DATA/camera.png" "$T/crc_idat.png"                          # the first IDAT's CRC
idat=$(grep -obUa IDAT "$T/crc_idat.png" | head -1 | cut -d: -f1)
len=$(od -An -tu1 -j$((idat - 4)) -N4 "$T/crc_idat.png" | awk '{ print $1*16777216 + $2*65536 + $3*256 + $4 }')
flip_byte "$T/crc_idat.png" $((idat + 4 + len + 3))
cp "$DATA/camera.png" "$T/magic.png"
flip_byte "$T/magic.png" 1                                       # "\x89P" -> "\x89\x05"
for f in jpeg_rgb.jpg bmp_rgb24.bmp tga_rgb.tga tga_rgba_rle.tga gif_palette.gif psd_rgb_raw.psd \
    hdr_rle.hdr pnm_p6.ppm png_rgb8_adam7.png; do
    truncate_half "$SEEDS/$f" "$T/cut_$f"
done
cp "$SEEDS/jpeg_rgb.jpg" "$T/magic.jpg"
flip_byte "$T/magic.jpg" 0
# zero width or height
png "$T/zero_w.png" 0 4 8 0 "00000000"
png "$T/zero_h.png" 4 0 8 0 ""
printf 'P5 0 5 255\n' >"$T/zero.pgm"
printf '#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 0 +X 5\n' >"$T/zero.hdr"
hexfile "424d3a000000000000003600000028000000000000000000000001001800000000000400000000000000000000000000000000000000" "$T/zero.bmp"
hexfile "000002000000000000000000000000001800" "$T/zero.tga"
# billions of pixels claimed, and nothing behind: refused before allocating
hexfile "89504e470d0a1a0a$(chunk IHDR "000186a0000186a00800000000")" "$T/huge.png" # 100000^2
printf 'P6 100000 100000 255\n' >"$T/huge.ppm"
printf '#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 100000 +X 100000\n' >"$T/huge.hdr"
hexfile "474946383961ffffffff00000000" "$T/huge.gif"                       # 65535^2
# palette images whose indices exceed the palette: black, as libpng does
png "$T/pal_range.png" 4 1 8 3 "0000010507ff" "$(chunk PLTE "ff000000ff00")"
png "$T/pal_range4.png" 3 2 4 3 "00f10000ff20" "$(chunk PLTE "808080")"
# kernels
: >"$T/empty.csv"
printf '# nothing but a comment\n\n' >"$T/comment.csv"
printf '0,-1,0\n-1,5,-1\n0,-1,0\n' >"$T/sharpen.csv"
printf '1,1e39\n' >"$T/overflow.csv"
printf '1e30,-1e30,1e-40\n' >"$T/tiny.csv"
printf '1,-1\n' >"$T/zerosum.csv"
printf '1 2\n3 inf\n' >"$T/inf.csv"
printf '1 2\n3 -nan\n' >"$T/nan.csv"
printf '1;2\n' >"$T/semicolon.csv"
awk 'BEGIN { for (i = 0; i < 4097; i++) printf "1%s", i < 4096 ? "," : "\n" }' >"$T/wide.csv"
awk 'BEGIN { for (i = 0; i < 4097; i++) print 1 }' >"$T/tall.csv"
printf '1\n' >"$T/one.csv"
printf '0.25,0.5,0.25\n' >"$T/row3.csv"
printf '0.25\n0.5\n0.25\n' >"$T/col3.csv"
hexfile "$(printf '%0128d' 0)" "$T/black.bin"
png "$T/black_kernel.png" 3 3 8 0 "000000000000000000000000"
# awkward but valid images
printf 'P5 16 12 255\n' >"$T/const.pgm"
head -c 192 /dev/zero | tr '\0' '\200' >>"$T/const.pgm"
printf 'P5 16 12 255\n' >"$T/black.pgm"
head -c 192 /dev/zero >>"$T/black.pgm"
printf 'P5 16 12 255\n' >"$T/white.pgm"
head -c 192 /dev/zero | tr '\0' '\377' >>"$T/white.pgm"
printf 'P5 1 1 255\n\200' >"$T/dot.pgm"
printf 'P5 1 50 255\n' >"$T/column.pgm"
yes 'abcdefghij' | head -c 50 >>"$T/column.pgm"
printf 'P5 50 1 255\n' >"$T/row.pgm"
yes 'abcdefghij' | head -c 50 >>"$T/row.pgm"
printf 'P5 10000000 1 255\n' >"$T/long.pgm"                 # 1 x 10 million
yes 'abcdefghijklmnopqrstuvwxyz0123456789' | head -c 10000000 >>"$T/long.pgm"
printf 'P5 1 10000000 255\n' >"$T/tall.pgm"                 # 10 million x 1
yes 'abcdefghijklmnopqrstuvwxyz0123456789' | head -c 10000000 >>"$T/tall.pgm"
printf 'P5 16 16 65535\n' >"$T/full16.pgm"                  # 0 and 65535, checkered
for ((i = 0; i < 256; i++)); do
    if (((i / 16 + i) % 2)); then printf '\377\377'; else printf '\0\0'; fi
done >>"$T/full16.pgm"

# ---- the table: expect CODE MESSAGE ARGS...
# CODE != 0: MESSAGE in stderr; no $OUT made; an existing $OUT unchanged.
# CODE == 0: $OUT is a PNG (MESSAGE, when not empty, in stderr).
expect() {
    local code=$1 msg=$2
    shift 2
    local what="deconv $*" rc
    rm -f "$OUT"
    timeout 60 "$DECONV" "$@" >"$T/stdout" 2>"$T/stderr"
    rc=$?
    if [ "$rc" -eq 124 ]; then
        bad "$what: still running after 60 s"
        return
    fi
    if [ "$rc" -ne "$code" ]; then
        bad "$what: exit $rc, expected $code; stderr: $(head -c 300 "$T/stderr")"
        return
    fi
    if [ -n "$msg" ] && ! grep -qF -- "$msg" "$T/stderr"; then
        bad "$what: stderr lacks '$msg': $(head -c 300 "$T/stderr")"
        return
    fi
    if [ "$code" -eq 0 ]; then
        if [ "$(head -c 4 "$OUT" 2>/dev/null | od -An -tx1 | tr -d ' ')" = 89504e47 ]; then ok; else
            bad "$what: no PNG written"
        fi
        rm -f "$OUT"
        return
    fi
    if [ -e "$OUT" ]; then bad "$what: created $OUT"; return; fi
    cp "$T/sentinel" "$OUT"
    timeout 60 "$DECONV" "$@" >/dev/null 2>&1
    rc=$?
    if [ "$rc" -ne "$code" ]; then bad "$what (existing output): exit $rc, expected $code"
    elif ! cmp -s "$T/sentinel" "$OUT"; then bad "$what: changed an existing $OUT"
    elif ls -a "$T" | grep -q '^\.out\.png\..*\.tmp$'; then bad "$what: left a temporary file"
    else ok; fi
    rm -f "$OUT"
}

G=(-o "$OUT" --gaussian 1)
# truncated files of every format
expect 1 "is corrupt: unexpected end of file" deblur "$T/cut_png_rgb8_adam7.png" "${G[@]}"
expect 1 "is corrupt" deblur "$T/cut_jpeg_rgb.jpg" "${G[@]}"
expect 1 "is corrupt: unexpected end of file" deblur "$T/cut_bmp_rgb24.bmp" "${G[@]}"
expect 1 "is corrupt: unexpected end of file" deblur "$T/cut_tga_rgb.tga" "${G[@]}"
expect 1 "is corrupt: unexpected end of file" deblur "$T/cut_tga_rgba_rle.tga" "${G[@]}"
expect 1 "is corrupt" deblur "$T/cut_gif_palette.gif" "${G[@]}"
expect 1 "is corrupt: unexpected end of file" deblur "$T/cut_psd_rgb_raw.psd" "${G[@]}"
expect 1 "is corrupt: unexpected end of file" deblur "$T/cut_hdr_rle.hdr" "${G[@]}"
expect 1 "is corrupt: unexpected end of file" deblur "$T/cut_pnm_p6.ppm" "${G[@]}"
expect 1 "is corrupt" compare "$DATA/camera.png" "$T/cut_png_rgb8_adam7.png"
expect 1 "kernel: " deblur "$DATA/camera.png" -o "$OUT" --psf "$T/cut_png_rgb8_adam7.png"
# corrupt checksum, wrong magic
expect 1 "crc.png' is corrupt: IHDR: CRC error" deblur "$T/crc.png" "${G[@]}"
expect 1 "crc_idat.png' is corrupt: IDAT: CRC error" blur "$T/crc_idat.png" "${G[@]}"
expect 1 "crc_idat.png' is corrupt: IDAT: CRC error" compare "$T/crc_idat.png" "$DATA/camera.png"
expect 1 "magic.png' is not a supported image (PNG, JPEG" deblur "$T/magic.png" "${G[@]}"
expect 1 "magic.jpg' is not a supported image" deblur "$T/magic.jpg" "${G[@]}"
# zero width or height
expect 1 "zero_w.png' is corrupt" deblur "$T/zero_w.png" "${G[@]}"
expect 1 "zero_h.png' is corrupt" deblur "$T/zero_h.png" "${G[@]}"
expect 1 "zero.pgm' is corrupt: bad PNM header" deblur "$T/zero.pgm" "${G[@]}"
expect 1 "zero.hdr' is corrupt: bad HDR size line" deblur "$T/zero.hdr" "${G[@]}"
expect 1 "zero.bmp' is corrupt" deblur "$T/zero.bmp" "${G[@]}"
expect 1 "zero.tga'" deblur "$T/zero.tga" "${G[@]}"
# billions of pixels claimed: refused by the limit, or found broken without one
expect 1 "100000 x 100000 = 10000 megapixels, more than the limit of 200 megapixels" deblur "$T/huge.png" "${G[@]}"
expect 1 "huge.png' is corrupt" deblur "$T/huge.png" "${G[@]}" --max-pixels 0
expect 1 "more than the limit of 200 megapixels" deblur "$T/huge.ppm" "${G[@]}"
expect 1 "more than the limit of 200 megapixels" deblur "$T/huge.hdr" "${G[@]}"
expect 1 "65535 x 65535 = 4294.84 megapixels" blur "$T/huge.gif" "${G[@]}"
expect 1 "more than the limit" compare "$T/huge.png" "$DATA/camera.png"
expect 1 "more than the limit" blind "$T/huge.ppm" -o "$OUT" --kernel-size 3
# palette indices out of range: read (as black), not a crash
expect 0 "" blur "$T/pal_range.png" -o "$OUT" --psf "$T/one.csv"
expect 0 "" blur "$T/pal_range4.png" -o "$OUT" --psf "$T/one.csv"
# kernels: malformed, empty, all zero, negative, NaN, too large
expect 1 "empty.csv': kernel file has no values" deblur "$DATA/camera.png" -o "$OUT" --psf "$T/empty.csv"
expect 1 "comment.csv': kernel file has no values" deblur "$DATA/camera.png" -o "$OUT" --psf "$T/comment.csv"
expect 1 "semicolon.csv': row 1, column 1: '1;2' is not a number" deblur "$DATA/camera.png" -o "$OUT" --psf "$T/semicolon.csv"
expect 1 "'1e39' is out of the range of a float" deblur "$DATA/camera.png" -o "$OUT" --psf "$T/overflow.csv"
expect 1 "'inf' is not a finite number" deblur "$DATA/camera.png" -o "$OUT" --psf "$T/inf.csv"
expect 1 "'-nan' is not a finite number" blur "$DATA/camera.png" -o "$OUT" --psf "$T/nan.csv"
expect 1 "zerosum.csv' sums to 0, not a positive number" deblur "$DATA/camera.png" -o "$OUT" --psf "$T/zerosum.csv"
expect 1 "too close to zero to normalise" deblur "$DATA/camera.png" -o "$OUT" --psf "$T/tiny.csv"
expect 1 "black_kernel.png' is all zero" deblur "$DATA/camera.png" -o "$OUT" --psf "$T/black_kernel.png"
expect 1 "row 1 has more than 4096 values" deblur "$DATA/camera.png" -o "$OUT" --psf "$T/wide.csv"
expect 1 "kernel has more than 4096 rows" deblur "$DATA/camera.png" -o "$OUT" --psf "$T/tall.csv"
expect 1 "black.bin" deblur "$DATA/camera.png" -o "$OUT" --psf "$T/black.bin"
expect 2 "kernel 3x1 is larger than the image 1x50" deblur "$T/column.pgm" -o "$OUT" --psf "$T/row3.csv"
expect 0 "" deblur "$DATA/camera.png" -o "$OUT" --psf "$T/sharpen.csv" --iterations 2 --quiet
expect 1 "empty.csv" blind "$DATA/camera.png" -o "$OUT" --kernel-size 3 --kernel-init "$T/empty.csv"
# flags: out of range, NaN, duplicated, missing values, empty
expect 2 "--gaussian SIZE: must be an integer from 1 to 4001, got '0'" deblur "$DATA/camera.png" -o "$OUT" --gaussian 2,0
expect 2 "--gaussian S: must be a number greater than 0 and at most 600, got 'nan'" deblur "$DATA/camera.png" -o "$OUT" --gaussian nan
expect 2 "--motion LENGTH: must be a number of at least 1" deblur "$DATA/camera.png" -o "$OUT" --motion 0.5,10
expect 2 "--disk: must be a number greater than 0 and at most 2000, got '2001'" blur "$DATA/camera.png" -o "$OUT" --disk 2001
expect 2 "--noise: must be a number of at least 0 and at most 1, got 'nan'" blur "$DATA/camera.png" -o "$OUT" --gaussian 1 --noise nan
expect 2 "--seed: must be an integer from 0 to 9223372036854775807" blur "$DATA/camera.png" -o "$OUT" --gaussian 1 --seed 9223372036854775808
expect 2 "--max-pixels: '1e9' is not an integer" deblur "$DATA/camera.png" "${G[@]}" --max-pixels 1e9
expect 2 "--threads: 'nan' is not an integer" deblur "$DATA/camera.png" "${G[@]}" --threads nan
expect 2 "--tv: must be a non-negative finite number, got 'inf'" deblur "$DATA/camera.png" "${G[@]}" --tv=inf
expect 2 "--tol: must be a non-negative finite number, got 'nan'" deblur "$DATA/camera.png" "${G[@]}" --tol nan
expect 2 "--method: must be one of nesterov|gd|cg, got 'newton'" deblur "$DATA/camera.png" "${G[@]}" --method newton
expect 2 "--conv: must be one of auto|direct|fft, got ''" deblur "$DATA/camera.png" "${G[@]}" --conv=
expect 2 "--kernel-size: must be an integer from 1 to 1000000, got '0'" blind "$DATA/camera.png" -o "$OUT" --kernel-size 3x0
expect 2 "--levels: must be an integer from 1 to 30, got '31'" blind "$DATA/camera.png" -o "$OUT" --kernel-size 3 --levels 31
expect 2 "--kernel-step: must be a positive finite number, got '-inf'" blind "$DATA/camera.png" -o "$OUT" --kernel-size 3 --kernel-step -inf
expect 2 "--kernel-smooth: must be a non-negative finite number, got '-1'" blind "$DATA/camera.png" -o "$OUT" --kernel-size 3 --kernel-smooth -1
expect 2 "--output given twice" deblur "$DATA/camera.png" -o "$OUT" --output "$T/other.png" --gaussian 1
expect 2 "--gaussian given twice" deblur "$DATA/camera.png" -o "$OUT" --gaussian 1 --gaussian 2
expect 2 "--bits given twice" blur "$DATA/camera.png" "${G[@]}" --bits 8 --bits=8
expect 2 "--seed: missing value" blur "$DATA/camera.png" "${G[@]}" --seed
expect 2 "--kernel-size: missing value" blind "$DATA/camera.png" -o "$OUT" --kernel-size --quiet
expect 2 "--output: the file name is empty" deblur "$DATA/camera.png" -o "" --gaussian 1
expect 2 "--psf: the file name is empty" deblur "$DATA/camera.png" -o "$OUT" --psf ""
expect 1 "no input file name given" deblur "" "${G[@]}"
# constant images: a result
expect 0 "" deblur "$T/const.pgm" -o "$OUT" --gaussian 1 --iterations 5 --quiet
expect 0 "" deblur "$T/black.pgm" -o "$OUT" --gaussian 1 --iterations 5 --quiet
expect 0 "" deblur "$T/white.pgm" -o "$OUT" --gaussian 1 --iterations 5 --quiet --tv 0.01
expect 0 "" blind "$T/const.pgm" -o "$OUT" --kernel-size 3 --iterations 3 --quiet
expect 0 "" blind "$T/black.pgm" -o "$OUT" --kernel-size 3 --iterations 3 --quiet
# tiny: smaller than the kernel, one pixel, one pixel wide or high
expect 2 "kernel 3x3 is larger than the image 1x1" deblur "$T/dot.pgm" -o "$OUT" --gaussian 0.5,3
expect 2 "kernel 7x7 is larger than the image 1x50" blur "$T/column.pgm" -o "$OUT" --gaussian 1
expect 2 "larger than the image 1x1" blind "$T/dot.pgm" -o "$OUT" --kernel-size 2
expect 0 "" deblur "$T/dot.pgm" -o "$OUT" --psf "$T/one.csv" --iterations 3 --quiet
expect 0 "" deblur "$T/column.pgm" -o "$OUT" --psf "$T/col3.csv" --iterations 3 --quiet
expect 0 "" deblur "$T/row.pgm" -o "$OUT" --psf "$T/row3.csv" --iterations 3 --quiet --full
expect 0 "" blur "$T/column.pgm" -o "$OUT" --psf "$T/col3.csv"
expect 0 "" blind "$T/dot.pgm" -o "$OUT" --kernel-size 1 --iterations 2 --quiet
expect 0 "" blind "$T/row.pgm" -o "$OUT" --kernel-size 3x1 --iterations 2 --quiet
expect 0 "" blind "$T/column.pgm" -o "$OUT" --kernel-size 1x5 --iterations 2 --quiet
# 1 x 10 million pixels (and 10 million x 1): a result, quickly
expect 0 "" deblur "$T/long.pgm" -o "$OUT" --psf "$T/row3.csv" --iterations 2 --quiet
expect 0 "" deblur "$T/tall.pgm" -o "$OUT" --psf "$T/col3.csv" --iterations 2 --quiet
expect 0 "" blur "$T/long.pgm" -o "$OUT" --psf "$T/row3.csv"
expect 2 "kernel 3x3 is larger than the image 10000000x1" deblur "$T/long.pgm" -o "$OUT" --gaussian 0.5,3
expect 1 "more than the limit" deblur "$T/long.pgm" -o "$OUT" --psf "$T/row3.csv" --max-pixels 9999999
# 16-bit, full range: a 16-bit result
expect 0 "" deblur "$T/full16.pgm" -o "$OUT" --gaussian 1 --iterations 5 --quiet
expect 0 "" blur "$T/full16.pgm" -o "$OUT" --gaussian 1 --noise 0.5 --seed 3
expect 0 "" deblur "$T/k20.png" -o "$OUT" --gaussian 1 --iterations 5 --quiet --no-clip --tv 0
"$DECONV" deblur "$T/full16.pgm" -o "$OUT" --gaussian 1 --iterations 5 --quiet 2>/dev/null
if [ "$(od -An -tu1 -j24 -N1 "$OUT" 2>/dev/null | tr -d ' ')" = 16 ]; then ok; else bad "full16.pgm: the output is not 16-bit"; fi
rm -f "$OUT"

finish
