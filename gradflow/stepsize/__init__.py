"""Step-size policies: the protocol, constant and scheduled steps, and their composition.

Schedules live in :mod:`gradflow.schedules`, error controllers in
:mod:`gradflow.controllers`, optimisation rules in :mod:`gradflow.rules`.
"""

from gradflow.stepsize.compose import Clip, Join, Product
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
    "Clip",
    "ConstantStep",
    "Join",
    "Observation",
    "Product",
    "ReduceOnPlateau",
    "ScheduledStep",
    "StepSizePolicy",
    "Verdict",
    "as_policy",
]
