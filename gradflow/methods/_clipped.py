r"""Gradient clipping as a method wrapper: :class:`Clipped` runs any method on a clipped
gradient.

Clipping replaces the gradient field ``∇L`` by ``clip(∇L)``; the wrapped method then
integrates the *clipped* gradient flow ``dθ/dt = -clip(∇L(θ))`` (a Lipschitz field whose
speed is at most ``clip_norm``), to the wrapped method's order wherever the clip is
smooth.  The clipping is applied to every gradient the method evaluates (all stages of a
Runge–Kutta method), after the minibatch is drawn under ``solve(..., batch_size=...)``,
and before the method's own weight decay (PyTorch clips ``p.grad``, and the optimiser
adds ``λθ`` later).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gradflow._hyper import check_positive
from gradflow.methods._base import Method, StepResult
from gradflow.problems import Problem

__all__ = ["Clipped", "clip_gradient"]

#: ``torch.nn.utils.clip_grad_norm_`` scales by ``max_norm/(‖g‖ + 1e-6)``: the added
#: constant keeps the division finite at ``g = 0`` and the clipped norm strictly below
#: ``max_norm``.
CLIP_NORM_EPS = 1e-6


def clip_gradient(
    g: np.ndarray, clip_norm: float | None = None, clip_value: float | None = None
) -> np.ndarray:
    r"""Clip a batch of gradients by value, then by global norm (a new array).

    Value clipping is ``g ← min(max(g, -clip_value), clip_value)``
    (``torch.nn.utils.clip_grad_value_``); norm clipping is
    ``g ← g · min(1, clip_norm/(‖g‖₂ + 10⁻⁶))`` per batch row
    (``torch.nn.utils.clip_grad_norm_`` with all parameters as one vector), so the
    result always has ``‖g‖₂ <= clip_norm``.

    Parameters
    ----------
    g : ndarray, shape (*batch, d)
        Gradients.
    clip_norm : float, optional
        Largest Euclidean norm, ``> 0``.
    clip_value : float, optional
        Largest absolute entry, ``> 0``.

    Returns
    -------
    ndarray, shape (*batch, d)

    Raises
    ------
    TypeError
        If ``clip_norm`` or ``clip_value`` is neither None nor a real number.
    ValueError
        If ``clip_norm`` or ``clip_value`` is not finite and positive.

    References
    ----------
    R. Pascanu, T. Mikolov and Y. Bengio, "On the difficulty of training recurrent neural
    networks", ICML 2013 (norm clipping).
    PyTorch documentation, ``torch.nn.utils.clip_grad_norm_`` and ``clip_grad_value_``.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow.methods import clip_gradient
    >>> clip_gradient(np.array([[3.0, 4.0], [0.3, 0.4]]), clip_norm=1.0).round(6)
    array([[0.6, 0.8],
           [0.3, 0.4]])
    >>> clip_gradient(np.array([3.0, -0.5]), clip_value=1.0)
    array([ 1. , -0.5])
    """
    if clip_value is not None:
        check_positive(clip_value, "clip_value")
        g = np.clip(g, -float(clip_value), float(clip_value))
    if clip_norm is not None:
        check_positive(clip_norm, "clip_norm")
        norm = np.sqrt(np.sum(g * g, axis=-1, keepdims=True))
        coef = np.minimum(float(clip_norm) / (norm + CLIP_NORM_EPS), 1.0)
        g = g * coef.astype(g.dtype, copy=False)
    return np.array(g, copy=True) if clip_value is None and clip_norm is None else g


class _ClippedProblem(Problem):
    """A problem with its gradient clipped; restricting it restricts the problem below."""

    def __init__(self, problem: Any, clip_norm: float | None, clip_value: float | None) -> None:
        def grad(theta: np.ndarray) -> np.ndarray:
            return clip_gradient(problem.grad(theta), clip_norm, clip_value)

        super().__init__(loss=problem.loss, grad=grad, dim=problem.dim, name=problem.name)
        self._inner, self._clip = problem, (clip_norm, clip_value)

    def restrict(self, rows: np.ndarray) -> Problem:
        return _ClippedProblem(self._inner.restrict(rows), *self._clip)


def clipped_problem(problem: Problem, clip_norm: float | None, clip_value: float | None) -> Problem:
    """``problem`` with its gradient clipped (HVPs by central differences of the clipped
    gradient, the loss unchanged)."""
    return _ClippedProblem(problem, clip_norm, clip_value)


@dataclass(frozen=True)
class Clipped(Method):
    r"""Run ``method`` on the clipped gradient (global norm and/or value clipping).

    ``Clipped(method, clip_norm=c)`` hands ``method`` a view of the problem whose
    gradient is :func:`clip_gradient` of the original (value clipping first when both
    are given).  For :class:`~gradflow.methods.Euler` / ``SGD()`` the update then
    satisfies ``‖θ_{k+1} - θ_k‖ <= h·clip_norm``; momentum and adaptive methods rescale
    the clipped gradient, so the bound holds for their *gradients*, not their updates.

    Parameters
    ----------
    method : Method
        The wrapped integrator (its state, order and ODE are kept; the ODE's field
        becomes ``clip(∇L)``).
    clip_norm : float, optional
        Largest gradient norm per trajectory, ``> 0``.
    clip_value : float, optional
        Largest absolute gradient entry, ``> 0``.

    Raises
    ------
    TypeError
        If ``method`` is not a Method.
    ValueError
        If neither bound is given or one is not positive.

    References
    ----------
    R. Pascanu, T. Mikolov and Y. Bengio, ICML 2013.
    J. Zhang, T. He, S. Sra and A. Jadbabaie, "Why gradient clipping accelerates
    training: a theoretical justification for adaptivity", ICLR 2020.

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 100.0], seed=0)
    >>> m = gf.methods.Clipped(gf.methods.SGD(), clip_norm=1.0)
    >>> traj = gf.solve(p, 10 * np.ones(2), m, 0.01, steps=3)
    >>> steps = np.linalg.norm(np.diff(traj.theta, axis=0), axis=-1)
    >>> bool(np.all(steps <= 0.01 * 1.0))
    True
    """

    method: Method
    clip_norm: float | None = None
    clip_value: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.method, Method):
            raise TypeError(f"method must be a gradflow Method, got {type(self.method).__name__}")
        if self.clip_norm is None and self.clip_value is None:
            raise ValueError("give clip_norm or clip_value (or both)")
        if self.clip_norm is not None:
            check_positive(self.clip_norm, "clip_norm")
        if self.clip_value is not None:
            check_positive(self.clip_value, "clip_value")

    # The wrapped method's class attributes, per instance.
    @property  # type: ignore[misc]
    def order(self) -> int:  # type: ignore[override]
        """The wrapped method's order."""
        return self.method.order

    @property  # type: ignore[misc]
    def ode(self) -> str:  # type: ignore[override]
        """The wrapped method's ODE with ``∇L`` replaced by its clipped version."""
        return f"{self.method.ode}  [∇L → clip(∇L)]"

    @property  # type: ignore[misc]
    def grads_per_step(self) -> int:  # type: ignore[override]
        """As the wrapped method."""
        return self.method.grads_per_step

    @property  # type: ignore[misc]
    def init_grads(self) -> int:  # type: ignore[override]
        """As the wrapped method."""
        return self.method.init_grads

    @property  # type: ignore[misc]
    def checks_every_step(self) -> bool:  # type: ignore[override]
        """As the wrapped method."""
        return self.method.checks_every_step

    @property  # type: ignore[misc]
    def rows_independent(self) -> bool:  # type: ignore[override]
        """As the wrapped method (clipping is per row)."""
        return self.method.rows_independent

    @property  # type: ignore[misc]
    def error_order(self) -> int | None:  # type: ignore[override]
        """As the wrapped method."""
        return self.method.error_order

    @property
    def name(self) -> str:
        """``Clipped(<method>)``."""
        return f"Clipped({self.method.name})"

    def init(self, problem: Problem, theta0: np.ndarray) -> Any:
        """The wrapped method's initial state on the clipped problem."""
        return self.method.init(clipped_problem(problem, self.clip_norm, self.clip_value), theta0)

    def step(self, problem: Problem, state: Any, h: np.ndarray) -> StepResult:
        """One step of the wrapped method on the clipped gradient."""
        view = clipped_problem(problem, self.clip_norm, self.clip_value)
        return self.method.step(view, state, h)

    def effective_stepsize(self, state: Any, h: Any) -> np.ndarray:
        """The wrapped method's :meth:`effective_stepsize` (per unit *clipped* gradient).

        Parameters
        ----------
        state : NamedTuple
        h : float or array_like

        Returns
        -------
        ndarray, shape (B, d)

        Raises
        ------
        AttributeError
            If the wrapped method does not report one.
        """
        return self.method.effective_stepsize(state, h)

    def amplification_matrix(self) -> Any:
        """Raises: clipping is nonlinear."""
        raise NotImplementedError("clipping is nonlinear: Clipped has no amplification matrix")
