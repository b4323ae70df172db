"""Schedules from callables and products of schedules (PyTorch's LambdaLR, MultiplicativeLR
and ChainedScheduler).

A factor function ``f(k)`` of the step index is any Python callable returning a
non-negative number; it is called once per distinct step index asked for (so a run of
``n`` steps calls it about ``n`` times, in blocks).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from gradflow._validation import check_callable
from gradflow.schedules._base import Schedule, _fmt, _Raw, _shape, _values
from gradflow.schedules._combinators import _check_schedule, _example_base

__all__ = ["lambda_factor", "multiplicative", "product"]


def _factors(fn: Callable[[int], Any], k: np.ndarray, name: str) -> np.ndarray:
    """``fn`` at every distinct entry of ``k`` (a float64 array of ``k``'s shape)."""
    unique, inverse = np.unique(k, return_inverse=True)
    values = np.array([float(fn(int(i))) for i in unique], dtype=np.float64)
    if not (np.all(np.isfinite(values)) and np.all(values >= 0)):
        raise ValueError(f"{name} must return finite numbers >= 0")
    return values[inverse].reshape(k.shape)


class _LambdaFactor(Schedule):
    name = "lambda_factor"
    span = 100

    @classmethod
    def _example(cls) -> Schedule:
        return cls(0.1, lambda k: 0.97**k)

    def __init__(self, lr: ArrayLike, factor: Callable[[int], Any]) -> None:
        self.lr = _values(lr, "lr")
        self.factor = check_callable(factor, "factor")
        self.shape = self.lr.shape

    def _evaluate(self, k: np.ndarray) -> np.ndarray:
        return self.lr * _factors(self.factor, k, "factor")

    def describe(self) -> str:
        return f"η(k) = lr·f(k) with lr = {_fmt(self.lr)} and f = {self.factor!r}; never held"

    def _arguments(self) -> dict[str, Any]:
        return {"lr": self.lr, "factor": _Raw(getattr(self.factor, "__name__", "f"))}


class _Multiplicative(Schedule):
    name = "multiplicative"
    span = 100

    @classmethod
    def _example(cls) -> Schedule:
        return cls(0.1, lambda k: 0.95)

    def __init__(self, lr: ArrayLike, factor: Callable[[int], Any]) -> None:
        self.lr = _values(lr, "lr")
        self.factor = check_callable(factor, "factor")
        self.shape = self.lr.shape
        # Running products lr·f(1)·…·f(i), multiplied in PyTorch's order (a memo of a
        # pure function, grown on demand).
        self._table = self.lr.reshape(1, *self.shape).copy()

    def _grow(self, k_max: int) -> None:
        n = self._table.shape[0]
        if k_max < n:
            return
        f = _factors(self.factor, np.arange(n, k_max + 1), "factor")
        rows = [self._table[-1]]
        for value in f:
            rows.append(rows[-1] * value)
        self._table = np.concatenate([self._table, np.stack(rows[1:])])

    def _evaluate(self, k: np.ndarray) -> np.ndarray:
        if k.size:
            self._grow(int(k.max()))
        # Row k of the table, parameter entry by entry: the index arrays broadcast to
        # broadcast(k.shape, shape), as every schedule's values do.
        grids = np.indices(self.shape, sparse=True) if self.shape else ()
        return self._table[(k, *grids)]

    def describe(self) -> str:
        return (
            f"η(k) = lr·∏_(i=1..k) f(i) with lr = {_fmt(self.lr)} and f = {self.factor!r}; "
            "never held"
        )

    def _arguments(self) -> dict[str, Any]:
        return {"lr": self.lr, "factor": _Raw(getattr(self.factor, "__name__", "f"))}


class _Product(Schedule):
    name = "product"

    @classmethod
    def _example(cls) -> Schedule:
        from gradflow.schedules._decay import exponential

        return cls([_example_base(), exponential(1.0, 0.99)])

    def __init__(self, schedules: Any) -> None:
        items = list(schedules)
        if len(items) < 2:
            raise ValueError(f"schedules must hold at least two schedules, got {len(items)}")
        self.schedules = [_check_schedule(s, f"schedules[{i}]") for i, s in enumerate(items)]
        self.shape = _shape(*(np.empty(s.shape) for s in self.schedules))
        horizons = [s.horizon for s in self.schedules]
        self.horizon = None if None in horizons else max(horizons)
        self.span = max(s.span for s in self.schedules)

    def _evaluate(self, k: np.ndarray) -> np.ndarray:
        out = self.schedules[0]._evaluate(k)
        for s in self.schedules[1:]:
            out = out * s._evaluate(k)
        return out

    def describe(self) -> str:
        parts = "; ".join(s.describe() for s in self.schedules)
        return f"η(k) = ∏ s_i(k) over: {parts}"

    def _arguments(self) -> dict[str, Any]:
        return {"schedules": _Raw("[" + ", ".join(repr(s) for s in self.schedules) + "]")}


def lambda_factor(lr: ArrayLike, factor: Callable[[int], Any]) -> Schedule:
    """``η(k) = lr·f(k)`` for any factor function ``f`` (PyTorch ``LambdaLR``).

    Parameters
    ----------
    lr : float or array_like
        Base step size(s), ``> 0``.
    factor : callable
        ``f(k) -> float``, ``>= 0``, for the step index ``k``.

    Returns
    -------
    Schedule

    Raises
    ------
    TypeError
        If ``factor`` is not callable or ``lr`` not a number.
    ValueError
        If ``lr`` is not positive, or (when evaluated) ``f`` returns a negative or
        non-finite value.

    References
    ----------
    PyTorch, ``torch.optim.lr_scheduler.LambdaLR``.

    Examples
    --------
    >>> from gradflow import schedules
    >>> s = schedules.lambda_factor(0.1, lambda k: 1.0 / (1 + k))
    >>> [round(s(k), 6) for k in range(4)]
    [0.1, 0.05, 0.033333, 0.025]
    """
    return _LambdaFactor(lr, factor)


def multiplicative(lr: ArrayLike, factor: Callable[[int], Any]) -> Schedule:
    """``η(0) = lr``, ``η(k) = η(k-1)·f(k)`` (PyTorch ``MultiplicativeLR``).

    The running product is formed in PyTorch's order, so values equal its scheduler's
    bit for bit.

    Parameters
    ----------
    lr : float or array_like
        Initial step size(s), ``> 0``.
    factor : callable
        ``f(k) -> float``, ``>= 0``, applied at step ``k >= 1``.

    Returns
    -------
    Schedule

    Raises
    ------
    TypeError
        If ``factor`` is not callable or ``lr`` not a number.
    ValueError
        If ``lr`` is not positive, or ``f`` returns a negative or non-finite value.

    References
    ----------
    PyTorch, ``torch.optim.lr_scheduler.MultiplicativeLR``.

    Examples
    --------
    >>> from gradflow import schedules
    >>> s = schedules.multiplicative(1.0, lambda k: 0.5 if k % 2 else 1.0)
    >>> [s(k) for k in range(5)]
    [1.0, 0.5, 0.5, 0.25, 0.25]
    """
    return _Multiplicative(lr, factor)


def product(*schedules: Schedule) -> Schedule:
    """``η(k) = s_1(k)·s_2(k)·…``: the product of schedules (PyTorch ``ChainedScheduler``).

    PyTorch's ``ChainedScheduler`` applies every scheduler's factor to one learning
    rate; for schedules with closed forms that is the product of their factors times
    the base step: give one schedule the base step and the others a start of 1.  Also
    written ``s1 * s2``.

    Parameters
    ----------
    *schedules : Schedule
        At least two.

    Returns
    -------
    Schedule

    Raises
    ------
    TypeError
        If an argument is not a gradflow schedule.
    ValueError
        If fewer than two are given or their parameter shapes do not broadcast.

    References
    ----------
    PyTorch, ``torch.optim.lr_scheduler.ChainedScheduler``.

    Examples
    --------
    >>> from gradflow import schedules
    >>> s = schedules.step_decay(0.1, 3, 0.5) * schedules.exponential(1.0, 0.9)
    >>> [round(s(k), 6) for k in range(5)]
    [0.1, 0.09, 0.081, 0.03645, 0.032805]
    """
    return _Product(schedules)
