"""Analysis of runs: convergence orders (and, later, stability and modified equations)."""

from gradflow.analysis.convergence import fit_order

__all__ = ["fit_order"]
