"""Gradient evaluations per step of every step-size rule, counted outside the library.

Each rule runs with gradient descent (and the error controllers with DOPRI54) on a
problem whose ``grad`` counts the rows it is called on; the table gives evaluations per
trajectory per step, and the driver's own ``Trajectory.n_grad`` beside it.  Run it on
two checkouts to compare them: it uses only public names.

    python benchmarks/bench_policy_cost.py [--quick] [--out result.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gradflow as gf


def counting(problem):
    tally = {"rows": 0}

    def grad(theta):
        theta = np.asarray(theta)
        tally["rows"] += int(np.prod(theta.shape[:-1], dtype=np.int64))
        return problem.grad(theta)

    counted = gf.Problem(
        loss=problem.loss,
        grad=grad,
        hvp=problem.hvp,
        dim=problem.dim,
        name=problem.name,
        minimum=problem.minimum,
    )
    return counted, tally


def cases():
    rules = gf.rules
    ctrl = gf.controllers
    gd = gf.methods.Euler()
    dopri = gf.methods.RungeKutta(gf.methods.DOPRI54)
    return [
        ("BarzilaiBorwein(1)", gd, lambda: rules.BarzilaiBorwein(1)),
        ("AdGD()", gd, lambda: rules.AdGD()),
        ("Polyak()", gd, lambda: rules.Polyak()),
        ("LocalLipschitz('secant')", gd, lambda: rules.LocalLipschitz()),
        ("LocalLipschitz('hvp')", gd, lambda: rules.LocalLipschitz(estimator="hvp")),
        ("Armijo()", gd, lambda: rules.Armijo()),
        ("IController + DOPRI54", dopri, lambda: ctrl.IController(rtol=1e-6, atol=1e-6)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out")
    args = parser.parse_args()
    steps = 20 if args.quick else 100
    base = gf.problems.quadratic([1.0, 10.0], seed=0)
    theta0 = np.ones((4, 2)) * np.array([[1.0], [2.0], [-1.0], [0.5]])
    rows = []
    print(f"gradflow {gf.__version__}; quadratic [1, 10], 4 trajectories, {steps} steps")
    print(f"{'rule':28s} {'counted / step':>15s} {'n_grad / step':>14s}")
    for name, method, make in cases():
        problem, tally = counting(base)
        traj = gf.solve(problem, theta0, method, make(), steps=steps, save="final")
        counted = tally["rows"] / theta0.shape[0] / steps
        reported = float(np.mean(traj.n_grad)) / steps
        rows.append({"rule": name, "counted_per_step": counted, "n_grad_per_step": reported})
        print(f"{name:28s} {counted:15.3f} {reported:14.3f}")
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
