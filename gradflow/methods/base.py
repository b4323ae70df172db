"""The method protocol: how an integrator plugs into :func:`gradflow.solve`.

Contract for writing a new method
---------------------------------
1. Subclass :class:`Method` as a frozen dataclass; hyper-parameters are its fields and
   are validated in ``__post_init__`` (``ValueError`` naming the field).
2. Set the class attributes ``order`` (global order of accuracy on the ODE it
   discretises), ``ode`` (that ODE, as text), ``grads_per_step`` (gradient evaluations a
   step costs) and ``name``.
3. ``init(problem, theta0)`` returns the method state: a ``NamedTuple`` whose *first*
   field is ``theta`` and every field of which is an array with the batch as its leading
   axis (shape ``(B, ...)``).  The driver selects, masks and compacts states field by
   field, so per-element counters must be arrays too.
4. ``step(problem, state, h)`` returns a :class:`StepResult` with the new state (a new
   object; the old one must stay valid, because the driver keeps it when a trajectory
   diverges or a step is rejected), an optional per-element error estimate (methods
   with an embedded pair) and the number of gradient evaluations (an int, or an array
   of shape ``(B,)`` when it varies per element).
5. ``h`` arrives as an array broadcastable against ``theta``: shape ``(B, 1)`` or
   ``(1,)``.  A step never prints, warns or raises on overflow; the driver runs it under
   ``np.errstate(all="ignore")`` and reports non-finite states as divergence.

References
----------
E. Hairer, S. P. Nørsett and G. Wanner, *Solving Ordinary Differential Equations I*,
2nd ed., Springer, 1993.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np

from gradflow.problems.problem import Problem

__all__ = ["Method", "StepResult"]


class StepResult(NamedTuple):
    """What one step of a method returns.

    Attributes
    ----------
    state : NamedTuple
        The new method state (first field ``theta``).
    error : ndarray of shape (B,) or None
        Local error estimate per element, for methods with an embedded pair.
    n_grad : int or ndarray of shape (B,)
        Gradient evaluations used by this step.
    """

    state: Any
    error: np.ndarray | None = None
    n_grad: int | np.ndarray = 1


@dataclass(frozen=True)
class Method(abc.ABC):
    """Base class of all integrators (see the module docstring for the contract).

    Attributes
    ----------
    order : int
        Global order of accuracy on :attr:`ode`.
    ode : str
        The ODE the method discretises as ``h → 0``.
    grads_per_step : int
        Gradient evaluations per step.
    init_grads : int
        Gradient evaluations spent by :meth:`init`.
    """

    order: ClassVar[int]
    ode: ClassVar[str]
    grads_per_step: ClassVar[int] = 1
    init_grads: ClassVar[int] = 0

    @property
    def name(self) -> str:
        """Short name for tables and figures."""
        return type(self).__name__

    @abc.abstractmethod
    def init(self, problem: Problem, theta0: np.ndarray) -> Any:
        """Return the initial state for ``theta0`` of shape ``(B, d)``."""

    @abc.abstractmethod
    def step(self, problem: Problem, state: Any, h: np.ndarray) -> StepResult:
        """Advance every element of ``state`` by one step of size ``h``."""
