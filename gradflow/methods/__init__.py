"""Integrators: each optimiser is a discretisation of a known ODE.

The Butcher tableaux (``RK4``, ``DOPRI54``, ...) are registered from
the folder ``gradflow/methods/_tableaux/``, one module per tableau; :data:`TABLEAUX` lists them by
name.
"""

from gradflow.methods._adafactor import Adafactor, AdafactorState
from gradflow.methods._adaptive import (
    AdaGrad,
    AdaGradState,
    Adam,
    AdamState,
    AdamW,
    RMSProp,
    RMSPropState,
)
from gradflow.methods._base import Method, ModifiedCoefficients, StepResult
from gradflow.methods._clipped import Clipped, clip_gradient
from gradflow.methods._dadapt import DAdaptAdam, DAdaptAdamState, DAdaptSGD, DAdaptSGDState
from gradflow.methods._dog import DoG, DoGState, LDoG
from gradflow.methods._euler import Euler, EulerState
from gradflow.methods._implicit import ImplicitEuler, ImplicitEulerState
from gradflow.methods._lamb import LAMB, LAMBState
from gradflow.methods._lion import Lion, LionState
from gradflow.methods._momentum import (
    HeavyBall,
    HeavyBallState,
    Nesterov,
    NesterovAGD,
    NesterovAGDState,
    NesterovState,
)
from gradflow.methods._prodigy import Prodigy, ProdigyState
from gradflow.methods._runge_kutta import RungeKutta, RungeKuttaState
from gradflow.methods._schedule_free import AdamWScheduleFree, ScheduleFreeState, SGDScheduleFree
from gradflow.methods._sgd import SGD, SGDState
from gradflow.methods._sophia import Sophia, SophiaState
from gradflow.methods._sps import SPS, SPSState
from gradflow.methods._tableau import ButcherTableau
from gradflow.methods._tableaux import EXPORTS as _TABLEAU_EXPORTS
from gradflow.methods._tableaux import TABLEAUX

__all__ = [
    "LAMB",
    "SGD",
    "SPS",
    "TABLEAUX",
    "AdaGrad",
    "AdaGradState",
    "Adafactor",
    "AdafactorState",
    "Adam",
    "AdamState",
    "AdamW",
    "AdamWScheduleFree",
    "ButcherTableau",
    "Clipped",
    "DAdaptAdam",
    "DAdaptAdamState",
    "DAdaptSGD",
    "DAdaptSGDState",
    "DoG",
    "DoGState",
    "Euler",
    "EulerState",
    "HeavyBall",
    "HeavyBallState",
    "ImplicitEuler",
    "ImplicitEulerState",
    "LAMBState",
    "LDoG",
    "Lion",
    "LionState",
    "Method",
    "ModifiedCoefficients",
    "Nesterov",
    "NesterovAGD",
    "NesterovAGDState",
    "NesterovState",
    "Prodigy",
    "ProdigyState",
    "RMSProp",
    "RMSPropState",
    "RungeKutta",
    "RungeKuttaState",
    "SGDScheduleFree",
    "SGDState",
    "SPSState",
    "ScheduleFreeState",
    "Sophia",
    "SophiaState",
    "StepResult",
    "clip_gradient",
]

# The tableau constants (RK4, DOPRI54, ...) come from the registry: one file each in
# gradflow/methods/_tableaux/, exported here under their constant names.
globals().update(_TABLEAU_EXPORTS)
__all__ += list(_TABLEAU_EXPORTS)
