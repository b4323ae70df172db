r"""Schedule-Free SGD and AdamW (Defazio, Yang, Mehta, Mishchenko, Khaled & Cutkosky 2024).

Three sequences: ``z`` takes the base optimiser's steps, ``x`` is a weighted running
average of the ``z``'s, and the gradient is evaluated at their interpolation ``y``:

.. math:: y_k = (1 - \beta) z_k + \beta x_k,\qquad
          z_{k+1} = z_k - \gamma_k\,u(y_k),\qquad
          x_{k+1} = (1 - c_{k+1}) x_k + c_{k+1} z_{k+1},

with ``u`` the (preconditioned) gradient, ``γ_k`` the step (``h`` times the linear
warmup factor), and ``c_{k+1} = w_{k+1}/Σ_{i≤k+1} w_i``,
``w_{k+1} = (k+1)^r (max_{i≤k}γ_i)^{p}`` (``p`` = ``weight_lr_power``).  Without warmup
and with ``r = 0``, ``c_{k+1} = 1/(k+1)`` and ``x`` is the plain average of the ``z``'s:
no decay schedule and no horizon is needed (Defazio et al. 2024, Theorem 1).

**Which sequence gradflow's θ is.**  The ``schedulefree`` package keeps ``y`` in the
model's parameters during training (``optimizer.train()``) and swaps in ``x`` for
evaluation (``optimizer.eval()``); the guarantees are for ``x``.  Here the state's
``theta`` — what a :class:`~gradflow.Trajectory` records and whose loss it reports —
is ``x``, the **eval-mode** parameters; the gradient of each step is taken at ``y``
(state field ``y``, the train-mode parameters, recomputed from ``x`` and ``z``).  So a
trajectory's loss is the evaluation loss ``L(x_k)``, not the training loss at ``y_k``.
The package updates ``y`` and ``z`` in place (``x`` implicit); the same iterates are
computed here from ``x`` and ``z``, which changes only the rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np

from gradflow._hyper import check_nonnegative, check_positive, check_unit
from gradflow._validation import check_integer, check_real
from gradflow.methods._base import Method, StepResult
from gradflow.methods._dadapt import row_h
from gradflow.problems import Problem

__all__ = ["AdamWScheduleFree", "SGDScheduleFree", "ScheduleFreeState"]


class ScheduleFreeState(NamedTuple):
    """State of :class:`SGDScheduleFree` and :class:`AdamWScheduleFree`.

    Attributes
    ----------
    theta : ndarray, shape (B, d)
        ``x_k``, the averaged (eval-mode) parameters.
    z : ndarray, shape (B, d)
        ``z_k``, the base sequence.
    y : ndarray, shape (B, d)
        ``y_k = (1 - β) z_k + β x_k``, where the next gradient is taken (train mode).
    v : ndarray, shape (B, d)
        AdamW's second moment (zeros for SGD).
    lr_max : ndarray, shape (B,)
        ``max_{i<k} γ_i`` (``-1`` before the first step, the package's start).
    weight_sum : ndarray, shape (B,)
        ``Σ_{i≤k} w_i``.
    k : ndarray of int64, shape (B,)
    """

    theta: np.ndarray
    z: np.ndarray
    y: np.ndarray
    v: np.ndarray
    lr_max: np.ndarray
    weight_sum: np.ndarray
    k: np.ndarray


@dataclass(frozen=True)
class _ScheduleFree(Method):
    """The averaging shared by both: subclasses give the direction ``u(y)``."""

    linear_analysis: ClassVar[bool] = False

    weight_decay: float = 0.0
    warmup_steps: int = 0
    r: float = 0.0
    weight_lr_power: float = 2.0
    order: ClassVar[int] = 1
    grads_per_step: ClassVar[int] = 1
    # x_{k+1} = (1 - c) x_k + c z_{k+1} can replace a non-finite x (c = 1 at the first
    # step), so the driver must look at every state
    checks_every_step: ClassVar[bool] = True

    def _check_common(self) -> None:
        check_nonnegative(self.weight_decay, "weight_decay")
        check_integer(self.warmup_steps, "warmup_steps", 0)
        check_real(self.r, "r")
        check_real(self.weight_lr_power, "weight_lr_power")

    @property
    def _beta(self) -> float:
        raise NotImplementedError

    def init(self, problem: Problem, theta0: np.ndarray) -> ScheduleFreeState:
        """``x = z = y = θ_0``, zero moments, counters at zero."""
        rows, dtype = theta0.shape[0], theta0.dtype
        return ScheduleFreeState(
            theta0,
            theta0.copy(),
            theta0.copy(),
            np.zeros_like(theta0),
            np.full(rows, -1.0, dtype=dtype),
            np.zeros(rows, dtype=dtype),
            np.zeros(rows, dtype=np.int64),
        )

    def _direction(
        self, g: np.ndarray, v: np.ndarray, k: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _averaging(
        self, state: ScheduleFreeState, h: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``γ_k``, the new ``max γ``, the new weight sum and ``c_{k+1}`` (all ``(B,)``)."""
        dtype = state.theta.dtype
        k = state.k
        lr = row_h(h, k.size, dtype)
        if self.warmup_steps:
            warm = np.minimum((k + 1) / self.warmup_steps, 1.0).astype(dtype)
            lr = lr * warm
        lr_max = np.maximum(lr, state.lr_max)
        weight = ((k + 1).astype(dtype) ** self.r) * lr_max**self.weight_lr_power
        weight_sum = state.weight_sum + weight
        with np.errstate(divide="ignore", invalid="ignore"):  # the package's 0/0 -> 0
            c = np.where(weight_sum == 0, 0.0, weight / weight_sum).astype(dtype)
        return lr, lr_max, weight_sum, c

    def step(self, problem: Problem, state: ScheduleFreeState, h: np.ndarray) -> StepResult:
        """One step: gradient at ``y``, ``z`` steps, ``x`` averages."""
        x, z, y, v, _, _, k = state
        g = problem.grad(y)
        lr, lr_max, weight_sum, c = self._averaging(state, h)
        u, v_new = self._direction(g, v, k)
        if self.weight_decay:
            u = u + self.weight_decay * y
        z_new = z - lr[:, None] * u
        x_new = x * (1.0 - c)[:, None]
        x_new += c[:, None] * z_new
        b = self._beta
        y_new = (1.0 - b) * z_new
        y_new += b * x_new
        return StepResult(ScheduleFreeState(x_new, z_new, y_new, v_new, lr_max, weight_sum, k + 1))

    def amplification_matrix(self) -> Any:
        """Raises: the averaging weight ``c_k`` changes with ``k`` (no fixed linear map)."""
        raise NotImplementedError(
            f"{self.name} averages with a weight c_k that changes every step "
            "(c_k = 1/k without warmup), so it is no fixed linear map on y' = λy: it "
            "has no amplification matrix (see the class docstring for its step-size limit)"
        )


@dataclass(frozen=True)
class SGDScheduleFree(_ScheduleFree):
    r"""Schedule-Free SGD, as ``schedulefree.SGDScheduleFree`` (module docstring: the
    sequences, and why ``θ`` is the averaged ``x``).

    .. math:: y_k = (1 - \beta) z_k + \beta x_k,\quad
              z_{k+1} = z_k - \gamma_k\bigl(\nabla L(y_k) + \lambda y_k\bigr),\quad
              x_{k+1} = (1 - c_{k+1}) x_k + c_{k+1} z_{k+1},

    ``β`` = ``momentum``, ``γ_k = h min(1, (k+1)/warmup_steps)``.

    **ODE** (order 1, ``t = kh``, no warmup, ``r = 0``): ``c_{k+1} = 1/(k+1) = h/(t+h)``
    and the iteration is explicit Euler on the primal-averaging system

    .. math:: \frac{dz}{dt} = -\nabla L\bigl((1 - \beta) z + \beta x\bigr),\qquad
              \frac{dx}{dt} = \frac{z - x}{t},\qquad x(0) = z(0) = \theta_0

    (with ``r > 0``: ``dx/dt = (r + 1)(z - x)/t``).

    **Stability** (linear, large ``k``): on ``L = ½μθ²`` the average freezes
    (``c_k → 0``) and ``z`` is gradient descent with the step ``(1 - β)h``, so the run is
    stable iff ``h μ < 2/(1 - β)`` — ten times gradient descent's limit at ``β = 0.9``
    (measured against a bisection in the tests).  Near that limit the first steps grow
    the state a long way (the average's factor ``1 - c_k(1 + hμβ)`` exceeds 1 in modulus
    while ``k < hμβ``) before it decays.

    Parameters
    ----------
    momentum : float, optional
        ``β`` in ``(0, 1)`` (default 0.9).
    weight_decay : float, optional
        ``λ >= 0``, added to the gradient at ``y`` (default 0).
    warmup_steps : int, optional
        Linear warmup length (default 0).
    r : float, optional
        Polynomial weighting power of the average (default 0).
    weight_lr_power : float, optional
        Power of ``max γ`` in the weights (default 2).

    Raises
    ------
    TypeError
        If a parameter has the wrong type.
    ValueError
        If ``momentum`` is outside ``(0, 1)``, ``weight_decay < 0`` or
        ``warmup_steps < 0``.

    References
    ----------
    A. Defazio, X. Yang, H. Mehta, K. Mishchenko, A. Khaled and A. Cutkosky, "The road
    less scheduled", NeurIPS 2024, Algorithm 1 and Theorem 1.
    The ``schedulefree`` package, version 1.4.1, ``SGDScheduleFree``.

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 10.0], seed=0)
    >>> traj = gf.solve(p, np.ones(2), gf.methods.SGDScheduleFree(), 0.1, steps=500,
    ...                 save="final")
    >>> bool(traj.loss[-1] < 1e-4)       # the loss at the averaged (eval-mode) x
    True
    """

    momentum: float = 0.9
    ode: ClassVar[str] = "dz/dt = -∇L((1-β)z + βx), dx/dt = (z - x)/t; t = kh, θ = x"

    def __post_init__(self) -> None:
        check_real(self.momentum, "momentum", low=0.0, high=1.0, low_open=True, high_open=True)
        self._check_common()

    @property
    def _beta(self) -> float:
        return self.momentum

    def _direction(
        self, g: np.ndarray, v: np.ndarray, k: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        return g, v


@dataclass(frozen=True)
class AdamWScheduleFree(_ScheduleFree):
    r"""Schedule-Free AdamW, as ``schedulefree.AdamWScheduleFree`` (module docstring:
    the sequences, and why ``θ`` is the averaged ``x``).

    :class:`SGDScheduleFree` with ``β = β₁`` and the Adam-normalised direction

    .. math:: v_{k+1} = \beta_2 v_k + (1 - \beta_2) g_k^2,\quad
              u_k = \frac{g_k}{\sqrt{v_{k+1}/(1 - \beta_2^{k+1})} + \varepsilon}
              + \lambda y_k,\quad g_k = \nabla L(y_k),

    (no first moment: the interpolation ``y`` is the momentum; the decay is applied at
    ``y``, after the normalisation, as in the package).  Default ``h`` in the package is
    ``0.0025``.

    **ODE** (order 1, ``t = kh``, ``β``'s fixed, no warmup): the sign-like flow of Adam in
    the base sequence and the running average,
    ``dz/dt = -∇L(y)/(|∇L(y)| + ε) - λy``, ``dx/dt = (z - x)/t``,
    ``y = (1 - β₁)z + β₁x``.

    **Stability**: no linear limit (the normalisation is nonlinear); as for Adam the
    relevant threshold is on the preconditioned sharpness, with the step
    ``(1 - β₁)h`` of the ``z`` sequence.

    Parameters
    ----------
    beta1, beta2 : float, optional
        In ``[0, 1)`` (defaults 0.9, 0.999).
    eps : float, optional
        ``ε > 0`` (default ``1e-8``).
    weight_decay, warmup_steps, r, weight_lr_power
        As :class:`SGDScheduleFree`.

    Raises
    ------
    TypeError
        If a parameter has the wrong type.
    ValueError
        If a ``beta`` is outside ``[0, 1)``, ``eps <= 0``, ``weight_decay < 0`` or
        ``warmup_steps < 0``.

    References
    ----------
    A. Defazio, X. Yang, H. Mehta, K. Mishchenko, A. Khaled and A. Cutkosky, "The road
    less scheduled", NeurIPS 2024, Algorithm 2 (AdamW).
    The ``schedulefree`` package, version 1.4.1, ``AdamWScheduleFree``.

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 10.0], seed=0)
    >>> sf = gf.methods.AdamWScheduleFree(warmup_steps=10)
    >>> traj = gf.solve(p, np.ones(2), sf, 0.05, steps=500)
    >>> bool(traj.loss[-1] < 1e-5 * traj.loss[0])
    True
    """

    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    ode: ClassVar[str] = (
        "β fixed: dz/dt = -∇L(y)/(|∇L(y)| + ε) - λy, dx/dt = (z - x)/t, "
        "y = (1-β1)z + β1x; t = kh, θ = x"
    )

    def __post_init__(self) -> None:
        check_unit(self.beta1, "beta1")
        check_unit(self.beta2, "beta2")
        check_positive(self.eps, "eps")
        self._check_common()

    @property
    def _beta(self) -> float:
        return self.beta1

    def _direction(
        self, g: np.ndarray, v: np.ndarray, k: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        b2 = self.beta2
        v_new = v * b2
        v_new += (1.0 - b2) * (g * g)
        bc2 = (1.0 - b2 ** (k + 1).astype(np.float64)).astype(g.dtype)
        denom = np.sqrt(v_new / bc2[:, None])
        denom += self.eps
        return g / denom, v_new
