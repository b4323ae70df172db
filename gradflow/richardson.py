"""Richardson extrapolation of runs (public name; see :mod:`gradflow.analysis.richardson`)."""

from gradflow.analysis.richardson import (
    Extrapolation,
    RichardsonSolution,
    extrapolate,
    observed_order,
    solve_extrapolated,
    weights,
)

__all__ = [
    "Extrapolation",
    "RichardsonSolution",
    "extrapolate",
    "observed_order",
    "solve_extrapolated",
    "weights",
]
