r"""Sharpness along a run: ``λmax(∇²L(θ_k))`` recorded by a :func:`gradflow.solve` callback.

Cohen et al. (2021) observed that gradient descent with step ``h`` on neural networks
first *sharpens* (``λmax`` grows) until ``λmax ≈ 2/h`` and then hovers there, at the
edge of stability, while the loss keeps decreasing non-monotonically.  Studying it
needs ``λmax`` at many iterates: :func:`track_sharpness` returns a callback that
computes it every ``every`` steps for every active element of the batch (Lanczos,
batched, warm-started from the previous top eigenvector) and stores it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradflow._checks import check_problem
from gradflow._solve import StepInfo
from gradflow._validation import (
    as_generator,
    check_bool,
    check_choice,
    check_integer,
    check_positive,
)
from gradflow.curvature._eigen import ALGORITHMS, eigenvalues
from gradflow.problems import Problem

__all__ = ["SharpnessTracker", "track_sharpness"]

#: A warm start is the previous top eigenvector plus this much (relative) Gaussian
#: noise: close enough to converge in a few products, never an exact eigenvector of a
#: Hessian that has changed (which would stop Lanczos after one step on a stale value).
WARM_START_NOISE = 1e-2


class SharpnessTracker:
    """A ``solve`` callback recording the top Hessian eigenvalue every ``every`` steps.

    Build it with :func:`track_sharpness`.  A tracker holds the records of one run:
    passed to another :func:`gradflow.solve` call (any batch shape) it starts over, and
    the records of the previous run are dropped.  After the run:

    Attributes
    ----------
    steps : ndarray of int, shape (n,)
        Step counts ``k`` at which the sharpness was recorded (``0, every, 2·every, ...``).
    times : ndarray, shape (n, *batch)
        The elements' times there.
    values : ndarray, shape (n, *batch)
        ``λmax(∇²L(θ_k))`` (``which="LA"``); ``nan`` for elements that had stopped.
    residuals : ndarray, shape (n, *batch)
        The eigensolver's residual of each value (its error bound).
    n_hvp : int
        HVPs spent in total.
    """

    def __init__(
        self,
        problem: Problem,
        every: int,
        algorithm: str,
        tol: float,
        seed: Any,
        warm_start: bool,
    ) -> None:
        self.problem = problem
        self.every = every
        self.algorithm = algorithm
        self.tol = tol
        self.warm_start = warm_start
        self._rng = as_generator(seed)
        self._start()

    def _start(self) -> None:
        """Forget every record: a new run begins."""
        self._steps: list[int] = []
        self._times: list[np.ndarray] = []
        self._values: list[np.ndarray] = []
        self._residuals: list[np.ndarray] = []
        self._vectors: np.ndarray | None = None
        self.n_hvp = 0

    def __call__(self, info: StepInfo) -> bool:
        if info.k % self.every:
            return False
        if self._steps and info.k <= self._steps[-1]:
            # The step count went back: the tracker was passed to a new run (perhaps of
            # another batch shape), whose records replace those of the last one.
            self._start()
        theta = np.asarray(info.theta)
        batch, d = theta.shape[:-1], theta.shape[-1]
        flat = theta.reshape(-1, d)
        active = np.asarray(info.active).reshape(-1)
        values = np.full(flat.shape[0], np.nan)
        residuals = np.full(flat.shape[0], np.nan)
        if active.any():
            v0 = None
            if self.warm_start and self._vectors is not None and self.algorithm != "dense":
                prev = self._vectors[active]
                noise = self._rng.standard_normal(prev.shape) / np.sqrt(d)
                v0 = prev + WARM_START_NOISE * noise
            res = eigenvalues(
                self.problem,
                flat[active],
                1,
                algorithm=self.algorithm,
                tol=self.tol,
                seed=self._rng,
                v0=v0,
            )
            values[active] = res.values[:, 0]
            residuals[active] = res.residuals[:, 0]
            if self._vectors is None:
                self._vectors = np.zeros_like(flat, dtype=float)
                self._vectors[:] = 1.0 / np.sqrt(d)
            self._vectors[active] = res.vectors[:, 0]
            self.n_hvp += int(res.n_hvp.sum())
        self._steps.append(int(info.k))
        self._times.append(np.array(info.t, dtype=float, copy=True))
        self._values.append(values.reshape(batch))
        self._residuals.append(residuals.reshape(batch))
        return False

    @property
    def steps(self) -> np.ndarray:
        return np.asarray(self._steps, dtype=np.int64)

    @property
    def times(self) -> np.ndarray:
        return np.asarray(self._times)

    @property
    def values(self) -> np.ndarray:
        return np.asarray(self._values)

    @property
    def residuals(self) -> np.ndarray:
        return np.asarray(self._residuals)

    def __repr__(self) -> str:
        return (
            f"SharpnessTracker(problem={self.problem.name!r}, every={self.every}, "
            f"recorded={len(self._steps)}, n_hvp={self.n_hvp})"
        )


def track_sharpness(
    problem: Problem,
    every: int = 1,
    *,
    algorithm: str = "lanczos",
    tol: float = 1e-6,
    seed: int | np.random.Generator | None = None,
    warm_start: bool = True,
) -> SharpnessTracker:
    r"""A :func:`gradflow.solve` callback that records the sharpness ``λmax`` of a run.

    Pass the result as ``callback=`` to :func:`gradflow.solve`; it computes the top
    Hessian eigenvalue of every active batch element at steps ``0, every, 2·every, ...``
    and never stops the run.  (A callback makes ``solve`` check for divergence after
    every step, which costs a little time on very cheap problems.)

    Parameters
    ----------
    problem : Problem
        The problem being solved (the callback sees only the states).
    every : int, optional
        Record every ``every`` steps (default 1).
    algorithm : {"lanczos", "power", "dense"}, optional
        Eigensolver algorithm (default Lanczos; see :func:`gradflow.curvature.eigenvalues`).
    tol : float, optional
        Relative accuracy of each value (default ``1e-6``).
    seed : int, numpy.random.Generator or None, optional
        Seeds the start vectors.
    warm_start : bool, optional
        Start each solve from the previous top eigenvector (plus a little noise):
        usually a handful of HVPs per record instead of tens.

    Returns
    -------
    SharpnessTracker
        Holds ``steps``, ``times``, ``values`` ``(n, *batch)``, ``residuals`` and
        ``n_hvp`` once the run is over.

    Raises
    ------
    TypeError
        If ``problem`` is not a Problem or ``every`` is not an integer.
    ValueError
        If ``every < 1``, ``tol <= 0`` or ``algorithm`` is unknown.

    References
    ----------
    J. M. Cohen, S. Kaur, Y. Li, J. Z. Kolter and A. Talwalkar, "Gradient descent on
    neural networks typically occurs at the edge of stability", ICLR 2021.

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 10.0], seed=0)
    >>> tracker = gf.curvature.track_sharpness(p, every=5, seed=0)
    >>> traj = gf.solve(p, np.ones((3, 2)), stepsize=0.1, steps=10, callback=tracker)
    >>> tracker.steps.tolist(), tracker.values.shape
    ([0, 5, 10], (3, 3))
    >>> bool(np.allclose(tracker.values, 10.0))
    True
    """
    problem = check_problem(problem)
    every = check_integer(every, "every", 1)
    tol = check_positive(tol, "tol")
    algorithm = check_choice(algorithm, "algorithm", ALGORITHMS)
    warm_start = check_bool(warm_start, "warm_start")
    return SharpnessTracker(problem, every, algorithm, tol, seed, warm_start)
