#!/usr/bin/env bash
# Ctrl-C and SIGTERM: deconv stops at the next iteration, exits 128+signal
# (130 for SIGINT), writes no output, and leaves a complete log.
#   usage: bash signals.sh /path/to/deconv /path/to/tests/data
. "$(dirname "$0")/lib/harness.sh" "$@"
pid=
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; fi
    rm -rf "$T"
}
trap cleanup EXIT

# interrupt SIGNAL CODE ARGS...: start deconv with ARGS (which log to
# $T/log.csv), send SIGNAL once the log has a few rows, expect exit CODE.
interrupt() {
    local sig=$1 code=$2
    shift 2
    local what="deconv $* (SIG$sig)"
    rm -f "$T/log.csv" "$T/out.png" "$T/k.csv"
    "$DECONV" "$@" 2>"$T/stderr" &
    pid=$!
    local waited=0
    while [ "$(cat "$T/log.csv" 2>/dev/null | wc -l)" -lt 3 ] && [ "$waited" -lt 600 ]; do
        sleep 0.1
        waited=$((waited + 1))
    done
    kill "-$sig" "$pid"
    wait "$pid"
    local rc=$?
    pid=
    if [ "$rc" -eq "$code" ]; then ok; else bad "$what: exit $rc, expected $code: $(cat "$T/stderr")"; fi
    if grep -qF "deconv: interrupted; nothing written" "$T/stderr"; then ok; else
        bad "$what: message: $(cat "$T/stderr")"
    fi
    if [ ! -e "$T/out.png" ] && [ ! -e "$T/k.csv" ]; then ok; else bad "$what: wrote an output"; fi
    if [ "$(ls "$T" | grep -cv -e '^log.csv$' -e '^stderr$')" -eq 0 ]; then ok; else
        bad "$what: left files: $(ls "$T")"
    fi
    # the log is complete up to the last iteration: whole rows only
    if [ "$(head -n 1 "$T/log.csv")" = "phase,level,channel,iteration,objective,data_term,step,seconds,response" ] &&
        [ "$(wc -l <"$T/log.csv")" -ge 3 ] &&
        awk -F, 'NR > 1 && (NF != 9 || $4 !~ /^[0-9]+$/) { exit 1 }' "$T/log.csv" &&
        [ "$(tail -c 1 "$T/log.csv" | od -An -c | tr -d ' ')" = '\n' ]; then ok; else
        bad "$what: incomplete log: $(tail -n 2 "$T/log.csv")"
    fi
}

SLOW=(--iterations 1000000 --tol 0 --line-search none --step 0.5 --quiet --log "$T/log.csv")
interrupt INT 130 deblur "$DATA/coffee.png" -o "$T/out.png" --gaussian 2 "${SLOW[@]}"
interrupt TERM 143 deblur "$DATA/coffee.png" -o "$T/out.png" --gaussian 2 "${SLOW[@]}"
interrupt INT 130 blind "$DATA/camera.png" -o "$T/out.png" --kernel-size 15 --iterations 100000 \
    --kernel-out "$T/k.csv" --quiet --log "$T/log.csv"

finish
