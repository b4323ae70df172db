r"""PyTorch's SGD (momentum, dampening, Nesterov, coupled weight decay) as an integrator.

``torch.optim.SGD(lr=h, momentum=μ, dampening=τ, nesterov=..., weight_decay=λ)`` is, per
step ``k = 0, 1, ...`` with ``g_k = ∇L(θ_k) + λθ_k`` (weight decay *coupled*: an L2 term
added to the gradient),

.. math:: b_{k+1} = \begin{cases} g_0 & k = 0\\ \mu b_k + (1 - \tau) g_k & k > 0
          \end{cases}, \qquad
          \theta_{k+1} = \theta_k - h \begin{cases} g_k + \mu b_{k+1} & \text{Nesterov}\\
          b_{k+1} & \text{otherwise}\end{cases}

(``momentum = 0`` is plain gradient descent on ``L + ½λ‖θ‖²``).  Note the first buffer is
the *undampened* gradient, as in PyTorch.  ``μ`` may follow a schedule ``μ_k`` of the
step counter (PyTorch's ``cycle_momentum`` of ``CyclicLR`` and ``OneCycleLR``, which
rewrite the optimiser's ``momentum`` before every step).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np

from gradflow._hyper import check_nonnegative, check_unit, decay_at
from gradflow._validation import check_bool, check_unit_interval
from gradflow.methods._base import Method, StepResult
from gradflow.problems import Problem

__all__ = ["SGD", "SGDState"]


class SGDState(NamedTuple):
    """State of :class:`SGD`.

    Attributes
    ----------
    theta : ndarray, shape (B, d)
        Parameters.
    buf : ndarray, shape (B, d)
        Momentum buffer ``b_k`` (zeros, and unused, when ``momentum = 0``).
    k : ndarray of int64, shape (B,)
        Steps taken by each element (PyTorch's per-parameter ``step``).
    """

    theta: np.ndarray
    buf: np.ndarray
    k: np.ndarray


@dataclass(frozen=True)
class SGD(Method):
    r"""Stochastic gradient descent exactly as ``torch.optim.SGD`` defines it.

    See the module docstring for the update.  One gradient per step; ``h`` is PyTorch's
    ``lr``.  Under ``solve(..., batch_size=B)`` the gradient is a minibatch gradient.

    **ODE.**  With ``μ``, ``τ`` fixed and ``h → 0`` the buffer relaxes (in ``O(1)``
    steps, i.e. ``O(h)`` time) to ``(1 - τ)g/(1 - μ)``, so the method is first-order
    consistent with the rescaled gradient flow

    .. math:: \frac{d\theta}{dt} = -c\,\bigl(\nabla L(\theta) + \lambda\theta\bigr),
              \qquad c = \frac{1 - \tau}{1 - \mu}\ (\text{Nesterov: } \tfrac{1}{1 - \mu}),
              \quad t = kh.

    Order 1.  With ``1 - μ ∝ √h`` it discretises the damped second-order ODE of
    :class:`~gradflow.methods.HeavyBall` (whose iterates it reproduces for ``τ = λ = 0``:
    ``θ_{k+1} = θ_k - h g_k + μ(θ_k - θ_{k-1})``).

    **Effective step size.**  The displacement is ``h`` times the buffer, so the
    per-parameter step per unit *buffer* is ``h`` everywhere, and per unit gradient
    ``h c`` at equilibrium (:meth:`effective_stepsize` returns ``h``).

    **Momentum schedules.**  ``momentum`` may be a callable ``k -> μ_k`` of the step
    counter (``k = 0`` for the first step), such as ``cyclic(...).momentum`` or
    ``one_cycle(...).momentum`` from :mod:`gradflow.schedules`: step ``k`` then uses
    ``μ_k`` in both the buffer and the Nesterov look-ahead, as PyTorch does when
    ``CyclicLR``/``OneCycleLR(cycle_momentum=True)`` writes ``μ_k`` into the
    optimiser before step ``k``.  Each element uses its own counter.  The schedule's
    parameters must be scalars (an array of momentum bounds does not follow the
    rows of a batch), and such a method has no amplification matrix.

    Parameters
    ----------
    momentum : float or callable, optional
        ``μ`` in ``[0, 1)`` (default 0), or a schedule ``k -> μ_k`` (see above).
    nesterov : bool, optional
        Nesterov momentum (needs ``momentum > 0`` and ``dampening = 0``, as in PyTorch).
    weight_decay : float, optional
        Coupled L2 coefficient ``λ >= 0`` (default 0).
    dampening : float, optional
        ``τ`` in ``[0, 1]`` (default 0).

    Raises
    ------
    TypeError
        If a hyper-parameter is not a real number, or ``nesterov`` not a bool.
    ValueError
        If a hyper-parameter is outside its range, or Nesterov is asked for without
        momentum or with dampening.

    References
    ----------
    H. Robbins and S. Monro, "A stochastic approximation method", Ann. Math. Statist.
    22(3), 400–407, 1951.
    I. Sutskever, J. Martens, G. Dahl and G. Hinton, "On the importance of
    initialization and momentum in deep learning", ICML 2013.
    PyTorch documentation, ``torch.optim.SGD`` (algorithm box), version 2.x.

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 10.0], seed=0)
    >>> traj = gf.solve(p, np.ones(2), gf.methods.SGD(momentum=0.5), 0.1, steps=100,
    ...                 save="final")
    >>> bool(np.linalg.norm(traj.theta[-1]) < 1e-6)
    True
    >>> gf.methods.SGD(momentum=0.5).amplification_matrix()
    Matrix([
    [z + 3/2, -1/2],
    [      1,    0]])
    """

    rows_independent: ClassVar[bool] = True

    momentum: float | Callable[[Any], Any] = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0
    dampening: float = 0.0
    order: ClassVar[int] = 1
    ode: ClassVar[str] = "dθ/dt = -(1-τ)/(1-μ) (∇L(θ) + λθ), t = kh (Nesterov: 1/(1-μ))"
    grads_per_step: ClassVar[int] = 1

    def __post_init__(self) -> None:
        scheduled = callable(self.momentum)
        if not scheduled:
            check_unit(self.momentum, "momentum")
        check_nonnegative(self.weight_decay, "weight_decay")
        check_unit_interval(self.dampening, "dampening", high_open=False)
        check_bool(self.nesterov, "nesterov")
        if self.nesterov and ((not scheduled and self.momentum == 0) or self.dampening != 0):
            raise ValueError("nesterov=True needs momentum > 0 and dampening = 0")

    def init(self, problem: Problem, theta0: np.ndarray) -> SGDState:
        """Empty buffer and zero step counters."""
        return SGDState(theta0, np.zeros_like(theta0), np.zeros(theta0.shape[0], dtype=np.int64))

    def step(self, problem: Problem, state: SGDState, h: np.ndarray) -> StepResult:
        """One ``torch.optim.SGD`` step for every element."""
        theta, buf, k = state
        g = problem.grad(theta)
        if self.weight_decay:
            g = g + self.weight_decay * theta
        mu = self.momentum
        if callable(mu):
            # μ_k of each element's own counter, a (B, 1) column.
            mu = decay_at(mu, k, theta.dtype)
        if callable(self.momentum) or mu:
            new_buf = buf * mu
            new_buf += (1.0 - self.dampening) * g
            first = k == 0
            if first.any():
                new_buf[first] = g[first]
            direction = g + mu * new_buf if self.nesterov else new_buf
        else:
            new_buf, direction = buf, g
        return StepResult(SGDState(theta - h * direction, new_buf, k + 1), None, 1)

    def effective_stepsize(self, state: SGDState, h: Any) -> np.ndarray:
        """Per-parameter step per unit of the search direction: ``h`` everywhere.

        Parameters
        ----------
        state : SGDState
            A state of this method.
        h : float or array_like
            The step size (scalar or ``(B, 1)``).

        Returns
        -------
        ndarray, shape (B, d)
        """
        return np.broadcast_to(np.asarray(h, dtype=state.theta.dtype), state.theta.shape).copy()

    def amplification_matrix(self) -> Any:
        """Linear map on ``y' = λy`` with ``z = hλ`` (no weight decay).

        ``[[1 + z]]`` without momentum; ``[[1 + μ + (1 - τ)z, -μ], [1, 0]]`` on
        ``(θ_k, θ_{k-1})`` with momentum (heavy ball with step ``(1 - τ)h``; the first,
        undampened step is a transient); Nesterov's matrix of
        :class:`~gradflow.methods.Nesterov` with ``nesterov=True``.

        Raises
        ------
        NotImplementedError
            With ``weight_decay > 0``: the decay enters as ``hλ_wd``, not through ``z``;
            with a momentum schedule: the map changes from step to step.
        """
        import sympy as sp

        from gradflow.methods._momentum import _sym_beta

        if callable(self.momentum):
            raise NotImplementedError(
                "SGD with a momentum schedule has no fixed amplification matrix: analyse "
                "it at a fixed momentum, SGD(momentum=μ)"
            )

        if self.weight_decay:
            raise NotImplementedError(
                "SGD with weight_decay has no amplification matrix in z = hλ alone: "
                "fold the decay into the problem (λ → λ - weight_decay) instead"
            )
        z = sp.Symbol("z")
        if not self.momentum:
            return sp.Matrix([[1 + z]])
        b = _sym_beta(self.momentum)
        if self.nesterov:
            return sp.Matrix([[1 + (1 + b) * z, -(b**2)], [-z, b]])
        tau = _sym_beta(self.dampening) if self.dampening < 1 else sp.Integer(1)
        return sp.Matrix([[1 + b + (1 - tau) * z, -b], [1, 0]])
