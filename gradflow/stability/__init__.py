"""Linear stability of gradflow's methods: stability functions, limits and regions, bound
verification, and the step-size diagnosis of a run (:func:`diagnose`, also
``gradflow.diagnose``)."""

from gradflow.stability._bounds import BoundCheck, verify_bound
from gradflow.stability._diagnosis import ADVICE, Diagnosis, diagnose
from gradflow.stability._function import (
    StabilityRegion,
    amplification,
    critical_stepsize,
    real_stability_limit,
    stability_function,
    stability_region,
)

__all__ = [
    "ADVICE",
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
