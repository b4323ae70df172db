"""Benchmark: very large batches, stepped in cache-sized blocks of rows.

What it measures (gradient descent, ``h = 1e-4``, ``save="final"``, on the 2-D
Rosenbrock problem, starts uniform in ``[-1.5, 1.5]^2``), at batch sizes from 10⁴ to
10⁶, as nanoseconds per element per step:

1. ``gradflow.solve`` as shipped: quiet stretches of a batch larger than
   ``gradflow._solve.BLOCK_BYTES`` of ``θ`` are stepped block by block;
2. the same call stepping the batch whole (``BLOCK_BYTES`` set beyond the batch), the
   driver without blocks;
3. the floor of a plain numpy loop, ``θ = θ - h ∇L(θ)`` over the whole batch.

All three give the same bits (checked).  Above a few hundred thousand rows the arrays
of one step no longer fit in cache and the whole-batch loops slow down per element;
the blocked solve keeps the per-element cost of a cache-sized batch.

How: as ``bench_gd.py`` (interleaved candidates, garbage collector off, best and median
of the repeats).  ``--quick`` runs tiny sizes (a CI smoke test).  Exits 0 whatever the
numbers: it reports, it does not gate.

Usage::

    python benchmarks/bench_large_batch.py [--quick] [--cpu-time] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_gd import BOX, CLOCK, STEP, machine, summary, time_interleaved

import gradflow as gf
import gradflow._solve as driver

FULL = dict(batches=(10_000, 100_000, 300_000, 1_000_000), steps=64, repeats=5)
QUICK = dict(batches=(2_000, 20_000), steps=16, repeats=2)


def measure(batch: int, steps: int, repeats: int) -> dict:
    problem = gf.problems.rosenbrock()
    theta0 = np.random.default_rng(batch).uniform(-BOX, BOX, size=(batch, 2))
    block_bytes = driver.BLOCK_BYTES

    def blocked():
        return gf.solve(problem, theta0, stepsize=STEP, steps=steps, save="final")

    def whole():
        driver.BLOCK_BYTES = 1 << 62
        try:
            return blocked()
        finally:
            driver.BLOCK_BYTES = block_bytes

    def bare():
        theta = theta0
        for _ in range(steps):
            theta = theta - STEP * problem.grad(theta)
        return theta

    same = np.array_equal(blocked().theta[-1], bare()) and np.array_equal(whole().theta[-1], bare())
    samples = time_interleaved({"blocked": blocked, "whole": whole, "bare": bare}, repeats)
    scale = 1e9 / (batch * steps)
    row = {name: summary(s, scale) for name, s in samples.items()}
    row.update(batch=batch, steps=steps, same_bits=bool(same))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--cpu-time", action="store_true", help="time by process CPU time (a loaded machine)"
    )
    args = parser.parse_args()
    if args.cpu_time:
        CLOCK[0] = time.process_time
    sizes = QUICK if args.quick else FULL
    rows = [measure(b, sizes["steps"], sizes["repeats"]) for b in sizes["batches"]]
    print(
        f"{'batch':>10} {'blocked ns':>11} {'whole ns':>9} {'bare ns':>8} "
        f"{'whole/blocked':>14} {'blocked/bare':>13} same bits"
    )
    for r in rows:
        b, w, f = r["blocked"]["best"], r["whole"]["best"], r["bare"]["best"]
        print(
            f"{r['batch']:>10} {b:>11.1f} {w:>9.1f} {f:>8.1f} {w / b:>14.2f} "
            f"{b / f:>13.2f} {r['same_bits']}"
        )
    if args.out:
        args.out.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
