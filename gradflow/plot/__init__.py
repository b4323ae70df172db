"""Figures with matplotlib, imported lazily: ``import gradflow.plot`` does not import it.

Each function draws on a given matplotlib ``Axes`` (or a new figure) and returns the axes.
For paper figures wrap them in ``with gradflow.plot.style():`` and write them with
:func:`save` (PDF and PNG).
"""

from gradflow.plot.convergence import convergence
from gradflow.plot.curves import loss_curves, stepsizes
from gradflow.plot.schedules import schedules
from gradflow.plot.sharpness import sharpness
from gradflow.plot.spectral import spectral_density
from gradflow.plot.stability import stability_region
from gradflow.plot.style import OKABE_ITO, save, style
from gradflow.plot.trajectories import trajectories
from gradflow.plot.work_precision import work_precision

__all__ = [
    "OKABE_ITO",
    "convergence",
    "loss_curves",
    "save",
    "schedules",
    "sharpness",
    "spectral_density",
    "stability_region",
    "stepsizes",
    "style",
    "trajectories",
    "work_precision",
]
