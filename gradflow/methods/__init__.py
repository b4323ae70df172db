"""Integrators: each optimiser is a discretisation of a known ODE."""

from gradflow.methods._adaptive import (
    AdaGrad,
    AdaGradState,
    Adam,
    AdamState,
    AdamW,
    RMSProp,
    RMSPropState,
)
from gradflow.methods._base import Method, StepResult
from gradflow.methods._clipped import Clipped, clip_gradient
from gradflow.methods._euler import Euler, EulerState
from gradflow.methods._implicit import ImplicitEuler, ImplicitEulerState
from gradflow.methods._lion import Lion, LionState
from gradflow.methods._momentum import (
    HeavyBall,
    HeavyBallState,
    Nesterov,
    NesterovAGD,
    NesterovAGDState,
    NesterovState,
)
from gradflow.methods._runge_kutta import RungeKutta, RungeKuttaState
from gradflow.methods._sgd import SGD, SGDState
from gradflow.methods._tableau import ButcherTableau
from gradflow.methods._tableaux import (
    BS32,
    DOPRI54,
    EULER,
    HEUN,
    HEUN_EULER,
    MIDPOINT,
    RALSTON,
    RK4,
    SSPRK3,
    TABLEAUX,
)

__all__ = [
    "BS32",
    "DOPRI54",
    "EULER",
    "HEUN",
    "HEUN_EULER",
    "MIDPOINT",
    "RALSTON",
    "RK4",
    "SGD",
    "SSPRK3",
    "TABLEAUX",
    "AdaGrad",
    "AdaGradState",
    "Adam",
    "AdamState",
    "AdamW",
    "ButcherTableau",
    "Clipped",
    "Euler",
    "EulerState",
    "HeavyBall",
    "HeavyBallState",
    "ImplicitEuler",
    "ImplicitEulerState",
    "Lion",
    "LionState",
    "Method",
    "Nesterov",
    "NesterovAGD",
    "NesterovAGDState",
    "NesterovState",
    "RMSProp",
    "RMSPropState",
    "RungeKutta",
    "RungeKuttaState",
    "SGDState",
    "StepResult",
    "clip_gradient",
]
