"""Explicit Euler on the gradient flow: plain gradient descent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np

from gradflow.methods._base import Method, StepResult
from gradflow.problems import Problem

__all__ = ["Euler", "EulerState"]


class EulerState(NamedTuple):
    """State of :class:`Euler`: just the parameters, shape ``(B, d)``."""

    theta: np.ndarray


@dataclass(frozen=True)
class Euler(Method):
    r"""Gradient descent, read as the explicit Euler method on the gradient flow.

    .. math:: \theta_{k+1} = \theta_k - h\,\nabla L(\theta_k),
              \qquad \text{discretising} \qquad
              \frac{d\theta}{dt} = -\nabla L(\theta),\quad t_k = k h.

    Order 1: the global error at a fixed time ``T = k h`` is ``O(h)``.  One gradient
    evaluation per step.  Linear stability function ``R(z) = 1 + z``; on a Hessian with
    spectrum in ``[0, λmax]`` the iteration is stable iff ``h λmax < 2``, i.e.
    ``h < 2/L`` (``h <= 1/L`` gives the monotone descent of the descent lemma).

    References
    ----------
    L. Euler, *Institutionum calculi integralis*, vol. 1, 1768.
    A. Cauchy, "Méthode générale pour la résolution des systèmes d'équations simultanées",
    C. R. Acad. Sci. Paris 25, 536–538, 1847.
    E. Hairer, S. P. Nørsett and G. Wanner, *Solving Ordinary Differential Equations I*,
    2nd ed., Springer, 1993, §I.7 and §II.1.

    Examples
    --------
    >>> import numpy as np
    >>> import gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 4.0], seed=0)
    >>> traj = gf.solve(p, np.ones(2), gf.methods.Euler(), 0.1, steps=50, save="final")
    >>> bool(np.linalg.norm(traj.theta[-1]) < 1e-2)
    True
    """

    rows_independent: ClassVar[bool] = True

    order: ClassVar[int] = 1
    ode: ClassVar[str] = "dθ/dt = -∇L(θ)"
    grads_per_step: ClassVar[int] = 1

    def init(self, problem: Problem, theta0: np.ndarray) -> EulerState:
        """Wrap ``theta0`` (shape ``(B, d)``) as the initial state."""
        return EulerState(theta0)

    def step(self, problem: Problem, state: EulerState, h: np.ndarray) -> StepResult:
        """One gradient-descent step ``θ - h ∇L(θ)`` for every element."""
        theta = state.theta
        # One temporary, reused for the result.  The gradient is not overwritten: a
        # user's grad may return a view of theta or a cached array.
        update = h * problem.grad(theta)
        np.subtract(theta, update, out=update)
        return StepResult(EulerState(update), None, 1)

    def butcher_tableau(self) -> Any:
        """The one-stage tableau :data:`~gradflow.methods.EULER` (for backward error analysis)."""
        from gradflow.methods import EULER

        return EULER

    def amplification_matrix(self) -> Any:
        """``[[1 + z]]``: one Euler step multiplies ``y`` by ``R(z) = 1 + z``."""
        import sympy as sp

        return sp.Matrix([[1 + sp.Symbol("z")]])
