"""Schedules on many indices: every ``gradflow.schedules`` schedule on ``k = 0, ..., 10^6 - 1``.

A schedule is a pure function of the step index evaluated with numpy on an integer
array, so a whole run's step sizes (or a plot's) cost one vectorised call.  For each
schedule (with realistic arguments: horizons of the order of the array, so every phase
is exercised) this times ``s(np.arange(N))``, best and median of the repeats, garbage
collector off during a call, one warm-up call first.  Target: best < 50 ms at
``N = 10^6``.  Also timed: ``lr_find`` (100 steps) on a batch of 1,000 starts of a 50-D
quadratic, for reference.

Usage: ``python benchmarks/bench_schedules.py [--quick] [--out FILE.json]``.  ``--quick``
uses ``N = 10^4`` and 2 repeats (a CI smoke run).  Always exits 0: it reports.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_gd import summary, time_interleaved

import gradflow as gf

TARGET_MS = 50.0
SEED = 20261123


def every_schedule(n: int) -> dict[str, gf.schedules.Schedule]:
    """One instance of every schedule, horizons scaled to ``n`` indices."""
    S = gf.schedules
    h = max(n, 10)
    return {
        "constant": S.constant(0.1),
        "step_decay": S.step_decay(0.1, h // 30, 0.5),
        "multistep": S.multistep(0.1, [h // 4, h // 2, 3 * h // 4], 0.1),
        "exponential": S.exponential(0.1, 1 - 10 / h),
        "linear": S.linear(0.1, total_steps=h // 2),
        "polynomial": S.polynomial(0.1, h, power=2.0),
        "cosine": S.cosine(0.1, h, min_lr=1e-3),
        "cosine_restarts (mult 2)": S.cosine_restarts(0.1, h // 1000, mult=2),
        "one_cycle": S.one_cycle(0.1, h),
        "one_cycle (three phase, linear)": S.one_cycle(0.1, h, anneal="linear", three_phase=True),
        "cyclic (triangular2)": S.cyclic(1e-3, 0.1, h // 20, mode="triangular2"),
        "cyclic (exp_range)": S.cyclic(1e-3, 0.1, h // 20, mode="exp_range", gamma=1 - 1 / h),
        "inverse_sqrt": S.inverse_sqrt(0.1, h // 100),
        "noam": S.noam(512, h // 100),
        "warmup_cosine": S.warmup_cosine(0.1, h // 100, h, init_lr=1e-4, end_lr=1e-4),
        "wsd (sqrt)": S.wsd(0.1, h // 100, 8 * h // 10, h // 10, min_lr=1e-4, decay="sqrt"),
        "inverse_time": S.inverse_time(0.1, 1.0, 1),
        "linear_warmup(cosine)": S.linear_warmup(S.cosine(0.1, h), h // 100, 1e-4),
        "sequence(3 pieces)": S.sequence(
            [S.linear(0.1, 0.01, 1.0, h // 10), S.constant(0.1), S.cosine(0.1, h // 2)],
            [h // 10, h // 2],
        ),
        "scale(one_cycle)": S.scale(S.one_cycle(0.1, h), 2.0),
        "warmup_cosine, 8 peaks (k[:, None])": S.warmup_cosine(
            np.geomspace(1e-3, 1e-1, 8), h // 100, h
        ),
        "cosine (exponent 2)": S.cosine(0.1, h, min_lr=1e-3, exponent=2.0),
        "cosine_restarts (10 steps per epoch)": S.cosine_restarts(
            0.1, h // 10_000, mult=2, steps_per_epoch=10
        ),
        "exponential (end_lr)": S.exponential(0.1, 1 - 10 / h, end_lr=1e-3),
        "piecewise_constant (4 boundaries)": S.piecewise_constant(
            [h // 5, 2 * h // 5, 3 * h // 5, 4 * h // 5], [0.1, 0.05, 0.02, 0.01, 0.005]
        ),
        "linear_onecycle": S.linear_onecycle(0.1, h),
        "warmup_constant": S.warmup_constant(0.1, h // 100),
        "warmup_cosine_restarts (4 cycles)": S.warmup_cosine_restarts(0.1, h // 100, h, 4),
        "warmup_polynomial": S.warmup_polynomial(0.1, h // 100, h, power=2.0),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10^4 indices, 2 repeats")
    parser.add_argument("--out", type=Path, help="write the samples as JSON")
    args = parser.parse_args(argv)
    n, repeats = (10_000, 2) if args.quick else (1_000_000, 5)
    k = np.arange(n)
    k_col = k[:, None]
    fns = {name: (lambda s=s: s(k_col if s.shape else k)) for name, s in every_schedule(n).items()}
    samples = time_interleaved(fns, repeats)
    results: dict[str, Any] = {"n": n, "repeats": repeats, "rows": {}}
    print(f"| schedule | best (ms) | median (ms) | target < {TARGET_MS:.0f} ms (at 10^6) |")
    print("|---|---|---|---|")
    schedules = every_schedule(n)
    for name, secs in samples.items():
        row = summary(secs, 1e3)
        results["rows"][name] = row
        # A sweep returns n × (number of values) entries: judge it per 10^6 of them.
        per = int(np.prod(schedules[name].shape, dtype=np.int64))
        met = "yes" if row["best"] / per < TARGET_MS else "NO"
        if per > 1:
            met += f" ({row['best'] / per:.1f} ms per 10^6 values)"
        if args.quick:
            met = "n/a (quick)"
        print(f"| {name} | {row['best']:.1f} | {row['median']:.1f} | {met} |")

    # lr_find on a batch, for reference.
    n_starts, dim = (20, 10) if args.quick else (1_000, 50)
    p = gf.problems.quadratic(np.logspace(-1, 2, dim), seed=0)
    theta0 = np.random.default_rng(SEED).normal(size=(n_starts, dim))
    lr = time_interleaved({"lr_find": lambda: gf.lr_find(p, theta0)}, repeats)["lr_find"]
    row = summary(lr, 1e3)
    results["lr_find"] = {"n_starts": n_starts, "dim": dim, **row}
    print(
        f"\nlr_find, 100 steps, {n_starts:,} starts of a {dim}-D quadratic: "
        f"best {row['best']:.0f} ms, median {row['median']:.0f} ms"
    )
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
