"""Reference solutions of the gradient flow by scipy's ``solve_ivp``.

These are the yardstick every integrator in gradflow is measured against: the exact
flow ``dθ/dt = -∇L(θ)`` computed to ``rtol = atol = 1e-12`` by a high-order or implicit
scipy solver.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from gradflow._numerics import MAX_NON_FINITE_PER_STEP, NonFiniteDerivative
from gradflow._trajectory import STATUS_DTYPE, Status, Trajectory
from gradflow._validation import (
    as_state_array,
    check_allocation,
    check_choice,
    check_nonnegative,
    check_positive,
)
from gradflow.problems import Problem

__all__ = ["IMPLICIT_SCIPY_METHODS", "gradient_flow"]

#: scipy ``solve_ivp`` methods that use a Jacobian; they get ``-∇²L`` from the problem.
IMPLICIT_SCIPY_METHODS = ("Radau", "BDF", "LSODA")
_EXPLICIT_SCIPY_METHODS = ("RK23", "RK45", "DOP853")
_SCIPY_METHODS = _EXPLICIT_SCIPY_METHODS + IMPLICIT_SCIPY_METHODS

#: The message of a run that reached ``t_eval[-1]`` (the one ``solve_ivp`` gives).
SUCCESS_MESSAGE = "The solver successfully reached the end of the integration interval."


def gradient_flow(
    problem: Problem,
    theta0: ArrayLike,
    t_eval: ArrayLike,
    scipy_method: str = "DOP853",
    rtol: float = 1e-12,
    atol: float = 1e-12,
    *,
    max_step: float = np.inf,
) -> Trajectory:
    r"""The exact gradient flow ``dθ/dt = -∇L(θ)`` by ``scipy.integrate.solve_ivp``.

    The whole batch is integrated as one stacked ODE system of size ``B·d`` (the rows
    are uncoupled, so this is the same flow; the step-size controller then sees the
    worst row, which only makes every row more accurate).  Implicit scipy methods get
    the exact Jacobian ``-∇²L`` as a block-diagonal sparse matrix.

    Parameters
    ----------
    problem : Problem
        The loss landscape.
    theta0 : array_like, shape (*batch, d)
        Initial states.
    t_eval : array_like, shape (n,)
        Increasing non-negative output times; the integration runs from 0 to
        ``t_eval[-1]``.
    scipy_method : str, optional
        The ``solve_ivp`` method: ``"DOP853"`` (default), ``"RK45"``, ``"RK23"``,
        ``"Radau"``, ``"BDF"`` or ``"LSODA"``.
    rtol, atol : float, optional
        Tolerances (default ``1e-12``).
    max_step : float, optional
        Passed to ``solve_ivp``.

    Returns
    -------
    Trajectory
        With ``t``, ``theta`` and ``loss`` of shapes ``(n, *batch)``, ``(n, *batch, d)``
        and ``(n, *batch)``, the same layout as :func:`gradflow.solve`; ``status`` is
        ``"ok"`` for the elements that reached ``t_eval[-1]`` and ``"failed"`` for the
        others (see Notes); ``message`` says what ended the run.  ``n_grad`` counts the
        gradient evaluations of the stacked system while the element took part in it,
        ``h`` is zero (scipy chooses its own steps).

    Raises
    ------
    ValueError
        If ``theta0`` has the wrong shape or is not finite, ``t_eval`` is empty, not
        increasing or negative, a tolerance or ``max_step`` is not positive,
        ``scipy_method`` is unknown, or the output ``(len(t_eval), *batch, d)`` would
        exceed :data:`gradflow._validation.MAX_ALLOCATION_BYTES` (the message gives its
        size).
    TypeError
        If ``problem`` is not a Problem, ``theta0`` or ``t_eval`` does not hold real
        numbers, a tolerance is not a real number or ``scipy_method`` is not a string.

    Notes
    -----
    Failure is data, not a crash or a hang.  The flow is integrated by scipy's
    ``OdeSolver`` steps with output at ``t_eval`` from its dense output, exactly as
    ``solve_ivp`` does (same bits when nothing fails), with two ways to fail:

    * a **non-finite gradient** (NaN or ±inf, e.g. an overflow on an unbounded loss).
      At a trial stage of a step scipy rejects the step and retries with a smaller
      one, as ``solve_ivp`` does.  The elements fail (status ``"failed"``) when it is
      non-finite at their initial state (where scipy's step size would turn NaN and
      its step loop never end), when scipy gives up on a step in which they were
      non-finite, or after ``MAX_NON_FINITE_PER_STEP`` (1000) non-finite evaluations
      in one step.  The other elements go on from the last accepted state as a
      smaller stacked system (from then on their steps are chosen without the
      failed rows).
    * a **scipy failure** without non-finite values (step size too small, Newton
      iteration failing) ends every element still running.

    A failed element keeps its last saved state in the later columns of ``theta`` (and
    ``theta0`` at ``t = 0`` if it failed before the first step; NaN if ``t_eval`` does
    not start at 0 and nothing was saved).

    References
    ----------
    P. Virtanen et al., "SciPy 1.0: fundamental algorithms for scientific computing in
    Python", Nature Methods 17, 261–272, 2020.
    J. R. Dormand and P. J. Prince, "A family of embedded Runge–Kutta formulae",
    J. Comput. Appl. Math. 6, 19–26, 1980.

    Examples
    --------
    >>> import numpy as np
    >>> import gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 3.0], seed=1)
    >>> ref = gf.reference.gradient_flow(p, np.ones((4, 2)), [0.0, 0.5, 1.0])
    >>> ref.theta.shape
    (3, 4, 2)
    """
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a gradflow Problem, got {type(problem).__name__}")
    scipy_method = check_choice(scipy_method, "scipy_method", _SCIPY_METHODS)
    d = problem.dim
    arr = as_state_array(theta0, "theta0", d).astype(np.float64)
    ts = np.atleast_1d(check_nonnegative(t_eval, "t_eval", allow_array=True))
    rtol = check_positive(rtol, "rtol")
    atol = check_positive(atol, "atol")
    max_step = check_positive(max_step, "max_step", finite=False)
    if ts.ndim != 1 or np.any(np.diff(ts) <= 0):
        raise ValueError("t_eval must be a finite, strictly increasing 1-D array of times >= 0")
    batch = arr.shape[:-1]
    B = int(np.prod(batch, dtype=np.int64))
    n = ts.size
    check_allocation(float(n) * B * d, 8, f"t_eval ({n} times x {B} elements x d = {d} states)")
    run = _Run(problem, scipy_method, ts, arr.reshape(B, d), rtol, atol, max_step)
    with np.errstate(all="ignore"):
        run.integrate()
        loss = problem.loss(run.theta)
    traj = Trajectory(
        t=np.broadcast_to(ts.reshape(n, *([1] * len(batch))), (n, *batch)).copy(),
        theta=run.theta.reshape(n, *batch, d),
        loss=np.asarray(loss).reshape(n, *batch),
        h=np.zeros((n, *batch)),
        step=np.zeros((n, *batch), dtype=np.int64),
        status=run.status.reshape(batch),
        n_grad=run.n_grad.reshape(batch),
        n_steps=np.zeros(batch, dtype=np.int64),
        n_rejected=np.zeros(batch, dtype=np.int64),
        method=f"solve_ivp[{scipy_method}]",
        problem=problem.name,
        message=run.message(),
    )
    return traj


class _Run:
    """One :func:`gradient_flow` integration, as segments of scipy ``OdeSolver`` steps.

    Each segment integrates the rows still active from the last accepted state, with the
    step loop and the output at ``t_eval`` (the solver's dense output) of ``solve_ivp``,
    so a run without failure gives its bits.  A segment ends at ``t_eval[-1]`` or when
    rows fail; the others then go on in a new segment.  Rows fail when

    1. their derivative is not finite at the segment's initial state (an accepted state
       of the flow), or
    2. scipy fails within a step in which their derivative was not finite at a trial
       stage (otherwise a scipy failure fails every active row), or
    3. a step meets more than :data:`MAX_NON_FINITE_PER_STEP` non-finite derivatives.

    A non-finite derivative at a trial stage alone is returned to scipy, which rejects
    the step and retries with a smaller one, as ``solve_ivp`` would.
    """

    def __init__(
        self,
        problem: Problem,
        scipy_method: str,
        ts: np.ndarray,
        y0: np.ndarray,
        rtol: float,
        atol: float,
        max_step: float,
    ) -> None:
        import scipy.integrate

        self.problem = problem
        self.solver_class = getattr(scipy.integrate, scipy_method)  # the OdeSolver class
        self.implicit = scipy_method in IMPLICIT_SCIPY_METHODS
        self.dense_jac = scipy_method == "LSODA"
        self.options = {"rtol": rtol, "atol": atol, "max_step": max_step}
        self.ts = ts
        B, d = y0.shape
        self.d = d
        self.theta = np.full((ts.size, B, d), np.nan)
        self.saved = np.zeros(B, dtype=np.int64)  # t_eval columns written, per row
        self.status = np.full(B, Status.OK.value, dtype=STATUS_DTYPE)
        self.n_grad = np.zeros(B, dtype=np.int64)
        self.active = np.arange(B)
        self.t, self.y = 0.0, y0.copy()
        self.start = y0.reshape(-1)  # the segment's initial state, stacked
        self.bad = np.zeros(B, dtype=bool)  # rows non-finite in the current step
        self.n_bad = 0  # non-finite evaluations in the current step
        self.events: list[str] = []

    def rhs(self, t: float, y: np.ndarray) -> np.ndarray:
        """``-∇L`` of the active rows, stacked (see the class docstring for failures)."""
        self.n_grad[self.active] += 1
        g = self.problem.grad(y.reshape(-1, self.d))
        bad = ~np.isfinite(g).all(axis=-1)
        if bad.any():
            if t == self.t and np.array_equal(y, self.start):
                raise NonFiniteDerivative(bad, t)
            self.bad[: bad.size] |= bad
            self.n_bad += 1
            if self.n_bad > MAX_NON_FINITE_PER_STEP:
                raise NonFiniteDerivative(self.bad[: bad.size].copy(), t)
        return -g.reshape(-1)

    def jac(self, _t: float, y: np.ndarray) -> Any:
        """``-∇²L`` of the active rows as a block-diagonal matrix."""
        from scipy.sparse import block_diag

        blocks = -self.problem.hessian(y.reshape(-1, self.d))
        sparse = block_diag(list(blocks), format="csc")
        # LSODA takes only dense Jacobians; Radau and BDF use the sparse structure.
        return sparse.toarray() if self.dense_jac else sparse

    def integrate(self) -> None:
        """Run segments until every row has reached ``t_eval[-1]`` or failed."""
        t_end = float(self.ts[-1])
        if t_end == 0.0:
            self.theta[0] = self.y
            self.saved[:] = 1
            return
        while self.active.size:
            self._segment(t_end)

    def _segment(self, t_end: float) -> None:
        options = dict(self.options)
        if self.implicit:
            options["jac"] = self.jac
        self.start = self.y[self.active].reshape(-1)
        self._new_step()
        try:
            solver = self.solver_class(
                self.rhs, self.t, self.start, t_end, vectorized=False, **options
            )
            while solver.status == "running":
                scipy_message = solver.step()
                if solver.status == "failed":
                    self._scipy_failed(str(scipy_message), solver.t)
                    return
                self._save(solver)
                self._new_step()
        except NonFiniteDerivative as exc:
            self._fail(exc.rows, f"non-finite derivative in {int(exc.rows.sum())}", exc.t)
            return
        self.active = self.active[:0]

    def _new_step(self) -> None:
        self.bad[:] = False
        self.n_bad = 0

    def _scipy_failed(self, message: str, t: float) -> None:
        """Fail the rows non-finite in the failed step, or all of them if none was."""
        rows = self.bad[: self.active.size].copy()
        if rows.any():
            self._fail(rows, f"{message} after a non-finite derivative in {rows.sum()}", t)
        else:
            self._fail(np.ones(self.active.size, dtype=bool), message, None)

    def _save(self, solver: Any) -> None:
        """Write the ``t_eval`` points of the last step (as ``solve_ivp`` does)."""
        rows = self.active
        first = int(self.saved[rows[0]])
        last = int(np.searchsorted(self.ts, solver.t, side="right"))
        if last > first:
            values = solver.dense_output()(self.ts[first:last])
            self.theta[first:last, rows] = values.T.reshape(last - first, rows.size, self.d)
            self.saved[rows] = last
        self.t = solver.t
        self.y[rows] = solver.y.reshape(rows.size, self.d)

    def _fail(self, rows: np.ndarray, what: str, t: float | None) -> None:
        """Mark active rows ``rows`` failed; they keep their last saved state."""
        ids = self.active[rows]
        self.status[ids] = Status.FAILED.value
        if t is None:
            self.events.append(what)
        else:
            self.events.append(f"{what} element(s) at t = {t:.6g}")
        for i in ids:
            k = int(self.saved[i])
            if k == 0 and self.ts[0] == 0.0:
                self.theta[0, i], k = self.y[i], 1
            if k:
                self.theta[k:, i] = self.theta[k - 1, i]
        self.active = self.active[~rows]

    def message(self) -> str:
        """``solve_ivp``'s message, or what failed and when."""
        if self.ts[-1] == 0.0:
            return "t_eval is only t = 0"
        return "; ".join(self.events) if self.events else SUCCESS_MESSAGE
