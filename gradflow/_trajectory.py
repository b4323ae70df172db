"""The result of a run: :class:`Trajectory` and the per-element :class:`Status`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

__all__ = ["Status", "Trajectory"]


class Status(str, Enum):
    """Why a batch element stopped (a ``str``: compares equal to its value).

    Attributes
    ----------
    OK : "ok"
        Reached ``steps`` or ``t_final``.
    DIVERGED : "diverged"
        Its state blew up (see :func:`gradflow.solve`, Notes: a non-finite entry, or a
        state far beyond its start's scale with a loss above the start's; or, with
        ``divergence_norm``, outside that ball); the last state before is kept.  Also an
        element whose saved loss is not finite.
    MAX_STEPS : "max_steps"
        Hit ``max_steps`` before ``t_final``.
    STOPPED : "stopped"
        The callback asked the run to stop.
    STEP_TOO_SMALL : "step_too_small"
        An adaptive policy asked for a step below its minimum.
    FAILED : "failed"
        The method could not complete a step (e.g. an implicit solve did not converge).
    STALLED : "stalled"
        Its time stopped advancing in a ``t_final`` run (a zero step, or one too small
        to change ``t``): it would never reach ``t_final``.
    """

    OK = "ok"
    DIVERGED = "diverged"
    MAX_STEPS = "max_steps"
    STOPPED = "stopped"
    STEP_TOO_SMALL = "step_too_small"
    FAILED = "failed"
    STALLED = "stalled"

    def __str__(self) -> str:
        return self.value


#: numpy dtype of status arrays: wide enough for every :class:`Status` value.
STATUS_DTYPE = np.dtype("<U14")


@dataclass(frozen=True)
class Trajectory:
    """Saved output of :func:`gradflow.solve`, for a batch of trajectories.

    With ``n`` saved points and batch shape ``batch``:

    Attributes
    ----------
    t : ndarray, shape (n, *batch)
        Time of each saved state (``t[j, i]`` is always the true time of
        ``theta[j, i]``: once an element has stopped, later columns repeat its last
        state and time).
    theta : ndarray, shape (n, *batch, d)
        Saved states.
    loss : ndarray, shape (n, *batch)
        Loss at the saved states.
    h : ndarray, shape (n, *batch)
        The nominal step size (before any shortening to land on a save time or
        ``t_final``) of the last step taken to reach each saved state; at the initial
        state, the first step's.  With a schedule ``s``, ``h[j] = s(step[j] - 1)``.
    step : ndarray of int, shape (n, *batch)
        Number of steps taken to reach each saved state.
    status : ndarray of str, shape batch
        Per element: a :class:`Status` value (``"ok"``, ``"diverged"``, ...).
    n_grad : ndarray of int, shape batch
        Gradient evaluations per element.
    n_steps : ndarray of int, shape batch
        Accepted steps per element.  For a ``"diverged"`` element the kept state is
        ``θ_{n_steps}`` and divergence happened in step ``n_steps + 1``.
    n_rejected : ndarray of int, shape batch
        Rejected step attempts per element (0 for fixed step sizes).
    method, problem : str
        Names of the method and the problem.
    message : str
        A note from the solver (e.g. scipy's message for reference solutions).
    """

    t: np.ndarray
    theta: np.ndarray
    loss: np.ndarray
    h: np.ndarray
    step: np.ndarray
    status: np.ndarray
    n_grad: np.ndarray
    n_steps: np.ndarray
    n_rejected: np.ndarray
    method: str = ""
    problem: str = ""
    message: str = ""

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Shape of the batch of trajectories."""
        return self.status.shape

    @property
    def n_accepted(self) -> np.ndarray:
        """Accepted steps per element (an alias of :attr:`n_steps`)."""
        return self.n_steps

    @property
    def diverged(self) -> np.ndarray:
        """Boolean mask of diverged elements, shape ``batch``."""
        return self.status == Status.DIVERGED.value

    @property
    def ok(self) -> np.ndarray:
        """Boolean mask of elements that finished normally, shape ``batch``."""
        return self.status == Status.OK.value

    def __repr__(self) -> str:
        values, counts = np.unique(self.status, return_counts=True)
        summary = ", ".join(f"{v}: {c}" for v, c in zip(values, counts, strict=True))
        return (
            f"Trajectory(problem={self.problem!r}, method={self.method!r}, "
            f"batch_shape={self.batch_shape}, saved={self.t.shape[0]}, status={{{summary}}})"
        )
