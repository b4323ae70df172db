"""The step-size policy protocol shared by constant steps, schedules and adaptive rules.

A policy proposes the step size of the next step from what it has seen and is told the
outcome of every step; the contract for writing one is the docstring of
:class:`StepSizePolicy`.

References
----------
E. Hairer and G. Wanner, *Solving Ordinary Differential Equations II*, 2nd ed.,
Springer, 1996, §IV.8 (step-size control as a policy fed back by the integrator).
P. Kidger, "On neural differential equations", PhD thesis, Oxford, 2021, §5.2
(step-size controllers as explicit-state functions).
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from gradflow._broadcast import per_element
from gradflow._validation import _got, check_callable, check_positive

__all__ = [
    "ConstantStep",
    "Observation",
    "ScheduledStep",
    "StepSizePolicy",
    "Verdict",
    "as_policy",
]


class Observation:
    """What a policy is told after a step (see :meth:`StepSizePolicy.update`).

    Parameters
    ----------
    k : int
        Steps taken so far (the step just finished was number ``k``, 1-based).
    theta : ndarray, shape (B, d)
        The new (trial) states of the active rows.
    loss : ndarray, shape (B,), optional
        Their losses; by default evaluated on first access through ``problem``.
    accepted : ndarray of bool, shape (B,), optional
        Which trial steps are accepted so far: policies composed before this one may
        have rejected some (see :class:`gradflow.stepsize.Product`); ``None`` means all.
    theta_old : ndarray, shape (B, d), optional
        The states the step started from.
    error : ndarray, shape (B, d), optional
        The method's local error estimate (embedded pairs).
    h : ndarray, shape (B,) or (1,), optional
        The step sizes used (after shortening to land on save times or ``t_final``);
        read back as shape ``(B,)``.
    grad : ndarray, shape (B, d), optional
        The gradient at the new states; by default evaluated on first access.
    problem : Problem, optional
        Where ``loss``, ``grad`` and :meth:`hvp` are evaluated when not given.
    method_state : NamedTuple, optional
        The method's new state (e.g. an adaptive optimiser's moments).

    Notes
    -----
    ``loss`` is non-finite for rows that are diverging (the driver removes them at its
    next check).

    References
    ----------
    E. Hairer and G. Wanner, *Solving Ordinary Differential Equations II*, 2nd ed.,
    Springer, 1996, §IV.8 (what a step-size controller is told after a step).
    """

    __slots__ = (
        "_grad",
        "_h",
        "_loss",
        "accepted",
        "error",
        "k",
        "method_state",
        "problem",
        "theta",
        "theta_old",
    )

    def __init__(
        self,
        k: int,
        theta: np.ndarray,
        loss: np.ndarray | None = None,
        accepted: np.ndarray | None = None,
        theta_old: np.ndarray | None = None,
        error: np.ndarray | None = None,
        h: np.ndarray | None = None,
        grad: np.ndarray | None = None,
        problem: Any = None,
        method_state: Any = None,
    ) -> None:
        self.k, self.theta, self.accepted = k, theta, accepted
        self.theta_old, self.error, self._h = theta_old, error, h
        self._loss, self._grad = loss, grad
        self.problem, self.method_state = problem, method_state

    def _require_problem(self, what: str) -> Any:
        if self.problem is None:
            raise ValueError(f"this observation has no {what} and no problem to evaluate it")
        return self.problem

    @property
    def h(self) -> np.ndarray | None:
        """The step sizes used, shape ``(B,)``."""
        h = self._h
        if h is not None and h.shape[0] != self.theta.shape[0]:
            h = self._h = np.repeat(h, self.theta.shape[0])  # cheaper than broadcast_to
        return h

    @h.setter
    def h(self, value: np.ndarray | None) -> None:
        self._h = value

    @property
    def loss(self) -> np.ndarray:
        """Losses of the new states, shape ``(B,)``."""
        if self._loss is None:
            self._loss = self._require_problem("loss").loss(self.theta)
        return self._loss

    @property
    def grad(self) -> np.ndarray:
        """Gradients at the new states, shape ``(B, d)`` (counted)."""
        if self._grad is None:
            self._grad = self._require_problem("gradient").grad(self.theta)
        return self._grad

    def hvp(self, v: np.ndarray) -> np.ndarray:
        """Hessian-vector products ``∇²L(θ) v`` at the new states (counted)."""
        return self._require_problem("Hessian").hvp(self.theta, v)

    def with_accepted(self, accepted: np.ndarray | None) -> Observation:
        """The same observation with another acceptance mask (evaluations shared)."""
        other = Observation(
            self.k,
            self.theta,
            self._loss,
            accepted,
            self.theta_old,
            self.error,
            self._h,
            self._grad,
            self.problem,
            self.method_state,
        )
        return other


class Verdict(NamedTuple):
    """What :meth:`StepSizePolicy.update` decides about the rows' trial steps.

    Attributes
    ----------
    accepted : ndarray of bool, shape (B,), or None
        Rows whose trial step is kept; the others retry from their old state.  ``None``
        accepts every row.
    too_small : ndarray of bool, shape (B,), or None
        Rows the policy gives up on (its step fell below its minimum); they stop with
        status ``"step_too_small"``.
    stop : ndarray of bool, shape (B,), or None
        Rows the policy ends (e.g. a range test that has seen the loss blow up); they
        stop with status ``"stopped"``.

    References
    ----------
    E. Hairer, S. P. Nørsett and G. Wanner, *Solving Ordinary Differential Equations I*,
    2nd ed., Springer, 1993, §II.4 (accepting or rejecting a trial step).
    """

    accepted: np.ndarray | None = None
    too_small: np.ndarray | None = None
    stop: np.ndarray | None = None


#: The verdict of a policy that never rejects nor stops.
ACCEPT = Verdict()


class StepSizePolicy(abc.ABC):
    """Base class of step-size policies: ``init``, ``propose``, ``update``.

    There are no capability flags: what a policy needs it reads from the
    :class:`Observation` (evaluated on first access, shared with the method, counted).
    Policies compose with ``*`` (:class:`~gradflow.stepsize.Product`),
    :class:`~gradflow.stepsize.Join` and :class:`~gradflow.stepsize.Clip`.

    Contract for writing a policy
    -----------------------------
    1. Subclass :class:`StepSizePolicy`.  Validate the arguments in ``__init__``; keep no
       run state on the object (a policy may be used by several runs at once).
    2. ``init(problem, theta0, batch_shape, method)`` returns the policy state for the
       batch ``theta0`` of shape ``(B, d)`` (the user's batch shape flattened).  The state
       is a ``NamedTuple`` whose fields are arrays with the rows on their leading axis; the
       driver drops finished rows from every field except those the class lists in its
       attribute ``SHARED`` (values shared by all rows: a length-1 step, a dtype, ...).
    3. ``propose(state, k)`` returns the step sizes of step ``k`` (0-based), shape ``(B,)``
       or ``(1,)`` when equal for every row, in ``theta0``'s dtype.  While the proposal
       does not change the driver keeps exact times ``t_0 + k h`` (returning the very same
       array as before saves it the comparison).
    4. ``update(state, observation) -> (state, verdict)`` is called after every step with
       an :class:`Observation`.  Its loss, gradient and HVP at the new states are computed
       on first access through the driver's counting, caching view of the problem (so a
       rule that reads ``∇L(θ_{k+1})`` and a method that needs it at the next step share
       one evaluation, and every evaluation is counted per row).  The :class:`Verdict`
       says which rows' trial steps are accepted (rejected rows keep their old state and
       retry with the next proposal), and which rows stop.

    ``problem`` in ``init`` is that same counting view: its evaluations are counted.

    References
    ----------
    E. Hairer and G. Wanner, *Solving Ordinary Differential Equations II*, 2nd ed.,
    Springer, 1996, §IV.8.  G. Söderlind, "Digital filters in adaptive time-stepping",
    ACM TOMS 29, 1–26, 2003 (controllers as state machines fed by the integrator).

    Examples
    --------
    A policy that halves the step of every element whose loss went up:

    >>> from typing import NamedTuple
    >>> import numpy as np, gradflow as gf
    >>> class State(NamedTuple):
    ...     h: np.ndarray
    ...     last: np.ndarray
    >>> class HalveOnIncrease(gf.stepsize.StepSizePolicy):
    ...     def init(self, problem, theta0, batch_shape, method):
    ...         return State(np.full(theta0.shape[0], 0.25), problem.loss(theta0))
    ...     def propose(self, state, k):
    ...         return state.h
    ...     def update(self, state, obs):
    ...         h = np.where(obs.loss > state.last, state.h / 2, state.h)
    ...         return State(h, obs.loss), gf.stepsize.Verdict()
    >>> p = gf.problems.quadratic([1.0, 10.0], seed=0)
    >>> traj = gf.solve(p, np.ones(2), stepsize=HalveOnIncrease(), steps=50, save="final")
    >>> float(traj.h[-1]) < 0.2, str(traj.status)
    (True, 'ok')
    """

    @abc.abstractmethod
    def init(
        self, problem: Any, theta0: np.ndarray, batch_shape: tuple[int, ...], method: Any
    ) -> Any:
        """Return the policy state for a batch ``theta0`` of shape ``(B, d)``."""

    @abc.abstractmethod
    def propose(self, state: Any, k: int) -> np.ndarray:
        """Step size of step ``k`` (0-based), shape ``(B,)`` or ``(1,)``."""

    def update(self, state: Any, observation: Observation) -> tuple[Any, Verdict]:
        """The new state and the verdict on the trial step; the default accepts all."""
        return state, ACCEPT

    def __mul__(self, other: Any) -> StepSizePolicy:
        from gradflow.stepsize._compose import Product

        return Product(self, other)

    __rmul__ = __mul__


class _SharedStep(NamedTuple):
    h: np.ndarray  # (1,)
    SHARED = ("h",)


class _RowStep(NamedTuple):
    h: np.ndarray  # (B,)


class ConstantStep(StepSizePolicy):
    """A fixed step size, a scalar or one per batch element.

    Parameters
    ----------
    h : float or array_like
        Positive step size(s), broadcastable to the batch shape (e.g. ``hs[:, None]``
        with ``theta0`` of shape ``(n_h, n_ic, d)`` sweeps step sizes × starts).

    Raises
    ------
    TypeError
        If ``h`` is not a real number or an array of them (a bool, a string, ``None``,
        an array of booleans...).
    ValueError
        If ``h`` is not finite and positive, is empty or ragged, or does not broadcast
        to the batch.
    """

    def __init__(self, h: ArrayLike) -> None:
        self.h = check_positive(h, "stepsize", allow_array=True)

    def init(
        self, problem: Any, theta0: np.ndarray, batch_shape: tuple[int, ...], method: Any
    ) -> Any:
        if self.h.size == 1:
            # One step for all: a length-1 array keeps the update a scalar broadcast.
            return _SharedStep(self.h.reshape(1).astype(theta0.dtype))
        full = per_element(self.h, "stepsize", batch_shape)
        return _RowStep(np.ascontiguousarray(full, dtype=theta0.dtype))

    def propose(self, state: Any, k: int) -> np.ndarray:
        return state.h

    def __repr__(self) -> str:
        return f"ConstantStep(h={self.h!r})"


class _ScheduledState(NamedTuple):
    index: np.ndarray  # (B,) element id of every row
    batch_shape: tuple[int, ...]
    dtype: Any
    SHARED = ("batch_shape", "dtype")


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
    TypeError
        If ``schedule`` is not callable; during the run, if it returns something other
        than real numbers (a string, a bool, a complex number, ``None``...).
    ValueError
        During the run, if the schedule returns a negative or non-finite value.
    """

    def __init__(self, schedule: Callable[[int], ArrayLike]) -> None:
        self.schedule = check_callable(schedule, "schedule")

    def init(
        self, problem: Any, theta0: np.ndarray, batch_shape: tuple[int, ...], method: Any
    ) -> Any:
        return _ScheduledState(np.arange(theta0.shape[0]), batch_shape, theta0.dtype)

    def propose(self, state: Any, k: int) -> np.ndarray:
        raw = self.schedule(k)
        value = np.asarray(raw)
        if value.dtype.kind not in "iuf":  # a string, a bool, a complex number, None...
            raise TypeError(
                f"stepsize schedule must return a number >= 0 or an array of them, "
                f"{_got(raw)} at step {k}"
            )
        value = value.astype(state.dtype, copy=False)
        # Zero is allowed (warmup from 0, decay to 0): that step leaves θ unchanged.
        if value.ndim == 0:
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"stepsize schedule returned {value} at step {k}; expected >= 0")
            return value.reshape(1)
        if not np.all(np.isfinite(value)) or np.any(value < 0):
            raise ValueError(f"stepsize schedule value at step {k} must be finite and >= 0")
        try:
            per_row = np.broadcast_to(value, state.batch_shape)
        except ValueError:
            raise ValueError(
                f"stepsize schedule value at step {k} has shape {value.shape}, which does "
                f"not broadcast to the batch shape {state.batch_shape}"
            ) from None
        return per_row.reshape(-1)[state.index]

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
    if isinstance(stepsize, (str, bytes, bool, np.bool_)) or stepsize is None:
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
