"""The method protocol: how an integrator plugs into :func:`gradflow.solve`.

Contract for writing a new method
---------------------------------
1. Subclass :class:`Method` as a frozen dataclass; hyper-parameters are its fields and
   are validated in ``__post_init__`` with the checks of :mod:`gradflow._validation`
   (``TypeError`` for a wrong type, ``ValueError`` for a bad value, the field named).
2. Set the class attributes ``order`` (global order of accuracy on the ODE it
   discretises), ``ode`` (that ODE, as text), ``grads_per_step`` (gradient evaluations a
   step costs) and ``name``.
3. ``init(problem, theta0)`` returns the method state: a ``NamedTuple`` whose *first*
   field is ``theta`` and every field of which is an array with the batch as its leading
   axis (shape ``(B, ...)``).  The driver selects, masks and compacts states field by
   field, so per-element counters must be arrays too.
4. ``step(problem, state, h)`` returns a :class:`StepResult` with the new state (new
   arrays; the old state must stay valid and unmodified, because the driver keeps it
   when a trajectory diverges or a step is rejected, and replays from it), an optional
   local error estimate (methods with an embedded pair), the number of gradient
   evaluations (an int, or an array of shape ``(B,)`` when it varies per element) and,
   for methods that can fail (an implicit solve), a ``(B,)`` mask of failed elements or
   ``None`` when none failed.  What ``problem`` returns is read-only to the method: in
   :func:`gradflow.solve` one evaluation of ``∇L(θ)`` serves the method and the
   step-size policy (the driver's counting view caches it), so a gradient overwritten
   in place would corrupt what the policy reads.  ``Trajectory.n_grad`` counts the
   evaluations the driver sees; the ``n_grad`` a step reports is informational.  A
   method that evaluates only some rows calls ``problem.restrict(rows)`` first, so
   those evaluations are counted for those rows.
5. ``h`` arrives as an array broadcastable against ``theta``: shape ``(B, 1)`` or
   ``(1,)``.  A step never prints, warns or raises on overflow; the driver runs it under
   ``np.errstate(all="ignore")`` and reports non-finite states as divergence.  An update
   of the form ``θ + Δ`` keeps a non-finite entry non-finite, which lets the driver check
   for divergence only every few steps; a method whose update could turn a non-finite
   state finite again must say so with ``checks_every_step = True``.
6. ``amplification_matrix()`` returns, as a sympy ``Matrix`` in the symbol
   ``z = sympy.Symbol("z")``, the linear map the method applies to its state on the test
   equation ``y' = λy`` with ``z = hλ`` (for the gradient flow of ``L = ½ μ θ²``,
   ``λ = -μ``).  It is 1×1, ``[[R(z)]]``, for one-step methods.  :mod:`gradflow.stability`
   derives stability functions, limits and regions from it.
7. Backward error analysis (:mod:`gradflow.modified`) asks the method itself, through two
   hooks, never by its type: an explicit Runge–Kutta method returns its tableau from
   ``butcher_tableau()`` (and gets its modified flow and symbolic modified equation from
   it); any other method that has a derived modified flow overrides
   ``modified_flow_coefficients(order)`` and returns :class:`ModifiedCoefficients`.
   Methods with neither raise ``NotImplementedError`` (the defaults), which
   :func:`gradflow.modified.modified_flow` reports as a ``TypeError`` naming the method.
8. A method whose rows are independent — each row's step reads only that row of the
   state, of ``h`` and of what ``problem`` returns, with no iteration count, decision or
   random draw shared across the batch — sets ``rows_independent = True``; the driver
   may then step a large batch in blocks of rows (for speed: the temporaries stay in
   cache), which must give the same bits as stepping it whole.

References
----------
E. Hairer, S. P. Nørsett and G. Wanner, *Solving Ordinary Differential Equations I*,
2nd ed., Springer, 1993.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import numpy as np

from gradflow.problems import Problem

__all__ = ["Method", "ModifiedCoefficients", "StepResult"]

if TYPE_CHECKING:
    from gradflow.methods import ButcherTableau


class StepResult(NamedTuple):
    """What one step of a method returns.

    Attributes
    ----------
    state : NamedTuple
        The new method state (first field ``theta``).
    error : ndarray of shape (B, d) or None
        Local error estimate vector (difference of the embedded solutions), for methods
        with an embedded pair; controllers take its scaled norm.
    n_grad : int or ndarray of shape (B,)
        Gradient evaluations used by this step.
    failed : ndarray of bool, shape (B,), or None
        Elements whose step could not be completed (their new state is meaningless);
        ``None`` when every element succeeded.
    """

    state: Any
    error: np.ndarray | None = None
    n_grad: int | np.ndarray = 1
    failed: np.ndarray | None = None


class ModifiedCoefficients(NamedTuple):
    r"""The modified vector field of a method on the gradient flow, as five numbers.

    With ``g = ∇L`` and ``H = ∇²L`` the field is

    .. math:: F_h = \text{scale}\,\bigl[-g + h\kappa\,Hg
              - h^2(\alpha\,\nabla^3L[g, g] + \gamma\,H^2 g)\bigr],

    and the iterates from ``θ0`` follow its flow from ``θ0 + shift·h·∇L(θ0)``.  Returned
    by :meth:`Method.modified_flow_coefficients`, used by
    :func:`gradflow.modified.modified_flow`.

    Attributes
    ----------
    scale : float
        Time rescaling (1 for one-step methods, ``1/(1-β)`` for heavy ball).
    kappa, alpha, gamma : float
        Coefficients of the ``h`` and ``h²`` terms (0 where not derived).
    shift : float
        Initial-layer coefficient (0 for one-step methods).

    References
    ----------
    E. Hairer, C. Lubich and G. Wanner, *Geometric Numerical Integration*, 2nd ed.,
    Springer, 2006, §IX.1.
    """

    scale: float
    kappa: float
    alpha: float
    gamma: float
    shift: float = 0.0


class _GivenGradient:
    """A stand-in problem whose gradient at ``theta`` is ``grad`` (and nowhere else)."""

    def __init__(self, theta: np.ndarray, grad: np.ndarray) -> None:
        self.theta, self.value = theta, np.asarray(grad, dtype=theta.dtype)
        self.dim = theta.shape[-1]

    def grad(self, theta: np.ndarray) -> np.ndarray:
        if theta is not self.theta and not np.array_equal(theta, self.theta):
            raise TypeError(
                "next_effective_stepsize: the method evaluates its gradient away from "
                "the state (a lookahead or a multi-stage step): give its effective step "
                "size from a run instead"
            )
        return self.value


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
    checks_every_step : bool
        Ask the driver to check for divergence after every step (see the contract).
    rows_independent : bool
        Each row's step depends on that row alone (no iteration count, decision or
        random draw shared across the batch), so stepping the batch in blocks of rows
        gives the same bits; the driver then steps large batches block by block.
        False unless a method says so.
    """

    order: ClassVar[int]
    ode: ClassVar[str]
    grads_per_step: ClassVar[int] = 1
    init_grads: ClassVar[int] = 0
    checks_every_step: ClassVar[bool] = False
    rows_independent: ClassVar[bool] = False
    #: False for a method that has no amplification matrix although one step of it can
    #: be linear on a test problem (its coefficients adapt along the run): the numeric
    #: path of :func:`gradflow.stability.real_stability_limit` then refuses it, as the
    #: symbolic path does.
    linear_analysis: ClassVar[bool] = True
    #: Order ``q`` of the embedded error estimate (None without an embedded pair); error
    #: controllers use the exponent ``1/(q + 1)``.
    error_order: ClassVar[int | None] = None

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

    def next_effective_stepsize(self, state: Any, h: Any, grad: np.ndarray) -> np.ndarray:
        """The effective step size of the next update, from ``state`` with gradient ``grad``.

        An adaptive method's :meth:`effective_stepsize` reports the per-parameter step of
        the update that *led* to a state (undefined at the initial state).  This is the
        step of the update that *leaves* ``state`` when the gradient there is ``grad``: it
        takes that step (on a problem whose gradient is ``grad``) and reads the
        effective step size of the new state, so it is finite at the initial state too
        and always equals what the step does.

        Parameters
        ----------
        state : NamedTuple
            A state of this method (rows ``(B, d)``).
        h : float or array_like
            The step size (scalar or ``(B, 1)``).
        grad : ndarray, shape (B, d)
            The gradient at ``state.theta`` (a minibatch gradient for a stochastic run).

        Returns
        -------
        ndarray, shape (B, d)

        Raises
        ------
        TypeError
            If the method reports no effective step size (it has no
            ``effective_stepsize``), or it evaluates the gradient elsewhere than at
            ``state.theta``.

        References
        ----------
        D. P. Kingma and J. Ba, "Adam: a method for stochastic optimization", ICLR 2015,
        §2 (the effective step ``α m̂/(√v̂ + ε)``).
        """
        if not callable(getattr(self, "effective_stepsize", None)):
            raise TypeError(f"{self.name} does not report an effective step size")
        h_arr = np.asarray(h, dtype=state[0].dtype)
        with np.errstate(all="ignore"):  # overflow on a diverging state is data
            new = self.step(_GivenGradient(state[0], grad), state, h_arr).state
            return self.effective_stepsize(new, h_arr)

    def amplification_matrix(self) -> Any:
        """The method's linear map on ``y' = λy`` as a sympy Matrix in ``z = hλ``.

        Raises
        ------
        NotImplementedError
            If the method has no linear stability analysis.
        """
        raise NotImplementedError(f"{self.name} does not define its amplification matrix")

    def butcher_tableau(self) -> ButcherTableau:
        """The method's Butcher tableau, for a method that is an explicit Runge–Kutta method.

        Returns
        -------
        ButcherTableau

        Raises
        ------
        NotImplementedError
            If the method is not an explicit Runge–Kutta method (the default).

        References
        ----------
        J. C. Butcher, *Numerical Methods for Ordinary Differential Equations*, 3rd ed.,
        Wiley, 2016, §23.
        """
        raise NotImplementedError(
            f"{self.name} is not an explicit Runge–Kutta method: it has no Butcher tableau"
        )

    def modified_flow_coefficients(self, order: int) -> ModifiedCoefficients:
        """The coefficients of the modified flow the method follows, to ``O(h^order)``.

        The default serves every explicit Runge–Kutta method: the coefficients of
        :meth:`butcher_tableau` (see
        :meth:`ButcherTableau.backward_error_coefficients
        <gradflow.methods.ButcherTableau.backward_error_coefficients>`), for ``order``
        1 or 2.  Other methods override it.

        Parameters
        ----------
        order : int
            Highest power of ``h`` kept (1 or 2, checked by the caller).

        Returns
        -------
        ModifiedCoefficients

        Raises
        ------
        NotImplementedError
            If the method has no derived modified flow.
        ValueError
            If the method's modified flow is not derived to this ``order``.

        References
        ----------
        E. Hairer, C. Lubich and G. Wanner, *Geometric Numerical Integration*, 2nd ed.,
        Springer, 2006, §IX.1.

        Examples
        --------
        >>> import gradflow as gf
        >>> c = gf.methods.Euler().modified_flow_coefficients(1)   # from its tableau
        >>> c.scale, c.kappa, c.alpha == 1 / 12, c.gamma == 1 / 3, c.shift
        (1.0, -0.5, True, True, 0.0)
        """
        try:
            tableau = self.butcher_tableau()
        except NotImplementedError as exc:
            raise NotImplementedError(
                f"{self.name} has no derived modified flow ({exc}; define "
                "modified_flow_coefficients or butcher_tableau)"
            ) from None
        return ModifiedCoefficients(1.0, *tableau.backward_error_coefficients())
