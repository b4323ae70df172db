r"""Lion (EvoLved Sign Momentum, Chen et al. 2023) as an integrator of a sign flow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np

from gradflow._hyper import check_decay, check_unit, decay_at
from gradflow.methods._base import Method, StepResult
from gradflow.problems import Problem

__all__ = ["Lion", "LionState"]

#: Smallest ``|c|`` used by :meth:`Lion.effective_stepsize` (a coordinate with ``c = 0``
#: does not move; its effective step is reported as ``h/TINY_INTERPOLANT``).
TINY_INTERPOLANT = np.finfo(np.float64).tiny


class LionState(NamedTuple):
    """State of :class:`Lion`.

    Attributes
    ----------
    theta : ndarray, shape (B, d)
    m : ndarray, shape (B, d)
        Momentum ``m_k`` (the ``β_2`` average of the gradients).
    c : ndarray, shape (B, d)
        The interpolant ``c_k = β_1 m_{k-1} + (1 - β_1) g_{k-1}`` whose sign the last
        step used (zeros before the first step).
    k : ndarray of int64, shape (B,)
    """

    theta: np.ndarray
    m: np.ndarray
    c: np.ndarray
    k: np.ndarray


@dataclass(frozen=True)
class Lion(Method):
    r"""Lion, Algorithm 2 of Chen et al. (2023), with decoupled weight decay.

    .. math:: c_k = \beta_1 m_k + (1 - \beta_1) g_k, \qquad
              \theta_{k+1} = \theta_k - h\bigl(\operatorname{sign}(c_k) + \lambda\theta_k\bigr),
              \qquad m_{k+1} = \beta_2 m_k + (1 - \beta_2) g_k,

    with ``g_k = ∇L(θ_k)``, ``m_0 = 0`` and ``sign(0) = 0``; the decay is decoupled
    (``θ(1 - hλ)``, not passed through the sign).  Every coordinate moves by exactly
    ``h`` (plus the decay) per step.

    **ODE** (order 1, ``t = kh``).  For fixed ``β``'s, ``c → ∇L`` and the method is
    consistent with the sign flow ``dθ/dt = -sign(∇L(θ)) - λθ`` (a discontinuous
    right-hand side, in the Filippov sense); with ``1 - β_2 = ah`` the momentum is a
    state, ``m' = a(∇L - m)``, and the flow ``θ' = -sign(β_1 m + (1 - β_1)∇L) - λθ``
    minimises ``L`` subject to ``‖θ‖_∞ <= 1/λ`` (Chen, Liang, Liu & Liu 2024).

    **Effective step size** :meth:`effective_stepsize`: ``h/|c_k|`` per parameter —
    the displacement ``h`` per unit of the interpolated gradient.

    Parameters
    ----------
    beta1 : float, optional
        Interpolation constant in ``[0, 1)`` (default 0.9).
    beta2 : float, optional
        Momentum constant in ``[0, 1)`` (default 0.99).
    weight_decay : float or callable, optional
        Decoupled ``λ >= 0`` (default 0), or a schedule ``k -> λ_k`` (see
        :func:`gradflow.schedules.constant_decay_product`).

    Raises
    ------
    TypeError
        If a ``beta`` is not a real number, or ``weight_decay`` neither a real number
        nor callable.
    ValueError
        If a ``beta`` is outside ``[0, 1)`` or ``weight_decay < 0``.

    References
    ----------
    X. Chen, C. Liang, D. Huang, E. Real, K. Wang, H. Pham, X. Dong, T. Luong, C.-J. Hsieh,
    Y. Lu and Q. V. Le, "Symbolic discovery of optimization algorithms", NeurIPS 2023,
    Algorithm 2.
    L. Chen, B. Liu, K. Liang and Q. Liu, "Lion secretly solves constrained
    optimization, as Lyapunov predicts", ICLR 2024.

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 10.0], seed=0)
    >>> lion = gf.methods.Lion()
    >>> s1 = lion.step(p, lion.init(p, np.ones((1, 2))), np.array([1e-2])).state
    >>> np.abs(s1.theta - 1.0).round(12)                 # every coordinate moves by h
    array([[0.01, 0.01]])
    """

    rows_independent: ClassVar[bool] = True

    beta1: float = 0.9
    beta2: float = 0.99
    weight_decay: Any = 0.0
    order: ClassVar[int] = 1
    ode: ClassVar[str] = "dθ/dt = -sign(∇L(θ)) - λθ (β fixed), t = kh"
    grads_per_step: ClassVar[int] = 1

    def __post_init__(self) -> None:
        check_unit(self.beta1, "beta1")
        check_unit(self.beta2, "beta2")
        check_decay(self.weight_decay)

    def init(self, problem: Problem, theta0: np.ndarray) -> LionState:
        """Zero momentum, counters at zero."""
        z = np.zeros_like(theta0)
        return LionState(theta0, z, z, np.zeros(theta0.shape[0], dtype=np.int64))

    def step(self, problem: Problem, state: LionState, h: np.ndarray) -> StepResult:
        """One Lion step for every element."""
        theta, m, _, k = state
        g = problem.grad(theta)
        b1, b2 = self.beta1, self.beta2
        c = m * b1
        c += (1.0 - b1) * g
        lam = decay_at(self.weight_decay, k, theta.dtype)
        update = np.sign(c)
        if callable(self.weight_decay) or lam:
            update += lam * theta
        update *= h
        m_new = m * b2
        m_new += (1.0 - b2) * g
        return StepResult(LionState(theta - update, m_new, c, k + 1), None, 1)

    def effective_stepsize(self, state: LionState, h: Any) -> np.ndarray:
        """``h/|c_k|``: per-parameter displacement per unit of the interpolated gradient
        of the last step (shape ``(B, d)``; ``nan`` before the first step).

        Parameters
        ----------
        state : LionState
        h : float or array_like

        Returns
        -------
        ndarray, shape (B, d)
        """
        out = np.asarray(h, dtype=state.theta.dtype) / np.maximum(np.abs(state.c), TINY_INTERPOLANT)
        out[state.k == 0] = np.nan
        return out

    def amplification_matrix(self) -> Any:
        """Raises: Lion (a sign method) has no linear stability analysis."""
        raise NotImplementedError(
            "Lion is a sign method, not linear in the state: it has no amplification matrix"
        )
