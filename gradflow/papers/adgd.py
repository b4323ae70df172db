r"""Adaptive gradient descent without descent (Malitsky & Mishchenko, ICML 2020).

L2-regularised logistic regression (:func:`gradflow.problems.logistic_regression`) on
synthetic data (``n`` Gaussian samples in ``d`` dimensions, labels from a noisy linear
model), minimised from ``θ0 = 0`` by

* GD with ``h = 1/L``, ``L = λmax(XᵀX)/(4n) + l2`` (needs the global constant ``L``);
* GD with Armijo backtracking from ``h0 = ARMIJO_H0`` (:class:`gradflow.rules.Armijo`;
  needs loss evaluations);
* AdGD (:class:`gradflow.rules.AdGD`; needs neither ``L`` nor losses).

``f*`` comes from scipy L-BFGS-B run to ``‖∇f‖ ≈ 1e-9``.  The cost of a run is its
oracle calls: gradient evaluations counted by :func:`gradflow.solve` (``n_grad``; AdGD's
driver counts two a step, see :mod:`gradflow.rules`) plus, for Armijo, one loss
evaluation per trial step.  Check: AdGD reaches the relative suboptimality
``(f - f*)/(f(θ0) - f*) ≤ EPS`` with at most ``FACTOR`` times the oracle calls of the
cheaper of the two baselines (competitive), and its loss is not monotone (no descent).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from gradflow.papers._result import PaperResult, new_figure, paper_dir, save_figure, write_json

__all__ = ["CLAIM", "NAME", "data", "run"]

NAME = "adgd"
CLAIM = (
    "AdGD needs no Lipschitz constant and is competitive with GD at 1/L and with Armijo line "
    "search on logistic regression (same suboptimality within 2× their oracle calls)."
)
#: Target relative suboptimality and the competitiveness factor.
EPS = 1e-8
FACTOR = 2.0
#: Ridge term of the logistic loss.
L2 = 1e-3
#: First trial step of every Armijo search: large (the search needs no L), halved until
#: sufficient decrease (the library's default h0 = 1 never backtracks here, as 1 < 1/L).
ARMIJO_H0 = 10.0
#: (samples, features, steps).
FULL = (2000, 100, 3000)
QUICK = (500, 30, 1500)
SEED = 0


def data(n: int, d: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian features and labels in {0, 1} from a noisy linear model."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d)
    y = (X @ w + 2.0 * rng.standard_normal(n) > 0).astype(float)
    return X, y


def run(out_dir: str | Path, quick: bool = False) -> PaperResult:
    """Run the reproduction, check the claim, write figures and numbers to ``out_dir/NAME``."""
    import scipy.optimize

    import gradflow as gf

    start = time.perf_counter()
    result = PaperResult(NAME, CLAIM, quick=quick)
    n, d, steps = QUICK if quick else FULL
    X, y = data(n, d)
    problem = gf.problems.logistic_regression(X, y, l2=L2)
    lipschitz = float(np.linalg.eigvalsh(X.T @ X / n).max() / 4.0 + L2)
    theta0 = np.zeros(d)
    ref = scipy.optimize.minimize(
        lambda t: float(problem.loss(t)),
        theta0,
        jac=problem.grad,
        method="L-BFGS-B",
        options={"gtol": 1e-12, "ftol": 1e-16, "maxiter": 20_000},
    )
    f_star = float(ref.fun)
    f0 = float(problem.loss(theta0))
    runs = {
        "GD, h = 1/L": (1.0 / lipschitz, False),
        "GD + Armijo": (gf.rules.Armijo(h0=ARMIJO_H0), True),
        "AdGD": (gf.rules.AdGD(), False),
    }
    curves, numbers = {}, {"n": n, "d": d, "L": lipschitz, "f_star": f_star, "runs": {}}
    for label, (policy, counts_losses) in runs.items():
        traj = gf.solve(problem, theta0, stepsize=policy, steps=steps, save_every=1)
        gap = np.maximum(traj.loss - f_star, 0.0) / (f0 - f_star)
        # Oracle calls to reach each saved state, spread evenly over the accepted steps:
        # gradients, plus one loss per trial step (accepted or rejected) for the line search.
        trials = int(traj.n_steps + traj.n_rejected)
        total = int(traj.n_grad) + (trials if counts_losses else 0)
        calls = traj.step * (total / max(int(traj.n_steps), 1))
        hit = np.flatnonzero(gap <= EPS)
        cost = float(calls[hit[0]]) if hit.size else np.inf
        ups = int(np.sum(np.diff(traj.loss) > 1e-15 * abs(f_star)))
        curves[label] = (calls, gap)
        numbers["runs"][label] = {
            "oracle_calls_to_eps": cost,
            "final_relative_gap": float(gap[-1]),
            "n_grad": int(traj.n_grad),
            "trial_steps": int(traj.n_steps + traj.n_rejected),
            "loss_increases": ups,
            "status": str(traj.status),
        }
    cost = {k: v["oracle_calls_to_eps"] for k, v in numbers["runs"].items()}
    best = min(cost["GD, h = 1/L"], cost["GD + Armijo"])
    result.check(
        f"oracle calls to (f - f*)/(f0 - f*) ≤ {EPS:g}",
        ", ".join(f"{k}: {v:.0f}" for k, v in cost.items()),
        f"AdGD ≤ {FACTOR:g} × min(GD 1/L, Armijo)",
        np.isfinite(cost["AdGD"]) and cost["AdGD"] <= FACTOR * best,
    )
    ups = numbers["runs"]["AdGD"]["loss_increases"]
    result.check(
        "AdGD is not a descent method (loss increases along the run)",
        f"{ups} increasing steps",
        "≥ 1",
        ups >= 1,
    )
    numbers["eps"] = EPS
    result.numbers = numbers
    directory = paper_dir(out_dir, NAME)
    fig, axes = new_figure(1, 1, width=5.0, height=3.6)
    ax = axes[0, 0]
    for (label, (calls, gap)), c in zip(
        curves.items(), ("#0072B2", "#D55E00", "#009E73"), strict=True
    ):
        ax.semilogy(calls, np.maximum(gap, 1e-17), color=c, lw=1.2, label=label)
    ax.axhline(EPS, color="k", ls=":", lw=0.8, label=f"ε = {EPS:g}")
    ax.set(
        xlabel="oracle calls (gradients + line-search losses)",
        ylabel="(f(θ_k) - f*) / (f(θ_0) - f*)",
        title=f"logistic regression, n = {n}, d = {d}",
        ylim=(1e-16, 2.0),
        xlim=(0, min(4.0 * best, float(max(c[0][-1] for c in curves.values())))),
    )
    ax.legend(fontsize=8, loc="upper right")
    save_figure(fig, directory, NAME, result)
    result.runtime = time.perf_counter() - start
    write_json(result, directory)
    return result
