"""Figures with matplotlib, imported lazily: ``import gradflow.plot`` does not import it.

Each function draws on a given matplotlib ``Axes`` (or a new figure) and returns the axes.
"""

from gradflow.plot.schedules import schedules

__all__ = ["schedules"]
