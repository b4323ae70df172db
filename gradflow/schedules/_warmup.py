"""Warmup-then-decay schedules of Transformer and LLM training.

* :func:`warmup_cosine`: linear warmup then cosine decay, optax's
  ``warmup_cosine_decay_schedule`` (the LLM recipe: Chinchilla decays to 10 % of the peak;
  Llama 3 405B used peak 8e-5, 8,000 warmup steps, cosine to 8e-7 over 1.2M steps).
* :func:`wsd`: warmup-stable-decay, Hugging Face's ``get_wsd_schedule``.
* :func:`noam` and :func:`inverse_sqrt`: the Transformer schedule of Vaswani et al.
* :func:`warmup_constant`, :func:`warmup_cosine_restarts`, :func:`warmup_polynomial`:
  Hugging Face's ``constant_with_warmup``, ``cosine_with_restarts`` (hard restarts) and
  ``polynomial`` (with ``lr_end``), whose warmups start from 0.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from gradflow.schedules._base import (
    Schedule,
    _choice,
    _count,
    _fmt,
    _shape,
    _values,
)
from gradflow.schedules._combinators import _LinearWarmup
from gradflow.schedules._cosine import _Cosine

__all__ = [
    "inverse_sqrt",
    "noam",
    "warmup_constant",
    "warmup_cosine",
    "warmup_cosine_restarts",
    "warmup_polynomial",
    "wsd",
]

_DECAYS = ("linear", "cosine", "sqrt")
#: Default plot span of the inverse-square-root schedules, in warmup lengths.
SPAN_WARMUPS = 10


class _WarmupCosine(_LinearWarmup):
    name = "warmup_cosine"
    _quiet = {"exponent": 1.0}  # noqa: RUF012

    @classmethod
    def _example(cls) -> Schedule:
        return cls(0.1, 10, 100, 0.0, 0.001)

    def __init__(
        self,
        peak_lr: ArrayLike,
        warmup_steps: int,
        total_steps: int,
        init_lr: ArrayLike,
        end_lr: ArrayLike,
        exponent: ArrayLike = 1.0,
    ) -> None:
        W = _count(warmup_steps, "warmup_steps", 0)
        T = _count(total_steps, "total_steps", 1)
        if T <= W:
            raise ValueError(
                f"total_steps must exceed warmup_steps (it includes the warmup, as optax's "
                f"decay_steps), got total_steps={T}, warmup_steps={W}"
            )
        peak = _values(peak_lr, "peak_lr")
        self.peak_lr, self.total_steps = peak, T
        self.init_lr = _values(init_lr, "init_lr", positive=False)
        self.end_lr = _values(end_lr, "end_lr", positive=False)
        self.exponent = _values(exponent, "exponent")
        super().__init__(_Cosine(peak, T - W, self.end_lr, self.exponent), W, self.init_lr)

    def describe(self) -> str:
        W, T = self.warmup_steps, self.total_steps
        p = "" if self.exponent.ndim == 0 and self.exponent == 1.0 else "^p"
        return (
            "η(k) = init + (peak - init)·k/W for k < W, then end + (peak - end)·((1 + "
            f"cos(π·min(k - W, T - W)/(T - W)))/2){p}, with "
            f"init = {_fmt(self.init_lr)}, peak = {_fmt(self.peak_lr)}, end = "
            f"{_fmt(self.end_lr)}, W = {W}, T = {T}"
            + (f", p = {_fmt(self.exponent)}" if p else "")
            + f" (optax warmup_cosine_decay_schedule, T includes the warmup); {self._held()}"
        )


def warmup_cosine(
    peak_lr: ArrayLike,
    warmup_steps: int,
    total_steps: int,
    init_lr: ArrayLike = 0.0,
    end_lr: ArrayLike = 0.0,
    exponent: ArrayLike = 1.0,
) -> Schedule:
    """Linear warmup then cosine decay (optax ``warmup_cosine_decay_schedule``).

    ``η(k) = init + (peak - init)·k/W`` for ``k < W``; then
    ``end + (peak - end)·((1 + cos(π·(k - W)/(T - W)))/2)^p`` until ``k = T``, held at
    ``end`` after (``p = exponent``, optax's, default 1).  ``T = total_steps`` includes
    the warmup (optax's ``decay_steps``; Keras' ``decay_steps`` excludes it).  It is
    :func:`linear_warmup` of :func:`cosine`:
    ``linear_warmup(cosine(peak, T - W, end, exponent), W, init)``.  With the default
    ``init_lr = 0`` the first step does nothing, and :func:`gradflow.solve` refuses a
    zero step: pass ``init_lr > 0`` (and ``end_lr > 0`` to run past ``T - 1``).

    Parameters
    ----------
    peak_lr : float or array_like
        Step size(s) at ``k = W``, ``> 0``; an array sweeps peaks.
    warmup_steps : int
        ``W >= 0``.
    total_steps : int
        ``T > W``.
    init_lr, end_lr : float or array_like, optional
        Step sizes at ``k = 0`` and ``k >= T``, ``>= 0`` (absolute, not fractions).
    exponent : float or array_like, optional
        ``p > 0`` (default 1), optax's ``exponent`` of the cosine factor.

    Returns
    -------
    Schedule

    Raises
    ------
    ValueError
        If ``peak_lr`` or ``exponent`` is not positive, ``init_lr``/``end_lr``
        negative, or the step counts are out of range.

    References
    ----------
    optax, ``optax.schedules.warmup_cosine_decay_schedule``.
    I. Loshchilov and F. Hutter, "SGDR: stochastic gradient descent with warm restarts",
    ICLR 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow import schedules
    >>> s = schedules.warmup_cosine(1.0, warmup_steps=2, total_steps=6, init_lr=0.5)
    >>> s(np.arange(8)).round(4)
    array([0.5   , 0.75  , 1.    , 0.8536, 0.5   , 0.1464, 0.    , 0.    ])
    """
    return _WarmupCosine(peak_lr, warmup_steps, total_steps, init_lr, end_lr, exponent)


class _WSD(Schedule):
    name = "wsd"

    @classmethod
    def _example(cls) -> Schedule:
        return cls(0.1, 10, 50, 40, 0.001, "cosine")

    def __init__(
        self,
        peak_lr: ArrayLike,
        warmup_steps: int,
        stable_steps: int,
        decay_steps: int,
        min_lr: ArrayLike,
        decay: str,
    ) -> None:
        self.peak_lr = _values(peak_lr, "peak_lr")
        self.warmup_steps = _count(warmup_steps, "warmup_steps", 0)
        self.stable_steps = _count(stable_steps, "stable_steps", 0)
        self.decay_steps = _count(decay_steps, "decay_steps", 1)
        self.min_lr = _values(min_lr, "min_lr", positive=False)
        self.decay = _choice(decay, "decay", _DECAYS)
        self.shape = _shape(self.peak_lr, self.min_lr)
        self.horizon = self.warmup_steps + self.stable_steps + self.decay_steps
        self.span = (11 * self.horizon) // 10 + 1

    def _evaluate(self, k: np.ndarray) -> np.ndarray:
        W, S, D = self.warmup_steps, self.stable_steps, self.decay_steps
        peak, low = self.peak_lr, self.min_lr
        up = np.minimum(k, W) / W if W else np.ones(k.shape)
        p = np.clip(k - W - S, 0, D) / D
        if self.decay == "linear":
            down = 1.0 - p
        elif self.decay == "cosine":
            down = 0.5 * (1.0 + np.cos(np.pi * p))
        else:
            down = 1.0 - np.sqrt(p)
        factor = np.where(k < W, up, down)
        return low + (peak - low) * factor

    def describe(self) -> str:
        f = {"linear": "1 - p", "cosine": "(1 + cos(πp))/2", "sqrt": "1 - √p"}[self.decay]
        W, S, D = self.warmup_steps, self.stable_steps, self.decay_steps
        return (
            f"η(k) = min + (peak - min)·k/W for k < W, peak for W <= k < W + S, "
            f"min + (peak - min)·({f}) with p = (k - W - S)/D for W + S <= k < W + S + D; "
            f"peak = {_fmt(self.peak_lr)}, min = {_fmt(self.min_lr)}, W = {W}, S = {S}, "
            f"D = {D} (Hugging Face get_wsd_schedule, min_lr_ratio = min/peak); "
            f"{self._held()}"
        )


def wsd(
    peak_lr: ArrayLike,
    warmup_steps: int,
    stable_steps: int,
    decay_steps: int,
    min_lr: ArrayLike = 0.0,
    decay: str = "linear",
) -> Schedule:
    """Warmup-stable-decay: a linear warmup, a flat stretch at the peak, a short decay.

    ``η(k) = min + (peak - min)·k/W`` for ``k < W``; ``peak`` for ``W <= k < W + S``;
    ``min + (peak - min)·f(p)`` with ``p = (k - W - S)/D`` for the ``D`` decay steps,
    ``f = 1 - p`` (``"linear"``), ``(1 + cos(πp))/2`` (``"cosine"``) or ``1 - √p``
    (``"sqrt"``, Hägele et al.'s 1-sqrt); held at ``min`` from ``W + S + D`` on.  Equal to
    Hugging Face's ``get_wsd_schedule`` with ``min_lr_ratio = min_lr/peak_lr`` and a
    linear warmup, whose warmup also starts at the minimum.

    Parameters
    ----------
    peak_lr : float or array_like
        ``> 0``.
    warmup_steps, stable_steps : int
        ``W, S >= 0``.
    decay_steps : int
        ``D >= 1``.
    min_lr : float or array_like, optional
        ``>= 0``, absolute (default 0; pass ``> 0`` for :func:`gradflow.solve`, which
        refuses a zero step).
    decay : {"linear", "cosine", "sqrt"}, optional

    Returns
    -------
    Schedule

    Raises
    ------
    ValueError
        If ``peak_lr`` is not positive, ``min_lr`` negative, a step count out of range,
        or ``decay`` unknown.

    References
    ----------
    S. Hu et al., "MiniCPM: unveiling the potential of small language models with
    scalable training strategies", arXiv:2404.06395, 2024.
    A. Hägele et al., "Scaling laws and compute-optimal training beyond fixed training
    durations", NeurIPS 2024.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow import schedules
    >>> schedules.wsd(1.0, 2, 2, 4, min_lr=0.2)(np.arange(10))
    array([0.2, 0.6, 1. , 1. , 1. , 0.8, 0.6, 0.4, 0.2, 0.2])
    """
    return _WSD(peak_lr, warmup_steps, stable_steps, decay_steps, min_lr, decay)


class _InverseSqrt(Schedule):
    name = "inverse_sqrt"

    @classmethod
    def _example(cls) -> Schedule:
        return cls(0.1, 10)

    def __init__(self, lr: ArrayLike, warmup_steps: int) -> None:
        self.lr = _values(lr, "lr")
        self.warmup_steps = _count(warmup_steps, "warmup_steps", 1)
        self.shape = self.lr.shape
        self.span = SPAN_WARMUPS * self.warmup_steps

    def _evaluate(self, k: np.ndarray) -> np.ndarray:
        s = (k + 1).astype(np.float64)
        W = self.warmup_steps
        return self.lr * np.minimum(s / W, np.sqrt(W / s))

    def describe(self) -> str:
        return (
            f"η(k) = lr·min(s/W, √(W/s)), s = k + 1, with lr = {_fmt(self.lr)}, "
            f"W = {self.warmup_steps} (the Noam schedule normalised to its peak lr at "
            f"k = W - 1); never held"
        )


def inverse_sqrt(lr: ArrayLike, warmup_steps: int) -> Schedule:
    """Linear warmup to ``lr`` then ``1/√k`` decay: the Transformer schedule, normalised.

    ``η(k) = lr·min(s/W, √(W/s))`` with ``s = k + 1`` the 1-based step count: the
    peak ``lr`` is at step ``k = W - 1``, and :func:`noam` is this with
    ``lr = scale·d_model^-1/2·W^-1/2``.  Counting from ``s = 1`` (as the Transformer
    paper and tensor2tensor do) keeps every value positive; Hugging Face's
    ``get_inverse_sqrt_schedule`` counts from 0, so its value at ``k`` is this one at
    ``k - 1`` and its first step has step size 0.

    Parameters
    ----------
    lr : float or array_like
        Peak step size(s), ``> 0``.
    warmup_steps : int
        ``W >= 1``.

    Returns
    -------
    Schedule
        Never held (decays like ``1/√k``).

    Raises
    ------
    ValueError
        If ``lr`` is not positive or ``warmup_steps < 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow import schedules
    >>> schedules.inverse_sqrt(1.0, 4)(np.array([0, 3, 15]))
    array([0.25, 1.  , 0.5 ])
    """
    return _InverseSqrt(lr, warmup_steps)


class _Noam(Schedule):
    name = "noam"

    @classmethod
    def _example(cls) -> Schedule:
        return cls(512, 100, 1.0)

    def __init__(self, d_model: ArrayLike, warmup_steps: int, scale: ArrayLike) -> None:
        self.d_model = _values(d_model, "d_model")
        self.warmup_steps = _count(warmup_steps, "warmup_steps", 1)
        self.scale = _values(scale, "scale")
        self.shape = _shape(self.d_model, self.scale)
        self.span = SPAN_WARMUPS * self.warmup_steps

    def _evaluate(self, k: np.ndarray) -> np.ndarray:
        s = (k + 1).astype(np.float64)
        W = float(self.warmup_steps)
        return self.scale * self.d_model**-0.5 * np.minimum(s**-0.5, s * W**-1.5)

    def describe(self) -> str:
        return (
            f"η(k) = c·d^-1/2·min(s^-1/2, s·W^-3/2), s = k + 1, with c = {_fmt(self.scale)}, "
            f"d = {_fmt(self.d_model)}, W = {self.warmup_steps} (Vaswani et al. 2017); "
            "never held"
        )


def noam(d_model: ArrayLike, warmup_steps: int, scale: ArrayLike = 1.0) -> Schedule:
    """The Transformer ("Noam") schedule ``c·d^-1/2·min(s^-1/2, s·W^-3/2)``, ``s = k + 1``.

    Linear warmup over ``W`` steps to the peak ``c·d^-1/2·W^-1/2`` at ``s = W``
    (``k = W - 1``), then ``1/√s`` decay.  ``s`` counts steps from 1, as in the paper.

    Parameters
    ----------
    d_model : float or array_like
        Model width ``d > 0`` (512 in the paper).
    warmup_steps : int
        ``W >= 1`` (4000 in the paper).
    scale : float or array_like, optional
        Factor ``c > 0`` (default 1).

    Returns
    -------
    Schedule
        Never held.

    Raises
    ------
    ValueError
        If ``d_model`` or ``scale`` is not positive or ``warmup_steps < 1``.

    References
    ----------
    A. Vaswani et al., "Attention is all you need", NeurIPS 2017, §5.3.

    Examples
    --------
    >>> from gradflow import schedules
    >>> s = schedules.noam(512, 4000)
    >>> round(s(3999) / (512**-0.5 * 4000**-0.5), 12)   # the peak
    1.0
    """
    return _Noam(d_model, warmup_steps, scale)


# ---------------------------------------------------------------------------------------
# Hugging Face's warmup schedules (transformers.optimization), lr times a factor
# ---------------------------------------------------------------------------------------
class _HFWarmup:
    """``lr·k/W`` for ``k < W`` (from 0, as Hugging Face), then ``lr·f(k)`` or a value.

    A mixin in front of :class:`Schedule` (the contract tests see only the concrete
    schedules): subclasses set ``shape``/``horizon``/``span`` and implement
    ``_after(k)`` (the values from step ``W`` on, for every ``k``) and ``describe``.
    """

    lr: np.ndarray

    def __init__(self, lr: ArrayLike, warmup_steps: int) -> None:
        self.lr = _values(lr, "lr")
        self.warmup_steps = _count(warmup_steps, "warmup_steps", 0)

    def _after(self, k: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _evaluate(self, k: np.ndarray) -> np.ndarray:
        W = self.warmup_steps
        after = self._after(k)
        if W == 0:
            return after
        # Hugging Face's factor float(k)/float(max(1, W)), then LambdaLR's lr·factor.
        return np.where(k < W, self.lr * (k / W), after)

    def _check_total(self, total_steps: int) -> int:
        T = _count(total_steps, "total_steps", 1)
        if T <= self.warmup_steps:
            raise ValueError(
                f"total_steps must exceed warmup_steps (it includes the warmup, as Hugging "
                f"Face's num_training_steps), got total_steps={T}, "
                f"warmup_steps={self.warmup_steps}"
            )
        return T


class _WarmupConstant(_HFWarmup, Schedule):
    name = "warmup_constant"

    @classmethod
    def _example(cls) -> Schedule:
        return cls(0.1, 10)

    def __init__(self, lr: ArrayLike, warmup_steps: int) -> None:
        super().__init__(lr, warmup_steps)
        self.shape = self.lr.shape
        self.horizon = self.warmup_steps
        self.span = max(10, 2 * self.warmup_steps)

    def _after(self, k: np.ndarray) -> np.ndarray:
        return self.lr

    def describe(self) -> str:
        return (
            f"η(k) = lr·k/W for k < W, lr after, with lr = {_fmt(self.lr)}, "
            f"W = {self.warmup_steps} (Hugging Face get_constant_schedule_with_warmup; "
            f"step 0 is 0); {self._held()}"
        )


def warmup_constant(lr: ArrayLike, warmup_steps: int) -> Schedule:
    """Linear warmup from 0, then constant (Hugging Face ``constant_with_warmup``).

    ``η(k) = lr·k/W`` for ``k < W``, ``lr`` from ``k = W`` on: Hugging Face's
    ``get_constant_schedule_with_warmup`` (a ``LambdaLR`` of the factor
    ``k/max(1, W)``), in its operation order.  Step 0 has step size 0 (Hugging
    Face's warmups all start there, transformers #34754; :func:`linear_warmup` of
    :func:`constant` with ``start_lr > 0`` starts higher).

    Parameters
    ----------
    lr : float or array_like
        Step size(s) after the warmup, ``> 0``.
    warmup_steps : int
        ``W >= 0`` (0: constant).

    Returns
    -------
    Schedule
        Held from ``W`` on.

    Raises
    ------
    ValueError
        If ``lr`` is not positive or ``warmup_steps`` negative.

    References
    ----------
    Hugging Face transformers, ``transformers.get_constant_schedule_with_warmup``.
    P. Goyal et al., "Accurate, large minibatch SGD: training ImageNet in 1 hour",
    arXiv:1706.02677, 2017 (gradual warmup).

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow import schedules
    >>> schedules.warmup_constant(1.0, 4)(np.arange(6))
    array([0.  , 0.25, 0.5 , 0.75, 1.  , 1.  ])
    """
    return _WarmupConstant(lr, warmup_steps)


class _WarmupCosineRestarts(_HFWarmup, Schedule):
    name = "warmup_cosine_restarts"

    @classmethod
    def _example(cls) -> Schedule:
        return cls(0.1, 10, 100, 3)

    def __init__(self, lr: ArrayLike, warmup_steps: int, total_steps: int, num_cycles: int) -> None:
        super().__init__(lr, warmup_steps)
        self.total_steps = self._check_total(total_steps)
        self.num_cycles = _count(num_cycles, "num_cycles", 1)
        self.shape = self.lr.shape
        self.horizon = self.total_steps
        self.span = (11 * self.total_steps) // 10 + 1

    def _after(self, k: np.ndarray) -> np.ndarray:
        W, T, n = self.warmup_steps, self.total_steps, self.num_cycles
        D = T - W
        done = np.clip(k - W, 0, D)
        # The fraction of the current cycle, (n·progress) mod 1, in exact integers:
        # Hugging Face's float product can land just below a whole number at a restart.
        x = ((n * done) % D) / D
        return np.where(done < D, self.lr * (0.5 * (1.0 + np.cos(np.pi * x))), 0.0)

    def describe(self) -> str:
        W, T, n = self.warmup_steps, self.total_steps, self.num_cycles
        return (
            f"η(k) = lr·k/W for k < W, then lr·(1 + cos(π·((n·p) mod 1)))/2 with "
            f"p = (k - W)/(T - W), and 0 from k = T, with lr = {_fmt(self.lr)}, W = {W}, "
            f"T = {T}, n = {n} (Hugging Face get_cosine_with_hard_restarts_schedule_with_"
            f"warmup); {self._held()}"
        )


def warmup_cosine_restarts(
    lr: ArrayLike, warmup_steps: int, total_steps: int, num_cycles: int = 1
) -> Schedule:
    """Linear warmup from 0, then ``num_cycles`` cosines with hard restarts to 0.

    Hugging Face's ``get_cosine_with_hard_restarts_schedule_with_warmup``:
    ``η(k) = lr·k/W`` for ``k < W``; then with ``p = (k - W)/(T - W)``,
    ``η(k) = lr·(1 + cos(π·((n·p) mod 1)))/2``, which falls from ``lr`` towards 0
    ``n`` times, jumping back to ``lr`` at each restart; ``η(k) = 0`` from ``k = T`` on
    (held).  ``T = total_steps`` includes the warmup.  The cycle fraction is computed
    in exact integer arithmetic, so restarts fall on the exact steps ``W + j(T - W)/n``
    where those are integers (Hugging Face's float ``(n·p) % 1.0`` can give a value
    near 0 there instead of ``lr``).  Unlike :func:`cosine_restarts` (SGDR) all
    cycles have the same length and the warmup and the end at 0 are part of it.  The
    first step and the steps from ``T`` on have step size 0.

    Parameters
    ----------
    lr : float or array_like
        Peak step size(s), ``> 0``.
    warmup_steps : int
        ``W >= 0``.
    total_steps : int
        ``T > W`` (Hugging Face's ``num_training_steps``).
    num_cycles : int, optional
        ``n >= 1`` cosines (default 1: a plain cosine to 0).

    Returns
    -------
    Schedule
        Held at 0 from ``T`` on.

    Raises
    ------
    ValueError
        If ``lr`` is not positive, ``num_cycles < 1`` or the step counts are out of
        range.

    References
    ----------
    Hugging Face transformers,
    ``transformers.get_cosine_with_hard_restarts_schedule_with_warmup``.
    I. Loshchilov and F. Hutter, "SGDR: stochastic gradient descent with warm restarts",
    ICLR 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow import schedules
    >>> s = schedules.warmup_cosine_restarts(1.0, 2, 10, num_cycles=2)
    >>> s(np.arange(12)).round(3)       # cycles start at 2 and 6
    array([0.   , 0.5  , 1.   , 0.854, 0.5  , 0.146, 1.   , 0.854, 0.5  , 0.146, 0.   ,
           0.   ])
    """
    return _WarmupCosineRestarts(lr, warmup_steps, total_steps, num_cycles)


class _WarmupPolynomial(_HFWarmup, Schedule):
    name = "warmup_polynomial"

    @classmethod
    def _example(cls) -> Schedule:
        return cls(0.1, 10, 100, 1e-4, 2.0)

    def __init__(
        self,
        lr: ArrayLike,
        warmup_steps: int,
        total_steps: int,
        end_lr: ArrayLike,
        power: ArrayLike,
    ) -> None:
        super().__init__(lr, warmup_steps)
        self.total_steps = self._check_total(total_steps)
        self.end_lr = _values(end_lr, "end_lr", positive=False)
        self.power = _values(power, "power")
        self.shape = _shape(self.lr, self.end_lr, self.power)
        if np.any(np.broadcast_to(self.end_lr >= self.lr, self.shape)):
            raise ValueError(
                f"end_lr must be smaller than lr (Hugging Face's lr_end < lr), got "
                f"end_lr = {_fmt(self.end_lr)}, lr = {_fmt(self.lr)}"
            )
        self.horizon = self.total_steps
        self.span = (11 * self.total_steps) // 10 + 1

    def _after(self, k: np.ndarray) -> np.ndarray:
        W, T = self.warmup_steps, self.total_steps
        remaining = 1.0 - (np.clip(k, W, T) - W) / (T - W)
        return (self.lr - self.end_lr) * remaining**self.power + self.end_lr

    def describe(self) -> str:
        W, T = self.warmup_steps, self.total_steps
        return (
            f"η(k) = lr·k/W for k < W, then (lr - end_lr)·(1 - (k - W)/(T - W))^p + end_lr "
            f"up to k = T, end_lr after, with lr = {_fmt(self.lr)}, end_lr = "
            f"{_fmt(self.end_lr)}, p = {_fmt(self.power)}, W = {W}, T = {T} (Hugging Face "
            f"get_polynomial_decay_schedule_with_warmup); {self._held()}"
        )


def warmup_polynomial(
    lr: ArrayLike,
    warmup_steps: int,
    total_steps: int,
    end_lr: ArrayLike = 1e-7,
    power: ArrayLike = 1.0,
) -> Schedule:
    """Linear warmup from 0, then polynomial decay to ``end_lr`` (Hugging Face).

    Hugging Face's ``get_polynomial_decay_schedule_with_warmup(lr_end, power)``:
    ``η(k) = lr·k/W`` for ``k < W``;
    ``η(k) = (lr - end_lr)·(1 - (k - W)/(T - W))^p + end_lr`` for ``W <= k <= T``, which
    reaches ``end_lr`` exactly at ``T = total_steps`` (the warmup included), held
    after.  (Hugging Face returns ``lr·(η/lr)`` through ``LambdaLR``, equal to this to
    rounding.)  :func:`polynomial` is the same decay without the warmup
    (``polynomial(lr, T, p, end_lr)``, optax's ``polynomial_schedule``).  Step 0 has
    step size 0.

    Parameters
    ----------
    lr : float or array_like
        Peak step size(s), ``> 0``.
    warmup_steps : int
        ``W >= 0``.
    total_steps : int
        ``T > W`` (Hugging Face's ``num_training_steps``).
    end_lr : float or array_like, optional
        Final step size, ``0 <= end_lr < lr`` (Hugging Face's ``lr_end``, default 1e-7).
    power : float or array_like, optional
        ``p > 0`` (default 1: linear decay).

    Returns
    -------
    Schedule
        Held at ``end_lr`` from ``T`` on.

    Raises
    ------
    ValueError
        If ``lr`` or ``power`` is not positive, ``end_lr`` is negative or not below
        ``lr``, or the step counts are out of range.

    References
    ----------
    Hugging Face transformers, ``transformers.get_polynomial_decay_schedule_with_warmup``.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow import schedules
    >>> s = schedules.warmup_polynomial(1.0, 2, 6, end_lr=0.2, power=2.0)
    >>> s(np.arange(8))
    array([0.  , 0.5 , 1.  , 0.65, 0.4 , 0.25, 0.2 , 0.2 ])
    """
    return _WarmupPolynomial(lr, warmup_steps, total_steps, end_lr, power)
