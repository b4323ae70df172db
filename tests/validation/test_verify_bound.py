"""verify_bound: predicted critical steps against measured divergence thresholds.

Quadratics, Rosenbrock near its minimum and the three Müller–Brown minima, for gradient
descent, RK4 and heavy ball: the measured threshold is within 2 % of β/λmax(θ*) (in
practice within the budget's resolution, ~0.2 %)."""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
from gradflow.stability import real_stability_limit, verify_bound

METHODS = [
    gf.methods.Euler(),
    gf.methods.RungeKutta(gf.methods.RK4),
    gf.methods.HeavyBall(0.9),
]
IDS = ["Euler", "RK4", "HeavyBall"]


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_quadratics(method):
    starts = np.random.default_rng(5).normal(size=(2, 3))
    spectra = [[0.5, 3.0, 10.0], [1.0, 1.0, 40.0]]
    for spectrum in spectra:
        p = gf.problems.quadratic(spectrum, b=[1.0, 0.0, -1.0], seed=4)
        check = verify_bound(p, starts, method)
        beta = real_stability_limit(method)
        np.testing.assert_allclose(check.predicted, beta / max(spectrum), rtol=1e-10)
        np.testing.assert_allclose(
            check.minimizer, np.broadcast_to(p.minimizers[0], (2, 3)), atol=1e-10
        )
        assert np.all(np.abs(check.relative_gap) < 0.02)
        assert np.all(np.abs(check.relative_gap) <= 2 * check.resolution + 1e-3)
        lo, hi = check.bracket
        assert np.all(lo < hi) and np.all(hi - lo < 1e-3 * check.predicted)
        assert np.allclose(check.lipschitz, max(spectrum))
        if isinstance(method, gf.methods.HeavyBall):
            assert not check.monotone_descent.any()  # momentum overshoots even at 1/L
        else:
            assert check.monotone_descent.all()  # the descent lemma


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_rosenbrock_near_its_minimum(method):
    p = gf.problems.rosenbrock()
    start = np.array([1.0, 1.0]) + 0.05 * np.random.default_rng(0).normal(size=2)
    check = verify_bound(p, start, method)
    np.testing.assert_allclose(check.minimizer, [1.0, 1.0], atol=1e-10)
    lam = np.linalg.eigvalsh(p.hessian(np.ones(2)))[-1]
    assert float(check.predicted) == pytest.approx(real_stability_limit(method) / lam, rel=1e-10)
    assert abs(float(check.relative_gap)) < 0.02


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_muller_brown_minima(method):
    p = gf.problems.muller_brown()
    starts = p.minima + 1e-3 * np.random.default_rng(1).normal(size=(3, 2))
    check = verify_bound(p, starts, method)
    np.testing.assert_allclose(check.minimizer, p.minima, atol=1e-9)
    assert np.all(np.abs(check.relative_gap) < 0.02)


def test_implicit_euler_has_no_finite_threshold():
    p = gf.problems.quadratic([0.5, 3.0, 10.0], seed=4)
    check = verify_bound(p, [1.0, 1.0, 1.0], gf.methods.ImplicitEuler())
    assert check.predicted == np.inf and check.measured == np.inf and check.relative_gap == 0
    assert check.bracket[0] >= 1e5 * 2 / 10.0


def test_explicit_budget_and_errors():
    p = gf.problems.quadratic([1.0, 10.0], seed=0)
    check = verify_bound(p, [1.0, 1.0], gf.methods.Euler(), steps=1000)
    assert check.steps == 1000 and check.resolution > 0.005
    assert abs(float(check.relative_gap)) <= check.resolution + 1e-3
    with pytest.raises(ValueError, match="stationary"):
        verify_bound(p, [0.0, 0.0], gf.methods.Euler())
    with pytest.raises(TypeError, match="method"):
        verify_bound(p, [1.0, 1.0], "gd")
    with pytest.raises(ValueError, match="theta0"):
        verify_bound(p, [1.0, 1.0, 1.0], gf.methods.Euler())
