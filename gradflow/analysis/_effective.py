r"""Effective step sizes of an adaptive method along a run.

An adaptive method's step size ``h`` is not the step each coordinate takes: Adam moves
coordinate ``i`` by ``h_eff,i · m̂_i`` with ``h_eff,i = h/(√v̂_i + ε)``.  What matters for
stability is ``h_eff`` against the curvature (Cohen et al. 2022), so a study of an
adaptive run needs it along the run.  :func:`track_effective_stepsize` records, at every
``every``-th step, the effective step of the update that leaves each state (through the
method's :meth:`~gradflow.methods.Method.next_effective_stepsize`, from the method state
:func:`gradflow.solve` hands its callback).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradflow._checks import check_problem
from gradflow._validation import check_integer
from gradflow.methods import Method
from gradflow.problems import Problem

__all__ = ["EffectiveStepTracker", "track_effective_stepsize"]


class EffectiveStepTracker:
    """A ``solve`` callback recording the effective step sizes of a run.

    Build it with :func:`track_effective_stepsize`.

    Attributes
    ----------
    steps : ndarray of int, shape (n,)
        The recorded steps.
    values : ndarray, shape (n, *batch, d)
        The effective step of the update leaving the state at each recorded step
        (``nan`` for elements that had stopped).
    n_grad : int
        Gradient evaluations the tracker spent (one per active element and record).
    """

    def __init__(self, problem: Problem, method: Method, every: int) -> None:
        self.problem, self.method, self.every = problem, method, every
        self._start()

    def _start(self) -> None:
        self._steps: list[int] = []
        self._values: list[np.ndarray] = []
        self.n_grad = 0

    def __call__(self, info: Any) -> bool:
        if info.k % self.every:
            return False
        if self._steps and info.k <= self._steps[-1]:
            self._start()  # a new run: its records replace the last one's
        theta = np.asarray(info.theta)
        batch, d = theta.shape[:-1], theta.shape[-1]
        active = np.asarray(info.active).reshape(-1)
        values = np.full((active.size, d), np.nan, dtype=theta.dtype)
        if active.any():
            state = info.method_state
            h = np.asarray(info.h).reshape(-1)[active][:, None]
            grad = self.problem.grad(state[0])  # quiet: a diverging state is data
            self.n_grad += int(active.sum())
            values[active] = self.method.next_effective_stepsize(state, h, grad)
        self._steps.append(int(info.k))
        self._values.append(values.reshape(*batch, d))
        return False

    @property
    def steps(self) -> np.ndarray:
        return np.asarray(self._steps, dtype=np.int64)

    @property
    def values(self) -> np.ndarray:
        return np.asarray(self._values)

    def __repr__(self) -> str:
        return (
            f"EffectiveStepTracker(method={self.method.name!r}, every={self.every}, "
            f"recorded={len(self._steps)})"
        )


def track_effective_stepsize(
    problem: Problem, method: Method, every: int = 1
) -> EffectiveStepTracker:
    r"""A :func:`gradflow.solve` callback that records effective step sizes along a run.

    At steps ``0, every, 2·every, ...`` it records, for every active element, the
    per-parameter step of the update that leaves the current state,
    :meth:`~gradflow.methods.Method.next_effective_stepsize` — for Adam
    ``h/(√v̂_{k+1} + ε)`` with ``v̂_{k+1}`` the second moment after the gradient at
    ``θ_k``; finite at the initial state.  It costs one gradient per active element and
    record (``n_grad``; not counted in the run's ``Trajectory.n_grad``).  Under
    ``batch_size=`` the tracker uses the full gradient (the full-batch analogue of the
    step's statistics).

    Parameters
    ----------
    problem : Problem
        The problem being solved.
    method : Method
        The method of the run: one with an ``effective_stepsize`` (SGD, AdaGrad,
        RMSProp, Adam, AdamW, Lion, or :class:`~gradflow.methods.Clipped` of one).
    every : int, optional
        Record every ``every`` steps (default 1).

    Returns
    -------
    EffectiveStepTracker
        Holds ``steps``, ``values`` ``(n, *batch, d)`` and ``n_grad`` once the run is over.

    Raises
    ------
    TypeError
        If ``problem`` is not a Problem, ``method`` reports no effective step size, or
        ``every`` is not an integer.
    ValueError
        If ``every < 1``.

    References
    ----------
    D. P. Kingma and J. Ba, "Adam: a method for stochastic optimization", ICLR 2015.
    J. M. Cohen, B. Ghorbani, S. Krishnan, N. Agarwal, S. Medapati, M. Badura, D. Suo,
    D. Cardoze, Z. Nado, G. E. Dahl and J. Gilmer, "Adaptive gradient methods at the
    edge of stability", arXiv:2207.14484, 2022.

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 100.0], seed=0)
    >>> adam = gf.methods.Adam()
    >>> tracker = gf.analysis.track_effective_stepsize(p, adam, every=5)
    >>> traj = gf.solve(p, np.ones(2), adam, 1e-2, steps=10, callback=tracker)
    >>> tracker.steps.tolist(), tracker.values.shape
    ([0, 5, 10], (3, 2))
    >>> bool(np.isfinite(tracker.values).all())
    True
    """
    problem = check_problem(problem)
    if not isinstance(method, Method):
        raise TypeError(f"method must be a gradflow Method, got {type(method).__name__}")
    if not callable(getattr(method, "effective_stepsize", None)):
        raise TypeError(f"method {method.name} does not report an effective step size")
    every = check_integer(every, "every", 1)
    return EffectiveStepTracker(problem, method, every)
