"""Step-size policies: the protocol the driver talks to, constant and scheduled steps,
their composition, and the learning-rate range test.

Schedules live in :mod:`gradflow.schedules`, error-per-step controllers in
:mod:`gradflow.controllers` and optimisation-side rules in :mod:`gradflow.rules`; all of
them are :class:`StepSizePolicy` objects (or become one through :func:`as_policy`), and
any of them compose with :class:`Product`, :class:`Join` and :class:`Clip`.
"""

from gradflow.stepsize._compose import Clip, Join, Product
from gradflow.stepsize._lr_find import LRFindResult, LRFindWarning, RangeTest, lr_find
from gradflow.stepsize._policy import (
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
    "LRFindResult",
    "LRFindWarning",
    "Observation",
    "Product",
    "RangeTest",
    "ScheduledStep",
    "StepSizePolicy",
    "Verdict",
    "as_policy",
    "lr_find",
]
