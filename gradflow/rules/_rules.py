r"""Optimisation-side adaptive step sizes: line search, Polyak, Barzilai–Borwein, AdGD.

These choose ``h`` from sufficient decrease or local curvature instead of a local error
estimate.  Each is a batched :class:`~gradflow.stepsize.StepSizePolicy`: every element
keeps its own step and history.  Rules read the loss and gradient at the new point
from the step's :class:`~gradflow.stepsize.Observation`: evaluated once, through the
driver's counting view of the problem, and shared with the method (with plain GD the
gradient at the new point is the one the next step needs, so a rule that reads it
costs no extra evaluation).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from gradflow._validation import (
    check_choice,
    check_in_range,
    check_integer,
    check_positive,
    check_real,
)
from gradflow.stepsize import Observation, StepSizePolicy, Verdict

__all__ = ["AdGD", "Armijo", "BarzilaiBorwein", "LocalLipschitz", "Polyak"]


def _sq(x: np.ndarray) -> np.ndarray:
    return np.sum(x * x, axis=-1)


class _ArmijoState(NamedTuple):
    h: np.ndarray  # (B,) trial step
    loss: np.ndarray  # (B,) loss at the current (accepted) point


class Armijo(StepSizePolicy):
    r"""Backtracking line search with the Armijo sufficient-decrease condition.

    A trial step ``θ⁺`` with step ``h`` along the method's direction
    ``d = (θ - θ⁺)/h`` (for gradient descent ``d = ∇L(θ)``) is accepted iff

    .. math:: L(θ^+) \le L(θ) - c\, h\, \lVert d\rVert^2 ,

    otherwise it is rejected and retried with ``ρ h``.  Each new step starts again from
    ``h0`` (classical backtracking).

    Parameters
    ----------
    c : float, optional
        Sufficient-decrease constant in (0, 1), default 1e-4.
    rho : float, optional
        Backtracking factor in (0, 1), default 0.5.
    h0 : float, optional
        First trial step of every iteration, default 1.
    h_min : float, optional
        An element whose trial step falls below this stops with ``"step_too_small"``
        (default ``1e-12 · h0``).

    Raises
    ------
    TypeError
        If an argument is not a real number (a bool, a string, ``None`` for ``c``,
        ``rho`` or ``h0``...).
    ValueError
        If ``c`` or ``rho`` is not in (0, 1), or ``h0``/``h_min`` is not finite and
        positive.

    References
    ----------
    L. Armijo, "Minimization of functions having Lipschitz continuous first partial
    derivatives", Pacific J. Math. 16(1), 1–3, 1966.
    J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer, 2006, §3.1.

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.rosenbrock()
    >>> traj = gf.solve(p, [-1.2, 1.0], stepsize=gf.rules.Armijo(), steps=2000, save="final")
    >>> bool(traj.loss[-1] < 1e-2), int(traj.n_steps + traj.n_rejected)  # 2000 trials
    (True, 2000)
    """

    def __init__(
        self, c: float = 1e-4, rho: float = 0.5, h0: float = 1.0, h_min: float | None = None
    ) -> None:
        self.c = check_in_range(c, "c", 0.0, 1.0, low_open=True, high_open=True)
        self.rho = check_in_range(rho, "rho", 0.0, 1.0, low_open=True, high_open=True)
        self.h0 = check_positive(h0, "h0")
        self.h_min = 1e-12 * self.h0 if h_min is None else check_positive(h_min, "h_min")

    def init(
        self, problem: Any, theta0: np.ndarray, batch_shape: tuple[int, ...], method: Any
    ) -> Any:
        return _ArmijoState(np.full(theta0.shape[0], self.h0), problem.loss(theta0))

    def propose(self, state: _ArmijoState, k: int) -> np.ndarray:
        return state.h

    def update(self, state: _ArmijoState, obs: Observation) -> tuple[Any, Verdict]:
        h = obs.h.astype(float)
        direction_sq = _sq(obs.theta_old - obs.theta) / (h * h)
        accepted = obs.loss <= state.loss - self.c * h * direction_sq
        accepted &= np.isfinite(obs.loss)
        h_next = np.where(accepted, self.h0, self.rho * h)
        too_small = ~accepted & (h_next < self.h_min)
        new_state = _ArmijoState(h_next, np.where(accepted, obs.loss, state.loss))
        return new_state, Verdict(accepted, too_small if too_small.any() else None)


class _PolyakState(NamedTuple):
    h: np.ndarray
    f_star: float
    SHARED = ("f_star",)


class Polyak(StepSizePolicy):
    r"""Polyak's step ``h_k = (L(θ_k) - L^*) / \lVert∇L(θ_k)\rVert^2``.

    Parameters
    ----------
    f_star : float, optional
        The optimal value ``L*``; default ``problem.minimum``.
    h_max : float, optional
        Cap on the step (also used where the gradient vanishes), default 1e6.

    Raises
    ------
    TypeError
        If ``f_star`` or ``h_max`` is not a real number.
    ValueError
        If ``f_star`` is not finite or ``h_max`` not finite and positive; when the run
        starts, if neither ``f_star`` nor ``problem.minimum`` is known.

    Notes
    -----
    Needs the loss and the gradient at the current point: one extra gradient evaluation
    per step with GD (counted).  Use ``steps=`` rather than ``t_final``: the step tends to
    zero as ``L → L*``.

    References
    ----------
    B. T. Polyak, *Introduction to Optimization*, Optimization Software, 1987, §5.3.
    E. Hazan and S. Kakade, "Revisiting the Polyak step size", arXiv:1905.00313, 2019.

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 10.0], seed=0)
    >>> traj = gf.solve(p, np.ones(2), stepsize=gf.rules.Polyak(), steps=300, save="final")
    >>> bool(traj.loss[-1] - p.minimum < 1e-10)
    True
    """

    def __init__(self, f_star: float | None = None, h_max: float = 1e6) -> None:
        self.f_star = None if f_star is None else check_real(f_star, "f_star")
        self.h_max = check_positive(h_max, "h_max")

    def _step(self, loss: np.ndarray, grad: np.ndarray, f_star: float) -> np.ndarray:
        g2 = _sq(grad)
        gap = np.maximum(loss - f_star, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            h = np.where(g2 > 0, gap / g2, self.h_max)
        # A zero gap gives h = 0: the element stays at its minimiser.
        return np.minimum(np.nan_to_num(h, nan=0.0), self.h_max)

    def init(
        self, problem: Any, theta0: np.ndarray, batch_shape: tuple[int, ...], method: Any
    ) -> Any:
        f_star = self.f_star if self.f_star is not None else problem.minimum
        if f_star is None:
            raise ValueError(
                f"Polyak needs f_star: give it, or use a problem with a known minimum "
                f"({problem.name!r} has none)"
            )
        f_star = float(f_star)
        h = self._step(problem.loss(theta0), problem.grad(theta0), f_star)
        return _PolyakState(h, f_star)

    def propose(self, state: _PolyakState, k: int) -> np.ndarray:
        return state.h

    def update(self, state: _PolyakState, obs: Observation) -> tuple[Any, Verdict]:
        return _PolyakState(self._step(obs.loss, obs.grad, state.f_star), state.f_star), Verdict()


class _SecantState(NamedTuple):
    h: np.ndarray  # (B,) next step
    grad: np.ndarray  # (B, d) gradient at the current point
    ratio: np.ndarray  # (B,) AdGD's θ_k = λ_k / λ_{k-1}


class _SecantRule(StepSizePolicy):
    """Shared machinery of the rules that use s = Δθ and y = Δ∇L."""

    def __init__(self, h0: float) -> None:
        self.h0 = check_positive(h0, "h0")

    def init(
        self, problem: Any, theta0: np.ndarray, batch_shape: tuple[int, ...], method: Any
    ) -> Any:
        B = theta0.shape[0]
        return _SecantState(np.full(B, self.h0), problem.grad(theta0), np.full(B, np.inf))

    def propose(self, state: _SecantState, k: int) -> np.ndarray:
        return state.h

    def _next(self, state: _SecantState, s: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
        raise NotImplementedError

    def update(self, state: _SecantState, obs: Observation) -> tuple[Any, Verdict]:
        s = obs.theta - obs.theta_old
        y = obs.grad - state.grad
        h, ratio = self._next(state, s, y)
        # Keep the last good step where the secant information is degenerate.
        ok = np.isfinite(h) & (h > 0)
        h = np.where(ok, h, state.h)
        return _SecantState(h, obs.grad, ratio), Verdict()


class BarzilaiBorwein(_SecantRule):
    r"""Barzilai–Borwein steps ``BB1 = sᵀs / sᵀy`` or ``BB2 = sᵀy / yᵀy``.

    With ``s = θ_k - θ_{k-1}`` and ``y = ∇L(θ_k) - ∇L(θ_{k-1})``; on a quadratic both lie
    in ``[1/λmax, 1/λmin]``.  Where ``sᵀy <= 0`` (non-convex region) the previous step is
    kept.

    Parameters
    ----------
    variant : {1, 2}
    h0 : float, optional
        First step, default 1e-3.

    Raises
    ------
    TypeError
        If ``variant`` is not an integer or ``h0`` not a real number.
    ValueError
        If ``variant`` is not 1 or 2, or ``h0`` is not finite and positive.

    References
    ----------
    J. Barzilai and J. M. Borwein, "Two-point step size gradient methods", IMA J. Numer.
    Anal. 8, 141–148, 1988.

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 10.0], seed=0)
    >>> traj = gf.solve(p, np.ones(2), stepsize=gf.rules.BarzilaiBorwein(2), steps=50)
    >>> bool(np.all((traj.h[2:] >= 0.1 - 1e-12) & (traj.h[2:] <= 1.0 + 1e-12)))  # h[1] = h0
    True
    """

    def __init__(self, variant: int = 1, h0: float = 1e-3) -> None:
        variant = check_integer(variant, "variant", 1, 2)
        super().__init__(h0)
        self.variant = variant

    def _next(self, state: _SecantState, s: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
        sy = np.sum(s * y, axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            h = _sq(s) / sy if self.variant == 1 else sy / _sq(y)
        return np.where(sy > 0, h, np.nan), state.ratio


class AdGD(_SecantRule):
    r"""Adaptive gradient descent without descent (Malitsky & Mishchenko 2020).

    .. math:: λ_k = \min\Big\{\sqrt{1 + θ_{k-1}}\,λ_{k-1},\;
              \frac{\lVert x_k - x_{k-1}\rVert}{2\lVert∇f(x_k) - ∇f(x_{k-1})\rVert}\Big\},
              \qquad θ_k = λ_k / λ_{k-1},

    starting from a small ``λ_0`` and ``θ_0 = +∞``.  Needs no Lipschitz constant; the
    second term is half a local inverse-Lipschitz estimate.

    Parameters
    ----------
    h0 : float, optional
        ``λ_0``, default 1e-6.

    Raises
    ------
    TypeError
        If ``h0`` is not a real number.
    ValueError
        If ``h0`` is not finite and positive.

    References
    ----------
    Y. Malitsky and K. Mishchenko, "Adaptive gradient descent without descent", ICML 2020,
    Algorithm 1.

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 10.0], seed=0)
    >>> traj = gf.solve(p, np.ones(2), stepsize=gf.rules.AdGD(), steps=200, save="final")
    >>> bool(traj.loss[-1] < 1e-12)
    True
    """

    def __init__(self, h0: float = 1e-6) -> None:
        super().__init__(h0)

    def _next(self, state: _SecantState, s: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
        lam_prev = state.h
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            local = np.sqrt(_sq(s)) / (2.0 * np.sqrt(_sq(y)))
            growth = np.sqrt(1.0 + state.ratio) * lam_prev
        lam = np.fmin(growth, local)  # fmin: a 0/0 secant (NaN) falls back to growth
        return lam, lam / lam_prev


class LocalLipschitz(_SecantRule):
    r"""``h = safety / L̂_k`` from a local estimate of the curvature scale.

    ``estimator="secant"``: ``L̂_k = ‖∇L(θ_k) - ∇L(θ_{k-1})‖ / ‖θ_k - θ_{k-1}‖`` (one extra
    gradient a step).  ``estimator="hvp"``: one power-iteration step along the last
    displacement ``s``, ``L̂_k = ‖∇²L(θ_k) s‖ / ‖s‖`` (one HVP a step, counted as two
    gradient evaluations: an R-operator or a central difference costs about two).  Both
    lower-bound ``λmax`` at (or near) ``θ_k``, so ``safety <= 1`` is not a guarantee of
    descent on strongly anisotropic problems; it is the local analogue of ``1/L``.

    Parameters
    ----------
    safety : float, optional
        ``1`` is the descent-lemma step ``1/L``; values up to 2 approach the stability
        limit ``2/L`` of GD.
    h0 : float, optional
        First step, default 1e-3.
    estimator : {"secant", "hvp"}, optional

    Raises
    ------
    TypeError
        If ``safety`` or ``h0`` is not a real number, or ``estimator`` not a string.
    ValueError
        If ``safety`` or ``h0`` is not finite and positive, or ``estimator`` is unknown.

    References
    ----------
    Y. Nesterov, *Lectures on Convex Optimization*, 2nd ed., Springer, 2018, §1.2.3.
    B. A. Pearlmutter, "Fast exact multiplication by the Hessian", Neural Comput. 6(1),
    147–160, 1994.

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 10.0], seed=0)
    >>> traj = gf.solve(p, np.ones(2), stepsize=gf.rules.LocalLipschitz(), steps=400,
    ...                 save="final")
    >>> bool(traj.loss[-1] < 1e-10)
    True
    """

    def __init__(self, safety: float = 1.0, h0: float = 1e-3, estimator: str = "secant") -> None:
        super().__init__(h0)
        self.safety = check_positive(safety, "safety")
        self.estimator = check_choice(estimator, "estimator", ("secant", "hvp"))

    def init(
        self, problem: Any, theta0: np.ndarray, batch_shape: tuple[int, ...], method: Any
    ) -> Any:
        if self.estimator == "secant":
            return super().init(problem, theta0, batch_shape, method)
        B = theta0.shape[0]
        return _SecantState(np.full(B, self.h0), np.zeros_like(theta0), np.full(B, np.inf))

    def update(self, state: _SecantState, obs: Observation) -> tuple[Any, Verdict]:
        if self.estimator == "secant":
            return super().update(state, obs)
        s = obs.theta - obs.theta_old
        y = obs.hvp(s)
        h, ratio = self._next(state, s, y)
        ok = np.isfinite(h) & (h > 0)
        return _SecantState(np.where(ok, h, state.h), state.grad, ratio), Verdict()

    def _next(self, state: _SecantState, s: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
        with np.errstate(divide="ignore", invalid="ignore"):
            lipschitz = np.sqrt(_sq(y) / _sq(s))
            return self.safety / lipschitz, state.ratio
