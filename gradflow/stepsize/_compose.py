"""Composition of step-size policies: products, sequences and clips.

Any policy, schedule (a callable of the step index) or constant composes:

* :class:`Product` multiplies proposals: a schedule times another, times any callable
  factor (PyTorch's ``ChainedScheduler``, ``LambdaLR``), or times an adaptive policy;
* :class:`Join` runs one policy after another at given step boundaries (a warmup then
  ``ReduceOnPlateau``: optax's ``join_schedules``, PyTorch's ``SequentialLR``);
* :class:`Clip` bounds what a policy proposes (e.g. a controller's step).

Every part is told of every step it takes part in.  The acceptance decided by the
parts updated before it reaches the next one (``Observation.accepted``), so a step a
controller rejects is a rejected step for a ``ReduceOnPlateau`` composed after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from gradflow._validation import check_nonnegative, check_step_count
from gradflow.stepsize._policy import Observation, StepSizePolicy, Verdict, as_policy

__all__ = ["Clip", "Join", "Product"]


def _either(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    if a is None:
        return b
    return a if b is None else a | b


def _combine(first: Verdict, second: Verdict) -> Verdict:
    """Accepted by both; stopped or given up by either."""
    if first.accepted is None:
        accepted = second.accepted
    elif second.accepted is None:
        accepted = first.accepted
    else:
        accepted = first.accepted & second.accepted
    return Verdict(
        accepted, _either(first.too_small, second.too_small), _either(first.stop, second.stop)
    )


class _Parts(NamedTuple):
    """States of the parts, in order (compacted part by part)."""

    states: tuple


class Product(StepSizePolicy):
    r"""The step ``h_k = ∏_i p_i(k)`` of several policies, schedules or constants.

    Parameters
    ----------
    *parts : StepSizePolicy, callable or float
        At least two factors; callables are schedules of the step index and numbers
        constant factors (as :func:`gradflow.stepsize.as_policy` reads them).  A
        schedule of factors (values near 1) times a base step is PyTorch's
        ``LambdaLR``; two schedules whose product is wanted are its
        ``ChainedScheduler`` (give all but one of them a start of 1).

    Notes
    -----
    Each part is updated, in order, with the step it contributed: the step used times
    its own share ``p_i / ∏_j p_j`` (so an error controller in a product controls its
    own factor, and a step shortened to land on a save time is shortened for every
    part alike), and with the acceptance decided by the parts before it.

    Raises
    ------
    ValueError
        If fewer than two parts are given.
    TypeError
        If a part is not a policy, a callable or a positive number.

    References
    ----------
    PyTorch, ``torch.optim.lr_scheduler.ChainedScheduler`` and ``LambdaLR``.

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 10.0], seed=0)
    >>> decay = gf.stepsize.Product(0.1, lambda k: 0.99**k)      # LambdaLR
    >>> traj = gf.solve(p, np.ones(2), stepsize=decay, steps=3)
    >>> np.round(traj.h[1:], 6).tolist()      # h[k] is the step that led to θ_k
    [0.1, 0.099, 0.09801]
    """

    def __init__(self, *parts: Any) -> None:
        if len(parts) < 2:
            raise ValueError(f"Product needs at least two parts, got {len(parts)}")
        self.parts = tuple(as_policy(part) for part in parts)

    def init(
        self, problem: Any, theta0: np.ndarray, batch_shape: tuple[int, ...], method: Any
    ) -> _Parts:
        return _Parts(tuple(p.init(problem, theta0, batch_shape, method) for p in self.parts))

    def _proposals(self, state: _Parts, k: int) -> list[np.ndarray]:
        return [p.propose(s, k) for p, s in zip(self.parts, state.states, strict=True)]

    def propose(self, state: _Parts, k: int) -> np.ndarray:
        proposals = self._proposals(state, k)
        total = proposals[0]
        for h in proposals[1:]:
            total = total * h
        return total

    def update(self, state: _Parts, observation: Observation) -> tuple[_Parts, Verdict]:
        k = observation.k - 1
        proposals = self._proposals(state, k)
        total = self.propose(state, k)
        verdict = Verdict()
        states = []
        for part, s, own in zip(self.parts, state.states, proposals, strict=True):
            with np.errstate(divide="ignore", invalid="ignore"):
                share = np.where(total > 0, own / total, 1.0)
            h = observation.h if observation.h is None else observation.h * share
            seen = observation.with_accepted(verdict.accepted)
            seen.h = None if h is None else np.broadcast_to(h, observation.h.shape)
            s, v = part.update(s, seen)
            states.append(s)
            verdict = _combine(verdict, v)
        return _Parts(tuple(states)), verdict

    def __repr__(self) -> str:
        return f"Product({', '.join(repr(p) for p in self.parts)})"


class Join(StepSizePolicy):
    """One policy after another: ``parts[i]`` for steps in ``[boundaries[i-1], boundaries[i])``.

    Each part counts its own steps from 0 at its boundary (optax's ``join_schedules``);
    every part is initialised at the start of the run and updated only on its own steps.

    Parameters
    ----------
    parts : sequence of StepSizePolicy, callable or float
        The policies in order (numbers and callables as for :func:`as_policy`).
    boundaries : sequence of int
        ``len(parts) - 1`` strictly increasing step indices ``>= 1``.

    Raises
    ------
    TypeError
        If ``boundaries`` is not a sequence of integers.
    ValueError
        If the lengths disagree or the boundaries are not increasing positive integers.

    References
    ----------
    PyTorch, ``torch.optim.lr_scheduler.SequentialLR``; optax, ``join_schedules``.

    Examples
    --------
    A linear warmup over 20 steps, then ``ReduceOnPlateau``:

    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 10.0], seed=0)
    >>> warmup = gf.schedules.linear(0.15, start_factor=0.1, total_steps=20)
    >>> policy = gf.stepsize.Join([warmup, gf.rules.ReduceOnPlateau(0.15)], [20])
    >>> traj = gf.solve(p, np.ones(2), stepsize=policy, steps=100, save="final")
    >>> str(traj.status)
    'ok'
    """

    def __init__(self, parts: Sequence[Any], boundaries: Sequence[int]) -> None:
        parts = list(parts)
        if isinstance(boundaries, (str, bytes)) or not isinstance(
            boundaries, (Sequence, np.ndarray)
        ):
            raise TypeError(
                "boundaries must be a sequence of integers >= 1, "
                f"got {boundaries!r} ({type(boundaries).__name__})"
            )
        if len(parts) < 2 or len(boundaries) != len(parts) - 1:
            raise ValueError(
                f"Join needs n >= 2 parts and n - 1 boundaries, got {len(parts)} parts and "
                f"{len(boundaries)} boundaries"
            )
        bounds = [check_step_count(b, "boundaries", 1) for b in boundaries]
        if np.any(np.diff(bounds) <= 0):
            raise ValueError(f"boundaries must be strictly increasing, got {list(boundaries)}")
        self.parts = tuple(as_policy(part) for part in parts)
        self.boundaries = np.array(bounds, dtype=np.int64)

    def _piece(self, k: int) -> tuple[int, int]:
        """Index of the part that takes step ``k``, and its local step index."""
        i = int(np.searchsorted(self.boundaries, k, side="right"))
        start = 0 if i == 0 else int(self.boundaries[i - 1])
        return i, k - start

    def init(
        self, problem: Any, theta0: np.ndarray, batch_shape: tuple[int, ...], method: Any
    ) -> _Parts:
        return _Parts(tuple(p.init(problem, theta0, batch_shape, method) for p in self.parts))

    def propose(self, state: _Parts, k: int) -> np.ndarray:
        i, local = self._piece(k)
        return self.parts[i].propose(state.states[i], local)

    def update(self, state: _Parts, observation: Observation) -> tuple[_Parts, Verdict]:
        i, local = self._piece(observation.k - 1)
        seen = observation.with_accepted(observation.accepted)
        seen.k = local + 1
        new, verdict = self.parts[i].update(state.states[i], seen)
        states = list(state.states)
        states[i] = new
        return _Parts(tuple(states)), verdict

    def __repr__(self) -> str:
        return f"Join([{', '.join(repr(p) for p in self.parts)}], {self.boundaries.tolist()})"


class Clip(StepSizePolicy):
    """A policy's proposals clipped to ``[h_min, h_max]``.

    Parameters
    ----------
    policy : StepSizePolicy or callable
        The policy whose proposals are bounded (it is updated with the clipped step it
        took, as an error controller should be).
    h_min, h_max : float, optional
        Bounds, ``0 <= h_min < h_max``; at least one must be given.

    Raises
    ------
    TypeError
        If a bound is not a real number.
    ValueError
        If neither bound is given, a bound is negative or not finite, or they are out of
        order.

    References
    ----------
    P. Kidger, diffrax ``ClipStepSizeController`` (bounding a controller's steps);
    E. Hairer, S. P. Nørsett and G. Wanner, *Solving Ordinary Differential Equations I*,
    2nd ed., Springer, 1993, §II.4 (``h_max``).

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 10.0], seed=0)
    >>> capped = gf.stepsize.Clip(gf.rules.BarzilaiBorwein(1, h0=0.05), h_max=0.15)
    >>> traj = gf.solve(p, np.ones(2), stepsize=capped, steps=50)
    >>> bool(traj.h.max() <= 0.15)
    True
    """

    def __init__(self, policy: Any, h_min: float | None = None, h_max: float | None = None) -> None:
        if h_min is None and h_max is None:
            raise ValueError("Clip needs h_min or h_max")
        self.policy = as_policy(policy)
        self.h_min = 0.0 if h_min is None else check_nonnegative(h_min, "h_min")
        self.h_max = np.inf if h_max is None else check_nonnegative(h_max, "h_max")
        if not self.h_min < self.h_max:
            raise ValueError(f"h_min must be < h_max, got {self.h_min} and {self.h_max}")

    def init(
        self, problem: Any, theta0: np.ndarray, batch_shape: tuple[int, ...], method: Any
    ) -> Any:
        return self.policy.init(problem, theta0, batch_shape, method)

    def propose(self, state: Any, k: int) -> np.ndarray:
        h = self.policy.propose(state, k)
        return np.clip(h, self.h_min, self.h_max).astype(h.dtype, copy=False)

    def update(self, state: Any, observation: Observation) -> tuple[Any, Verdict]:
        return self.policy.update(state, observation)

    def __repr__(self) -> str:
        return f"Clip({self.policy!r}, h_min={self.h_min}, h_max={self.h_max})"
