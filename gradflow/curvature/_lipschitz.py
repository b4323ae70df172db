r"""Lipschitz constants of the gradient: bounds over a region, and secant estimates.

The gradient of a twice-differentiable loss is ``L``-Lipschitz on a convex region
exactly when ``‖∇²L(θ)‖₂ <= L`` there, i.e. every Hessian eigenvalue lies in
``[-L, L]``.  The stability bound of gradient descent needs the top eigenvalue
``λmax`` (``h < 2/λmax``); the descent lemma needs ``L`` (``h <= 1/L`` decreases the
loss by at least ``h‖∇L‖²/2``).  :func:`lipschitz` returns both ends of the spectrum and
says how it got them:

``"exact"``
    quadratics: the spectrum is known.
``"interval"``
    problems built by :meth:`gradflow.Problem.from_sympy`, over a box: every Hessian
    entry is enclosed by interval arithmetic on sub-boxes (``_interval.py``) and
    the eigenvalues are bounded by Gershgorin's theorem and by Weyl's inequality around
    the midpoint matrix (the tighter of the two per sub-box) — a *certified* bound.
``"sampled"``
    other problems over a box: the extreme eigenvalues at random points of the box (and
    its centre and corners in low dimension) — a lower estimate of the supremum, not a
    bound.
``"points"``
    along a trajectory or at given points: the extreme eigenvalues there (Lanczos), with
    the eigensolver's residual as the stated error of each value.

:func:`local_lipschitz` gives the secant estimate ``‖∇L(a) - ∇L(b)‖ / ‖a - b‖``, a lower
bound of ``L`` on the segment, which step-size rules such as AdGD use.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from gradflow._checks import check_problem
from gradflow._trajectory import Trajectory
from gradflow._validation import (
    as_generator,
    as_state_array,
    check_allocation,
    check_integer,
    check_positive,
)
from gradflow.curvature._eigen import eigenvalues
from gradflow.problems import Problem

__all__ = ["Box", "LipschitzBound", "lipschitz", "local_lipschitz"]

#: The interval bound splits the box into at most this many sub-boxes (equal splits per
#: axis); the overestimate of interval arithmetic shrinks linearly with their width.
MAX_SUBBOXES = 4096
#: ... and into at most this many pieces per axis.
MAX_SPLITS_PER_AXIS = 32
#: Corners of the box are sampled too (``"sampled"``) up to this dimension.
MAX_CORNER_DIM = 10


class Box(NamedTuple):
    """An axis-aligned box ``lower <= θ <= upper`` (each of shape ``(d,)``)."""

    lower: Any
    upper: Any


class LipschitzBound(NamedTuple):
    """Curvature extremes over a region (see :func:`lipschitz`).

    Attributes
    ----------
    value : float or ndarray
        ``L``: a bound (``certified``) or an estimate of ``sup ‖∇²L‖₂`` over the region,
        ``max(|lambda_max|, |lambda_min|)``.
    lambda_max : float or ndarray
        The same for the top eigenvalue ``sup λmax`` (what ``h < β/λmax`` needs).
    lambda_min : float or ndarray
        ``inf λmin`` (a lower bound when ``certified``).
    certified : bool
        True for ``"exact"`` and ``"interval"``: ``value`` is an upper bound.
    kind : str
        ``"exact"``, ``"interval"``, ``"sampled"`` or ``"points"``.
    error : float or ndarray
        For ``"sampled"`` and ``"points"``: the largest eigensolver residual, a bound on
        the error of every eigenvalue estimate that entered (the supremum *between*
        the points is not covered).  0 for ``"exact"`` and ``"interval"``.
    n_points : int
        Points (or sub-boxes) evaluated.
    """

    value: Any
    lambda_max: Any
    lambda_min: Any
    certified: bool
    kind: str
    error: Any
    n_points: int


def _as_box(region: Any, d: int) -> tuple[np.ndarray, np.ndarray]:
    if len(region) != 2:
        raise ValueError(f"a box region must be a pair (lower, upper), got {len(region)} items")
    corners = []
    for label, corner in zip(("lower", "upper"), region, strict=True):
        name = f"region.{label} (a corner of the box)"
        arr = as_state_array(corner, name, d).astype(np.float64)
        if arr.shape != (d,):
            raise ValueError(f"{name} must be one point of shape ({d},), got {arr.shape}")
        corners.append(arr)
    lower, upper = corners
    if np.any(lower > upper):
        raise ValueError("the box must have lower <= upper in every coordinate")
    return lower, upper


def _splits(d: int, subdivisions: int | None) -> int:
    if subdivisions is not None:
        return check_integer(subdivisions, "subdivisions", 1)
    per_axis = math.floor(MAX_SUBBOXES ** (1.0 / d) + 1e-9)
    return max(1, min(MAX_SPLITS_PER_AXIS, per_axis))


def _interval_bound(problem: Problem, lower: np.ndarray, upper: np.ndarray, n: int) -> Any:
    """Gershgorin over interval enclosures of the symbolic Hessian on ``n^d`` sub-boxes."""
    import sympy as sp

    from gradflow.curvature._interval import enclose

    symbols = list(problem.symbols)  # type: ignore[attr-defined]
    d = len(symbols)
    grad = [sp.diff(problem.expr, s) for s in symbols]  # type: ignore[attr-defined]
    pairs = [(i, j) for i in range(d) for j in range(i, d)]
    entries = [sp.diff(grad[i], symbols[j]) for i, j in pairs]
    # Sub-box corners: the cartesian product of n equal splits per axis.
    edges = np.linspace(0.0, 1.0, n + 1)
    index = np.stack(np.meshgrid(*([np.arange(n)] * d), indexing="ij"), axis=-1).reshape(-1, d)
    width = upper - lower
    lo = lower + width * edges[index]
    hi = lower + width * edges[index + 1]
    hi[index == n - 1] = np.broadcast_to(upper, hi.shape)[index == n - 1]  # cover exactly
    enclosures = dict(zip(pairs, enclose(entries, symbols, lo, hi), strict=True))
    n_boxes = lo.shape[0]
    e_lo = np.zeros((n_boxes, d, d))
    e_hi = np.zeros((n_boxes, d, d))
    for (i, j), (a, b) in enclosures.items():
        e_lo[:, i, j] = e_lo[:, j, i] = a
        e_hi[:, i, j] = e_hi[:, j, i] = b
    eps = float(np.finfo(float).eps)
    with np.errstate(all="ignore"):
        # Gershgorin: every eigenvalue lies in a disc H_ii ± Σ_{j≠i} |H_ij|.
        mag = np.maximum(np.abs(e_lo), np.abs(e_hi))
        radius = mag.sum(axis=-1) - np.diagonal(mag, axis1=-2, axis2=-1)
        g_max = np.max(np.diagonal(e_hi, axis1=-2, axis2=-1) + radius, axis=-1)
        g_min = np.min(np.diagonal(e_lo, axis1=-2, axis2=-1) - radius, axis=-1)
        # Weyl: H = C + E with |E| <= R entrywise, so |λ_i(H) - λ_i(C)| <= ‖E‖₂ <= ρ(R)
        # (Rohn 1994).  It tightens as the sub-boxes shrink, where Gershgorin does not.
        finite = np.isfinite(e_lo).all(axis=(-2, -1)) & np.isfinite(e_hi).all(axis=(-2, -1))
        centre = np.where(finite[:, None, None], 0.5 * (e_lo + e_hi), 0.0)
        spread = np.where(finite[:, None, None], 0.5 * (e_hi - e_lo), 0.0)
        spread = spread * (1.0 + 4 * eps) + np.abs(centre) * (2 * eps)  # cover the rounding
        c_eigs = np.linalg.eigvalsh(centre)
        rho = np.linalg.eigvalsh(spread)[:, -1]
        # eigvalsh is backward stable: its values are exact for C + δC, ‖δC‖ <= c d eps ‖C‖.
        slack = rho + 8.0 * d * eps * np.linalg.norm(centre, axis=(-2, -1))
        w_max = np.where(finite, c_eigs[:, -1] + slack, np.inf)
        w_min = np.where(finite, c_eigs[:, 0] - slack, -np.inf)
    lam_max = float(np.max(np.minimum(g_max, w_max)))
    lam_min = float(np.min(np.maximum(g_min, w_min)))
    # The sums above round too: move the final bounds out by a few ulps of their size.
    slack = 4.0 * d * eps
    lam_max += slack * abs(lam_max)
    lam_min -= slack * abs(lam_min)
    if math.isnan(lam_max) or math.isnan(lam_min):
        lam_max, lam_min = math.inf, -math.inf
    value = max(abs(lam_max), abs(lam_min))
    return LipschitzBound(value, lam_max, lam_min, True, "interval", 0.0, n_boxes)


def _extremes(
    problem: Problem, points: np.ndarray, tol: float, seed: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top and bottom eigenvalue at each point, and the larger residual of the two."""
    algorithm = "dense" if problem.dim <= 2 else "lanczos"
    top = eigenvalues(problem, points, 1, algorithm=algorithm, tol=tol, seed=seed, which="LA")
    bottom = eigenvalues(problem, points, 1, algorithm=algorithm, tol=tol, seed=seed, which="SA")
    err = np.maximum(top.residuals[..., 0], bottom.residuals[..., 0])
    return top.values[..., 0], bottom.values[..., 0], err


def lipschitz(
    problem: Problem,
    region: Any = None,
    *,
    subdivisions: int | None = None,
    n_samples: int = 256,
    tol: float = 1e-8,
    seed: int | np.random.Generator | None = None,
) -> LipschitzBound:
    r"""Lipschitz constant of ``∇L`` (and the extreme Hessian eigenvalues) on a region.

    Parameters
    ----------
    problem : Problem
    region : Box, tuple, Trajectory or array_like, optional
        ``Box(lower, upper)`` or a tuple ``(lower, upper)``: a box; a
        :class:`~gradflow.Trajectory`: its saved states, one answer per batch element
        (the maximum over its saved times); any other array of shape ``(..., d)``: those
        points (one answer for all).  May be omitted for quadratics (the answer is
        global).
    subdivisions : int, optional
        Splits per axis for the interval bound (default: the most that keeps
        ``splits^d <= 4096``, at most 32).
    n_samples : int, optional
        Random points of the box for ``"sampled"`` (default 256).
    tol : float, optional
        Relative accuracy of the eigensolver for ``"sampled"``/``"points"``.
    seed : int, numpy.random.Generator or None, optional
        Seeds the sampled points and the eigensolver.

    Returns
    -------
    LipschitzBound
        ``value`` (``L``), ``lambda_max``, ``lambda_min``, ``certified``, ``kind``,
        ``error`` and ``n_points``; see the module docstring for the four kinds.

    Raises
    ------
    TypeError
        If ``problem`` is not a Problem.
    ValueError
        If ``region`` is missing for a non-quadratic problem, the box or points have
        the wrong shape or are not finite, or the ``(n_samples, d)`` samples would exceed
        :data:`gradflow._validation.MAX_ALLOCATION_BYTES`.

    References
    ----------
    Y. Nesterov, *Lectures on Convex Optimization*, 2nd ed., Springer, 2018, §1.2.2
    (Lipschitz gradients and the descent lemma).
    S. Gershgorin, "Über die Abgrenzung der Eigenwerte einer Matrix", Izv. Akad. Nauk
    SSSR 6, 749-754, 1931.
    J. Rohn, "Positive definiteness and stability of interval matrices", SIAM J. Matrix
    Anal. Appl. 15(1), 175-184, 1994.
    R. E. Moore, R. B. Kearfott and M. J. Cloud, *Introduction to Interval Analysis*,
    SIAM, 2009.

    Examples
    --------
    >>> import numpy as np, sympy as sp, gradflow as gf
    >>> gf.curvature.lipschitz(gf.problems.quadratic([1.0, -4.0], seed=0)).value
    4.0
    >>> x, y = sp.symbols("x y")
    >>> p = gf.Problem.from_sympy(x**4 + x * y + y**2, [x, y])
    >>> bound = gf.curvature.lipschitz(p, gf.curvature.Box([-1, -1], [1, 1]))
    >>> bound.kind, bound.certified, round(bound.lambda_max, 2)   # true sup: 12.10
    ('interval', True, 12.11)
    """
    problem = check_problem(problem)
    tol = check_positive(tol, "tol")
    d = problem.dim
    spectrum = getattr(problem, "eigenvalues", None)
    if spectrum is not None and getattr(problem, "A", None) is not None:
        lam_max, lam_min = float(np.max(spectrum)), float(np.min(spectrum))
        return LipschitzBound(
            max(abs(lam_max), abs(lam_min)), lam_max, lam_min, True, "exact", 0.0, 0
        )
    if region is None:
        raise ValueError(
            f"region is required for problem {problem.name!r}: a Box, a Trajectory or points"
        )
    if isinstance(region, (Box, tuple)):
        lower, upper = _as_box(region, d)
        if getattr(problem, "expr", None) is not None:
            try:
                return _interval_bound(problem, lower, upper, _splits(d, subdivisions))
            except NotImplementedError:
                pass  # a function without an interval rule: fall back to sampling
        n = check_integer(n_samples, "n_samples", 1)
        check_allocation(float(n) * d, 8, f"n_samples ({n} samples x d = {d})")
        gen = as_generator(seed)
        samples = [lower + (upper - lower) * gen.random((n, d)), 0.5 * (lower + upper)[None]]
        if d <= MAX_CORNER_DIM:
            bits = (np.arange(2**d)[:, None] >> np.arange(d)) & 1
            samples.append(np.where(bits == 1, upper, lower))
        points = np.concatenate(samples)
        top, bottom, err = _extremes(problem, points, tol, gen)
        lam_max, lam_min = float(top.max()), float(bottom.min())
        value = max(abs(lam_max), abs(lam_min))
        return LipschitzBound(
            value, lam_max, lam_min, False, "sampled", float(err.max()), points.shape[0]
        )
    if isinstance(region, Trajectory):
        points = as_state_array(region.theta, "region", d)
        top, bottom, err = _extremes(problem, points, tol, seed)
        lam_max, lam_min, e = top.max(axis=0), bottom.min(axis=0), err.max(axis=0)
        value = np.maximum(np.abs(lam_max), np.abs(lam_min))
        return LipschitzBound(
            value[()], lam_max[()], lam_min[()], False, "points", e[()], points.shape[0]
        )
    points = as_state_array(region, "region", d)
    top, bottom, err = _extremes(problem, points, tol, seed)
    lam_max, lam_min = float(top.max()), float(bottom.min())
    return LipschitzBound(
        max(abs(lam_max), abs(lam_min)),
        lam_max,
        lam_min,
        False,
        "points",
        float(err.max()),
        int(np.prod(points.shape[:-1])),
    )


def local_lipschitz(problem: Problem, a: Any, b: ArrayLike | None = None) -> Any:
    r"""Secant estimates ``‖∇L(a) - ∇L(b)‖ / ‖a - b‖`` of the local Lipschitz constant.

    By the mean-value theorem the secant equals ``‖(∫₀¹ ∇²L(b + s(a - b)) ds)(a - b)‖ /
    ‖a - b‖``, so it is a *lower* bound of the Lipschitz constant on the segment and
    lies between the extreme Hessian eigenvalues there (in absolute value).  Along a
    run of gradient descent it is the curvature the step actually met (Malitsky &
    Mishchenko's AdGD uses its inverse as the next step).

    Parameters
    ----------
    problem : Problem
    a : Trajectory or array_like
        Points ``(*batch, d)`` (with ``b``), or a sequence of states ``(n, *batch, d)``
        or a :class:`~gradflow.Trajectory` (without ``b``): then the secants between
        consecutive saved states.
    b : array_like, optional
        Second points, broadcastable against ``a``.

    Returns
    -------
    ndarray or float
        Shape ``broadcast(a, b).shape[:-1]``, or ``(n - 1, *batch)`` along a sequence.
        ``nan`` where the two points coincide (an element that stopped early repeats its
        state).

    Raises
    ------
    TypeError
        If ``problem`` is not a Problem.
    ValueError
        If the points have the wrong shape or are not finite, or a sequence has fewer
        than two states.

    References
    ----------
    Y. Malitsky and K. Mishchenko, "Adaptive gradient descent without descent", ICML
    2020.

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic(A=np.diag([1.0, 10.0]))
    >>> float(gf.curvature.local_lipschitz(p, [0.0, 1.0], [0.0, 0.0]))
    10.0
    """
    problem = check_problem(problem)
    d = problem.dim
    if b is None:
        seq = a.theta if isinstance(a, Trajectory) else a
        seq = as_state_array(seq, "a", d)
        if seq.ndim < 2 or seq.shape[0] < 2:
            raise ValueError(f"a must hold >= 2 states along its first axis, got {seq.shape}")
        first, second = seq[1:], seq[:-1]
    else:
        first, second = np.broadcast_arrays(as_state_array(a, "a", d), as_state_array(b, "b", d))
    with np.errstate(all="ignore"):
        num = np.linalg.norm(problem.grad(first) - problem.grad(second), axis=-1)
        den = np.linalg.norm(first - second, axis=-1)
        out = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return out[()]
