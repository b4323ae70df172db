"""Benchmark: the driver's cost on one trajectory, per call and per step.

What it measures (gradient descent = explicit Euler, ``h = 1e-4``, on the 2-D Rosenbrock
problem from ``(-1.2, 1)``):

1. a single-trajectory ``solve(..., steps=N, save="final")`` against the bare loop
   ``theta = theta - h * problem.grad(theta)`` (the same arithmetic, nothing kept), at
   N = 10, 100 and 1,000 steps (both results must agree bit for bit);
2. the fixed cost of a call: ``solve(..., steps=0, save="final")`` with a constant step;
3. ``t_final = N h`` against ``steps = N`` (the same steps: the bits must agree), for a
   batch of one and for 10,000 trajectories;
4. for reference, a single run with the default save (every step kept), against the
   same bare loop.

How: as ``bench_gd.py`` — ``time.perf_counter``, garbage collector off during a call,
one warm-up call, candidates interleaved (A, B, A, B, ...), best of the repeats judged.
Short calls are timed in blocks of many calls.

Usage::

    python benchmarks/bench_single_run.py [--quick] [--out FILE.json]

``--quick`` runs a few repeats in a few seconds (a CI smoke run; its ratios say little).
Exits 0 whether or not a target is met: it reports, it does not gate.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
# Benchmark the checkout this script lives in, installed or not.
sys.path.insert(0, str(REPO))

import gradflow as gf  # noqa: E402

#: The clock of the timings: wall time, or with ``--cpu-time`` the process's CPU time
#: (steadier on a shared, loaded machine; numpy runs single-threaded here).
CLOCK: list[Callable[[], float]] = [time.perf_counter]

STEP = 1e-4
START = np.array([-1.2, 1.0])

# Targets (see benchmarks/README.md).
TARGET_SINGLE_OVER_BARE_1000 = 1.2
TARGET_SETUP_US = 100.0
TARGET_TFINAL_OVER_STEPS = 1.1


def _timed_block(fn: Callable[[], object], calls: int) -> float:
    """Seconds per call of ``calls`` calls in a row, the collector off."""
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        start = CLOCK[0]()
        for _ in range(calls):
            fn()
        return (CLOCK[0]() - start) / calls
    finally:
        if gc_was_on:
            gc.enable()


def interleaved(
    fns: dict[str, Callable[[], object]], repeats: int, calls: int
) -> dict[str, dict[str, float]]:
    """Best and median seconds per call of each candidate, interleaved."""
    for fn in fns.values():
        fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            samples[name].append(_timed_block(fn, calls))
    return {name: {"best": min(s), "median": statistics.median(s)} for name, s in samples.items()}


def bare_loop(problem: gf.Problem, theta: np.ndarray, steps: int) -> np.ndarray:
    for _ in range(steps):
        theta = theta - STEP * problem.grad(theta)
    return theta


def single_vs_bare(problem: gf.Problem, steps: int, repeats: int) -> dict[str, Any]:
    """Measurement 1 at ``steps`` steps (and measurement 4 alongside)."""
    theta0 = START[None, :]
    calls = max(1, 2000 // steps)
    fns = {
        "solve": lambda: gf.solve(problem, theta0, stepsize=STEP, steps=steps, save="final"),
        "bare": lambda: bare_loop(problem, theta0, steps),
        "solve_save_all": lambda: gf.solve(problem, theta0, stepsize=STEP, steps=steps),
    }
    res = interleaved(fns, repeats, calls)
    traj = fns["solve"]()
    res["same_result"] = bool(np.array_equal(traj.theta[-1], bare_loop(problem, theta0, steps)))
    return res


def setup_cost(problem: gf.Problem, repeats: int) -> dict[str, Any]:
    """Measurement 2."""
    fns = {"steps0": lambda: gf.solve(problem, START, stepsize=STEP, steps=0, save="final")}
    return interleaved(fns, repeats, 500)


def tfinal_vs_steps(problem: gf.Problem, theta0: np.ndarray, steps: int, repeats: int) -> dict:
    """Measurement 3."""
    fns = {
        "steps": lambda: gf.solve(problem, theta0, stepsize=STEP, steps=steps, save="final"),
        "t_final": lambda: gf.solve(
            problem, theta0, stepsize=STEP, t_final=steps * STEP, save="final"
        ),
    }
    res = interleaved(fns, repeats, 1)
    a, b = fns["steps"](), fns["t_final"]()
    res["same_result"] = bool(np.array_equal(a.theta, b.theta) and np.array_equal(a.t, b.t))
    return res


def _ratio(res: dict, a: str, b: str, key: str = "best") -> float:
    return res[a][key] / res[b][key]


def report(res: dict[str, Any], quick: bool) -> str:
    lines = [
        "| # | measurement | best | median |",
        "|---|---|---|---|",
    ]
    for n in res["steps_list"]:
        r = res[f"single_{n}"]
        for name, label in (
            ("solve", "`solve`, save='final'"),
            ("bare", "bare loop"),
            ("solve_save_all", "`solve`, default save (every step)"),
        ):
            lines.append(
                f"| 1 | {label}, {n} steps | {r[name]['best'] * 1e6:.1f} µs | "
                f"{r[name]['median'] * 1e6:.1f} µs |"
            )
    s = res["setup"]["steps0"]
    lines.append(
        f"| 2 | `solve(steps=0)`, constant step | {s['best'] * 1e6:.1f} µs | "
        f"{s['median'] * 1e6:.1f} µs |"
    )
    for key, label in (("tfinal_one", "batch of one"), ("tfinal_batch", "10,000 traj")):
        r = res[key]
        for name in ("steps", "t_final"):
            lines.append(
                f"| 3 | {label}, `{name}` | {r[name]['best'] * 1e3:.2f} ms | "
                f"{r[name]['median'] * 1e3:.2f} ms |"
            )
    lines += ["", "| metric | best | median | target | met |", "|---|---|---|---|---|"]
    for n in res["steps_list"]:
        r = res[f"single_{n}"]
        target = TARGET_SINGLE_OVER_BARE_1000 if n == 1000 else None
        best = _ratio(r, "solve", "bare")
        met = "n/a" if target is None or quick else ("yes" if best <= target else "no")
        lines.append(
            f"| single run / bare loop, {n} steps | {best:.2f} | "
            f"{_ratio(r, 'solve', 'bare', 'median'):.2f} | "
            f"{f'<= {target:g}' if target else 'report'} | {met} |"
        )
        lines.append(
            f"| single run, default save / bare loop, {n} steps | "
            f"{_ratio(r, 'solve_save_all', 'bare'):.2f} | "
            f"{_ratio(r, 'solve_save_all', 'bare', 'median'):.2f} | report | n/a |"
        )
    setup = s["best"] * 1e6
    met = "n/a" if quick else ("yes" if setup < TARGET_SETUP_US else "no")
    lines.append(
        f"| per-call setup, steps=0 | {setup:.1f} µs | {s['median'] * 1e6:.1f} µs | "
        f"< {TARGET_SETUP_US:g} µs | {met} |"
    )
    for key, label in (("tfinal_one", "batch of one"), ("tfinal_batch", "10,000 traj")):
        r = res[key]
        best = _ratio(r, "t_final", "steps")
        lines.append(
            f"| t_final / steps, {label} | {best:.2f} | "
            f"{_ratio(r, 't_final', 'steps', 'median'):.2f} | <= {TARGET_TFINAL_OVER_STEPS:g} | "
            f"{'n/a' if quick else ('yes' if best <= TARGET_TFINAL_OVER_STEPS else 'no')} |"
        )
    same = all(
        res[k]["same_result"] for k in res if isinstance(res[k], dict) and "same_result" in res[k]
    )
    lines.append(f"\nall compared results equal bit for bit: {'yes' if same else 'NO'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats, smaller batch")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument(
        "--cpu-time", action="store_true", help="time with the process's CPU clock (busy machines)"
    )
    args = parser.parse_args(argv)
    CLOCK[0] = time.process_time if args.cpu_time else time.perf_counter
    repeats = 2 if args.quick else 7
    problem = gf.problems.rosenbrock()
    steps_list = [10, 100] if args.quick else [10, 100, 1000]
    res: dict[str, Any] = {"quick": args.quick, "steps_list": steps_list}
    for n in steps_list:
        res[f"single_{n}"] = single_vs_bare(problem, n, repeats)
    res["setup"] = setup_cost(problem, repeats)
    n_tf = 200 if args.quick else 2000
    res["tfinal_one"] = tfinal_vs_steps(problem, START[None, :], n_tf, repeats)
    batch = np.random.default_rng(20261201).uniform(-1.5, 1.5, (1000 if args.quick else 10_000, 2))
    res["tfinal_batch"] = tfinal_vs_steps(problem, batch, 50 if args.quick else 500, repeats)
    print(
        f"gradflow {gf.__version__}, numpy {np.__version__}" + (" [--quick]" if args.quick else "")
    )
    print()
    print(report(res, args.quick))
    if args.out:
        args.out.write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
