"""Richardson extrapolation of runs: the ``h → 0`` limit of a run, and how far a run is
from it."""

from gradflow.richardson._richardson import (
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
