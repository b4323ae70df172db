"""Validation of optimiser hyper-parameters (``ValueError`` naming the argument)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["check_decay", "check_nonnegative", "check_positive", "check_unit", "decay_at"]


def _real(value: Any, label: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{label} must be a real number, got {value!r}")
    out = float(value)
    if not math.isfinite(out):
        raise ValueError(f"{label} must be finite, got {value!r}")
    return out


def check_unit(value: Any, label: str) -> None:
    """``0 <= value < 1``, else ``ValueError`` naming ``label``."""
    if not 0.0 <= _real(value, label) < 1.0:
        raise ValueError(f"{label} must satisfy 0 <= {label} < 1, got {value!r}")


def check_positive(value: Any, label: str) -> None:
    """``value > 0`` and finite, else ``ValueError`` naming ``label``."""
    if not _real(value, label) > 0.0:
        raise ValueError(f"{label} must be > 0, got {value!r}")


def check_nonnegative(value: Any, label: str) -> None:
    """``value >= 0`` and finite, else ``ValueError`` naming ``label``."""
    if not _real(value, label) >= 0.0:
        raise ValueError(f"{label} must be >= 0, got {value!r}")


def check_decay(value: Any, label: str = "weight_decay") -> None:
    """A decoupled weight decay: a number ``>= 0`` or a callable schedule ``k -> λ_k``."""
    if callable(value):
        return
    check_nonnegative(value, label)


def decay_at(value: float | Callable[[Any], Any], k: np.ndarray, dtype: np.dtype) -> Any:
    """``λ`` for the elements whose step counters (before the step) are ``k``.

    A number is returned as is; a schedule is evaluated on the counters and returned as a
    ``(B, 1)`` column.
    """
    if not callable(value):
        return float(value)
    lam = np.asarray(value(k), dtype=dtype)
    return np.broadcast_to(lam, k.shape)[:, None]
