"""Step-size policies: constant steps, schedules and (later) adaptive rules."""

from gradflow.stepsize.plateau import ReduceOnPlateau
from gradflow.stepsize.policy import (
    ConstantStep,
    Observation,
    ScheduledStep,
    StepSizePolicy,
    Verdict,
    as_policy,
)

__all__ = [
    "ConstantStep",
    "Observation",
    "ReduceOnPlateau",
    "ScheduledStep",
    "StepSizePolicy",
    "Verdict",
    "as_policy",
]
