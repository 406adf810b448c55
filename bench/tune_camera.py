#!/usr/bin/env python3
"""Tables of docs/tuning-camera.md from the output of build/camera (plain
Python, no packages).

  tune_camera.py tv LABEL=FILE ...
      FILEs from `camera --tv-factors ...`: per set and scene kind, the mean
      gain over the blurry photo at some factors on the automatic TV weight
      and the oracle (each case's best factor); then candidate rules (a
      factor on today's weight, or a s^p of the noise estimate s), each
      set's mean gain, the change against today's rule (mean, worst set)
      and the loss against the oracle per scene kind.
  tune_camera.py noise BEFORE_FILE=AFTER_FILE ...
      pairs of `camera --noise-list` outputs on the same cases (label taken
      from the file name: ..._q75_... is JPEG quality 75, q0 uncompressed,
      ..._gray / _rgb): estimate / true noise, before and after, and the
      mean |ln(estimate / true)|.
  tune_camera.py jpeg SWEEP_FILE=NOISE_FILE ...
      SWEEP_FILE from `camera --jpeg Q --png-base --tv-factors ...` (factors
      on the weight of the uncompressed photo, its estimate column the
      estimate on the JPEG before the change), NOISE_FILE from `camera
      --jpeg Q --noise-list` on the same cases after it: the gain with the
      weight of each estimate (today's rule, interpolated between the
      factors), with the uncompressed photo's weight, and the oracle.

PSNR between factors: quadratic in log(factor) through the three nearest."""
import math
import re
import sys

SCENES = ("day", "bright", "night")


def load_sweep(path, label):
    rows, factors = [], None
    for line in open(path):
        t = line.split()
        if not t:
            continue
        if t[0] == "case":
            factors = [float(x[1:]) for x in t if re.match(r"^[sl][0-9.]+$", x)]
            continue
        if not t[0].isdigit() or factors is None or len(t) < 10 + len(factors):
            continue
        rows.append(dict(set=label, case=int(t[0]), photo=t[1], scene=t[2], noise=float(t[4]),
                         blurry=float(t[6]), est=float(t[7]), tv=float(t[8]), factors=factors,
                         psnr=[float(x) for x in t[9:9 + len(factors)]]))
    return rows


def load_noise(path):
    out = []
    for line in open(path):
        t = line.split()
        if len(t) >= 10 and t[0].isdigit():
            out.append(dict(case=int(t[0]), scene=t[2], noise=float(t[4]), est=float(t[7])))
    return out


def psnr_at(r, f):
    """PSNR at f times the row's weight; past the grid, 1 dB per e-fold."""
    xs, ys, x = [math.log(v) for v in r["factors"]], r["psnr"], math.log(f)
    if x <= xs[0]:
        return ys[0] - (xs[0] - x)
    if x >= xs[-1]:
        return ys[-1] - (x - xs[-1])
    i = min(range(len(xs)), key=lambda k: abs(xs[k] - x))
    i = max(1, min(len(xs) - 2, i))
    (x0, x1, x2), (y0, y1, y2) = xs[i - 1:i + 2], ys[i - 1:i + 2]
    return (y0 * (x - x1) * (x - x2) / ((x0 - x1) * (x0 - x2)) +
            y1 * (x - x0) * (x - x2) / ((x1 - x0) * (x1 - x2)) +
            y2 * (x - x0) * (x - x1) / ((x2 - x0) * (x2 - x1)))


def gain(r, f):
    return psnr_at(r, f) - r["blurry"]


def oracle(r):
    lo, hi = math.log(r["factors"][0]), math.log(r["factors"][-1])
    return max(gain(r, math.exp(lo + (hi - lo) * i / 400)) for i in range(401))


def mean(v):
    return sum(v) / len(v) if v else float("nan")


def today(s):
    """deblur.c's automatic_tv: min(0.1 s, 10 s^2), s at least 0.5 / 255."""
    s = max(s, 0.5 / 255)
    return min(0.1 * s, 10 * s * s)


def pairs(args):
    for a in args:
        if "=" not in a:
            sys.exit("arguments are LABEL=FILE or FILE=FILE: " + a)
        yield a.split("=", 1)


def tv_report(args):
    sets = [(label, load_sweep(path, label)) for label, path in pairs(args)]
    rows = [r for _, g in sets for r in g]
    for r in rows:
        r["oracle"] = oracle(r)
    shown = [f for f in (0.25, 0.5, 0.71, 1, 1.41, 2, 4) if f in rows[0]["factors"]]
    print("| set | scene | cases | " + " | ".join("x%g" % f for f in shown) + " | oracle |")
    print("| --- | --- | ---: |" + " ---: |" * (len(shown) + 1))

    def line(label, scene, g):
        print("| %s | %s | %d | " % (label, scene, len(g)) +
              " | ".join("%+.2f" % mean([gain(r, f) for r in g]) for f in shown) +
              " | %+.2f |" % mean([r["oracle"] for r in g]))

    for label, g in sets:
        for s in SCENES:
            if any(r["scene"] == s for r in g):
                line(label, s, [r for r in g if r["scene"] == s])
    for s in SCENES:
        line("all", s, [r for r in rows if r["scene"] == s])
    line("all", "all", rows)

    rules = [("%.2f x today" % c, (lambda c: lambda r: c)(c))
             for c in (0.5, 0.6, 0.71, 0.8, 0.9, 1.0)]
    rules += [("%g s^%g" % (a, p),
               (lambda a, p: lambda r: a * max(r["est"], 0.5 / 255) ** p / today(r["est"]))(a, p))
              for a, p in ((0.05, 1), (0.07, 1), (0.1, 1), (1, 1.5), (2, 1.5), (5, 2), (7, 2),
                           (10, 2))]
    print()
    print("| rule | " + " | ".join(label for label, _ in sets) +
          " | all | change (worst set) | loss to the oracle: day / bright / night |")
    print("| --- |" + " ---: |" * (len(sets) + 2) + " --- |")
    base = {label: mean([gain(r, 1) for r in g]) for label, g in sets}
    base_all = mean([gain(r, 1) for r in rows])
    for name, rule in rules:
        per = {label: mean([gain(r, rule(r)) for r in g]) for label, g in sets}
        total = mean([gain(r, rule(r)) for r in rows])
        worst = min(per[label] - base[label] for label, _ in sets)
        loss = [mean([r["oracle"] - gain(r, rule(r)) for r in rows if r["scene"] == s])
                for s in SCENES]
        print("| %s | " % name + " | ".join("%+.2f" % per[label] for label, _ in sets) +
              " | %+.2f | %+.2f (%+.2f) | %.2f / %.2f / %.2f |" %
              (total, total - base_all, worst, *loss))


def noise_report(args):
    floor = 0.5 / 255
    groups = {}
    for before, after in pairs(args):
        m = re.search(r"_q(\d+)_.*_(gray|rgb)", before)
        key = (int(m.group(1)), m.group(2)) if m else (0, before)
        for b, a in zip(load_noise(before), load_noise(after)):
            if b["case"] != a["case"]:
                sys.exit("%s and %s are not the same cases" % (before, after))
            groups.setdefault(key + (b["noise"],), []).append((b["est"], a["est"]))
    print("| file | kind | noise | cases | before: estimate / true, mean (min - max) | after |"
          " mean abs log error, before -> after |")
    print("| --- | --- | ---: | ---: | --- | --- | --- |")
    order = sorted(groups, key=lambda k: (k[0] != 0, -k[0], k[1], k[2]))
    for q, kind, n in order:
        v = groups[(q, kind, n)]
        rb, ra = [b / n for b, _ in v], [a / n for _, a in v]
        lb = mean([abs(math.log(max(b, floor) / n)) for b, _ in v])
        la = mean([abs(math.log(max(a, floor) / n)) for _, a in v])
        print("| %s | %s | %.1f %% | %d | %.2f (%.2f - %.2f) | %.2f (%.2f - %.2f) | %.2f -> %.2f |"
              % ("PNG" if q == 0 else "JPEG %d" % q, kind, 100 * n, len(v), mean(rb), min(rb),
                 max(rb), mean(ra), min(ra), max(ra), lb, la))


def jpeg_report(args):
    print("| JPEG | scene | cases | estimate before | estimate after |"
          " uncompressed photo's weight | oracle |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for sweep, noise in pairs(args):
        m = re.search(r"q(\d+)", sweep)
        rows = load_sweep(sweep, sweep)
        after = {a["case"]: a["est"] for a in load_noise(noise)}
        for s in SCENES + ("all",):
            g = [r for r in rows if s in (r["scene"], "all")]
            before = mean([gain(r, today(r["est"]) / r["tv"]) for r in g])
            new = mean([gain(r, today(after[r["case"]]) / r["tv"]) for r in g])
            print("| %s | %s | %d | %+.2f | %+.2f | %+.2f | %+.2f |" %
                  (m.group(1) if m else sweep, s, len(g), before, new,
                   mean([gain(r, 1) for r in g]), mean([oracle(r) for r in g])))


if __name__ == "__main__":
    reports = {"tv": tv_report, "noise": noise_report, "jpeg": jpeg_report}
    if len(sys.argv) < 3 or sys.argv[1] not in reports:
        sys.exit(__doc__)
    reports[sys.argv[1]](sys.argv[2:])
