r"""The stochastic Polyak step SPS_max (Loizou et al. 2021) as a method.

SPS is a method, not a step-size policy: its step at ``θ_k`` is built from the loss and
the gradient of the *minibatch drawn for that step*, ``f_i(θ_k)`` and ``∇f_i(θ_k)``,
the same gradient the update then uses.  A policy proposes ``h_k`` before the step and
is told the full-problem loss and gradient at the new point afterwards
(:class:`~gradflow.stepsize.Observation`), so it never sees step ``k``'s minibatch; a
method is handed that minibatch's view by :func:`gradflow.solve` (``batch_size=``) and
reads its loss through the view's ``sample_loss`` (the problem's ``minibatch_loss``
hook).  Without ``batch_size`` the sample is the whole data set and SPS is the
deterministic Polyak step divided by ``c`` and capped at ``h`` (the rule
:class:`gradflow.rules.Polyak` is the case ``c = 1`` with the cap ``h_max``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np

from gradflow._hyper import check_positive
from gradflow._validation import check_real
from gradflow.methods._base import Method, StepResult
from gradflow.problems import Problem

__all__ = ["SPS", "SPSState"]


class SPSState(NamedTuple):
    """State of :class:`SPS`.

    Attributes
    ----------
    theta : ndarray, shape (B, d)
    step : ndarray, shape (B,)
        The step ``γ_k = min(γ_SPS, h)`` the last update took (zeros before the first).
    k : ndarray of int64, shape (B,)
    """

    theta: np.ndarray
    step: np.ndarray
    k: np.ndarray


@dataclass(frozen=True)
class SPS(Method):
    r"""SPS_max, the stochastic Polyak step of Loizou et al. (2021), with ``h`` as its cap.

    With ``f_i`` the loss of the minibatch drawn for step ``k`` (the whole problem
    without ``batch_size``) and ``f_i^*`` its infimum (``f_star``),

    .. math:: \gamma_k = \min\Bigl\{\frac{f_i(\theta_k) - f_i^*}
              {c\,\lVert\nabla f_i(\theta_k)\rVert^2},\ \gamma_b\Bigr\},
              \qquad \theta_{k+1} = \theta_k - \gamma_k \nabla f_i(\theta_k),

    where the bound ``γ_b`` is the driver's step size ``h`` (a constant, a schedule
    or a per-element array).  ``f_i^* = 0`` (the default) is the paper's choice for
    non-negative losses that interpolate the data; ``c = 1/2`` its theory's and
    experiments' constant.  Where ``∇f_i = 0`` the element does not move; a gap
    ``f_i - f_i^* < 0`` (a wrong ``f_star``) is taken as 0, so the element waits.

    **ODE** (order 1, ``t = kh``): away from a minimiser the Polyak
    ratio is bounded below (``>= 1/(2cL)`` on an ``L``-smooth problem with
    ``f^* = \inf f``), so for ``h`` small the cap binds, ``γ_k = h``, and SPS is
    gradient descent: a first-order discretisation of the gradient flow
    ``dθ/dt = -∇L(θ)`` (of its minibatch SDE with ``batch_size``).

    **Stability.**  There is no fixed linear limit in ``h``: the step adapts to the
    state.  On ``L = ½ μ θ²`` with ``f^* = 0`` the Polyak ratio is ``1/(2cμ)``
    whatever ``θ``, so with a large cap the iteration is ``θ ← (1 - 1/(2c))θ``:
    convergent for every ``h`` exactly when ``c > 1/4`` (``c = 1/2`` is a Newton step
    onto the minimum); for ``c < 1/4`` it diverges once ``h > 2/μ``.

    **Effective step size** :meth:`effective_stepsize`: ``γ_k`` on every coordinate.

    Parameters
    ----------
    c : float, optional
        ``c > 0`` (default 0.5).
    f_star : float, optional
        ``f_i^*``, a lower bound of every minibatch loss (default 0).

    Raises
    ------
    TypeError
        If ``c`` or ``f_star`` is not a real number; when run with ``batch_size`` on
        a problem without ``minibatch_loss``.
    ValueError
        If ``c <= 0`` or ``f_star`` is not finite.

    References
    ----------
    N. Loizou, S. Vaswani, I. Laradji and S. Lacoste-Julien, "Stochastic Polyak
    step-size for SGD: an adaptive learning rate for fast convergence", AISTATS 2021,
    §3 (SPS and SPS_max).
    B. T. Polyak, *Introduction to Optimization*, Optimization Software, 1987, §5.3.

    Examples
    --------
    On a least-squares problem that interpolates its data, SPS with minibatches of 4
    drives the loss to zero with no step size to tune (the cap is large):

    >>> import numpy as np, gradflow as gf
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((40, 5)); y = X @ rng.standard_normal(5)
    >>> p = gf.problems.least_squares(X, y)
    >>> traj = gf.solve(p, np.zeros(5), gf.methods.SPS(), 10.0, steps=300, batch_size=4,
    ...                 seed=0, save="final")
    >>> bool(traj.loss[-1] < 1e-12)
    True
    """

    linear_analysis: ClassVar[bool] = False

    c: float = 0.5
    f_star: float = 0.0
    order: ClassVar[int] = 1
    ode: ClassVar[str] = "dθ/dt = -∇L(θ) (the cap h binds as h → 0), t = kh"
    grads_per_step: ClassVar[int] = 1

    def __post_init__(self) -> None:
        check_positive(self.c, "c")
        check_real(self.f_star, "f_star")

    def init(self, problem: Problem, theta0: np.ndarray) -> SPSState:
        """No step taken yet, counters at zero."""
        B = theta0.shape[0]
        return SPSState(theta0, np.zeros(B, dtype=theta0.dtype), np.zeros(B, dtype=np.int64))

    @staticmethod
    def _sample_loss(problem: Any, theta: np.ndarray) -> np.ndarray:
        """``f_i(θ)``: the drawn minibatch's loss (a minibatch view), else the loss."""
        sample = getattr(problem, "sample_loss", None)
        return sample(theta) if callable(sample) else problem.loss(theta)

    def step(self, problem: Problem, state: SPSState, h: np.ndarray) -> StepResult:
        """One SPS_max step for every element, on the minibatch of the step."""
        theta = state.theta
        g = problem.grad(theta)
        f = self._sample_loss(problem, theta)
        g2 = np.sum(g * g, axis=-1)
        gap = np.maximum(f - self.f_star, 0.0).astype(theta.dtype, copy=False)
        cap = np.broadcast_to(np.asarray(h, dtype=theta.dtype).reshape(-1), gap.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            polyak = np.where(g2 > 0, gap / (self.c * g2), cap)
        step = np.minimum(polyak, cap)
        return StepResult(SPSState(theta - step[:, None] * g, step, state.k + 1), None, 1)

    def effective_stepsize(self, state: SPSState, h: Any) -> np.ndarray:
        """``γ_k`` of the last step on every coordinate (shape ``(B, d)``; ``nan``
        before the first step).

        Parameters
        ----------
        state : SPSState
        h : float or array_like
            Unused: the step taken is in the state.

        Returns
        -------
        ndarray, shape (B, d)
        """
        out = np.repeat(state.step[:, None], state.theta.shape[-1], axis=1)
        out[state.k == 0] = np.nan
        return out

    def next_effective_stepsize(self, state: SPSState, h: Any, grad: np.ndarray) -> np.ndarray:
        """Raises: the next step of SPS needs the sampled loss as well as the gradient.

        Raises
        ------
        TypeError
            Always: read :meth:`effective_stepsize` along a run instead.
        """
        raise TypeError(
            "SPS's next step size needs the sampled loss as well as the gradient: read "
            "its effective step size from a run (effective_stepsize of a state)"
        )

    def amplification_matrix(self) -> Any:
        """Raises: SPS's step depends on the state."""
        raise NotImplementedError(
            "SPS's step depends on the state (a Polyak ratio), so it has no amplification "
            "matrix; on ½μθ² it converges for every cap h exactly when c > 1/4"
        )
