"""Optimiser hyper-parameter checks: the contract of :mod:`gradflow._validation`.

``TypeError`` for a wrong type, ``ValueError`` for a bad value, the argument named.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from gradflow._validation import check_nonnegative, check_positive, check_unit_interval

__all__ = ["check_decay", "check_nonnegative", "check_positive", "check_unit", "decay_at"]

#: An averaging coefficient (``beta1``, ``momentum``...): a real number in ``[0, 1)``.
check_unit = check_unit_interval


def check_decay(value: Any, label: str = "weight_decay") -> Any:
    """A decoupled weight decay: a number ``>= 0`` or a callable schedule ``k -> λ_k``.

    Raises
    ------
    TypeError
        If ``value`` is neither a real number nor callable.
    ValueError
        If it is a negative or non-finite number.
    """
    if callable(value):
        return value
    try:
        return check_nonnegative(value, label)
    except TypeError:
        raise TypeError(
            f"{label} must be a finite number >= 0 or a callable schedule k -> λ_k, "
            f"got {value!r} ({type(value).__name__})"
        ) from None


def decay_at(value: float | Callable[[Any], Any], k: np.ndarray, dtype: np.dtype) -> Any:
    """``λ`` for the elements whose step counters (before the step) are ``k``.

    A number is returned as is; a schedule is evaluated on the counters and returned as a
    ``(B, 1)`` column.
    """
    if not callable(value):
        return float(value)
    lam = np.asarray(value(k), dtype=dtype)
    return np.broadcast_to(lam, k.shape)[:, None]
