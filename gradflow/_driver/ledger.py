"""What the run keeps of every element once it stops: status, counts, last state."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradflow._trajectory import STATUS_DTYPE, Status

__all__ = ["Ledger"]


class Ledger:
    """Per-element outcome of a run of ``n`` elements of dimension ``d``.

    ``theta``, ``t`` and ``h`` hold the last state of every stopped element (and the
    start for the others), so a saved column can show every element at once.
    """

    def __init__(self, theta0: np.ndarray) -> None:
        n = theta0.shape[0]
        self.status = np.full(n, Status.OK.value, dtype=STATUS_DTYPE)
        self.n_steps = np.zeros(n, dtype=np.int64)
        self.n_rejected = np.zeros(n, dtype=np.int64)
        self.theta = np.array(theta0, copy=True)
        self.t = np.zeros(n)
        self.h = np.zeros(n, dtype=theta0.dtype)

    def close(
        self,
        ids: np.ndarray,
        status: Status | np.ndarray,
        steps: Any,
        rejected: Any,
        t: np.ndarray,
        theta: np.ndarray,
        h: np.ndarray,
    ) -> None:
        """Record the end of elements ``ids``."""
        self.status[ids] = status.value if isinstance(status, Status) else status
        self.n_steps[ids] = steps
        self.n_rejected[ids] = rejected
        self.t[ids], self.theta[ids], self.h[ids] = t, theta, h
