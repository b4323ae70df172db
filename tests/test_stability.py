"""Linear stability: stability functions, real stability limits, regions, critical steps."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

import gradflow as gf
from gradflow.methods import TABLEAUX, RungeKutta
from gradflow.stability import (
    amplification,
    critical_stepsize,
    real_stability_limit,
    stability_function,
    stability_region,
)

z = sp.Symbol("z")


def _resolvent_form(tableau):
    """R(z) = 1 + z bᵀ(I - zA)⁻¹ 1 by sympy's matrix inverse (independent of the code)."""
    A, b, _, _ = tableau.exact_coefficients
    s = tableau.stages
    Am = sp.Matrix(s, s, lambda i, j: sp.Rational(str(A[i][j])))
    bm = sp.Matrix(1, s, lambda _, j: sp.Rational(str(b[j])))
    inverse = (sp.eye(s) - z * Am).inv()
    return sp.expand(sp.simplify(1 + z * (bm * inverse * sp.ones(s, 1))[0, 0]))


@pytest.mark.parametrize("tableau", list(TABLEAUX.values()), ids=list(TABLEAUX))
def test_stability_function_equals_the_resolvent_form(tableau):
    R = stability_function(RungeKutta(tableau))
    assert sp.expand(R - _resolvent_form(tableau)) == 0


def test_every_registered_tableau_gets_the_stability_checks():
    for test in (
        test_stability_function_equals_the_resolvent_form,
        test_real_stability_limit_is_the_first_root_of_abs_R_equal_one,
    ):
        (mark,) = [m for m in test.pytestmark if m.name == "parametrize"]
        assert list(mark.kwargs["ids"]) == list(TABLEAUX)


def test_known_stability_polynomials():
    assert stability_function(gf.methods.Euler()) == 1 + z
    rk4 = stability_function(RungeKutta(gf.methods.RK4))
    assert sp.expand(rk4 - sum(z**k / math.factorial(k) for k in range(5))) == 0
    # DOPRI54 has a degree-6 polynomial whose z^6 coefficient is 1/600, not 1/720.
    dopri = sp.Poly(stability_function(RungeKutta(gf.methods.DOPRI54)), z)
    assert dopri.degree() == 6 and dopri.coeff_monomial(z**6) == sp.Rational(1, 600)


def _first_crossing(R):
    """Smallest x > 0 with |R(-x)| = 1, from the real roots of R(-x) = ±1 (sympy)."""
    x = sp.Symbol("x")
    roots = []
    for target in (1, -1):
        poly = sp.Poly(sp.expand(R.subs(z, -x) - target), x)
        roots += [complex(r).real for r in poly.nroots(n=30) if abs(complex(r).imag) < 1e-20]
    return min(r for r in roots if r > 1e-9)


@pytest.mark.parametrize("name", list(TABLEAUX), ids=list(TABLEAUX))
def test_real_stability_limit_is_the_first_root_of_abs_R_equal_one(name):
    method = RungeKutta(TABLEAUX[name])
    expected = _first_crossing(stability_function(method))
    assert real_stability_limit(method) == pytest.approx(expected, abs=1e-9)


def test_real_stability_limits_match_the_literature():
    assert real_stability_limit(gf.methods.Euler()) == pytest.approx(2.0, abs=1e-12)
    for name in ("Heun", "Midpoint", "Ralston"):
        assert real_stability_limit(RungeKutta(TABLEAUX[name])) == pytest.approx(2.0, abs=1e-12)
    assert real_stability_limit(RungeKutta(TABLEAUX["RK4"])) == pytest.approx(2.785293563, abs=1e-9)
    # Three-stage third-order methods: 1 - x + x²/2 - x³/6 = -1 at x ≈ 2.5127.
    assert real_stability_limit(RungeKutta(TABLEAUX["SSPRK3"])) == pytest.approx(
        2.5127453266, abs=1e-9
    )
    assert real_stability_limit(RungeKutta(TABLEAUX["DOPRI54"])) == pytest.approx(3.3066, abs=1e-4)


def test_amplification_and_region_of_euler():
    np.testing.assert_allclose(
        amplification(gf.methods.Euler(), [-0.5, -1 + 1j, 0.5j]),
        [0.5, 1.0, abs(1 + 0.5j)],
        rtol=1e-15,
    )
    re = np.linspace(-2.5, 0.5, 31)
    im = np.linspace(-1.5, 1.5, 31)
    region = stability_region(gf.methods.Euler(), re, im)
    grid = re[None, :] + 1j * im[:, None]
    np.testing.assert_array_equal(region.stable, np.abs(1 + grid) <= 1 + 1e-12)
    assert region.amplification.shape == (31, 31)
    with pytest.raises(ValueError, match="re"):
        stability_region(gf.methods.Euler(), [], im)


def test_rk4_region_contains_its_imaginary_interval():
    # RK4 is stable on the imaginary axis up to |y| = 2√2.
    rk4 = RungeKutta(TABLEAUX["RK4"])
    assert amplification(rk4, 2.8j) <= 1.0
    assert amplification(rk4, 2.9j) > 1.0


def test_critical_stepsize_from_eigenvalues_and_problems():
    euler, rk4 = gf.methods.Euler(), RungeKutta(TABLEAUX["RK4"])
    assert critical_stepsize(euler, [1.0, 4.0, 10.0]) == pytest.approx(0.2)
    assert critical_stepsize(rk4, [1.0, 10.0]) == pytest.approx(0.2785293563, abs=1e-10)
    assert critical_stepsize(euler, [-1.0, 0.0]) == math.inf
    quad = gf.problems.quadratic([0.5, 3.0, 8.0], seed=2)
    assert critical_stepsize(euler, quad) == pytest.approx(0.25)
    rosen = gf.problems.rosenbrock()
    # Hessian at (1, 1) is [[802, -400], [-400, 200]]: λmax = 501 + √(301² + 400²).
    lam = 501 + math.sqrt(301**2 + 400**2)
    assert critical_stepsize(euler, rosen) == pytest.approx(2 / lam, rel=1e-12)
    batch = critical_stepsize(euler, rosen, theta=np.array([[1.0, 1.0], [0.0, 0.0]]))
    np.testing.assert_allclose(batch, [2 / lam, 2 / 200.0], rtol=1e-12)  # diag(2, 200) at 0


def test_bad_arguments():
    with pytest.raises(TypeError, match="method"):
        real_stability_limit("Euler")
    with pytest.raises(ValueError, match="eigenvalues"):
        critical_stepsize(gf.methods.Euler(), [])
    x, y = sp.symbols("x y")
    no_minimiser = gf.Problem.from_sympy(sp.cos(x) + y**2, [x, y])
    with pytest.raises(ValueError, match="theta"):
        critical_stepsize(gf.methods.Euler(), no_minimiser)


@pytest.mark.parametrize("beta", [0.0, 0.3, 0.5, 0.9])
def test_momentum_limits_match_closed_forms(beta):
    assert real_stability_limit(gf.methods.HeavyBall(beta)) == pytest.approx(
        2 * (1 + beta), abs=1e-9
    )
    assert real_stability_limit(gf.methods.Nesterov(beta)) == pytest.approx(
        (2 + 2 * beta) / (1 + 2 * beta), abs=1e-9
    )


def test_agd_and_implicit_limits_and_functions():
    assert real_stability_limit(gf.methods.NesterovAGD()) == pytest.approx(4 / 3, abs=1e-9)
    assert real_stability_limit(gf.methods.ImplicitEuler()) == math.inf
    assert sp.simplify(stability_function(gf.methods.ImplicitEuler()) - 1 / (1 - z)) == 0
    zeta = sp.Symbol("zeta")
    hb = stability_function(gf.methods.HeavyBall(0.5))
    assert sp.expand(hb - (zeta**2 - (sp.Rational(3, 2) + z) * zeta + sp.Rational(1, 2))) == 0
