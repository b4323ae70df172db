r"""Sophia (Liu et al. 2023): a clipped, diagonal-Hessian-preconditioned momentum method.

Randomness.  Both estimators draw random numbers (Hutchinson's Rademacher probes, the
Gauss–Newton–Bartlett estimator's resampled labels).  They come from a counter-based
stream: the draws of element ``j`` at step ``k`` are a pure function of
``(seed, j, k)`` — a splitmix64 hash of the three and of the entry's position —
computed for all rows at once (no per-row generator, no Python loop over rows).
``seed`` is a field of :class:`Sophia`; ``j`` is the element's position in the batch
handed to :func:`gradflow.solve` (flattened, before any element stops), kept in the
state as ``key`` and compacted with it.  So the same seed gives the same bits, the
elements of a batch draw independent streams, and element ``j`` is reproduced by any
run in which it is element ``j`` (element 0 alone reproduces element 0 of a batch),
as the minibatch sampler does for its index sets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np

from gradflow._hyper import check_nonnegative, check_positive, check_unit
from gradflow._validation import check_choice, check_integer
from gradflow.methods._base import Method, StepResult
from gradflow.problems import Problem

__all__ = ["Sophia", "SophiaState", "sophia_uniforms"]

#: Hessian estimators by name.
ESTIMATORS = ("hutchinson", "gnb")

# splitmix64 (Steele, Lea & Flood 2014): the increment and the two multipliers.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser of ``z + golden`` (uint64 arithmetic wraps modulo 2^64)."""
    z = z + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MUL1
    z = (z ^ (z >> np.uint64(27))) * _MUL2
    return z ^ (z >> np.uint64(31))


def _bits(seed: int, key: np.ndarray, k: np.ndarray, n: int) -> np.ndarray:
    """``(rows, n)`` uint64 words, a pure function of ``(seed, key[r], k[r], column)``."""
    with np.errstate(over="ignore"):
        row = _mix(np.full(key.shape, seed, dtype=np.uint64))
        row = _mix(row ^ key.astype(np.uint64))
        row = _mix(row ^ k.astype(np.uint64))
        col = (np.arange(1, n + 1, dtype=np.uint64) * _GOLDEN)[None, :]
        return _mix(row[:, None] ^ col)


def sophia_uniforms(seed: int, key: np.ndarray, k: np.ndarray, n: int) -> np.ndarray:
    """The uniforms in ``(0, 1)`` of Sophia's stream, ``(rows, n)`` float64.

    Row ``r`` is the stream of element ``key[r]`` at step ``k[r]`` (see the module
    docstring); a Rademacher probe takes ``+1`` where the uniform is above ½ and ``-1``
    below, the Gauss–Newton–Bartlett estimator one uniform per example.

    Parameters
    ----------
    seed : int
        :attr:`Sophia.seed`.
    key, k : ndarray of int, shape (rows,)
        The elements' keys (batch positions) and step counters.
    n : int
        Numbers per row.

    Returns
    -------
    ndarray, shape (rows, n)

    References
    ----------
    G. L. Steele, D. Lea and C. H. Flood, "Fast splittable pseudorandom number
    generators", OOPSLA 2014 (splitmix64).

    Examples
    --------
    >>> import numpy as np
    >>> u = sophia_uniforms(0, np.array([0, 1]), np.array([3, 3]), 4)
    >>> u.shape, bool(((0 < u) & (u < 1)).all())
    ((2, 4), True)
    >>> bool(np.array_equal(u[1:], sophia_uniforms(0, np.array([1]), np.array([3]), 4)))
    True
    """
    words = _bits(int(seed), np.asarray(key), np.asarray(k), int(n))
    return ((words >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53


class SophiaState(NamedTuple):
    """State of :class:`Sophia`.

    Attributes
    ----------
    theta : ndarray, shape (B, d)
    m : ndarray, shape (B, d)
        Moving average of the gradients.
    hess : ndarray, shape (B, d)
        Moving average of the diagonal Hessian estimates (zeros before the first).
    key : ndarray of int64, shape (B,)
        The element's position in the batch given to :func:`gradflow.solve`: its
        random stream (module docstring).
    k : ndarray of int64, shape (B,)
        Steps taken.
    """

    theta: np.ndarray
    m: np.ndarray
    hess: np.ndarray
    key: np.ndarray
    k: np.ndarray


@dataclass(frozen=True)
class Sophia(Method):
    r"""Sophia, Algorithm 3 of Liu et al. (2023), with the Hutchinson or the
    Gauss–Newton–Bartlett estimator.

    With ``g_k = ∇L(θ_k)`` (the minibatch gradient under ``batch_size``) and a step
    counter from 0,

    .. math:: m_{k+1} = \beta_1 m_k + (1-\beta_1) g_k, \qquad
              h_{k+1} = \begin{cases} \beta_2 h_k + (1-\beta_2)\hat h_k &
              k \equiv 0 \pmod{\text{every}} \\ h_k & \text{otherwise}\end{cases}

    .. math:: \theta_{k+1} = \theta_k(1 - h\lambda) - h\,
              \operatorname{clip}\Bigl(\frac{m_{k+1}}{\max(\rho\,h_{k+1}, \varepsilon)},
              1\Bigr),

    ``clip(z, 1) = max(min(z, 1), -1)`` elementwise and ``h`` the step size (the
    paper's ``η_t``).  The estimate ``ĥ_k`` of ``diag ∇²L(θ_k)``:

    * ``estimator="hutchinson"`` (Sophia-H): ``ĥ = u ⊙ (∇²L(θ) u)`` with a Rademacher
      ``u``, one Hessian-vector product through the problem (the minibatch's under
      ``batch_size``), which :func:`gradflow.solve` counts in ``Trajectory.n_grad``
      as two gradients (``HVP_COST``);
    * ``estimator="gnb"`` (Sophia-G): ``ĥ = B ĝ ⊙ ĝ``, ``ĝ`` the minibatch gradient
      at labels resampled from the model, through the problem's
      ``gauss_newton_bartlett(theta, uniforms)`` hook (one uniform per example; defined by
      :func:`~gradflow.problems.least_squares` and
      :func:`~gradflow.problems.logistic_regression`, where the Gauss–Newton matrix is
      the Hessian of the data term).  A problem without the hook is a ``TypeError``
      when the run starts.  The hook's cost (one pass over the batch, like a
      gradient) is in the step's reported ``n_grad``; the driver's count holds the
      gradients and HVPs it sees.

    **Conventions.**  The paper's box (``max(ρh, ε)`` in the denominator, ``ĥ``
    including the batch size ``B``); the official implementation (SophiaG) divides by
    ``ρ B h + ε`` with ``B`` a batch size given to ``step`` — the same update when
    ``ε`` is negligible and ``ρ`` is read as ``ρ B``.  Defaults are the official
    SophiaG's: ``β = (0.965, 0.99)``, ``ρ = 0.04``, ``λ = 0.1``, ``every = 10``,
    ``ε = 10^{-15}``.  No reference implementation is on PyPI; the tests compare with
    a transcription of the paper's box.

    **ODE** (order 1, ``t = kh``).  With ``β``'s fixed and ``h → 0`` the momentum
    equilibrates (``m → ∇L``), the curvature average covers a time ``O(h)`` and tends
    to ``E ĥ = diag ∇²L`` (Hutchinson; the Gauss–Newton diagonal for GNB) up to the
    noise of averaging ~``1/(1 - β_2)`` estimates (none for a diagonal Hessian, where
    ``u ⊙ Hu = diag H`` exactly): the flow

    .. math:: \frac{d\theta}{dt} = -\operatorname{clip}\Bigl(
              \frac{\nabla L}{\max(\rho\,\operatorname{diag}\nabla^2 L, \varepsilon)},
              1\Bigr) - \lambda\theta,

    a diagonal Newton flow of speed ``1/ρ`` where the ratio is below 1, and the sign
    flow ``-sign(∇L)`` where it is clipped (or the curvature is negative).

    **Stability.**  Without clipping, on ``L = ½ θᵀHθ`` with ``H`` diagonal, the
    estimate exact (``h_k → H``) and ``λ = 0``, every coordinate follows
    ``y ← y - (h/ρ)(β_1 p + (1 - β_1) y)``, ``p ← β_1 p + (1 - β_1) y`` (``p = m/H``):
    the curvature cancels and the linear limit is

    .. math:: \frac{h}{\rho} < \frac{2(1 + \beta_1)}{1 - \beta_1}

    for every coordinate at once (the edge-of-stability threshold of Adam-type
    momentum, in the preconditioned variable).  Beyond it the clipping keeps the
    iterates in an oscillation of amplitude about ``h``: Sophia does not diverge.

    **Effective step size** :meth:`effective_stepsize`: ``h/max(ρh_k, ε)`` where the
    ratio is not clipped, ``h/|m_k|`` where it is — the displacement per unit of
    ``m`` (the decay aside).

    Parameters
    ----------
    beta1, beta2 : float, optional
        Averaging constants in ``[0, 1)`` (defaults 0.965, 0.99).
    rho : float, optional
        ``ρ > 0`` (the paper's ``γ``; default 0.04).
    eps : float, optional
        ``ε > 0`` (default ``1e-15``).
    weight_decay : float, optional
        Decoupled ``λ >= 0`` (default 0.1).
    every : int, optional
        Steps between curvature estimates (the paper's ``k``; default 10).
    estimator : {"hutchinson", "gnb"}, optional
        Default ``"hutchinson"``.
    seed : int, optional
        Seed of the estimators' random stream (module docstring; default 0).

    Raises
    ------
    TypeError
        If a hyper-parameter has the wrong type; with ``estimator="gnb"``, when the
        run starts on a problem without ``gauss_newton_bartlett``.
    ValueError
        If a hyper-parameter is out of range or ``estimator`` unknown.

    References
    ----------
    H. Liu, Z. Li, D. Hall, P. Liang and T. Ma, "Sophia: a scalable stochastic
    second-order optimizer for language model pre-training", ICLR 2024, Algorithm 3.
    M. F. Hutchinson, "A stochastic estimator of the trace of the influence matrix for
    Laplacian smoothing splines", Commun. Stat. Simul. Comput. 19(2), 433–450, 1990.

    Examples
    --------
    On a diagonal quadratic Hutchinson's estimate is exact, and with ``h/ρ`` below the
    limit Sophia converges at the same rate in every coordinate, whatever the
    curvature:

    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic(A=np.diag([1.0, 1e3]))
    >>> sophia = gf.methods.Sophia(beta1=0.5, rho=1.0, weight_decay=0.0, every=1, beta2=0.0)
    >>> traj = gf.solve(p, 1e-2 * np.ones(2), sophia, 0.5, steps=60, save="final")
    >>> a, b = traj.theta[-1]
    >>> bool(np.isclose(a, b, rtol=1e-9)), bool(abs(a) < 1e-9)
    (True, True)
    """

    beta1: float = 0.965
    beta2: float = 0.99
    rho: float = 0.04
    eps: float = 1e-15
    weight_decay: float = 0.1
    every: int = 10
    estimator: str = "hutchinson"
    seed: int = 0
    order: ClassVar[int] = 1
    ode: ClassVar[str] = "dθ/dt = -clip(∇L/max(ρ diag ∇²L, ε), 1) - λθ (β fixed), t = kh"
    grads_per_step: ClassVar[int] = 1

    def __post_init__(self) -> None:
        check_unit(self.beta1, "beta1")
        check_unit(self.beta2, "beta2")
        check_positive(self.rho, "rho")
        check_positive(self.eps, "eps")
        check_nonnegative(self.weight_decay, "weight_decay")
        check_integer(self.every, "every", 1)
        check_choice(self.estimator, "estimator", ESTIMATORS)
        check_integer(self.seed, "seed", 0)

    def init(self, problem: Problem, theta0: np.ndarray) -> SophiaState:
        """Zero averages; every element's key is its position in the batch."""
        if self.estimator == "gnb" and not callable(
            getattr(problem, "gauss_newton_bartlett", None)
        ):
            raise TypeError(
                f"Sophia(estimator='gnb') needs the problem's gauss_newton_bartlett hook "
                f"(least_squares and logistic_regression have it; {problem.name!r} does "
                "not): use estimator='hutchinson'"
            )
        B = theta0.shape[0]
        z = np.zeros_like(theta0)
        ids = np.arange(B, dtype=np.int64)
        return SophiaState(theta0, z, z, ids, np.zeros(B, dtype=np.int64))

    def _estimate(
        self, problem: Any, theta: np.ndarray, key: np.ndarray, k: np.ndarray
    ) -> np.ndarray:
        """``ĥ`` at ``theta`` for the rows of ``problem``."""
        if self.estimator == "hutchinson":
            u = sophia_uniforms(self.seed, key, k, theta.shape[-1])
            probe = np.where(u > 0.5, 1.0, -1.0).astype(theta.dtype)
            return probe * problem.hvp(theta, probe)

        def uniforms(n: int) -> np.ndarray:
            return sophia_uniforms(self.seed, key, k, n)

        return np.asarray(problem.gauss_newton_bartlett(theta, uniforms), dtype=theta.dtype)

    def step(self, problem: Problem, state: SophiaState, h: np.ndarray) -> StepResult:
        """One step of Algorithm 3 for every element."""
        theta, m, hess, key, k = state
        g = problem.grad(theta)
        b1, b2 = self.beta1, self.beta2
        m_new = m * b1
        m_new += (1.0 - b1) * g
        due = k % self.every == 0
        hess_new = hess
        n_grad: Any = 1
        if due.any():
            rows = None if due.all() else np.flatnonzero(due)
            view = problem if rows is None else problem.restrict(rows)
            th = theta if rows is None else theta[rows]
            est = self._estimate(
                view, th, key if rows is None else key[rows], k if rows is None else k[rows]
            )
            mixed = (hess if rows is None else hess[rows]) * b2
            mixed += (1.0 - b2) * est
            if rows is None:
                hess_new = mixed
            else:
                hess_new = hess.copy()
                hess_new[rows] = mixed
            n_grad = 1 + (2 if self.estimator == "hutchinson" else 1) * due.astype(np.int64)
        denom = np.maximum(self.rho * hess_new, self.eps)
        update = np.clip(m_new / denom, -1.0, 1.0)
        update *= h
        shrunk = theta * (1.0 - h * self.weight_decay) if self.weight_decay else theta
        return StepResult(SophiaState(shrunk - update, m_new, hess_new, key, k + 1), None, n_grad)

    def effective_stepsize(self, state: SophiaState, h: Any) -> np.ndarray:
        """``h · min(1/max(ρh_k, ε), 1/|m_k|)``: the per-parameter step of the last
        update per unit of ``m_k`` (shape ``(B, d)``; ``nan`` before the first step).

        Parameters
        ----------
        state : SophiaState
        h : float or array_like

        Returns
        -------
        ndarray, shape (B, d)
        """
        dtype = state.theta.dtype
        denom = np.maximum(self.rho * state.hess, self.eps)
        with np.errstate(divide="ignore"):
            per_m = np.minimum(1.0 / denom, 1.0 / np.abs(state.m))
        out = np.asarray(h, dtype=dtype) * per_m.astype(dtype, copy=False)
        out[state.k == 0] = np.nan
        return out

    def next_effective_stepsize(self, state: SophiaState, h: Any, grad: np.ndarray) -> np.ndarray:
        """The effective step of the next update (see :meth:`Method.next_effective_stepsize`).

        Raises
        ------
        TypeError
            If the next step estimates the curvature (it needs the Hessian, not only
            the gradient).
        """
        if np.any(state.k % self.every == 0):
            raise TypeError(
                "Sophia's next step estimates the curvature (an HVP or resampled labels), "
                "which the gradient alone does not give: read its effective step size "
                "from a run instead"
            )
        return super().next_effective_stepsize(state, h, grad)

    def amplification_matrix(self) -> Any:
        """Raises: Sophia is not linear in the state (a clipped, estimated preconditioner)."""
        raise NotImplementedError(
            "Sophia is not linear in the state (clipping, an estimated preconditioner), "
            "so it has no amplification matrix; unclipped on a quadratic with the exact "
            "diagonal its limit is h/ρ < 2(1 + β1)/(1 - β1)"
        )
