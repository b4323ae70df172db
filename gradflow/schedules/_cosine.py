"""Cosine annealing (Loshchilov & Hutter's SGDR), once or with warm restarts."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from gradflow.schedules._base import Schedule, _count, _fmt, _shape, _values

__all__ = ["cosine", "cosine_restarts"]

#: Cycles of :func:`cosine_restarts` shown by default in plots.
SPAN_CYCLES = 3
#: Cap on default plot spans.
SPAN_MAX = 100_000


class _Cosine(Schedule):
    name = "cosine"

    @classmethod
    def _example(cls) -> Schedule:
        return cls(0.1, 100, 0.001)

    def __init__(self, lr: ArrayLike, total_steps: int, min_lr: ArrayLike) -> None:
        self.lr = _values(lr, "lr")
        self.total_steps = _count(total_steps, "total_steps", 1)
        self.min_lr = _values(min_lr, "min_lr", positive=False)
        self.shape = _shape(self.lr, self.min_lr)
        self.horizon = self.total_steps
        self.span = max(10, (11 * self.total_steps) // 10 + 1)

    def _evaluate(self, k: np.ndarray) -> np.ndarray:
        n = self.total_steps
        # Clipping at T holds min_lr (PyTorch's closed form would rise again).
        phase = np.pi * np.minimum(k, n) / n
        return self.min_lr + (self.lr - self.min_lr) * (1 + np.cos(phase)) / 2

    def describe(self) -> str:
        return (
            "η(k) = min_lr + (lr - min_lr)·(1 + cos(π·min(k, T)/T))/2 with "
            f"lr = {_fmt(self.lr)}, min_lr = {_fmt(self.min_lr)}, T = {self.total_steps} "
            f"(PyTorch CosineAnnealingLR closed form); {self._held()}"
        )


def cosine(lr: ArrayLike, total_steps: int, min_lr: ArrayLike = 0.0) -> Schedule:
    """Cosine annealing from ``lr`` to ``min_lr`` over ``total_steps`` steps.

    ``η(k) = min_lr + (lr - min_lr)·(1 + cos(π·min(k, T)/T))/2``: PyTorch's
    ``CosineAnnealingLR`` closed form for ``k <= T``, then held at ``min_lr`` (PyTorch's
    and Hugging Face's cosine rise again after ``T``; optax's and Keras' hold, as here).
    The value at ``k = T`` is ``min_lr`` exactly: with the default ``min_lr = 0`` pass
    ``min_lr > 0`` to use it with :func:`gradflow.solve` beyond ``T - 1`` steps.

    Parameters
    ----------
    lr : float or array_like
        Initial step size(s), ``> 0``.
    total_steps : int
        ``T >= 1`` (PyTorch's ``T_max``).
    min_lr : float or array_like, optional
        Final step size ``>= 0``, absolute (PyTorch's ``eta_min``; optax's ``alpha`` is
        the fraction ``min_lr/lr``).

    Returns
    -------
    Schedule

    Raises
    ------
    ValueError
        If ``lr`` is not positive, ``min_lr`` is negative or ``total_steps < 1``.

    References
    ----------
    I. Loshchilov and F. Hutter, "SGDR: stochastic gradient descent with warm restarts",
    ICLR 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow import schedules
    >>> schedules.cosine(1.0, 4, min_lr=0.1)(np.arange(6)).round(4)
    array([1.    , 0.8682, 0.55  , 0.2318, 0.1   , 0.1   ])
    """
    return _Cosine(lr, total_steps, min_lr)


class _CosineRestarts(Schedule):
    name = "cosine_restarts"

    @classmethod
    def _example(cls) -> Schedule:
        return cls(0.1, 20, 2, 0.001)

    def __init__(self, lr: ArrayLike, period: int, mult: int, min_lr: ArrayLike) -> None:
        self.lr = _values(lr, "lr")
        self.period = _count(period, "period", 1)
        self.mult = _count(mult, "mult", 1)
        self.min_lr = _values(min_lr, "min_lr", positive=False)
        self.shape = _shape(self.lr, self.min_lr)
        span = sum(self.period * self.mult**i for i in range(SPAN_CYCLES))
        self.span = min(span, SPAN_MAX)

    def _cycle(self, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Position in the current cycle and the cycle's length, in exact integers."""
        if self.mult == 1:
            return k % self.period, np.float64(self.period)
        # Cycle starts S_n = T0 (m^n - 1)/(m - 1), built by integer additions: a
        # logarithm (PyTorch's form for a given epoch) misplaces restarts by rounding,
        # e.g. log_3(243) < 5 at k = 121 for T0 = 1, m = 3.
        k_max = int(k.max()) if k.size else 0
        starts, lengths = [0], [self.period]
        while starts[-1] + lengths[-1] <= k_max:
            starts.append(starts[-1] + lengths[-1])
            lengths.append(lengths[-1] * self.mult)
        n = np.searchsorted(np.asarray(starts, dtype=np.int64), k, side="right") - 1
        position = k - np.asarray(starts, dtype=np.int64)[n]
        return position, np.asarray(lengths, dtype=np.float64)[n]

    def _evaluate(self, k: np.ndarray) -> np.ndarray:
        position, length = self._cycle(k)
        return self.min_lr + (self.lr - self.min_lr) * (1 + np.cos(np.pi * position / length)) / 2

    def describe(self) -> str:
        return (
            "η(k) = min_lr + (lr - min_lr)·(1 + cos(π·k_cur/T_i))/2, k_cur = k - S_i in cycle i "
            f"of length T_i = T0·m^i, S_i = T0·(m^i - 1)/(m - 1), with lr = {_fmt(self.lr)}, "
            f"min_lr = {_fmt(self.min_lr)}, T0 = {self.period}, m = {self.mult} "
            "(PyTorch CosineAnnealingWarmRestarts); restarts at lr, never reaches min_lr, "
            "never held"
        )


def cosine_restarts(lr: ArrayLike, period: int, mult: int = 1, min_lr: ArrayLike = 0.0) -> Schedule:
    """Cosine annealing with warm restarts (PyTorch ``CosineAnnealingWarmRestarts``, SGDR).

    Cycle ``i`` lasts ``T_i = period·mult^i`` steps and starts at
    ``S_i = period·(mult^i - 1)/(mult - 1)`` (``i·period`` for ``mult = 1``); inside it
    ``η(k) = min_lr + (lr - min_lr)·(1 + cos(π·(k - S_i)/T_i))/2``.  Every restart gives
    ``lr``; ``min_lr`` is approached but never reached (the last step of a cycle is
    one step short of it), as in PyTorch.  Cycles are located with exact integer
    arithmetic, so restarts fall on the right step for every ``k`` (PyTorch's
    logarithmic formula for an explicit epoch misplaces some, e.g. ``k = 121`` for
    ``period = 1, mult = 3``).

    Parameters
    ----------
    lr : float or array_like
        Step size(s) at each restart, ``> 0``.
    period : int
        Length ``T_0 >= 1`` of the first cycle.
    mult : int, optional
        Integer growth factor ``>= 1`` of the cycle length (PyTorch's ``T_mult``).
    min_lr : float or array_like, optional
        ``>= 0`` (PyTorch's ``eta_min``).

    Returns
    -------
    Schedule
        Never held (periodic).

    Raises
    ------
    ValueError
        If ``lr`` is not positive, ``min_lr`` is negative, or ``period``/``mult`` is not
        a positive integer.

    References
    ----------
    I. Loshchilov and F. Hutter, "SGDR: stochastic gradient descent with warm restarts",
    ICLR 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow import schedules
    >>> s = schedules.cosine_restarts(1.0, period=2, mult=2)
    >>> s(np.arange(8)).round(3)          # cycles [0, 2), [2, 6), [6, 14)
    array([1.   , 0.5  , 1.   , 0.854, 0.5  , 0.146, 1.   , 0.962])
    """
    return _CosineRestarts(lr, period, mult, min_lr)
