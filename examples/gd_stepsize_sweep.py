"""Sweep step sizes × starts in one call and see where h crosses 2/λmax.
=====================================================================

Gradient descent on a quadratic with spectrum {1, 10} is stable iff h < 2/10. One
batched call runs every (step size, start) pair; the statuses show the threshold, and
the figure shows the loss of one start for each step size (the last one diverges).

Run ``python examples/gd_stepsize_sweep.py [--out DIR]`` (about a second); the figure
goes to ``DIR`` (default ``$GRADFLOW_EXAMPLES_OUT`` or a new temporary folder).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display needed
import matplotlib.pyplot as plt
import numpy as np

import gradflow as gf


def output_dir(arg: str | None) -> Path:
    """``--out``, else ``$GRADFLOW_EXAMPLES_OUT``, else a new temporary folder."""
    out = arg or os.environ.get("GRADFLOW_EXAMPLES_OUT") or tempfile.mkdtemp(prefix="gradflow-")
    path = Path(out)
    path.mkdir(parents=True, exist_ok=True)
    return path


def main(out: Path) -> None:
    problem = gf.problems.quadratic([1.0, 10.0], seed=0)
    critical = 2.0 / problem.eigenvalues.max()
    hs = critical * np.array([0.5, 0.9, 0.99, 1.01, 1.1])
    starts = np.random.default_rng(0).normal(size=(8, problem.dim))

    theta0 = np.broadcast_to(starts, (hs.size, *starts.shape))  # (n_h, n_ic, d)
    # Leaving a ball of radius 1e6·max‖θ0‖ counts as diverged: just above 2/λmax the growth
    # per step is only 1.02, so overflow itself would take ~35,000 steps.
    radius = 1e6 * np.linalg.norm(starts, axis=-1).max()
    traj = gf.solve(
        problem, theta0, stepsize=hs[:, None], steps=20_000, save="final", divergence_norm=radius
    )

    for h, status, theta in zip(hs, traj.status, traj.theta[0], strict=True):
        size = np.abs(theta).max()  # not a norm: squares of 1e200 would overflow
        print(
            f"h = {h:.4f} (h·λmax = {h / critical * 2:.3f}): {set(status.tolist())}, "
            f"max |θ_i| = {size:.3e}"
        )

    # The figure: the loss of the first start for every step size, 200 steps.
    curves = gf.solve(problem, np.broadcast_to(starts[0], (hs.size, 2)), stepsize=hs, steps=200)
    with gf.plot.style():
        fig, ax = plt.subplots()
        labels = [f"$h\\lambda_{{\\max}} = {2 * h / critical:.2f}$" for h in hs]
        gf.plot.loss_curves(curves, ax, labels, minimum=problem.minimum)
        ax.set_title("GD on a quadratic, $\\lambda \\in \\{1, 10\\}$")
        paths = gf.plot.save(fig, out / "gd_stepsize_sweep")
    print("figure:", *paths)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--out", help="folder for the figure")
    parser.add_argument("--quick", action="store_true", help="(already quick)")
    main(output_dir(parser.parse_args().out))
