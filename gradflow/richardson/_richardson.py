r"""Richardson extrapolation: the ``h → 0`` limit of a run, and how far a run is from it.

A quantity ``A(h)`` computed with step ``h`` by a method of order ``p`` has, for smooth
problems and a fixed end time, an asymptotic expansion

.. math:: A(h) = A + c_0 h^{p} + c_1 h^{p + q} + c_2 h^{p + 2q} + \dots

(``q = 1`` for general one-step methods, ``q = 2`` for symmetric ones; Hairer, Nørsett &
Wanner I, §II.8).  From ``A`` at ``h_0, h_0/r, …, h_0/r^{n-1}`` the Neville/Romberg
tableau removes one term per column:

.. math:: R_{k,0} = A(h_0 / r^k), \qquad
          R_{k,j} = R_{k,j-1} + \frac{R_{k,j-1} - R_{k-1,j-1}}{r^{p + (j-1) q} - 1},

and ``R_{n-1,n-1}`` is accurate to ``O(h^{p + (n-1) q})``.  Every entry is a fixed linear
combination of the inputs (:func:`weights`): for ``r = 2`` these are the rules
``[-1, 2]`` (``p = 1``), ``[-1/3, 4/3]`` (``p = 2``) and ``[1/3, -2, 8/3]`` (``p = q = 1``,
two terms) that numdifftools publishes.

How the error estimate is formed (see :func:`extrapolate`)
----------------------------------------------------------
The error of ``R_{n-1,m}`` is estimated by the next correction,
``|R_{n-1,m+1} - R_{n-1,m}|``: the classical ``(A(h/r) - A(h)) / (r^p - 1)`` applied to
column ``m``, asymptotically exact.  That needs a spare level, so by default ``n`` levels
remove ``n - 2`` terms.  Asked to remove all ``n - 1`` terms, no data measures the next
coefficient; the last correction ``|R_{n-1,n-1} - R_{n-1,n-2}|`` (the error of the
previous column) is then reported, an upper bound in the asymptotic regime that is
pessimistic by a factor of order ``1/(λh_0)`` (18 on the ``y' = -y`` example of
:func:`extrapolate`).
(Predicting the next coefficient from the trend of the measured ones was tried and
rejected: on Müller–Brown reaction paths it was off by factors of 0.05 to 70.)  A rounding
term ``eps · Σ|w_i| · max_i |A_i|`` is added: the weights amplify the rounding of the
inputs.

References
----------
L. F. Richardson, "The deferred approach to the limit", Phil. Trans. R. Soc. A 226,
299-361, 1927.
W. Romberg, "Vereinfachte numerische Integration", Det Kongelige Norske Videnskabers
Selskab Forhandlinger 28, 30-36, 1955.
E. Hairer, S. P. Nørsett and G. Wanner, *Solving Ordinary Differential Equations I*,
2nd ed., Springer, 1993, §II.8–II.9 (asymptotic expansion of the global error,
extrapolation methods).
J. Stoer and R. Bulirsch, *Introduction to Numerical Analysis*, 3rd ed., Springer,
2002, §3.4–3.5 (Neville's algorithm, Romberg tableaux).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from gradflow._trajectory import Status
from gradflow._validation import (
    as_state_array,
    check_allocation,
    check_integer,
    check_positive,
    check_real,
)
from gradflow.methods import Euler, Method
from gradflow.problems import Problem

__all__ = [
    "Extrapolation",
    "RichardsonSolution",
    "extrapolate",
    "observed_order",
    "solve_extrapolated",
    "weights",
]

#: ``t_final / h0`` within this relative distance of an integer counts as that integer
#: (so ``h0 = 0.1, t_final = 1`` is 10 steps, not 11 after rounding).
STEP_COUNT_RTOL = 1e-9


# ---------------------------------------------------------------------------------------
# argument checking
# ---------------------------------------------------------------------------------------
def _check_ratio(ratio: Any) -> float:
    """The step-size ratio ``r > 1`` of the levels ``h, h/r, h/r², ...``."""
    return check_real(ratio, "ratio", low=1.0, low_open=True)


def _check_terms(terms: Any, n: int) -> int:
    if terms is None:
        # Keep the finest column spare for an asymptotically exact error estimate.
        return max(1, n - 2)
    return check_integer(terms, "terms", 1, n - 1)


def _as_levels(values: ArrayLike, minimum: int, label: str = "values") -> np.ndarray:
    """``values`` as a floating array with the levels on axis 0 (at least ``minimum``)."""
    try:
        arr = np.asarray(values)
    except ValueError as exc:  # ragged input: levels of different shapes
        raise ValueError(
            f"{label} must be an array with the levels on axis 0, all of one shape: {exc}"
        ) from None
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{label} must hold real numbers, got dtype {arr.dtype}")
    if arr.dtype.kind != "f" or arr.dtype == np.float16:
        arr = arr.astype(np.float64)
    if arr.ndim == 0 or arr.shape[0] < minimum:
        got = 0 if arr.ndim == 0 else arr.shape[0]
        raise ValueError(
            f"{label} must hold at least {minimum} levels along axis 0 (coarse to fine), got {got}"
        )
    return arr


# ---------------------------------------------------------------------------------------
# the tableau
# ---------------------------------------------------------------------------------------
def _exponents(n: int, order: float, step: float) -> np.ndarray:
    """Error exponents ``order + j·step`` removed by columns ``1, …, n-1``."""
    return order + step * np.arange(n - 1, dtype=float)


def _tableau(values: np.ndarray, ratio: float, exponents: np.ndarray) -> np.ndarray:
    """The Romberg tableau ``R[k, j]`` (NaN for ``j > k``), shape ``(n, n, *trailing)``."""
    n = values.shape[0]
    size = float(n) * values.size
    check_allocation(size, values.dtype.itemsize, f"levels ({n}: an n x n tableau)")
    table = np.full((n, n, *values.shape[1:]), np.nan, dtype=values.dtype)
    table[:, 0] = values
    for j in range(1, n):
        factor = ratio ** exponents[j - 1] - 1.0
        upper = table[j:, j - 1]
        table[j:, j] = upper + (upper - table[j - 1 : n - 1, j - 1]) / factor
    return table


class Extrapolation(NamedTuple):
    """Result of :func:`extrapolate`.

    Attributes
    ----------
    value : ndarray, shape trailing
        The extrapolated value ``R[n-1, terms]``.
    error : ndarray, shape trailing
        Estimate of ``|value - A|`` (non-negative; see :func:`extrapolate`).
    tableau : ndarray, shape (n, n, *trailing)
        ``tableau[k, j]`` is ``R_{k,j}``: level ``k`` with ``j`` error terms removed (NaN
        for ``j > k``).  Column 0 holds the inputs, the diagonal the full extrapolations.
    exponents : ndarray, shape (n - 1,)
        The error exponents ``order + j·step`` removed by columns ``1, …, n-1``.
    terms : int
        The number of error terms removed from :attr:`value`.
    """

    value: np.ndarray
    error: np.ndarray
    tableau: np.ndarray
    exponents: np.ndarray
    terms: int


def weights(levels: int, ratio: float = 2.0, order: float = 1.0, step: float = 1.0) -> np.ndarray:
    r"""The rule of full Richardson extrapolation: ``R_{n-1,n-1} = Σ_i w_i A(h_0 / r^i)``.

    ``levels`` inputs remove ``levels - 1`` error terms (``extrapolate(..., terms=m)``
    applies ``weights(m + 1)`` to the ``m + 1`` finest levels).

    Parameters
    ----------
    levels : int
        Number of inputs ``n >= 2``, coarse to fine.
    ratio, order, step
        As in :func:`extrapolate`.

    Returns
    -------
    ndarray, shape (levels,)
        The weights (they sum to 1).

    Raises
    ------
    ValueError
        If ``levels < 2``, ``ratio <= 1``, ``order`` or ``step`` is not positive, or the
        ``levels³`` tableau would exceed :data:`gradflow._validation.MAX_ALLOCATION_BYTES`.
    TypeError
        If an argument is not a number of the right kind (a bool, a string, a float
        where an integer is needed...).

    References
    ----------
    P. A. Brodtkorb, numdifftools documentation, ``numdifftools.extrapolation.Richardson``
    (its ``rule()``: ``[-1, 2]``, ``[-1/3, 4/3]``, ``[1/3, -2, 8/3]`` for step ratio 2).

    Examples
    --------
    >>> weights(2).tolist(), weights(2, order=2).round(12).tolist()
    ([-1.0, 2.0], [-0.333333333333, 1.333333333333])
    >>> (weights(3) * 3).round(12).tolist()
    [1.0, -6.0, 8.0]
    """
    n = check_integer(levels, "levels", 2)
    check_allocation(float(n) ** 3, 8, f"levels ({n}: an n x n tableau of n-vectors)")
    return extrapolate(np.eye(n), ratio, order, step, terms=n - 1).value


def extrapolate(
    values: ArrayLike,
    ratio: float = 2.0,
    order: float = 1.0,
    step: float = 1.0,
    terms: int | None = None,
) -> Extrapolation:
    r"""Richardson-extrapolate values computed at step sizes ``h, h/r, h/r², …`` to ``h → 0``.

    The error model is ``A(h) = A + Σ_{j>=0} c_j h^{order + j·step}``; each column of the
    Neville/Romberg tableau removes one term (see the module docstring).

    Parameters
    ----------
    values : array_like, shape (n, *trailing)
        ``A(h_0 / r^k)`` for ``k = 0, …, n-1``, coarse to fine along axis 0, ``n >= 2``.
        Any trailing shape (a batch of states, a loss per element, ...) is extrapolated
        elementwise.
    ratio : float, optional
        Step ratio ``r > 1`` between consecutive levels (default 2).
    order : float, optional
        Leading error exponent ``p``: the method's order (default 1, Euler).
    step : float, optional
        Spacing ``q`` of the exponents (default 1; 2 for symmetric methods and for the
        trapezoidal rule).
    terms : int, optional
        Error terms removed from the returned value, ``1 <= terms <= n-1``.  Default
        ``n - 2`` (``1`` for two levels): the finest column is kept spare, so that the
        error estimate is asymptotically exact.  ``terms = n - 1`` puts every level into
        the value; its error is then only bounded.  The full tableau is returned either
        way.

    Returns
    -------
    Extrapolation
        ``value`` (``R[n-1, terms]``), ``error``, the full ``tableau``, the ``exponents``
        removed and ``terms``.  ``error`` is ``|R[n-1, m+1] - R[n-1, m]|`` for
        ``m = terms < n - 1`` (the Richardson estimate of the error of the value, exact
        as ``h → 0``) and ``|R[n-1, n-1] - R[n-1, n-2]|`` for ``terms = n - 1`` (the error
        of the previous column: a bound, pessimistic by a factor of order ``1/(λh_0)``),
        plus the rounding amplified by the weights.  It means something in the
        asymptotic regime only: check that :func:`observed_order` is close to ``order``.
        NaN inputs give NaN outputs.

    Raises
    ------
    ValueError
        If ``values`` has fewer than two levels, is ragged (levels of different shapes)
        or empty; if ``ratio <= 1``; if ``order`` or ``step`` is not positive; if
        ``terms`` is out of range; if the ``(n, n, *trailing)`` tableau would exceed
        :data:`gradflow._validation.MAX_ALLOCATION_BYTES` (the message gives its size).
    TypeError
        If ``values`` does not hold real numbers, or an argument is not a number of the
        right kind (a bool, a string, a float ``terms``...).

    References
    ----------
    L. F. Richardson, Phil. Trans. R. Soc. A 226, 299-361, 1927.
    E. Hairer, S. P. Nørsett and G. Wanner, *Solving Ordinary Differential Equations I*,
    2nd ed., Springer, 1993, §II.9.

    Examples
    --------
    Explicit Euler on ``y' = -y`` to ``t = 1`` with ``h = 0.1, 0.05, 0.025, 0.0125``:

    >>> import numpy as np
    >>> hs = 0.1 / 2.0 ** np.arange(4)
    >>> euler = (1 - hs) ** (1 / hs)
    >>> ex = extrapolate(euler, ratio=2, order=1)     # removes h and h² (terms=2)
    >>> np.abs(np.diagonal(ex.tableau) - np.exp(-1)).round(10).tolist()
    [0.0192010011, 0.0004139635, 5.2996e-06, 3.78e-08]
    >>> true = abs(float(ex.value) - np.exp(-1))
    >>> print(f"{true:.2e} {float(ex.error):.2e}")        # error of R[3, 2], its estimate
    6.29e-07 6.67e-07
    >>> full = extrapolate(euler, terms=3)               # R[3, 3]: error bounded only
    >>> print(f"{abs(float(full.value) - np.exp(-1)):.2e} {float(full.error):.2e}")
    3.78e-08 6.67e-07
    """
    arr = _as_levels(values, 2)
    r = _check_ratio(ratio)
    p = check_positive(order, "order")
    q = check_positive(step, "step")
    n = arr.shape[0]
    m = _check_terms(terms, n)
    exps = _exponents(n, p, q)
    with np.errstate(all="ignore"):
        table = _tableau(arr, r, exps)
        value = table[n - 1, m].copy()
        # The next correction beyond column m (or, with none left, the last one).
        upper = min(m + 1, n - 1)
        truncation = np.abs(table[n - 1, upper] - table[n - 1, upper - 1])
        rule = _tableau(np.eye(n), r, exps)[n - 1, m]
        scale = np.max(np.abs(arr), axis=0)
        rounding = float(np.finfo(arr.dtype).eps) * float(np.sum(np.abs(rule))) * scale
        error = (truncation + rounding).astype(arr.dtype, copy=False)
    return Extrapolation(value, error, table, exps, m)


def observed_order(values: ArrayLike, ratio: float = 2.0) -> np.ndarray:
    r"""The order ``p`` observed in the three finest of values at ``h, h/r, h/r², …``.

    If ``A(h) = A + c h^p + …`` then
    ``p ≈ log_r |(A(h) - A(h/r)) / (A(h/r) - A(h/r²))|``, computed from the last three
    levels, elementwise.

    Parameters
    ----------
    values : array_like, shape (n, *trailing)
        Coarse to fine along axis 0, ``n >= 3``.  (Pass ``values[:k]`` for the order seen
        at coarser levels.)
    ratio : float, optional
        Step ratio ``r > 1`` (default 2).

    Returns
    -------
    ndarray, shape trailing
        The observed order; NaN where a difference is zero or not finite.  A value far
        from the method's order means the runs are not yet in the asymptotic regime,
        and extrapolation should not be trusted there.

    Raises
    ------
    ValueError
        If fewer than three levels are given, the levels differ in shape, or
        ``ratio <= 1``.
    TypeError
        If ``values`` does not hold real numbers or ``ratio`` is not a real number.

    Examples
    --------
    >>> import numpy as np
    >>> hs = 0.1 / 2.0 ** np.arange(4)
    >>> round(float(observed_order((1 - hs) ** (1 / hs))), 3)
    1.023
    """
    arr = _as_levels(values, 3)
    r = _check_ratio(ratio)
    with np.errstate(all="ignore"):
        coarse = np.abs(arr[-3] - arr[-2])
        fine = np.abs(arr[-2] - arr[-1])
        good = (coarse > 0) & (fine > 0) & np.isfinite(coarse) & np.isfinite(fine)
        ratio_of = np.where(good, coarse, 1.0) / np.where(good, fine, 1.0)
        return np.where(good, np.log(ratio_of) / math.log(r), np.nan)


# ---------------------------------------------------------------------------------------
# extrapolated integration
# ---------------------------------------------------------------------------------------
class RichardsonSolution(NamedTuple):
    """Result of :func:`solve_extrapolated`.

    With batch shape ``batch`` and ``d`` parameters:

    Attributes
    ----------
    theta : ndarray, shape (*batch, d)
        Extrapolated ``θ(T)``.
    theta_error : ndarray, shape batch
        Estimate of ``‖theta - θ(T)‖₂`` per element (the norm of the componentwise
        estimates in ``theta_extrapolation.error``).
    loss : ndarray, shape batch
        Extrapolated ``L(θ(T))`` (the loss at each level, extrapolated; not the loss at
        the extrapolated ``theta``).
    loss_error : ndarray, shape batch
        Estimate of its error.
    order : ndarray, shape batch
        Observed order from the three finest levels, ``log_r(‖θ_{n-3} - θ_{n-2}‖ /
        ‖θ_{n-2} - θ_{n-1}‖)`` (NaN with two levels).
    h : ndarray, shape (levels,)
        The step sizes used, ``T/N_0, T/(r N_0), …``.
    n_steps : ndarray of int, shape (levels,)
        Steps per level.
    status : ndarray of str, shape (levels, *batch)
        Status of every run; elements with a level not ``"ok"`` get NaN results.
    theta_levels : ndarray, shape (levels, *batch, d)
        ``θ(T)`` at each level.
    theta_extrapolation, loss_extrapolation : Extrapolation
        The full results of :func:`extrapolate` (tableaux, componentwise errors).
    """

    theta: np.ndarray
    theta_error: np.ndarray
    loss: np.ndarray
    loss_error: np.ndarray
    order: np.ndarray
    h: np.ndarray
    n_steps: np.ndarray
    status: np.ndarray
    theta_levels: np.ndarray
    theta_extrapolation: Extrapolation
    loss_extrapolation: Extrapolation


def _step_counts(t_final: float, h0: float, levels: int, ratio: float) -> np.ndarray:
    """Whole step counts ``N_0 r^k`` landing every level on ``t_final``."""
    quotient = t_final / h0
    nearest = round(quotient)
    if nearest >= 1 and abs(quotient - nearest) <= STEP_COUNT_RTOL * quotient:
        n0 = int(nearest)
    else:
        n0 = math.ceil(quotient)
    counts = []
    for k in range(levels):
        exact = n0 * ratio**k
        whole = round(exact)
        if abs(exact - whole) > STEP_COUNT_RTOL * exact:
            raise ValueError(
                f"ratio={ratio} does not give whole step counts: level {k} would take "
                f"{exact:g} steps of h0/ratio^{k} to reach t_final from N0 = {n0} steps at "
                "the coarsest level; use an integer ratio (or an h0 for which N0·ratio^k "
                "is an integer)"
            )
        counts.append(whole)
    return np.array(counts, dtype=np.int64)


def solve_extrapolated(
    problem: Problem,
    theta0: ArrayLike,
    method: Method | None,
    t_final: float,
    h0: float,
    levels: int = 4,
    ratio: float = 2,
    *,
    order: float | None = None,
    step: float = 1.0,
    terms: int | None = None,
) -> RichardsonSolution:
    r"""Run ``method`` at ``h0, h0/r, …`` in one batched call and extrapolate ``θ(T)``.

    The levels become a leading batch axis: ``theta0`` of shape ``(*batch, d)`` is run as
    ``(levels, *batch, d)`` with step sizes ``h[:, None, …]`` by one
    :func:`gradflow.solve` call, and ``θ(T)`` and ``L(θ(T))`` are extrapolated along that
    axis with :func:`extrapolate`.

    **Landing on T.**  Every level takes a whole number of equal steps: ``h0`` is replaced
    by ``T/N_0`` with ``N_0 = ⌈T/h0⌉`` (so it never grows) and level ``k`` takes
    ``N_0 r^k`` steps.  A shortened last step (what :func:`gradflow.solve` does when
    ``T`` is not a multiple of ``h``) would make the error depend on the fractional part
    of ``T/h``, which jumps as ``h`` varies; the expansion in powers of ``h`` that
    extrapolation relies on would be lost.

    Parameters
    ----------
    problem : Problem
        The loss landscape.
    theta0 : array_like, shape (*batch, d)
        Initial states.
    method : Method or None
        A method with a fixed step (``None``: :class:`~gradflow.methods.Euler`).
    t_final : float
        End time ``T > 0``.
    h0 : float
        Coarsest step size (reduced to ``T/⌈T/h0⌉``).  All levels must be in the
        asymptotic regime: for a stiff flow, ``h0 λmax`` well below the stability limit.
    levels : int, optional
        Number of step sizes, ``>= 2`` (default 4).
    ratio : float, optional
        Step ratio ``r > 1`` (default 2); ``N_0 r^k`` must be whole numbers.
    order : float, optional
        Leading error exponent (default ``method.order``).
    step : float, optional
        Spacing of the error exponents (default 1).
    terms : int, optional
        Error terms to remove (default ``levels - 2``, keeping the finest column for an
        asymptotically exact error estimate; see :func:`extrapolate`).

    Returns
    -------
    RichardsonSolution
        Extrapolated ``theta`` and ``loss``, their error estimates per element, the
        observed order, the step sizes, the per-level states and the full tableaux
        (``theta_extrapolation.tableau[-1, -1]`` is the full extrapolation).

    Raises
    ------
    ValueError
        If ``levels < 2``, ``ratio <= 1`` or gives fractional step counts, ``t_final`` or
        ``h0`` is not positive, ``theta0`` has the wrong shape (from
        :func:`gradflow.solve`), or ``terms`` is out of range.
    TypeError
        If ``problem`` or ``method`` has the wrong type, ``theta0`` is not real, or a
        number argument is not a number of the right kind.

    References
    ----------
    E. Hairer, S. P. Nørsett and G. Wanner, *Solving Ordinary Differential Equations I*,
    2nd ed., Springer, 1993, §II.8 (Theorem 8.1: the asymptotic expansion of the global
    error of a one-step method at a fixed end time).

    Examples
    --------
    Gradient descent on ``L = θ²`` (flow ``θ(t) = e^{-2t}θ_0``) at ``h = 0.1 … 0.0125``:

    >>> import numpy as np
    >>> import gradflow as gf
    >>> p = gf.problems.quadratic(A=np.array([[2.0]]))
    >>> res = gf.richardson.solve_extrapolated(p, [1.0], gf.methods.Euler(), t_final=1.0, h0=0.1)
    >>> res.n_steps.tolist()
    [10, 20, 40, 80]
    >>> bool(abs(res.theta[0] - np.exp(-2.0)) < 1e-5), round(float(res.order), 1)
    (True, 1.0)
    """
    from gradflow._solve import solve as run

    method = Euler() if method is None else method
    if not isinstance(method, Method):
        raise TypeError(f"method must be a gradflow Method, got {type(method).__name__}")
    t_end = check_positive(t_final, "t_final")
    h_first = check_positive(h0, "h0")
    n_levels = check_integer(levels, "levels", 2)
    r = _check_ratio(ratio)
    m = _check_terms(terms, n_levels)
    p = float(method.order) if order is None else check_positive(order, "order")
    q = check_positive(step, "step")
    counts = _step_counts(t_end, h_first, n_levels, r)
    hs = t_end / counts
    arr = as_state_array(theta0, "theta0", problem.dim)
    batch = arr.shape[:-1]
    stacked = np.broadcast_to(arr, (n_levels, *arr.shape))
    h_levels = hs.reshape(n_levels, *([1] * len(batch)))
    traj = run(problem, stacked, method, stepsize=h_levels, t_final=t_end, save="final")
    expected = np.broadcast_to(counts.reshape(h_levels.shape), traj.status.shape)
    ok = traj.status == Status.OK.value
    if np.any(ok & (traj.n_steps != expected)):  # pragma: no cover - guarded by _step_counts
        raise RuntimeError("a level did not land on t_final in whole steps")
    good = np.all(ok, axis=0)  # shape batch
    theta_levels = traj.theta[0]  # (levels, *batch, d)
    loss_levels = traj.loss[0]  # (levels, *batch)
    theta_ex = extrapolate(theta_levels, r, p, q, m)
    loss_ex = extrapolate(loss_levels, r, p, q, m)
    with np.errstate(all="ignore"):
        theta_error = np.sqrt(np.sum(np.square(theta_ex.error), axis=-1))
        if n_levels >= 3:
            diffs = np.sqrt(np.sum(np.square(np.diff(theta_levels[-3:], axis=0)), axis=-1))
            observed = _order_from_norms(diffs, r)
        else:
            observed = np.full(batch, np.nan)
    nan = np.nan
    return RichardsonSolution(
        theta=np.where(good[..., None], theta_ex.value, nan),
        theta_error=np.where(good, theta_error, nan),
        loss=np.where(good, loss_ex.value, nan),
        loss_error=np.where(good, loss_ex.error, nan),
        order=np.where(good, observed, nan),
        h=hs,
        n_steps=counts,
        status=traj.status,
        theta_levels=theta_levels,
        theta_extrapolation=theta_ex,
        loss_extrapolation=loss_ex,
    )


def _order_from_norms(diffs: np.ndarray, ratio: float) -> np.ndarray:
    """``log_r(‖Δ_coarse‖ / ‖Δ_fine‖)`` from the two norms of consecutive differences."""
    coarse, fine = diffs[0], diffs[1]
    good = (coarse > 0) & (fine > 0) & np.isfinite(coarse) & np.isfinite(fine)
    quotient = np.where(good, coarse, 1.0) / np.where(good, fine, 1.0)
    return np.where(good, np.log(quotient) / math.log(ratio), np.nan)
