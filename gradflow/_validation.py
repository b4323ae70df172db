"""Argument checks shared across the package (each raises naming the argument)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["check_integer", "check_step_count"]


def _is_integer(value: Any) -> bool:
    # bool is an int subclass, but True is not a count.
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, np.integer))


def check_integer(value: Any, label: str, minimum: int = 1) -> int:
    """An integer ``>= minimum``: ``TypeError`` if not an integer, else ``ValueError``."""
    if not _is_integer(value):
        raise TypeError(f"{label} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{label} must be >= {minimum}, got {value!r}")
    return int(value)


def check_step_count(value: Any, label: str, minimum: int) -> int:
    """A number of steps ``>= minimum``; ``ValueError`` for anything else (2.5 steps is
    a bad value of the argument, not a wrong type of call)."""
    if not _is_integer(value) or value < minimum:
        raise ValueError(f"{label} must be an integer >= {minimum}, got {value!r}")
    return int(value)
