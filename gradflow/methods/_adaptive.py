r"""Adaptive (diagonally preconditioned) optimisers: AdaGrad, RMSProp, Adam, AdamW.

Each is ``torch.optim``'s definition, step for step, with ``h`` as PyTorch's ``lr`` and a
per-element step counter ``k`` in the state (PyTorch's per-parameter ``step``).  All are
``θ_{k+1} = θ_k - D_k ⊙ u_k`` for a search direction ``u_k`` (the gradient or its moving
average) and a per-parameter step ``D_k = h/(√(second moment) + ε)``: the nominal
``h`` is *not* the step each coordinate takes.  :meth:`effective_stepsize` returns
``D_k`` — the displacement per unit of ``u_k`` (per unit gradient when ``u_k = g_k``,
e.g. Adam's first step) — and shows that ``h = 1e-3`` in Adam moves a coordinate whose
gradient is ``1e-3`` by about ``1e-3``, where SGD with the same ``h`` moves it by
``1e-6``.

Conventions shared by every class:

* ``ε`` is added *outside* the square root, after bias correction (PyTorch and Kingma &
  Ba, Algorithm 1): ``denominator = √v̂ + ε``.
* Coupled weight decay (``weight_decay`` of AdaGrad, RMSProp, Adam) is PyTorch's: the L2
  gradient ``λθ`` is added to ``g`` *before* the moments, so it is preconditioned too.
  Decoupled weight decay (:class:`AdamW`) shrinks ``θ ← θ(1 - hλ)`` before the Adam step
  and is not preconditioned (Loshchilov & Hutter 2019).
* Buffers start at zero; the divergence of a run is reported by the driver as for any
  method (an update ``θ + Δ`` keeps a non-finite entry non-finite).

The ODEs these methods approximate as ``h → 0`` (order 1 in ``t = kh``) depend on how the
averaging constants scale: with ``β``'s *fixed* the moving averages equilibrate in ``O(1)``
steps (``O(h)`` time), ``v → g²``, and Adam and RMSProp become the *sign-like* flow
``dθ/dt = -∇L/(|∇L| + ε)`` (sign descent as ``ε → 0``; Ma et al. 2022, Malladi et al.
2022); with ``1 - β = ch`` the averages are ODE states themselves and the limit is a
*preconditioned* flow with moving-average dynamics (Barakat & Bianchi 2021, da Silva &
Gazeau 2020).  Each class states its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import numpy as np

from gradflow._hyper import (
    check_decay,
    check_nonnegative,
    check_positive,
    check_unit,
    decay_at,
)
from gradflow.methods._base import Method, StepResult
from gradflow.problems import Problem

__all__ = [
    "AdaGrad",
    "AdaGradState",
    "Adam",
    "AdamState",
    "AdamW",
    "RMSProp",
    "RMSPropState",
]


def _no_linear_analysis(name: str) -> NotImplementedError:
    return NotImplementedError(
        f"{name} is not linear in the state (its preconditioner depends on the gradients), "
        "so it has no amplification matrix; use gradflow.analysis.preconditioned_sharpness "
        "for its stability (Cohen et al. 2022)"
    )


def _column(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """A per-element (B,) float array as a (B, 1) column of ``dtype``."""
    return values.astype(dtype, copy=False)[:, None]


# ---------------------------------------------------------------------------------------
# AdaGrad
# ---------------------------------------------------------------------------------------
class AdaGradState(NamedTuple):
    """State of :class:`AdaGrad`: ``theta`` and the sum of squares ``s`` (both ``(B, d)``),
    and the step counter ``k`` (``(B,)``, int64)."""

    theta: np.ndarray
    s: np.ndarray
    k: np.ndarray


@dataclass(frozen=True)
class AdaGrad(Method):
    r"""AdaGrad as ``torch.optim.Adagrad`` (with ``lr_decay = 0``).

    .. math:: g_k = \nabla L(\theta_k) + \lambda\theta_k, \quad
              s_{k+1} = s_k + g_k^2, \quad
              \theta_{k+1} = \theta_k - h\,\frac{g_k}{\sqrt{s_{k+1}} + \varepsilon},
              \qquad s_0 = \text{initial\_accumulator\_value}.

    **ODE.**  In ``t = kh`` the accumulator grows at the rate ``g²/h``: the method is a
    first-order (order 1) discretisation of the system

    .. math:: \frac{d\theta}{dt} = -\frac{\nabla L(\theta)}{\sqrt{s} + \varepsilon},
              \qquad \frac{ds}{dt} = \frac{\nabla L(\theta)^2}{h},

    whose accumulator is ``s(t) ≈ s_0 + h^{-1}∫_0^t ∇L² dt'``; the per-parameter step
    ``h/√s`` therefore scales like ``h^{3/2}/√(∫∇L²)`` and there is no
    ``h``-independent limit in ``t = kh``: AdaGrad's natural clock is the step count,
    which is why its ``lr`` is of order one in practice (Duchi et al. 2011).

    Parameters
    ----------
    eps : float, optional
        ``ε > 0`` (default ``1e-10``, PyTorch's).
    initial_accumulator_value : float, optional
        ``s_0 >= 0`` (default 0).
    weight_decay : float, optional
        Coupled L2 coefficient ``λ >= 0`` (default 0).

    Raises
    ------
    ValueError
        If ``eps <= 0`` or a coefficient is negative.

    References
    ----------
    J. Duchi, E. Hazan and Y. Singer, "Adaptive subgradient methods for online learning
    and stochastic optimization", JMLR 12, 2121–2159, 2011.
    A. Barakat and P. Bianchi, "Convergence and dynamical behavior of the ADAM algorithm
    for nonconvex stochastic optimization", SIAM J. Optim. 31(1), 244–274, 2021.
    PyTorch documentation, ``torch.optim.Adagrad``.

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 100.0], seed=0)
    >>> traj = gf.solve(p, np.ones(2), gf.methods.AdaGrad(), 0.5, steps=500, save="final")
    >>> bool(np.linalg.norm(traj.theta[-1]) < 1e-3)
    True
    """

    rows_independent: ClassVar[bool] = True

    eps: float = 1e-10
    initial_accumulator_value: float = 0.0
    weight_decay: float = 0.0
    order: ClassVar[int] = 1
    ode: ClassVar[str] = "dθ/dt = -∇L(θ)/(√s + ε), ds/dt = ∇L(θ)²/h, t = kh"
    grads_per_step: ClassVar[int] = 1

    def __post_init__(self) -> None:
        check_positive(self.eps, "eps")
        check_nonnegative(self.initial_accumulator_value, "initial_accumulator_value")
        check_nonnegative(self.weight_decay, "weight_decay")

    def init(self, problem: Problem, theta0: np.ndarray) -> AdaGradState:
        """``s_0 = initial_accumulator_value`` everywhere, counters at zero."""
        s0 = np.full_like(theta0, float(self.initial_accumulator_value))
        return AdaGradState(theta0, s0, np.zeros(theta0.shape[0], dtype=np.int64))

    def step(self, problem: Problem, state: AdaGradState, h: np.ndarray) -> StepResult:
        """One ``torch.optim.Adagrad`` step for every element."""
        theta, s, k = state
        g = problem.grad(theta)
        if self.weight_decay:
            g = g + self.weight_decay * theta
        s_new = g * g
        s_new += s
        denom = np.sqrt(s_new)
        denom += self.eps
        update = g / denom
        update *= h
        return StepResult(AdaGradState(theta - update, s_new, k + 1), None, 1)

    def effective_stepsize(self, state: AdaGradState, h: Any) -> np.ndarray:
        """``h/(√s_k + ε)``: the per-parameter step of the last update, shape ``(B, d)``.

        Parameters
        ----------
        state : AdaGradState
        h : float or array_like

        Returns
        -------
        ndarray, shape (B, d)
        """
        return np.asarray(h, dtype=state.theta.dtype) / (np.sqrt(state.s) + self.eps)

    def amplification_matrix(self) -> Any:
        """Raises: AdaGrad has no linear stability analysis."""
        raise _no_linear_analysis(self.name)


# ---------------------------------------------------------------------------------------
# RMSProp
# ---------------------------------------------------------------------------------------
class RMSPropState(NamedTuple):
    """State of :class:`RMSProp` (every array ``(B, d)`` except ``k``).

    Attributes
    ----------
    theta : ndarray
    v : ndarray
        Moving average of ``g²`` (PyTorch's ``square_avg``).
    g_avg : ndarray
        Moving average of ``g`` (``centered=True``; zeros otherwise).
    buf : ndarray
        Momentum buffer (``momentum > 0``; zeros otherwise).
    k : ndarray of int64, shape (B,)
    """

    theta: np.ndarray
    v: np.ndarray
    g_avg: np.ndarray
    buf: np.ndarray
    k: np.ndarray


@dataclass(frozen=True)
class RMSProp(Method):
    r"""RMSProp as ``torch.optim.RMSprop``.

    .. math:: g_k = \nabla L(\theta_k) + \lambda\theta_k,\quad
              v_{k+1} = \alpha v_k + (1 - \alpha) g_k^2,\quad
              \bar g_{k+1} = \alpha \bar g_k + (1 - \alpha) g_k\ (\text{centered}),

    .. math:: q_k = \sqrt{v_{k+1}} + \varepsilon \quad
              (\text{centered: } \sqrt{v_{k+1} - \bar g_{k+1}^2} + \varepsilon),

    .. math:: \theta_{k+1} = \theta_k - h\,\frac{g_k}{q_k}, \quad\text{or with momentum } \mu:
              \ b_{k+1} = \mu b_k + \frac{g_k}{q_k},\ \theta_{k+1} = \theta_k - h b_{k+1}.

    No bias correction (PyTorch has none): the first step has ``v_1 = (1 - α)g²`` and moves
    each coordinate by about ``h/√(1 - α)`` (10 h at ``α = 0.99``).

    **ODE.**  With ``α`` fixed and ``h → 0`` the average equilibrates in ``O(1)`` steps,
    ``v → g²``, and the method is consistent (order 1) with the sign-like flow
    ``dθ/dt = -∇L/((|∇L| + ε)(1 - μ))`` (sign descent as ``ε → 0``; centered: the
    variance ``v - ḡ² → 0`` makes the deterministic centered limit degenerate, which is
    why centering is only meaningful with noise).  With ``1 - α = ch`` the average is a
    state: ``dv/dt = c(∇L² - v)``, ``dθ/dt = -∇L/((√v + ε)(1 - μ))`` — a preconditioned
    flow.

    Parameters
    ----------
    alpha : float, optional
        Smoothing constant ``α`` in ``[0, 1)`` (default 0.99).
    eps : float, optional
        ``ε > 0`` (default ``1e-8``).
    momentum : float, optional
        ``μ`` in ``[0, 1)`` (default 0).
    centered : bool, optional
        Normalise by the estimated variance instead of the second moment.
    weight_decay : float, optional
        Coupled L2 coefficient ``λ >= 0``.

    Raises
    ------
    ValueError
        If ``alpha`` or ``momentum`` is outside ``[0, 1)``, ``eps <= 0`` or
        ``weight_decay < 0``.

    References
    ----------
    T. Tieleman and G. Hinton, Lecture 6.5 "RMSProp", COURSERA: Neural Networks for
    Machine Learning, 2012.
    A. Graves, "Generating sequences with recurrent neural networks", arXiv:1308.0850,
    2013 (the centered variant).
    PyTorch documentation, ``torch.optim.RMSprop``.

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 10.0], seed=0)
    >>> traj = gf.solve(p, np.ones(2), gf.methods.RMSProp(), 1e-3, steps=2000, save="final")
    >>> bool(np.abs(traj.theta[-1]).max() < 0.05)
    True
    """

    rows_independent: ClassVar[bool] = True

    alpha: float = 0.99
    eps: float = 1e-8
    momentum: float = 0.0
    centered: bool = False
    weight_decay: float = 0.0
    order: ClassVar[int] = 1
    ode: ClassVar[str] = (
        "α fixed: dθ/dt = -∇L/((|∇L| + ε)(1-μ)) (sign-like); "
        "1-α = ch: dv/dt = c(∇L² - v), dθ/dt = -∇L/((√v + ε)(1-μ)); t = kh"
    )
    grads_per_step: ClassVar[int] = 1

    def __post_init__(self) -> None:
        check_unit(self.alpha, "alpha")
        check_positive(self.eps, "eps")
        check_unit(self.momentum, "momentum")
        check_nonnegative(self.weight_decay, "weight_decay")
        if not isinstance(self.centered, bool):
            raise TypeError(f"centered must be a bool, got {type(self.centered).__name__}")

    def init(self, problem: Problem, theta0: np.ndarray) -> RMSPropState:
        """Zero averages and buffer, counters at zero."""
        z = np.zeros_like(theta0)
        return RMSPropState(theta0, z, z, z, np.zeros(theta0.shape[0], dtype=np.int64))

    def _denominator(self, v: np.ndarray, g_avg: np.ndarray) -> np.ndarray:
        if self.centered:
            q = np.sqrt(v - g_avg * g_avg)
        else:
            q = np.sqrt(v)
        q += self.eps
        return q

    def step(self, problem: Problem, state: RMSPropState, h: np.ndarray) -> StepResult:
        """One ``torch.optim.RMSprop`` step for every element."""
        theta, v, g_avg, buf, k = state
        g = problem.grad(theta)
        if self.weight_decay:
            g = g + self.weight_decay * theta
        a = self.alpha
        v_new = v * a
        v_new += (1.0 - a) * (g * g)
        if self.centered:
            g_avg = g_avg * a
            g_avg += (1.0 - a) * g
        direction = g / self._denominator(v_new, g_avg)
        if self.momentum:
            buf = buf * self.momentum
            buf += direction
            direction = buf
        update = h * direction
        return StepResult(RMSPropState(theta - update, v_new, g_avg, buf, k + 1), None, 1)

    def effective_stepsize(self, state: RMSPropState, h: Any) -> np.ndarray:
        """``h/q_k``: the per-parameter step of the last update (per unit gradient
        without momentum), shape ``(B, d)``.

        Parameters
        ----------
        state : RMSPropState
        h : float or array_like

        Returns
        -------
        ndarray, shape (B, d)
        """
        return np.asarray(h, dtype=state.theta.dtype) / self._denominator(state.v, state.g_avg)

    def amplification_matrix(self) -> Any:
        """Raises: RMSProp has no linear stability analysis."""
        raise _no_linear_analysis(self.name)


# ---------------------------------------------------------------------------------------
# Adam and AdamW
# ---------------------------------------------------------------------------------------
class AdamState(NamedTuple):
    """State of :class:`Adam` and :class:`AdamW` (arrays ``(B, d)`` except ``k``).

    Attributes
    ----------
    theta : ndarray
    m : ndarray
        First moment ``m_k`` (PyTorch's ``exp_avg``), not bias-corrected.
    v : ndarray
        Second moment ``v_k`` (``exp_avg_sq``), not bias-corrected.
    v_max : ndarray
        Running maximum of ``v_k`` (``amsgrad=True``; zeros otherwise).
    k : ndarray of int64, shape (B,)
        Steps taken (PyTorch's ``step``).
    """

    theta: np.ndarray
    m: np.ndarray
    v: np.ndarray
    v_max: np.ndarray
    k: np.ndarray


@dataclass(frozen=True)
class _AdamBase(Method):
    """Adam's moments and bias corrections; the subclasses differ only in weight decay.

    ``decoupled = False`` (:class:`Adam`): the coupled L2 gradient ``λθ`` is added to
    ``g`` before the moments.  ``decoupled = True`` (:class:`AdamW`): ``θ`` shrinks by
    ``1 - hλ`` before the update, and ``λ`` may be a schedule of the step counter.
    """

    rows_independent: ClassVar[bool] = True

    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    order: ClassVar[int] = 1
    grads_per_step: ClassVar[int] = 1
    decoupled: ClassVar[bool] = False
    if TYPE_CHECKING:  # fields of the subclasses, declared in their own order
        amsgrad: bool
        weight_decay: Any

    def __post_init__(self) -> None:
        check_unit(self.beta1, "beta1")
        check_unit(self.beta2, "beta2")
        check_positive(self.eps, "eps")
        if not isinstance(self.amsgrad, bool):
            raise TypeError(f"amsgrad must be a bool, got {type(self.amsgrad).__name__}")
        if self.decoupled:
            check_decay(self.weight_decay)
        else:
            check_nonnegative(self.weight_decay, "weight_decay")

    def init(self, problem: Problem, theta0: np.ndarray) -> AdamState:
        """Zero moments, counters at zero."""
        z = np.zeros_like(theta0)
        return AdamState(theta0, z, z, z, np.zeros(theta0.shape[0], dtype=np.int64))

    def step(self, problem: Problem, state: AdamState, h: np.ndarray) -> StepResult:
        """One ``torch.optim.Adam`` (``AdamW`` when decoupled) step for every element."""
        theta = state.theta
        decay = self.weight_decay
        g = problem.grad(theta)
        if decay and not self.decoupled:
            g = g + decay * theta
        m, v, v_max, update = self._direction(state, g, h)
        shrunk = theta
        if self.decoupled:
            lam = decay_at(decay, state.k, theta.dtype)
            if callable(decay) or lam:
                shrunk = theta * (1.0 - h * lam)
        np.subtract(shrunk, update, out=update)
        return StepResult(AdamState(update, m, v, v_max, state.k + 1), None, 1)

    def _direction(
        self, state: AdamState, g: np.ndarray, h: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Moments and the displacement ``h m̂/(√v̂ + ε)`` of one step (new arrays)."""
        theta, m, v, v_max, k = state
        b1, b2 = self.beta1, self.beta2
        k_new = k + 1
        dtype = theta.dtype
        m_new = m * b1
        m_new += (1.0 - b1) * g
        v_new = g * g
        v_new *= 1.0 - b2
        v_new += b2 * v
        if self.amsgrad:
            v_max = np.maximum(v_max, v_new)
            second = v_max
        else:
            second = v_new
        bc1 = 1.0 - np.power(b1, k_new.astype(np.float64))
        bc2_sqrt = np.sqrt(1.0 - np.power(b2, k_new.astype(np.float64)))
        denom = np.sqrt(second)
        denom *= _column(1.0 / bc2_sqrt, dtype)
        denom += self.eps
        update = m_new / denom
        update *= h / _column(bc1, dtype)
        return m_new, v_new, v_max, update

    def effective_stepsize(self, state: AdamState, h: Any) -> np.ndarray:
        """``h/(√v̂_k + ε)`` with ``v̂_k = v_k/(1 - β_2^k)``: the per-parameter step the
        last update applied to ``m̂_k`` (``nan`` before the first step; the decoupled
        decay is not included).

        Parameters
        ----------
        state : AdamState
        h : float or array_like

        Returns
        -------
        ndarray, shape (B, d)
        """
        dtype = state.theta.dtype
        second = state.v_max if self.amsgrad else state.v
        k = state.k.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            bc2 = 1.0 - np.power(self.beta2, k)
            v_hat = second / _column(bc2, dtype)
            out = np.asarray(h, dtype=dtype) / (np.sqrt(v_hat) + self.eps)
        out[state.k == 0] = np.nan
        return out

    def amplification_matrix(self) -> Any:
        """Raises: Adam-type methods have no linear stability analysis."""
        raise _no_linear_analysis(self.name)


@dataclass(frozen=True)
class Adam(_AdamBase):
    r"""Adam as ``torch.optim.Adam`` (Kingma & Ba 2015, Algorithm 1), coupled weight decay.

    With ``g_k = ∇L(θ_k) + λθ_k`` and ``k`` counting from 1 inside the step,

    .. math:: m_{k} = \beta_1 m_{k-1} + (1 - \beta_1) g, \quad
              v_{k} = \beta_2 v_{k-1} + (1 - \beta_2) g^2,

    .. math:: \theta \leftarrow \theta - \frac{h}{1 - \beta_1^k}\,
              \frac{m_k}{\sqrt{v_k}/\sqrt{1 - \beta_2^k} + \varepsilon}

    (bias correction of both moments; ``ε`` outside the square root, added after
    bias-correcting ``v``).  ``amsgrad=True`` replaces ``v_k`` in the denominator by
    ``max_{j<=k} v_j`` (the raw moment's running maximum, as PyTorch does).

    **ODE.**  ``β``'s fixed, ``h → 0``: ``m̂ → g``, ``v̂ → g²`` within ``O(1)`` steps and
    the method is consistent (order 1, ``t = kh``) with the sign-like flow

    .. math:: \frac{d\theta}{dt} = -\frac{\nabla L(\theta)}{|\nabla L(\theta)| + \varepsilon}.

    With ``1 - β_1 = ah``, ``1 - β_2 = bh`` it is the preconditioned flow with moment
    dynamics ``m' = a(∇L - m)``, ``v' = b(∇L² - v)``,
    ``θ' = -m̂/(√v̂ + ε)`` (bias corrections ``1 - e^{-at}``, ``1 - e^{-bt}``).

    **Effective step size** :meth:`effective_stepsize`: ``h/(√v̂_k + ε)`` per parameter —
    about ``h/|g|``, so a coordinate with gradient ``1e-3`` moves ~``1e-3`` per unit of
    ``m̂/g`` where SGD with the same ``h = 1e-3`` moves it ``1e-6``.

    **Stability** (no amplification matrix): the preconditioned sharpness
    ``λmax(P⁻¹H)`` against ``2(1 + β_1)/((1 - β_1)h)``; see
    :func:`gradflow.analysis.preconditioned_sharpness`.

    Parameters
    ----------
    beta1, beta2 : float, optional
        Averaging constants in ``[0, 1)`` (defaults 0.9, 0.999).
    eps : float, optional
        ``ε > 0`` (default ``1e-8``).
    amsgrad : bool, optional
        The AMSGrad variant (Reddi et al. 2018).
    weight_decay : float, optional
        Coupled L2 coefficient ``λ >= 0`` (default 0): ``g ← g + λθ`` before the moments.

    Raises
    ------
    ValueError
        If a ``beta`` is outside ``[0, 1)``, ``eps <= 0`` or ``weight_decay < 0``.

    References
    ----------
    D. P. Kingma and J. Ba, "Adam: a method for stochastic optimization", ICLR 2015,
    Algorithm 1.
    S. J. Reddi, S. Kale and S. Kumar, "On the convergence of Adam and beyond", ICLR 2018.
    A. Barakat and P. Bianchi, SIAM J. Optim. 31(1), 244–274, 2021 (the ODE limit).
    C. Ma, L. Wu and W. E, "A qualitative study of the dynamic behavior for adaptive
    gradient algorithms", MSML 2022 (the sign-like regime).
    PyTorch documentation, ``torch.optim.Adam``.

    Examples
    --------
    "1e-3 in Adam is not 1e-3 in SGD": the first Adam step moves every coordinate by
    ``h`` whatever its gradient.

    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic(A=np.diag([1e-3, 1.0]))  # gradients 1e-3 and 1 at θ = 1
    >>> adam, h = gf.methods.Adam(), 1e-3
    >>> s1 = adam.step(p, adam.init(p, np.ones((1, 2))), np.array([h])).state
    >>> (1.0 - s1.theta).round(8)                        # SGD would move 1e-6 and 1e-3
    array([[0.00099999, 0.001     ]])
    >>> adam.effective_stepsize(s1, h).round(4)          # per unit gradient
    array([[1.   , 0.001]])
    """

    amsgrad: bool = False
    weight_decay: float = 0.0
    ode: ClassVar[str] = (
        "β fixed: dθ/dt = -∇L/(|∇L| + ε) (sign-like); 1-β1 = ah, 1-β2 = bh: "
        "m' = a(∇L - m), v' = b(∇L² - v), θ' = -m̂/(√v̂ + ε); t = kh"
    )


@dataclass(frozen=True)
class AdamW(_AdamBase):
    r"""AdamW as ``torch.optim.AdamW``: Adam with *decoupled* weight decay.

    Each step first shrinks ``θ ← θ(1 - hλ)`` and then applies the Adam update of
    :class:`Adam` (without weight decay) with the gradient ``∇L`` at the *old* ``θ``:

    .. math:: \theta_{k+1} = \theta_k(1 - h\lambda) - \frac{h}{1 - \beta_1^k}
              \frac{m_k}{\sqrt{v_k}/\sqrt{1 - \beta_2^k} + \varepsilon}.

    Unlike Adam's coupled ``weight_decay`` the decay is not preconditioned, so every
    parameter decays at the same rate ``hλ`` per step.  Because the decay per step is
    ``hλ``, a decaying step-size schedule also decays the regularisation; pass
    ``weight_decay=gradflow.schedules.constant_decay_product(schedule, c)`` (a schedule
    ``k -> c/h_k``, evaluated on the per-element step counter) to keep ``hλ = c``.

    **ODE** (order 1, ``t = kh``): Adam's limits with the extra term ``-λθ`` —
    ``dθ/dt = -∇L/(|∇L| + ε) - λθ`` for fixed ``β``'s.

    Parameters
    ----------
    beta1, beta2 : float, optional
        In ``[0, 1)`` (defaults 0.9, 0.999).
    eps : float, optional
        ``ε > 0`` (default ``1e-8``).
    weight_decay : float or callable, optional
        ``λ >= 0`` (default ``1e-2``, PyTorch's), or a schedule ``k -> λ_k`` of the
        0-based step index.
    amsgrad : bool, optional
        The AMSGrad variant.

    Raises
    ------
    ValueError
        If a ``beta`` is outside ``[0, 1)``, ``eps <= 0`` or ``weight_decay < 0``.

    References
    ----------
    I. Loshchilov and F. Hutter, "Decoupled weight decay regularization", ICLR 2019,
    Algorithm 2.
    PyTorch documentation, ``torch.optim.AdamW``.

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 10.0], seed=0)
    >>> traj = gf.solve(p, np.ones(2), gf.methods.AdamW(weight_decay=0.1), 1e-2,
    ...                 steps=3000, save="final")
    >>> bool(np.abs(traj.theta[-1]).max() < 0.02)
    True
    """

    weight_decay: Any = 1e-2
    amsgrad: bool = False
    ode: ClassVar[str] = (
        "β fixed: dθ/dt = -∇L/(|∇L| + ε) - λθ (sign-like); 1-β1 = ah, 1-β2 = bh: "
        "m' = a(∇L - m), v' = b(∇L² - v), θ' = -m̂/(√v̂ + ε) - λθ; t = kh"
    )
    decoupled: ClassVar[bool] = True
