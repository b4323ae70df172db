"""Richardson extrapolation of gradient descent: order 1 becomes order 2, then 3.
==============================================================================

Gradient descent (explicit Euler) to flow time T on Rosenbrock has error ``C h``.  Runs
at ``h, h/2, h/4, ...`` (``gf.richardson.solve_extrapolated``: one batched run, landing on
T in whole steps) are combined by ``gf.richardson.extrapolate``: column ``j`` of its
tableau removes ``j`` error terms and converges with order ``j + 1``.  Errors are
measured against scipy's DOP853 at rtol = atol = 1e-12; the figure shows each column
with its fitted slope.

Run ``python examples/richardson_order.py [--out DIR]`` (about a second).
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


T = 0.5  # flow time
N0 = 2000  # steps of the coarsest run: h·λmax ≈ 0.33 at the start, asymptotic regime
LEVELS = 5


def main(out: Path, quick: bool = False) -> None:
    problem = gf.problems.rosenbrock()
    theta0 = np.array([-1.2, 1.0])
    exact = gf.reference.gradient_flow(problem, theta0, [T]).theta[0]

    # Every level in one batched gf.solve call (the step sizes are the batch), each
    # landing on T in whole steps: N0, 2 N0, 4 N0, ...
    sol = gf.richardson.solve_extrapolated(
        problem, theta0, None, t_final=T, h0=T / N0, levels=LEVELS
    )
    hs = sol.h
    table = sol.theta_extrapolation.tableau  # (levels, levels, 2): [level, terms removed]

    errors = {}
    for j in range(3):
        err = np.linalg.norm(table[j:, j] - exact, axis=-1)
        errors[j] = (hs[j:], err)
        fit = gf.analysis.fit_order(hs[j:], err)
        print(
            f"{j} term(s) removed: errors {np.array2string(err, precision=2)}, "
            f"observed order {fit.order:.3f}"
        )

    with gf.plot.style():
        fig, ax = plt.subplots()
        names = ["Euler", "Richardson, 1 term", "Richardson, 2 terms"]
        series = dict(zip(names, errors.values(), strict=True))  # name: (h, errors)
        gf.plot.convergence(None, series, ax, ylabel="$\\|\\theta_h(T) - \\theta(T)\\|$")
        ax.set_title(f"Rosenbrock, $T = {T}$")
        paths = gf.plot.save(fig, out / "richardson_order")
    print("figure:", *paths)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--out", help="folder for the figure")
    parser.add_argument("--quick", action="store_true", help="(already quick)")
    args = parser.parse_args()
    main(output_dir(args.out), quick=args.quick)
