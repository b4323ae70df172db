"""Eigenpairs from the dense Hessian: exact (to LAPACK rounding) for small ``d``.

``problem.hessian(θ)`` is the analytic Hessian where the problem has one, else it is
assembled from ``d`` HVPs against the unit vectors; ``numpy.linalg.eigh`` then costs
``O(d³)`` per point.  This is the reference the iterative solvers are tested against,
and the right choice up to ``d`` of a few hundred.
"""

from __future__ import annotations

import numpy as np

from gradflow.curvature._lanczos import EigenArrays, select_ritz
from gradflow.problems import Problem

__all__ = ["dense_eigen"]


def dense_eigen(problem: Problem, theta: np.ndarray, k: int, which: str) -> EigenArrays:
    """``k`` eigenpairs at the ``which`` end of ``∇²L(θ_b)`` for ``θ`` of shape (B, d)."""
    with np.errstate(all="ignore"):
        H = np.asarray(problem.hessian(theta), dtype=theta.dtype)
    if not np.all(np.isfinite(H)):
        raise ValueError("the Hessian is not finite at some of the points theta")
    # Symmetrise: the eigenvalues of a nearly symmetric assembled Hessian are those of
    # its symmetric part to rounding.
    w, V = np.linalg.eigh(0.5 * (H + np.swapaxes(H, -1, -2)))
    idx = select_ritz(w, k, which)
    values = np.take_along_axis(w, idx, axis=-1)
    vectors = np.swapaxes(np.take_along_axis(V, idx[:, None, :], axis=-1), 1, 2)
    B = theta.shape[0]
    return EigenArrays(
        values, np.ascontiguousarray(vectors), np.zeros((B, k), theta.dtype), np.ones(B, bool)
    )
