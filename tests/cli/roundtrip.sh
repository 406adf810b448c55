#!/usr/bin/env bash
# The deconv program end to end: psf, blur (sizes, reproducible noise),
# deblur (same bytes with 1 or 2 threads, a real PSNR gain), compare, the
# log, --full, --bits, --force, colour, and a small blind run.
#   usage: bash roundtrip.sh /path/to/deconv /path/to/tests/data
. "$(dirname "$0")/lib/harness.sh" "$@"
check() { # DESCRIPTION COMMAND...: the command must succeed
    local what=$1
    shift
    if "$@"; then ok; else bad "$what"; fi
}
check_not() { # DESCRIPTION COMMAND...: the command must fail
    local what=$1
    shift
    if "$@"; then bad "$what"; else ok; fi
}
run() { # ARGS...: deconv must succeed
    if "$DECONV" "$@" 2>"$T/stderr"; then ok; else
        bad "deconv $*: exit $?: $(cat "$T/stderr")"
        return 1
    fi
}
# WIDTHxHEIGHT, bit depth and colour type of a PNG, from its IHDR chunk
png_size() { od -An -tu1 -j16 -N8 "$1" | awk '{ printf "%dx%d\n", $1*16777216 + $2*65536 + $3*256 + $4, $5*16777216 + $6*65536 + $7*256 + $8 }'; }
png_depth() { od -An -tu1 -j24 -N1 "$1" | tr -d ' '; }
png_colour() { od -An -tu1 -j25 -N1 "$1" | tr -d ' '; } # 0 gray, 2 RGB
psnr() { "$DECONV" compare "$1" "$2" | awk '$1 == "PSNR" { print $2 }'; }
greater() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }

CAM=$DATA/camera.png
COFFEE=$DATA/coffee.png

# --- psf -------------------------------------------------------------
run psf --motion 9,30 -o "$T/k.csv"
run psf --motion 9,30 -o "$T/k.png"
rows=$(grep -c . "$T/k.csv")
cols=$(awk -F, 'NR == 1 { print NF }' "$T/k.csv")
check "psf csv is square and odd ($cols x $rows)" [ "$rows" = "$cols" -a $((rows % 2)) = 1 ]
check "psf csv sums to 1" awk -F, '{ for (i = 1; i <= NF; i++) s += $i } END { exit !(s > 0.999 && s < 1.001) }' "$T/k.csv"
check "psf png is ${cols}x$rows" [ "$(png_size "$T/k.png")" = "${cols}x$rows" ]
run psf --gaussian 1.5,7 -o "$T/g.csv"
check "--gaussian 1.5,7 is 7x7" [ "$(grep -c . "$T/g.csv")" = 7 ]
run psf --psf "$T/g.csv" -o "$T/g2.csv"
check "a kernel survives csv -> csv" cmp -s "$T/g.csv" "$T/g2.csv"

# --- blur: the valid size, reproducible noise --------------------------
K=$rows
run blur "$CAM" -o "$T/b1.png" --motion 9,30 --noise 0.01 --seed 3
run blur "$CAM" -o "$T/b2.png" --motion 9,30 --noise 0.01 --seed 3
run blur "$CAM" -o "$T/b3.png" --motion 9,30 --noise 0.01 --seed 4
check "blur with the same seed gives the same bytes" cmp -s "$T/b1.png" "$T/b2.png"
check_not "blur with another seed differs" cmp -s "$T/b1.png" "$T/b3.png"
S=$((512 - K + 1))
check "blurred size is ${S}x$S, got $(png_size "$T/b1.png")" [ "$(png_size "$T/b1.png")" = "${S}x$S" ]
check "blurred stays 8-bit gray" [ "$(png_depth "$T/b1.png")$(png_colour "$T/b1.png")" = 80 ]
run blur "$CAM" -o "$T/b16.png" --motion 9,30 --bits 16
check "--bits 16 writes 16 bits" [ "$(png_depth "$T/b16.png")" = 16 ]
run blur "$CAM" -o "$T/k1.png" --psf "$T/k.csv"
run blur "$CAM" -o "$T/k2.png" --motion 9,30
check "blur --psf k.csv equals blur --motion (PSNR > 50)" greater "$(psnr "$T/k1.png" "$T/k2.png")" 50

# the centre crop of the original: a KxK delta kernel
awk -v k="$K" 'BEGIN { for (i = 0; i < k; i++) { for (j = 0; j < k; j++) printf "%s%d", (j ? "," : ""), (i == (k-1)/2 && j == (k-1)/2); print "" } }' >"$T/delta.csv"
run blur "$CAM" -o "$T/ref.png" --psf "$T/delta.csv"
check "delta crop is ${S}x$S" [ "$(png_size "$T/ref.png")" = "${S}x$S" ]
printf '1\n' >"$T/one.csv"
run blur "$CAM" -o "$T/same.png" --psf "$T/one.csv"
check "a 1x1 kernel: PSNR inf" [ "$(psnr "$CAM" "$T/same.png")" = inf ]

# --- compare ---------------------------------------------------------
out=$("$DECONV" compare "$T/ref.png" "$T/b1.png")
check "compare prints PSNR and SSIM: '$out'" grep -qE '^PSNR [0-9]+\.[0-9]{2} dB  SSIM [0-9.]+$' <<<"$out"
p_blur=$(psnr "$T/ref.png" "$T/b1.png")

# --- deblur ----------------------------------------------------------
run deblur "$T/b1.png" -o "$T/d1.png" --motion 9,30 --iterations 30 --threads 1 --quiet
run deblur "$T/b1.png" -o "$T/d2.png" --motion 9,30 --iterations 30 --threads 2 --quiet
check "deblur with 1 and 2 threads gives the same bytes" cmp -s "$T/d1.png" "$T/d2.png"
check "deblurred size is ${S}x$S" [ "$(png_size "$T/d1.png")" = "${S}x$S" ]
p_deblur=$(psnr "$T/ref.png" "$T/d1.png")
check "30 iterations gain over 2 dB (blurred $p_blur dB, restored $p_deblur dB)" \
    greater "$p_deblur" "$(awk -v p="$p_blur" 'BEGIN { print p + 2 }')"
run blur "$CAM" -o "$T/clean.png" --motion 9,30
run deblur "$T/clean.png" -o "$T/dclean.png" --psf "$T/k.csv" --quiet
p0=$(psnr "$T/ref.png" "$T/clean.png")
p1=$(psnr "$T/ref.png" "$T/dclean.png")
check "without noise the gain is over 5 dB ($p0 -> $p1 dB)" greater "$p1" "$(awk -v p="$p0" 'BEGIN { print p + 5 }')"
run deblur "$T/b1.png" -o "$T/full.png" --motion 9,30 --iterations 5 --full --bits 16 --quiet
check "--full gives 512x512" [ "$(png_size "$T/full.png")" = 512x512 ]
check "--bits 16 on deblur" [ "$(png_depth "$T/full.png")" = 16 ]
for rule in exact armijo none; do
    run deblur "$T/b1.png" -o "$T/r.png" --motion 9,30 --iterations 10 --line-search "$rule" --tv 0.002 --tikhonov 0.001 --no-clip --tol 0 --quiet
done
run deblur --quiet --motion=9,30 --iterations=5 "$T/b1.png" --output="$T/order.png"
check "options after INPUT and --flag=value" [ -s "$T/order.png" ]

# the log: a header, one row per iteration, nothing on stderr with --quiet
run deblur "$T/b1.png" -o "$T/l.png" --motion 9,30 --iterations 7 --tol 0 --log "$T/log.csv" --quiet
check "log header" [ "$(head -n 1 "$T/log.csv")" = "phase,level,channel,iteration,objective,data_term,step,seconds,response" ]
check "log has 7 rows, got $(($(wc -l <"$T/log.csv") - 1))" [ "$(wc -l <"$T/log.csv")" = 8 ]
check "log rows have 9 fields" awk -F, 'NR > 1 && NF != 9 { exit 1 }' "$T/log.csv"
check "log iterations count 1..7" [ "$(awk -F, 'NR > 1 { printf "%s", $4 }' "$T/log.csv")" = 1234567 ]
check "--quiet is quiet" [ ! -s "$T/stderr" ]
run deblur "$T/b1.png" -o "$T/l.png" --motion 9,30 --iterations 3
check "a summary without --quiet: $(cat "$T/stderr")" grep -q "^deconv: restored ${S}x$S gray" "$T/stderr"

# --force lets the output replace the input
cp "$T/b1.png" "$T/in.png"
run deblur "$T/in.png" -o "$T/in.png" --motion 9,30 --iterations 5 --force --quiet
check_not "--force replaced the input" cmp -s "$T/b1.png" "$T/in.png"

# --- colour ----------------------------------------------------------
run blur "$COFFEE" -o "$T/cb.png" --gaussian 1.5 --noise 0.005
run psf --gaussian 1.5 -o "$T/g15.csv"
GK=$(grep -c . "$T/g15.csv")
check "coffee blurred is $((600 - GK + 1))x$((400 - GK + 1)) RGB" \
    [ "$(png_size "$T/cb.png")/$(png_colour "$T/cb.png")" = "$((600 - GK + 1))x$((400 - GK + 1))/2" ]
run deblur "$T/cb.png" -o "$T/cd.png" --gaussian 1.5 --iterations 20 --quiet
check "coffee restored keeps size and RGB" [ "$(png_size "$T/cd.png")/$(png_colour "$T/cd.png")" = "$(png_size "$T/cb.png")/2" ]

# --- a run that stops early ---------------------------------------------
# A fixed step far above the safe one diverges: refused and nothing written,
# or, with --keep-partial, the last good iterate written and exit 3.
code=0
"$DECONV" deblur "$T/b1.png" -o "$T/div.png" --motion 9,30 --method gd --line-search none --step 50 2>"$T/stderr" || code=$?
check "a diverging step exits 1 (got $code)" [ "$code" = 1 ]
check "a diverging step names the safe step" grep -q "are safe" "$T/stderr"
check_not "a diverging step writes nothing" [ -e "$T/div.png" ]
code=0
"$DECONV" deblur "$T/b1.png" -o "$T/div.png" --motion 9,30 --method gd --line-search none --step 50 --keep-partial 2>"$T/stderr" || code=$?
check "--keep-partial exits 3 (got $code)" [ "$code" = 3 ]
check "--keep-partial says so" grep -q "stopped early: wrote the last good iterate" "$T/stderr"
check "--keep-partial writes the image" [ "$(png_size "$T/div.png")" = "${S}x$S" ]

# --- blind (small and short) ------------------------------------------
run blind "$T/clean.png" -o "$T/bl.png" --kernel-size 9x7 --iterations 5 --levels 2 --kernel-out "$T/bk.csv" --log "$T/blog.csv" --quiet
check "blind output keeps the size" [ "$(png_size "$T/bl.png")" = "${S}x$S" ]
check "blind kernel is 9 wide, 7 high" [ "$(grep -c . "$T/bk.csv")/$(awk -F, 'NR == 1 { print NF }' "$T/bk.csv")" = 7/9 ]
check "blind kernel sums to 1, no negative entry" awk -F, '{ for (i = 1; i <= NF; i++) { s += $i; if ($i < 0) neg = 1 } } END { exit !(s > 0.999 && s < 1.001 && !neg) }' "$T/bk.csv"
check "blind log has kernel and restore rows" [ "$(cut -d, -f1 "$T/blog.csv" | sort -u | tr '\n' ' ')" = "kernel phase restore " ]
run blind "$T/clean.png" -o "$T/bl2.png" --kernel-size 9 --iterations 3 --levels 1 --kernel-init "$T/k.csv" --kernel-out "$T/bk.png"
check "blind summary: $(cat "$T/stderr")" grep -q "^deconv: kernel 9x9 estimated in .* s; restored ${S}x$S gray in .* s (response .*) -> " "$T/stderr"
check "blind --kernel-out png is 9x9" [ "$(png_size "$T/bk.png")" = 9x9 ]
check_not "a motion kernel gets no note that it is a point: $(cat "$T/stderr")" grep -q "nearly a point" "$T/stderr"
# sharp disks: the kernel found is a point, and the summary says so; the
# same disks blurred: a line, and no note
awk 'BEGIN { srand(3); for (k = 0; k < 40; k++) { cx[k] = rand() * 128; cy[k] = rand() * 128; r[k] = 4 + rand() * 14; g[k] = int(rand() * 256) }
    print "P2 128 128 255"; for (i = 0; i < 128; i++) { for (j = 0; j < 128; j++) { v = 128
    for (k = 0; k < 40; k++) if ((i - cy[k])^2 + (j - cx[k])^2 < r[k]^2) v = g[k]; printf "%d ", v } print "" } }' >"$T/disks.pgm"
run blind "$T/disks.pgm" -o "$T/bsharp.png" --kernel-size 9 --starts 1
check "a point kernel gets its note: $(cat "$T/stderr")" grep -q "^deconv: note: the kernel found is nearly a point (100 % of it in 3x3 pixels)" "$T/stderr"
run blur "$T/disks.pgm" -o "$T/dblur.png" --motion 9,30
run blind "$T/dblur.png" -o "$T/bdisks.png" --kernel-size 11 --starts 1
check_not "a motion kernel gets no note: $(cat "$T/stderr")" grep -q "nearly a point" "$T/stderr"
run blind "$T/clean.png" -o "$T/bl3.png" --kernel-size 5 --iterations 2 --kernel-init gaussian --quiet
run blind "$T/clean.png" -o "$T/bl4.png" --iterations 3 --starts 1 --kernel-out "$T/bk4.csv"
check "blind without --kernel-size says the size was chosen: $(cat "$T/stderr")" grep -q "^deconv: kernel [0-9]*x[0-9]* (size chosen: no --kernel-size) estimated" "$T/stderr"
k4=$(grep -c . "$T/bk4.csv")
check "the chosen kernel is square, odd and at least 9 ($k4 rows)" [ "$k4" = "$(awk -F, 'NR == 1 { print NF }' "$T/bk4.csv")" -a $((k4 % 2)) = 1 -a "$k4" -ge 9 ]
run blind "$T/clean.png" -o "$T/bl5.png" --iterations 2 --starts 1 --kernel-init "$T/k.csv" --kernel-out "$T/bk5.csv" --quiet
check "--kernel-init FILE without --kernel-size gives its size" [ "$(grep -c . "$T/bk5.csv")" = "$(grep -c . "$T/k.csv")" ]
# --kernel-smooth acts on a noisy photo (2 %) and not on a clean one
run blur "$T/clean.png" -o "$T/noisy.png" --motion 7,30 --noise 0.02 --seed 5 --response linear
for w in 0 0.04; do
    run blind "$T/noisy.png" -o "$T/bs$w.png" --kernel-size 9 --iterations 5 --starts 1 --kernel-smooth $w --kernel-out "$T/bsk$w.csv" --quiet
    run blind "$T/clean.png" -o "$T/bc$w.png" --kernel-size 9 --iterations 5 --starts 1 --kernel-smooth $w --kernel-out "$T/bck$w.csv" --quiet
done
check_not "--kernel-smooth 0.04 changes a noisy photo's kernel" cmp -s "$T/bsk0.csv" "$T/bsk0.04.csv"
check "--kernel-smooth 0.04 leaves a clean photo's kernel" cmp -s "$T/bck0.csv" "$T/bck0.04.csv"

# --- help and version ------------------------------------------------
check "--version" [ "$("$DECONV" --version)" = "deconv $(grep -o 'DECONV_VERSION "[^"]*"' "$DATA/../../include/deconv.h" | cut -d'"' -f2)" ]
for c in deblur blind blur psf compare; do
    "$DECONV" "$c" --help >"$T/help" 2>&1
    rc=$?
    check "$c --help exits 0" [ "$rc" = 0 ]
    check "$c --help has an example" grep -q "^  deconv $c " "$T/help"
done
"$DECONV" deblur --help >"$T/help"
check "deblur help shows the library's default of --iterations" grep -q -- "--iterations N .*(default [0-9]" "$T/help"
check "help overview" "$DECONV" --help >/dev/null

# --- batches: several inputs, -o a folder ---------------------------------
mkdir -p "$T/batch"
cp "$T/b1.png" "$T/batch/one.png"
"$DECONV" blur "$CAM" -o "$T/batch/two.jpg" --gaussian 1.5 2>/dev/null || bad "batch fixture two.jpg"
printf 'not an image' >"$T/batch/bad.png"
"$DECONV" deblur "$T/batch/one.png" "$T/batch/bad.png" "$T/batch/two.jpg" -o "$T/batch-out/" \
    --gaussian 1.5 --iterations 5 --suffix -sharp 2>"$T/stderr"
rc=$?
check "a batch with a bad file exits 1 (got $rc)" [ "$rc" = 1 ]
check "the batch went on past the bad file" [ -s "$T/batch-out/one-sharp.png" -a -s "$T/batch-out/two-sharp.jpg" ]
check "nothing written for the bad file" [ ! -e "$T/batch-out/bad-sharp.png" ]
check "the batch's summary names the failure: $(tail -1 "$T/stderr")" grep -q "^deconv: batch: 2 of 3 written to .*; failed: bad.png" "$T/stderr"
check "a batch's output is a JPEG for a JPEG input" [ "$(od -An -tx1 -N2 "$T/batch-out/two-sharp.jpg" | tr -d ' ')" = ffd8 ]
"$DECONV" deblur "$T/batch/one.png" -o "$T/single.png" --gaussian 1.5 --iterations 5 --quiet
check "a batch restores each file as a single run does" cmp -s "$T/single.png" "$T/batch-out/one-sharp.png"
run blind "$T/batch/one.png" "$T/batch/two.jpg" -o "$T/batch-out" --kernel-size 7 --iterations 2 --starts 1 --kernel-out "$T/batch-k/" --quiet
check "blind batch: outputs and kernels" [ -s "$T/batch-out/one.png" -a -s "$T/batch-out/two.jpg" -a -s "$T/batch-k/one-kernel.png" -a -s "$T/batch-k/two-kernel.png" ]

finish
