"""Figures with matplotlib, imported lazily: ``import gradflow.plot`` does not import it.

Each function draws on a given matplotlib ``Axes`` (or a new figure) and returns the axes.
For paper figures wrap them in ``with gradflow.plot.style():`` and write them with
:func:`save` (PDF and PNG).
"""

from gradflow.plot._convergence import convergence
from gradflow.plot._curves import loss_curves, stepsizes
from gradflow.plot._schedules import schedules
from gradflow.plot._sharpness import sharpness
from gradflow.plot._spectral import spectral_density
from gradflow.plot._stability import stability_region
from gradflow.plot._style import OKABE_ITO, save, series_style, style
from gradflow.plot._trajectories import trajectories
from gradflow.plot._work_precision import work_precision

__all__ = [
    "OKABE_ITO",
    "convergence",
    "loss_curves",
    "save",
    "schedules",
    "series_style",
    "sharpness",
    "spectral_density",
    "stability_region",
    "stepsizes",
    "style",
    "trajectories",
    "work_precision",
]
