"""Numerical constants shared across the packages."""

from __future__ import annotations

import numpy as np

__all__ = ["CENTRAL_DIFFERENCE_EXPONENT", "MAX_NON_FINITE_PER_STEP", "NonFiniteDerivative"]

#: Relative increment of the central-difference HVP is ``eps ** (1/3)``: it balances the
#: O(eps^2) truncation error against the O(eps_mach / eps) rounding error of a central
#: difference (Nocedal & Wright, *Numerical Optimization*, 2nd ed., section 8.1).
CENTRAL_DIFFERENCE_EXPONENT = 1.0 / 3.0

#: Non-finite derivatives scipy may meet inside one step (its rejected trial stages)
#: before the rows involved are declared failed.  An explicit method divides its step
#: by 5 per rejection and gives up below the spacing of the floats after ~25 of them;
#: the limit only ends loops that would not end otherwise (a NaN step size).
MAX_NON_FINITE_PER_STEP = 1000


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
