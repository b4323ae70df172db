r"""Two classic 2-D optimisation test functions: Himmelblau and Beale.

* Himmelblau, :math:`(x^2 + y - 11)^2 + (x + y^2 - 7)^2`: four global minima of value 0,
  so the basin a gradient flow ends in depends on where it starts.
* Beale, :math:`\sum_{k=1}^{3} (c_k - x + x y^k)^2` with ``c = (1.5, 2.25, 2.625)``:
  one minimum at ``(3, 0.5)`` in a flat, curved valley, with steep walls for ``|y| > 1``.

Gradients and Hessians are written out by hand (both are sums of squares
``Σ r_k²``, so ``∇L = 2 Σ r_k ∇r_k`` and ``∇²L = 2 Σ (∇r_k ∇r_kᵀ + r_k ∇²r_k)``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from gradflow.problems._planar import Entries, planar_second_order, stack2
from gradflow.problems._problem import Problem, as_batch

__all__ = ["BEALE_CONSTANTS", "HIMMELBLAU_GUESSES", "beale", "himmelblau"]

#: Starting points of the Newton refinement of Himmelblau's four minima.
HIMMELBLAU_GUESSES = (
    (3.0, 2.0),
    (-2.805118, 3.131312),
    (-3.779310, -3.283186),
    (3.584428, -1.848126),
)
#: The constants ``c_k`` of Beale's residuals ``c_k - x + x y^k``, ``k = 1, 2, 3``.
BEALE_CONSTANTS = (1.5, 2.25, 2.625)

_NEWTON_STEPS = 8


# -- Himmelblau ----------------------------------------------------------------------
def _himmelblau_loss(theta: ArrayLike) -> np.ndarray:
    theta = as_batch(theta, 2)
    x, y = theta[..., 0], theta[..., 1]
    u = x * x + y - 11.0
    w = x + y * y - 7.0
    return u * u + w * w


def _himmelblau_grad(theta: ArrayLike) -> np.ndarray:
    theta = as_batch(theta, 2)
    x, y = theta[..., 0], theta[..., 1]
    u = x * x + y - 11.0
    w = x + y * y - 7.0
    return stack2(4.0 * x * u + 2.0 * w, 2.0 * u + 4.0 * y * w, theta)


def _himmelblau_entries(x: np.ndarray, y: np.ndarray) -> Entries:
    u = x * x + y - 11.0
    w = x + y * y - 7.0
    return 4.0 * u + 8.0 * x * x + 2.0, 4.0 * (x + y), 4.0 * w + 8.0 * y * y + 2.0


def _himmelblau_theta_entries(theta: np.ndarray) -> Entries:
    return _himmelblau_entries(theta[..., 0], theta[..., 1])


# Module-level functions (not lambdas), so that the problem pickles.
_himmelblau_hvp, _himmelblau_hessian = planar_second_order(_himmelblau_theta_entries)


def _refine(
    grad: Callable[[ArrayLike], np.ndarray],
    hessian: Callable[[ArrayLike], np.ndarray],
    points: np.ndarray,
) -> np.ndarray:
    """Newton's method on ``∇L = 0`` from ``points`` (shape (m, 2))."""
    x = np.array(points, dtype=np.float64)
    for _ in range(_NEWTON_STEPS):
        x = x - np.linalg.solve(hessian(x), grad(x)[..., None])[..., 0]
    return x


def himmelblau() -> Problem:
    r"""Himmelblau's function :math:`(x^2 + y - 11)^2 + (x + y^2 - 7)^2`.

    Returns
    -------
    Problem
        Exact gradient, HVP and Hessian; ``minimum = 0`` and ``minimizers`` the four
        global minimisers (``(3, 2)`` and three irrational ones, refined by Newton's
        method from :data:`HIMMELBLAU_GUESSES` to full precision).

    Raises
    ------
    numpy.linalg.LinAlgError
        Never in practice: only if a Newton step met a singular Hessian.

    References
    ----------
    D. M. Himmelblau, *Applied Nonlinear Programming*, McGraw-Hill, 1972.

    Examples
    --------
    >>> import numpy as np
    >>> p = himmelblau()
    >>> p.minimizers.shape
    (4, 2)
    >>> bool(np.all(np.abs(p.grad(p.minimizers)) < 1e-10))
    True
    """
    minimizers = _refine(_himmelblau_grad, _himmelblau_hessian, np.array(HIMMELBLAU_GUESSES))
    return Problem(
        loss=_himmelblau_loss,
        grad=_himmelblau_grad,
        dim=2,
        hvp=_himmelblau_hvp,
        hessian=_himmelblau_hessian,
        name="himmelblau",
        minimum=0.0,
        minimizers=minimizers,
    )


# -- Beale ---------------------------------------------------------------------------
def _beale_residuals(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    c1, c2, c3 = BEALE_CONSTANTS
    y2 = y * y
    y3 = y2 * y
    return c1 - x + x * y, c2 - x + x * y2, c3 - x + x * y3, y2, y3


def _beale_loss(theta: ArrayLike) -> np.ndarray:
    theta = as_batch(theta, 2)
    r1, r2, r3, _, _ = _beale_residuals(theta[..., 0], theta[..., 1])
    return r1 * r1 + r2 * r2 + r3 * r3


def _beale_grad(theta: ArrayLike) -> np.ndarray:
    theta = as_batch(theta, 2)
    x, y = theta[..., 0], theta[..., 1]
    r1, r2, r3, y2, y3 = _beale_residuals(x, y)
    # ∂r_k/∂x = y^k - 1, ∂r_k/∂y = k x y^(k-1)
    gx = 2.0 * (r1 * (y - 1.0) + r2 * (y2 - 1.0) + r3 * (y3 - 1.0))
    gy = 2.0 * x * (r1 + 2.0 * r2 * y + 3.0 * r3 * y2)
    return stack2(gx, gy, theta)


def _beale_entries(x: np.ndarray, y: np.ndarray) -> Entries:
    r1, r2, r3, y2, y3 = _beale_residuals(x, y)
    ax1, ax2, ax3 = y - 1.0, y2 - 1.0, y3 - 1.0  # ∂r_k/∂x
    ay1, ay2, ay3 = x, 2.0 * x * y, 3.0 * x * y2  # ∂r_k/∂y
    hxx = 2.0 * (ax1 * ax1 + ax2 * ax2 + ax3 * ax3)  # r_k is linear in x
    # ∂²r_k/∂x∂y = k y^(k-1), ∂²r_k/∂y² = k (k-1) x y^(k-2)
    hxy = 2.0 * (ax1 * ay1 + ax2 * ay2 + ax3 * ay3 + r1 + 2.0 * r2 * y + 3.0 * r3 * y2)
    hyy = 2.0 * (ay1 * ay1 + ay2 * ay2 + ay3 * ay3 + 2.0 * r2 * x + 6.0 * r3 * x * y)
    return hxx, hxy, hyy


def _beale_theta_entries(theta: np.ndarray) -> Entries:
    return _beale_entries(theta[..., 0], theta[..., 1])


_beale_hvp, _beale_hessian = planar_second_order(_beale_theta_entries)


def beale() -> Problem:
    r"""Beale's function.

    .. math:: L(x, y) = (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2.

    Returns
    -------
    Problem
        Exact gradient, HVP and Hessian; ``minimum = 0`` at the unique minimiser
        ``(3, 0.5)``.

    Raises
    ------
    None
        The factory takes no arguments and cannot fail.

    References
    ----------
    E. M. L. Beale, "On an iterative method for finding a local minimum of a function
    of more than one variable", Tech. Rep. 25, Statistical Techniques Research Group,
    Princeton University, 1958.

    Examples
    --------
    >>> import numpy as np
    >>> p = beale()
    >>> float(p.loss(np.array([3.0, 0.5]))), bool(np.all(p.grad(np.array([3.0, 0.5])) == 0))
    (0.0, True)
    """
    return Problem(
        loss=_beale_loss,
        grad=_beale_grad,
        dim=2,
        hvp=_beale_hvp,
        hessian=_beale_hessian,
        name="beale",
        minimum=0.0,
        minimizers=[[3.0, 0.5]],
    )
