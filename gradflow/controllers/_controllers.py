r"""Error-per-step controllers: the ODE view of adaptive step size.

A method with an embedded pair returns, with each trial step, a local error estimate
``err`` (the difference of its two solutions).  A controller scales it per element,

.. math:: e = \sqrt{\frac1d \sum_i \Big(\frac{err_i}{atol + rtol\,\max(|θ_i|, |θ^{new}_i|)}\Big)^2},

accepts the step iff ``e < 1`` and proposes the next step ``h ← h · factor(e, history)``.
Every batch element has its own step, history and verdict; the driver retries rejected
elements from their old state while the others go on.

The PID family (Söderlind 2002/2003; the form used by diffrax) with ``δ_n = 1/e_n`` and
``k = q + 1`` (``q`` the order of the embedded estimate):

.. math:: \text{factor} = \text{safety}\; δ_n^{(β_P + β_I + β_D)/k}\;
          δ_{n-1}^{-(β_P + 2β_D)/k}\; δ_{n-2}^{β_D/k},

clipped to ``[factor_min, factor_max]`` on an accepted step (``[factor_min, 1]`` right
after a rejection within the same step: it never grows then) and to
``[factor_min, safety]`` on a rejected one.  ``(β_P, β_I, β_D) = (0, 1, 0)`` is the
classical I controller, which then takes scipy's RK45 steps (the same error norm, safety,
factor limits and starting step).  With ``shrink_on_accept=False`` an accepted step never
shrinks (``[1, factor_max]``, diffrax's rule).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from gradflow._broadcast import per_element
from gradflow._checks import check_problem
from gradflow._validation import (
    as_state_array,
    check_bool,
    check_in_range,
    check_integer,
    check_nonnegative,
    check_positive,
    check_real,
)
from gradflow.stepsize import Observation, StepSizePolicy, Verdict

__all__ = [
    "IController",
    "PIController",
    "PIDController",
    "PredictiveController",
    "initial_step",
]

#: Defaults shared by scipy's RK45 and diffrax (Hairer, Nørsett & Wanner I, §II.4).
SAFETY = 0.9
FACTOR_MIN = 0.2
FACTOR_MAX = 10.0

#: Thresholds of the initial-step heuristic (Hairer, Nørsett & Wanner I, §II.4, p. 169).
_HNW_SMALL = 1e-5
_HNW_FALLBACK = 1e-6
_HNW_TINY = 1e-15


def _rms(x: np.ndarray) -> np.ndarray:
    return np.sqrt(np.mean(x * x, axis=-1))


def _scaled_rms(error: np.ndarray, old: np.ndarray, new: np.ndarray, rtol: float, atol: float):
    """``RMS(error / (atol + rtol max(|old|, |new|)))`` over the last axis, NaN as ``inf``.

    The same numbers as ``_rms(error / scale)`` (a row's sum is numpy's pairwise sum of
    that row alone), with fewer temporaries: on a single trajectory every array
    operation costs its call, not its arithmetic.
    """
    scale = np.abs(old)
    np.maximum(scale, np.abs(new), out=scale)
    scale *= rtol
    scale += atol
    ratio = error / scale
    np.multiply(ratio, ratio, out=ratio)
    e = np.sqrt(np.add.reduce(ratio, axis=-1) / ratio.shape[-1])
    # A non-finite trial (overflow, NaN) is a rejection, not a crash: NaN becomes inf.
    return np.fmin(e, np.inf)


def initial_step(
    problem: Any, theta0: Any, error_order: int, rtol: float, atol: float
) -> tuple[np.ndarray, int]:
    """The Hairer–Nørsett–Wanner starting step for the gradient flow, per element.

    Parameters
    ----------
    problem : Problem
    theta0 : array_like, shape (*batch, d)
        Starting points (one step each; a single point of shape ``(d,)`` gives one step).
    error_order : int
        Order ``q >= 1`` of the method's error estimate.
    rtol, atol : float
        Relative (> 0) and absolute (>= 0) tolerances.

    Returns
    -------
    h0 : ndarray, shape (*batch,)
    n_grad : int
        Gradient evaluations spent per element (2).

    Raises
    ------
    TypeError
        If ``problem`` is not a Problem, ``error_order`` is not an integer, a tolerance is
        not a real number or ``theta0`` does not hold real numbers.
    ValueError
        If ``error_order < 1``, ``rtol <= 0``, ``atol < 0``, or ``theta0`` is not a finite
        array of shape ``(*batch, d)``.

    References
    ----------
    E. Hairer, S. P. Nørsett and G. Wanner, *Solving Ordinary Differential Equations I*,
    2nd ed., Springer, 1993, §II.4 ("Starting step size").

    Examples
    --------
    >>> import gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 10.0], seed=0)
    >>> h0, n_grad = gf.controllers.initial_step(p, [1.0, 1.0], 4, 1e-6, 1e-9)
    >>> h0.shape, n_grad
    ((), 2)
    """
    problem = check_problem(problem)
    points = as_state_array(theta0, "theta0", problem.dim)
    error_order = check_integer(error_order, "error_order", 1)
    rtol, atol = _check_tolerances(rtol, atol)
    batch = points.shape[:-1]
    h0, n_grad = _hnw_step(problem, points.reshape(-1, problem.dim), error_order, rtol, atol)
    return h0.reshape(batch), n_grad


def _hnw_step(
    problem: Any, theta0: np.ndarray, error_order: int, rtol: float, atol: float
) -> tuple[np.ndarray, int]:
    """:func:`initial_step` on checked rows ``theta0`` of shape ``(B, d)`` (the driver's
    counting view of the problem is not a Problem, hence no checks here)."""
    scale = atol + np.abs(theta0) * rtol
    f0 = -problem.grad(theta0)
    d0 = _rms(theta0 / scale)
    d1 = _rms(f0 / scale)
    with np.errstate(divide="ignore", invalid="ignore"):
        h0 = np.where((d0 < _HNW_SMALL) | (d1 < _HNW_SMALL), _HNW_FALLBACK, 0.01 * d0 / d1)
        f1 = -problem.grad(theta0 + h0[:, None] * f0)
        d2 = _rms((f1 - f0) / scale) / h0
        big = np.maximum(d1, d2)
        h1 = np.where(
            big <= _HNW_TINY,
            np.maximum(_HNW_FALLBACK, h0 * 1e-3),
            (0.01 / big) ** (1.0 / (error_order + 1)),
        )
    return np.minimum(100.0 * h0, h1), 2


def _check_tolerances(rtol: Any, atol: Any) -> tuple[float, float]:
    return check_positive(rtol, "rtol"), check_nonnegative(atol, "atol")


def _check_h0(h0: Any) -> Any:
    """``None``, or a finite positive step: a float, or an array of them."""
    if h0 is None:
        return None
    h = check_positive(h0, "h0", allow_array=True)
    return h if h.ndim else float(h)


class _PIDState(NamedTuple):
    h: np.ndarray  # (B,) the next proposal
    delta1: np.ndarray  # (B,) 1/e of the last accepted step
    delta2: np.ndarray  # (B,) 1/e of the one before
    rejected: np.ndarray  # (B,) bool: the current step was rejected at least once
    k: np.ndarray  # (1,) the exponent base q + 1
    any_rejected: bool  # whether some row of `rejected` may be true (False: none is)
    SHARED = ("k", "any_rejected")


class PIDController(StepSizePolicy):
    r"""A PID step-size controller on a method's embedded error estimate, per element.

    Parameters
    ----------
    pcoeff, icoeff, dcoeff : float
        ``β_P, β_I, β_D`` (see the module docstring).  ``(0, 1, 0)`` is the I controller;
        ``(0.4, 0.3, 0)``, ``(0.3, 0.3, 0)`` and ``(0.2, 0.4, 0)`` are PI settings
        recommended for ODEs (Söderlind 2002); ``(0.14, 0.25, 0.10)`` is Söderlind's PID
        example (δ exponents 0.49, -0.34, 0.10).
    rtol, atol : float
        Relative (> 0) and absolute (>= 0) tolerances of the scaled RMS error norm; there
        are no defaults on purpose: they define what "accurate" means.
    safety, factor_min, factor_max : float, optional
        Safety factor (0 < safety <= 1) and the bounds of one step's change
        (0 < factor_min < 1 < factor_max).
    h_min, h_max : float, optional
        Bounds on the step.  An element whose step would fall below ``h_min`` after a
        rejection stops with status ``"step_too_small"``.
    h0 : float or array_like, optional
        First step; by default the Hairer–Nørsett–Wanner heuristic, per element (two
        gradient evaluations, counted).
    shrink_on_accept : bool, optional
        Whether the step proposed after an accepted step may be smaller than the step
        taken (default True: the factor is clipped to ``[factor_min, factor_max]``, as in
        scipy's ``solve_ivp`` and Hairer's DOPRI5).  False clips it to
        ``[1, factor_max]`` (diffrax's rule: accepted steps never shrink); the controller
        then only learns that the error is growing from a rejection, which costs a
        whole trial step (on Rosenbrock at rtol = 1e-3, I control rejects 8 steps
        instead of 3).

    Raises
    ------
    TypeError
        If a number is not a real number (a bool, a string, ``None`` for ``rtol``...),
        ``h0`` is not a real number or an array of them, or ``shrink_on_accept`` is not
        a bool.
    ValueError
        For ``rtol <= 0, ``atol < 0``, ``factor_min`` not in (0, 1), ``factor_max <= 1``,
        ``safety`` not in (0, 1], non-positive ``h0``/``h_min``/``h_max``,
        ``h_min >= h_max``, a non-finite value, or (when the run starts) a method without
        an embedded pair.

    Notes
    -----
    With the defaults, ``PIDController(0, 1, 0)`` (:class:`IController`) is scipy's RK45
    controller: the same scaled RMS error norm, accept iff ``e < 1``, safety 0.9, factor
    limits 0.2 and 10, at most 1 right after a rejection, and the same starting step;
    with :data:`~gradflow.methods.DOPRI54` it takes the same steps as
    ``solve_ivp(method="RK45")`` at equal ``rtol``/``atol`` (up to rounding of the step
    sizes) and spends the same number of gradients.  One difference: scipy clips the
    starting step to the length of the interval, which a policy does not know; the
    driver shortens that first step to land on ``t_final`` instead.

    How to choose: the I controller is the robust default; PI control damps the
    accept/reject oscillation an I controller shows when the step is limited by stability
    rather than accuracy (stiff problems: the step hovers near ``β/λmax``), at the price
    of slower reaction to sudden changes.  Tolerances: the global error of a contracting
    gradient flow is typically of the order of ``rtol`` (tested for DOPRI54 at
    1e-3..1e-9).

    References
    ----------
    G. Söderlind, "Automatic control and adaptive time-stepping", Numer. Algorithms 31,
    281–310, 2002.  G. Söderlind, "Digital filters in adaptive time-stepping", ACM TOMS 29,
    1–26, 2003.  E. Hairer and G. Wanner, *Solving Ordinary Differential Equations II*,
    2nd ed., Springer, 1996, §IV.2.

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.rosenbrock()
    >>> ctrl = gf.controllers.PIDController(0.0, 1.0, 0.0, rtol=1e-6, atol=1e-6)
    >>> traj = gf.solve(p, [-1.2, 1.0], gf.methods.RungeKutta(gf.methods.DOPRI54), ctrl,
    ...                 t_final=1.0, save="final")
    >>> str(traj.status), int(traj.n_steps), int(traj.n_rejected)
    ('ok', 223, 3)
    """

    def __init__(
        self,
        pcoeff: float = 0.0,
        icoeff: float = 1.0,
        dcoeff: float = 0.0,
        *,
        rtol: float,
        atol: float,
        safety: float = SAFETY,
        factor_min: float = FACTOR_MIN,
        factor_max: float = FACTOR_MAX,
        h_min: float | None = None,
        h_max: float | None = None,
        h0: Any = None,
        shrink_on_accept: bool = True,
    ) -> None:
        self.rtol, self.atol = _check_tolerances(rtol, atol)
        self.pcoeff = check_real(pcoeff, "pcoeff")
        self.icoeff = check_real(icoeff, "icoeff")
        self.dcoeff = check_real(dcoeff, "dcoeff")
        self.safety = check_in_range(safety, "safety", 0.0, 1.0, low_open=True)
        self.factor_min = check_in_range(
            factor_min, "factor_min", 0.0, 1.0, low_open=True, high_open=True
        )
        self.factor_max = check_real(factor_max, "factor_max", low=1.0, low_open=True)
        self.h_min = 0.0 if h_min is None else check_positive(h_min, "h_min")
        self.h_max = math.inf if h_max is None else check_positive(h_max, "h_max")
        if self.h_min >= self.h_max:
            raise ValueError(
                f"h_min must be < h_max, got h_min={self.h_min!r} and h_max={self.h_max!r}"
            )
        self.h0 = _check_h0(h0)
        self.shrink_on_accept = check_bool(shrink_on_accept, "shrink_on_accept")
        # Lower clip of the factor on an accepted step.
        self._accept_min = self.factor_min if self.shrink_on_accept else 1.0
        # Pure integral control needs no error history.
        self._integral = self.pcoeff == 0 and self.dcoeff == 0 and self.icoeff > 0

    def _first_step(
        self, problem: Any, theta0: np.ndarray, batch_shape: tuple[int, ...], method: Any
    ) -> np.ndarray:
        order = getattr(method, "error_order", None)
        if order is None:
            raise ValueError(
                f"{type(self).__name__} needs a method with an embedded error estimate "
                f"(e.g. RungeKutta(DOPRI54), BS32, HEUN_EULER); {method.name} has none"
            )
        if self.h0 is None:
            h, _ = _hnw_step(problem, theta0, order, self.rtol, self.atol)
        else:
            h = per_element(np.asarray(self.h0, dtype=float), "h0", batch_shape)
        return np.clip(h, self.h_min, self.h_max), order

    def init(
        self, problem: Any, theta0: np.ndarray, batch_shape: tuple[int, ...], method: Any
    ) -> _PIDState:
        h, order = self._first_step(problem, theta0, batch_shape, method)
        ones = np.ones(theta0.shape[0])
        return _PIDState(
            h.astype(float),
            ones,
            ones.copy(),
            np.zeros(theta0.shape[0], bool),
            np.array([order + 1.0]),
            False,
        )

    def propose(self, state: _PIDState, k: int) -> np.ndarray:
        return state.h

    def _error_norm(self, obs: Observation) -> np.ndarray:
        return _scaled_rms(obs.error, obs.theta_old, obs.theta, self.rtol, self.atol)

    def _factor(self, e: np.ndarray, state: _PIDState) -> np.ndarray:
        """The unclipped factor, float64 (NaN and ±inf are left to the clipping)."""
        k = state.k[0]
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            delta = 1.0 / e
            if self._integral:
                # δ^0 = 1 exactly: the general formula gives the same numbers.
                factor = self.safety * delta ** ((self.pcoeff + self.icoeff + self.dcoeff) / k)
                return factor.astype(float, copy=False)
            factor = (
                self.safety
                * delta ** ((self.pcoeff + self.icoeff + self.dcoeff) / k)
                * state.delta1 ** (-(self.pcoeff + 2 * self.dcoeff) / k)
                * state.delta2 ** (self.dcoeff / k)
            )
        return np.where(e == 0, self.factor_max, factor)

    def _next_step(
        self,
        h_used: np.ndarray,
        factor: np.ndarray,
        accepted: np.ndarray,
        uniform: bool,
        rejected: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Clip the factor (accepted: ``[factor_min or 1, factor_max]``, at most 1 right
        after a rejection; rejected: ``[factor_min, safety]``), scale the step, and flag
        the rejected steps below ``h_min`` (None when there are none).

        ``uniform``: every row accepted and none was rejected before (the common case,
        one pair of bounds).  ``fmax``/``fmin`` map a NaN factor to the lower bound.
        """
        if uniform:
            factor = np.fmin(np.fmax(factor, self._accept_min), self.factor_max)
        else:
            low = np.where(accepted, self._accept_min, self.factor_min)
            high = np.where(accepted, np.where(rejected, 1.0, self.factor_max), self.safety)
            factor = np.fmin(np.fmax(factor, low), high)
        h_new = h_used * factor
        if self.h_max < math.inf:
            h_new = np.minimum(h_new, self.h_max)
        if (h_new > self.h_min).all():
            return h_new, None
        too_small = (~accepted & ~(h_new >= self.h_min)) | ~(h_new > 0)
        return h_new, too_small if too_small.any() else None

    def _decide(
        self, state: Any, obs: Observation
    ) -> tuple[np.ndarray, np.ndarray, bool, np.ndarray]:
        """Error norm, acceptance, whether all rows are accepted, and the steps used."""
        e = self._error_norm(obs)
        accepted = e < 1.0
        return e, accepted, bool(accepted.all()), obs.h.astype(float, copy=False)

    def update(self, state: _PIDState, obs: Observation) -> tuple[Any, Verdict]:
        e, accepted, all_accepted, h_used = self._decide(state, obs)
        factor = self._factor(e, state)
        uniform = all_accepted and not state.any_rejected
        h_new, too_small = self._next_step(h_used, factor, accepted, uniform, state.rejected)
        delta1, delta2 = state.delta1, state.delta2
        if not self._integral:  # the error history of P and D control
            delta = np.where((e > 0) & np.isfinite(e), 1.0 / np.where(e > 0, e, 1.0), 1.0)
            delta1 = np.where(accepted, delta, state.delta1)
            delta2 = np.where(accepted, state.delta1, state.delta2)
        rejected = state.rejected if uniform else ~accepted
        new_state = _PIDState(h_new, delta1, delta2, rejected, state.k, not all_accepted)
        return new_state, Verdict(None if all_accepted else accepted, too_small)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(pcoeff={self.pcoeff}, icoeff={self.icoeff}, "
            f"dcoeff={self.dcoeff}, rtol={self.rtol}, atol={self.atol})"
        )


class IController(PIDController):
    """The integral (I) controller: ``factor = safety · e^(-1/k)`` (scipy's RK45 rule).

    See :class:`PIDController` for the parameters and references.
    """

    def __init__(self, *, rtol: float, atol: float, **kwargs: Any) -> None:
        super().__init__(0.0, 1.0, 0.0, rtol=rtol, atol=atol, **kwargs)


class PIController(PIDController):
    """A PI controller, default ``(β_P, β_I) = (0.4, 0.3)`` (Söderlind's H211-like PI).

    See :class:`PIDController` for the parameters and references.
    """

    def __init__(
        self, pcoeff: float = 0.4, icoeff: float = 0.3, *, rtol: float, atol: float, **kwargs: Any
    ) -> None:
        super().__init__(pcoeff, icoeff, 0.0, rtol=rtol, atol=atol, **kwargs)


class _PredictiveState(NamedTuple):
    h: np.ndarray
    h_old: np.ndarray  # (B,) step of the last accepted step (0: none yet)
    e_old: np.ndarray  # (B,) its error norm
    rejected: np.ndarray
    k: np.ndarray
    any_rejected: bool
    SHARED = ("k", "any_rejected")


class PredictiveController(PIDController):
    r"""Gustafsson's predictive controller (as in scipy's Radau).

    After an accepted step with error ``e`` preceded by one with ``(h_old, e_old)``:

    .. math:: \text{factor} = \text{safety}\; e^{-1/k}
              \min\Big(1, \frac{h}{h_{old}} \big(\frac{e_{old}}{e}\big)^{1/k}\Big),

    a plain I step otherwise; same clipping as :class:`PIDController`.

    References
    ----------
    K. Gustafsson, "Control-theoretic techniques for stepsize selection in implicit
    Runge–Kutta methods", ACM TOMS 20, 496–517, 1994.
    E. Hairer and G. Wanner, *Solving Ordinary Differential Equations II*, 2nd ed.,
    Springer, 1996, §IV.8, (8.25).
    """

    def __init__(self, *, rtol: float, atol: float, **kwargs: Any) -> None:
        super().__init__(0.0, 1.0, 0.0, rtol=rtol, atol=atol, **kwargs)

    def init(
        self, problem: Any, theta0: np.ndarray, batch_shape: tuple[int, ...], method: Any
    ) -> _PredictiveState:
        h, order = self._first_step(problem, theta0, batch_shape, method)
        zeros = np.zeros(theta0.shape[0])
        return _PredictiveState(
            h.astype(float),
            zeros,
            zeros.copy(),
            np.zeros(theta0.shape[0], bool),
            np.array([order + 1.0]),
            False,
        )

    def update(self, state: _PredictiveState, obs: Observation) -> tuple[Any, Verdict]:
        e, accepted, all_accepted, h_used = self._decide(state, obs)
        k = state.k[0]
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            base = self.safety * e ** (-1.0 / k)
            predicted = (h_used / state.h_old) * (state.e_old / e) ** (1.0 / k)
            have_history = (state.h_old > 0) & (state.e_old > 0)
            factor = np.where(have_history, base * np.minimum(1.0, predicted), base)
        factor = np.where(e == 0, self.factor_max, factor)
        uniform = all_accepted and not state.any_rejected
        h_new, too_small = self._next_step(h_used, factor, accepted, uniform, state.rejected)
        new_state = _PredictiveState(
            h_new,
            np.where(accepted, h_used, state.h_old),
            np.where(accepted, e, state.e_old),
            state.rejected if uniform else ~accepted,
            state.k,
            not all_accepted,
        )
        return new_state, Verdict(None if all_accepted else accepted, too_small)
