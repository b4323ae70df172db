"""Warmup-then-decay schedules of Transformer and LLM training.

* :func:`warmup_cosine`: linear warmup then cosine decay, optax's
  ``warmup_cosine_decay_schedule`` (the LLM recipe: Chinchilla decays to 10 % of the peak;
  Llama 3 405B used peak 8e-5, 8,000 warmup steps, cosine to 8e-7 over 1.2M steps).
* :func:`wsd`: warmup-stable-decay, Hugging Face's ``get_wsd_schedule``.
* :func:`noam` and :func:`inverse_sqrt`: the Transformer schedule of Vaswani et al.
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

__all__ = ["inverse_sqrt", "noam", "warmup_cosine", "wsd"]

_DECAYS = ("linear", "cosine", "sqrt")
#: Default plot span of the inverse-square-root schedules, in warmup lengths.
SPAN_WARMUPS = 10


class _WarmupCosine(_LinearWarmup):
    name = "warmup_cosine"

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
        super().__init__(_Cosine(peak, T - W, self.end_lr), W, self.init_lr)

    def describe(self) -> str:
        W, T = self.warmup_steps, self.total_steps
        return (
            "η(k) = init + (peak - init)·k/W for k < W, then end + (peak - end)·(1 + "
            "cos(π·min(k - W, T - W)/(T - W)))/2, with "
            f"init = {_fmt(self.init_lr)}, peak = {_fmt(self.peak_lr)}, end = "
            f"{_fmt(self.end_lr)}, W = {W}, T = {T} (optax warmup_cosine_decay_schedule, "
            f"T includes the warmup); {self._held()}"
        )


def warmup_cosine(
    peak_lr: ArrayLike,
    warmup_steps: int,
    total_steps: int,
    init_lr: ArrayLike = 0.0,
    end_lr: ArrayLike = 0.0,
) -> Schedule:
    """Linear warmup then cosine decay (optax ``warmup_cosine_decay_schedule``).

    ``η(k) = init + (peak - init)·k/W`` for ``k < W``; then
    ``end + (peak - end)·(1 + cos(π·(k - W)/(T - W)))/2`` until ``k = T``, held at
    ``end`` after.  ``T = total_steps`` includes the warmup (optax's ``decay_steps``;
    Keras' ``decay_steps`` excludes it).  It is :func:`linear_warmup` of :func:`cosine`:
    ``linear_warmup(cosine(peak, T - W, end), W, init)``.  With the default
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

    Returns
    -------
    Schedule

    Raises
    ------
    ValueError
        If ``peak_lr`` is not positive, ``init_lr``/``end_lr`` negative, or the step
        counts are out of range.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow import schedules
    >>> s = schedules.warmup_cosine(1.0, warmup_steps=2, total_steps=6, init_lr=0.5)
    >>> s(np.arange(8)).round(4)
    array([0.5   , 0.75  , 1.    , 0.8536, 0.5   , 0.1464, 0.    , 0.    ])
    """
    return _WarmupCosine(peak_lr, warmup_steps, total_steps, init_lr, end_lr)


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
