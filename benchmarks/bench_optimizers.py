"""Benchmark: Adam on a batch of 1,000 trajectories of a 1,000-d least-squares problem.

What it measures: the time per step of ``gradflow.solve(problem, θ0 (B, d), Adam(), h,
steps=N, save="final")`` against the time of one batched gradient evaluation
``problem.grad(θ)`` on the same ``(B, d)`` batch (``least_squares`` with ``n = d``
examples: two ``(B, d) × (d, n)`` matrix products).  Target: step / gradient <= 2, i.e.
Adam's own arithmetic (a dozen elementwise passes) is not the bottleneck.  Also reported:
SGD (plain), AdamW and Lion per step, for scale, and LAMB, Adafactor, Sophia
(Hutchinson, one HVP every 10 steps) and SPS (one loss per step), with the same targets
read as "the method's arithmetic is not the bottleneck": LAMB and Adafactor <= 2
gradients per step, Sophia <= 2 + 2/10 (its HVPs cost two gradients each), SPS <= 3
(its loss costs about one gradient on this problem).

How: ``time.perf_counter``, garbage collector off, one untimed warm-up, candidates
interleaved, best and median of the repeats; ratios use the best times.

Usage::

    python benchmarks/bench_optimizers.py [--quick]

``--quick`` runs tiny sizes (a CI smoke test).  It reports; it does not gate.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
# Benchmark the checkout this script lives in, installed or not.
sys.path.insert(0, str(REPO))

import gradflow as gf  # noqa: E402


def _time(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        gc.disable()
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
        gc.enable()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (CI smoke test)")
    args = parser.parse_args()
    B, d, steps, repeats = (50, 50, 5, 2) if args.quick else (1000, 1000, 20, 5)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((d, d)) / np.sqrt(d)
    p = gf.problems.least_squares(X, rng.standard_normal(d))
    theta0 = rng.standard_normal((B, d))
    h = 1e-3

    def grad():
        p.grad(theta0)

    def run(method):
        return lambda: gf.solve(p, theta0, method, h, steps=steps, save="final")

    methods = {
        "Adam": gf.methods.Adam(),
        "AdamW": gf.methods.AdamW(),
        "Lion": gf.methods.Lion(),
        "SGD": gf.methods.SGD(),
        "LAMB": gf.methods.LAMB(),
        "Adafactor": gf.methods.Adafactor(),
        "Sophia (HVP every 10 steps)": gf.methods.Sophia(),
        "SPS": gf.methods.SPS(),
    }
    grad()
    for m in methods.values():
        run(m)()
    times: dict[str, list[float]] = {"grad": []}
    times.update({k: [] for k in methods})
    for _ in range(repeats):
        times["grad"] += _time(grad, 1)
        for k, m in methods.items():
            times[k] += [t / steps for t in _time(run(m), 1)]
    g_best = min(times["grad"])
    print(f"# Adam etc. on B={B} trajectories x d={d} (least squares, n={d}), {steps} steps")
    print("| what | best / step | median / step | best / gradient |")
    print("|---|---|---|---|")
    for k, ts in times.items():
        best, med = min(ts), statistics.median(ts)
        print(f"| {k} | {best * 1e3:.2f} ms | {med * 1e3:.2f} ms | {best / g_best:.2f} |")
    ratio = min(times["Adam"]) / g_best
    print(f"\nAdam step / gradient = {ratio:.2f} (target <= 2: {'yes' if ratio <= 2 else 'no'})")


if __name__ == "__main__":
    main()
