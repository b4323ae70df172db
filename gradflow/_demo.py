"""The ``gradflow demo`` job: gradient descent converging to the gradient flow.

For each problem the demo runs gradient descent (explicit Euler) at a sweep of step
sizes in *one* batched :func:`~gradflow.solve` call, compares ``θ_h(T)`` with scipy's
gradient flow at ``rtol = atol = 1e-12``, fits the observed order of convergence, and
marks where the step crossed the linear stability limit ``2/λmax`` (``λmax`` = largest
Hessian eigenvalue along the exact flow).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gradflow._solve import solve
from gradflow.analysis import fit_order
from gradflow.problems import Problem, muller_brown, rosenbrock
from gradflow.reference import gradient_flow

__all__ = ["ConvergenceStudy", "convergence_study", "run_demo"]

#: Points on the reference path where the Hessian's top eigenvalue is sampled.
PATH_SAMPLES = 200


@dataclass(frozen=True)
class ConvergenceStudy:
    """Gradient descent at several step sizes against the exact flow at time ``T``.

    Attributes
    ----------
    problem : str
    theta0 : ndarray, shape (d,)
    t_final : float
    h : ndarray, shape (n,)
        Step sizes, coarse to fine.
    status : ndarray of str, shape (n,)
    error : ndarray, shape (n,)
        ``‖θ_h(T) - θ(T)‖₂`` (inf where the run diverged).
    lambda_max : float
        Largest Hessian eigenvalue along the exact flow on ``[0, T]``.
    order : float
        Least-squares slope of log error against log h over the ``fit_points`` finest
        stable step sizes.
    fit_points : int
    """

    problem: str
    theta0: np.ndarray
    t_final: float
    h: np.ndarray
    status: np.ndarray
    error: np.ndarray
    lambda_max: float
    order: float
    fit_points: int

    @property
    def stable(self) -> np.ndarray:
        """Step sizes below the linear stability limit ``2/λmax``."""
        return self.h * self.lambda_max < 2.0


def convergence_study(
    problem: Problem, theta0: np.ndarray, t_final: float, h: np.ndarray, fit_points: int = 4
) -> ConvergenceStudy:
    """Run GD at every step size in ``h`` (one batched call) and measure its error at T.

    Parameters
    ----------
    problem : Problem
    theta0 : array_like, shape (d,)
    t_final : float
        The comparison time ``T``.
    h : array_like, shape (n,)
        Step sizes, coarse to fine.
    fit_points : int, optional
        How many of the finest step sizes the order is fitted on.

    Returns
    -------
    ConvergenceStudy

    References
    ----------
    E. Hairer, S. P. Nørsett and G. Wanner, *Solving Ordinary Differential Equations I*,
    2nd ed., Springer, 1993, §II.1.
    """
    theta0 = np.asarray(theta0, dtype=float)
    h = np.asarray(h, dtype=float)
    path = gradient_flow(problem, theta0, np.linspace(0.0, t_final, PATH_SAMPLES))
    lam = float(np.linalg.eigvalsh(problem.hessian(path.theta)).max())
    exact = path.theta[-1]
    runs = solve(
        problem,
        np.broadcast_to(theta0, (h.size, theta0.size)),
        stepsize=h,
        t_final=t_final,
        save="final",
    )
    error = np.linalg.norm(runs.theta[0] - exact, axis=-1)
    error = np.where(runs.status == "ok", error, np.inf)
    finest = slice(h.size - fit_points, h.size)
    order = fit_order(h[finest], error[finest]).order
    return ConvergenceStudy(
        problem.name, theta0, float(t_final), h, runs.status, error, lam, order, fit_points
    )


def _format(study: ConvergenceStudy) -> list[str]:
    lines = [
        f"{study.problem}: θ0 = {tuple(float(x) for x in study.theta0)}, T = {study.t_final:g}"
        "; reference: scipy solve_ivp DOP853, rtol = atol = 1e-12",
        f"  max λ(∇²L) along the flow = {study.lambda_max:.6g}  →  2/λmax = "
        f"{2.0 / study.lambda_max:.4e}",
        f"  {'h':>10}  {'steps':>7}  {'h·λmax':>7}  {'status':>8}  {'‖θ_h(T) - θ(T)‖':>16}"
        f"  {'local order':>11}",
    ]
    crossed = False
    for i, h in enumerate(study.h):
        if not crossed and study.stable[i]:
            if i > 0:
                lines.append(
                    f"  {'-' * 8} h crossed 2/λmax = {2.0 / study.lambda_max:.4e} here {'-' * 8}"
                )
            crossed = True
        err = study.error[i]
        err_text = f"{err:16.4e}" if np.isfinite(err) else f"{'—':>16}"
        local = ""
        if i > 0 and np.isfinite(err) and np.isfinite(study.error[i - 1]):
            local = f"{np.log(study.error[i - 1] / err) / np.log(study.h[i - 1] / h):11.3f}"
        steps = int(np.ceil(study.t_final / h - 1e-9))
        lines.append(
            f"  {h:10.4e}  {steps:7d}  {h * study.lambda_max:7.3f}  {study.status[i]:>8}  "
            f"{err_text}  {local:>11}"
        )
    lines.append(
        f"  observed order (least squares, {study.fit_points} finest h): {study.order:.3f}"
        "   (explicit Euler: 1)"
    )
    return lines


def run_demo(write: Callable[[str], None] = print) -> list[ConvergenceStudy]:
    """Run the demo on Rosenbrock and Müller–Brown and write its report.

    Parameters
    ----------
    write : callable, optional
        Receives each line of the report (default :func:`print`).

    Returns
    -------
    list of ConvergenceStudy
    """
    cases = [
        (rosenbrock(), np.array([-1.2, 1.0]), 0.5, 0.5 / 2.0 ** np.arange(8, 17)),
        (muller_brown(), np.array([-0.2, 0.8]), 0.02, 0.02 / 2.0 ** np.arange(2, 11)),
    ]
    write("gradflow demo: gradient descent is explicit Euler on dθ/dt = -∇L(θ);")
    write("its error at a fixed time T falls like h¹ once h is below the stability limit 2/λmax.")
    studies = []
    for problem, theta0, t_final, hs in cases:
        study = convergence_study(problem, theta0, t_final, hs)
        write("")
        for line in _format(study):
            write(line)
        studies.append(study)
    return studies
