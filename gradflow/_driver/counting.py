"""The driver's view of a problem: every evaluation counted per row, the last one cached.

Methods and step-size policies see the problem through a :class:`CountingProblem`.
It forwards to the user's problem, counts gradient evaluations (an HVP counts as two:
an R-operator or a central difference costs about two gradients) for the rows they
concern, and keeps the last loss and the last gradient, keyed by the identity of the
state array.  A policy that needs ``∇L(θ_{k+1})`` and a method that needs it again at
the start of the next step share one evaluation: states are never modified in place
(the method contract), so the same array object means the same point.  Cached values
are handed out read-only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradflow.problems import Problem

__all__ = ["CountingProblem", "GradientCounter"]

#: Gradient-equivalent cost of one Hessian-vector product.
HVP_COST = 2


class GradientCounter:
    """Gradient evaluations per element of a run of ``n`` elements.

    Evaluations over every active row are added to ``uniform`` (no per-row work);
    evaluations of a subset go straight to ``totals``.  When an element stops,
    :meth:`settle` adds the uniform count it has seen.
    """

    def __init__(self, n: int) -> None:
        self.uniform = 0
        self.totals = np.zeros(n, dtype=np.int64)

    def for_blocks(self) -> GradientCounter:
        """A counter for stepping the active rows block by block: its own uniform count
        (each block's, reset by the caller) and its own per-element totals, added to
        this counter's by :meth:`absorb` once every block has stepped."""
        return GradientCounter(self.totals.shape[0])

    def absorb(self, other: GradientCounter, uniform: int) -> None:
        """Add the counts of a block counter (``uniform``: the count of one block,
        the same for every block)."""
        self.uniform += uniform
        self.totals += other.totals

    def settle(self, ids: np.ndarray, uniform: int | np.ndarray | None = None) -> None:
        """Close the counts of elements ``ids`` (with ``uniform`` in place of the
        current uniform count, for elements whose run ended earlier)."""
        self.totals[ids] += self.uniform if uniform is None else uniform


class _RowBlock:
    """The element ids of a block of consecutive active rows (what a counting view
    reads of the active rows)."""

    def __init__(self, index: np.ndarray) -> None:
        self.index = index


class CountingProblem:
    """A problem seen by the rows ``rows.index`` of a run, counting and caching.

    Parameters
    ----------
    problem : Problem
        The problem evaluated.
    rows : ActiveRows or None
        The active rows, whose ids receive per-row counts; ``None`` counts only
        evaluations of the whole batch (a replay).
    counter : GradientCounter
        Where the counts go.

    Notes
    -----
    Evaluations run under the driver's ``np.errstate(all="ignore")``: a view is made and
    used only inside :func:`gradflow.solve`.  Attributes other than ``loss``, ``grad``,
    ``hvp`` and ``restrict`` are those of ``problem`` (``dim``, ``name``, ``minimum``,
    ``hessian``, ...).
    """

    def __init__(self, problem: Any, rows: Any, counter: GradientCounter) -> None:
        self._problem = problem
        # Inside the driver numpy's errors are already ignored: a plain Problem's
        # gradient is evaluated without entering errstate again (same checks, same bits).
        plain = isinstance(problem, Problem) and type(problem).grad is Problem.grad
        self._evaluate_grad = problem._checked_grad if plain else problem.grad
        self._rows = rows
        self._counter = counter
        self._subset: np.ndarray | None = None
        self._loss_at: Any = None
        self._loss: Any = None
        self._grad_at: Any = None
        self._grad: Any = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._problem, name)

    def _count(self, amount: int) -> None:
        if self._subset is None:
            self._counter.uniform += amount
        elif self._rows is not None:
            self._counter.totals[self._rows.index[self._subset]] += amount

    def release(self) -> None:
        """Forget the cached evaluations (after a method's step: what it evaluated at
        the start of the step is not needed again, and holding it keeps memory busy)."""
        self._grad_at = self._grad = self._loss_at = self._loss = None

    def compact(self, keep: np.ndarray, old: np.ndarray, new: np.ndarray) -> None:
        """Rows were dropped: the state ``old`` became ``new`` (``old[keep]``).  Cached
        evaluations at ``old`` become those at ``new``, so what an element costs does
        not depend on when other elements stop."""
        if self._grad_at is old:
            self._grad_at, self._grad = new, self._grad[keep]
        if self._loss_at is old:
            self._loss_at, self._loss = new, self._loss[keep]

    def block(self, rows: slice, counter: GradientCounter) -> CountingProblem:
        """The same problem for the consecutive active rows ``rows`` of the whole batch,
        counting into ``counter`` (whose uniform count is the block's); what is cached at
        a state carries over to the block of that state, sliced as ``state[rows]``."""
        view = CountingProblem(self._problem, _RowBlock(self._rows.index[rows]), counter)
        view._block_of = (self, rows)
        return view

    def adopt_cache(self, theta: np.ndarray, whole: np.ndarray) -> None:
        """``theta`` is ``whole[rows]`` for the block this view was made for: take over
        what the parent view cached at ``whole`` (so a block evaluates no more than the
        whole batch would)."""
        parent, rows = self._block_of
        if parent._grad_at is whole:
            self._grad_at, self._grad = theta, parent._grad[rows]
        if parent._loss_at is whole:
            self._loss_at, self._loss = theta, parent._loss[rows]

    def restrict(self, rows: np.ndarray) -> CountingProblem:
        """The same problem, counting evaluations for the active rows ``rows`` only."""
        view = CountingProblem(self._problem.restrict(rows), self._rows, self._counter)
        view._subset = np.asarray(rows) if self._subset is None else self._subset[rows]
        return view

    def loss(self, theta: np.ndarray) -> np.ndarray:
        """``problem.loss(theta)``, cached on the identity of ``theta``."""
        if theta is not self._loss_at:
            value = np.asarray(self._problem.loss(theta))
            self._loss_at, self._loss = theta, value
        return self._loss

    def grad(self, theta: np.ndarray) -> np.ndarray:
        """``problem.grad(theta)``, counted and cached on the identity of ``theta``."""
        if theta is not self._grad_at:
            value = np.asarray(self._evaluate_grad(theta))
            if self._subset is None:
                self._counter.uniform += 1
            else:
                self._count(1)
            self._grad_at, self._grad = theta, value
        return self._grad

    def hvp(self, theta: np.ndarray, v: np.ndarray) -> np.ndarray:
        """``problem.hvp(theta, v)``, counted as :data:`HVP_COST` gradients."""
        self._count(HVP_COST)
        return self._problem.hvp(theta, v)
