"""Argument checks specific to the curvature estimators and the stability bounds.

Everything else (numbers, counts, seeds, arrays of points) is checked by
:mod:`gradflow._validation`, under its one contract.
"""

from __future__ import annotations

from typing import Any

from gradflow._validation import check_choice
from gradflow.problems import Problem

__all__ = ["WHICH", "check_problem", "check_which"]

#: The spectrum ends an eigensolver can be asked for (scipy ``eigsh`` spelling):
#: largest algebraic, smallest algebraic, largest magnitude.
WHICH = ("LA", "SA", "LM")


def check_problem(problem: Any) -> Problem:
    """``problem`` must be a gradflow Problem (``TypeError`` otherwise)."""
    if not isinstance(problem, Problem):
        raise TypeError(
            f"problem must be a gradflow Problem, got {problem!r} ({type(problem).__name__})"
        )
    return problem


def check_which(which: Any) -> str:
    """One of :data:`WHICH` (``TypeError`` for a non-string, ``ValueError`` otherwise)."""
    return str(check_choice(which, "which", WHICH))
