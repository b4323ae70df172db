r"""Momentum methods read as discretisations of first- and second-order ODEs.

Three iterations that carry a second vector besides ``θ``:

* :class:`HeavyBall` (Polyak's heavy ball),
* :class:`Nesterov` (Nesterov momentum with a constant coefficient, in the form of
  PyTorch's ``SGD(nesterov=True)``),
* :class:`NesterovAGD` (Nesterov's accelerated gradient with the ``(k - 1)/(k + 2)``
  coefficient, in the form of Su, Boyd & Candès).

With a constant momentum coefficient ``β`` and ``h → 0`` the first two are first-order
consistent with the gradient flow *rescaled* by ``1/(1 - β)``; with ``1 - β ∝ √h`` they
discretise a damped second-order ODE in the time ``t = k√h``.  Each method's linear
stability follows from its 2×2 amplification matrix (see
:meth:`~gradflow.methods.Method.amplification_matrix`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np

from gradflow._validation import check_unit_interval
from gradflow.methods._base import Method, StepResult
from gradflow.problems import Problem

__all__ = [
    "HeavyBall",
    "HeavyBallState",
    "Nesterov",
    "NesterovAGD",
    "NesterovAGDState",
    "NesterovState",
]


def _sym_beta(beta: float) -> Any:
    """``beta`` as an exact sympy Rational (``0.9 -> 9/10``, from its decimal repr)."""
    import sympy as sp

    return sp.nsimplify(float(beta), rational=True)


# ---------------------------------------------------------------------------------------
# heavy ball
# ---------------------------------------------------------------------------------------
class HeavyBallState(NamedTuple):
    """State of :class:`HeavyBall`: ``θ_k`` and ``θ_{k-1}``, both ``(B, d)``."""

    theta: np.ndarray
    theta_prev: np.ndarray


@dataclass(frozen=True)
class HeavyBall(Method):
    r"""Polyak's heavy-ball method.

    .. math:: \theta_{k+1} = \theta_k - h\,\nabla L(\theta_k)
              + \beta\,(\theta_k - \theta_{k-1}), \qquad \theta_{-1} = \theta_0,

    so the first step is a gradient-descent step.  One gradient per step.

    **First-order limit** (``β`` fixed, ``h → 0``).  The velocity
    ``v_k = θ_k - θ_{k-1}`` obeys ``v_{k+1} = β v_k - h∇L(θ_k)``; it relaxes in
    ``O(1/(1 - β))`` steps to ``-h∇L/(1 - β)``, so with ``t = k h``

    .. math:: \frac{d\theta}{dt} = -\frac{1}{1 - \beta}\,\nabla L(\theta),

    i.e. ``θ_k`` is, to ``O(h)``, the gradient flow at time ``k h/(1 - β)``.  Order 1.
    (To ``O(h²)`` it follows the flow of a modified loss
    ``L + h(1 + β)‖∇L‖²/(4(1 - β)²)``, Ghosh et al. 2023.)

    **Second-order limit** (``1 - β = γ√h``, ``h → 0``).  Write the recurrence as

    .. math:: \frac{\theta_{k+1} - 2\theta_k + \theta_{k-1}}{h}
              + \frac{1 - \beta}{\sqrt h}\,\frac{\theta_k - \theta_{k-1}}{\sqrt h}
              + \nabla L(\theta_k) = 0 .

    With ``θ_k = X(k√h)`` the first quotient is ``X'' + O(h)`` and the second
    ``X' + O(√h)``, so

    .. math:: X'' + \gamma X' + \nabla L(X) = 0, \qquad
              \gamma = \frac{1 - \beta}{\sqrt h}, \quad t = k\sqrt h,

    to first order in ``√h``.  The first step gives ``X'(0) ≈ (θ_1 - θ_0)/√h =
    -√h ∇L(θ_0) → 0``: the initial velocity of the limit is zero.

    **Stability.**  On ``L = ½ μθ²`` (``z = -hμ``) the state ``(θ_k, θ_{k-1})`` is
    multiplied by ``[[1 + β + z, -β], [1, 0]]``, whose characteristic polynomial is
    ``ζ² - (1 + β + z)ζ + β``.  For ``0 <= β < 1`` both roots lie in the unit disc iff
    ``0 < hμ < 2(1 + β)``: on a Hessian spectrum in ``(0, λmax]`` the method is stable
    iff ``h λmax < 2(1 + β)``.

    Parameters
    ----------
    beta : float, optional
        Momentum coefficient, ``0 <= beta < 1`` (default 0.9).  ``beta = 0`` is
        gradient descent.

    Raises
    ------
    TypeError
        If ``beta`` is not a real number.
    ValueError
        If ``beta`` is not in ``[0, 1)``.

    References
    ----------
    B. T. Polyak, "Some methods of speeding up the convergence of iteration methods",
    USSR Comput. Math. Math. Phys. 4(5), 1–17, 1964.
    N. Qian, "On the momentum term in gradient descent learning algorithms", Neural
    Networks 12(1), 145–151, 1999.
    A. Ghosh, H. Lyu, X. Zhang and R. Wang, "Implicit regularization in heavy-ball
    momentum accelerated stochastic gradient descent", ICLR 2023.

    Examples
    --------
    >>> import numpy as np
    >>> import gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 10.0], seed=0)
    >>> hb = gf.methods.HeavyBall(beta=0.5)
    >>> traj = gf.solve(p, np.ones(2), hb, 0.1, steps=100, save="final")
    >>> bool(np.linalg.norm(traj.theta[-1]) < 1e-6)
    True
    >>> hb.amplification_matrix()
    Matrix([
    [z + 3/2, -1/2],
    [      1,    0]])
    """

    rows_independent: ClassVar[bool] = True

    beta: float = 0.9
    order: ClassVar[int] = 1
    ode: ClassVar[str] = (
        "dθ/dt = -∇L(θ)/(1-β), t = kh; with 1-β = γ√h: θ'' + γθ' + ∇L(θ) = 0, t = k√h"
    )
    grads_per_step: ClassVar[int] = 1
    init_grads: ClassVar[int] = 0

    def __post_init__(self) -> None:
        check_unit_interval(self.beta, "beta")

    def init(self, problem: Problem, theta0: np.ndarray) -> HeavyBallState:
        """Start at rest: ``θ_{-1} = θ_0`` (shape ``(B, d)``)."""
        return HeavyBallState(theta0, theta0.copy())

    def step(self, problem: Problem, state: HeavyBallState, h: np.ndarray) -> StepResult:
        """``θ - h∇L(θ) + β(θ - θ_prev)`` for every element."""
        theta, prev = state
        # Same rounding as ``theta - h * g + beta * (theta - prev)``; the gradient is
        # not overwritten (a user's grad may return a cached array).
        new = h * problem.grad(theta)
        np.subtract(theta, new, out=new)
        momentum = theta - prev
        momentum *= self.beta
        new += momentum
        return StepResult(HeavyBallState(new, theta), None, 1)

    def amplification_matrix(self) -> Any:
        """``[[1 + β + z, -β], [1, 0]]`` on the state ``(θ_k, θ_{k-1})``."""
        import sympy as sp

        z = sp.Symbol("z")
        b = _sym_beta(self.beta)
        return sp.Matrix([[1 + b + z, -b], [1, 0]])

    def modified_flow_coefficients(self, order: int) -> Any:
        """``-(1/(1-β))[∇L + h(1+β)/(2(1-β)²) H∇L]`` from ``θ0 + hβ/(1-β)² ∇L(θ0)``.

        The first-order modified flow of Ghosh et al. (2023): the gradient flow of
        ``L + h(1+β)‖∇L‖²/(4(1-β)²)`` slowed by ``1/(1-β)``, started past the initial
        layer of the velocity.

        Parameters
        ----------
        order : int
            Must be 1 (the ``h²`` term is not derived).

        Returns
        -------
        ModifiedCoefficients
            ``scale = 1/(1-β)``, ``κ = -(1+β)/(2(1-β)²)``, ``α = γ = 0``,
            ``shift = β/(1-β)²``.

        Raises
        ------
        ValueError
            If ``order != 1``.

        References
        ----------
        A. Ghosh, H. Lyu, X. Zhang and R. Wang, "Implicit regularization in heavy-ball
        momentum accelerated stochastic gradient descent", ICLR 2023.
        """
        from gradflow.methods import ModifiedCoefficients

        if order != 1:
            raise ValueError(
                f"order must be 1 for HeavyBall (its h² term is not derived), got {order}"
            )
        beta = float(self.beta)
        damping = 1.0 - beta
        return ModifiedCoefficients(
            1.0 / damping, -(1.0 + beta) / (2.0 * damping**2), 0.0, 0.0, beta / damping**2
        )


# ---------------------------------------------------------------------------------------
# Nesterov momentum (PyTorch form)
# ---------------------------------------------------------------------------------------
class NesterovState(NamedTuple):
    """State of :class:`Nesterov`: ``θ`` and the momentum buffer ``v``, both ``(B, d)``."""

    theta: np.ndarray
    v: np.ndarray


@dataclass(frozen=True)
class Nesterov(Method):
    r"""Nesterov momentum with a constant coefficient, as in PyTorch's SGD.

    .. math:: v_{k+1} = \beta v_k + \nabla L(\theta_k), \qquad
              \theta_{k+1} = \theta_k - h\,\bigl(\nabla L(\theta_k) + \beta v_{k+1}\bigr),
              \qquad v_0 = 0 .

    This is ``torch.optim.SGD(lr=h, momentum=β, nesterov=True, dampening=0)``: PyTorch
    initialises the buffer to the first gradient ``g_0``, which equals ``β·0 + g_0``.
    One gradient per step.

    **ODEs.**  Eliminating ``v``,

    .. math:: \theta_{k+1} = \theta_k + \beta(\theta_k - \theta_{k-1})
              - h\nabla L(\theta_k) - \beta h\bigl(\nabla L(\theta_k)
              - \nabla L(\theta_{k-1})\bigr),

    heavy ball plus a gradient-correction term.  With ``β`` fixed and ``h → 0`` the
    buffer relaxes to ``∇L/(1 - β)`` and the step to ``-h∇L(1 + β/(1 - β))``, so the
    method is first-order consistent with ``dθ/dt = -∇L(θ)/(1 - β)`` in ``t = k h``
    (``θ_k`` ≈ the gradient flow at time ``k h/(1 - β)``).  Order 1.  With
    ``1 - β = γ√h`` and ``t = k√h`` the correction is ``O(√h)``
    (``β h ∇²L X' √h`` over ``h``), so the limit is the same
    ``X'' + γX' + ∇L(X) = 0`` as for heavy ball; keeping the ``O(√h)`` term gives the
    "high-resolution" ODE ``X'' + γX' + √h ∇²L(X) X' + ∇L(X) = 0`` (Shi et al. 2022).

    **Stability.**  On ``L = ½ μθ²`` with ``z = -hμ`` the state ``(θ, h v)`` is
    multiplied by ``[[1 + (1 + β)z, -β²], [-z, β]]`` (characteristic polynomial
    ``ζ² - (1 + β)(1 + z)ζ + β(1 + z)``); the root ``ζ = -1`` is reached at
    ``hμ = (2 + 2β)/(1 + 2β)``, so the method is stable on a spectrum in
    ``(0, λmax]`` iff ``h λmax < (2 + 2β)/(1 + 2β)``.

    Parameters
    ----------
    beta : float, optional
        Momentum coefficient, ``0 <= beta < 1`` (default 0.9).

    Raises
    ------
    TypeError
        If ``beta`` is not a real number.
    ValueError
        If ``beta`` is not in ``[0, 1)``.

    References
    ----------
    Y. Nesterov, "A method for solving the convex programming problem with convergence
    rate O(1/k²)", Dokl. Akad. Nauk SSSR 269(3), 543–547, 1983.
    I. Sutskever, J. Martens, G. Dahl and G. Hinton, "On the importance of
    initialization and momentum in deep learning", ICML 2013.
    B. Shi, S. S. Du, M. I. Jordan and W. J. Su, "Understanding the acceleration
    phenomenon via high-resolution differential equations", Math. Program. 195,
    79–148, 2022.

    Examples
    --------
    >>> import numpy as np
    >>> import gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 10.0], seed=0)
    >>> traj = gf.solve(p, np.ones(2), gf.methods.Nesterov(0.5), 0.1, steps=100,
    ...                 save="final")
    >>> bool(np.linalg.norm(traj.theta[-1]) < 1e-6)
    True
    >>> gf.methods.Nesterov(0.5).amplification_matrix()
    Matrix([
    [3*z/2 + 1, -1/4],
    [       -z,  1/2]])
    """

    rows_independent: ClassVar[bool] = True

    beta: float = 0.9
    order: ClassVar[int] = 1
    ode: ClassVar[str] = (
        "dθ/dt = -∇L(θ)/(1-β), t = kh; with 1-β = γ√h: θ'' + γθ' + ∇L(θ) = 0, t = k√h"
    )
    grads_per_step: ClassVar[int] = 1
    init_grads: ClassVar[int] = 0

    def __post_init__(self) -> None:
        check_unit_interval(self.beta, "beta")

    def init(self, problem: Problem, theta0: np.ndarray) -> NesterovState:
        """Start with an empty buffer ``v_0 = 0``."""
        return NesterovState(theta0, np.zeros_like(theta0))

    def step(self, problem: Problem, state: NesterovState, h: np.ndarray) -> StepResult:
        """``v ← βv + ∇L(θ)``, ``θ ← θ - h(∇L(θ) + βv)`` for every element."""
        theta, v = state
        g = problem.grad(theta)
        v_new = v * self.beta
        v_new += g
        update = v_new * self.beta
        np.add(g, update, out=update)
        update *= h
        return StepResult(NesterovState(theta - update, v_new), None, 1)

    def amplification_matrix(self) -> Any:
        """``[[1 + (1 + β)z, -β²], [-z, β]]`` on the scaled state ``(θ, h v)``.

        Scaling the buffer by ``h`` (a constant similarity transform for a fixed step)
        makes the map depend on ``h`` and ``μ`` only through ``z = -hμ``.
        """
        import sympy as sp

        z = sp.Symbol("z")
        b = _sym_beta(self.beta)
        return sp.Matrix([[1 + (1 + b) * z, -(b**2)], [-z, b]])


# ---------------------------------------------------------------------------------------
# Nesterov's accelerated gradient (Su-Boyd-Candès form)
# ---------------------------------------------------------------------------------------
class NesterovAGDState(NamedTuple):
    """State of :class:`NesterovAGD`.

    Attributes
    ----------
    theta : ndarray, shape (B, d)
        ``x_k``, the reported iterate.
    y : ndarray, shape (B, d)
        The extrapolated point ``y_k`` where the next gradient is taken.
    k : ndarray of int64, shape (B,)
        Steps taken by each element (per element, so the driver can compact rows).
    """

    theta: np.ndarray
    y: np.ndarray
    k: np.ndarray


@dataclass(frozen=True)
class NesterovAGD(Method):
    r"""Nesterov's accelerated gradient method, in the form of Su, Boyd & Candès.

    With step ``s = h`` and ``k = 1, 2, ...``

    .. math:: x_k = y_{k-1} - s\,\nabla L(y_{k-1}), \qquad
              y_k = x_k + \frac{k - 1}{k + 2}\,(x_k - x_{k-1}), \qquad x_0 = y_0 = \theta_0 .

    The reported ``θ`` is ``x_k``.  One gradient per step.  On a convex ``L`` with
    ``L``-Lipschitz gradient and ``s <= 1/L``, ``L(x_k) - L* = O(1/(s k²))``.

    **ODE.**  Su, Boyd & Candès show that, with ``t = k√s``, the iterates converge as
    ``s → 0`` to the solution of

    .. math:: X'' + \frac{3}{t}\,X' + \nabla L(X) = 0, \qquad X(0) = \theta_0,\quad
              X'(0) = 0,

    uniformly on bounded time intervals; the discrepancy is first order in ``√s``.
    (For ``L = ½λx²``, ``X(t) = 2x_0 J_1(√λ t)/(√λ t)``.)  The class attribute
    ``order = 1`` refers to this limit in ``√s``.

    **Stability.**  The coefficient ``(k - 1)/(k + 2)`` tends to 1; the *asymptotic
    iteration* (coefficient 1) maps the state ``(x_k, y_k)`` on ``L = ½ μθ²``
    (``z = -sμ``) by ``[[0, 1 + z], [-1, 2(1 + z)]]``, with characteristic polynomial
    ``ζ² - 2(1 + z)ζ + (1 + z)``.  It has the root ``ζ = -1`` at ``sμ = 4/3``, so the
    stability limit is ``s λmax < 4/3``.  (With a fixed coefficient ``c`` the limit is
    ``(2 + 2c)/(1 + 2c) > 4/3``, so every finite ``k`` is more forgiving and the limit
    is approached from above.)

    Raises
    ------
    ValueError
        Never (the method has no hyper-parameters); listed for the common interface.

    References
    ----------
    Y. Nesterov, "A method for solving the convex programming problem with convergence
    rate O(1/k²)", Dokl. Akad. Nauk SSSR 269(3), 543–547, 1983.
    W. Su, S. Boyd and E. J. Candès, "A differential equation for modeling Nesterov's
    accelerated gradient method: theory and insights", J. Mach. Learn. Res. 17(153),
    1–43, 2016.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.special import j1
    >>> import gradflow as gf
    >>> lam, s, k = 2.0, 1e-4, 300                  # t = k√s = 3
    >>> p = gf.problems.quadratic(A=[[lam]])
    >>> traj = gf.solve(p, [1.0], gf.methods.NesterovAGD(), s, steps=k, save="final")
    >>> t = k * np.sqrt(s)
    >>> exact = 2 * j1(np.sqrt(lam) * t) / (np.sqrt(lam) * t)
    >>> bool(abs(traj.theta[-1, 0] - exact) < 1e-2)
    True
    """

    rows_independent: ClassVar[bool] = True

    order: ClassVar[int] = 1
    ode: ClassVar[str] = "X'' + (3/t) X' + ∇L(X) = 0, X(0) = θ0, X'(0) = 0, t = k√h"
    grads_per_step: ClassVar[int] = 1
    init_grads: ClassVar[int] = 0

    def init(self, problem: Problem, theta0: np.ndarray) -> NesterovAGDState:
        """``x_0 = y_0 = θ_0`` and a zero step counter per element."""
        k = np.zeros(theta0.shape[0], dtype=np.int64)
        return NesterovAGDState(theta0, theta0.copy(), k)

    def step(self, problem: Problem, state: NesterovAGDState, h: np.ndarray) -> StepResult:
        """``x ← y - h∇L(y)``, ``y ← x + (k - 1)/(k + 2)(x - x_prev)`` for every element."""
        x_prev, y, k = state
        k_new = k + 1
        x = h * problem.grad(y)
        np.subtract(y, x, out=x)
        coef = ((k_new - 1) / (k_new + 2)).astype(x.dtype, copy=False)
        y_new = x - x_prev
        y_new *= coef[:, None]
        y_new += x
        return StepResult(NesterovAGDState(x, y_new, k_new), None, 1)

    def amplification_matrix(self) -> Any:
        """``[[0, 1 + z], [-1, 2(1 + z)]]`` on ``(x_k, y_k)``: the asymptotic iteration.

        The momentum coefficient ``(k - 1)/(k + 2)`` is replaced by its limit 1, which
        gives the stability limit ``s λmax < 4/3``.
        """
        import sympy as sp

        z = sp.Symbol("z")
        return sp.Matrix([[0, 1 + z], [-1, 2 * (1 + z)]])
