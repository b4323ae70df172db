"""Integrators: each optimiser is a discretisation of a known ODE."""

from gradflow.methods.base import Method, StepResult
from gradflow.methods.euler import Euler, EulerState

__all__ = ["Euler", "EulerState", "Method", "StepResult"]
