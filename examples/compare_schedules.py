"""Compare step-size schedules on the same network: constant, step decay, cosine, one-cycle.
=========================================================================================

Every schedule is evaluated on arrays of step indices, so each run is one
``gf.solve`` call; the figure shows the schedules (left) and the training loss they
give on ``gf.problems.mlp_regression`` (right).

Run ``python examples/compare_schedules.py [--quick] [--out DIR]`` (a few seconds).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display needed
import matplotlib.pyplot as plt

import gradflow as gf


def output_dir(arg: str | None) -> Path:
    """``--out``, else ``$GRADFLOW_EXAMPLES_OUT``, else a new temporary folder."""
    out = arg or os.environ.get("GRADFLOW_EXAMPLES_OUT") or tempfile.mkdtemp(prefix="gradflow-")
    path = Path(out)
    path.mkdir(parents=True, exist_ok=True)
    return path


PEAK = 0.05  # below 2/λmax ≈ 0.076 of the network at its initialisation


def main(out: Path, quick: bool = False) -> None:
    S = gf.schedules
    steps = 1_000 if quick else 4_000
    schedules = {
        "constant": S.constant(PEAK),
        "step decay": S.step_decay(PEAK, steps // 4, 0.5),
        "cosine": S.cosine(PEAK, steps),
        "one-cycle": S.one_cycle(PEAK, steps),
    }
    problem = gf.problems.mlp_regression()
    theta0 = problem.init()
    runs = {
        name: gf.solve(problem, theta0, stepsize=s, steps=steps, save_every=steps // 100)
        for name, s in schedules.items()
    }
    for name, traj in runs.items():
        print(f"{name:11s} final loss {float(traj.loss[-1]):.4e}  status {traj.status}")

    with gf.plot.style(width=6.8, aspect=0.4):
        fig, (left, right) = plt.subplots(1, 2)
        gf.plot.schedules(list(schedules.values()), steps, left, list(schedules))
        for name, traj in runs.items():
            gf.plot.loss_curves(traj, right, [name])
        right.set_title("mlp_regression")
        paths = gf.plot.save(fig, out / "compare_schedules")
    print("figure:", *paths)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--out", help="folder for the figure")
    parser.add_argument("--quick", action="store_true", help="1000 steps instead of 4000")
    args = parser.parse_args()
    main(output_dir(args.out), quick=args.quick)
