#!/usr/bin/env bash
# deblur and blind end to end on a small image under valgrind's memcheck:
# no invalid access, no use of uninitialised values, no definite leak.
# One thread (libgomp's thread pool is not a leak but is noise).
#   usage: bash valgrind.sh /path/to/deconv /path/to/tests/data
. "$(dirname "$0")/lib/harness.sh" "$@"
# A sanitizer build is checked by its sanitizers; valgrind cannot run it.
if ldd "$DECONV" 2>/dev/null | grep -q libasan; then
    echo "sanitizer build: memcheck left to AddressSanitizer"
    echo "0 passed, 0 failed"
    exit 0
fi
command -v valgrind >/dev/null || { echo "FAIL: valgrind is not installed (tools/install-deps.sh)"; echo "0 passed, 1 failed"; exit 1; }
memcheck() { # DESCRIPTION EXPECTED_EXIT ARGS...: memcheck's own errors exit 99
    local what=$1 expected=$2 code=0
    shift 2
    OMP_NUM_THREADS=1 valgrind -q --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite,indirect "$DECONV" "$@" 2>"$T/log" || code=$?
    if [[ $code == "$expected" ]]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: $what: exit $code, expected $expected"
        cat "$T/log"
    fi
}
# A small test image (memcheck is slow): 96 x 80 gray, squares and a ramp,
# as an ASCII PGM.
awk 'BEGIN { print "P2\n96 80\n255"; for (i = 0; i < 80; i++) { line = "";
    for (j = 0; j < 96; j++) line = line " " int(((int(i / 9) + int(j / 11)) % 2) * 150 + j);
    print line } }' > "$T/sharp.pgm"
memcheck "read a PGM" 0 blur "$T/sharp.pgm" -o "$T/sharp.png" --disk 0.3
memcheck "blur" 0 blur "$T/sharp.png" -o "$T/b.png" --motion 7,20 --noise 0.01 --seed 4
memcheck "deblur" 0 deblur "$T/b.png" -o "$T/d.png" --motion 7,20 --iterations 3 --quiet
memcheck "deblur --conv fft" 0 deblur "$T/b.png" -o "$T/f.png" --motion 7,20 --iterations 2 --conv fft --quiet
memcheck "blind" 0 blind "$T/b.png" -o "$T/bl.png" --kernel-size 7 --iterations 2 --levels 2 --kernel-out "$T/k.csv" --quiet
memcheck "a missing kernel file" 1 deblur "$T/b.png" -o "$T/x.png" --psf "$T/missing.csv" --quiet
finish
