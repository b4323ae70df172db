"""Check the stability bound h < β/λmax against real runs, for three methods.
==========================================================================

For each problem and method, ``gf.stability.verify_bound`` runs the method to the
minimiser it reaches, predicts the critical step ``β/λmax(∇²L(θ*))`` from the method's
real stability limit ``β``, and measures the actual threshold by batched bisection over
``h``.  The figure shows the three stability regions with their intervals ``[-β, 0]``.

Run ``python examples/stability_bound.py [--quick] [--out DIR]`` (a few seconds;
``--quick``: the quadratic and Müller–Brown only).
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


METHODS = {
    "Euler": gf.methods.Euler(),
    "RK4": gf.methods.RungeKutta(gf.methods.RK4),
    "heavy ball β=0.5": gf.methods.HeavyBall(0.5),
}


def main(out: Path, quick: bool = False) -> None:
    cases = [
        (gf.problems.quadratic([1.0, 10.0], seed=0), [1.0, 1.0]),
        (gf.problems.muller_brown(), [-0.7, 1.3]),
    ]
    if not quick:
        cases.append((gf.problems.rosenbrock(), [-1.2, 1.0]))
    print(
        f"{'problem':14s} {'method':18s} {'β':>7s} {'predicted h*':>13s} "
        f"{'measured h*':>12s} {'gap':>8s}"
    )
    for problem, theta0 in cases:
        for name, method in METHODS.items():
            check = gf.stability.verify_bound(problem, theta0, method)
            print(
                f"{problem.name:14s} {name:18s} {check.limit:7.4f} {float(check.predicted):13.6g} "
                f"{float(check.measured):12.6g} {float(check.relative_gap):+8.2%}"
            )
            assert abs(float(check.relative_gap)) < 0.02, "bound and measurement disagree"

    with gf.plot.style(width=4.5):
        fig, ax = plt.subplots()
        gf.plot.stability_region(list(METHODS.values()), ax, list(METHODS))
        ax.set_title("stable where $|R(h\\lambda)| \\leq 1$")
        paths = gf.plot.save(fig, out / "stability_bound")
    print("figure:", *paths)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--out", help="folder for the figure")
    parser.add_argument("--quick", action="store_true", help="two problems instead of three")
    args = parser.parse_args()
    main(output_dir(args.out), quick=args.quick)
