"""gradflow: optimisers read as numerical integrators of gradient flows.

Gradient descent with step ``h`` is the explicit Euler method on the gradient flow
``dθ/dt = -∇L(θ)``.  The package gives the integrators, the problems, the driver
:func:`solve`, and scipy references to measure them against.
"""

from gradflow import analysis, controllers, methods, problems, reference, rules, stability, stepsize
from gradflow._version import __version__
from gradflow.problems import Problem
from gradflow.solve import StepInfo, solve
from gradflow.trajectory import Status, Trajectory

__all__ = [
    "Problem",
    "Status",
    "StepInfo",
    "Trajectory",
    "__version__",
    "analysis",
    "controllers",
    "methods",
    "problems",
    "reference",
    "rules",
    "solve",
    "stability",
    "stepsize",
]
