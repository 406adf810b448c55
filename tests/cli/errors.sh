#!/usr/bin/env bash
# Bad invocations of deconv: each must exit with the right code, say what
# went wrong on stderr, create no output file and leave an existing output
# file byte-identical.
#   usage: bash errors.sh /path/to/deconv /path/to/tests/data
. "$(dirname "$0")/lib/harness.sh" "$@"

CAM=$DATA/camera.png
OUT=$T/out.png

# fixtures
"$DECONV" psf --gaussian 5,20 -o "$T/small.png" || bad "fixture small.png"
"$DECONV" psf --gaussian 1,7 -o "$T/tiny.png" || bad "fixture tiny.png"
: >"$T/empty.png"
echo "this is not an image" >"$T/text.png"
printf '1,2,3\n4,5\n' >"$T/ragged.csv"
printf '0,0,0\n0,0,0\n0,0,0\n' >"$T/zero.csv"
printf '0,1,0\n1,nan,1\n0,1,0\n' >"$T/nan.csv"
printf '0,-1,0\n-1,-1,-1\n0,-1,0\n' >"$T/negsum.csv"
printf '0,0,0\n0,1,0\n0,0,0\n' >"$T/delta3.csv"
cp "$CAM" "$T/in.png"
printf 'sentinel output, must survive\n' >"$T/sentinel"

# expect CODE SUBSTRING ARGS...: run deconv twice, once with no $OUT and
# once with an existing $OUT; check the exit code, the message and $OUT.
expect() {
    local code=$1 msg=$2
    shift 2
    local what="deconv $*"
    rm -f "$OUT"
    "$DECONV" "$@" >"$T/stdout" 2>"$T/stderr"
    local rc=$?
    if [ "$rc" -ne "$code" ]; then
        bad "$what: exit $rc, expected $code; stderr: $(cat "$T/stderr")"
    elif ! grep -qF -- "$msg" "$T/stderr"; then
        bad "$what: stderr lacks '$msg': $(cat "$T/stderr")"
    elif ! grep -q '^deconv: ' "$T/stderr"; then
        bad "$what: the message does not start with 'deconv: '"
    else
        ok
    fi
    if [ -e "$OUT" ]; then bad "$what: created $OUT"; else ok; fi
    cp "$T/sentinel" "$OUT"
    "$DECONV" "$@" >/dev/null 2>&1
    rc=$?
    if [ "$rc" -ne "$code" ]; then bad "$what (existing output): exit $rc, expected $code"; fi
    if cmp -s "$T/sentinel" "$OUT"; then ok; else bad "$what: changed an existing $OUT"; fi
    rm -f "$OUT"
    if ls "$T" | grep -qv -e '^out.png$' -e '^small.png$' -e '^tiny.png$' -e '^empty.png$' -e '^text.png$' \
        -e '\.csv$' -e '^in.png$' -e '^sentinel$' -e '^stdout$' -e '^stderr$' -e '^dir.png$'; then
        bad "$what: left a stray file: $(ls "$T")"
    fi
}

K=(--gaussian 2)
# command line
expect 2 "no command given"
expect 2 "unknown command 'frobnicate'" frobnicate
expect 2 "unknown option '--foo' (see deconv --help)" --foo
expect 2 "unknown option '--foo' (see deconv deblur --help)" deblur "$CAM" -o "$OUT" "${K[@]}" --foo
expect 2 "unknown option '-x'" deblur "$CAM" -o "$OUT" "${K[@]}" -x
expect 2 "blur does not take '--tv'" blur "$CAM" -o "$OUT" "${K[@]}" --tv 1
expect 2 "missing -o" deblur "$CAM" "${K[@]}"
expect 2 "missing INPUT" deblur -o "$OUT" "${K[@]}"
expect 2 "2 inputs need a folder to write into (-o DIR/)" deblur "$CAM" extra.png -o "$OUT" "${K[@]}"
expect 2 "unexpected argument 'extra.png'" blur "$CAM" extra.png -o "$OUT" "${K[@]}"
expect 2 "--tv: missing value" deblur "$CAM" -o "$OUT" "${K[@]}" --tv
expect 2 "-o: missing value" deblur "$CAM" "${K[@]}" -o
expect 2 "--iterations: missing value" deblur "$CAM" -o "$OUT" "${K[@]}" --iterations --quiet
expect 2 "--iterations given twice" deblur "$CAM" -o "$OUT" "${K[@]}" --iterations 5 --iterations 6
expect 2 "--quiet given twice" deblur "$CAM" -o "$OUT" "${K[@]}" --quiet --quiet
expect 2 "--quiet: takes no value" deblur "$CAM" -o "$OUT" "${K[@]}" --quiet=1
# strict numbers
expect 2 "--iterations: 'abc' is not an integer" deblur "$CAM" -o "$OUT" "${K[@]}" --iterations abc
expect 2 "--iterations: 'abc' is not an integer" deblur "$CAM" -o "$OUT" "${K[@]}" --iterations=abc
expect 2 "--iterations: '' is not an integer" deblur "$CAM" -o "$OUT" "${K[@]}" --iterations=
expect 2 "--iterations: '5x' is not an integer" deblur "$CAM" -o "$OUT" "${K[@]}" --iterations 5x
expect 2 "--iterations: ' 5' is not an integer" deblur "$CAM" -o "$OUT" "${K[@]}" --iterations " 5"
expect 2 "--iterations: must be an integer from 1 to 1000000, got '0'" deblur "$CAM" -o "$OUT" "${K[@]}" --iterations 0
expect 2 "--iterations: must be an integer from 1 to 1000000, got '-5'" deblur "$CAM" -o "$OUT" "${K[@]}" --iterations -5
expect 2 "--iterations: '1e99' is not an integer" deblur "$CAM" -o "$OUT" "${K[@]}" --iterations 1e99
expect 2 "--iterations: must be an integer from 1 to 1000000" deblur "$CAM" -o "$OUT" "${K[@]}" --iterations 99999999999999999999
expect 2 "--step: must be a positive finite number, got 'nan'" deblur "$CAM" -o "$OUT" "${K[@]}" --step nan
expect 2 "--step: must be a positive finite number, got 'inf'" deblur "$CAM" -o "$OUT" "${K[@]}" --step inf
expect 2 "--step: must be a positive finite number, got '-1'" deblur "$CAM" -o "$OUT" "${K[@]}" --step -1
expect 2 "--step: must be a positive finite number, got '0'" deblur "$CAM" -o "$OUT" "${K[@]}" --step 0
expect 2 "--step: must be a positive finite number, got '1e999'" deblur "$CAM" -o "$OUT" "${K[@]}" --step 1e999
expect 2 "--step: 'fast' is not a number" deblur "$CAM" -o "$OUT" "${K[@]}" --step fast
expect 2 "--bits: must be 8, 16 or 32, got '12'" deblur "$CAM" -o "$OUT" "${K[@]}" --bits 12
expect 2 "--tv: must be a non-negative finite number, got '-1'" deblur "$CAM" -o "$OUT" "${K[@]}" --tv -1
expect 2 "--tikhonov: must be a non-negative" deblur "$CAM" -o "$OUT" "${K[@]}" --tikhonov -0.5
expect 2 "--tol: must be a non-negative" deblur "$CAM" -o "$OUT" "${K[@]}" --tol -1
expect 2 "--threads: must be an integer from 1 to 1024, got '0'" deblur "$CAM" -o "$OUT" "${K[@]}" --threads 0
expect 2 "--threads: must be an integer from 1 to 1024, got '5000'" deblur "$CAM" -o "$OUT" "${K[@]}" --threads 5000
expect 2 "--line-search: must be exact, armijo or none, got 'fast'" deblur "$CAM" -o "$OUT" "${K[@]}" --line-search fast
expect 2 "--max-pixels: must be an integer of at least 0" deblur "$CAM" -o "$OUT" "${K[@]}" --max-pixels -1
# kernels on the command line
expect 2 "deblur: give exactly one kernel (--psf, --gaussian, --motion or --disk)" deblur "$CAM" -o "$OUT" --gaussian 2 --disk 3
expect 2 "deblur: give exactly one kernel (--psf, --gaussian, --motion or --disk)" deblur "$CAM" -o "$OUT"
expect 2 "--gaussian S: must be a number greater than 0" deblur "$CAM" -o "$OUT" --gaussian 0
expect 2 "--gaussian SIZE: 'x' is not an integer" deblur "$CAM" -o "$OUT" --gaussian 2,x
expect 2 "--motion: expected LENGTH,ANGLE" deblur "$CAM" -o "$OUT" --motion 9
expect 2 "--motion ANGLE: must be a finite number, got 'nan'" deblur "$CAM" -o "$OUT" --motion 9,nan
expect 2 "--disk: must be a number greater than 0" deblur "$CAM" -o "$OUT" --disk -2
# output names
expect 2 "-o: '$T/out.bmp': unknown extension '.bmp' (the output formats are .png, .jpg, .jpeg, .tif, .tiff)" deblur "$CAM" -o "$T/out.bmp" "${K[@]}"
expect 2 "unknown extension '.webp'" blind "$CAM" -o "$T/out.webp" --kernel-size 9
expect 2 "unknown extension '.gif'" blur "$CAM" -o "$T/out.gif" "${K[@]}"
expect 2 "no extension to choose the format by" deblur "$CAM" -o "$T/out" "${K[@]}"
expect 2 "--bits 16: JPEG output is 8 bits" deblur "$CAM" -o "$T/out.jpg" "${K[@]}" --bits 16
expect 2 "--bits 16: JPEG output is 8 bits" blur "$CAM" -o "$T/out.JPEG" "${K[@]}" --bits 16
expect 2 "--bits 32: float samples need a TIFF output (.tif, .tiff), not '$T/out.png'" deblur "$CAM" -o "$OUT" "${K[@]}" --bits 32
expect 2 "--bits 32: float samples need a TIFF output" blind "$CAM" -o "$T/out.jpg" --kernel-size 9 --bits 32
expect 2 "--quality: applies to JPEG output only" deblur "$CAM" -o "$OUT" "${K[@]}" --quality 80
expect 2 "--quality: must be an integer from 1 to 100, got '0'" deblur "$CAM" -o "$T/out.jpg" "${K[@]}" --quality 0
expect 2 "--quality: must be an integer from 1 to 100, got '101'" blur "$CAM" -o "$T/out.jpg" "${K[@]}" --quality 101
expect 2 "compare does not take '--quality'" compare "$CAM" "$CAM" --quality 50
expect 2 "a kernel file name must end in .csv or .png" psf "${K[@]}" -o "$T/k.jpg"
expect 1 "folder" deblur "$CAM" -o "$T/no/such/dir/out.png" "${K[@]}"
mkdir -p "$T/dir.png"
expect 1 "is a directory" deblur "$CAM" -o "$T/dir.png" "${K[@]}"
rmdir "$T/dir.png"
# files
expect 1 "cannot open '$T/nonexistent.png'" deblur "$T/nonexistent.png" -o "$OUT" "${K[@]}"
expect 1 "'$T/empty.png' is empty" deblur "$T/empty.png" -o "$OUT" "${K[@]}"
expect 1 "'$T/text.png' is not a supported image" deblur "$T/text.png" -o "$OUT" "${K[@]}"
expect 1 "ragged.csv': row 2 has 2 values" deblur "$CAM" -o "$OUT" --psf "$T/ragged.csv"
expect 1 "zero.csv' is all zero" deblur "$CAM" -o "$OUT" --psf "$T/zero.csv"
expect 1 "nan.csv': row 2, column 2: 'nan' is not a finite number" deblur "$CAM" -o "$OUT" --psf "$T/nan.csv"
expect 1 "negsum.csv' sums to -5, not a positive number" deblur "$CAM" -o "$OUT" --psf "$T/negsum.csv"
expect 1 "missing.csv': cannot open" deblur "$CAM" -o "$OUT" --psf "$T/missing.csv"
expect 1 "text.png" deblur "$CAM" -o "$OUT" --psf "$T/text.png"
expect 1 "more than the limit" deblur "$CAM" -o "$OUT" "${K[@]}" --max-pixels 1000
expect 2 "kernel 31x31 is larger than the image 20x20" deblur "$T/small.png" -o "$OUT" --gaussian 5,31
expect 2 "kernel 31x31 is larger than the image 20x20" blur "$T/small.png" -o "$OUT" --gaussian 5,31
expect 2 "--noise: must be a number of at least 0 and at most 1" blur "$CAM" -o "$OUT" "${K[@]}" --noise 2
expect 2 "--seed: must be an integer of at least 0" blur "$CAM" -o "$OUT" "${K[@]}" --seed -1
# blind
expect 1 "too small to choose a kernel size for" blind "$T/tiny.png" -o "$OUT"
expect 2 "--kernel-size: must be an integer from 1" blind "$CAM" -o "$OUT" --kernel-size 0
expect 2 "kernel 9999x9999 is larger than the image 512x512" blind "$CAM" -o "$OUT" --kernel-size 9999
expect 2 "kernel 9x21 is larger than the image 20x20" blind "$T/small.png" -o "$OUT" --kernel-size 9x21
expect 2 "--kernel-size: expected N or WxH" blind "$CAM" -o "$OUT" --kernel-size 3x
expect 2 "--kernel-size: 'abc' is not an integer" blind "$CAM" -o "$OUT" --kernel-size abc
expect 2 "--levels: must be an integer from 1 to 30, got '0'" blind "$CAM" -o "$OUT" --kernel-size 9 --levels 0
expect 2 "--restore-tv: must be a non-negative finite number, got '-1'" blind "$CAM" -o "$OUT" --kernel-size 9 --restore-tv -1
expect 2 "deblur does not take '--restore-tv'" deblur "$CAM" -o "$OUT" "${K[@]}" --restore-tv 1
expect 2 "--log: one run at a time" deblur "$CAM" "$CAM" -o "$T/outdir/" --gaussian 2 --log "$T/l.csv"
expect 2 "--suffix: for a batch" deblur "$CAM" -o "$OUT" --gaussian 2 --suffix -x
expect 2 "--kernel-out: '$T/k.png': a batch writes a kernel per input" blind "$CAM" "$CAM" -o "$T/outdir/" --kernel-out "$T/k.png"
expect 1 "the kernel step diverged" blind "$CAM" -o "$OUT" --kernel-size 9 --kernel-step 1000 --kernel-line-search none --starts 1
expect 2 "--kernel-line-search" blind "$CAM" -o "$OUT" --kernel-size 9 --kernel-line-search fast
expect 2 "--starts: must be an integer from 1 to 5, got '0'" blind "$CAM" -o "$OUT" --kernel-size 9 --starts 0
expect 2 "--starts: must be an integer from 1 to 5, got '6'" blind "$CAM" -o "$OUT" --kernel-size 9 --starts 6
expect 2 "--estimate-pixels: must be" blind "$CAM" -o "$OUT" --kernel-size 9 --estimate-pixels -5
expect 2 "--region: expected X,Y,W,H" blind "$CAM" -o "$OUT" --kernel-size 9 --region 1,2,3
expect 2 "--region W: must be" blind "$CAM" -o "$OUT" --kernel-size 9 --region 1,2,0,40
expect 1 "is not inside the" blind "$CAM" -o "$OUT" --kernel-size 9 --region 0,0,100000,40
expect 1 "is smaller than the kernel" blind "$CAM" -o "$OUT" --kernel-size 9 --region 0,0,5,40
expect 2 "deblur does not take '--starts'" deblur "$CAM" -o "$OUT" "${K[@]}" --starts 2
expect 2 "--kernel-init: '$T/delta3.csv' is 3x3 but --kernel-size is 9x9" blind "$CAM" -o "$OUT" --kernel-size 9 --kernel-init "$T/delta3.csv"
expect 1 "missing.csv" blind "$CAM" -o "$OUT" --kernel-size 9 --kernel-init "$T/missing.csv"
expect 2 "a kernel file name must end in .csv or .png" blind "$CAM" -o "$OUT" --kernel-size 9 --kernel-out "$T/k.jpg"
expect 2 "blind does not take '--gaussian'" blind "$CAM" -o "$OUT" --kernel-size 9 --gaussian 2
# compare
expect 2 "compare: give two images" compare "$CAM"
expect 1 "is 512x512 gray but" compare "$CAM" "$T/small.png"
expect 1 "nonexistent.png" compare "$CAM" "$T/nonexistent.png"

# an output over an input: refused without --force, the input unchanged
check_refused() { # ARGS...
    cp "$CAM" "$T/in.png"
    "$DECONV" "$@" >/dev/null 2>"$T/stderr"
    local rc=$?
    if [ "$rc" -eq 2 ] && grep -qF "is the input; use --force to overwrite it" "$T/stderr"; then ok; else
        bad "deconv $*: exit $rc: $(cat "$T/stderr")"
    fi
    if cmp -s "$CAM" "$T/in.png"; then ok; else bad "deconv $*: changed the input"; fi
}
check_refused deblur "$T/in.png" -o "$T/in.png" "${K[@]}"
check_refused deblur "$T/in.png" -o "$T/./in.png" "${K[@]}"
ln -s in.png "$T/link.png"
check_refused blur "$T/in.png" -o "$T/link.png" "${K[@]}"
rm -f "$T/link.png"
check_refused blind "$T/in.png" -o "$OUT" --kernel-size 9 --kernel-out "$T/in.png"
"$DECONV" deblur "$T/in.png" -o "$OUT" "${K[@]}" --log "$T/in.png" 2>"$T/stderr"
rc=$?
if [ "$rc" -eq 2 ] && grep -qF -- "--log '$T/in.png' is the input" "$T/stderr" &&
    cmp -s "$CAM" "$T/in.png" && [ ! -e "$OUT" ]; then ok; else bad "--log over the input: exit $rc"; fi
rm -f "$OUT"

finish
