r"""Interval evaluation of sympy expressions over boxes: certified enclosures.

Each subexpression is evaluated to an interval ``[lo, hi]`` (numpy arrays, one entry per
sub-box) that contains every value it takes on the box, by the rules of interval
arithmetic (Moore 1966): sums add endpoints, products take the extreme of the four
endpoint products, monotone functions map endpoints, ``x**2`` and ``cos`` look for the
interior extrema.  After every operation the endpoints are moved outwards by
``OUTWARD_ULPS`` units in the last place, which covers the rounding of the float
operation itself, provided numpy's elementary functions are accurate to within that
many ulps (they are within 1–2 on every supported platform).  The enclosure is
therefore *sound*; it is *tight* only up to the dependency problem (a variable that
occurs twice is treated as two independent ones), which shrinks linearly with the
size of the box — hence the subdivision in :func:`gradflow.curvature.lipschitz`.

Supported: numbers and symbolic constants, symbols, ``+``, ``*``, integer and real
powers, ``exp``, ``log``, ``sqrt``, ``sin``, ``cos``, ``tan`` (on intervals free of
poles), ``tanh``, ``sinh``, ``cosh``, ``atan``, ``Abs``.  Anything else raises
``NotImplementedError``.  sympy is imported only when an expression is evaluated.

References
----------
R. E. Moore, *Interval Analysis*, Prentice-Hall, 1966.
R. E. Moore, R. B. Kearfott and M. J. Cloud, *Introduction to Interval Analysis*, SIAM,
2009, §5-§6.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["enclose"]

#: Endpoints are widened by this many ulps after every operation (rounding of the
#: operation plus the error of numpy's elementary functions).
OUTWARD_ULPS = 4.0
_EPS = float(np.finfo(np.float64).eps)
_TINY = float(np.finfo(np.float64).tiny)

Interval = tuple[np.ndarray, np.ndarray]


def _out(lo: np.ndarray, hi: np.ndarray) -> Interval:
    """Widen outwards by OUTWARD_ULPS relative ulps (and the smallest normal number)."""
    with np.errstate(all="ignore"):
        lo = lo - (np.abs(lo) * (OUTWARD_ULPS * _EPS) + _TINY)
        hi = hi + (np.abs(hi) * (OUTWARD_ULPS * _EPS) + _TINY)
    # inf - inf and 0 * inf give NaN: an undefined endpoint means "unbounded".
    return np.where(np.isnan(lo), -np.inf, lo), np.where(np.isnan(hi), np.inf, hi)


def _add(a: Interval, b: Interval) -> Interval:
    return _out(a[0] + b[0], a[1] + b[1])


def _mul(a: Interval, b: Interval) -> Interval:
    with np.errstate(all="ignore"):
        p = np.stack([a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1]])
    # 0 · ∞ is NaN: the product of a zero endpoint with an unbounded factor is not
    # determined by the endpoints, so such a product is unbounded.
    bad = np.isnan(p).any(axis=0)
    p = np.where(np.isnan(p), 0.0, p)
    return _out(np.where(bad, -np.inf, p.min(axis=0)), np.where(bad, np.inf, p.max(axis=0)))


def _reciprocal(a: Interval) -> Interval:
    lo, hi = a
    has_zero = (lo <= 0) & (hi >= 0)
    with np.errstate(all="ignore"):
        r_lo, r_hi = 1.0 / hi, 1.0 / lo
    return _out(np.where(has_zero, -np.inf, r_lo), np.where(has_zero, np.inf, r_hi))


def _int_power(a: Interval, n: int) -> Interval:
    if n == 0:
        return np.ones_like(a[0]), np.ones_like(a[0])
    if n < 0:
        return _reciprocal(_int_power(a, -n))
    lo, hi = a
    with np.errstate(all="ignore"):
        plo, phi = lo**n, hi**n
    if n % 2 == 1:
        return _out(plo, phi)
    # Even power: minimum 0 when the interval contains 0.
    low = np.where((lo <= 0) & (hi >= 0), 0.0, np.minimum(plo, phi))
    return _out(low, np.maximum(plo, phi))


def _real_power(a: Interval, p: float) -> Interval:
    """``x**p`` for non-integer ``p``: real only for ``x >= 0`` (``x > 0`` when ``p < 0``).

    A box reaching ``x < 0`` makes the expression complex there, so no real bound
    follows: the result is unbounded.
    """
    lo, hi = a
    if p < 0:
        return _reciprocal(_real_power(a, -p))
    neg = lo < 0
    with np.errstate(all="ignore"):
        plo, phi = np.maximum(lo, 0.0) ** p, hi**p
    return _out(np.where(neg, -np.inf, plo), np.where(neg, np.inf, phi))


def _monotone(fn: Any, a: Interval, increasing: bool = True) -> Interval:
    with np.errstate(all="ignore"):
        flo, fhi = fn(a[0]), fn(a[1])
    return _out(flo, fhi) if increasing else _out(fhi, flo)


def _log(a: Interval) -> Interval:
    lo, hi = a
    with np.errstate(all="ignore"):
        out_lo = np.where(lo > 0, np.log(np.where(lo > 0, lo, 1.0)), -np.inf)
        out_hi = np.where(hi > 0, np.log(np.where(hi > 0, hi, 1.0)), -np.inf)
    undefined = hi <= 0
    return _out(np.where(undefined, -np.inf, out_lo), np.where(undefined, np.inf, out_hi))


def _contains(lo: np.ndarray, hi: np.ndarray, offset: float, period: float) -> np.ndarray:
    """Whether ``[lo, hi]`` contains a point ``offset + j·period`` (integer ``j``)."""
    with np.errstate(all="ignore"):
        j = np.ceil((lo - offset) / period)
        return offset + j * period <= hi


def _cos(a: Interval) -> Interval:
    lo, hi = a
    with np.errstate(all="ignore"):
        clo, chi = np.cos(lo), np.cos(hi)
        wide = ~(hi - lo < 2 * math.pi) | ~np.isfinite(lo) | ~np.isfinite(hi)
    out_lo = np.minimum(clo, chi)
    out_hi = np.maximum(clo, chi)
    out_hi = np.where(_contains(lo, hi, 0.0, 2 * math.pi) | wide, 1.0, out_hi)
    out_lo = np.where(_contains(lo, hi, math.pi, 2 * math.pi) | wide, -1.0, out_lo)
    lo_, hi_ = _out(out_lo, out_hi)
    return np.maximum(lo_, -1.0), np.minimum(hi_, 1.0)


def _sin(a: Interval) -> Interval:
    # sin(x) = cos(x - π/2); the shift's rounding is covered by widening first.
    return _cos(_out(a[0] - math.pi / 2, a[1] - math.pi / 2))


def _tan(a: Interval) -> Interval:
    lo, hi = a
    pole = _contains(lo, hi, math.pi / 2, math.pi) | ~(hi - lo < math.pi)
    t_lo, t_hi = _monotone(np.tan, a)
    return np.where(pole, -np.inf, t_lo), np.where(pole, np.inf, t_hi)


def _cosh(a: Interval) -> Interval:
    lo, hi = a
    with np.errstate(all="ignore"):
        clo, chi = np.cosh(lo), np.cosh(hi)
    low = np.where((lo <= 0) & (hi >= 0), 1.0, np.minimum(clo, chi))
    return _out(low, np.maximum(clo, chi))


def _abs(a: Interval) -> Interval:
    lo, hi = a
    alo, ahi = np.abs(lo), np.abs(hi)
    low = np.where((lo <= 0) & (hi >= 0), 0.0, np.minimum(alo, ahi))
    return low, np.maximum(alo, ahi)


def enclose(
    exprs: Sequence[Any], symbols: Sequence[Any], lower: np.ndarray, upper: np.ndarray
) -> list[Interval]:
    """Interval enclosures of sympy expressions over boxes.

    Parameters
    ----------
    exprs : sequence of sympy.Expr
        The expressions (common subexpressions are evaluated once).
    symbols : sequence of sympy.Symbol
        The variables, matching the last axis of ``lower`` and ``upper``.
    lower, upper : ndarray, shape (n_boxes, d)
        Corners of the boxes.

    Returns
    -------
    list of (lo, hi)
        Per expression, arrays of shape ``(n_boxes,)`` with ``lo <= f(x) <= hi`` for
        every ``x`` in each box (``±inf`` where no finite bound follows, e.g. a division
        by an interval containing 0).

    Raises
    ------
    NotImplementedError
        If an expression uses a function without an interval rule here.
    """
    import sympy as sp

    evaluate = _Evaluator(symbols, lower, upper)
    return [evaluate(sp.sympify(e)) for e in exprs]


class _Evaluator:
    """Evaluates sympy expressions in interval arithmetic over ``n`` boxes, each distinct
    subexpression once (a cache keyed by the expression)."""

    def __init__(self, symbols: Sequence[Any], lower: np.ndarray, upper: np.ndarray) -> None:
        import sympy as sp

        self.n = lower.shape[0]
        self.cache: dict[Any, Interval] = {
            s: (lower[:, i].astype(float), upper[:, i].astype(float)) for i, s in enumerate(symbols)
        }
        self.unary = {
            sp.exp: lambda a: _monotone(np.exp, a),
            sp.log: _log,
            sp.sin: _sin,
            sp.cos: _cos,
            sp.tan: _tan,
            sp.tanh: lambda a: _monotone(np.tanh, a),
            sp.sinh: lambda a: _monotone(np.sinh, a),
            sp.cosh: _cosh,
            sp.atan: lambda a: _monotone(np.arctan, a),
            sp.Abs: _abs,
        }

    def __call__(self, e: Any) -> Interval:
        if e not in self.cache:
            self.cache[e] = self._evaluate(e)
        return self.cache[e]

    def _evaluate(self, e: Any) -> Interval:
        if e.is_Number or e.is_NumberSymbol:
            x = float(e)
            return _out(np.full(self.n, x), np.full(self.n, x))
        if e.is_Add:
            return functools.reduce(_add, (self(arg) for arg in e.args))
        if e.is_Mul:
            return functools.reduce(_mul, (self(arg) for arg in e.args))
        if e.is_Pow:
            return self._power(*e.args)
        if e.func in self.unary:
            return self.unary[e.func](self(e.args[0]))
        raise NotImplementedError(f"no interval rule for {e.func.__name__} in {e}")

    def _power(self, base: Any, expo: Any) -> Interval:
        if expo.is_Integer:
            return _int_power(self(base), int(expo))
        if expo.is_Number:
            return _real_power(self(base), float(expo))
        # b**e = exp(e log b)
        return _monotone(np.exp, _mul(self(expo), _log(self(base))))
