#!/usr/bin/env bash
# Build the libFuzzer targets (clang, in build-fuzz/) and run each for the
# given time, one after the other, single-threaded (OMP_NUM_THREADS=1, one
# fuzzing process). Each runs on a copy of its seed corpus and regressions
# in a scratch folder, so new inputs never land in the repository. Prints the
# executions of each target; exits non-zero if any crashed, leaked, hit
# undefined behaviour, timed out or ran out of memory, and then keeps the
# scratch folder (with the crashing inputs) and names it.
#   usage: tests/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#   (default 60 s; targets fuzz_image fuzz_kernel_text fuzz_flags fuzz_icc)
#   environment: DECONV_FUZZ_BUILD (build folder), FUZZ_ARGS (more libFuzzer flags)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SECONDS_PER_TARGET=${1:-60}
[ $# -gt 0 ] && shift
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(fuzz_image fuzz_kernel_text fuzz_flags fuzz_icc)
BUILD=${DECONV_FUZZ_BUILD:-$ROOT/build-fuzz}
[[ $SECONDS_PER_TARGET =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: SECONDS_PER_TARGET must be a positive integer" >&2; exit 2; }

command -v clang >/dev/null || { echo "run.sh: clang is needed (tools/install-deps.sh --fuzz)" >&2; exit 2; }
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DDECONV_FUZZ=ON >/dev/null || exit 2
cmake --build "$BUILD" -j2 --target "${TARGETS[@]}" >"$BUILD/fuzz-build.log" 2>&1 ||
    { cat "$BUILD/fuzz-build.log"; echo "run.sh: build failed" >&2; exit 2; }

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/deconv-fuzz.XXXXXX")
# The image target writes two files an input (the atomic writer syncs them):
# on a RAM file system when there is one.
FILES=$(mktemp -d /dev/shm/deconv-fuzz.XXXXXX 2>/dev/null) || FILES=$SCRATCH/files
mkdir -p "$FILES"
trap 'rm -rf "$FILES"' EXIT
declare -A MAX_LEN=([fuzz_image]=16384 [fuzz_kernel_text]=4096 [fuzz_flags]=1024 [fuzz_icc]=16384)
failed=()
printf '%-18s %12s %8s  %s\n' target executions seconds result
for t in "${TARGETS[@]}"; do
    dir=$SCRATCH/$t
    mkdir -p "$dir/corpus" "$dir/artifacts"
    for src in "$HERE/corpus/$t" "$HERE/regressions/$t"; do
        [ -d "$src" ] && find "$src" -maxdepth 1 -type f -exec cp {} "$dir/corpus/" \;
    done
    dict=()
    [ -f "$HERE/$t.dict" ] && dict=(-dict="$HERE/$t.dict")
    # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
    TMPDIR=$FILES OMP_NUM_THREADS=1 \
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$BUILD/tests/fuzz/$t" "$dir/corpus" "${dict[@]}" -max_total_time="$SECONDS_PER_TARGET" \
        -max_len="${MAX_LEN[$t]:-4096}" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$dir/artifacts/" ${FUZZ_ARGS:-} >"$dir/log" 2>&1
    rc=$?
    execs=$(awk '/stat::number_of_executed_units/ { n = $2 } END { print n + 0 }' "$dir/log")
    secs=$(awk '/stat::average_exec_per_sec/ { r = $2 } END { print r + 0 }' "$dir/log")
    if [ "$rc" -eq 0 ] && [ -z "$(ls -A "$dir/artifacts")" ]; then
        printf '%-18s %12s %8s  %s\n' "$t" "$execs" "$SECONDS_PER_TARGET" "ok ($secs/s)"
    else
        failed+=("$t")
        printf '%-18s %12s %8s  %s\n' "$t" "$execs" "$SECONDS_PER_TARGET" "FAILED (exit $rc)"
        grep -m1 -E '^==[0-9]+==ERROR|runtime error|^==[0-9]+== ERROR|ALARM|out-of-memory|deadly signal' \
            "$dir/log" | sed 's/^/    /'
        for a in "$dir"/artifacts/*; do [ -e "$a" ] && echo "    input: $a"; done
        echo "    log: $dir/log"
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "run.sh: ${#failed[@]} target(s) failed: ${failed[*]}; inputs and logs kept in $SCRATCH"
    echo "run.sh: add each input to tests/fuzz/regressions/<target>/ once fixed"
    exit 1
fi
rm -rf "$SCRATCH"
echo "run.sh: no crash, leak or undefined behaviour"
