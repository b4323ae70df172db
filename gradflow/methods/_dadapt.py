r"""D-Adaptation (Defazio & Mishchenko 2023): SGD and Adam that estimate their own step.

Both keep a lower bound ``d_k`` on the distance ``D = ‖θ_0 - θ*‖`` from the start to a
minimiser, built from the weighted gradient sum ``s_k`` (dual averaging) and the
weighted inner products ``Σ λ_i ⟨g_i, s_i⟩``; the step is ``d_k`` times ``h`` (the
packages' ``lr``, a multiplier whose default is 1), so no step size has to be tuned.
``d_k`` never decreases, starts at ``d_0 = 10⁻⁶`` and, for convex problems, stays below
``D`` (Defazio & Mishchenko 2023, Lemma 5); the paper's guarantee is that it reaches a
constant fraction of ``D``.

The classes follow the ``dadaptation`` package (version 3.2: ``DAdaptSGD``,
``DAdaptAdam``) step for step, with one parameter group, ``h`` as its ``lr`` and per
element (batch row) scalars where the package keeps per-group Python floats
(``d``, the weighted numerator, ``‖g_0‖``).  A row whose weighted gradient sum ``s``
is zero (a zero gradient from the start) does not move and its counter does not
advance, as the package's early return does.

The internal estimate is the state field ``d`` and :meth:`DAdaptSGD.step_estimate`;
read it along a run from :attr:`gradflow.StepInfo.method_state` in a ``solve``
callback, or record the resulting per-parameter step with
:func:`gradflow.analysis.track_effective_stepsize`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np

from gradflow._hyper import check_nonnegative, check_positive, check_unit
from gradflow._validation import check_bool, check_real
from gradflow.methods._base import Method, StepResult
from gradflow.problems import Problem

__all__ = ["DAdaptAdam", "DAdaptAdamState", "DAdaptSGD", "DAdaptSGDState"]

#: The packages' default initial estimate ``d_0`` (``dadaptation`` and ``prodigyopt``).
D0 = 1e-6


# ---------------------------------------------------------------------------------------
# helpers shared by the learning-rate-free methods
# ---------------------------------------------------------------------------------------
def row_h(h: Any, rows: int, dtype: np.dtype) -> np.ndarray:
    """The step-size multiplier of every row, shape ``(B,)``, from ``(B, 1)`` or ``(1,)``."""
    return np.broadcast_to(np.asarray(h, dtype=dtype).reshape(-1), (rows,)).copy()


def row_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``Σ_i a_i b_i`` of every row; one C loop per row, so a row's bits do not depend
    on the rows around it."""
    return np.einsum("ij,ij->i", a, b)


def keep_rows(stalled: np.ndarray, old: NamedTuple, new: NamedTuple, fields: tuple) -> Any:
    """``new`` with the named ``fields`` of the ``stalled`` rows taken from ``old``."""
    if not stalled.any():
        return new
    out = {}
    for name in fields:
        a, b = getattr(old, name), getattr(new, name)
        mask = stalled.reshape((-1,) + (1,) * (b.ndim - 1))
        out[name] = np.where(mask, a, b)
    return new._replace(**out)


def check_growth(value: Any) -> float:
    """``growth_rate``: a real number ``>= 1`` or ``inf`` (the packages' default)."""
    return check_real(value, "growth_rate", low=1.0, finite=False)


def check_d0(value: Any) -> float:
    """``d0``: the initial estimate, a finite real number ``> 0``."""
    return check_positive(value, "d0")


def no_linear_analysis(name: str) -> NotImplementedError:
    """Why a method that sets its own step from the run has no amplification matrix."""
    return NotImplementedError(
        f"{name} chooses its step from the gradients it has seen (a running estimate), "
        "so it is not a fixed linear map on y' = λy: it has no amplification matrix"
    )


# ---------------------------------------------------------------------------------------
# D-Adapt SGD
# ---------------------------------------------------------------------------------------
class DAdaptSGDState(NamedTuple):
    """State of :class:`DAdaptSGD` (arrays ``(B, d)`` or ``(B,)``).

    Attributes
    ----------
    theta : ndarray, shape (B, d)
    s : ndarray, shape (B, d)
        Weighted gradient sum ``s_k = Σ_{i<k} λ_i g_i`` (``λ_i = d_i h/‖g_0‖``).
    x0 : ndarray, shape (B, d)
        The starting point (dual averaging steps from it: ``z_k = x_0 - s_k``).
    d : ndarray, shape (B,)
        The distance estimate ``d_k`` (starts at ``d0``).
    numerator : ndarray, shape (B,)
        ``Σ_{i<k} λ_i ⟨g_i, s_i⟩``.
    g0_norm : ndarray, shape (B,)
        ``‖g_0‖`` (set by the first step).
    dlr : ndarray, shape (B,)
        The step ``λ = d h/‖g_0‖`` the last step applied (0 before the first).
    k : ndarray of int64, shape (B,)
    """

    theta: np.ndarray
    s: np.ndarray
    x0: np.ndarray
    d: np.ndarray
    numerator: np.ndarray
    g0_norm: np.ndarray
    dlr: np.ndarray
    k: np.ndarray


@dataclass(frozen=True)
class DAdaptSGD(Method):
    r"""D-Adapted SGD (dual averaging), as ``dadaptation.DAdaptSGD``.

    With ``g_k = ∇L(θ_k) + λ_wd θ_k`` and ``λ_k = d_k h/‖g_0‖``:

    .. math:: N_{k+1} = N_k + \lambda_k\langle g_k, s_k\rangle,\quad
              s_{k+1} = s_k + \lambda_k g_k,\quad
              d_{k+1} = \max\Bigl(d_k, \min\bigl(\tfrac{2N_{k+1}}{\|s_{k+1}\|}, \rho\,d_k
              \bigr)\Bigr),

    .. math:: z_{k+1} = \theta_0 - s_{k+1},\qquad
              \theta_{k+1} = \mu\,\theta_k + (1 - \mu)\,z_{k+1}

    (``μ`` the momentum, ``ρ`` the growth rate).  Without momentum this is gradient
    descent with the step ``λ_k``: ``θ_{k+1} = θ_k - λ_k g_k``.  As in the package,
    ``‖g_0‖`` is the norm of the gradient *without* weight decay, and the step uses the
    estimate ``d_k`` from before the update.

    **ODE** (order 1, ``t = kh``, no momentum): the step ``λ_k`` is ``h`` times an
    ``O(1)`` factor, and the iteration is explicit Euler on

    .. math:: \frac{d\theta}{dt} = -\frac{d(t)}{\|g_0\|}\nabla L(\theta),\qquad
              \frac{dN}{dt} = \frac{d(t)}{\|g_0\|}\langle\nabla L, \theta_0 - \theta\rangle,
              \qquad d(t) = \max\Bigl(d_0, \max_{\tau\le t}
              \frac{2N(\tau)}{\|\theta_0 - \theta(\tau)\|}\Bigr),

    a gradient flow whose speed is the running-maximum distance estimate.

    **Stability**: none as a linear map (the step depends on the run); on a quadratic
    ``d_k`` grows geometrically until ``λ_k`` reaches the edge ``2/λmax`` of gradient
    descent and the lower-bound property stops it (Defazio & Mishchenko 2023, §6).

    Parameters
    ----------
    momentum : float, optional
        ``μ`` in ``[0, 1)`` (default 0).
    weight_decay : float, optional
        L2 coefficient ``λ_wd >= 0`` added to the gradient (default 0).
    d0 : float, optional
        Initial estimate ``d_0 > 0`` (default ``1e-6``).
    growth_rate : float, optional
        ``ρ >= 1``, the largest factor ``d`` grows by per step (default ``inf``).

    Raises
    ------
    TypeError
        If a parameter is not a real number.
    ValueError
        If ``momentum`` is outside ``[0, 1)``, ``weight_decay < 0``, ``d0 <= 0`` or
        ``growth_rate < 1``.

    References
    ----------
    A. Defazio and K. Mishchenko, "Learning-rate-free learning by D-Adaptation",
    ICML 2023, Algorithms 1 and 4 (SGD form).
    The ``dadaptation`` package, version 3.2, ``DAdaptSGD``.

    Examples
    --------
    The estimate ``d`` grows from ``1e-6`` towards the distance to the minimiser (here
    ``‖θ_0‖ = √2``), without a step size to tune:

    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 10.0], seed=0)
    >>> d = []
    >>> traj = gf.solve(p, np.ones(2), gf.methods.DAdaptSGD(), 1.0, steps=100,
    ...                 callback=lambda info: d.append(info.method_state.d[0]))
    >>> float(d[0]), bool(0.1 < d[-1] <= np.sqrt(2)), bool(traj.loss[-1] < 1e-8)
    (1e-06, True, True)
    """

    linear_analysis: ClassVar[bool] = False

    momentum: float = 0.0
    weight_decay: float = 0.0
    d0: float = D0
    growth_rate: float = float("inf")
    order: ClassVar[int] = 1
    ode: ClassVar[str] = (
        "dθ/dt = -(d/‖g₀‖)∇L, dN/dt = (d/‖g₀‖)⟨∇L, θ₀-θ⟩, d = max(d₀, max 2N/‖θ₀-θ‖); t = kh"
    )
    grads_per_step: ClassVar[int] = 1

    def __post_init__(self) -> None:
        check_unit(self.momentum, "momentum")
        check_nonnegative(self.weight_decay, "weight_decay")
        check_d0(self.d0)
        check_growth(self.growth_rate)

    def init(self, problem: Problem, theta0: np.ndarray) -> DAdaptSGDState:
        """``s = 0``, ``d = d0``, counters at zero."""
        rows, dtype = theta0.shape[0], theta0.dtype
        zero = np.zeros(rows, dtype=dtype)
        return DAdaptSGDState(
            theta0,
            np.zeros_like(theta0),
            theta0.copy(),
            np.full(rows, self.d0, dtype=dtype),
            zero,
            zero,
            zero,
            np.zeros(rows, dtype=np.int64),
        )

    def step(self, problem: Problem, state: DAdaptSGDState, h: np.ndarray) -> StepResult:
        """One ``DAdaptSGD`` step for every element."""
        theta, s, x0, d, num, g0_norm, _, k = state
        g = problem.grad(theta)
        first = k == 0
        if first.any():  # the package takes ‖g_0‖ before adding the weight decay
            g0_norm = np.where(first, np.sqrt(row_dot(g, g)), g0_norm)
        if self.weight_decay:
            g = g + self.weight_decay * theta
        with np.errstate(divide="ignore", invalid="ignore"):  # stalled rows, see below
            dlr = d * row_h(h, theta.shape[0], theta.dtype) / g0_norm
            num = num + dlr * row_dot(g, s)
            s_new = dlr[:, None] * g
            s_new += s
            sk_norm = np.sqrt(row_dot(s_new, s_new))
            d_new = np.maximum(d, np.minimum(2.0 * num / sk_norm, d * self.growth_rate))
        z = x0 - s_new
        if self.momentum:
            theta_new = theta * self.momentum
            theta_new += (1.0 - self.momentum) * z
        else:
            theta_new = z
        new = DAdaptSGDState(theta_new, s_new, x0, d_new, num, g0_norm, dlr, k + 1)
        # s = 0: the package returns without a step; ‖g_0‖ = 0 (a stationary start,
        # where the package divides by zero): no step either, ‖g_0‖ is taken again
        stalled = (sk_norm == 0) | (g0_norm == 0)
        fields = ("theta", "s", "d", "numerator", "dlr", "k")
        return StepResult(keep_rows(stalled, state, new, fields))

    def step_estimate(self, state: DAdaptSGDState) -> np.ndarray:
        """The distance estimate ``d_k`` of every element (shape ``(B,)``).

        Parameters
        ----------
        state : DAdaptSGDState

        Returns
        -------
        ndarray, shape (B,)
        """
        return state.d

    def effective_stepsize(self, state: DAdaptSGDState, h: Any) -> np.ndarray:
        """``λ = d h/‖g_0‖``, the step the last update applied to the gradient (to the
        dual average's increment with momentum), broadcast to ``(B, d)``; ``nan``
        before the first step.

        Parameters
        ----------
        state : DAdaptSGDState
        h : float or array_like
            Unused: the step already holds ``h``.

        Returns
        -------
        ndarray, shape (B, d)
        """
        out = np.broadcast_to(state.dlr[:, None], state.theta.shape).copy()
        out[state.k == 0] = np.nan
        return out

    def amplification_matrix(self) -> Any:
        """Raises: the step is a running estimate, not a fixed linear map."""
        raise no_linear_analysis(self.name)


# ---------------------------------------------------------------------------------------
# D-Adapt Adam
# ---------------------------------------------------------------------------------------
class DAdaptAdamState(NamedTuple):
    """State of :class:`DAdaptAdam` (arrays ``(B, d)`` or ``(B,)``).

    Attributes
    ----------
    theta : ndarray, shape (B, d)
    m : ndarray, shape (B, d)
        First moment of ``λ_k g_k`` (the package's ``exp_avg``, which holds the step).
    v : ndarray, shape (B, d)
        Second moment of ``g`` (``exp_avg_sq``).
    s : ndarray, shape (B, d)
        ``√β₂``-average of ``λ_k g_k``.
    d : ndarray, shape (B,)
        The distance estimate.
    numerator : ndarray, shape (B,)
        ``√β₂``-average of ``λ_k ⟨g_k, s_k/(√v_k + ε)⟩``.
    dlr : ndarray, shape (B,)
        The step ``λ = d h`` (times the bias correction) of the last update.
    k : ndarray of int64, shape (B,)
    """

    theta: np.ndarray
    m: np.ndarray
    v: np.ndarray
    s: np.ndarray
    d: np.ndarray
    numerator: np.ndarray
    dlr: np.ndarray
    k: np.ndarray


@dataclass(frozen=True)
class DAdaptAdam(Method):
    r"""D-Adapted Adam, as ``dadaptation.DAdaptAdam``.

    With ``λ_k = d_k h`` (times ``√(1 - β₂^{k+1})/(1 - β₁^{k+1})`` with
    ``use_bias_correction``) and ``g_k`` the gradient (plus ``λ_wd θ`` unless
    ``decouple``):

    .. math:: N_{k+1} = \sqrt{\beta_2} N_k + (1 - \sqrt{\beta_2})\,\lambda_k
              \Bigl\langle g_k, \frac{s_k}{\sqrt{v_k} + \varepsilon}\Bigr\rangle,

    .. math:: m_{k+1} = \beta_1 m_k + (1 - \beta_1)\lambda_k g_k,\quad
              v_{k+1} = \beta_2 v_k + (1 - \beta_2) g_k^2,\quad
              s_{k+1} = \sqrt{\beta_2} s_k + (1 - \sqrt{\beta_2})\lambda_k g_k,

    .. math:: d_{k+1} = \max\Bigl(d_k, \min\bigl(\tfrac{N_{k+1}}{(1 - \sqrt{\beta_2})
              \|s_{k+1}\|_1}, \rho d_k\bigr)\Bigr),\qquad
              \theta_{k+1} = \theta_k - \frac{m_{k+1}}{\sqrt{v_{k+1}} + \varepsilon}

    (decoupled decay first shrinks ``θ`` by ``1 - λ_wd λ_k``).  The step ``λ_k`` lives
    inside ``m`` (the package's convention), so ``m`` is not an average of gradients.

    **ODE** (order 1): with ``β``'s fixed, ``m ≈ λ g`` and ``√v ≈ |g|``, so the
    displacement is ``≈ λ_k ∇L/(|∇L| + ε)``: Adam's sign-like flow
    ``dθ/dτ = -∇L/(|∇L| + ε)`` in the method's own time ``τ = Σ d_k h``, whose speed
    ``d`` is the running estimate (in ``t = kh``: ``dθ/dt = -d(t)∇L/(|∇L| + ε)``).

    **Stability**: none as a linear map (see :class:`DAdaptSGD`).

    Parameters
    ----------
    beta1, beta2 : float, optional
        In ``[0, 1)`` (defaults 0.9, 0.999).
    eps : float, optional
        ``ε > 0`` (default ``1e-8``).
    weight_decay : float, optional
        ``λ_wd >= 0`` (default 0).
    decouple : bool, optional
        AdamW-style decay ``θ ← θ - λ_wd λ_k θ`` instead of an L2 gradient (default
        False).
    use_bias_correction : bool, optional
        Scale the step by Adam's bias corrections (default False, the package's).
    d0 : float, optional
        Initial estimate (default ``1e-6``).
    growth_rate : float, optional
        ``ρ >= 1`` (default ``inf``).

    Raises
    ------
    TypeError
        If a parameter has the wrong type.
    ValueError
        If a ``beta`` is outside ``[0, 1)``, ``eps <= 0``, ``weight_decay < 0``,
        ``d0 <= 0`` or ``growth_rate < 1``.

    References
    ----------
    A. Defazio and K. Mishchenko, "Learning-rate-free learning by D-Adaptation",
    ICML 2023, Algorithm 5 (Adam form).
    The ``dadaptation`` package, version 3.2, ``DAdaptAdam``.

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 10.0], seed=0)
    >>> m = gf.methods.DAdaptAdam()
    >>> traj = gf.solve(p, np.ones(2), m, 1.0, steps=300)
    >>> bool(traj.loss[-1] < 1e-8 * traj.loss[0])
    True
    """

    linear_analysis: ClassVar[bool] = False

    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0
    decouple: bool = False
    use_bias_correction: bool = False
    d0: float = D0
    growth_rate: float = float("inf")
    order: ClassVar[int] = 1
    ode: ClassVar[str] = "β fixed: dθ/dt = -d(t)∇L/(|∇L| + ε), d a running estimate; t = kh"
    grads_per_step: ClassVar[int] = 1

    def __post_init__(self) -> None:
        check_unit(self.beta1, "beta1")
        check_unit(self.beta2, "beta2")
        check_positive(self.eps, "eps")
        check_nonnegative(self.weight_decay, "weight_decay")
        check_bool(self.decouple, "decouple")
        check_bool(self.use_bias_correction, "use_bias_correction")
        check_d0(self.d0)
        check_growth(self.growth_rate)

    def init(self, problem: Problem, theta0: np.ndarray) -> DAdaptAdamState:
        """Zero moments, ``d = d0``, counters at zero."""
        rows, dtype = theta0.shape[0], theta0.dtype
        z, zero = np.zeros_like(theta0), np.zeros(rows, dtype=dtype)
        d = np.full(rows, self.d0, dtype=dtype)
        return DAdaptAdamState(theta0, z, z, z, d, zero, zero, np.zeros(rows, dtype=np.int64))

    def _bias_correction(self, k: np.ndarray, dtype: np.dtype) -> Any:
        if not self.use_bias_correction:
            return 1.0
        k1 = (k + 1).astype(np.float64)
        bc = np.sqrt(1.0 - self.beta2**k1) / (1.0 - self.beta1**k1)
        return bc.astype(dtype)

    def step(self, problem: Problem, state: DAdaptAdamState, h: np.ndarray) -> StepResult:
        """One ``DAdaptAdam`` step for every element."""
        theta, m, v, s, d, num, _, k = state
        b1, b2 = self.beta1, self.beta2
        sb2 = b2**0.5
        g = problem.grad(theta)
        if self.weight_decay and not self.decouple:
            g = g + self.weight_decay * theta
        dlr = d * row_h(h, theta.shape[0], theta.dtype) * self._bias_correction(k, theta.dtype)
        acc = dlr * row_dot(g, s / (np.sqrt(v) + self.eps))
        m_new = m * b1
        m_new += (dlr * (1.0 - b1))[:, None] * g
        v_new = v * b2
        v_new += (1.0 - b2) * (g * g)
        s_new = s * sb2
        s_new += (dlr * (1.0 - sb2))[:, None] * g
        sk_l1 = np.abs(s_new).sum(axis=-1)
        num = sb2 * num + (1.0 - sb2) * acc
        with np.errstate(divide="ignore", invalid="ignore"):  # s = 0: kept below
            d_hat = num / ((1.0 - sb2) * sk_l1)
        d_new = np.maximum(d, np.minimum(d_hat, d * self.growth_rate))
        shrunk = theta
        if self.weight_decay and self.decouple:
            shrunk = theta + (-self.weight_decay * dlr)[:, None] * theta
        denom = np.sqrt(v_new)
        denom += self.eps
        theta_new = shrunk - m_new / denom
        new = DAdaptAdamState(theta_new, m_new, v_new, s_new, d_new, num, dlr, k + 1)
        # the package returns before updating θ, d and the numerator (the moments it has
        # already updated in place keep their new values)
        return StepResult(keep_rows(sk_l1 == 0, state, new, ("theta", "d", "numerator", "k")))

    def step_estimate(self, state: DAdaptAdamState) -> np.ndarray:
        """The distance estimate ``d_k`` of every element (shape ``(B,)``).

        Parameters
        ----------
        state : DAdaptAdamState

        Returns
        -------
        ndarray, shape (B,)
        """
        return state.d

    def effective_stepsize(self, state: DAdaptAdamState, h: Any) -> np.ndarray:
        """``λ/(√v_k + ε)``: the per-parameter step of the last update per unit of the
        gradient average ``m/λ`` (shape ``(B, d)``; ``nan`` before the first step).

        Parameters
        ----------
        state : DAdaptAdamState
        h : float or array_like
            Unused: ``λ`` already holds ``h``.

        Returns
        -------
        ndarray, shape (B, d)
        """
        out = state.dlr[:, None] / (np.sqrt(state.v) + self.eps)
        out[state.k == 0] = np.nan
        return out

    def amplification_matrix(self) -> Any:
        """Raises: the step is a running estimate, not a fixed linear map."""
        raise no_linear_analysis(self.name)
