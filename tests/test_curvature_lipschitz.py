"""Lipschitz constants: exact for quadratics, certified interval bounds for sympy problems,
sampled and along-trajectory estimates, secants; the interval evaluator itself."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import gradflow as gf
from gradflow.curvature import Box, lipschitz, local_lipschitz
from gradflow.curvature._interval import enclose
from gradflow.problems._muller_brown import (
    AMPLITUDES,
    CENTERS_X,
    CENTERS_Y,
    COEFFS_A,
    COEFFS_B,
    COEFFS_C,
)

x, y, z = sp.symbols("x y z")


def _muller_brown_expr():
    terms = zip(AMPLITUDES, COEFFS_A, COEFFS_B, COEFFS_C, CENTERS_X, CENTERS_Y, strict=True)
    return sum(
        A * sp.exp(a * (x - x0) ** 2 + b * (x - x0) * (y - y0) + c * (y - y0) ** 2)
        for A, a, b, c, x0, y0 in (tuple(map(sp.nsimplify, t)) for t in terms)
    )


CASES = {
    "rosenbrock": ((1 - x) ** 2 + 100 * (y - x**2) ** 2, [x, y], ([-1.5, -0.5], [1.5, 2.0])),
    "muller_brown": (_muller_brown_expr(), [x, y], ([-1.5, -0.5], [1.0, 2.0])),
    "himmelblau": ((x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2, [x, y], ([-5, -5], [5, 5])),
    "trig-3d": (
        sp.sin(x) * sp.cos(y) + sp.tanh(x * z) + sp.exp(-(y**2)) + z**4 / 4,
        [x, y, z],
        ([-2, -1, -1], [1, 2, 1.5]),
    ),
}


def _sampled_extremes(problem, lower, upper):
    n = 300 if lower.size == 2 else 50
    axes = [np.linspace(a, b, n) for a, b in zip(lower, upper, strict=True)]
    pts = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, lower.size)
    w = np.linalg.eigvalsh(problem.hessian(pts))
    return w[:, -1].max(), w[:, 0].min()


@pytest.mark.parametrize("name", list(CASES))
def test_interval_bound_holds_and_is_tight(name):
    expr, syms, (lower, upper) = CASES[name]
    problem = gf.Problem.from_sympy(expr, syms)
    bound = lipschitz(problem, Box(lower, upper))
    assert bound.kind == "interval" and bound.certified and bound.error == 0.0
    top, bottom = _sampled_extremes(problem, np.array(lower, float), np.array(upper, float))
    assert bound.lambda_max >= top and bound.lambda_min <= bottom
    assert bound.value >= max(abs(top), abs(bottom))
    # Sub-boxes make the top bound tight: within 10 % of the spectral span of the grid
    # maxima (0.02-7 % measured; the bottom bound is sound but looser).
    assert bound.lambda_max - top <= 0.1 * (top - bottom)


def test_the_zoo_muller_brown_agrees_with_its_sympy_form():
    problem = gf.Problem.from_sympy(_muller_brown_expr(), [x, y])
    pts = np.random.default_rng(1).uniform(-1, 1, (50, 2))
    np.testing.assert_allclose(
        problem.hessian(pts), gf.problems.muller_brown().hessian(pts), rtol=1e-10, atol=1e-8
    )


def test_quadratic_is_exact_without_a_region():
    p = gf.problems.quadratic([-6.0, 1.0, 4.0], seed=0)
    bound = lipschitz(p)
    assert (bound.value, bound.lambda_max, bound.lambda_min) == (6.0, 4.0, -6.0)
    assert bound.certified and bound.kind == "exact"


def test_non_symbolic_problem_over_a_box_is_sampled():
    p = gf.problems.rosenbrock()
    bound = lipschitz(p, (np.array([0.5, 0.5]), np.array([1.5, 1.5])), seed=0)
    assert bound.kind == "sampled" and not bound.certified
    # The sampled maximum is a lower estimate of the certified bound.
    sym = gf.Problem.from_sympy(CASES["rosenbrock"][0], [x, y])
    certified = lipschitz(sym, Box([0.5, 0.5], [1.5, 1.5]))
    assert bound.lambda_max <= certified.lambda_max
    assert bound.lambda_max == pytest.approx(certified.lambda_max, rel=1e-3)  # a corner


def test_along_a_trajectory_per_element():
    p = gf.problems.rosenbrock()
    traj = gf.solve(p, np.array([[-1.2, 1.0], [0.5, 0.5]]), stepsize=1e-3, steps=200, save_every=20)
    bound = lipschitz(p, traj)
    assert bound.kind == "points" and not bound.certified and bound.value.shape == (2,)
    w = np.linalg.eigvalsh(p.hessian(traj.theta))
    np.testing.assert_allclose(bound.lambda_max, w[..., -1].max(axis=0), rtol=1e-8)
    np.testing.assert_allclose(bound.value, np.abs(w).max(axis=(0, -1)), rtol=1e-8)
    assert np.all(bound.error < 1e-6 * bound.value)
    pts = lipschitz(p, traj.theta[:, 0])  # plain points: one answer
    assert pts.lambda_max == pytest.approx(bound.lambda_max[0])


def test_local_lipschitz_secants():
    p = gf.problems.quadratic([1.0, 10.0], seed=3)
    gen = np.random.default_rng(0)
    a, b = gen.normal(size=(100, 2)), gen.normal(size=(100, 2))
    sec = local_lipschitz(p, a, b)
    assert sec.shape == (100,)
    assert np.all((sec >= 1.0 - 1e-12) & (sec <= 10.0 + 1e-12))
    traj = gf.solve(p, np.ones((3, 2)), stepsize=0.05, steps=10)
    along = local_lipschitz(p, traj)
    assert along.shape == (10, 3)
    assert np.isnan(local_lipschitz(p, [1.0, 2.0], [1.0, 2.0]))
    with pytest.raises(ValueError, match="states"):
        local_lipschitz(p, np.ones((1, 2)))


@pytest.mark.parametrize(
    "expr",
    [
        x**3 - 2 * x * y + sp.Abs(y - 0.3),
        sp.exp(x) / (2 + sp.cos(3 * y)),
        sp.sqrt(x**2 + 1) * sp.log(y + 3),
        sp.tanh(4 * x) * sp.sinh(y) - sp.atan(x * y) + sp.cosh(x - y),
        (x - y) ** -2 + sp.tan(x / 4),
        x**y,
    ],
)
def test_interval_enclosures_are_sound(expr):
    gen = np.random.default_rng(1)
    lo = gen.uniform(0.1, 1.5, (200, 2))
    hi = lo + gen.uniform(0.0, 0.5, (200, 2))
    ((e_lo, e_hi),) = enclose([expr], [x, y], lo, hi)
    f = sp.lambdify([x, y], expr, "numpy")
    t = gen.random((50, 200, 2))
    pts = lo + t * (hi - lo)
    with np.errstate(all="ignore"):
        vals = np.broadcast_to(f(pts[..., 0], pts[..., 1]), pts.shape[:-1])
    ok = np.isfinite(vals)
    assert np.all((vals >= e_lo) | ~ok) and np.all((vals <= e_hi) | ~ok)


def test_division_by_an_interval_through_zero_is_unbounded():
    ((lo, hi),) = enclose([1 / x], [x], np.array([[-1.0]]), np.array([[1.0]]))
    assert lo[0] == -np.inf and hi[0] == np.inf


def test_unsupported_function_falls_back_to_sampling():
    p = gf.Problem.from_sympy(x**3 * sp.asinh(x) + y**2, [x, y])  # asinh: no rule
    bound = lipschitz(p, Box([-1, -1], [1, 1]), seed=0)
    assert bound.kind == "sampled"


@pytest.mark.parametrize(
    ("region", "match"),
    [
        (None, "region"),
        (Box([0.0], [1.0]), "box"),
        (Box([1.0, 1.0], [0.0, 0.0]), "lower <= upper"),
        (np.ones((3, 5)), "region"),
    ],
)
def test_bad_regions(region, match):
    with pytest.raises(ValueError, match=match):
        lipschitz(gf.problems.rosenbrock(), region)
