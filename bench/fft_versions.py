#!/usr/bin/env python3
"""The FFT path of two builds (an older commit's and this one's), from
alternating runs of their bench/speed on the same machine:

    for i in $(seq 10); do
      for b in old new; do
        bin=build/speed; [ $b = old ] && bin=build-old/speed
        $bin --conv --threads 1,2 --reps 5 --mp 1,4,12 \\
            --kernels 15,31,63,75,101 --csv $b$i.csv
      done
    done
    bench/fft_versions.py $(ls old*.csv | paste -sd,) $(ls new*.csv | paste -sd,)

(docs/benchmarks.md, "The FFT path's tiles", builds build-old from the
commit before the tiles.)

Prints, for each image, kernel and thread count, the median over the runs
of each build's seconds for one deconv_op_apply on the FFT path (each run's
figure is itself a median of repetitions) and their ratio, old over new,
as a Markdown table. Alternating the builds spreads the load of other
processes on a shared machine over both.
"""
import statistics
import sys


def fft_seconds(paths):
    """{(N, M, k, threads): [s_fft of each run]} from speed's CSV files."""
    runs = {}
    for path in paths:
        for line in open(path):
            f = line.strip().split(",")
            if f[0] == "conv":
                key = (int(f[1]), int(f[2]), int(f[3]), int(f[4]))
                runs.setdefault(key, []).append(float(f[6]))
    return runs


def main(old_paths, new_paths):
    old, new = fft_seconds(old_paths), fft_seconds(new_paths)
    print("| image | kernel | threads | old (s) | new (s) | old / new |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for key in sorted(set(old) & set(new), key=lambda k: (k[0] * k[1], k[3], k[2])):
        n, m, k, threads = key
        so, sn = statistics.median(old[key]), statistics.median(new[key])
        print("| %d x %d | %d | %d | %.4f | %.4f | %.2f |" % (n, m, k, threads, so, sn, so / sn))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1].split(","), sys.argv[2].split(","))
