r"""The real stability limit measured from the method's own step, without sympy.

On the scalar gradient flow of ``L = ½θ²`` one step of a linear method with step ``h``
is a linear map of its state: the amplification matrix ``M(z)`` at ``z = -h``.  This
module builds ``M(-x)`` for a whole grid of ``x`` in one batched call of
``method.step`` (each floating-point field of the state is a coordinate, each row a
basis vector at one ``x``), takes its spectral radius with ``numpy.linalg.eigvals``, and
locates the first ``x`` where it exceeds 1 by batched multisection.  It needs neither
sympy nor scipy, so ``gradflow info`` lists every method's limit in milliseconds; the
tests check it against the exact symbolic path for every method and tableau.

Fields that only cache a function of the other coordinates (a Runge–Kutta method's
gradient at ``θ``) add eigenvalues 0 and fields carried unchanged add eigenvalues 1,
neither of which moves the first crossing of ``ρ = 1`` from below.  Step counters
(integer fields) are set to ``2**52``: the map of the long run, where a schedule of
momentum coefficients such as ``(k - 1)/(k + 2)`` has reached its limit — the iteration
the symbolic analysis describes.

References
----------
E. Hairer and G. Wanner, *Solving Ordinary Differential Equations II*, 2nd ed.,
Springer, 1996, §IV.2.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from gradflow.methods import Method
from gradflow.problems import Problem, quadratic

__all__ = ["numeric_real_stability_limit"]

#: Step counters of the probed state: the long-run iteration (coefficients at their limit).
LONG_RUN_STEP = 2**52
#: Relative deviation from superposition above which the step is not linear in the state.
LINEAR_TOL = 1e-9
#: Points per multisection round (the bracket shrinks by this factor minus one each round).
SECTIONS = 64


@functools.lru_cache(maxsize=1)
def _scalar_quadratic() -> Problem:
    """``L = ½θ²`` (built once: its random basis costs more than a probe)."""
    return quadratic([1.0])


def _coordinates(state: Any, rows: int) -> list[int]:
    """Indices of the state's fields that are floating-point ``(rows, 1)`` arrays."""
    return [
        i
        for i, field in enumerate(state)
        if isinstance(field, np.ndarray) and field.dtype.kind == "f" and field.shape == (rows, 1)
    ]


def _probe(method: Method, x: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """One step of ``method`` at ``h = x[i]`` from the states ``vectors[i, j]``.

    ``vectors`` ``(N, m, n)`` holds ``m`` states per step size in the ``n`` coordinates;
    returns the stepped states, same shape.
    """
    N, m, n = vectors.shape
    problem = _scalar_quadratic()
    rows = N * m
    state = method.init(problem, np.zeros((rows, 1)))
    fields = list(state)
    coords = _coordinates(state, rows)
    if len(coords) != n:
        raise TypeError(f"{method.name}: its state has no floating-point (B, d) coordinates")
    flat = vectors.reshape(rows, n)
    for j, i in enumerate(coords):
        fields[i] = flat[:, j : j + 1].copy()
    for i, field in enumerate(fields):
        if isinstance(field, np.ndarray) and field.dtype.kind in "iu":
            fields[i] = np.full_like(field, LONG_RUN_STEP)
    h = np.repeat(x, m).reshape(rows, 1)
    with np.errstate(all="ignore"):
        out = method.step(problem, type(state)(*fields), h).state
    return np.concatenate([out[i] for i in coords], axis=1).reshape(N, m, n)


def _dimension(method: Method) -> int:
    problem = _scalar_quadratic()
    state = method.init(problem, np.zeros((1, 1)))
    n = len(_coordinates(state, 1))
    if n == 0:
        raise TypeError(f"{method.name}: its state has no floating-point (B, d) coordinates")
    return n


@functools.lru_cache(maxsize=1)
def _planar_quadratic() -> Problem:
    """``L = ½θᵀAθ`` with eigenvalues 1 and 4 (a test of linearity across directions)."""
    return quadratic([1.0, 4.0])


def _check_linear_in_directions(method: Method) -> None:
    """``TypeError`` unless one step on a 2-D quadratic is linear in the state: a method
    can be linear on the scalar test equation and not on vectors (a step size that
    depends on the state's direction, as a Polyak ratio ``L/‖∇L‖²`` does)."""
    problem = _planar_quadratic()
    rng = np.random.default_rng(1)
    state = method.init(problem, np.zeros((4, 2)))
    fields = list(state)
    for i, field in enumerate(fields):
        if not isinstance(field, np.ndarray):
            continue
        if field.dtype.kind == "f" and field.shape == (4, 2):
            u, v = rng.standard_normal((2, 2))
            fields[i] = np.stack([u, v, u + v, 1e3 * u])
        elif field.dtype.kind in "iu":
            fields[i] = np.full_like(field, LONG_RUN_STEP)
    with np.errstate(all="ignore"):
        out = method.step(problem, type(state)(*fields), np.full((4, 1), 0.3)).state
    for i, field in enumerate(fields):
        if isinstance(field, np.ndarray) and field.dtype.kind == "f" and field.shape == (4, 2):
            S = out[i]
            size = np.abs(S).max() / 1e3 + 1e-300
            if (
                np.abs(S[2] - S[0] - S[1]).max() > LINEAR_TOL * size
                or np.abs(S[3] - 1e3 * S[0]).max() > LINEAR_TOL * size * 1e3
            ):
                raise TypeError(
                    f"method must be linear in its state on y' = λy for a linear stability "
                    f"analysis; {method.name}'s step is not (it depends on the state's "
                    f"direction)"
                )


def _check_linear(method: Method, n: int) -> None:
    """``TypeError`` unless the step is linear in the state (superposition and scaling)."""
    if not method.linear_analysis:
        raise TypeError(
            f"method must be linear in its state on y' = λy for a linear stability "
            f"analysis; {method.name}'s step adapts along the run (it has no "
            f"amplification matrix)"
        )
    _check_linear_in_directions(method)
    rng = np.random.default_rng(0)
    x = np.array([0.3, 1.7, 3.1])
    scale = np.array([1e-6, 1.0, 1e6])
    u = rng.standard_normal((3, n))
    v = rng.standard_normal((3, n))
    cases = np.stack([u, v, u + v, scale[:, None] * u], axis=1)  # (3, 4, n)
    S = _probe(method, x, cases)
    size = np.abs(S).max(axis=(1, 2), keepdims=True)[:, 0] + 1e-300
    additive = np.abs(S[:, 2] - S[:, 0] - S[:, 1]) / size
    homogeneous = np.abs(S[:, 3] - scale[:, None] * S[:, 0]) / (scale[:, None] * size)
    if not (np.all(additive <= LINEAR_TOL) and np.all(homogeneous <= LINEAR_TOL)):
        raise TypeError(
            f"method must be linear in its state on y' = λy for a linear stability "
            f"analysis; {method.name}'s step is not"
        )


def _radius(method: Method, x: np.ndarray, n: int) -> np.ndarray:
    """``ρ(M(-x))`` for every ``x``, one batched step."""
    basis = np.broadcast_to(np.eye(n), (x.size, n, n))
    columns = _probe(method, x, basis)  # columns[i, j] = M(-x_i) e_j
    M = np.swapaxes(columns, -1, -2)
    with np.errstate(all="ignore"):
        finite = np.isfinite(M).all(axis=(-2, -1))
        if n == 1:
            rho = np.abs(M[:, 0, 0])
        elif n == 2:  # ζ² - tζ + d = 0 in closed form: eigvals costs ~5 µs per matrix
            t = M[:, 0, 0] + M[:, 1, 1]
            d = M[:, 0, 0] * M[:, 1, 1] - M[:, 0, 1] * M[:, 1, 0]
            root = np.sqrt((t * t - 4.0 * d).astype(complex))
            rho = 0.5 * np.maximum(np.abs(t + root), np.abs(t - root))
        else:
            rho = np.abs(np.linalg.eigvals(np.where(finite[:, None, None], M, 0.0))).max(-1)
    return np.where(finite, rho, np.inf)


def numeric_real_stability_limit(method: Method, stable_tol: float, grid: np.ndarray) -> float:
    """``β`` from the batched numeric ``ρ(M(-x))``: first unstable point of ``grid``,
    then multisection to a relative bracket of four ulps."""
    n = _dimension(method)
    _check_linear(method, n)
    unstable = np.flatnonzero(_radius(method, grid, n) > 1.0 + stable_tol)
    if unstable.size == 0:
        return math.inf
    i = int(unstable[0])
    if i == 0:  # pragma: no cover - unstable right next to 0: not a consistent method
        return 0.0
    lo, hi = float(grid[i - 1]), float(grid[i])
    eps = 4 * np.finfo(float).eps
    while hi - lo > eps * hi:
        points = np.linspace(lo, hi, SECTIONS + 1)[1:-1]
        over = _radius(method, points, n) > 1.0
        first = int(np.argmax(over)) if over.any() else points.size
        lo = float(points[first - 1]) if first > 0 else lo
        hi = float(points[first]) if first < points.size else hi
    return hi
