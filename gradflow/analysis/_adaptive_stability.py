r"""Stability of adaptive methods: the preconditioned sharpness and its edge of stability.

Cohen et al. (2022) write Adam's step as ``θ_{k+1} = θ_k - h P_k^{-1} m_{k+1}`` with the
*raw* first moment ``m_{k+1} = β_1 m_k + (1 - β_1) g_k`` and the diagonal preconditioner

.. math:: P_k = (1 - \beta_1^{k+1})\,\operatorname{diag}\bigl(\sqrt{\hat v_{k+1}}
          + \varepsilon\bigr), \qquad \hat v_{k+1} = \frac{v_{k+1}}{1 - \beta_2^{k+1}},

(``k`` 0-based: ``P_k`` is the preconditioner of the step taken *from* ``θ_k``, whose
second moment already contains ``g_k``).  Freezing ``P`` and linearising on a quadratic
with Hessian ``H``, this is heavy-ball momentum with the EMA form on the
preconditioned Hessian ``P⁻¹H``, stable iff

.. math:: \lambda_{\max}(P^{-1} H) < \frac{2 (1 + \beta_1)}{(1 - \beta_1) h}
          \quad (38/h \text{ at } \beta_1 = 0.9).

Adam on neural networks trains at this *adaptive edge of stability*: the preconditioned
sharpness rises to the threshold and hovers there.  ``P⁻¹H`` is similar to the symmetric
``P^{-1/2} H P^{-1/2}``, the Hessian of ``u ↦ L(P^{-1/2} u)``; its top eigenvalue is
found by Lanczos on HVPs (:func:`gradflow.curvature.top_eigenvalue`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from gradflow._hyper import check_unit
from gradflow._validation import (
    as_generator,
    as_state_array,
    check_integer,
    check_nonnegative,
    check_positive,
)
from gradflow.curvature import top_eigenvalue
from gradflow.methods import Adam, AdamW
from gradflow.problems import Problem

__all__ = [
    "AdaptiveSharpnessTracker",
    "adam_preconditioner",
    "adaptive_eos_threshold",
    "preconditioned_sharpness",
    "track_preconditioned_sharpness",
]


def adaptive_eos_threshold(h: ArrayLike, beta1: float = 0.9) -> np.ndarray:
    r"""The adaptive edge-of-stability threshold ``2(1 + β_1)/((1 - β_1) h)``.

    Parameters
    ----------
    h : float or array_like
        Step size(s), ``> 0``.
    beta1 : float, optional
        First-moment constant in ``[0, 1)`` (default 0.9).

    Returns
    -------
    ndarray

    Raises
    ------
    ValueError
        If ``beta1`` is outside ``[0, 1)`` or a step size is not positive.

    References
    ----------
    J. M. Cohen, B. Ghorbani, S. Krishnan, N. Agarwal, S. Medapati, M. Badura, D. Suo,
    D. Cardoze, Z. Nado, G. E. Dahl and J. Gilmer, "Adaptive gradient methods at the edge
    of stability", arXiv:2207.14484, 2022.

    Examples
    --------
    >>> from gradflow.analysis import adaptive_eos_threshold
    >>> round(float(adaptive_eos_threshold(1e-3)), 6)
    38000.0
    """
    check_unit(beta1, "beta1")
    h = check_positive(h, "h", allow_array=True)
    return 2.0 * (1.0 + beta1) / ((1.0 - beta1) * h)


def _scaled_problem(problem: Problem, D: np.ndarray, l2: float) -> Problem:
    """``u ↦ L(D u) + ½ l2 ‖D u‖²`` whose Hessian is ``D (H + l2 I) D``."""

    def loss(u: np.ndarray) -> np.ndarray:
        th = D * u
        return problem.loss(th) + 0.5 * l2 * np.sum(th * th, axis=-1)

    def grad(u: np.ndarray) -> np.ndarray:
        th = D * u
        return D * (problem.grad(th) + l2 * th)

    def hvp(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        dv = D * v
        return D * (problem.hvp(D * u, dv) + l2 * dv)

    return Problem(loss=loss, grad=grad, hvp=hvp, dim=problem.dim, name=problem.name)


def preconditioned_sharpness(
    problem: Problem,
    theta: ArrayLike,
    preconditioner: ArrayLike,
    *,
    l2: float = 0.0,
    tol: float = 1e-8,
    seed: int | np.random.Generator | None = None,
) -> np.ndarray:
    r"""``λmax(P⁻¹ H(θ))`` for a positive diagonal preconditioner ``P``, batched.

    Parameters
    ----------
    problem : Problem
    theta : array_like, shape (B, d)
        Points.
    preconditioner : array_like, shape (B, d) or (d,)
        Diagonal of ``P``, positive (e.g. :func:`adam_preconditioner`).
    l2 : float, optional
        Coupled L2 coefficient added to ``H`` (Adam's ``weight_decay``).
    tol : float, optional
        Relative accuracy of the Lanczos eigenvalue.
    seed : int, numpy.random.Generator or None, optional
        Seeds the Lanczos start vectors.

    Returns
    -------
    ndarray, shape (B,)

    Raises
    ------
    ValueError
        If the shapes disagree, ``P`` is not positive and finite, ``l2 < 0`` or
        ``tol <= 0``.
    TypeError
        If ``theta`` or ``P`` does not hold real numbers, or ``l2``/``tol`` is not a
        real number.

    References
    ----------
    Cohen et al. 2022 (see :func:`adaptive_eos_threshold`).

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic(A=np.diag([1.0, 4.0]))
    >>> float(gf.analysis.preconditioned_sharpness(p, np.zeros(2), [1.0, 8.0], seed=0)[0])
    1.0
    """
    theta = np.atleast_2d(as_state_array(theta, "theta", problem.dim))
    P = check_positive(preconditioner, "preconditioner", allow_array=True).astype(theta.dtype)
    try:
        P = np.broadcast_to(P, theta.shape)
    except ValueError:
        raise ValueError(
            f"preconditioner must broadcast to theta's shape {theta.shape}, got {P.shape}"
        ) from None
    l2 = check_nonnegative(l2, "l2")
    tol = check_positive(tol, "tol")
    D = 1.0 / np.sqrt(P)
    rng = as_generator(seed)
    # One Lanczos run per point: the eigensolver drops converged rows from its batch,
    # so the per-row scaling cannot ride along as a batched closure.
    out = np.empty(theta.shape[0])
    for j in range(theta.shape[0]):
        scaled = _scaled_problem(problem, D[j], float(l2))
        out[j] = top_eigenvalue(scaled, theta[j : j + 1] / D[j], tol=tol, seed=rng).value[0]
    return out


def adam_preconditioner(
    v: np.ndarray, k: np.ndarray, beta1: float, beta2: float, eps: float
) -> np.ndarray:
    r"""Cohen et al.'s ``P = (1 - β_1^k) (√(v/(1 - β_2^k)) + ε)`` for second moments
    ``v`` (``(B, d)``) after ``k >= 1`` gradients (``(B,)``).

    Parameters
    ----------
    v : ndarray, shape (B, d)
    k : ndarray of int, shape (B,)
    beta1, beta2, eps : float

    Returns
    -------
    ndarray, shape (B, d)
    """
    kk = np.asarray(k, dtype=float)[:, None]
    return (1.0 - beta1**kk) * (np.sqrt(v / (1.0 - beta2**kk)) + eps)


class AdaptiveSharpnessTracker:
    """A ``solve`` callback recording ``λmax(P_k⁻¹H(θ_k))`` of an Adam / AdamW run.

    Build it with :func:`track_preconditioned_sharpness`.  It keeps its own copy of
    Adam's second moment, fed with the full gradient at each state it is shown (one
    extra gradient per step), which is exactly the method's ``v`` in a full-batch run
    (under minibatches it is the full-batch analogue).

    Attributes
    ----------
    steps : ndarray of int, shape (n,)
    values : ndarray, shape (n, *batch)
        Preconditioned sharpness (``nan`` for stopped elements).
    """

    def __init__(self, problem: Problem, method: Any, every: int, tol: float, seed: Any):
        self.problem, self.method, self.every, self.tol = problem, method, every, tol
        self._rng = np.random.default_rng(seed)
        self._v: np.ndarray | None = None
        self._k: np.ndarray | None = None
        self._steps: list[int] = []
        self._values: list[np.ndarray] = []

    def __call__(self, info: Any) -> bool:
        m = self.method
        l2 = m.weight_decay if isinstance(m, Adam) else 0.0
        theta = np.asarray(info.theta)
        batch, d = theta.shape[:-1], theta.shape[-1]
        flat = theta.reshape(-1, d)
        active = np.asarray(info.active).reshape(-1)
        if self._v is None:
            self._v = np.zeros(flat.shape)
            self._k = np.zeros(flat.shape[0], dtype=np.int64)
        values = np.full(flat.shape[0], np.nan)
        if active.any():
            th = flat[active]
            g = self.problem.grad(th) + l2 * th
            self._v[active] = m.beta2 * self._v[active] + (1.0 - m.beta2) * (g * g)
            self._k[active] += 1
            if info.k % self.every == 0:
                P = adam_preconditioner(self._v[active], self._k[active], m.beta1, m.beta2, m.eps)
                values[active] = preconditioned_sharpness(
                    self.problem, th, P, l2=l2, tol=self.tol, seed=self._rng
                )
        if info.k % self.every == 0:
            self._steps.append(int(info.k))
            self._values.append(values.reshape(batch))
        return False

    @property
    def steps(self) -> np.ndarray:
        return np.asarray(self._steps, dtype=np.int64)

    @property
    def values(self) -> np.ndarray:
        return np.asarray(self._values)

    def threshold(self, h: ArrayLike) -> np.ndarray:
        """``2(1 + β_1)/((1 - β_1) h)`` for the tracked method's ``β_1``."""
        return adaptive_eos_threshold(h, self.method.beta1)


def track_preconditioned_sharpness(
    problem: Problem,
    method: Adam | AdamW,
    every: int = 1,
    *,
    tol: float = 1e-6,
    seed: int | np.random.Generator | None = None,
) -> AdaptiveSharpnessTracker:
    r"""A :func:`gradflow.solve` callback tracking Adam's preconditioned sharpness.

    At steps ``0, every, 2·every, ...`` it records ``λmax(P_k⁻¹ H(θ_k))`` with Cohen et
    al.'s ``P_k`` (module docstring) for every active element; compare with
    :meth:`AdaptiveSharpnessTracker.threshold` ``(h)``.  Costs one gradient per step
    plus a Lanczos run per record.

    Parameters
    ----------
    problem : Problem
        The problem being solved.
    method : Adam or AdamW
        The method of the run (its ``β_1``, ``β_2``, ``ε``; Adam's coupled decay).
    every : int, optional
        Record every ``every`` steps.
    tol : float, optional
        Relative accuracy of each eigenvalue.
    seed : int, numpy.random.Generator or None, optional
        Seeds the Lanczos start vectors.

    Returns
    -------
    AdaptiveSharpnessTracker

    Raises
    ------
    TypeError
        If ``method`` is not Adam or AdamW (or uses AMSGrad).
    ValueError
        If ``every < 1``.

    References
    ----------
    Cohen et al. 2022 (see :func:`adaptive_eos_threshold`).

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic(A=np.diag([1.0, 100.0]))
    >>> adam = gf.methods.Adam()
    >>> tr = gf.analysis.track_preconditioned_sharpness(p, adam, every=10, seed=0)
    >>> _ = gf.solve(p, np.ones(2), adam, 1e-2, steps=20, callback=tr)
    >>> tr.steps.tolist(), tr.values.shape, round(float(tr.threshold(1e-2)), 6)
    ([0, 10, 20], (3,), 3800.0)
    """
    if not isinstance(method, (Adam, AdamW)) or method.amsgrad:
        raise TypeError("method must be an Adam or AdamW instance without amsgrad")
    every = check_integer(every, "every", 1)
    tol = check_positive(tol, "tol")
    return AdaptiveSharpnessTracker(problem, method, every, tol, as_generator(seed))
