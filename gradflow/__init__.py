"""gradflow: optimisers read as numerical integrators of gradient flows.

Gradient descent with step ``h`` is the explicit Euler method on the gradient flow
``dθ/dt = -∇L(θ)``.  The package gives the integrators, the problems, the driver
:func:`solve`, and scipy references to measure them against.
"""

from gradflow import analysis, methods, problems, reference, stability, stepsize
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
    "methods",
    "problems",
    "reference",
    "solve",
    "stability",
    "stepsize",
]
