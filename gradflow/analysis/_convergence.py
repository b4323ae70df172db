"""Observed order of convergence from errors at several step sizes."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from gradflow._validation import check_positive

__all__ = ["OrderFit", "fit_order"]


class OrderFit(NamedTuple):
    """Least-squares fit ``log err = order · log h + log C``.

    Attributes
    ----------
    order : float
        Fitted slope: the observed order of convergence.
    constant : float
        The error constant ``C``.
    local : ndarray
        Slopes between consecutive step sizes (their drift shows whether the run is in
        the asymptotic regime).
    """

    order: float
    constant: float
    local: np.ndarray


def fit_order(h: ArrayLike, errors: ArrayLike) -> OrderFit:
    r"""Fit the order ``p`` of ``err ≈ C h^p`` by least squares on log-log axes.

    Parameters
    ----------
    h : array_like, shape (n,)
        Distinct positive step sizes, ``n >= 2``.
    errors : array_like, shape (n,)
        Positive finite errors at those step sizes.

    Returns
    -------
    OrderFit
        The fitted slope, the constant and the local slopes.

    Raises
    ------
    ValueError
        If the shapes differ, fewer than two points are given, or a step size or an
        error is not finite and positive.
    TypeError
        If ``h`` or ``errors`` does not hold real numbers.

    References
    ----------
    E. Hairer, S. P. Nørsett and G. Wanner, *Solving Ordinary Differential Equations I*,
    2nd ed., Springer, 1993, §II.1 (work-precision and order diagrams).

    Examples
    --------
    >>> fit_order([0.1, 0.05, 0.025], [3e-2, 7.5e-3, 1.875e-3]).order
    2.0
    """
    h = check_positive(h, "h", allow_array=True)
    errors = check_positive(errors, "errors", allow_array=True)
    if h.ndim != 1 or h.shape != errors.shape or h.size < 2:
        raise ValueError(
            f"h and errors must be 1-D arrays of the same length >= 2, got {h.shape} and "
            f"{errors.shape}"
        )
    if np.unique(h).size != h.size:
        raise ValueError("h must hold distinct step sizes")
    x, y = np.log(h), np.log(errors)
    slope, intercept = np.polyfit(x, y, 1)
    order = float(np.round(slope, 12))
    local = np.diff(y) / np.diff(x)
    return OrderFit(order, float(np.exp(intercept)), local)
