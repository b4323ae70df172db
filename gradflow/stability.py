"""Linear stability of gradflow's methods (public name; see :mod:`gradflow.analysis.stability`)."""

from gradflow.analysis.stability import (
    StabilityRegion,
    amplification,
    critical_stepsize,
    real_stability_limit,
    stability_function,
    stability_region,
)

__all__ = [
    "StabilityRegion",
    "amplification",
    "critical_stepsize",
    "real_stability_limit",
    "stability_function",
    "stability_region",
]
