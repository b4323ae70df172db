"""Runge–Kutta overhead: time per stage against gradient descent's time per gradient.

For a batch of trajectories, one step of an ``s``-stage explicit Runge–Kutta method costs
``s`` gradient evaluations (``s - 1`` for FSAL tableaux) plus the stage combinations
``θ - h Σ a_ij g_j``.  This benchmark runs GD (explicit Euler), RK4 and DOPRI54 through
``gradflow.solve`` on the same batch and reports

* time per step, per stage and per gradient evaluation of each method, and
* the ratio (time per stage) / (GD time per step) — target <= 1.5: the RK bookkeeping
  beyond the gradients stays small.

Problems: the 2-D Rosenbrock function (the cheapest gradient, so the worst case for the
overhead) and the 50-D chained Rosenbrock.  Run ``python benchmarks/bench_rk.py [--quick]
[--out FILE.json]``.
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

SEED = 20261123
TARGET_STAGE_OVER_GD = 1.5
METHODS = {
    "GD (Euler)": gf.methods.Euler(),
    "RK4": gf.methods.RungeKutta(gf.methods.RK4),
    "DOPRI54": gf.methods.RungeKutta(gf.methods.DOPRI54),
}


def _stages(method: gf.methods.Method) -> int:
    return method.tableau.stages if isinstance(method, gf.methods.RungeKutta) else 1


def bench_problem(problem: gf.Problem, n_traj: int, steps: int, repeats: int) -> dict[str, Any]:
    rng = np.random.default_rng(SEED)
    theta0 = rng.uniform(-1.5, 1.5, size=(n_traj, problem.dim))
    h = 1e-5  # small enough for every method on both problems
    fns = {
        name: (lambda m=m: gf.solve(problem, theta0, m, stepsize=h, steps=steps, save="final"))
        for name, m in METHODS.items()
    }
    samples = time_interleaved(fns, repeats)
    gd_step = min(samples["GD (Euler)"]) / steps
    rows = {}
    for name, method in METHODS.items():
        per_step = summary(samples[name], 1.0 / steps)
        best = per_step["best"]
        rows[name] = {
            "step_us": best * 1e6,
            "stage_us": best / _stages(method) * 1e6,
            "grad_us": best / method.grads_per_step * 1e6,
            "stage_over_gd": best / _stages(method) / gd_step,
            "median_step_us": per_step["median"] * 1e6,
        }
    return {
        "problem": problem.name,
        "dim": problem.dim,
        "n_traj": n_traj,
        "steps": steps,
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes for a smoke run")
    parser.add_argument("--out", type=Path, help="write the results as JSON")
    args = parser.parse_args(argv)
    n_traj, steps, repeats = (200, 20, 2) if args.quick else (10_000, 300, 5)
    results = [
        bench_problem(gf.problems.rosenbrock(), n_traj, steps, repeats),
        bench_problem(gf.problems.rosenbrock(dim=50), n_traj, steps, repeats),
    ]
    print(
        f"| problem | method | µs / step | µs / stage | µs / gradient | stage / GD step "
        f"(target <= {TARGET_STAGE_OVER_GD}) |"
    )
    print("|---|---|---|---|---|---|")
    for res in results:
        for name, row in res["rows"].items():
            print(
                f"| {res['problem']} (d = {res['dim']}, {res['n_traj']:,} traj) | {name} | "
                f"{row['step_us']:.0f} | {row['stage_us']:.0f} | {row['grad_us']:.0f} | "
                f"{row['stage_over_gd']:.2f} |"
            )
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
