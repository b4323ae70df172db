"""A progress bar for long runs: steps (or time) done, elements active and diverged.

The bar is tqdm's (an optional dependency: ``pip install "gradflow-ode[progress]"``), written
to standard error.  The driver calls :meth:`Progress.update` once per loop iteration; the
counts over the batch are taken at most every :data:`REFRESH_SECONDS`, so a bar costs the
run nothing measurable.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from gradflow._optional import require
from gradflow._trajectory import Status

__all__ = ["Progress", "progress_bar"]

#: Seconds between two refreshes of the counts shown.
REFRESH_SECONDS = 0.2


def progress_bar(total: float | None, desc: str, unit: str) -> Any:
    """A tqdm bar on standard error (``ImportError`` naming the extra without tqdm)."""
    tqdm = require("tqdm.auto", "progress", "progress=True").tqdm
    return tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True, leave=True)


class Progress:
    """The bar of one :func:`gradflow.solve` call.

    Parameters
    ----------
    steps : int or None
        The run's number of steps (the bar counts steps), or None for a ``t_final`` run
        (the bar counts the time of the slowest active element).
    t_final : float or None
        The horizon of a ``t_final`` run.
    desc : str
        The bar's label.
    """

    def __init__(self, steps: int | None, t_final: float | None, desc: str) -> None:
        self.timed = steps is None
        total = t_final if self.timed else steps
        self.bar = progress_bar(total, desc, "t" if self.timed else "step")
        self.next_refresh = 0.0

    def update(self, run: Any, force: bool = False) -> None:
        """Show where ``run`` is (at most every :data:`REFRESH_SECONDS`)."""
        now = time.monotonic()
        if not force and now < self.next_refresh:
            return
        self.next_refresh = now + REFRESH_SECONDS
        if self.timed:
            done = float(run.clock.now(run.k).min()) if run.rows.size else self.bar.total
        else:
            done = run.k
        diverged = int(np.count_nonzero(run.ledger.status == Status.DIVERGED.value))
        self.bar.n = min(done, self.bar.total)
        self.bar.set_postfix(active=run.rows.size, diverged=diverged, refresh=False)
        self.bar.refresh()

    def close(self, run: Any) -> None:
        """The final counts, and the bar closed."""
        self.update(run, force=True)
        self.bar.close()
