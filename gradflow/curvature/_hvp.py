r"""Hessian-vector products: the one primitive every curvature estimator is built on.

Every estimator in :mod:`gradflow.curvature` touches the Hessian only through products
``H(θ) v``: exact where the problem supplies them (an analytic HVP, the R-operator of a
network, a sympy-derived HVP, or a contraction of an analytic Hessian), else a central
difference of the gradient with a scaled increment
(:func:`gradflow.problems.central_difference_hvp`).  :class:`BatchHVP` applies them to a
flattened batch of points, one direction per point, and counts the products per point.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from gradflow._checks import check_problem
from gradflow._validation import as_state_array
from gradflow.problems import Problem

__all__ = ["BatchHVP", "hvp", "hvp_operator"]


def hvp(problem: Problem, theta: ArrayLike, v: ArrayLike) -> np.ndarray:
    r"""The Hessian-vector product ``∇²L(θ) v``, batched over leading axes.

    Parameters
    ----------
    problem : Problem
    theta : array_like, shape (*batch, d)
        Points.
    v : array_like, shape broadcastable to ``theta``
        Directions.

    Returns
    -------
    ndarray, shape ``broadcast(theta, v).shape``
        Exact when the problem has an analytic HVP or Hessian; otherwise the central
        difference ``(∇L(θ + εv) - ∇L(θ - εv)) / 2ε`` with
        ``ε = eps^(1/3) max(1, ‖θ‖) / ‖v‖`` (relative error ``O(eps^(2/3))``).

    Raises
    ------
    TypeError
        If ``problem`` is not a Problem or ``theta``/``v`` are not real.
    ValueError
        If the last axis is not ``problem.dim``, the arrays do not broadcast or hold
        non-finite numbers.

    References
    ----------
    B. A. Pearlmutter, "Fast exact multiplication by the Hessian", Neural Computation
    6(1), 147-160, 1994.

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic(A=np.diag([1.0, 10.0]))
    >>> gf.curvature.hvp(p, np.zeros((3, 2)), [1.0, 1.0])
    array([[ 1., 10.],
           [ 1., 10.],
           [ 1., 10.]])
    """
    problem = check_problem(problem)
    theta = as_state_array(theta, "theta", problem.dim)
    v = as_state_array(v, "v", problem.dim).astype(theta.dtype, copy=False)
    try:
        shape = np.broadcast_shapes(theta.shape, v.shape)
    except ValueError:
        raise ValueError(
            f"theta {theta.shape} and v {v.shape} must broadcast against each other"
        ) from None
    theta = np.ascontiguousarray(np.broadcast_to(theta, shape))
    v = np.ascontiguousarray(np.broadcast_to(v, shape))
    with np.errstate(all="ignore"):
        return np.asarray(problem.hvp(theta, v), dtype=theta.dtype)


class BatchHVP:
    """``H(θ_b) v_b`` for a flattened batch of points ``θ`` of shape ``(B, d)``.

    Calling it with ``rows`` (an index array into the batch, or None for all of it)
    and directions ``v`` of shape ``(len(rows), d)`` returns the products and adds one to
    :attr:`n_hvp` of every row it touched.

    Parameters
    ----------
    problem : Problem
    theta : ndarray, shape (B, d)
        Checked points (see :func:`gradflow._validation.as_state_array`).

    Attributes
    ----------
    n_hvp : ndarray of int, shape (B,)
        Products computed per point so far.
    """

    def __init__(self, problem: Problem, theta: np.ndarray) -> None:
        self.problem = problem
        self.theta = theta
        self.dtype = theta.dtype
        self.n_hvp = np.zeros(theta.shape[0], dtype=np.int64)

    def __call__(self, rows: np.ndarray | None, v: np.ndarray) -> np.ndarray:
        # (Callers run under np.errstate(all="ignore"): entering it here for every
        # product would cost as much as the bookkeeping of a Lanczos step.)
        theta = self.theta if rows is None else self.theta[rows]
        out = np.array(self.problem.hvp(theta, v), dtype=self.dtype)
        if rows is None:
            self.n_hvp += 1
        else:
            self.n_hvp[rows] += 1
        return out


def hvp_operator(problem: Problem, theta: ArrayLike) -> Any:
    """The Hessian at one point as a ``scipy.sparse.linalg.LinearOperator`` of HVPs.

    What edge-of-stability code hands to ``scipy.sparse.linalg.eigsh``; gradflow's own
    estimators do not need it, but it makes the comparison with scipy one line.  The
    operator counts its products in the attribute ``n_hvp``.

    Parameters
    ----------
    problem : Problem
    theta : array_like, shape (d,)
        One point.

    Returns
    -------
    scipy.sparse.linalg.LinearOperator
        Shape ``(d, d)``, symmetric, float64; ``matvec`` and ``matmat`` (a block of
        columns is one batched HVP call).

    Raises
    ------
    TypeError
        If ``problem`` is not a Problem.
    ValueError
        If ``theta`` is not a single finite point of length ``problem.dim``.

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> from scipy.sparse.linalg import eigsh
    >>> p = gf.problems.quadratic([1.0, 2.0, 5.0], seed=0)
    >>> op = gf.curvature.hvp_operator(p, np.zeros(3))
    >>> round(float(eigsh(op, k=1, which="LA")[0][0]), 10)
    5.0
    """
    from scipy.sparse.linalg import LinearOperator

    problem = check_problem(problem)
    point = as_state_array(theta, "theta", problem.dim).astype(np.float64)
    if point.ndim != 1:
        raise ValueError(f"theta must be one point of shape ({problem.dim},), got {point.shape}")
    d = problem.dim

    class _HVPOperator(LinearOperator):
        def __init__(self) -> None:
            super().__init__(dtype=np.float64, shape=(d, d))
            self.n_hvp = 0

        def _matvec(self, x: np.ndarray) -> np.ndarray:
            self.n_hvp += 1
            with np.errstate(all="ignore"):
                return np.asarray(problem.hvp(point, np.ravel(x)), dtype=np.float64)

        def _matmat(self, X: np.ndarray) -> np.ndarray:
            self.n_hvp += X.shape[1]
            rows = np.broadcast_to(point, (X.shape[1], d))
            with np.errstate(all="ignore"):
                return np.asarray(problem.hvp(rows, np.ascontiguousarray(X.T)), dtype=float).T

        def _adjoint(self) -> LinearOperator:
            return self  # the Hessian is symmetric

    return _HVPOperator()
