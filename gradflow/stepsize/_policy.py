"""The step-size policy protocol shared by constant steps, schedules and adaptive rules.

A policy proposes the step size of the next step from what it has seen.  The driver
(:func:`gradflow.solve`) calls, per run:

1. ``state = policy.init(problem, theta0, batch_shape)`` with ``theta0`` of shape
   ``(B, d)`` (the batch flattened) and the user's batch shape;
2. before each step ``h = policy.propose(state, k)``, an array of shape ``(B,)`` (or
   ``(1,)`` when equal for every element) in ``theta0``'s dtype;
3. after each step, for policies that are not ``stateless``,
   ``state = policy.observe(state, Observation(k, theta, loss, accepted, ...))`` with the
   number of steps taken, the new states ``(B, d)``, their losses ``(B,)`` (evaluated
   only for policies with ``needs_loss = True``, else None), the old states, the
   method's error estimate, the step sizes used and (``needs_grad``) the new gradients;
4. an ``adaptive`` policy is asked instead ``verdict = policy.review(state, observation)``
   and returns a :class:`Verdict`: the elements it rejects keep their old state and
   retry with the step it proposes next; those it gives up on stop.

Every field of a policy state is an array whose leading axis is the batch axis (or has
length 1, shared by every element), so the driver can drop finished elements from it.
``constant`` is ``True`` for a step size that never changes, which lets the driver
compute times as ``t_k = k h`` exactly.

References
----------
E. Hairer and G. Wanner, *Solving Ordinary Differential Equations II*, 2nd ed.,
Springer, 1996, §IV.8 (step-size control as a policy fed back by the integrator).
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "ConstantStep",
    "Observation",
    "ScheduledStep",
    "StepSizePolicy",
    "Verdict",
    "as_policy",
]


class Observation(NamedTuple):
    """What a policy is told after a step (see :meth:`StepSizePolicy.observe`).

    Attributes
    ----------
    k : int
        Steps taken so far (the step just finished was number ``k``, 1-based).
    theta : ndarray, shape (B, d)
        The new (trial) states of the active elements.
    loss : ndarray, shape (B,), or None
        Their losses, when the policy ``needs_loss``.  Non-finite for elements that are
        diverging (the driver removes them at its next check).
    accepted : ndarray of bool, shape (B,), or bool
        Whether each element's step was accepted (True for non-adaptive policies).
    theta_old : ndarray, shape (B, d)
        The states the step started from.
    error : ndarray, shape (B, d), or None
        The method's local error estimate (embedded pairs).
    h : ndarray, shape (B,)
        The step sizes used (after shortening to land on save times or ``t_final``).
    grad : ndarray, shape (B, d), or None
        The gradient at the new states, when the policy ``needs_grad`` (counted in the
        trajectory's gradient evaluations).
    """

    k: int
    theta: np.ndarray
    loss: np.ndarray | None
    accepted: np.ndarray | bool
    theta_old: np.ndarray | None = None
    error: np.ndarray | None = None
    h: np.ndarray | None = None
    grad: np.ndarray | None = None


class Verdict(NamedTuple):
    """What an adaptive policy returns from :meth:`StepSizePolicy.review`.

    Attributes
    ----------
    state : NamedTuple
        The updated policy state.
    accepted : ndarray of bool, shape (B,)
        Elements whose trial step is kept; the others retry from their old state.
    too_small : ndarray of bool, shape (B,), or None
        Elements for which the policy gives up (its step fell below its minimum); the
        driver stops them with status ``"step_too_small"``.
    """

    state: Any
    accepted: np.ndarray
    too_small: np.ndarray | None = None


class StepSizePolicy(abc.ABC):
    """Base class of step-size policies (see the module docstring for the protocol)."""

    #: True when the proposal never changes over a run.
    constant: bool = False
    #: True when :meth:`observe` never changes the state (it is then not called).
    stateless: bool = False
    #: True when :meth:`observe` needs the loss of the new states (one extra loss
    #: evaluation per step).
    needs_loss: bool = False
    #: True when :meth:`observe` / :meth:`review` need the gradient at the new states
    #: (one extra gradient evaluation per step, counted).
    needs_grad: bool = False
    #: True when the policy accepts or rejects steps: the driver then calls
    #: :meth:`review` instead of :meth:`observe` and retries rejected elements.
    adaptive: bool = False
    #: Gradient evaluations per element spent by :meth:`init` (counted).
    init_grads: int = 0
    #: Gradient-equivalent evaluations :meth:`observe` spends per step on its own (e.g.
    #: an HVP), added to the trajectory's counts.
    extra_grads_per_step: int = 0

    @abc.abstractmethod
    def init(self, problem: Any, theta0: np.ndarray, batch_shape: tuple[int, ...]) -> Any:
        """Return the policy state for a batch ``theta0`` of shape ``(B, d)``."""

    @abc.abstractmethod
    def propose(self, state: Any, k: int) -> np.ndarray:
        """Step size of step ``k`` (0-based), shape ``(B,)`` or ``(1,)``."""

    def observe(self, state: Any, observation: Observation) -> Any:
        """Update the state after a step; the default ignores the outcome."""
        return state

    def review(self, state: Any, observation: Observation) -> Verdict:
        """Accept or reject each element's trial step (adaptive policies only)."""
        raise NotImplementedError(f"{type(self).__name__} does not review steps")


def _check_positive(values: np.ndarray, label: str) -> None:
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"{label} must be finite and > 0, got {values}")


class _ConstantState(NamedTuple):
    h: np.ndarray


class ConstantStep(StepSizePolicy):
    """A fixed step size, a scalar or one per batch element.

    Parameters
    ----------
    h : float or array_like
        Positive step size(s), broadcastable to the batch shape (e.g. ``hs[:, None]``
        with ``theta0`` of shape ``(n_h, n_ic, d)`` sweeps step sizes × starts).

    Raises
    ------
    ValueError
        If ``h`` is not finite and positive, or does not broadcast to the batch.
    """

    constant = True
    stateless = True

    def __init__(self, h: ArrayLike) -> None:
        values = np.asarray(h, dtype=float)
        _check_positive(values, "stepsize")
        self.h = values

    def init(self, problem: Any, theta0: np.ndarray, batch_shape: tuple[int, ...]) -> Any:
        try:
            full = np.broadcast_to(self.h, batch_shape)
        except ValueError:
            raise ValueError(
                f"stepsize of shape {self.h.shape} does not broadcast to the batch shape "
                f"{batch_shape} of theta0"
            ) from None
        if self.h.size == 1:
            # One step for all: a length-1 array keeps the update a scalar broadcast.
            return _ConstantState(self.h.reshape(1).astype(theta0.dtype))
        return _ConstantState(np.ascontiguousarray(full.reshape(-1), dtype=theta0.dtype))

    def propose(self, state: Any, k: int) -> np.ndarray:
        return state.h

    def __repr__(self) -> str:
        return f"ConstantStep(h={self.h!r})"


class _ScheduledState(NamedTuple):
    index: np.ndarray


class ScheduledStep(StepSizePolicy):
    """Step size ``h_k = schedule(k)`` from a pure function of the step index.

    Parameters
    ----------
    schedule : callable
        ``schedule(k) -> float`` (or an array broadcastable to the batch shape) for the
        0-based step index ``k``; every value must be finite and >= 0 (a zero step
        leaves θ unchanged; in a ``t_final`` run it does not advance time either).

    Raises
    ------
    ValueError
        During the run, if the schedule returns a negative or non-finite value.
    """

    stateless = True

    def __init__(self, schedule: Callable[[int], ArrayLike]) -> None:
        if not callable(schedule):
            raise TypeError(f"schedule must be callable, got {type(schedule).__name__}")
        self.schedule = schedule

    def init(self, problem: Any, theta0: np.ndarray, batch_shape: tuple[int, ...]) -> Any:
        self._batch_shape = batch_shape
        self._dtype = theta0.dtype
        return _ScheduledState(np.arange(theta0.shape[0]))

    def propose(self, state: Any, k: int) -> np.ndarray:
        value = np.asarray(self.schedule(k), dtype=self._dtype)
        # Zero is allowed (warmup from 0, decay to 0): that step leaves θ unchanged.
        if value.ndim == 0:
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"stepsize schedule returned {value} at step {k}; expected >= 0")
            return value.reshape(1)
        if not np.all(np.isfinite(value)) or np.any(value < 0):
            raise ValueError(f"stepsize schedule value at step {k} must be finite and >= 0")
        return np.broadcast_to(value, self._batch_shape).reshape(-1)[state.index]

    def __repr__(self) -> str:
        return f"ScheduledStep({self.schedule!r})"


def as_policy(stepsize: Any) -> StepSizePolicy:
    """Turn what :func:`gradflow.solve` accepts as ``stepsize`` into a policy.

    A :class:`StepSizePolicy` is returned as is, a callable becomes a
    :class:`ScheduledStep`, and a number or array a :class:`ConstantStep`.

    Parameters
    ----------
    stepsize : float, array_like, callable or StepSizePolicy

    Returns
    -------
    StepSizePolicy

    Raises
    ------
    TypeError
        If ``stepsize`` is none of these.
    ValueError
        If a constant step is not finite and positive.
    """
    if isinstance(stepsize, StepSizePolicy):
        return stepsize
    if callable(stepsize):
        return ScheduledStep(stepsize)
    if isinstance(stepsize, (str, bytes)) or stepsize is None:
        raise TypeError(
            "stepsize must be a positive float, an array of them, a schedule or a "
            f"StepSizePolicy, got {stepsize!r}"
        )
    try:
        return ConstantStep(stepsize)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ValueError) and "stepsize" in str(exc):
            raise
        raise TypeError(
            "stepsize must be a positive float, an array of them, a schedule or a "
            f"StepSizePolicy, got {stepsize!r}"
        ) from None
