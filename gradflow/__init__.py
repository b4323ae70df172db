"""gradflow: optimisers read as numerical integrators of gradient flows.

Gradient descent with step ``h`` is the explicit Euler method on the gradient flow
``dθ/dt = -∇L(θ)``.  The package gives the integrators, the problems, the driver
:func:`solve` (and :func:`sweep`, the same on Dask), and scipy references to measure
them against; :func:`load` reads a saved :class:`Trajectory`.
"""

from gradflow import (
    analysis,
    controllers,
    curvature,
    methods,
    modified,
    plot,
    problems,
    reference,
    richardson,
    rules,
    schedules,
    stability,
    stepsize,
)
from gradflow._export import load
from gradflow._solve import StepInfo, solve
from gradflow._sweep import sweep
from gradflow._trajectory import Status, Trajectory
from gradflow._version import __version__
from gradflow.problems import Problem
from gradflow.stability import Diagnosis, diagnose
from gradflow.stepsize import lr_find

__all__ = [
    "Diagnosis",
    "Problem",
    "Status",
    "StepInfo",
    "Trajectory",
    "__version__",
    "analysis",
    "controllers",
    "curvature",
    "diagnose",
    "load",
    "lr_find",
    "methods",
    "modified",
    "plot",
    "problems",
    "reference",
    "richardson",
    "rules",
    "schedules",
    "solve",
    "stability",
    "stepsize",
    "sweep",
]
