"""Argument checks shared by the curvature estimators and the stability bounds (one place
for the error messages)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from gradflow._validation import check_integer as check_count
from gradflow.problems import Problem

__all__ = ["as_points", "check_count", "check_positive", "check_problem", "check_which", "rng"]

#: The spectrum ends an eigensolver can be asked for (scipy ``eigsh`` spelling):
#: largest algebraic, smallest algebraic, largest magnitude.
WHICH = ("LA", "SA", "LM")


def check_problem(problem: Any) -> Problem:
    """``problem`` must be a gradflow Problem (``TypeError`` otherwise)."""
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a gradflow Problem, got {type(problem).__name__}")
    return problem


def as_points(theta: ArrayLike, dim: int, label: str = "theta") -> np.ndarray:
    """A finite real batch of points ``(*batch, dim)`` (float64 unless float32 is given)."""
    try:
        arr = np.asarray(theta)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{label} must be an array of shape (*batch, {dim}): {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{label} must hold real numbers, got dtype {arr.dtype}")
    if arr.dtype != np.float32:
        arr = arr.astype(np.float64)
    if arr.ndim == 0 or arr.shape[-1] != dim:
        raise ValueError(f"{label} must have shape (*batch, {dim}), got {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{label} must not be an empty batch, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{label} must be finite; it contains NaN or inf")
    return np.ascontiguousarray(arr)


def check_positive(value: Any, label: str) -> float:
    """A finite real number ``> 0``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{label} must be a real number, got {type(value).__name__}")
    if not (math.isfinite(float(value)) and value > 0):
        raise ValueError(f"{label} must be finite and > 0, got {value!r}")
    return float(value)


def check_which(which: Any) -> str:
    """One of :data:`WHICH`."""
    if which not in WHICH:
        raise ValueError(f"which must be one of {WHICH}, got {which!r}")
    return str(which)


def rng(seed: Any) -> np.random.Generator:
    """``numpy.random.default_rng(seed)`` with a ``TypeError`` naming ``seed``."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0
    ):
        raise TypeError(f"seed must be None, a non-negative int or a numpy Generator, got {seed!r}")
    return np.random.default_rng(seed)
