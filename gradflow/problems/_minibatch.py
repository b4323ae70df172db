r"""Minibatch views of a finite-sum problem: what ``solve(..., batch_size=B)`` hands a method.

A finite-sum problem ``L(θ) = (1/n) Σ_i ℓ_i(θ)`` (one with ``n_samples`` and
``per_example_grad``: :func:`~gradflow.problems.least_squares`,
:func:`~gradflow.problems.logistic_regression`,
:func:`~gradflow.problems.mlp_regression`) is sampled as SGD samples it: at step ``k``
trajectory ``j`` uses the gradient averaged over ``B`` distinct examples,

.. math:: \hat g_{k,j}(\theta) = \frac1B \sum_{i \in S_{k,j}} \nabla \ell_i(\theta),
          \qquad |S_{k,j}| = B,\ \text{drawn without replacement},

an unbiased estimate of ``∇L`` with covariance ``(1/B)(n - B)/(n - 1) Σ(θ)``.  With ``B``
fixed and ``h → 0`` SGD follows the gradient flow; to first order in ``h`` its iterates
are those of the SDE ``dθ = -∇L dt + √(h Σ/B) dW`` (Li, Tai & E 2017).

Reproducibility: the index sets are a pure function of ``(seed, k, j)`` — step ``k``
draws, from ``numpy.random.default_rng([seed, k])``, one uniform key per example for
*every original* batch element (``(n_elements, n)`` keys) and takes each row's ``B``
smallest (``argpartition``); the active rows pick their own.  A trajectory's samples
therefore do not depend on which other trajectories are still running, and the driver's
replay of a diverged row draws the same batches.  All gradient evaluations of one step
(e.g. Runge–Kutta stages) use the same minibatch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradflow._validation import check_integer
from gradflow.problems._problem import Problem

__all__ = ["MinibatchSampler", "MinibatchView", "check_finite_sum"]


def check_finite_sum(problem: Problem) -> int:
    """The number of examples of a finite-sum problem.

    Raises
    ------
    TypeError
        If ``problem`` has no ``per_example_grad`` / ``n_samples``.
    """
    n = getattr(problem, "n_samples", None)
    if not callable(getattr(problem, "per_example_grad", None)) or not isinstance(
        n, (int, np.integer)
    ):
        raise TypeError(
            f"problem {problem.name!r} is not a finite sum: minibatches need a problem with "
            "n_samples and per_example_grad (least_squares, logistic_regression, "
            "mlp_regression)"
        )
    return int(n)


class MinibatchSampler:
    """Draws the per-step minibatches of a run and builds the problem views.

    Parameters
    ----------
    problem : Problem
        A finite-sum problem.
    batch_size : int
        ``B`` in ``[1, n_samples]``.
    seed : int, numpy.random.Generator or None
        ``None`` draws fresh entropy once (the run is still replay-consistent); a
        Generator gives one integer seed.
    n_elements : int
        Number of trajectories of the run (original, uncompacted).

    Raises
    ------
    TypeError
        If ``problem`` is not a finite sum or ``batch_size`` / ``seed`` has the wrong type.
    ValueError
        If ``batch_size`` is outside ``[1, n_samples]`` or ``seed`` is negative.

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.least_squares(np.eye(4), np.arange(4.0))
    >>> s = MinibatchSampler(p, 2, seed=0, n_elements=3)
    >>> s.indices(0, np.arange(3)).shape
    (3, 2)
    >>> bool(np.array_equal(s.indices(5, np.array([2])), s.indices(5, np.arange(3))[2:]))
    True
    """

    def __init__(self, problem: Problem, batch_size: Any, seed: Any, n_elements: int) -> None:
        n = check_finite_sum(problem)
        batch_size = check_integer(batch_size, "batch_size", 1, n)
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(2, np.uint64)[0] >> 1)
        elif isinstance(seed, np.random.Generator):
            seed = int(seed.integers(0, 2**63 - 1))
        else:
            seed = check_integer(seed, "seed", 0)
        self.problem = problem
        self.n = n
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.n_elements = int(n_elements)

    def indices(self, k: int, rows: np.ndarray) -> np.ndarray:
        """Example indices ``(len(rows), B)`` of step ``k`` for original elements ``rows``."""
        B, n = self.batch_size, self.n
        if B == n:
            return np.broadcast_to(np.arange(n), (rows.size, n))
        keys = np.random.default_rng([self.seed, int(k)]).random((self.n_elements, n))
        return np.argpartition(keys[rows], B - 1, axis=1)[:, :B]

    def view(self, k: int, rows: np.ndarray) -> MinibatchView:
        """The problem whose gradient at row ``j`` is the minibatch gradient of element
        ``rows[j]`` at step ``k``.  Its loss is the full loss; its HVP is a central
        difference of the minibatch gradient."""
        return MinibatchView(self.problem, self.indices(k, rows))


class MinibatchView(Problem):
    """A finite-sum problem as seen by one step of a minibatch run.

    Row ``j`` of a batch evaluated through the view gets the gradient averaged over the
    examples ``indices[j]``; the loss is the full loss, the HVP and Hessian central
    differences of the minibatch gradient.  A method that evaluates only some rows of its
    batch asks :meth:`restrict` for the view of those rows.

    Parameters
    ----------
    problem : Problem
        A finite-sum problem (with ``per_example_grad``).
    indices : ndarray of int, shape (rows, B)
        The example indices of every row.

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.least_squares(np.eye(4), np.arange(4.0))
    >>> view = MinibatchSampler(p, 2, seed=0, n_elements=3).view(0, np.arange(3))
    >>> theta = np.zeros((3, 4))
    >>> bool(np.array_equal(view.restrict([2]).grad(theta[[2]]), view.grad(theta)[[2]]))
    True
    """

    def __init__(self, problem: Problem, indices: np.ndarray) -> None:
        self.full = problem
        self.indices = indices
        super().__init__(
            loss=problem.loss, grad=self._minibatch_grad, dim=problem.dim, name=problem.name
        )

    def _minibatch_grad(self, theta: np.ndarray) -> np.ndarray:
        """Row ``j`` of ``theta`` (shape ``(rows, *extra, d)``: the Hessian's finite
        differences add an axis) gets the mean over the examples ``indices[j]``."""
        theta = np.asarray(theta)
        idx = self.indices
        if theta.ndim < 2 or theta.shape[0] != idx.shape[0]:
            raise TypeError(
                f"batch_size: a minibatch gradient is drawn for each of the {idx.shape[0]} "
                f"rows of the batch, so the minibatch view takes states of shape "
                f"({idx.shape[0]}, ..., {self.dim}), got {theta.shape}; a method that "
                "evaluates some rows only (ImplicitEuler's Newton iteration) needs the "
                "view of those rows, problem.restrict(rows), which the driver's counting "
                "view does not forward to the minibatch view: run it without batch_size"
            )
        per = self.full.per_example_grad(theta)  # (rows, *extra, n, d)
        extra = (1,) * (theta.ndim - 2)
        picked = np.take_along_axis(per, idx.reshape(idx.shape[0], *extra, -1, 1), axis=-2)
        return picked.mean(axis=-2)

    def restrict(self, rows: np.ndarray) -> MinibatchView:
        """The view of the rows ``rows`` (int or bool): their minibatches only.

        Parameters
        ----------
        rows : ndarray of int or bool
            Rows of the batch this view was drawn for.

        Returns
        -------
        MinibatchView
        """
        return MinibatchView(self.full, self.indices[np.asarray(rows)])
