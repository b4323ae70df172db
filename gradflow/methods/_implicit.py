r"""Implicit Euler on the gradient flow: the proximal-point method, solved by Newton."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np

from gradflow._validation import check_integer, check_positive
from gradflow.methods._base import Method, StepResult
from gradflow.problems import Problem

__all__ = ["ImplicitEuler", "ImplicitEulerState"]

#: Safety factor on the rounding level of the Newton residual (see :class:`ImplicitEuler`):
#: a correction below ``NOISE_FACTOR`` times that level is rounding noise.
NOISE_FACTOR = 4.0


class ImplicitEulerState(NamedTuple):
    """State of :class:`ImplicitEuler`: just the parameters, shape ``(B, d)``."""

    theta: np.ndarray


def _solve_rows(J: np.ndarray, rhs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``J x = rhs`` for a stack of systems; flag the (numerically) singular ones.

    Returns ``(x, singular)``.  ``np.linalg.solve`` raises for the whole stack when one
    matrix is exactly singular; then the rows whose smallest singular value is below
    ``d·eps·σ_max`` are flagged and the others solved again (each system is solved by
    its own LU factorisation, so a row's result does not depend on the others).
    """
    n, d = rhs.shape
    singular = np.zeros(n, dtype=bool)
    try:
        return np.linalg.solve(J, rhs[..., None])[..., 0], singular
    except np.linalg.LinAlgError:
        pass
    sv = np.linalg.svd(J, compute_uv=False)
    eps = np.finfo(J.dtype).eps
    singular = ~(sv[:, -1] > d * eps * sv[:, 0])
    x = np.full_like(rhs, np.nan)
    ok = ~singular
    if ok.any():
        try:
            x[ok] = np.linalg.solve(J[ok], rhs[ok][..., None])[..., 0]
        except np.linalg.LinAlgError:  # pragma: no cover - exact zero pivot, σ_min > 0
            singular[:] = True
    return x, singular


@dataclass(frozen=True)
class ImplicitEuler(Method):
    r"""Implicit (backward) Euler on the gradient flow: the proximal-point method.

    .. math:: \theta_{k+1} = \theta_k - h\,\nabla L(\theta_{k+1}),
              \qquad \text{discretising} \qquad
              \frac{d\theta}{dt} = -\nabla L(\theta),\quad t_k = k h .

    Equivalently ``θ_{k+1} = argmin_u L(u) + ‖u - θ_k‖²/(2h)`` (the proximal point of
    ``θ_k``; the stationarity condition of this problem is the equation above, and for
    convex ``L`` it has exactly one solution).

    The equation ``F(u) = u - θ_k + h∇L(u) = 0`` is solved by Newton's method with the
    Jacobian ``J = I + h∇²L(u)`` (from ``problem.hessian``), started from the explicit
    Euler predictor ``u_0 = θ_k - h∇L(θ_k)``.  A row has converged when the Newton
    correction satisfies ``‖Δu‖ <= max(tol·(1 + ‖u‖), ν)``, where

    .. math:: \nu = 4\,\bigl\lVert \epsilon\,\bigl(|u| + |\theta_k|
              + h\,|\nabla^2 L(u)|\,|u| + h\,|\nabla L(u)|\bigr)\bigr\rVert

    (``ε`` the dtype's machine epsilon, absolute values entrywise) estimates the
    rounding level of the residual ``F``: corrections below it are rounding noise, so a
    ``tol`` under it cannot be met (with ``h‖∇²L‖ = 1e8``, ``ν ≈ 1e-8‖u‖`` in float64;
    in float32 ``ν`` is always above ``1e-12``).  Only the rows still iterating are
    evaluated.  Rows that do not converge in ``max_iter`` iterations, whose ``J`` is
    singular, or whose iterates become non-finite are reported in
    ``StepResult.failed`` (the driver then stops them with status ``"failed"``,
    keeping their last state).  On a non-convex ``L`` with ``h`` beyond ``1/|λmin|``
    Newton finds *a* stationary point of the proximal objective, not necessarily its
    minimiser.

    Cost: the predictor takes one gradient, and each Newton iteration one gradient and
    one Hessian.  ``StepResult.n_grad`` is the per-element number of *gradient*
    evaluations (``1 + iterations``); Hessian evaluations equal ``iterations`` and are
    not counted separately.  ``grads_per_step = 2`` is the minimum (one iteration).

    Order 1.  Stability function ``R(z) = 1/(1 - z)``: ``|R(z)| < 1`` on the whole left
    half-plane (A-stable, indeed L-stable), so on a convex quadratic the iteration is
    stable for every ``h > 0`` (stability limit ``∞``) and each eigencomponent is
    multiplied by ``1/(1 + hλ_i)`` per step.

    Parameters
    ----------
    tol : float, optional
        Relative tolerance of the Newton iteration (default ``1e-12``), ``> 0``.
    max_iter : int, optional
        Newton iterations allowed per step (default 50), ``>= 1``.

    Raises
    ------
    TypeError
        If ``tol`` is not a real number or ``max_iter`` not an integer.
    ValueError
        If ``tol`` is not finite and positive or ``max_iter < 1``.

    References
    ----------
    R. T. Rockafellar, "Monotone operators and the proximal point algorithm", SIAM J.
    Control Optim. 14(5), 877–898, 1976.
    E. Hairer and G. Wanner, *Solving Ordinary Differential Equations II*, 2nd ed.,
    Springer, 1996, §IV.3 and §IV.8.
    N. Parikh and S. Boyd, "Proximal algorithms", Found. Trends Optim. 1(3), 127–239,
    2014.

    Examples
    --------
    A step far beyond explicit Euler's limit ``2/λmax = 0.002`` is stable and exact:

    >>> import numpy as np
    >>> import gradflow as gf
    >>> p = gf.problems.quadratic(A=np.diag([1.0, 1000.0]))
    >>> traj = gf.solve(p, np.ones(2), gf.methods.ImplicitEuler(), 1.0, steps=3,
    ...                 save="final")
    >>> np.allclose(traj.theta[-1], [1 / 2**3, 1 / 1001**3], rtol=1e-12)
    True
    >>> traj.n_grad.item()      # 3 steps × (predictor + 2 Newton iterations)
    9
    """

    tol: float = 1e-12
    max_iter: int = 50
    order: ClassVar[int] = 1
    ode: ClassVar[str] = "dθ/dt = -∇L(θ)"
    grads_per_step: ClassVar[int] = 2
    init_grads: ClassVar[int] = 0
    checks_every_step: ClassVar[bool] = True

    def __post_init__(self) -> None:
        check_positive(self.tol, "tol")
        check_integer(self.max_iter, "max_iter", 1)

    def init(self, problem: Problem, theta0: np.ndarray) -> ImplicitEulerState:
        """Wrap ``theta0`` (shape ``(B, d)``) as the initial state."""
        return ImplicitEulerState(theta0)

    def step(self, problem: Problem, state: ImplicitEulerState, h: np.ndarray) -> StepResult:
        """Solve ``u = θ - h∇L(u)`` by batched Newton for every element.

        Returns per-element gradient counts and the mask of failed elements (or
        ``None`` when every element converged).
        """
        theta = state.theta
        B, d = theta.shape
        dtype = theta.dtype
        h_col = np.broadcast_to(np.asarray(h, dtype=dtype).reshape(-1, 1), (B, 1))
        tol = float(self.tol)
        eps = float(np.finfo(dtype).eps)
        eye = np.eye(d, dtype=dtype)

        # Explicit Euler predictor (a new array: the iterates are written into it).
        u = h_col * problem.grad(theta)
        np.subtract(theta, u, out=u)
        n_grad = np.ones(B, dtype=np.int64)
        failed = np.zeros(B, dtype=bool)
        rows = np.arange(B)  # the working set: rows still iterating
        for _ in range(self.max_iter):
            u_w, h_w = u[rows], h_col[rows]
            # The problem as seen by the working rows (their minibatches, their counts).
            working = problem.restrict(rows)
            g = working.grad(u_w)
            n_grad[rows] += 1
            residual = u_w - theta[rows]
            residual += h_w * g
            H = working.hessian(u_w)
            # Rounding level of the residual (an entrywise bound, times NOISE_FACTOR).
            noise = np.abs(H) @ np.abs(u_w)[:, :, None]
            noise = noise[:, :, 0]
            noise += np.abs(g)
            noise *= h_w
            noise += np.abs(u_w)
            noise += np.abs(theta[rows])
            floor = (NOISE_FACTOR * eps) * np.linalg.norm(noise, axis=-1)
            J = H * h_w[:, :, None]
            J += eye
            finite = np.isfinite(residual).all(axis=-1) & np.isfinite(J).all(axis=(-2, -1))
            if not finite.all():
                residual[~finite] = 0.0
                J[~finite] = eye
            delta, singular = _solve_rows(J, -residual)
            u_w += delta
            u[rows] = u_w
            bad = ~finite | singular | ~np.isfinite(u_w).all(axis=-1)
            size = np.linalg.norm(delta, axis=-1)
            done = size <= np.maximum(tol * (1.0 + np.linalg.norm(u_w, axis=-1)), floor)
            failed[rows[bad]] = True
            rows = rows[~(bad | done)]
            if rows.size == 0:
                break
        failed[rows] = True  # not converged in max_iter iterations
        return StepResult(ImplicitEulerState(u), None, n_grad, failed if failed.any() else None)

    def amplification_matrix(self) -> Any:
        """``[[1/(1 - z)]]``: one step multiplies ``y`` by ``R(z) = 1/(1 - z)``."""
        import sympy as sp

        return sp.Matrix([[1 / (1 - sp.Symbol("z"))]])
