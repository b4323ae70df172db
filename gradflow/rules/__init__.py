"""Optimisation-side adaptive step sizes (public name; see :mod:`gradflow.stepsize.rules`)."""

from gradflow.stepsize.rules import AdGD, Armijo, BarzilaiBorwein, LocalLipschitz, Polyak

__all__ = ["AdGD", "Armijo", "BarzilaiBorwein", "LocalLipschitz", "Polyak"]
