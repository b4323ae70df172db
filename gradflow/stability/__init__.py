"""Linear stability of gradflow's methods (public name; see :mod:`gradflow.analysis.stability`)."""

from gradflow.analysis.bounds import BoundCheck, verify_bound
from gradflow.analysis.diagnosis import Diagnosis, diagnose
from gradflow.analysis.stability import (
    StabilityRegion,
    amplification,
    critical_stepsize,
    real_stability_limit,
    stability_function,
    stability_region,
)

__all__ = [
    "BoundCheck",
    "Diagnosis",
    "StabilityRegion",
    "amplification",
    "critical_stepsize",
    "diagnose",
    "real_stability_limit",
    "stability_function",
    "stability_region",
    "verify_bound",
]
