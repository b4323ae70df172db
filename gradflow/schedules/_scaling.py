r"""Batch-size scaling rules and the decoupled-weight-decay schedule that goes with a step
schedule.

* :func:`linear_scaling` — ``h ∝ B`` with a gradual warmup (Goyal et al. 2017);
* :func:`sqrt_scaling` — ``h ∝ √B`` (Krizhevsky 2014; Hoffer et al. 2017);
* :func:`constant_decay_product` — ``λ_k = c/h_k``, so that decoupled weight decay
  (:class:`~gradflow.methods.AdamW`, :class:`~gradflow.methods.Lion`), which shrinks
  ``θ`` by ``h_k λ`` per step, keeps shrinking it by ``c`` while ``h_k`` decays.

Why these rules: SGD with step ``h`` and batch ``B`` follows, to first order, the SDE
``dθ = -∇L dt + √(h/B) Σ^{1/2} dW`` (Li, Tai & E 2017).  Keeping ``h/B`` fixed keeps the
noise temperature and, per epoch (``n/B`` steps of ``h``), the distance travelled in
``t``: the linear rule.  Keeping ``h/√B`` fixed keeps the covariance of the per-step
update ``h²Σ/B`` fixed: the square-root rule.  Large ``h`` are unstable early in training
(``h λmax > 2``), hence the warmup from the base step.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from gradflow.schedules._base import Schedule, _count, _fmt, _values
from gradflow.schedules._combinators import _check_schedule, linear_warmup
from gradflow.schedules._decay import constant

__all__ = ["ScaledStep", "constant_decay_product", "linear_scaling", "sqrt_scaling"]

#: Goyal et al. (2017) warm up over 5 epochs.
GOYAL_WARMUP_EPOCHS = 5


class _DecayProduct(Schedule):
    name = "constant_decay_product"

    @classmethod
    def _example(cls) -> Schedule:
        return cls(constant(0.1), 1e-4)

    def __init__(self, schedule: Schedule, product: ArrayLike) -> None:
        self.schedule = _check_schedule(schedule, "schedule")
        self.product = _values(product, "product")
        self.shape = np.broadcast_shapes(self.product.shape, schedule.shape)
        self.horizon = schedule.horizon
        self.span = schedule.span

    def _evaluate(self, k: np.ndarray) -> np.ndarray:
        return self.product / self.schedule._evaluate(k)

    def describe(self) -> str:
        return f"λ(k) = c/s(k) with c = {_fmt(self.product)} and s: {self.schedule.describe()}"


def constant_decay_product(schedule: Schedule, product: ArrayLike) -> Schedule:
    r"""The weight-decay schedule ``λ_k = product/h_k`` that keeps ``h_k λ_k`` constant.

    Decoupled weight decay shrinks ``θ ← θ(1 - h_k λ)`` per step, so under a decaying
    step schedule its effect fades with ``h_k``; pass this schedule as ``weight_decay`` of
    :class:`~gradflow.methods.AdamW` or :class:`~gradflow.methods.Lion` (it is evaluated
    on each element's step counter, the same index as ``schedule`` in
    :func:`gradflow.solve`) to keep the per-step shrink at ``product`` — the
    schedule-multiplier form of Loshchilov & Hutter's Algorithm 2, in which the decay is
    multiplied by the schedule multiplier ``η_t`` rather than by the learning rate.

    Parameters
    ----------
    schedule : Schedule
        The step-size schedule ``k -> h_k`` of the run.
    product : float or array_like
        ``c = h_k λ_k > 0``.

    Returns
    -------
    Schedule

    Raises
    ------
    TypeError
        If ``schedule`` is not a gradflow schedule.
    ValueError
        If ``product`` is not positive.

    References
    ----------
    I. Loshchilov and F. Hutter, "Decoupled weight decay regularization", ICLR 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow import schedules
    >>> h = schedules.cosine(1e-2, 100, 1e-3)
    >>> lam = schedules.constant_decay_product(h, 1e-4)
    >>> k = np.array([0, 50, 99])
    >>> (h(k) * lam(k)).round(12).tolist()
    [0.0001, 0.0001, 0.0001]
    """
    return _DecayProduct(schedule, product)


class ScaledStep(NamedTuple):
    """What a scaling rule returns.

    Attributes
    ----------
    h : float
        The scaled step size for the new batch size.
    schedule : Schedule
        Linear warmup from the base step to ``h`` over ``warmup_steps``, then constant ``h``
        (pass it, or the ``ScaledStep`` itself, to :func:`gradflow.solve` as
        ``stepsize``; compose it with a decay by hand if needed).
    warmup_steps : int
        Length of the warmup.
    """

    h: float
    schedule: Schedule
    warmup_steps: int

    def __call__(self, k: ArrayLike) -> Any:
        """``schedule(k)``: a scaling rule's result is itself a step schedule, so it can
        be passed to :func:`gradflow.solve` as ``stepsize`` directly."""
        return self.schedule(k)


def _scaled(
    h_base: Any, batch_base: Any, batch: Any, warmup_steps: Any, power: float
) -> ScaledStep:
    for label, value in (("h_base", h_base),):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"{label} must be a real number, got {value!r}")
        if not (math.isfinite(float(value)) and float(value) > 0):
            raise ValueError(f"{label} must be a positive finite number, got {value!r}")
    batch_base = _count(batch_base, "batch_base", 1)
    batch = _count(batch, "batch", 1)
    warmup_steps = _count(warmup_steps, "warmup_steps", 0)
    h = float(h_base) * (batch / batch_base) ** power
    sched = linear_warmup(constant(h), warmup_steps, start_lr=min(float(h_base), h))
    return ScaledStep(h, sched, warmup_steps)


def linear_scaling(h_base: float, batch_base: int, batch: int, warmup_steps: int = 0) -> ScaledStep:
    r"""Linear scaling rule: ``h = h_base · B/B_base``, with a gradual warmup.

    Goyal et al. (2017) train ResNet-50 with ``B`` up to 8192 by scaling the step
    linearly and warming up linearly from ``h_base`` to ``h`` over the first 5 epochs
    (``warmup_steps = 5 n/B`` for ``n`` examples; :data:`GOYAL_WARMUP_EPOCHS`): early in
    training ``h`` would exceed the stability limit ``2/λmax``.  The rule keeps the SDE
    temperature ``h/B`` (see the module docstring) and breaks down once ``B`` exceeds the
    noise scale ``B_simple`` (:func:`gradflow.analysis.simple_noise_scale`), where
    curvature, not noise, limits ``h``.

    Parameters
    ----------
    h_base : float
        Step size tuned at batch size ``batch_base``, ``> 0``.
    batch_base, batch : int
        Base and new batch sizes, ``>= 1``.
    warmup_steps : int, optional
        Warmup length (default 0: no warmup).

    Returns
    -------
    ScaledStep
        ``(h, schedule, warmup_steps)``; the schedule starts at ``min(h_base, h)``.

    Raises
    ------
    TypeError
        If ``h_base`` is not a number.
    ValueError
        If ``h_base <= 0``, a batch size is ``< 1`` or ``warmup_steps < 0``.

    References
    ----------
    P. Goyal et al., "Accurate, large minibatch SGD: training ImageNet in 1 hour",
    arXiv:1706.02677, 2017.

    Examples
    --------
    >>> from gradflow import schedules
    >>> r = schedules.linear_scaling(0.1, 256, 1024, warmup_steps=4)
    >>> r.h, [round(float(r.schedule(k)), 6) for k in range(6)]
    (0.4, [0.1, 0.175, 0.25, 0.325, 0.4, 0.4])
    """
    return _scaled(h_base, batch_base, batch, warmup_steps, 1.0)


def sqrt_scaling(h_base: float, batch_base: int, batch: int, warmup_steps: int = 0) -> ScaledStep:
    r"""Square-root scaling rule: ``h = h_base · √(B/B_base)``, with a gradual warmup.

    Keeps the covariance of one update, ``h² Σ/B``, fixed (Krizhevsky 2014); Hoffer et
    al. (2017) argue for it to keep the diffusion of the weights, with more steps
    ("regime adaptation") to compensate for the smaller distance per epoch.  It is also
    the rule usually quoted for Adam.  The warmup is as in :func:`linear_scaling`.

    Parameters
    ----------
    h_base : float
        Step size tuned at batch size ``batch_base``, ``> 0``.
    batch_base, batch : int
        Base and new batch sizes, ``>= 1``.
    warmup_steps : int, optional
        Warmup length (default 0).

    Returns
    -------
    ScaledStep

    Raises
    ------
    TypeError
        If ``h_base`` is not a number.
    ValueError
        If ``h_base <= 0``, a batch size is ``< 1`` or ``warmup_steps < 0``.

    References
    ----------
    A. Krizhevsky, "One weird trick for parallelizing convolutional neural networks",
    arXiv:1404.5997, 2014.
    E. Hoffer, I. Hubara and D. Soudry, "Train longer, generalize better: closing the
    generalization gap in large batch training of neural networks", NeurIPS 2017.

    Examples
    --------
    >>> from gradflow import schedules
    >>> schedules.sqrt_scaling(0.1, 256, 1024).h
    0.2
    """
    return _scaled(h_base, batch_base, batch, warmup_steps, 0.5)
