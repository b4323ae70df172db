r"""The stability limit of a method at the states a run visited.

A step ``h`` of a method whose real stability interval is ``[-β, 0]`` is linearly stable
at ``θ`` iff ``h λmax(∇²L(θ)) < β``: the critical step is ``β/λmax``.  For the Adam family
the same form holds with the preconditioned sharpness ``λmax(P⁻¹H)`` and
``β = 2(1 + β_1)/(1 - β_1)`` (Cohen et al. 2022, :mod:`gradflow.analysis`).  This module
finds ``β`` for a method and ``λmax`` (or its preconditioned form) at a batch of states.

References
----------
E. Hairer and G. Wanner, *Solving Ordinary Differential Equations II*, 2nd ed.,
Springer, 1996, §IV.2.
J. M. Cohen, B. Ghorbani, S. Krishnan et al., "Adaptive gradient methods at the edge of
stability", arXiv:2207.14484, 2022.
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import numpy as np

from gradflow.curvature import eigenvalues
from gradflow.methods import Adam, AdamW, Euler, Method
from gradflow.problems import Problem
from gradflow.stability._function import real_stability_limit

__all__ = ["Limit", "adam_sharpness", "method_limit", "top_curvature"]

#: Relative accuracy of the Lanczos ``λmax`` (four digits of the ratio are printed).
LAMBDA_TOL = 1e-6


class Limit(NamedTuple):
    """A method's stability constant: ``h < beta / lam`` with ``lam`` of kind ``kind``.

    ``kind`` is ``"hessian"`` (``λmax(∇²L)``), ``"preconditioned"`` (``λmax(P⁻¹H)``) or
    ``""`` when there is none; ``why`` says why not.
    """

    beta: float
    kind: str
    why: str


@functools.lru_cache(maxsize=64)
def _linear_limit(method: Method) -> float:
    return real_stability_limit(method)


def method_limit(method: Method | None, name: str) -> Limit:
    """``β`` of ``method`` (or, without it, of the method called ``name``)."""
    if method is None:
        if name in ("", "Euler"):
            return Limit(2.0, "hessian", "")
        return Limit(
            math.nan,
            "",
            f"the run records only the method's name {name!r}: pass method= for its limit",
        )
    if isinstance(method, (Adam, AdamW)):
        if getattr(method, "amsgrad", False):
            return Limit(math.nan, "", "AMSGrad has no preconditioned-sharpness limit")
        b1 = float(method.beta1)
        return Limit(2.0 * (1.0 + b1) / (1.0 - b1), "preconditioned", "")
    try:
        beta = _linear_limit(method)
    except TypeError:
        return Limit(math.nan, "", f"{method.name} has no linear stability analysis")
    return Limit(beta, "hessian", "")


def gradient_descent() -> Method:
    """The method assumed for a plain loss log given without one."""
    return Euler()


def top_curvature(problem: Problem, points: np.ndarray) -> np.ndarray:
    """``λmax(∇²L)`` at the rows of ``points`` ``(B, d)`` (NaN at non-finite rows)."""
    out = np.full(points.shape[0], np.nan)
    finite = np.isfinite(points).all(axis=-1)
    if finite.any():
        res = eigenvalues(problem, points[finite].astype(np.float64), 1, tol=LAMBDA_TOL, seed=0)
        out[finite] = res.values[:, 0]
    return out


def adam_sharpness(
    problem: Problem, method: Any, states: np.ndarray, end: np.ndarray
) -> np.ndarray:
    r"""``λmax(P⁻¹H)`` at the last state of each column of an Adam run saved every step.

    ``states`` ``(n, B, d)`` holds ``θ_0, ..., θ_{n-1}`` (for column ``j`` only the first
    ``end[j] + 1`` count).  Adam's full-batch second moment after the gradients at those
    states is ``v = (1 - β_2) Σ_k β_2^{end - k} g_k²`` (the recurrence written out), and
    ``P`` is Cohen et al.'s preconditioner of the step from the last state.
    """
    from gradflow.analysis import adam_preconditioner, preconditioned_sharpness

    n, B, d = states.shape
    l2 = float(method.weight_decay) if isinstance(method, Adam) else 0.0
    flat = states.reshape(n * B, d).astype(np.float64)
    with np.errstate(all="ignore"):
        g = problem.grad(flat) + l2 * flat
    g2 = (g * g).reshape(n, B, d)
    k = np.arange(n)[:, None]
    power = end[None, :] - k
    weights = np.where(power >= 0, (1.0 - method.beta2) * method.beta2 ** np.maximum(power, 0), 0)
    v = np.einsum("nb,nbd->bd", weights, g2)
    last = states[end, np.arange(B)].astype(np.float64)
    out = np.full(B, np.nan)
    ok = np.isfinite(v).all(axis=-1) & np.isfinite(last).all(axis=-1)
    if ok.any():
        P = adam_preconditioner(v[ok], end[ok] + 1, method.beta1, method.beta2, method.eps)
        out[ok] = preconditioned_sharpness(problem, last[ok], P, l2=l2, tol=LAMBDA_TOL, seed=0)
    return out
