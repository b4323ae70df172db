"""Schedules built from schedules: a linear warmup in front, a sequence, a scaling.

Composition follows optax's ``join_schedules`` and PyTorch's ``SequentialLR``: a schedule
that starts at step ``b`` is evaluated at ``k - b``, so each piece sees its own count
from 0, and the boundary step ``b`` itself belongs to the new piece.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from gradflow.schedules._base import Schedule, _count, _fmt, _Raw, _shape, _values

__all__ = ["linear_warmup", "scale", "sequence"]


def _example_base(lr: float = 0.1) -> Schedule:
    """A plain schedule for the combinators' examples."""
    from gradflow.schedules._cosine import cosine

    return cosine(lr, 100)


def _check_schedule(value: Any, name: str) -> Schedule:
    if not isinstance(value, Schedule):
        raise TypeError(
            f"{name} must be a gradflow schedule (from gradflow.schedules), "
            f"got {type(value).__name__}"
        )
    return value


class _LinearWarmup(Schedule):
    name = "linear_warmup"

    @classmethod
    def _example(cls) -> Schedule:
        return cls(_example_base(), 10, 0.0)

    def __init__(self, schedule: Schedule, warmup_steps: int, start_lr: ArrayLike) -> None:
        self.schedule = _check_schedule(schedule, "schedule")
        self.warmup_steps = _count(warmup_steps, "warmup_steps", 0)
        self.start_lr = _values(start_lr, "start_lr", positive=False)
        self.shape = _shape(self.start_lr, np.empty(schedule.shape))
        W = self.warmup_steps
        self.horizon = None if schedule.horizon is None else W + schedule.horizon
        self.span = W + schedule.span

    def _evaluate(self, k: np.ndarray) -> np.ndarray:
        W = self.warmup_steps
        after = self.schedule._evaluate(np.maximum(k - W, 0))
        if W == 0:
            return after
        peak = np.asarray(self.schedule._evaluate(np.zeros((), dtype=np.int64)))
        # optax's linear_schedule(init, end, W): (init - end)·(1 - k/W) + end.
        ramp = (self.start_lr - peak) * (1 - np.minimum(k, W) / W) + peak
        return np.where(k < W, ramp, after)

    def describe(self) -> str:
        W = self.warmup_steps
        return (
            f"η(k) = start + (s(0) - start)·k/W for k < W, s(k - W) after, with start = "
            f"{_fmt(self.start_lr)}, W = {W}, and s: {self.schedule.describe()}"
        )


def linear_warmup(schedule: Schedule, warmup_steps: int, start_lr: ArrayLike = 0.0) -> Schedule:
    """Put a linear warmup of ``warmup_steps`` steps in front of ``schedule``.

    ``η(k) = start_lr + (s(0) - start_lr)·k/W`` for ``k < W``, then ``s(k - W)``: the
    warmup ends on the schedule's first value, which step ``W`` uses, and the schedule
    then runs on its own count (its horizon moves to ``W + horizon``), as optax's
    ``join_schedules`` of a ``linear_schedule`` and the schedule.  Step 0 uses
    ``start_lr`` (optax's ``init_value``).  With the default ``start_lr = 0`` the first
    step does nothing (Hugging Face's warmups do the same, transformers #34754) and
    :func:`gradflow.solve`, which needs ``h > 0``, refuses it: pass ``start_lr > 0``.

    Parameters
    ----------
    schedule : Schedule
        The schedule after the warmup.
    warmup_steps : int
        ``W >= 0`` (0 returns the schedule's values unchanged).
    start_lr : float or array_like, optional
        Step size of step 0, ``>= 0``.

    Returns
    -------
    Schedule

    Raises
    ------
    TypeError
        If ``schedule`` is not a gradflow schedule.
    ValueError
        If ``warmup_steps`` is negative or ``start_lr`` negative.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow import schedules
    >>> s = schedules.linear_warmup(schedules.exponential(1.0, 0.5), 4, start_lr=0.2)
    >>> s(np.arange(7))
    array([0.2 , 0.4 , 0.6 , 0.8 , 1.  , 0.5 , 0.25])
    """
    return _LinearWarmup(schedule, warmup_steps, start_lr)


class _Sequence(Schedule):
    name = "sequence"

    @classmethod
    def _example(cls) -> Schedule:
        return cls([_example_base(), _example_base(0.01)], [50])

    def __init__(self, schedules: Sequence[Schedule], boundaries: Sequence[int]) -> None:
        if isinstance(schedules, Schedule) or not isinstance(schedules, Sequence):
            raise TypeError("schedules must be a list of gradflow schedules")
        if not schedules:
            raise ValueError("schedules must not be empty")
        self.schedules = [_check_schedule(s, f"schedules[{i}]") for i, s in enumerate(schedules)]
        if isinstance(boundaries, (int, np.integer)) or not isinstance(boundaries, Sequence):
            raise ValueError(f"boundaries must be a list of integers, got {boundaries!r}")
        bounds = [_count(b, "boundaries entry", 1) for b in boundaries]
        if len(bounds) != len(self.schedules) - 1:
            raise ValueError(
                f"boundaries must have one entry fewer than schedules: got {len(bounds)} "
                f"boundaries for {len(self.schedules)} schedules"
            )
        if any(b <= a for a, b in itertools.pairwise(bounds)):
            raise ValueError(f"boundaries must be strictly increasing, got {bounds}")
        self.boundaries = bounds
        self._starts = np.asarray([0, *bounds], dtype=np.int64)
        self.shape = _shape(*(np.empty(s.shape) for s in self.schedules))
        last, b_last = self.schedules[-1], self._starts[-1]
        self.horizon = None if last.horizon is None else int(b_last) + last.horizon
        self.span = int(b_last) + last.span

    def _evaluate(self, k: np.ndarray) -> np.ndarray:
        piece = np.searchsorted(self._starts, k, side="right") - 1
        if self.shape == ():
            # Scalar parameters: evaluate each piece only where it applies.
            out = np.empty(k.shape)
            for i, (s, b) in enumerate(zip(self.schedules, self._starts, strict=True)):
                where = piece == i
                out[where] = s._evaluate(k[where] - b)
            return out
        values = [
            s._evaluate(np.maximum(k - b, 0))
            for s, b in zip(self.schedules, self._starts, strict=True)
        ]
        shape = np.broadcast_shapes(k.shape, self.shape)
        return np.select(
            [np.broadcast_to(piece == i, shape) for i in range(len(values))],
            [np.broadcast_to(v, shape) for v in values],
        )

    def describe(self) -> str:
        parts = []
        for i, (s, b) in enumerate(zip(self.schedules, self._starts, strict=True)):
            end = f"k < {self._starts[i + 1]}" if i + 1 < len(self._starts) else "after"
            parts.append(f"[{b} <= k, {end}] s{i}(k - {b}) with s{i}: {s.describe()}")
        return "η(k) = piece by piece (boundary steps belong to the new piece): " + "; ".join(parts)

    def _arguments(self) -> dict[str, Any]:
        inner = _Raw("[" + ", ".join(repr(s) for s in self.schedules) + "]")
        return {"schedules": inner, "boundaries": self.boundaries}


def sequence(schedules: Sequence[Schedule], boundaries: Sequence[int]) -> Schedule:
    """Run ``schedules`` one after the other, switching at ``boundaries``.

    ``η(k) = s_i(k - b_i)`` for ``b_i <= k < b_{i+1}`` (``b_0 = 0``): each schedule
    starts from its own ``k = 0`` and the boundary step belongs to the new schedule,
    as in optax's ``join_schedules`` and PyTorch's ``SequentialLR`` closed form (Keras'
    piecewise schedules switch one step later).

    Parameters
    ----------
    schedules : sequence of Schedule
        ``n >= 1`` schedules.
    boundaries : sequence of int
        ``n - 1`` strictly increasing step indices ``>= 1``.

    Returns
    -------
    Schedule
        Held from ``b_{n-1} + horizon`` of the last schedule on, if it has one.

    Raises
    ------
    TypeError
        If an entry of ``schedules`` is not a gradflow schedule.
    ValueError
        If the counts do not match or ``boundaries`` is not strictly increasing.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow import schedules
    >>> s = schedules.sequence([schedules.constant(1.0), schedules.exponential(0.5, 0.5)], [3])
    >>> s(np.arange(6))
    array([1.   , 1.   , 1.   , 0.5  , 0.25 , 0.125])
    """
    return _Sequence(schedules, boundaries)


class _Scale(Schedule):
    name = "scale"

    @classmethod
    def _example(cls) -> Schedule:
        return cls(_example_base(), 0.5)

    def __init__(self, schedule: Schedule, factor: ArrayLike) -> None:
        self.schedule = _check_schedule(schedule, "schedule")
        self.factor = _values(factor, "factor")
        self.shape = _shape(self.factor, np.empty(schedule.shape))
        self.horizon = schedule.horizon
        self.span = schedule.span

    def _evaluate(self, k: np.ndarray) -> np.ndarray:
        return self.factor * self.schedule._evaluate(k)

    def describe(self) -> str:
        return f"η(k) = c·s(k) with c = {_fmt(self.factor)} and s: {self.schedule.describe()}"


def scale(schedule: Schedule, factor: ArrayLike) -> Schedule:
    """Multiply a schedule by ``factor``: ``η(k) = factor·s(k)``.

    An array ``factor`` turns one schedule shape into a sweep of its scale in one
    :func:`gradflow.solve` call (``factor`` broadcast to the batch shape).

    Parameters
    ----------
    schedule : Schedule
    factor : float or array_like
        ``> 0``.

    Returns
    -------
    Schedule

    Raises
    ------
    TypeError
        If ``schedule`` is not a gradflow schedule.
    ValueError
        If ``factor`` is not positive.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow import schedules
    >>> schedules.scale(schedules.cosine(1.0, 2), np.array([1.0, 0.1]))(1)
    array([0.5 , 0.05])
    """
    return _Scale(schedule, factor)
