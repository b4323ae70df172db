"""The divergence guard: sparse checks, a snapshot of the last checked step, a replay.

An element diverges when its state

* has a non-finite entry (overflow, NaN), or
* has blown up: an entry exceeds :data:`GROWTH` times its start's scale
  ``max(‖θ_0‖_∞, 1)`` *and* its loss is not below the loss at its start.

The second rule catches the slow blow-ups of a step just past the stability limit
(``|θ_k| ~ ρ^k`` with ``ρ`` slightly above 1 reaches 10^8 times the start in
``8 ln 10 / ln ρ`` steps, long before an overflow at 10^308) while never flagging a
converging run: a run that descends has a loss below its start's, however far its
minimiser lies, and the transient growth of a stable momentum or Runge–Kutta run stays
orders of magnitude below 10^8.  With ``divergence_norm`` the ball
``‖θ‖₂ <= divergence_norm`` replaces the second rule.  A state past the threshold keeps
growing on an unstable mode, and a non-finite entry stays non-finite under any update
``θ + Δ``, so the state may be checked only every :data:`CHECK_INTERVAL` steps; the
exact step is then found by replaying the failed rows from the last checked state with
the steps the run used.  Each row's arithmetic in the replay is the one it had in the
batch, so the kept state (the last one inside) is bit for bit what a check at every
step would keep.  A norm ball is not absorbing, a callback sees every state, a method
may ask for it, and a policy that rejects steps changes what a replay would have to
repeat: in those cases every step is checked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from gradflow._driver.counting import CountingProblem, GradientCounter
from gradflow._rows import compact, merge_rows

__all__ = ["CHECK_INTERVAL", "DivergenceGuard", "Failure"]

#: Steps between divergence checks when nothing is saved or handed out in between.
CHECK_INTERVAL = 16

#: A state has blown up when an entry exceeds this many times its start's scale
#: ``max(‖θ_0‖_∞, 1)`` and its loss is not below the start's (see the module docstring).
GROWTH = 1e8


class Failure(NamedTuple):
    """Where each failed row ended: the step and state of its last good point."""

    step: np.ndarray  # (n,) step index of the kept state
    theta: np.ndarray  # (n, d)
    t: np.ndarray  # (n,)
    h: np.ndarray  # (n,) nominal step proposed there
    grads: np.ndarray  # (n,) uniform gradient count up to the failing step
    failed: np.ndarray  # (n,) bool: the method failed (else diverged)


class _Entry(NamedTuple):
    h_used: np.ndarray
    h_nominal: np.ndarray
    clock: Any  # ClockState after the step
    accepted: np.ndarray | None  # rows whose trial step was kept (None: all)


class DivergenceGuard:
    """Checks states for divergence and finds the exact step of a failure.

    Parameters
    ----------
    limit : float or None
        ``divergence_norm`` (None: the growth rule of the module docstring).
    sparse : bool
        Whether checks may be every :data:`CHECK_INTERVAL` steps.
    theta0 : ndarray, shape (B, d)
        The starts (their scales set the growth thresholds).
    loss : callable
        ``loss(theta)`` of the problem, evaluated only for rows past the threshold.
    start : callable
        ``start(rows)``: the starts of the active rows ``rows`` (for their losses).
    """

    def __init__(
        self,
        limit: float | None,
        sparse: bool,
        theta0: np.ndarray,
        loss: Callable[[np.ndarray], np.ndarray],
        start: Callable[[np.ndarray], np.ndarray],
    ) -> None:
        self.limit2 = None if limit is None else limit**2
        self.interval = CHECK_INTERVAL if sparse and limit is None else 1
        self.history: list[tuple] = []
        self.scale = np.maximum(np.abs(theta0).max(axis=-1), 1.0)
        self.loss, self.start = loss, start

    def compact(self, keep: np.ndarray) -> None:
        """Drop the thresholds of stopped rows."""
        self.scale = self.scale[keep]

    def snapshot(self, k: int, state: Any, clock: Any, uniform: int) -> None:
        """Remember the last checked step (states are never modified in place)."""
        self.k, self.state, self.clock, self.uniform = k, state, clock, uniform
        self.history = []

    def record(self, h_used: np.ndarray, h_nominal: np.ndarray, clock: Any, accepted: Any) -> None:
        """Remember a step since the snapshot: its steps, the clock after it, and which
        rows' trial steps were kept."""
        self.history.append((h_used, h_nominal, clock, accepted))

    def bad_rows(self, theta: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray | None:
        """Rows of ``theta`` that diverged (a mask), or None.

        ``rows`` are the active rows ``theta`` holds (all of them by default).  Two
        global reductions decide; rows are inspected only when they trip (every row's
        threshold is at least :data:`GROWTH`).  No BLAS: a threaded dot product stalls
        when the cores are busy.
        """
        if self.limit2 is not None:
            if np.square(theta).sum() <= self.limit2:
                return None
            bad = ~(np.square(theta).sum(axis=-1) <= self.limit2)
            return bad if bad.any() else None
        if max(theta.max(), -theta.min()) <= GROWTH:
            return None
        scale = self.scale if rows is None else self.scale[rows]
        bad = ~(np.abs(theta).max(axis=-1) <= GROWTH * scale)  # NaN rows included
        candidates = np.flatnonzero(bad & np.isfinite(theta).all(axis=-1))
        if candidates.size:
            active = candidates if rows is None else rows[candidates]
            loss = np.asarray(self.loss(theta[candidates]), dtype=float)
            bad[candidates] = ~(loss < np.asarray(self.loss(self.start(active)), dtype=float))
        return bad if bad.any() else None

    def replay(
        self, bad: np.ndarray, method: Any, problem_at: Callable[[int, np.ndarray], Any]
    ) -> Failure:
        """Re-run the rows ``bad`` from the snapshot and find each one's failing step.

        ``problem_at(k, rows)`` is the problem step ``k`` hands the method for the
        active rows ``rows``.
        """
        rows = np.flatnonzero(bad)
        n = rows.size
        sub = compact(self.state, bad)
        counter = GradientCounter(n)
        kept = _Kept(n, sub[0].shape[-1], sub[0].dtype)
        alive = np.ones(n, dtype=bool)
        clock = self.clock
        # A row may be outside already at the snapshot (a start outside the ball, or a
        # state a rejected step kept): it ends there.
        start = self.bad_rows(sub[0], rows)
        if start is not None:
            nominal = np.broadcast_to(self.history[0][1], (bad.size,))[rows]
            kept.keep(start, self.k, sub[0], clock.at(self.k, rows), nominal)
            kept.grads[start] = self.uniform
            alive &= ~start
        for j, entry in enumerate(map(_Entry._make, self.history)):
            if not alive.any():
                break
            h_rows = entry.h_used[rows] if entry.h_used.shape[0] > 1 else entry.h_used
            h_rows = np.broadcast_to(h_rows, (n,))
            counted = CountingProblem(problem_at(self.k + j, rows), None, counter)
            result = method.step(counted, sub, h_rows[:, None])
            found = self.bad_rows(result.state[0], rows)
            failed = result.failed
            if failed is not None and failed.any():
                found = failed if found is None else found | failed
            if found is not None and (found & alive).any():
                now_bad = found & alive
                nominal = np.broadcast_to(entry.h_nominal, (bad.size,))[rows]
                kept.keep(now_bad, self.k + j, sub[0], clock.at(self.k + j, rows), nominal)
                kept.grads[now_bad] = self.uniform + counter.uniform
                if failed is not None:
                    kept.failed[now_bad & failed] = True
                alive &= ~now_bad
                if not alive.any():
                    break
            new = result.state
            if entry.accepted is not None:
                new = merge_rows(entry.accepted[rows], new, sub)
            sub, clock = new, entry.clock
        if alive.any():  # pragma: no cover - the replay is deterministic
            raise RuntimeError("divergence replay did not reproduce the failure")
        return Failure(kept.step, kept.theta, kept.t, kept.h, kept.grads, kept.failed)


class _Kept:
    """The last good point of each replayed row."""

    def __init__(self, n: int, d: int, dtype: Any) -> None:
        self.step = np.full(n, -1, dtype=np.int64)
        self.theta = np.empty((n, d), dtype=dtype)
        self.t = np.empty(n)
        self.h = np.empty(n, dtype=dtype)
        self.grads = np.zeros(n, dtype=np.int64)
        self.failed = np.zeros(n, dtype=bool)

    def keep(self, rows: np.ndarray, k: int, theta: Any, t: Any, h: Any) -> None:
        self.step[rows] = k
        self.theta[rows] = theta[rows]
        self.t[rows] = t[rows]
        self.h[rows] = h[rows]
