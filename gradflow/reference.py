"""Reference solutions of the gradient flow by scipy's ``solve_ivp``.

These are the yardstick every integrator in gradflow is measured against: the exact
flow ``dθ/dt = -∇L(θ)`` computed to ``rtol = atol = 1e-12`` by a high-order or implicit
scipy solver.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from gradflow._trajectory import STATUS_DTYPE, Status, Trajectory
from gradflow._validation import (
    as_state_array,
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
        ``"ok"`` everywhere, or ``"failed"`` for the whole batch if scipy failed (its
        message is in ``message``).  ``n_grad`` counts gradient evaluations
        of the batch, ``h`` is zero (scipy chooses its own steps).

    Raises
    ------
    ValueError
        If ``theta0`` has the wrong shape or is not finite, ``t_eval`` is not increasing
        and non-negative, a tolerance or ``max_step`` is not positive, or
        ``scipy_method`` is unknown.
    TypeError
        If ``problem`` is not a Problem, ``theta0`` or ``t_eval`` does not hold real
        numbers, a tolerance is not a real number or ``scipy_method`` is not a string.

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
    from scipy.integrate import solve_ivp

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
    y0 = arr.reshape(-1)
    n_calls = [0]

    def rhs(_t: float, y: np.ndarray) -> np.ndarray:
        n_calls[0] += 1
        return -problem.grad(y.reshape(B, d)).reshape(-1)

    options: dict[str, Any] = {}
    if scipy_method in IMPLICIT_SCIPY_METHODS:
        from scipy.sparse import block_diag

        def jac(_t: float, y: np.ndarray) -> Any:
            blocks = -problem.hessian(y.reshape(B, d))
            sparse = block_diag(list(blocks), format="csc")
            # LSODA takes only dense Jacobians; Radau and BDF use the sparse structure.
            return sparse.toarray() if scipy_method == "LSODA" else sparse

        options["jac"] = jac
    t_end = float(ts[-1])
    with np.errstate(all="ignore"):
        if t_end == 0.0:
            ys = y0[:, None]
            success, message = True, "t_eval is only t = 0"
        else:
            sol = solve_ivp(
                rhs,
                (0.0, t_end),
                y0,
                method=scipy_method,
                t_eval=ts,
                rtol=rtol,
                atol=atol,
                max_step=max_step,
                **options,
            )
            ys, success, message = sol.y, sol.success, sol.message
    n = ts.size
    theta = np.empty((n, B, d))
    got = ys.shape[1]
    theta[:got] = ys.T.reshape(got, B, d)
    theta[got:] = np.nan if got == 0 else theta[got - 1]
    status = Status.OK.value if success else Status.FAILED.value
    with np.errstate(all="ignore"):
        loss = problem.loss(theta)
    traj = Trajectory(
        t=np.broadcast_to(ts.reshape(n, *([1] * len(batch))), (n, *batch)).copy(),
        theta=theta.reshape(n, *batch, d),
        loss=np.asarray(loss).reshape(n, *batch),
        h=np.zeros((n, *batch)),
        step=np.zeros((n, *batch), dtype=np.int64),
        status=np.full(batch, status, dtype=STATUS_DTYPE),
        n_grad=np.full(batch, n_calls[0], dtype=np.int64),
        n_steps=np.zeros(batch, dtype=np.int64),
        n_rejected=np.zeros(batch, dtype=np.int64),
        method=f"solve_ivp[{scipy_method}]",
        problem=problem.name,
        message=str(message),
    )
    return traj
