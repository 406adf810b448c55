#!/usr/bin/env bash
# The program under mpirun: `deconv deblur` with 1 to 4 processes (1 and
# 2 threads each) writes the very bytes of one process, on the direct
# and the FFT path, gray, colour with alpha, 16-bit TIFF; and a failure of
# any process (a bad file, a process killed) ends every one of them
# promptly, non-zero, with no output and no temporary file left.
#   usage: bash cli.sh DECONV DATA MPIEXEC
. "$(dirname "$0")/../cli/lib/harness.sh" "$1" "$2"
MPIEXEC=${3:?usage: cli.sh DECONV DATA MPIEXEC}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_WAIT_POLICY=passive
mpi() { # RANKS THREADS ARGS...: deconv under mpirun, under a timeout
    local ranks=$1 threads=$2
    shift 2
    timeout 300 "$MPIEXEC" -n "$ranks" --oversubscribe -x OMP_NUM_THREADS="$threads" \
        -x OMP_WAIT_POLICY "$DECONV" "$@"
}

# the inputs: blurred with deconv itself (in linear light: camera-like)
"$DECONV" psf --motion 7,20 -o "$T/k7.csv" &&
    "$DECONV" psf --motion 31,35 -o "$T/k31.csv" &&
    "$DECONV" blur "$DATA/coffee.png" -o "$T/rgb.png" --psf "$T/k7.csv" --noise 0.01 --seed 1 &&
    "$DECONV" blur "$DATA/camera.png" -o "$T/gray.png" --psf "$T/k31.csv" --noise 0.01 --seed 2 &&
    "$DECONV" blur "$DATA/coffee.png" -o "$T/rgb16.tif" --psf "$T/k31.csv" --bits 16 --seed 3 &&
    awk 'BEGIN { w = 2800; h = 2200; print "P2"; print w, h; print 255
        for (i = 0; i < h; i++) { line = ""
            for (j = 0; j < w; j++) line = line " " int(128 + 100 * sin(i * 0.05) * cos(j * 0.03) + ((i / 7 + j / 5) % 2) * 20)
            print line } }' >"$T/large.pgm" &&
    "$DECONV" blur "$T/large.pgm" -o "$T/large.png" --psf "$T/k31.csv" --noise 0.01 &&
    awk 'BEGIN { w = 240; h = 2300; print "P2"; print w, h; print 255
        for (i = 0; i < h; i++) { line = ""
            for (j = 0; j < w; j++) line = line " " int(128 + 100 * sin(i * 0.07) * cos(j * 0.05) + ((i / 5 + j / 3) % 2) * 20)
            print line } }' >"$T/tall.pgm" &&
    "$DECONV" blur "$T/tall.pgm" -o "$T/tall.png" --psf "$T/k31.csv" --noise 0.01 &&
    "$DECONV" blur "$DATA/coffee.png" -o "$T/rgb.jpg" --psf "$T/k7.csv" --noise 0.005 --quality 80 ||
    { bad "making the inputs"; finish; exit; }

# one process, then 1 to 4 under mpirun: the same bytes
same_bytes() { # NAME INPUT KERNEL OUTPUT-EXTENSION ARGS...
    local name=$1 in=$2 k=$3 ext=$4
    shift 4
    if ! "$DECONV" deblur "$in" -o "$T/$name-one.$ext" --psf "$k" --quiet "$@" 2>"$T/err"; then
        bad "$name: one process: $(cat "$T/err")"
        return
    fi
    for ranks in 1 2 3 4; do
        for threads in 1 2; do
            local out="$T/$name-$ranks-$threads.$ext"
            if ! mpi "$ranks" "$threads" deblur "$in" -o "$out" --psf "$k" --quiet "$@" \
                >"$T/err" 2>&1; then
                bad "$name: $ranks processes, $threads threads: exit: $(head -3 "$T/err")"
            elif cmp -s "$T/$name-one.$ext" "$out"; then ok; else
                bad "$name: $ranks processes, $threads threads: not the bytes of one process"
            fi
            rm -f "$out"
        done
    done
}
same_bytes rgb-direct "$T/rgb.png" "$T/k7.csv" png --iterations 40 --conv direct
same_bytes gray-fft "$T/tall.png" "$T/k31.csv" png --iterations 25 --conv fft # tiles of ~500 rows: 4 bands
same_bytes jpeg-in "$T/rgb.jpg" "$T/k7.csv" png --iterations 20 # the noise estimate's JPEG branch
same_bytes full "$T/rgb.png" "$T/k7.csv" png --iterations 10 --full
same_bytes tiff16-auto "$T/rgb16.tif" "$T/k31.csv" tif --iterations 15 --bits 16 --response linear

# blind: rank 0 estimates (or the processes share its starts), every
# process restores: the kernel and the output of one process
same_blind() { # NAME INPUT ARGS...
    local name=$1 in=$2
    shift 2
    if ! "$DECONV" blind "$in" -o "$T/$name-one.png" --kernel-out "$T/$name-one.csv" --quiet "$@" \
        2>"$T/err"; then
        bad "$name: one process: $(cat "$T/err")"
        return
    fi
    for ranks in 2 3; do
        if ! mpi "$ranks" 1 blind "$in" -o "$T/$name-$ranks.png" --kernel-out "$T/$name-$ranks.csv" \
            --quiet "$@" >"$T/err" 2>&1; then
            bad "$name: $ranks processes: exit: $(head -3 "$T/err")"
        elif cmp -s "$T/$name-one.png" "$T/$name-$ranks.png" && cmp -s "$T/$name-one.csv" "$T/$name-$ranks.csv"; then
            ok
        else
            bad "$name: $ranks processes: not the kernel and output of one process"
        fi
    done
}
same_blind blind "$T/gray.png" --kernel-size 15
# a long kernel on a noisy photo: the shock-filtered start alone, on rank 0
"$DECONV" blur "$DATA/camera.png" -o "$T/noisy.png" --psf "$T/k31.csv" --noise 0.02 --seed 4 ||
    bad "making the noisy input"
same_blind blind-long "$T/noisy.png" --kernel-size 51 --iterations 3

# a bad input: every process exits non-zero, one message, no output
if mpi 3 1 deblur "$T/missing.png" -o "$T/never.png" --psf "$T/k7.csv" >"$T/err" 2>&1; then
    bad "a missing input succeeded"
else ok; fi
[ "$(grep -c "deconv: cannot open" "$T/err")" = 1 ] && ok || bad "one message for a missing input: $(cat "$T/err")"
[ ! -e "$T/never.png" ] && ok || bad "an output was written for a missing input"

# an output that cannot be written: every process exits non-zero
if mpi 3 1 deblur "$T/rgb.png" -o "$T/no/such/folder/out.png" --psf "$T/k7.csv" >"$T/err" 2>&1; then
    bad "an output in a missing folder succeeded"
else ok; fi
grep -q "no/such/folder" "$T/err" && ok || bad "the message names the output: $(head -3 "$T/err")"

# an output that would replace the input is refused (no --force)
cp "$T/rgb.png" "$T/keep.png"
if mpi 2 1 deblur "$T/keep.png" -o "$T/keep.png" --psf "$T/k7.csv" >"$T/err" 2>&1; then
    bad "replaced the input without --force"
else ok; fi
cmp -s "$T/rgb.png" "$T/keep.png" && ok || bad "the input changed"

# stopped by SIGTERM (the launcher passes it on; a run long enough to be
# stopped: 6 megapixels, whose ~130 iterations before the objective stops
# falling take over 10 s; at 1.8 megapixels the faster camera model ended
# within the 3 s): every process stops at the same iteration, exit
# non-zero, no output
mkdir "$T/term"
"$MPIEXEC" -n 2 --oversubscribe -x OMP_NUM_THREADS=1 "$DECONV" deblur "$T/large.png" \
    -o "$T/term/out.png" --psf "$T/k31.csv" --iterations 100000 --tol 0 --quiet \
    >"$T/term.log" 2>&1 &
launcher=$!
sleep 3
kill -TERM "$launcher"
start=$(date +%s)
while kill -0 "$launcher" 2>/dev/null && [ $(($(date +%s) - start)) -lt 15 ]; do sleep 0.2; done
if kill -0 "$launcher" 2>/dev/null; then
    bad "the run still goes 15 s after SIGTERM"
    kill -9 "$launcher"
else
    wait "$launcher" && bad "a run stopped by SIGTERM exited 0" || ok
fi
[ -z "$(ls -A "$T/term")" ] && ok || bad "left after SIGTERM: $(ls -A "$T/term")"

# a process killed mid-run: all gone within 10 s, non-zero, nothing left
mkdir "$T/kill"
"$MPIEXEC" -n 3 --oversubscribe -x OMP_NUM_THREADS=1 "$DECONV" deblur "$T/large.png" \
    -o "$T/kill/out.png" --psf "$T/k31.csv" --iterations 100000 --tol 0 --quiet \
    >"$T/kill.log" 2>&1 &
launcher=$!
victim=""
for _ in $(seq 100); do # the processes are the launcher's children
    victim=$(pgrep -P "$launcher" -x deconv | sed -n 2p)
    [ -n "$victim" ] && break
    sleep 0.1
done
sleep 2
if [ -z "$victim" ]; then
    bad "no process of the run to kill"
    kill "$launcher" 2>/dev/null
else
    kill -9 "$victim"
    start=$(date +%s)
    while kill -0 "$launcher" 2>/dev/null && [ $(($(date +%s) - start)) -lt 15 ]; do sleep 0.2; done
    if kill -0 "$launcher" 2>/dev/null; then
        bad "the run still goes 15 s after a process was killed"
        kill -9 "$launcher"
    else
        ok
        wait "$launcher" && bad "a run with a killed process exited 0" || ok
        [ $(($(date +%s) - start)) -le 10 ] && ok || bad "ending took over 10 s"
    fi
fi
wait 2>/dev/null
sleep 0.5
[ -z "$(pgrep -f "$T/kill/out.png")" ] && ok || { bad "processes of the killed run remain"; pkill -9 -f "$T/kill/out.png"; }
[ -z "$(ls -A "$T/kill")" ] && ok || bad "left in the output's folder: $(ls -A "$T/kill")"

finish
