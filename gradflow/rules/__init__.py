"""Optimisation-side adaptive step sizes: line search, Polyak, Barzilai–Borwein, AdGD,
local Lipschitz estimates, and reduce-on-plateau."""

from gradflow.rules._plateau import ReduceOnPlateau
from gradflow.rules._rules import AdGD, Armijo, BarzilaiBorwein, LocalLipschitz, Polyak

__all__ = ["AdGD", "Armijo", "BarzilaiBorwein", "LocalLipschitz", "Polyak", "ReduceOnPlateau"]
