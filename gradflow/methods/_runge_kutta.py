r"""Explicit Runge–Kutta methods on the gradient flow, from a Butcher tableau."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

import numpy as np

from gradflow.methods._base import Method, StepResult
from gradflow.methods._tableau import ButcherTableau
from gradflow.problems import Problem

__all__ = ["RungeKutta", "RungeKuttaState"]


class RungeKuttaState(NamedTuple):
    """State of :class:`RungeKutta`: the point and the gradient there, both ``(B, d)``.

    Keeping ``∇L(θ)`` makes the first stage of every step free; for FSAL tableaux the
    last stage of a step is the next step's first, so a step costs ``s - 1`` gradients.
    """

    theta: np.ndarray
    grad: np.ndarray


#: A linear combination ``Σ_j w_j g_j``: the ``(j, w_j)`` of its non-zero weights, with
#: ``w_j`` a Python float (a numpy float64 weight would promote a float32 run to float64).
Terms = tuple[tuple[int, float], ...]


class _Plan(NamedTuple):
    """The tableau as the step loop reads it (worked out once per method)."""

    stages: tuple[Terms, ...]  # stage i = 1 .. s-1: the terms of Σ_j a_ij g_j
    solution: Terms  # Σ_i b_i g_i (unused for FSAL tableaux)
    error: Terms | None  # Σ_i (b̂_i - b_i) g_i, None without an embedded pair
    fsal: bool
    grads_per_step: int


def _terms(weights: np.ndarray) -> Terms:
    return tuple((j, float(w)) for j, w in enumerate(weights) if float(w) != 0.0)


def _plan(tab: ButcherTableau) -> _Plan:
    s = tab.stages
    error = None
    if tab.b_hat_weights is not None:
        # The difference of the float64 weights (not the float of the exact difference):
        # the error estimate every earlier release computed, bit for bit.
        error = _terms(tab.b_hat_weights - tab.b_weights)
    return _Plan(
        tuple(_terms(tab.a[i, :i]) for i in range(1, s)),
        _terms(tab.b_weights),
        error,
        tab.fsal,
        s - 1 if tab.fsal else s,
    )


def _combine(
    terms: Terms, grads: list[np.ndarray], scratch: np.ndarray | None
) -> np.ndarray | None:
    """``Σ_j w_j g_j`` over ``terms``, summed in their order (None for no terms).

    ``scratch`` (same shape as the gradients; made here if None) holds the products, so
    a combination allocates only its result.  The sum runs term by term, elementwise: every row's
    value is the same whatever the batch around it.
    """
    if not terms:
        return None
    j, w = terms[0]
    total = grads[j].copy() if w == 1.0 else grads[j] * w
    for j, w in terms[1:]:
        if w == 1.0:
            total += grads[j]
        else:
            if scratch is None:
                scratch = np.empty_like(total)
            np.multiply(grads[j], w, out=scratch)
            total += scratch
    return total


@dataclass(frozen=True)
class RungeKutta(Method):
    r"""An explicit Runge–Kutta method on the gradient flow ``dθ/dt = -∇L(θ)``.

    With tableau ``(A, b, c)`` and ``g_i`` the gradient at stage ``i``,

    .. math:: g_i = \nabla L\Big(\theta_k - h \sum_{j<i} a_{ij} g_j\Big), \qquad
              \theta_{k+1} = \theta_k - h \sum_i b_i g_i .

    The order is the tableau's (checked by its order conditions); the linear stability
    function is ``R(z) = 1 + z bᵀ(I - zA)⁻¹1``, a polynomial of degree ``s`` for an
    explicit method, so on a Hessian spectrum in ``[0, λmax]`` the method is stable iff
    ``h λmax`` lies in its real stability interval (Euler, Heun, midpoint: 2; RK4:
    2.7853; see :func:`gradflow.stability.real_stability_limit`).  With an embedded
    ``b̂`` the step also returns the local error estimate ``-h Σ (b_i - b̂_i) g_i``.

    Parameters
    ----------
    tableau : ButcherTableau
        E.g. :data:`~gradflow.methods.HEUN`, :data:`~gradflow.methods.RK4`,
        :data:`~gradflow.methods.DOPRI54`.

    Raises
    ------
    TypeError
        If ``tableau`` is not a :class:`ButcherTableau`.

    References
    ----------
    E. Hairer, S. P. Nørsett and G. Wanner, *Solving Ordinary Differential Equations I*,
    2nd ed., Springer, 1993, §II.1–II.5.
    J. C. Butcher, *Numerical Methods for Ordinary Differential Equations*, 3rd ed.,
    Wiley, 2016.

    Examples
    --------
    >>> import numpy as np
    >>> import gradflow as gf
    >>> p = gf.problems.quadratic(A=np.array([[2.0]]))
    >>> rk4 = gf.methods.RungeKutta(gf.methods.RK4)
    >>> traj = gf.solve(p, [1.0], rk4, stepsize=0.1, steps=10, save="final")
    >>> float(abs(traj.theta[0, 0] - np.exp(-2.0))) < 1e-5   # θ(1) = e^{-2}, error O(h⁴)
    True
    >>> rk4.order, rk4.grads_per_step
    (4, 4)
    """

    rows_independent: ClassVar[bool] = True

    tableau: ButcherTableau
    _plan: _Plan = field(init=False, repr=False, compare=False)
    ode: ClassVar[str] = "dθ/dt = -∇L(θ)"
    init_grads: ClassVar[int] = 1

    def __post_init__(self) -> None:
        if not isinstance(self.tableau, ButcherTableau):
            raise TypeError(f"tableau must be a ButcherTableau, got {type(self.tableau).__name__}")
        # Python-float weights and non-zero terms, worked out once: a step on a small
        # batch is otherwise dominated by per-step conversions of the tableau.
        object.__setattr__(self, "_plan", _plan(self.tableau))

    @property
    def name(self) -> str:  # type: ignore[override]
        """The tableau's name."""
        return self.tableau.name

    @property
    def order(self) -> int:  # type: ignore[override]
        """The tableau's order."""
        return self.tableau.order

    @property
    def error_order(self) -> int | None:  # type: ignore[override]
        """Order of the embedded solution (None without one)."""
        return self.tableau.embedded_order

    @property
    def grads_per_step(self) -> int:  # type: ignore[override]
        """``s - 1`` for FSAL tableaux, else ``s`` (the gradient at the new point)."""
        return self._plan.grads_per_step

    def init(self, problem: Problem, theta0: np.ndarray) -> RungeKuttaState:
        """The start and its gradient (one gradient evaluation)."""
        return RungeKuttaState(theta0, problem.grad(theta0))

    def step(self, problem: Problem, state: RungeKuttaState, h: np.ndarray) -> StepResult:
        """One step for every element; returns the error estimate for embedded pairs."""
        plan = self._plan
        theta = state.theta
        grads = [state.grad]
        last = len(plan.stages)
        scratch = np.empty_like(state.grad) if last > 1 else None
        stage = theta
        for terms in plan.stages:
            increment = _combine(terms, grads, scratch)
            if increment is None:
                stage = theta
            else:
                increment *= h
                stage = np.subtract(theta, increment, out=increment)
            grads.append(problem.grad(stage))
        if plan.fsal:
            new_theta, new_grad = stage, grads[-1]  # the last stage is the solution itself
        else:
            update = _combine(plan.solution, grads, scratch)
            update *= h
            new_theta = np.subtract(theta, update, out=update)
            new_grad = problem.grad(new_theta)
        error = None
        if plan.error is not None:
            error = _combine(plan.error, grads, scratch)
            error = np.zeros_like(theta) if error is None else error * h
        return StepResult(RungeKuttaState(new_theta, new_grad), error, plan.grads_per_step)

    def butcher_tableau(self) -> ButcherTableau:
        """The tableau (backward error analysis derives the modified flow from it)."""
        return self.tableau

    def amplification_matrix(self) -> Any:
        """``[[R(z)]]`` with ``R(z) = 1 + z bᵀ(I - zA)⁻¹1``, exact in rationals."""
        import sympy as sp

        z = sp.Symbol("z")
        A, b, _, _ = self.tableau.exact_coefficients
        s = self.tableau.stages
        to_sym = sp.Rational if self.tableau.exact else sp.nsimplify
        Am = sp.Matrix(s, s, lambda i, j: to_sym(A[i][j]))
        bm = sp.Matrix(1, s, lambda _, j: to_sym(b[j]))
        ones = sp.ones(s, 1)
        # A is nilpotent (strictly lower triangular): (I - zA)^{-1} = Σ_{k<s} (zA)^k.
        resolvent = sp.zeros(s, s)
        power = sp.eye(s)
        for _ in range(s):
            resolvent += power
            power = power * (z * Am)
        R = sp.expand(1 + z * (bm * resolvent * ones)[0, 0])
        return sp.Matrix([[R]])
