"""One recorder per save mode: every ``n`` steps, at given times, or only the end.

A recorder writes columns of ``(t, theta, h, step)`` for every element.  The driver
calls ``begin`` after the initial state, ``after_step`` after every step, ``landed``
when rows land on a stop, ``closed`` when elements stop and ``finish`` at the end.
Output is preallocated when the number of columns is known and grown geometrically
otherwise: memory is O(saved columns × batch × d).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradflow._driver.clock import LANDING_ULPS
from gradflow._validation import check_allocation

__all__ = ["AtTimes", "Every", "Final", "Recorder"]


class _Columns:
    """The saved arrays, column-major in time."""

    def __init__(self, n: int, B: int, d: int, dtype: np.dtype) -> None:
        # θ and h in the state's dtype, t and step: at most 8 bytes each.
        check_allocation(
            float(n) * B * (d + 3), 8, "the saved output (steps / save_every x batch x (d + 3))"
        )
        self.t = np.zeros((n, B))
        self.theta = np.zeros((n, B, d), dtype=dtype)
        self.h = np.zeros((n, B), dtype=dtype)
        self.step = np.zeros((n, B), dtype=np.int64)
        self.count = 0

    def use(self, j: int) -> None:
        """Make column ``j`` exist (growing the arrays if needed)."""
        if j >= self.t.shape[0]:
            size = max(j + 1, 2 * self.t.shape[0], 16)
            for name in ("t", "theta", "h", "step"):
                old = getattr(self, name)
                new = np.zeros((size, *old.shape[1:]), dtype=old.dtype)
                new[: old.shape[0]] = old
                setattr(self, name, new)
        self.count = max(self.count, j + 1)

    def write(self, j: int, idx: Any, t: Any, theta: Any, h: Any, step: Any) -> None:
        self.use(j)
        self.theta[j, idx], self.t[j, idx], self.h[j, idx], self.step[j, idx] = theta, t, h, step

    def trimmed(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        n = self.count
        return self.t[:n], self.theta[:n], self.h[:n], self.step[:n]


class Recorder:
    """Base recorder: the hooks do nothing; subclasses save what their mode keeps."""

    def __init__(self, n_columns: int, B: int, d: int, dtype: np.dtype) -> None:
        self.columns = _Columns(n_columns, B, d, dtype)

    def next_write(self, k: int) -> int | None:
        """The first step after ``k`` whose state is saved whatever happens (it is then
        checked for divergence first), or None."""
        return None

    def begin(self, run: Any) -> None:
        """After the initial state."""

    def after_step(self, run: Any) -> None:
        """After every step (and the stops it caused)."""

    def landed(self, run: Any, rows: np.ndarray) -> None:
        """Active rows ``rows`` (a mask) landed on their current stop."""

    def closed(self, ids: np.ndarray, t: Any, theta: Any, h: Any, step: Any) -> None:
        """Elements ``ids`` stopped with these final values."""

    def finish(self, run: Any) -> None:
        """After the last step."""

    def _write_all(self, j: int, run: Any) -> None:
        """Column ``j`` holds every element: active rows now, stopped ones as they ended."""
        c, ledger = self.columns, run.ledger
        if not run.rows.complete:
            c.write(j, slice(None), ledger.t, ledger.theta, ledger.h, ledger.n_steps)
        if run.rows.size:
            idx = slice(None) if run.rows.complete else run.rows.index
            c.write(j, idx, run.clock.now(run.k), run.state[0], run.row_h(), run.row_steps())


class Every(Recorder):
    """Save the start, every ``every``-th step and the last state."""

    def __init__(self, every: int, steps: int | None, B: int, d: int, dtype: np.dtype) -> None:
        n = 16 if steps is None else steps // every + 1 + (steps % every != 0)
        super().__init__(n, B, d, dtype)
        self.every = every
        self.next_column = 0

    def _save(self, run: Any) -> None:
        self._write_all(self.next_column, run)
        self.next_column += 1

    def next_write(self, k: int) -> int | None:
        return (k // self.every + 1) * self.every

    def begin(self, run: Any) -> None:
        self._save(run)

    def after_step(self, run: Any) -> None:
        if run.k % self.every == 0:
            self._save(run)

    def finish(self, run: Any) -> None:
        if run.k % self.every != 0:
            self._save(run)


class Final(Recorder):
    """Save only the state each element ends in."""

    def __init__(self, B: int, d: int, dtype: np.dtype) -> None:
        super().__init__(1, B, d, dtype)
        self.columns.use(0)

    def closed(self, ids: np.ndarray, t: Any, theta: Any, h: Any, step: Any) -> None:
        self.columns.write(0, ids, t, theta, h, step)


class AtTimes(Recorder):
    """Save at given times; steps land on them exactly (see :mod:`.clock`)."""

    def __init__(self, times: np.ndarray, stops: np.ndarray, B: int, d: int, dtype: Any) -> None:
        super().__init__(times.size, B, d, dtype)
        self.times = times
        self.eps = float(np.finfo(dtype).eps)
        # Column of each stop (-1: t_final when it is not a save time).
        self.column_of_stop = np.full(stops.size, -1)
        self.column_of_stop[np.searchsorted(stops, times)] = np.arange(times.size)

    def begin(self, run: Any) -> None:
        if self.times[0] == 0.0:
            c = self.columns
            c.write(0, slice(None), 0.0, run.state[0], run.row_h(), 0)
            run.clock.stop_index = run.clock.stop_index + 1

    def landed(self, run: Any, rows: np.ndarray) -> None:
        cols = self.column_of_stop[run.clock.stop_index]
        hits = rows & (cols >= 0)
        if not hits.any():
            return
        t, h, steps = run.clock.now(run.k), run.row_h(), run.row_steps()
        for j in np.unique(cols[hits]):
            sel = hits & (cols == j)
            step = steps if np.ndim(steps) == 0 else steps[sel]
            self.columns.write(int(j), run.rows.index[sel], t[sel], run.state[0][sel], h[sel], step)

    def finish(self, run: Any) -> None:
        """Save times an element never reached hold its final state and time."""
        c, ledger = self.columns, run.ledger
        c.use(self.times.size - 1)
        for j, tj in enumerate(self.times):
            missed = ledger.t < tj - LANDING_ULPS * self.eps * max(abs(tj), 1.0)
            if missed.any():
                c.write(
                    j,
                    missed,
                    ledger.t[missed],
                    ledger.theta[missed],
                    ledger.h[missed],
                    ledger.n_steps[missed],
                )
