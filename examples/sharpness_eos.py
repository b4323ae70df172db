"""Edge of stability: the sharpness of gradient descent rises to 2/h and stays there.
==================================================================================

Gradient descent on ``gf.problems.mlp_regression`` (the tanh network of Cohen et al.,
2021) at three step sizes in one batched call; ``gf.curvature.track_sharpness`` records
``λmax(∇²L)`` every few steps.  The sharpness first grows (progressive sharpening), then
hovers at ``2/h`` while the loss keeps decreasing, non-monotonically.

Run ``python examples/sharpness_eos.py [--quick] [--out DIR]`` (~10 s; ``--quick`` ~3 s,
shorter runs that may stop before the edge).
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


HS = np.array([0.06, 0.066, 0.072])  # 2/h = 33.3, 30.3, 27.8; λmax ≈ 26 at the start
EVERY = 25


def main(out: Path, quick: bool = False) -> None:
    steps = 4_000 if quick else 16_000
    problem = gf.problems.mlp_regression()
    theta0 = np.broadcast_to(problem.init(), (HS.size, problem.dim))
    tracker = gf.curvature.track_sharpness(problem, every=EVERY, seed=0)
    traj = gf.solve(problem, theta0, stepsize=HS, steps=steps, callback=tracker, save_every=EVERY)
    values = tracker.values  # (records, len(HS))
    last_half = values[values.shape[0] // 2 :]
    for j, h in enumerate(HS):
        ratio = last_half[:, j] * h / 2
        print(
            f"h = {h}: λmax from {values[0, j]:.1f} to max {values[:, j].max():.1f}; "
            f"last half: λmax·h/2 in [{ratio.min():.3f}, {ratio.max():.3f}], "
            f"final loss {traj.loss[-1, j]:.3e}"
        )

    with gf.plot.style(width=6.8, aspect=0.4):
        fig, (left, right) = plt.subplots(1, 2)
        gf.plot.sharpness(tracker, HS, left)
        gf.plot.loss_curves(traj, right, [f"$h = {h}$" for h in HS], log=True)
        paths = gf.plot.save(fig, out / "sharpness_eos")
    print("figure:", *paths)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--out", help="folder for the figure")
    parser.add_argument("--quick", action="store_true", help="4000 steps instead of 16000")
    args = parser.parse_args()
    main(output_dir(args.out), quick=args.quick)
