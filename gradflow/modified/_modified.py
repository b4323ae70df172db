r"""Backward error analysis: the modified flow a method follows more closely than the flow.

A one-step method ``y_{k+1} = Φ_h(y_k)`` for ``y' = f(y)`` is, to any order, the exact
time-``h`` flow of a *modified* equation

.. math:: \tilde y' = f(\tilde y) + h f_2(\tilde y) + h^2 f_3(\tilde y) + \dots

whose terms follow from matching the Taylor series of ``Φ_h`` with that of the exact
flow (Hairer, Lubich & Wanner, *Geometric Numerical Integration*, §IX.1).  For explicit
Euler, ``f_2 = -½ f'f`` and ``f_3 = ⅓ f'f'f + (1/12) f''(f, f)``.  On the gradient flow
``f = -∇L`` this says that gradient descent follows, to ``O(h²)``, the gradient flow of

.. math:: \tilde L = L + \tfrac{h}{4}\,\lVert\nabla L\rVert^2

(Barrett & Dherin 2021, "implicit gradient regularisation"), and to ``O(h³)`` the field

.. math:: -\nabla L - \tfrac{h}{2} H\nabla L
          - h^2\bigl[\tfrac13 H^2\nabla L + \tfrac1{12}\nabla^3 L[\nabla L, \nabla L]\bigr],

which is no longer a gradient in general.  Here:

* :func:`modified_loss` — the :class:`~gradflow.Problem` of ``L̃`` (its gradient from one
  HVP per evaluation);
* :func:`modified_flow` — the modified vector field of Euler (``order`` 1 or 2), of any
  explicit Runge–Kutta method (coefficients from its tableau) and of heavy ball (order 1),
  with the matching starting point; each method supplies its own coefficients through
  the hooks :meth:`~gradflow.methods.Method.butcher_tableau` and
  :meth:`~gradflow.methods.Method.modified_flow_coefficients`;
* :func:`flow_reference` — scipy ``solve_ivp`` on such a field (the exact modified flow);
* :func:`third_derivative` — ``∇³L[v, v]``, exact for sympy-built problems, otherwise a
  central difference of HVPs;
* :func:`symbolic_modified_equation` — the sympy derivation of ``f_2, f_3, …`` for any
  explicit tableau, scalar or vector.

References
----------
E. Hairer, C. Lubich and G. Wanner, *Geometric Numerical Integration*, 2nd ed.,
Springer, 2006, §IX.1 (modified differential equations) and §IX.9 (their series).
D. G. T. Barrett and B. Dherin, "Implicit gradient regularization", ICLR 2021.
A. Ghosh, H. Lyu, X. Zhang and R. Wang, "Implicit regularization in heavy-ball momentum
accelerated stochastic gradient descent", ICLR 2023.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from gradflow._numerics import (
    CENTRAL_DIFFERENCE_EXPONENT,
    MAX_NON_FINITE_PER_STEP,
    NonFiniteDerivative,
)
from gradflow._validation import check_allocation
from gradflow.methods import ButcherTableau, Method, RungeKutta
from gradflow.problems import Problem

__all__ = [
    "ModifiedEquation",
    "ModifiedFlow",
    "flow_reference",
    "modified_flow",
    "modified_loss",
    "symbolic_modified_equation",
    "third_derivative",
]

#: ``third_derivative`` choices accepted by :func:`modified_flow`.
THIRD_DERIVATIVE_MODES = ("auto", "sympy", "difference")


def _check_h(h: Any, *, scalar: bool) -> Any:
    """A positive finite step (scalar, or an array when ``scalar`` is False)."""
    if isinstance(h, bool):
        raise ValueError(f"h must be a positive step size, got {h!r}")
    try:
        arr = np.asarray(h, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"h must be a positive step size, got {h!r}") from None
    if scalar and arr.ndim != 0:
        raise ValueError(f"h must be a scalar step size here, got shape {arr.shape}")
    if arr.size == 0 or not (np.all(np.isfinite(arr)) and np.all(arr > 0)):
        raise ValueError(f"h must be finite and > 0, got {h!r}")
    return float(arr) if arr.ndim == 0 else arr


def _check_problem(problem: Any) -> Problem:
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a gradflow Problem, got {type(problem).__name__}")
    return problem


# ---------------------------------------------------------------------------------------
# the modified loss (implicit gradient regularisation)
# ---------------------------------------------------------------------------------------
def modified_loss(problem: Problem, h: float) -> Problem:
    r"""The modified loss ``L̃ = L + (h/4)‖∇L‖²`` whose gradient flow GD follows to ``O(h²)``.

    Gradient descent with step ``h`` on ``L`` stays within ``O(h²)`` of the gradient flow
    of ``L̃`` over a fixed time (and within ``O(h)`` of the flow of ``L``).  The gradient
    is ``∇L̃ = ∇L + (h/2) H∇L`` with one Hessian-vector product per evaluation (exact
    when the problem's HVP is; a central difference of ``grad`` otherwise).

    Parameters
    ----------
    problem : Problem
        The loss ``L``.
    h : float
        The step size of gradient descent, ``h > 0``.

    Returns
    -------
    Problem
        With ``loss`` and ``grad`` of ``L̃`` (batched like ``problem``); its HVP is a
        central difference of that gradient.  ``L̃ >= L`` with equality exactly at
        stationary points, so ``minimum`` and ``minimizers`` carry over.

    Raises
    ------
    TypeError
        If ``problem`` is not a Problem.
    ValueError
        If ``h`` is not a positive finite scalar.

    References
    ----------
    D. G. T. Barrett and B. Dherin, "Implicit gradient regularization", ICLR 2021, Thm 3.1.

    Examples
    --------
    >>> import numpy as np
    >>> import gradflow as gf
    >>> p = gf.problems.quadratic(A=np.diag([1.0, 4.0]))
    >>> m = modified_loss(p, 0.1)
    >>> theta = np.array([1.0, 1.0])
    >>> round(float(m.loss(theta) - p.loss(theta)), 12)      # (h/4)·‖Aθ‖² = 0.025·17
    0.425
    >>> m.grad(theta).tolist()                               # (I + (h/2)A) Aθ
    [1.05, 4.8]
    """
    problem = _check_problem(problem)
    step = _check_h(h, scalar=True)
    quarter = 0.25 * step
    half = 0.5 * step

    def loss(theta: Any) -> np.ndarray:
        g = problem.grad(theta)
        return problem.loss(theta) + quarter * np.sum(g * g, axis=-1)

    def grad(theta: Any) -> np.ndarray:
        g = problem.grad(theta)
        return g + half * problem.hvp(theta, g)

    modified = Problem(
        loss,
        grad,
        dim=problem.dim,
        name=f"{problem.name}+h/4|grad|^2 (h={step:g})",
        minimum=problem.minimum,
        minimizers=problem.minimizers,
    )
    modified._rebuilt_by(modified_loss, problem, step)  # closures: pickled as this call
    return modified


# ---------------------------------------------------------------------------------------
# third derivatives
# ---------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=16)
def _sympy_third(expr: Any, symbols: tuple[Any, ...]) -> Callable[..., Any]:
    """Lambdified ``∂_i (vᵀ ∇²L v)``, a function of ``(*θ, *v)``."""
    import sympy as sp

    d = len(symbols)
    v = sp.symbols(f"w_0:{d}", real=True)
    grad = [sp.diff(expr, s) for s in symbols]
    quad = sum(sp.diff(grad[i], symbols[j]) * v[i] * v[j] for i in range(d) for j in range(d))
    comps = [sp.expand(sp.diff(quad, s)) for s in symbols]
    return sp.lambdify([*symbols, *v], comps, modules="numpy", cse=True)


def _is_symbolic(problem: Problem) -> bool:
    return hasattr(problem, "expr") and hasattr(problem, "symbols")


def third_derivative(problem: Problem, theta: ArrayLike, v: ArrayLike, mode: str = "auto") -> Any:
    r"""The third-derivative contraction ``∇³L(θ)[v, v]``, batched.

    Component ``i`` is ``Σ_jk ∂³L/∂θ_i∂θ_j∂θ_k v_j v_k = ∂_i (vᵀ∇²L(θ) v)``.

    Parameters
    ----------
    problem : Problem
        The loss.
    theta, v : array_like, shape (*batch, d)
        Points and directions (broadcast against each other).
    mode : {"auto", "sympy", "difference"}, optional
        ``"sympy"``: exact, from the expression of a problem built by
        :meth:`Problem.from_sympy <gradflow.Problem.from_sympy>`.  ``"difference"``: the
        central difference of HVPs along ``v``,
        ``(H(θ + εv)v - H(θ - εv)v) / (2ε)`` with ``ε = eps^{1/3} max(1, ‖θ‖)/‖v‖``; its
        relative error is about ``eps^{2/3}`` (≈ 1e-11 in float64: truncation ``O(ε²)``
        balanced against rounding ``O(eps/ε)``), and rows with ``v = 0`` give 0.
        ``"auto"`` (default): sympy when possible, else the difference.

    Returns
    -------
    ndarray, shape (*batch, d)

    Raises
    ------
    ValueError
        If ``mode`` is unknown, or ``"sympy"`` is asked of a problem without an
        expression.

    References
    ----------
    J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer, 2006, §8.1.

    Examples
    --------
    >>> import numpy as np
    >>> import gradflow as gf
    >>> p = gf.problems.rosenbrock()          # ∂³L/∂x³ = 2400 x, ∂³L/∂x²∂y = -400
    >>> third_derivative(p, np.array([1.0, 1.0]), np.array([1.0, 0.0])).round(3).tolist()
    [2400.0, -400.0]
    """
    problem = _check_problem(problem)
    if mode not in THIRD_DERIVATIVE_MODES:
        raise ValueError(f"mode must be one of {THIRD_DERIVATIVE_MODES}, got {mode!r}")
    theta, v = np.broadcast_arrays(np.asarray(theta, dtype=float), np.asarray(v, dtype=float))
    symbolic = _is_symbolic(problem)
    if mode == "sympy" and not symbolic:
        raise ValueError(
            "mode='sympy' needs a problem built by Problem.from_sympy (with .expr and .symbols)"
        )
    if symbolic and mode != "difference":
        fn = _sympy_third(problem.expr, tuple(problem.symbols))  # type: ignore[attr-defined]
        comps = fn(*np.moveaxis(theta, -1, 0), *np.moveaxis(v, -1, 0))
        out = np.empty(theta.shape, dtype=theta.dtype)
        for i, c in enumerate(comps):
            out[..., i] = c
        return out
    eps = float(np.finfo(theta.dtype).eps) ** CENTRAL_DIFFERENCE_EXPONENT
    v_norm = np.linalg.norm(v, axis=-1, keepdims=True)
    zero = v_norm == 0
    scale = np.maximum(1.0, np.linalg.norm(theta, axis=-1, keepdims=True))
    step = eps * scale / np.where(zero, 1.0, v_norm)
    diff = problem.hvp(theta + step * v, v) - problem.hvp(theta - step * v, v)
    return np.where(zero, 0.0, diff / (2.0 * step))


# ---------------------------------------------------------------------------------------
# modified vector fields
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)  # eq=False: h may be an array
class ModifiedFlow:
    r"""A modified vector field ``θ' = F_h(θ)`` of a method on a problem (callable).

    Built by :func:`modified_flow`; call it on ``θ`` of shape ``(*batch, d)``.

    Attributes
    ----------
    problem : Problem
    method : Method
    h : float or ndarray
        The step size (an array broadcastable to the batch shape evaluates many step
        sizes at once).
    order : int
        Highest power of ``h`` kept (1 or 2).
    coefficients : tuple of float
        ``(scale, κ, α, γ)``: the field is
        ``scale·[-∇L + h κ H∇L - h²(α ∇³L[∇L,∇L] + γ H²∇L)]`` for Runge–Kutta methods;
        for heavy ball ``scale = 1/(1-β)`` and ``κ = -(1+β)/(2(1-β)²)``.
    shift : float
        Initial-layer coefficient: the iterates follow the modified flow started at
        ``θ0 + shift·h·∇L(θ0)`` (0 for one-step methods, ``β/(1-β)²`` for heavy ball).
    third : str
        How ``∇³L[v, v]`` is computed (see :func:`third_derivative`).
    """

    problem: Problem
    method: Method
    h: Any
    order: int
    coefficients: tuple[float, float, float, float]
    shift: float
    third: str

    def _h_column(self) -> Any:
        """``h`` shaped to multiply ``(*batch, d)`` arrays."""
        h = self.h
        if isinstance(h, np.ndarray):
            return h[..., None]
        return h

    def __call__(self, theta: ArrayLike) -> np.ndarray:
        """The field at ``theta`` (shape ``(*batch, d)``)."""
        theta = np.asarray(theta, dtype=float)
        h = self._h_column()
        scale, kappa, alpha, gamma = self.coefficients
        p = self.problem
        second = self.order >= 2
        g = p.grad(theta)
        needs_hg = kappa != 0.0 or (second and gamma != 0.0)
        hg = p.hvp(theta, g) if needs_hg else None
        field = -g
        if kappa != 0.0:
            field = field + (h * kappa) * hg
        if second and (alpha != 0.0 or gamma != 0.0):
            correction = 0.0
            if gamma != 0.0:
                correction = gamma * p.hvp(theta, hg)
            if alpha != 0.0:
                correction = correction + alpha * third_derivative(p, theta, g, self.third)
            field = field - (h * h) * correction
        return scale * field

    def start(self, theta0: ArrayLike) -> np.ndarray:
        """The starting point of the modified flow that the iterates from ``theta0`` follow.

        One-step methods start where the iteration starts.  Heavy ball starts at rest
        (``θ_{-1} = θ_0``) and lags behind the slow motion of its velocity; its iterates
        follow the modified flow from ``θ0 + h β/(1-β)² ∇L(θ0)`` (an ``O(h)`` shift,
        which would otherwise leave an ``O(h)`` error for all time).
        """
        theta0 = np.asarray(theta0, dtype=float)
        if self.shift == 0.0:
            return theta0.copy()
        h = self._h_column()
        return theta0 + (h * self.shift) * self.problem.grad(theta0)


def modified_flow(
    problem: Problem,
    method: Method | ButcherTableau,
    h: ArrayLike,
    order: int = 1,
    *,
    third_derivative: str = "auto",
) -> ModifiedFlow:
    r"""The modified vector field that ``method`` with step ``h`` follows on ``problem``.

    With ``g = ∇L`` and ``H = ∇²L`` (HVPs only; no Hessian is formed):

    * **Euler** (gradient descent): order 1 ``-g - (h/2)Hg`` (the gradient flow of
      :func:`modified_loss`); order 2 adds ``-h²[⅓ H²g + (1/12) ∇³L[g, g]]``.
    * **Runge–Kutta**: ``-g + hκ Hg - h²(α ∇³L[g,g] + γ H²g)`` with ``κ = Σb_ic_i - ½``,
      ``α = ½Σb_ic_i² - 1/6 - κ/2``, ``γ = Σb_ia_{ij}c_j - 1/6 - κ`` from the tableau
      (Euler: ``κ = -½, α = 1/12, γ = ⅓``; every order-2 tableau has ``κ = 0``; order ≥ 3
      gives the plain flow to this order).
    * **Heavy ball** ``θ_{k+1} = θ_k - h∇L + β(θ_k - θ_{k-1})``, order 1 only:
      ``-(1/(1-β)) ∇[L + h(1+β)/(4(1-β)²)‖∇L‖²]``, started at :meth:`ModifiedFlow.start`.

    The iterates at ``t = kh`` stay within ``O(h^{order+1})`` of the flow of the field
    (from :meth:`ModifiedFlow.start`) over a fixed time, against ``O(h)`` for the flow of
    ``L`` (Euler, heavy ball).

    Parameters
    ----------
    problem : Problem
        The loss; its HVP is used (exact or a finite difference, see
        :meth:`Problem.hvp <gradflow.Problem.hvp>`).
    method : Method or ButcherTableau
        A method that supports backward error analysis: its
        :meth:`~gradflow.methods.Method.modified_flow_coefficients` hook gives the field
        (Euler, every ``RungeKutta`` and every bare tableau, through their tableau;
        ``HeavyBall``).
    h : float or array_like
        Step size ``> 0``; an array broadcastable to the batch shape of the states the
        field is called on gives one field per element (many step sizes in one
        :func:`flow_reference` call).
    order : {1, 2}, optional
        Highest power of ``h`` kept (default 1).
    third_derivative : {"auto", "sympy", "difference"}, optional
        How ``∇³L[g, g]`` (order 2) is computed: see :func:`third_derivative`.  The
        difference has relative error ≈ 1e-11, far below the ``O(h³)`` it is compared
        with.

    Returns
    -------
    ModifiedFlow
        Callable ``field(θ) -> (*batch, d)`` with :meth:`~ModifiedFlow.start`.

    Raises
    ------
    TypeError
        If ``problem`` is not a Problem, or ``method`` is not a Method (or tableau) or has
        no derived modified flow (the message names it).
    ValueError
        If ``h`` is not positive, ``order`` is not 1 or 2 (heavy ball: not 1), or
        ``third_derivative`` is unknown.

    References
    ----------
    E. Hairer, C. Lubich and G. Wanner, *Geometric Numerical Integration*, 2nd ed.,
    Springer, 2006, §IX.1, Example 1.1 and Theorem 1.2.
    D. G. T. Barrett and B. Dherin, "Implicit gradient regularization", ICLR 2021.
    A. Ghosh, H. Lyu, X. Zhang and R. Wang, ICLR 2023 (heavy ball).

    Examples
    --------
    On ``L = ½λθ²`` GD multiplies ``θ`` by ``1 - hλ`` per step: the exact modified rate
    is ``-log(1 - hλ)/h = λ(1 + hλ/2 + h²λ²/3 + …)``.

    >>> import numpy as np
    >>> import gradflow as gf
    >>> p = gf.problems.quadratic(A=np.array([[2.0]]))
    >>> field = modified_flow(p, gf.methods.Euler(), h=0.1, order=2)
    >>> float(-field(np.array([1.0]))[0])            # 2 (1 + 0.1 + 0.04/3)
    2.22666...
    """
    problem = _check_problem(problem)
    if order not in (1, 2) or isinstance(order, bool):
        raise ValueError(f"order must be 1 or 2, got {order!r}")
    if third_derivative not in THIRD_DERIVATIVE_MODES:
        raise ValueError(
            f"third_derivative must be one of {THIRD_DERIVATIVE_MODES}, got {third_derivative!r}"
        )
    step = _check_h(h, scalar=False)
    method = _as_method(method)
    try:
        c = method.modified_flow_coefficients(order)
    except NotImplementedError as exc:
        raise TypeError(f"method must support backward error analysis: {exc}") from None
    coefficients = (float(c.scale), float(c.kappa), float(c.alpha), float(c.gamma))
    return ModifiedFlow(
        problem, method, step, order, coefficients, float(c.shift), third_derivative
    )


def _as_method(method: Any) -> Method:
    """A Method; a bare ButcherTableau becomes ``RungeKutta(tableau)``."""
    if isinstance(method, ButcherTableau):
        return RungeKutta(method)
    if not isinstance(method, Method):
        raise TypeError(
            f"method must be a gradflow Method or a ButcherTableau, got {type(method).__name__}"
        )
    return method


def flow_reference(
    field: Callable[[np.ndarray], np.ndarray],
    theta0: ArrayLike,
    t_eval: ArrayLike,
    *,
    scipy_method: str = "DOP853",
    rtol: float = 1e-12,
    atol: float = 1e-12,
) -> np.ndarray:
    r"""Integrate ``θ' = field(θ)`` from ``theta0`` with scipy ``solve_ivp``.

    The companion of :func:`gradflow.reference.gradient_flow` for an arbitrary batched
    autonomous field (a :class:`ModifiedFlow`, a normalised gradient, ...): the batch is
    one stacked system, and ``field`` is called on states of shape ``(*batch, d)``, so a
    field with per-element step sizes keeps its layout.

    Parameters
    ----------
    field : callable
        ``field(θ) -> (*batch, d)``.
    theta0 : array_like, shape (*batch, d)
        Initial states.
    t_eval : array_like, shape (n,)
        Increasing times ``>= 0``; the integration runs from 0 to ``t_eval[-1]``.
    scipy_method : str, optional
        A ``scipy.integrate.solve_ivp`` method (default ``"DOP853"``).
    rtol, atol : float, optional
        Tolerances (default ``1e-12``).

    Returns
    -------
    ndarray, shape (n, *batch, d)

    Raises
    ------
    ValueError
        If ``t_eval`` is empty, not increasing or negative, ``theta0`` is not finite, or
        the output would exceed :data:`gradflow._validation.MAX_ALLOCATION_BYTES`.
    RuntimeError
        If ``solve_ivp`` fails (its message is included), or ``field`` is NaN or ±inf
        at ``theta0`` or at :data:`gradflow._numerics.MAX_NON_FINITE_PER_STEP`
        evaluations in a row (the integration stops there instead of shrinking a NaN
        step size forever).  A non-finite value at a trial stage alone makes scipy
        reject that step and retry with a smaller one.

    Examples
    --------
    >>> import numpy as np
    >>> out = flow_reference(lambda th: -th, np.ones((3, 2)), [0.0, 1.0])
    >>> out.shape, bool(np.allclose(out[1], np.exp(-1.0), atol=1e-11))
    ((2, 3, 2), True)
    """
    from scipy.integrate import solve_ivp

    if not callable(field):
        raise TypeError(f"field must be callable, got {type(field).__name__}")
    arr = np.asarray(theta0, dtype=float)
    if arr.ndim == 0 or arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ValueError(f"theta0 must be a finite array of shape (*batch, d), got {arr.shape}")
    ts = np.atleast_1d(np.asarray(t_eval, dtype=float))
    if (
        ts.ndim != 1
        or ts.size == 0
        or not np.all(np.isfinite(ts))
        or ts[0] < 0
        or np.any(np.diff(ts) <= 0)
    ):
        raise ValueError("t_eval must be a finite, strictly increasing 1-D array of times >= 0")
    shape = arr.shape
    check_allocation(float(ts.size) * arr.size, 8, f"t_eval ({ts.size} times x {arr.size} states)")

    y0 = arr.reshape(-1)
    in_a_row = [0]  # non-finite evaluations since the last finite one

    def rhs(t: float, y: np.ndarray) -> np.ndarray:
        out = np.asarray(field(y.reshape(shape)), dtype=float).reshape(-1)
        if np.all(np.isfinite(out)):
            in_a_row[0] = 0
            return out
        # At a rejected trial stage scipy retries with a smaller step; at the initial
        # state it would start from a NaN step size and never end, and a long run of
        # non-finite values means it is stuck: stop then.
        in_a_row[0] += 1
        if (t == 0.0 and np.array_equal(y, y0)) or in_a_row[0] > MAX_NON_FINITE_PER_STEP:
            raise NonFiniteDerivative(np.zeros(0, dtype=bool), t)
        return out

    if ts[-1] == 0.0:
        return np.broadcast_to(arr, (ts.size, *shape)).copy()
    with np.errstate(all="ignore"):
        try:
            sol = solve_ivp(
                rhs,
                (0.0, ts[-1]),
                y0,
                method=scipy_method,
                t_eval=ts,
                rtol=rtol,
                atol=atol,
            )
        except NonFiniteDerivative as exc:
            message = f"the field is not finite at t = {exc.t:.6g}"
            raise RuntimeError(f"solve_ivp failed: {message}") from None
    if not sol.success:
        raise RuntimeError(f"solve_ivp failed: {sol.message}")
    return sol.y.T.reshape(ts.size, *shape)


# ---------------------------------------------------------------------------------------
# the symbolic derivation
# ---------------------------------------------------------------------------------------
class ModifiedEquation(NamedTuple):
    """Result of :func:`symbolic_modified_equation`.

    Attributes
    ----------
    terms : tuple
        ``(f_1, f_2, …, f_{order+1})`` with ``f_1 = f``: the modified equation is
        ``y' = Σ_j h^{j-1} f_j(y)``.  Scalar sympy expressions for ``dim = 1``, column
        ``Matrix`` objects otherwise; written with the undefined function(s) ``f`` and
        their derivatives.
    field : sympy.Expr or sympy.Matrix
        ``Σ_j h^{j-1} f_j``.
    h : sympy.Symbol
        The step size.
    y : sympy.Symbol or tuple of sympy.Symbol
        The state variable(s).
    f : sympy.Expr or sympy.Matrix
        ``f(y)`` (scalar) or ``(f_0(y), …, f_{dim-1}(y))``.
    """

    terms: tuple[Any, ...]
    field: Any
    h: Any
    y: Any
    f: Any


def _sympy_tableau(method: Any) -> tuple[list[list[Any]], list[Any]]:
    import sympy as sp

    try:
        tableau = _as_method(method).butcher_tableau()
    except NotImplementedError as exc:
        raise TypeError(
            f"method must be an explicit Runge–Kutta method (one-step, with a tableau): {exc}"
        ) from None
    A, b, _, _ = tableau.exact_coefficients

    def to_sym(x: Any) -> Any:
        if isinstance(x, Fraction):
            return sp.Rational(x.numerator, x.denominator)
        return sp.nsimplify(float(x), rational=True)

    return [[to_sym(x) for x in row] for row in A], [to_sym(x) for x in b]


def _truncate(exprs: list[Any], h: Any, top: int) -> list[Any]:
    """Each expression expanded and cut after ``h**top``."""
    out = []
    for e in exprs:
        e = e.expand()
        out.append(sum((e.coeff(h, k) * h**k for k in range(top + 1)), 0 * h))
    return out


def _shifted(fs: list[Any], ys: list[Any], delta: list[Any], h: Any, top: int) -> list[Any]:
    """``f(y + δ)`` by Taylor's formula, cut after ``h**top`` (``δ = O(h)``)."""
    import sympy as sp

    e = sp.symbols(f"e_0:{len(ys)}")
    out = []
    for f in fs:
        total = f
        term = f
        for n in range(1, top + 1):
            # (e·∇)^n f with e held constant, then e := δ.
            term = sum((sp.diff(term, y) * ei for y, ei in zip(ys, e, strict=True)), 0 * h)
            total = total + term.subs(dict(zip(e, delta, strict=True)), simultaneous=True) / (
                math.factorial(n)
            )
        out.append(total)
    return _truncate(out, h, top)


def symbolic_modified_equation(
    method: Method | ButcherTableau, order: int = 2, dim: int = 1
) -> ModifiedEquation:
    r"""The modified equation of an explicit Runge–Kutta method, derived with sympy.

    For ``y' = f(y)`` (autonomous, scalar or vector) and the one-step map ``Φ_h`` of the
    method, finds ``f_2, …, f_{order+1}`` such that the exact time-``h`` flow of
    ``y' = f + h f_2 + … + h^{order} f_{order+1}`` agrees with ``Φ_h`` to
    ``O(h^{order+2})``.  Both sides are expanded in ``h``: the stages by Taylor's formula
    ``f(y + δ) = Σ_n (δ·∇)^n f / n!``, the flow by its Lie series
    ``y + Σ_m h^m/m! y^{(m)}`` with ``y^{(m+1)} = (y^{(m)})' F``.  The coefficient of
    ``h^{j+1}`` contains ``f_{j+1}`` only through the term ``h·h^j f_{j+1}``, so the
    terms are found one after another.

    Parameters
    ----------
    method : Method or ButcherTableau
        Any explicit tableau, or a method whose
        :meth:`~gradflow.methods.Method.butcher_tableau` hook returns one (Euler,
        ``RungeKutta``); exact coefficients are kept as rationals.
    order : int, optional
        Highest power of ``h`` in the modified field, ``>= 1`` (default 2: ``f_2, f_3``).
        The work grows quickly; ``order <= 3`` takes seconds.
    dim : int, optional
        ``1`` (default): scalar ``f(y)``.  ``dim >= 2``: a vector field of undefined
        functions ``f_i(y_0, …, y_{dim-1})``.

    Returns
    -------
    ModifiedEquation
        The terms ``(f, f_2, …)``, the truncated field, and the symbols ``h``, ``y``, ``f``.

    Raises
    ------
    TypeError
        If ``method`` is not an explicit Runge–Kutta method (no tableau; the message
        names it).
    ValueError
        If ``order < 1`` or ``dim < 1``.

    References
    ----------
    E. Hairer, C. Lubich and G. Wanner, *Geometric Numerical Integration*, 2nd ed.,
    Springer, 2006, §IX.1 (equation (1.4) and Example 1.1 for explicit Euler).

    Examples
    --------
    >>> import sympy as sp
    >>> import gradflow as gf
    >>> eq = symbolic_modified_equation(gf.methods.Euler(), order=2)
    >>> f, y = eq.f, eq.y
    >>> sp.simplify(eq.terms[1] + f * f.diff(y) / 2)
    0
    >>> sp.simplify(eq.terms[2] - (f.diff(y) ** 2 * f / 3 + f.diff(y, 2) * f**2 / 12))
    0
    >>> symbolic_modified_equation(gf.methods.RungeKutta(gf.methods.HEUN), 1).terms[1]
    0
    """
    import sympy as sp

    for label, value in (("order", order), ("dim", dim)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{label} must be an integer >= 1, got {value!r}")
    A, b = _sympy_tableau(method)
    s = len(b)
    h = sp.Symbol("h")
    if dim == 1:
        y = sp.Symbol("y")
        ys = [y]
        fs = [sp.Function("f")(y)]
    else:
        ys = list(sp.symbols(f"y_0:{dim}"))
        fs = [sp.Function(f"f_{i}")(*ys) for i in range(dim)]
    top = order + 1  # match Φ_h and the flow through h**top

    # The numerical one-step map Φ_h(y) - y, cut after h**top.
    stages: list[list[Any]] = []
    for i in range(s):
        delta = [
            h * sum((A[i][j] * stages[j][c] for j in range(i)), sp.Integer(0))
            for c in range(len(ys))
        ]
        stages.append(_shifted(fs, ys, delta, h, top - 1))
    step_map = _truncate(
        [h * sum((b[i] * stages[i][c] for i in range(s)), sp.Integer(0)) for c in range(len(ys))],
        h,
        top,
    )

    terms: list[list[Any]] = [list(fs)]
    for j in range(1, order + 1):
        # Flow of y' = F with F = Σ_{i<=j} h^{i-1} f_i (f_{j+1} still unknown), to h**(j+1).
        field = [sum((h**i * terms[i][c] for i in range(j)), sp.Integer(0)) for c in range(len(ys))]
        derivative = field
        flow_coeff = [sp.Integer(0)] * len(ys)
        for m in range(1, j + 2):
            if m > 1:
                derivative = _truncate(
                    [
                        sum((sp.diff(dc, y_) * fc for y_, fc in zip(ys, field, strict=True)), 0 * h)
                        for dc in derivative
                    ],
                    h,
                    j + 1 - m,
                )
            for c in range(len(ys)):
                flow_coeff[c] += derivative[c].expand().coeff(h, j + 1 - m) / math.factorial(m)
        new = [sp.expand(step_map[c].coeff(h, j + 1) - flow_coeff[c]) for c in range(len(ys))]
        terms.append(new)

    if dim == 1:
        out_terms = tuple(t[0] for t in terms)
        f_out = fs[0]
        y_out = ys[0]
        field_out = sum((h**i * out_terms[i] for i in range(order + 1)), sp.Integer(0))
    else:
        out_terms = tuple(sp.Matrix(t) for t in terms)
        f_out = sp.Matrix(fs)
        y_out = tuple(ys)
        field_out = sum((h**i * out_terms[i] for i in range(1, order + 1)), out_terms[0])
    return ModifiedEquation(out_terms, field_out, h, y_out, f_out)
