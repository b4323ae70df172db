r"""Prodigy (Mishchenko & Defazio 2023): Adam with a D-Adaptation step estimate that
grows faster."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np

from gradflow._hyper import check_nonnegative, check_positive, check_unit
from gradflow._validation import check_bool
from gradflow.methods._base import Method, StepResult
from gradflow.methods._dadapt import (
    D0,
    check_d0,
    check_growth,
    keep_rows,
    no_linear_analysis,
    row_dot,
    row_h,
)
from gradflow.problems import Problem

__all__ = ["Prodigy", "ProdigyState"]


class ProdigyState(NamedTuple):
    """State of :class:`Prodigy` (arrays ``(B, d)`` or ``(B,)``).

    Attributes
    ----------
    theta : ndarray, shape (B, d)
    m : ndarray, shape (B, d)
        ``β₁``-average of ``d_k g_k`` (``exp_avg``).
    v : ndarray, shape (B, d)
        ``β₂``-average of ``d_k² g_k²`` (``exp_avg_sq``).
    s : ndarray, shape (B, d)
        ``β₃``-average of ``(d_k/d_0) λ_k g_k``.
    x0 : ndarray, shape (B, d)
        The starting point (the package's ``p0``).
    d : ndarray, shape (B,)
        The distance estimate ``d_k``.
    d_max : ndarray, shape (B,)
        Largest ``d̂`` seen.
    numerator : ndarray, shape (B,)
        ``β₃``-average of ``(d_k/d_0) λ_k ⟨g_k, x_0 - θ_k⟩`` (``d_numerator``).
    d_used : ndarray, shape (B,)
        The estimate the last step used (0 before the first).
    dlr : ndarray, shape (B,)
        Its step ``λ = d h`` (times the bias correction).
    k : ndarray of int64, shape (B,)
    """

    theta: np.ndarray
    m: np.ndarray
    v: np.ndarray
    s: np.ndarray
    x0: np.ndarray
    d: np.ndarray
    d_max: np.ndarray
    numerator: np.ndarray
    d_used: np.ndarray
    dlr: np.ndarray
    k: np.ndarray


@dataclass(frozen=True)
class Prodigy(Method):
    r"""Prodigy, as ``prodigyopt.Prodigy``.

    With ``λ_k = d_k h`` (times ``√(1 - β₂^{k+1})/(1 - β₁^{k+1})`` with
    ``use_bias_correction``), ``g_k`` the gradient (plus ``λ_wd θ`` unless
    ``decouple``) and ``β₃ = √β₂`` by default:

    .. math:: N_{k+1} = \beta_3 N_k + \tfrac{d_k}{d_0}\lambda_k\langle g_k, x_0 - \theta_k
              \rangle,\quad
              s_{k+1} = \beta_3 s_k + \tfrac{d_k}{d_0}\lambda_k g_k,

    .. math:: m_{k+1} = \beta_1 m_k + (1 - \beta_1) d_k g_k,\quad
              v_{k+1} = \beta_2 v_k + (1 - \beta_2) d_k^2 g_k^2,

    .. math:: \hat d = c\,\frac{N_{k+1}}{\|s_{k+1}\|_1},\quad
              d_{k+1} = \min\bigl(\max_{i \le k}\hat d_i, \rho\,d_k\bigr),\quad
              \theta_{k+1} = \theta_k - \lambda_k\frac{m_{k+1}}{\sqrt{v_{k+1}}
              + d_{k+1}\varepsilon}

    (``c`` = ``d_coef``; at ``d_k = d_0`` the estimate first becomes ``max(d_0, d̂)``;
    decoupled decay first shrinks ``θ`` by ``1 - λ_wd λ_k``; ``β₁ = 0`` uses ``d_{k+1} g_k``
    in place of ``m``; ``safeguard_warmup`` drops ``h`` and the bias correction from the
    weight of ``s``).  The weights ``d_k/d_0`` are what make ``d`` grow faster than in
    D-Adaptation (Mishchenko & Defazio 2023, Theorem 1: ``d`` reaches ``D`` in
    ``O(log(D/d_0))`` more steps).  The package's ``slice_p`` (estimate ``d`` from every
    ``p``-th coordinate) is 1 here.

    **ODE** (order 1): as :class:`DAdaptAdam`, with ``β``'s fixed the displacement is
    ``≈ λ_k ∇L/(|∇L| + ε)``: the sign-like flow ``dθ/dt = -d(t)∇L/(|∇L| + ε)``
    (``t = kh``) with ``d`` the running estimate.

    **Stability**: none as a linear map (the step is a running estimate).

    Parameters
    ----------
    beta1, beta2 : float, optional
        In ``[0, 1)`` (defaults 0.9, 0.999).
    beta3 : float or None, optional
        ``β₃`` in ``[0, 1)``; ``None`` (default) for ``√β₂``.
    eps : float, optional
        ``ε > 0`` (default ``1e-8``), scaled by ``d`` in the denominator.
    weight_decay : float, optional
        ``λ_wd >= 0`` (default 0).
    decouple : bool, optional
        AdamW-style decay (default True, the package's).
    use_bias_correction : bool, optional
        Adam's bias corrections in ``λ`` (default False).
    safeguard_warmup : bool, optional
        Leave ``h`` out of the weight of ``s`` (default False).
    d0 : float, optional
        Initial estimate (default ``1e-6``).
    d_coef : float, optional
        ``c > 0``, a factor on every estimate (default 1).
    growth_rate : float, optional
        ``ρ >= 1`` (default ``inf``).

    Raises
    ------
    TypeError
        If a parameter has the wrong type.
    ValueError
        If a ``beta`` is outside ``[0, 1)``, ``eps <= 0``, ``weight_decay < 0``,
        ``d0 <= 0``, ``d_coef <= 0`` or ``growth_rate < 1``.

    References
    ----------
    K. Mishchenko and A. Defazio, "Prodigy: an expeditiously adaptive parameter-free
    learner", ICML 2024 (arXiv:2306.06101, 2023), Algorithm 3 (Adam form).
    The ``prodigyopt`` package, version 1.1.2, ``Prodigy``.

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 10.0], seed=0)
    >>> m = gf.methods.Prodigy()
    >>> d = []
    >>> traj = gf.solve(p, np.ones(2), m, 1.0, steps=300,
    ...                 callback=lambda info: d.append(m.step_estimate(info.method_state)[0]))
    >>> float(d[0]), bool(d[-1] > 1e3 * d[0]), bool(traj.loss[-1] < 1e-3 * traj.loss[0])
    (1e-06, True, True)
    """

    linear_analysis: ClassVar[bool] = False

    beta1: float = 0.9
    beta2: float = 0.999
    beta3: float | None = None
    eps: float = 1e-8
    weight_decay: float = 0.0
    decouple: bool = True
    use_bias_correction: bool = False
    safeguard_warmup: bool = False
    d0: float = D0
    d_coef: float = 1.0
    growth_rate: float = float("inf")
    order: ClassVar[int] = 1
    ode: ClassVar[str] = "β fixed: dθ/dt = -d(t)∇L/(|∇L| + ε), d a running estimate; t = kh"
    grads_per_step: ClassVar[int] = 1

    def __post_init__(self) -> None:
        check_unit(self.beta1, "beta1")
        check_unit(self.beta2, "beta2")
        if self.beta3 is not None:
            check_unit(self.beta3, "beta3")
        check_positive(self.eps, "eps")
        check_nonnegative(self.weight_decay, "weight_decay")
        for name in ("decouple", "use_bias_correction", "safeguard_warmup"):
            check_bool(getattr(self, name), name)
        check_d0(self.d0)
        check_positive(self.d_coef, "d_coef")
        check_growth(self.growth_rate)

    def init(self, problem: Problem, theta0: np.ndarray) -> ProdigyState:
        """Zero averages, ``d = d_max = d0``, counters at zero."""
        rows, dtype = theta0.shape[0], theta0.dtype
        z, zero = np.zeros_like(theta0), np.zeros(rows, dtype=dtype)
        d = np.full(rows, self.d0, dtype=dtype)
        k = np.zeros(rows, dtype=np.int64)
        return ProdigyState(theta0, z, z, z, theta0.copy(), d, d, zero, zero, zero, k)

    def _bias_correction(self, k: np.ndarray, dtype: np.dtype) -> Any:
        if not self.use_bias_correction:
            return 1.0
        k1 = (k + 1).astype(np.float64)
        return (np.sqrt(1.0 - self.beta2**k1) / (1.0 - self.beta1**k1)).astype(dtype)

    def _moments(
        self, state: ProdigyState, g: np.ndarray, dlr: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The new ``m``, ``v`` and ``s`` (new arrays)."""
        _, m, v, s, _, d, *_ = state
        b1, b2 = self.beta1, self.beta2
        b3 = b2**0.5 if self.beta3 is None else self.beta3
        m_new = m * b1
        if b1 > 0:
            m_new += (d * (1.0 - b1))[:, None] * g
        v_new = v * b2
        v_new += (d * d * (1.0 - b2))[:, None] * (g * g)
        weight = (d / self.d0) * (d if self.safeguard_warmup else dlr)
        s_new = s * b3
        s_new += weight[:, None] * g
        return m_new, v_new, s_new

    def step(self, problem: Problem, state: ProdigyState, h: np.ndarray) -> StepResult:
        """One ``prodigyopt.Prodigy`` step for every element."""
        theta, x0, d, d_max, num, k = (state.theta, state.x0, state.d, state.d_max,
                                       state.numerator, state.k)  # fmt: skip
        b3 = self.beta2**0.5 if self.beta3 is None else self.beta3
        g = problem.grad(theta)
        if self.weight_decay and not self.decouple:
            g = g + self.weight_decay * theta
        dlr = d * row_h(h, theta.shape[0], theta.dtype) * self._bias_correction(k, theta.dtype)
        num_new = b3 * num + (d / self.d0) * dlr * row_dot(g, x0 - theta)
        m_new, v_new, s_new = self._moments(state, g, dlr)
        denom_l1 = np.abs(s_new).sum(axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):  # s = 0: kept below
            d_hat = self.d_coef * num_new / denom_l1
        d_new = np.where(d == self.d0, np.maximum(d, d_hat), d)
        d_max_new = np.maximum(d_max, d_hat)
        d_new = np.minimum(d_max_new, d_new * self.growth_rate)
        shrunk = theta
        if self.weight_decay and self.decouple:
            shrunk = theta + (-self.weight_decay * dlr)[:, None] * theta
        denom = np.sqrt(v_new)
        denom += (d_new * self.eps)[:, None]
        if self.beta1 > 0:
            theta_new = shrunk + (-dlr)[:, None] * (m_new / denom)
        else:
            theta_new = shrunk + (-dlr * d_new)[:, None] * (g / denom)
        new = ProdigyState(
            theta_new, m_new, v_new, s_new, x0, d_new, d_max_new, num_new, d, dlr, k + 1
        )
        # the package returns before updating θ, d and N (the averages it has already
        # updated in place keep their new values)
        fields = ("theta", "d", "d_max", "numerator", "d_used", "dlr", "k")
        return StepResult(keep_rows(denom_l1 == 0, state, new, fields))

    def step_estimate(self, state: ProdigyState) -> np.ndarray:
        """The distance estimate ``d_k`` of every element (shape ``(B,)``).

        Parameters
        ----------
        state : ProdigyState

        Returns
        -------
        ndarray, shape (B,)
        """
        return state.d

    def effective_stepsize(self, state: ProdigyState, h: Any) -> np.ndarray:
        """``λ d_used/(√v_k + d_k ε)``: the per-parameter step of the last update per unit
        of the gradient average ``m/d_used`` (shape ``(B, d)``; ``nan`` before the
        first step).

        Parameters
        ----------
        state : ProdigyState
        h : float or array_like
            Unused: ``λ`` already holds ``h``.

        Returns
        -------
        ndarray, shape (B, d)
        """
        scale = state.dlr * (state.d_used if self.beta1 > 0 else state.d)
        out = scale[:, None] / (np.sqrt(state.v) + (state.d * self.eps)[:, None])
        out[state.k == 0] = np.nan
        return out

    def amplification_matrix(self) -> Any:
        """Raises: the step is a running estimate, not a fixed linear map."""
        raise no_linear_analysis(self.name)
