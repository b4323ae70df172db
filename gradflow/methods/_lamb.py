r"""LAMB (You et al. 2020): Adam's direction scaled per parameter group by a trust ratio."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np

from gradflow._hyper import check_nonnegative, check_positive, check_unit
from gradflow.methods._base import Method, StepResult
from gradflow.methods._groups import check_shapes, group_slices
from gradflow.problems import Problem

__all__ = ["LAMB", "LAMBState"]


class LAMBState(NamedTuple):
    """State of :class:`LAMB`.

    Attributes
    ----------
    theta : ndarray, shape (B, d)
    m, v : ndarray, shape (B, d)
        First and second moments (not bias-corrected).
    ratio : ndarray, shape (B, G)
        The trust ratio of every group in the last step (ones before the first step).
    k : ndarray of int64, shape (B,)
        Steps taken.
    """

    theta: np.ndarray
    m: np.ndarray
    v: np.ndarray
    ratio: np.ndarray
    k: np.ndarray


def _sumsq(x: np.ndarray) -> np.ndarray:
    # A contiguous last-axis sum per row: the same bits for any number of rows.
    return np.sqrt(np.sum(x * x, axis=-1))


@dataclass(frozen=True)
class LAMB(Method):
    r"""LAMB as ``optax.lamb``: Adam's direction plus weight decay, per group rescaled to
    the group's parameter norm.

    For every parameter group ``θ^{(g)}`` (see ``shapes``), with ``k`` counting from 1,

    .. math:: m_k = \beta_1 m_{k-1} + (1-\beta_1) g_k, \quad
              v_k = \beta_2 v_{k-1} + (1-\beta_2) g_k^2, \quad
              u_k = \frac{m_k/(1-\beta_1^k)}{\sqrt{v_k/(1-\beta_2^k)} + \varepsilon}
              + \lambda\theta_k,

    .. math:: r^{(g)}_k = \frac{\lVert\theta^{(g)}_k\rVert}{\lVert u^{(g)}_k\rVert},
              \qquad \theta^{(g)}_{k+1} = \theta^{(g)}_k - h\, r^{(g)}_k u^{(g)}_k,

    with ``r = 1`` where either norm is zero (optax's ``scale_by_trust_ratio``: a group
    at the origin still moves).  You et al. (Algorithm 2) write ``φ(‖θ‖)/‖u‖`` with a
    scaling function ``φ``; optax and this class take ``φ`` the identity.  The weight
    decay is decoupled from the moments but *inside* the trust ratio, as in the paper
    and optax.

    **ODE** (order 1, ``t = kh``).  With fixed ``β``'s the moments equilibrate in
    ``O(1)`` steps, ``u → ∇L/(|∇L| + ε) + λθ`` (a sign-like direction as for
    :class:`~gradflow.methods.Adam`), and LAMB is consistent with the group-normalised
    flow

    .. math:: \frac{d\theta^{(g)}}{dt} = -\lVert\theta^{(g)}\rVert
              \frac{u^{(g)}}{\lVert u^{(g)}\rVert},

    whose speed in each group is the group's norm: a *relative* flow, scale-invariant
    per layer (the reason LAMB tolerates large ``h`` at large batch).

    **Stability.**  There is no amplification matrix (the map is not linear in the
    state: the trust ratio depends on norms), and no edge-of-stability threshold of
    the Adam type either: the step length per group is exactly ``h‖θ^{(g)}‖`` whatever
    the curvature, so ``h`` is a relative step, and a run with ``h`` large moves by a
    multiple of its own norm each step (it oscillates or grows, but curvature does not
    set the threshold).

    **Effective step size** :meth:`effective_stepsize`: ``h r^{(g)}/(√v̂ + ε)`` per
    parameter, the displacement per unit of ``m̂`` (the decay term aside).

    Parameters
    ----------
    beta1, beta2 : float, optional
        Averaging constants in ``[0, 1)`` (optax's defaults 0.9, 0.999).
    eps : float, optional
        ``ε > 0`` outside the square root (default ``1e-6``, optax's).
    weight_decay : float, optional
        ``λ >= 0`` (default 0).
    shapes : tuple of tuples of int, optional
        The parameter groups: tensor shapes whose sizes add up to ``d``, laid out in
        order in ``θ`` (see :mod:`gradflow.methods._groups`).  Default ``None``: one
        group, the whole vector (then LAMB is Adam with one global trust ratio).

    Raises
    ------
    TypeError
        If a hyper-parameter has the wrong type.
    ValueError
        If a ``beta`` is outside ``[0, 1)``, ``eps <= 0``, ``weight_decay < 0``, or
        (when the run starts) the sizes of ``shapes`` do not add up to ``d``.

    Notes
    -----
    optax's ``eps_root`` (inside the square root) is 0 here, its default.  The
    group norms are row-wise sums, so a batched run equals single runs bit for bit.

    References
    ----------
    Y. You, J. Li, S. Reddi, J. Hseu, S. Kumar, S. Bhojanapalli, X. Song, J. Demmel,
    K. Keutzer and C.-J. Hsieh, "Large batch optimization for deep learning: training
    BERT in 76 minutes", ICLR 2020, Algorithm 2.
    optax documentation, ``optax.lamb``.

    Examples
    --------
    Two groups: each moves by ``h`` times its own norm on the first step.

    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 10.0, 100.0], seed=0)
    >>> lamb = gf.methods.LAMB(shapes=((2,), (1,)))
    >>> theta = np.array([[3.0, 4.0, 2.0]])
    >>> s1 = lamb.step(p, lamb.init(p, theta), np.array([1e-2])).state
    >>> d = theta - s1.theta
    >>> np.round([np.linalg.norm(d[0, :2]), np.linalg.norm(d[0, 2:])], 6)
    array([0.05, 0.02])
    """

    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-6
    weight_decay: float = 0.0
    shapes: Any = None
    order: ClassVar[int] = 1
    ode: ClassVar[str] = (
        "β fixed: dθ_g/dt = -‖θ_g‖ u_g/‖u_g‖, u = ∇L/(|∇L| + ε) + λθ (per group g); t = kh"
    )
    grads_per_step: ClassVar[int] = 1

    def __post_init__(self) -> None:
        check_unit(self.beta1, "beta1")
        check_unit(self.beta2, "beta2")
        check_positive(self.eps, "eps")
        check_nonnegative(self.weight_decay, "weight_decay")
        object.__setattr__(self, "shapes", check_shapes(self.shapes))

    def init(self, problem: Problem, theta0: np.ndarray) -> LAMBState:
        """Zero moments, unit trust ratios, counters at zero."""
        groups = group_slices(self.shapes, theta0.shape[-1])
        z = np.zeros_like(theta0)
        ones = np.ones((theta0.shape[0], len(groups)), dtype=theta0.dtype)
        return LAMBState(theta0, z, z, ones, np.zeros(theta0.shape[0], dtype=np.int64))

    def _denominator(self, v: np.ndarray, k: np.ndarray) -> np.ndarray:
        """``√v̂ + ε`` with ``v̂ = v/(1 - β_2^k)``."""
        bc2 = 1.0 - np.power(self.beta2, k.astype(np.float64))
        denom = np.sqrt(v / bc2.astype(v.dtype, copy=False)[:, None])
        denom += self.eps
        return denom

    def step(self, problem: Problem, state: LAMBState, h: np.ndarray) -> StepResult:
        """One ``optax.lamb`` step for every element."""
        theta, m, v, _, k = state
        g = problem.grad(theta)
        b1, b2 = self.beta1, self.beta2
        k_new = k + 1
        m_new = m * b1
        m_new += (1.0 - b1) * g
        v_new = g * g
        v_new *= 1.0 - b2
        v_new += b2 * v
        bc1 = (1.0 - np.power(b1, k_new.astype(np.float64))).astype(theta.dtype, copy=False)
        u = m_new / bc1[:, None]
        u /= self._denominator(v_new, k_new)
        if self.weight_decay:
            u += self.weight_decay * theta
        groups = group_slices(self.shapes, theta.shape[-1])
        ratio = np.empty((theta.shape[0], len(groups)), dtype=theta.dtype)
        for j, (sl, _) in enumerate(groups):  # a loop over groups, not trajectories
            p_norm, u_norm = _sumsq(theta[:, sl]), _sumsq(u[:, sl])
            zero = (p_norm == 0.0) | (u_norm == 0.0)
            r = np.where(zero, 1.0, p_norm / np.where(zero, 1.0, u_norm))
            ratio[:, j] = r
            u[:, sl] *= r[:, None]
        u *= h
        return StepResult(LAMBState(theta - u, m_new, v_new, ratio, k_new), None, 1)

    def effective_stepsize(self, state: LAMBState, h: Any) -> np.ndarray:
        """``h r^{(g)}/(√v̂_k + ε)``: the per-parameter step the last update applied to
        ``m̂_k`` (shape ``(B, d)``; ``nan`` before the first step; the decay term aside).

        Parameters
        ----------
        state : LAMBState
        h : float or array_like

        Returns
        -------
        ndarray, shape (B, d)
        """
        theta = state.theta
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.asarray(h, dtype=theta.dtype) / self._denominator(state.v, state.k)
        for j, (sl, _) in enumerate(group_slices(self.shapes, theta.shape[-1])):
            out[:, sl] *= state.ratio[:, j : j + 1]
        out[state.k == 0] = np.nan
        return out

    def amplification_matrix(self) -> Any:
        """Raises: LAMB is not linear in the state (its trust ratio is a ratio of norms)."""
        raise NotImplementedError(
            "LAMB is not linear in the state (its trust ratio is a ratio of norms), so it "
            "has no amplification matrix; its step per group is h times the group's norm"
        )
