"""Numerical constants shared across the packages."""

from __future__ import annotations

import numpy as np

__all__ = ["CENTRAL_DIFFERENCE_EXPONENT", "NonFiniteDerivative"]

#: Relative increment of the central-difference HVP is ``eps ** (1/3)``: it balances the
#: O(eps^2) truncation error against the O(eps_mach / eps) rounding error of a central
#: difference (Nocedal & Wright, *Numerical Optimization*, 2nd ed., section 8.1).
CENTRAL_DIFFERENCE_EXPONENT = 1.0 / 3.0


class NonFiniteDerivative(ArithmeticError):
    """The right-hand side turned NaN or infinite in some rows (a private signal).

    Raised from inside a scipy solver's step, so that the integration ends instead of
    shrinking a NaN step size forever; ``rows`` is a boolean mask over the rows of the
    stacked system that were integrated.
    """

    def __init__(self, rows: np.ndarray, t: float) -> None:
        super().__init__(f"non-finite derivative at t = {t:.6g}")
        self.rows = rows
        self.t = t
