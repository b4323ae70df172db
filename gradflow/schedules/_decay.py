"""Monotone decays: constant, step, multistep, exponential, linear, polynomial, inverse time.

Each equals PyTorch's closed form for the same arguments (``last_epoch = k``) where PyTorch
has the schedule (``StepLR``, ``MultiStepLR``, ``ExponentialLR``, ``LinearLR``,
``PolynomialLR``), Keras' ``InverseTimeDecay`` for :func:`inverse_time` and
``PiecewiseConstantDecay`` for :func:`piecewise_constant`, and optax's
``exponential_decay`` for :func:`exponential` with ``end_lr``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from gradflow._validation import check_real
from gradflow.schedules._base import (
    Schedule,
    _count,
    _fmt,
    _int_power,
    _rows,
    _shape,
    _values,
)

__all__ = [
    "constant",
    "exponential",
    "inverse_time",
    "linear",
    "multistep",
    "piecewise_constant",
    "polynomial",
    "step_decay",
]

#: Default plot span of a decay that never settles: until the value has fallen to this
#: fraction of its start.
SPAN_FRACTION = 1e-3
#: Plot spans are kept within these bounds.
SPAN_MIN, SPAN_MAX = 10, 100_000


def _decay_span(gamma: np.ndarray, per: int) -> int:
    """Steps for ``γ^(k/per)`` to reach ``SPAN_FRACTION`` (clipped)."""
    g = float(np.max(gamma))
    if g >= 1.0:
        return 100
    n = per * math.ceil(math.log(SPAN_FRACTION) / math.log(g))
    return int(min(max(n, SPAN_MIN), SPAN_MAX))


class _Constant(Schedule):
    name = "constant"

    @classmethod
    def _example(cls) -> Schedule:
        return cls(0.1)

    def __init__(self, lr: ArrayLike) -> None:
        self.lr = _values(lr, "lr")
        self.shape = self.lr.shape
        self.horizon = 0

    def _evaluate(self, k: np.ndarray) -> np.ndarray:
        return self.lr

    def describe(self) -> str:
        return f"η(k) = lr = {_fmt(self.lr)}"


def constant(lr: ArrayLike) -> Schedule:
    """A constant step size ``η(k) = lr``.

    Parameters
    ----------
    lr : float or array_like
        Positive step size(s); an array sweeps them (see :class:`Schedule`).

    Returns
    -------
    Schedule

    Raises
    ------
    ValueError
        If ``lr`` is not finite and positive.

    Examples
    --------
    >>> from gradflow import schedules
    >>> schedules.constant(0.1)(7)
    0.1
    """
    return _Constant(lr)


class _StepDecay(Schedule):
    name = "step_decay"

    @classmethod
    def _example(cls) -> Schedule:
        return cls(0.1, 30, 0.1)

    def __init__(self, lr: ArrayLike, step_size: int, gamma: ArrayLike) -> None:
        self.lr = _values(lr, "lr")
        self.step_size = _count(step_size, "step_size", 1)
        self.gamma = _values(gamma, "gamma")
        self.shape = _shape(self.lr, self.gamma)
        self.span = _decay_span(self.gamma, self.step_size)

    def _evaluate(self, k: np.ndarray) -> np.ndarray:
        return self.lr * _int_power(self.gamma, k // self.step_size)

    def describe(self) -> str:
        return (
            f"η(k) = lr·γ^⌊k/s⌋ with lr = {_fmt(self.lr)}, γ = {_fmt(self.gamma)}, "
            f"s = {self.step_size} (PyTorch StepLR); never held"
        )


def step_decay(lr: ArrayLike, step_size: int, gamma: ArrayLike = 0.1) -> Schedule:
    """Step decay ``η(k) = lr·γ^⌊k/step_size⌋`` (PyTorch ``StepLR``).

    Parameters
    ----------
    lr : float or array_like
        Initial step size(s), ``> 0``.
    step_size : int
        Steps between decays, ``>= 1``.
    gamma : float or array_like, optional
        Factor per decay, ``> 0`` (default 0.1).

    Returns
    -------
    Schedule

    Raises
    ------
    ValueError
        If ``lr`` or ``gamma`` is not positive, or ``step_size`` is not a positive integer.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow import schedules
    >>> schedules.step_decay(1.0, 3, gamma=0.5)(np.arange(7))
    array([1.  , 1.  , 1.  , 0.5 , 0.5 , 0.5 , 0.25])
    """
    return _StepDecay(lr, step_size, gamma)


class _MultiStep(Schedule):
    name = "multistep"

    @classmethod
    def _example(cls) -> Schedule:
        return cls(0.1, [30, 80], 0.1)

    def __init__(self, lr: ArrayLike, milestones: Sequence[int], gamma: ArrayLike) -> None:
        self.lr = _values(lr, "lr")
        self.gamma = _values(gamma, "gamma")
        try:
            ms = [_count(m, "milestones entry", 0) for m in milestones]
        except TypeError:
            raise ValueError(
                f"milestones must be a sequence of integers, got {milestones!r}"
            ) from None
        if any(b < a for a, b in itertools.pairwise(ms)):
            raise ValueError(f"milestones must be sorted (non-decreasing), got {ms}")
        self.milestones = np.asarray(ms, dtype=np.int64)
        self.shape = _shape(self.lr, self.gamma)
        self.horizon = int(ms[-1]) if ms else 0
        self.span = max(SPAN_MIN, (5 * self.horizon) // 4 + 1)

    def _evaluate(self, k: np.ndarray) -> np.ndarray:
        # A repeated milestone counts twice, as in PyTorch (a Counter of milestones).
        passed = np.searchsorted(self.milestones, k, side="right")
        return self.lr * _int_power(self.gamma, passed)

    def describe(self) -> str:
        return (
            f"η(k) = lr·γ^(number of milestones <= k) with lr = {_fmt(self.lr)}, "
            f"γ = {_fmt(self.gamma)}, milestones = {self.milestones.tolist()} "
            f"(PyTorch MultiStepLR); {self._held()}"
        )

    def _arguments(self) -> dict[str, Any]:
        return {"lr": self.lr, "milestones": self.milestones.tolist(), "gamma": self.gamma}


def multistep(lr: ArrayLike, milestones: Sequence[int], gamma: ArrayLike = 0.1) -> Schedule:
    """Decay by ``gamma`` at each milestone (PyTorch ``MultiStepLR``).

    ``η(k) = lr·γ^m(k)`` with ``m(k)`` the number of milestones ``<= k``: the milestone
    step itself already uses the decayed value.  A milestone listed twice decays twice.

    Parameters
    ----------
    lr : float or array_like
        Initial step size(s), ``> 0``.
    milestones : sequence of int
        Non-decreasing step indices ``>= 0``.
    gamma : float or array_like, optional
        Factor per milestone, ``> 0`` (default 0.1).

    Returns
    -------
    Schedule
        Held at its final value from the last milestone on.

    Raises
    ------
    ValueError
        If ``lr`` or ``gamma`` is not positive, or ``milestones`` is not a sorted sequence
        of non-negative integers.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow import schedules
    >>> schedules.multistep(1.0, [2, 4], gamma=0.1)(np.arange(6))
    array([1.  , 1.  , 0.1 , 0.1 , 0.01, 0.01])
    """
    return _MultiStep(lr, milestones, gamma)


class _PiecewiseConstant(Schedule):
    name = "piecewise_constant"

    @classmethod
    def _example(cls) -> Schedule:
        return cls([30, 80], [0.1, 0.05, 0.01])

    def __init__(self, boundaries: Sequence[int], values: ArrayLike) -> None:
        if isinstance(boundaries, (int, np.integer)) or not isinstance(boundaries, Sequence):
            raise ValueError(f"boundaries must be a list of integers, got {boundaries!r}")
        bounds = [_count(b, "boundaries entry", 0) for b in boundaries]
        if any(b <= a for a, b in itertools.pairwise(bounds)):
            raise ValueError(f"boundaries must be strictly increasing, got {bounds}")
        table = _values(values, "values", positive=False)
        if table.ndim == 0 or table.shape[0] != len(bounds) + 1:
            got = "a scalar" if table.ndim == 0 else f"{table.shape[0]} entries"
            raise ValueError(
                f"values must have one entry more than boundaries ({len(bounds) + 1}), got {got}"
            )
        self.boundaries = bounds
        self.values = table
        self._bounds = np.asarray(bounds, dtype=np.int64)
        self.shape = table.shape[1:]
        self.horizon = bounds[-1] + 1 if bounds else 0
        self.span = max(SPAN_MIN, (5 * self.horizon) // 4 + 1)

    def _evaluate(self, k: np.ndarray) -> np.ndarray:
        # Boundaries strictly below k: value i on (b_{i-1}, b_i], Keras' convention.
        piece = np.searchsorted(self._bounds, k, side="left")
        return _rows(self.values, piece)

    def describe(self) -> str:
        return (
            f"η(k) = v_i for b_(i-1) < k <= b_i (v_0 for k <= b_0, the last value for "
            f"k > b_last) with boundaries b = {self.boundaries} and values v = "
            f"{_fmt(self.values)} (Keras PiecewiseConstantDecay: each boundary step still "
            f"uses the value before it); {self._held()}"
        )

    def _arguments(self) -> dict[str, Any]:
        return {"boundaries": self.boundaries, "values": self.values}


def piecewise_constant(boundaries: Sequence[int], values: ArrayLike) -> Schedule:
    """Piecewise-constant step sizes, Keras ``PiecewiseConstantDecay``'s convention.

    ``η(k) = v_0`` for ``k <= b_0``, ``v_i`` for ``b_(i-1) < k <= b_i``, and ``v_n``
    for ``k > b_(n-1)``: the boundary step itself still uses the value before it, so
    Keras switches one step later than optax's ``piecewise_constant_schedule`` and
    PyTorch's ``MultiStepLR`` (:func:`multistep`, where the milestone step already uses
    the new value).  ``k`` is Keras' ``optimizer.iterations`` (updates already made).
    Keras' example, ``boundaries = [100000, 110000]``, ``values = [1.0, 0.5, 0.1]``,
    uses 1.0 for the first 100001 steps and 0.5 for the next 10000.

    Parameters
    ----------
    boundaries : sequence of int
        ``n`` strictly increasing step indices ``>= 0``.
    values : array_like
        ``n + 1`` step sizes ``>= 0``; an array of shape ``(n + 1, *shape)`` sweeps
        ``shape`` sets of values (the schedule's ``shape``).

    Returns
    -------
    Schedule
        Held at ``v_n`` from ``b_(n-1) + 1`` on.

    Raises
    ------
    TypeError
        If a boundary is not an integer or a value not a real number.
    ValueError
        If ``boundaries`` is not strictly increasing, a value is negative, or
        ``values`` does not have one entry more than ``boundaries``.

    References
    ----------
    Keras, ``keras.optimizers.schedules.PiecewiseConstantDecay``.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow import schedules
    >>> schedules.piecewise_constant([2, 4], [1.0, 0.5, 0.1])(np.arange(7))
    array([1. , 1. , 1. , 0.5, 0.5, 0.1, 0.1])
    """
    return _PiecewiseConstant(boundaries, values)


#: :func:`exponential` with ``end_lr``: corrections of the logarithmic first guess of
#: the step where the clip starts (each one step; the guess is off by at most one).
HORIZON_FIXES = 4


class _Exponential(Schedule):
    name = "exponential"
    _quiet = {"end_lr": None}  # noqa: RUF012

    @classmethod
    def _example(cls) -> Schedule:
        return cls(0.1, 0.95, 0.01)

    def __init__(self, lr: ArrayLike, gamma: ArrayLike, end_lr: ArrayLike | None = None) -> None:
        self.lr = _values(lr, "lr")
        self.gamma = _values(gamma, "gamma")
        self.end_lr = None if end_lr is None else _values(end_lr, "end_lr")
        arrays = [self.lr, self.gamma] + ([] if self.end_lr is None else [self.end_lr])
        self.shape = _shape(*arrays)
        self.span = _decay_span(self.gamma, 1)
        self._stop: np.ndarray | None = None
        if self.end_lr is not None:
            self._stop = self._clip_start()
            self.horizon = int(np.max(self._stop))
            self.span = int(min(max(SPAN_MIN, (5 * self.horizon) // 4 + 1), SPAN_MAX))

    def _clip(self, value: np.ndarray) -> np.ndarray:
        # optax: a floor for a decay (γ < 1), a cap otherwise.
        return np.where(
            self.gamma < 1.0, np.maximum(value, self.end_lr), np.minimum(value, self.end_lr)
        )

    def _clip_start(self) -> np.ndarray:
        """First step index, per parameter entry, from which the clip holds the value."""
        lr, g, end = np.broadcast_arrays(self.lr, self.gamma, self.end_lr)
        with np.errstate(all="ignore"):
            guess = np.ceil(np.log(end / lr) / np.log(g))
        # γ = 1, or end on the far side of lr: clipped from the start.
        guess = np.where(np.isfinite(guess), guess, 0.0)
        n = np.clip(guess, 0, np.iinfo(np.int32).max).astype(np.int64)

        def clipped(m: np.ndarray) -> np.ndarray:
            with np.errstate(all="ignore"):
                v = lr * g ** m.astype(np.float64)
            return np.where(g < 1.0, v <= end, v >= end)

        for _ in range(HORIZON_FIXES):
            back = (n > 0) & clipped(n - 1)
            ahead = ~clipped(n)
            if not (back.any() or ahead.any()):
                break
            n = n - back + ahead
        return n

    def _evaluate(self, k: np.ndarray) -> np.ndarray:
        if self._stop is None:
            return self.lr * _int_power(self.gamma, k)
        # Indices clipped to each entry's clip start keep the held value exact.
        return self._clip(self.lr * _int_power(self.gamma, np.minimum(k, self._stop)))

    def describe(self) -> str:
        clip = ""
        if self.end_lr is not None:
            clip = (
                f", clipped at end_lr = {_fmt(self.end_lr)} (a floor where γ < 1, a cap "
                "where γ >= 1: optax exponential_decay's end_value)"
            )
        return (
            f"η(k) = lr·γ^k with lr = {_fmt(self.lr)}, γ = {_fmt(self.gamma)}{clip} "
            f"(PyTorch ExponentialLR); {self._held()}"
        )


def exponential(lr: ArrayLike, gamma: ArrayLike, end_lr: ArrayLike | None = None) -> Schedule:
    """Exponential decay ``η(k) = lr·γ^k`` (PyTorch ``ExponentialLR``), optionally clipped.

    With ``end_lr`` the value stops at ``end_lr``, optax's ``exponential_decay``
    ``end_value``: ``max(lr·γ^k, end_lr)`` for a decay (``γ < 1``), and
    ``min(lr·γ^k, end_lr)`` for ``γ >= 1``, so a growing schedule (``γ > 1``, a
    learning-rate range test's ramp) stops at the cap ``end_lr``.  An ``end_lr`` on the
    far side of ``lr`` (above it for a decay, below it for growth) gives ``end_lr`` from
    step 0, as in optax.  Held from the first clipped step on (``horizon``); never held
    without ``end_lr``.

    Parameters
    ----------
    lr : float or array_like
        Initial step size(s), ``> 0``.
    gamma : float or array_like
        Factor per step, ``> 0`` (optax's ``decay_rate`` with ``transition_steps = 1``).
    end_lr : float or array_like, optional
        ``> 0``: the floor (``γ < 1``) or cap (``γ >= 1``); default none.

    Returns
    -------
    Schedule

    Raises
    ------
    ValueError
        If ``lr``, ``gamma`` or ``end_lr`` is not positive.

    References
    ----------
    PyTorch, ``torch.optim.lr_scheduler.ExponentialLR``.
    optax, ``optax.schedules.exponential_decay`` (``end_value``).

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow import schedules
    >>> schedules.exponential(1.0, 0.5)(3)
    0.125
    >>> schedules.exponential(1.0, 0.5, end_lr=0.2)(np.arange(5))
    array([1.  , 0.5 , 0.25, 0.2 , 0.2 ])
    >>> schedules.exponential(0.1, 2.0, end_lr=0.5)(np.arange(5))   # growth, capped
    array([0.1, 0.2, 0.4, 0.5, 0.5])
    """
    return _Exponential(lr, gamma, end_lr)


class _Linear(Schedule):
    name = "linear"

    @classmethod
    def _example(cls) -> Schedule:
        return cls(0.1, 1.0 / 3.0, 1.0, 20)

    def __init__(
        self, lr: ArrayLike, start_factor: ArrayLike, end_factor: ArrayLike, total_steps: int
    ) -> None:
        self.lr = _values(lr, "lr")
        # PyTorch's LinearLR ranges: 0 < s <= 1 (a zero start is a zero first step:
        # warm up from 0 with linear_warmup) and 0 <= e <= 1.
        self.start_factor = check_real(
            start_factor, "start_factor", low=0.0, high=1.0, low_open=True, allow_array=True
        )
        self.end_factor = check_real(end_factor, "end_factor", low=0.0, high=1.0, allow_array=True)
        self.total_steps = _count(total_steps, "total_steps", 1)
        self.shape = _shape(self.lr, self.start_factor, self.end_factor)
        self.horizon = self.total_steps
        self.span = max(SPAN_MIN, (11 * self.total_steps) // 10 + 1)

    def _evaluate(self, k: np.ndarray) -> np.ndarray:
        s, e, n = self.start_factor, self.end_factor, self.total_steps
        # The fraction first: at k >= T it is exactly 1 and the factor exactly e.
        # (PyTorch's order, (e - s)·k/T, can end at -1e-16 instead of e = 0.)
        return self.lr * (s + (e - s) * (np.minimum(k, n) / n))

    def describe(self) -> str:
        return (
            f"η(k) = lr·(s + (e - s)·min(k, T)/T) with lr = {_fmt(self.lr)}, "
            f"s = {_fmt(self.start_factor)}, e = {_fmt(self.end_factor)}, T = {self.total_steps} "
            f"(PyTorch LinearLR); {self._held()}"
        )


def linear(
    lr: ArrayLike,
    start_factor: ArrayLike = 1.0 / 3.0,
    end_factor: ArrayLike = 1.0,
    total_steps: int = 5,
) -> Schedule:
    """Linear ramp of the factor from ``start_factor`` to ``end_factor`` (PyTorch ``LinearLR``).

    ``η(k) = lr·(s + (e - s)·min(k, T)/T)``: ``lr·s`` at ``k = 0``, ``lr·e`` from ``k = T`` on.

    Parameters
    ----------
    lr : float or array_like
        Base step size(s), ``> 0``.
    start_factor, end_factor : float or array_like, optional
        Multipliers of ``lr`` at ``k = 0`` and ``k >= T``: ``0 < s <= 1`` and
        ``0 <= e <= 1``, PyTorch's ranges and defaults (1/3 and 1).  A ramp above ``lr``
        is a larger ``lr`` with smaller factors; a warmup from zero is
        :func:`linear_warmup`.
    total_steps : int, optional
        ``T >= 1`` (default 5).

    Returns
    -------
    Schedule

    Raises
    ------
    TypeError
        If a value is not a real number (or an array of them), or ``total_steps`` is not
        an integer.
    ValueError
        If ``lr`` is not positive, ``start_factor`` is not in ``(0, 1]``, ``end_factor``
        is not in ``[0, 1]``, or ``total_steps < 1``.

    References
    ----------
    PyTorch, ``torch.optim.lr_scheduler.LinearLR``.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow import schedules
    >>> schedules.linear(0.3, start_factor=1 / 3, total_steps=2)(np.arange(4))
    array([0.1, 0.2, 0.3, 0.3])
    """
    return _Linear(lr, start_factor, end_factor, total_steps)


class _Polynomial(Schedule):
    name = "polynomial"

    @classmethod
    def _example(cls) -> Schedule:
        return cls(0.1, 100, 2.0, 0.0)

    def __init__(
        self, lr: ArrayLike, total_steps: int, power: ArrayLike, end_lr: ArrayLike
    ) -> None:
        self.lr = _values(lr, "lr")
        self.total_steps = _count(total_steps, "total_steps", 1)
        self.power = _values(power, "power")
        self.end_lr = _values(end_lr, "end_lr", positive=False)
        self.shape = _shape(self.lr, self.power, self.end_lr)
        self.horizon = self.total_steps
        self.span = max(SPAN_MIN, (11 * self.total_steps) // 10 + 1)

    def _evaluate(self, k: np.ndarray) -> np.ndarray:
        n = self.total_steps
        return (self.lr - self.end_lr) * (1.0 - np.minimum(k, n) / n) ** self.power + self.end_lr

    def describe(self) -> str:
        return (
            f"η(k) = (lr - end_lr)·(1 - min(k, T)/T)^p + end_lr with lr = {_fmt(self.lr)}, "
            f"end_lr = {_fmt(self.end_lr)}, p = {_fmt(self.power)}, T = {self.total_steps} "
            f"(PyTorch PolynomialLR when end_lr = 0); {self._held()}"
        )


def polynomial(
    lr: ArrayLike, total_steps: int, power: ArrayLike = 1.0, end_lr: ArrayLike = 0.0
) -> Schedule:
    """Polynomial decay to ``end_lr`` over ``total_steps`` steps.

    ``η(k) = (lr - end_lr)·(1 - min(k, T)/T)^p + end_lr``: PyTorch ``PolynomialLR`` when
    ``end_lr = 0``, optax ``polynomial_schedule`` otherwise.  It reaches ``end_lr`` at
    ``k = T`` exactly (0 by default: pass ``end_lr > 0`` to use it with
    :func:`gradflow.solve`, which refuses a zero step).

    Parameters
    ----------
    lr : float or array_like
        Initial step size(s), ``> 0``.
    total_steps : int
        ``T >= 1``.
    power : float or array_like, optional
        ``p > 0`` (default 1: linear decay).
    end_lr : float or array_like, optional
        Final step size, ``>= 0`` (default 0).

    Returns
    -------
    Schedule

    Raises
    ------
    ValueError
        If ``lr`` or ``power`` is not positive, ``end_lr`` is negative, or
        ``total_steps < 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow import schedules
    >>> schedules.polynomial(1.0, 4, power=2.0)(np.arange(6))
    array([1.    , 0.5625, 0.25  , 0.0625, 0.    , 0.    ])
    """
    return _Polynomial(lr, total_steps, power, end_lr)


class _InverseTime(Schedule):
    name = "inverse_time"

    @classmethod
    def _example(cls) -> Schedule:
        return cls(0.1, 0.5, 10, False)

    def __init__(self, lr: ArrayLike, rate: ArrayLike, decay_steps: int, staircase: bool) -> None:
        self.lr = _values(lr, "lr")
        self.rate = _values(rate, "rate")
        self.decay_steps = _count(decay_steps, "decay_steps", 1)
        if not isinstance(staircase, (bool, np.bool_)):
            raise ValueError(f"staircase must be a bool, got {staircase!r}")
        self.staircase = bool(staircase)
        self.shape = _shape(self.lr, self.rate)
        # Down to about 1 % of the start.
        n = self.decay_steps * math.ceil(99.0 / float(np.min(self.rate)))
        self.span = int(min(max(n, SPAN_MIN), SPAN_MAX))

    def _evaluate(self, k: np.ndarray) -> np.ndarray:
        if self.staircase:
            return self.lr / (1.0 + self.rate * (k // self.decay_steps))
        return self.lr / (1.0 + self.rate * k / self.decay_steps)

    def describe(self) -> str:
        frac = "⌊k/D⌋" if self.staircase else "k/D"
        return (
            f"η(k) = lr/(1 + r·{frac}) with lr = {_fmt(self.lr)}, r = {_fmt(self.rate)}, "
            f"D = {self.decay_steps} (Keras InverseTimeDecay); never held"
        )


def inverse_time(
    lr: ArrayLike, rate: ArrayLike, decay_steps: int, staircase: bool = False
) -> Schedule:
    """Inverse-time decay ``η(k) = lr/(1 + r·k/D)`` (Keras ``InverseTimeDecay``).

    With ``rate = decay_steps = 1`` this is the perceptron / Robbins–Monro decay
    ``η(k) = lr/(k + 1)`` (``1/n`` with the steps counted from ``n = 1``), whose sum
    diverges and sum of squares converges.  ``staircase=True`` uses ``⌊k/D⌋``.

    Parameters
    ----------
    lr : float or array_like
        Initial step size(s), ``> 0``.
    rate : float or array_like
        ``r > 0``.
    decay_steps : int
        ``D >= 1``.
    staircase : bool, optional
        Decay in stages of ``D`` steps.

    Returns
    -------
    Schedule

    Raises
    ------
    ValueError
        If ``lr`` or ``rate`` is not positive or ``decay_steps < 1``.

    References
    ----------
    H. Robbins and S. Monro, "A stochastic approximation method", Ann. Math. Statist. 22,
    400–407, 1951.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow import schedules
    >>> schedules.inverse_time(1.0, rate=1.0, decay_steps=1)(np.arange(4))
    array([1.        , 0.5       , 0.33333333, 0.25      ])
    """
    return _InverseTime(lr, rate, decay_steps, staircase)
