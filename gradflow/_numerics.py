"""Numerical constants shared across the packages."""

from __future__ import annotations

__all__ = ["CENTRAL_DIFFERENCE_EXPONENT"]

#: Relative increment of the central-difference HVP is ``eps ** (1/3)``: it balances the
#: O(eps^2) truncation error against the O(eps_mach / eps) rounding error of a central
#: difference (Nocedal & Wright, *Numerical Optimization*, 2nd ed., section 8.1).
CENTRAL_DIFFERENCE_EXPONENT = 1.0 / 3.0
