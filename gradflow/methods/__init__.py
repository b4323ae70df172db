"""Integrators: each optimiser is a discretisation of a known ODE."""

from gradflow.methods.base import Method, StepResult
from gradflow.methods.euler import Euler, EulerState
from gradflow.methods.implicit import ImplicitEuler, ImplicitEulerState
from gradflow.methods.momentum import (
    HeavyBall,
    HeavyBallState,
    Nesterov,
    NesterovAGD,
    NesterovAGDState,
    NesterovState,
)
from gradflow.methods.runge_kutta import RungeKutta, RungeKuttaState
from gradflow.methods.tableau import ButcherTableau
from gradflow.methods.tableaux import (
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
    "SSPRK3",
    "TABLEAUX",
    "ButcherTableau",
    "Euler",
    "EulerState",
    "HeavyBall",
    "HeavyBallState",
    "ImplicitEuler",
    "ImplicitEulerState",
    "Method",
    "Nesterov",
    "NesterovAGD",
    "NesterovAGDState",
    "NesterovState",
    "RungeKutta",
    "RungeKuttaState",
    "StepResult",
]
