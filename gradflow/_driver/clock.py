"""Per-row times of a run, and landing on save times and ``t_final``.

The time of a row is ``t = t_anchor + (k - k_anchor) h_ref``.  While a policy proposes
the very same step array as before (a constant step), nothing is re-anchored, so
``t_k = k h`` exactly and ``t_final = N h`` reproduces ``steps = N`` bit for bit.
Rows whose step changes, is shortened or is rejected are re-anchored at their new
time (for a step that changes every step this is the running sum ``t + h``), and a
row that lands on a stop takes the stop's exact time.  The arrays are never modified
in place, so a :meth:`Clock.state` taken earlier stays valid (the divergence replay
reads old times from it).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

__all__ = ["Clock", "ClockState"]

#: Two times closer than ``LANDING_RELATIVE * h + LANDING_ULPS * eps * |t|`` are taken as
#: equal when a step lands on a save time or ``t_final``: a step of ``h`` that ends that
#: close is not shortened (so ``t_final = N h`` reproduces ``steps = N`` bit for bit),
#: and no sliver step is taken to cover the rounding of accumulated times.
LANDING_RELATIVE = 1e-9
LANDING_ULPS = 16.0


def _per_row(values: np.ndarray, n: int) -> np.ndarray:
    """``values`` of shape ``(1,)`` or ``(n,)`` as ``(n,)`` (a small-array hot path:
    ``np.broadcast_to`` costs more than the arithmetic on a few rows)."""
    return values if values.shape[0] == n else np.repeat(values, n)


class ClockState(NamedTuple):
    """Anchors of the active rows: ``t = t_anchor + (k - k_anchor) h_ref``."""

    t_anchor: np.ndarray
    k_anchor: np.ndarray
    h_ref: np.ndarray

    def at(self, k: Any, rows: Any = slice(None)) -> np.ndarray:
        """Times of ``rows`` at step ``k`` (an int or one per row)."""
        h_ref = self.h_ref if self.h_ref.shape[0] == 1 else self.h_ref[rows]
        return self.t_anchor[rows] + (k - self.k_anchor[rows]) * h_ref


class Clock:
    """Times of the active rows and the stops they must land on.

    Parameters
    ----------
    n : int
        Number of rows.
    stops : ndarray or None
        Sorted times every row must land on exactly (save times and ``t_final``), or
        ``None`` for a run of a number of steps.
    eps : float
        Machine epsilon of the state's dtype (the landing slack).
    dtype : numpy dtype
        The state's dtype (shortened steps are cast to it).
    """

    def __init__(self, n: int, stops: np.ndarray | None, eps: float, dtype: Any) -> None:
        zeros = np.zeros(n)
        self.state = ClockState(zeros, np.zeros(n, dtype=np.int64), np.zeros(1))
        self._source: Any = None  # the proposal array h_ref was taken from
        self.stops = stops
        self.stop_index = None if stops is None else np.zeros(n, dtype=np.int64)
        # (h, k_until): with proposal h the steps before k_until land nowhere and stall
        # nowhere (see quiet_steps); forgotten whenever anchors or stops change.
        self._quiet: tuple[Any, int] | None = None
        self.eps, self.dtype = eps, dtype

    def start(self, h: np.ndarray) -> None:
        """Take the first proposal: every row starts at ``t = 0`` with step ``h``."""
        self._source = h
        self._quiet = None
        self.state = self.state._replace(h_ref=np.asarray(h, dtype=float).reshape(-1))

    @property
    def timed(self) -> bool:
        return self.stops is not None

    def now(self, k: int) -> np.ndarray:
        """Times of the active rows after ``k`` steps."""
        return self.state.at(k)

    def land(
        self, h: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """The step to take (shortened where it would pass a stop), the rows landing,
        and the rows whose time would not advance (a zero step, or one below the
        rounding of ``t``): they would never reach the end."""
        if self.stops is None or self._quiet_before(h, k):
            return h, None, None
        stop_t = self.stops[self.stop_index]
        h64 = _per_row(np.asarray(h, dtype=float), stop_t.shape[0])
        t_now = self.now(k)
        stalled = ~(t_now + h64 > t_now)
        gap = stop_t - t_now
        slack = LANDING_RELATIVE * h64 + LANDING_ULPS * self.eps * np.abs(stop_t)
        land = h64 >= gap - slack
        stalled = stalled if stalled.any() else None
        if not land.any():
            return h, None, stalled
        shorten = land & (h64 > gap + slack)
        if shorten.any():
            h = np.where(shorten, gap, h64).astype(self.dtype)
        return h, land, stalled

    def quiet_steps(self, h: np.ndarray, k: int) -> int:
        """A number of steps of ``h`` from step ``k`` that :meth:`land` would neither
        shorten, land nor find stalled for any row (a safe lower bound, possibly 0).

        Times grow monotonically, so a step that still advances the time at the last of
        them advances it at every earlier one (the rounding of ``t`` only grows)."""
        if self._quiet_before(h, k):
            return self._quiet[1] - k
        n = self._quiet_count(h, k)
        self._quiet = (h, k + n)
        return n

    def _quiet_before(self, h: np.ndarray, k: int) -> bool:
        return self._quiet is not None and self._quiet[0] is h and k < self._quiet[1]

    def _quiet_count(self, h: np.ndarray, k: int) -> int:
        stop_t = self.stops[self.stop_index]
        h64 = np.broadcast_to(np.asarray(h, dtype=float), stop_t.shape)
        t_now = self.now(k)
        slack = LANDING_RELATIVE * h64 + LANDING_ULPS * self.eps * np.abs(stop_t)
        # Two steps of margin for the rounding of t = t_anchor + (k - k_anchor) h.
        ahead = np.floor((stop_t - t_now - 2.0 * slack) / h64) - 2.0
        n = ahead.min(initial=np.inf)
        if not (n >= 1.0):  # NaN, zero or negative steps included
            return 0
        n = int(min(n, 2**62))
        t_last = t_now + n * h64
        return n if bool((t_last + h64 > t_last).all()) else 0

    def advance(
        self,
        k: int,
        h_nominal: np.ndarray,
        h_used: np.ndarray,
        accepted: np.ndarray | None,
        land: np.ndarray | None,
    ) -> np.ndarray | None:
        """Move the rows from step ``k`` to ``k + 1``.

        Returns the rows that landed on a stop (they take its exact time), or None.
        """
        s = self.state
        h_ref = s.h_ref
        n = s.t_anchor.shape[0]
        changed = None
        if h_nominal is not self._source:
            self._source = h_nominal
            h_ref = np.asarray(h_nominal, dtype=float).reshape(-1)
            if h_ref.shape != s.h_ref.shape or not (h_ref == s.h_ref).all():
                changed = _per_row(h_ref != s.h_ref, n)
        if h_used is not h_nominal:
            shortened = _per_row(h_used != h_nominal, n)
            changed = shortened if changed is None else changed | shortened
        if accepted is not None:
            changed = ~accepted if changed is None else changed | ~accepted
        if changed is not None and changed.any():
            t_new = (self.now(k) + self._used(h_used, accepted))[changed]
            self._reanchor(changed, t_new, k, h_ref)
        elif h_ref is not s.h_ref:
            self.state = s._replace(h_ref=h_ref)
            self._quiet = None
        if land is None:
            return None
        if accepted is not None:
            land = land & accepted
        if not land.any():
            return None
        self._reanchor(land, self.stops[self.stop_index[land]], k, self.state.h_ref)
        return land

    def passed(self, rows: np.ndarray) -> np.ndarray | None:
        """Rows ``rows`` (a mask) move on to their next stop; returns the rows that have
        passed the last one (``t_final``), or None."""
        self.stop_index = self.stop_index + rows
        self._quiet = None
        done = self.stop_index == self.stops.size
        return done if done.any() else None

    @staticmethod
    def _used(h_used: np.ndarray, accepted: np.ndarray | None) -> np.ndarray:
        h = np.asarray(h_used, dtype=float).reshape(-1)
        return h if accepted is None else np.where(accepted, h, 0.0)

    def _reanchor(self, rows: np.ndarray, t_new: np.ndarray, k: int, h_ref: np.ndarray) -> None:
        self._quiet = None
        t_anchor = self.state.t_anchor.copy()
        k_anchor = self.state.k_anchor.copy()
        t_anchor[rows] = t_new
        k_anchor[rows] = k + 1
        self.state = ClockState(t_anchor, k_anchor, h_ref)

    def compact(self, keep: np.ndarray) -> None:
        s = self.state
        h_ref = s.h_ref if s.h_ref.shape[0] == 1 else s.h_ref[keep]
        self.state = ClockState(s.t_anchor[keep], s.k_anchor[keep], h_ref)
        self._quiet = None
        if self.stop_index is not None:
            self.stop_index = self.stop_index[keep]
        # A compacted proposal is a new array with the same values: it re-anchors nothing.
