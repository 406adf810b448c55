#!/usr/bin/env bash
# A distributed restoration with 1 to 4 processes (oversubscribed where the
# machine has fewer cores): seconds an iteration split into computing, halo
# exchanges and sums, and each process's peak memory, each figure the
# median of REPS runs.
#   usage: bench/distributed.sh BUILD [MEGAPIXELS [KERNEL [CONV [ITERATIONS [REPS [THREADS]]]]]]
set -euo pipefail
build=${1:?usage: distributed.sh BUILD [MEGAPIXELS [KERNEL [CONV [ITERATIONS [REPS [THREADS]]]]]]}
mp=${2:-100} kernel=${3:-7} conv=${4:-direct} iters=${5:-5} reps=${6:-3} threads=${7:-1}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_WAIT_POLICY=passive
echo "# $(uptime)"
echo "processes threads MP kernel path iterations | s/iteration: total halo sums compute | peak MB: max-rank rank0 | memory vs 1 process"
single=""
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for ranks in 1 2 3 4; do
  for r in $(seq "$reps"); do
    mpirun -n "$ranks" --oversubscribe "$build/distributed" --mp "$mp" --kernel "$kernel" \
      --conv "$conv" --iterations "$iters" --threads "$threads"
  done | sort -k7,7g | awk -v n="$reps" 'NR == int((n + 1) / 2)' >"$tmp"
  line=$(cat "$tmp")
  peak=$(echo "$line" | awk '{ print $11 }')
  [ -z "$single" ] && single=$peak
  echo "$line $(awk -v a="$peak" -v b="$single" 'BEGIN { printf "%.2f", a / b }')"
done
