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
    _quiet = {"exponent": 1.0}  # noqa: RUF012

    @classmethod
    def _example(cls) -> Schedule:
        return cls(0.1, 100, 0.001, 2.0)

    def __init__(
        self, lr: ArrayLike, total_steps: int, min_lr: ArrayLike, exponent: ArrayLike = 1.0
    ) -> None:
        self.lr = _values(lr, "lr")
        self.total_steps = _count(total_steps, "total_steps", 1)
        self.min_lr = _values(min_lr, "min_lr", positive=False)
        self.exponent = _values(exponent, "exponent")
        self.shape = _shape(self.lr, self.min_lr, self.exponent)
        self.horizon = self.total_steps
        self.span = max(10, (11 * self.total_steps) // 10 + 1)

    def _evaluate(self, k: np.ndarray) -> np.ndarray:
        n = self.total_steps
        # Clipping at T holds min_lr (PyTorch's closed form would rise again).
        phase = np.pi * np.minimum(k, n) / n
        if self.exponent.ndim == 0 and self.exponent == 1.0:
            # PyTorch's expression and operation order (bit for bit with it).
            return self.min_lr + (self.lr - self.min_lr) * (1 + np.cos(phase)) / 2
        return self.min_lr + (self.lr - self.min_lr) * (0.5 * (1 + np.cos(phase))) ** self.exponent

    def describe(self) -> str:
        if self.exponent.ndim == 0 and self.exponent == 1.0:
            shape = "(1 + cos(π·min(k, T)/T))/2"
            source = "PyTorch CosineAnnealingLR closed form"
        else:
            shape = f"((1 + cos(π·min(k, T)/T))/2)^p with p = {_fmt(self.exponent)}"
            source = "optax cosine_decay_schedule with exponent p, alpha = min_lr/lr"
        return (
            f"η(k) = min_lr + (lr - min_lr)·{shape}, "
            f"lr = {_fmt(self.lr)}, min_lr = {_fmt(self.min_lr)}, T = {self.total_steps} "
            f"({source}); {self._held()}"
        )


def cosine(
    lr: ArrayLike, total_steps: int, min_lr: ArrayLike = 0.0, exponent: ArrayLike = 1.0
) -> Schedule:
    """Cosine annealing from ``lr`` to ``min_lr`` over ``total_steps`` steps.

    ``η(k) = min_lr + (lr - min_lr)·c(k)^p`` with ``c(k) = (1 + cos(π·min(k, T)/T))/2``:
    for ``p = 1`` PyTorch's ``CosineAnnealingLR`` closed form for ``k <= T`` (computed
    in PyTorch's operation order), then held at ``min_lr`` (PyTorch's and Hugging
    Face's cosine rise again after ``T``; optax's and Keras' hold, as here).  Any
    ``p = exponent`` is optax's ``cosine_decay_schedule(lr, T, alpha, exponent)``
    with ``alpha = min_lr/lr``: ``p > 1`` leaves the peak sooner and lingers near the
    end, ``p < 1`` stays near the peak longer.
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
    exponent : float or array_like, optional
        ``p > 0`` (default 1), optax's ``exponent``.

    Returns
    -------
    Schedule

    Raises
    ------
    ValueError
        If ``lr`` or ``exponent`` is not positive, ``min_lr`` is negative or
        ``total_steps < 1``.

    References
    ----------
    I. Loshchilov and F. Hutter, "SGDR: stochastic gradient descent with warm restarts",
    ICLR 2017.
    optax, ``optax.schedules.cosine_decay_schedule`` (the ``exponent`` argument).

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow import schedules
    >>> schedules.cosine(1.0, 4, min_lr=0.1)(np.arange(6)).round(4)
    array([1.    , 0.8682, 0.55  , 0.2318, 0.1   , 0.1   ])
    >>> schedules.cosine(1.0, 4, exponent=2.0)(np.arange(5)).round(4)
    array([1.    , 0.7286, 0.25  , 0.0214, 0.    ])
    """
    return _Cosine(lr, total_steps, min_lr, exponent)


class _CosineRestarts(Schedule):
    name = "cosine_restarts"
    _quiet = {"steps_per_epoch": 1}  # noqa: RUF012

    @classmethod
    def _example(cls) -> Schedule:
        return cls(0.1, 5, 2, 0.001, 4)

    def __init__(
        self,
        lr: ArrayLike,
        period: int,
        mult: int,
        min_lr: ArrayLike,
        steps_per_epoch: int = 1,
    ) -> None:
        self.lr = _values(lr, "lr")
        self.period = _count(period, "period", 1)
        self.mult = _count(mult, "mult", 1)
        self.min_lr = _values(min_lr, "min_lr", positive=False)
        self.steps_per_epoch = _count(steps_per_epoch, "steps_per_epoch", 1)
        self.shape = _shape(self.lr, self.min_lr)
        # The first cycle in steps: epoch e = k/steps_per_epoch, so a cycle of T_i
        # epochs is T_i·steps_per_epoch steps and every ratio T_cur/T_i is exact.
        self._first = self.period * self.steps_per_epoch
        span = sum(self._first * self.mult**i for i in range(SPAN_CYCLES))
        self.span = min(span, SPAN_MAX)

    def _cycle(self, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Position in the current cycle and the cycle's length, in exact integers."""
        first = self._first
        if self.mult == 1:
            return k % first, np.float64(first)
        # Cycle starts S_n = T0 (m^n - 1)/(m - 1), built by integer additions: a
        # logarithm (PyTorch's form for a given epoch) misplaces restarts by rounding,
        # e.g. log_3(243) < 5 at k = 121 for T0 = 1, m = 3.
        k_max = int(k.max()) if k.size else 0
        starts, lengths = [0], [first]
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
        spe = self.steps_per_epoch
        epoch = "e = k" if spe == 1 else f"e = k/{spe} (fractional epochs)"
        return (
            "η(k) = min_lr + (lr - min_lr)·(1 + cos(π·T_cur/T_i))/2, T_cur = e - S_i in cycle i "
            f"of T_i = T0·m^i epochs, S_i = T0·(m^i - 1)/(m - 1), {epoch}, with "
            f"lr = {_fmt(self.lr)}, min_lr = {_fmt(self.min_lr)}, T0 = {self.period}, "
            f"m = {self.mult} (PyTorch CosineAnnealingWarmRestarts); restarts at lr, never "
            "reaches min_lr, never held"
        )


def cosine_restarts(
    lr: ArrayLike,
    period: int,
    mult: int = 1,
    min_lr: ArrayLike = 0.0,
    steps_per_epoch: int = 1,
) -> Schedule:
    """Cosine annealing with warm restarts (PyTorch ``CosineAnnealingWarmRestarts``, SGDR).

    Time is counted in epochs ``e = k/steps_per_epoch`` (fractional when an epoch has
    several steps).  Cycle ``i`` lasts ``T_i = period·mult^i`` epochs and starts at
    ``S_i = period·(mult^i - 1)/(mult - 1)`` (``i·period`` for ``mult = 1``); inside it
    ``η(k) = min_lr + (lr - min_lr)·(1 + cos(π·T_cur/T_i))/2`` with ``T_cur = e - S_i``.
    With ``steps_per_epoch = 1`` this is PyTorch's scheduler stepped once per step
    (``T_cur += 1``); with ``steps_per_epoch = n`` step ``k`` has PyTorch's value after
    ``scheduler.step(k/n)``, the fractional-epoch call its documentation recommends
    (``scheduler.step(epoch + i/iters)`` inside the batch loop).  Every restart gives
    ``lr``; ``min_lr`` is approached but never reached (the last step of a cycle is
    one step short of it), as in PyTorch.  Cycles are located with exact integer
    arithmetic on steps, so restarts fall on the right step for every ``k``
    (PyTorch's logarithmic formula for an explicit epoch misplaces some, e.g. epoch
    ``121`` for ``period = 1, mult = 3``, and its ``epoch % T_0`` in floats can put a
    fractional epoch a rounding error before a restart).

    Parameters
    ----------
    lr : float or array_like
        Step size(s) at each restart, ``> 0``.
    period : int
        Length ``T_0 >= 1`` of the first cycle, in epochs.
    mult : int, optional
        Integer growth factor ``>= 1`` of the cycle length (PyTorch's ``T_mult``).
    min_lr : float or array_like, optional
        ``>= 0`` (PyTorch's ``eta_min``).
    steps_per_epoch : int, optional
        Steps per epoch ``>= 1`` (default 1: an epoch is a step).

    Returns
    -------
    Schedule
        Never held (periodic).

    Raises
    ------
    ValueError
        If ``lr`` is not positive, ``min_lr`` is negative, or ``period``, ``mult`` or
        ``steps_per_epoch`` is not a positive integer.

    References
    ----------
    I. Loshchilov and F. Hutter, "SGDR: stochastic gradient descent with warm restarts",
    ICLR 2017.
    PyTorch, ``torch.optim.lr_scheduler.CosineAnnealingWarmRestarts`` (``step(epoch)``).

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow import schedules
    >>> s = schedules.cosine_restarts(1.0, period=2, mult=2)
    >>> s(np.arange(8)).round(3)          # cycles [0, 2), [2, 6), [6, 14)
    array([1.   , 0.5  , 1.   , 0.854, 0.5  , 0.146, 1.   , 0.962])
    >>> s4 = schedules.cosine_restarts(1.0, period=2, mult=2, steps_per_epoch=4)
    >>> bool(np.array_equal(s4(4 * np.arange(8)), s(np.arange(8))))   # whole epochs
    True
    >>> s4(np.array([1, 2, 3, 8])).round(3)   # epochs 0.25, 0.5, 0.75, then a restart
    array([0.962, 0.854, 0.691, 1.   ])
    """
    return _CosineRestarts(lr, period, mult, min_lr, steps_per_epoch)
