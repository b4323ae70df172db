"""Gradient descent against scipy's gradient flow and against closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import expm

import gradflow as gf
from gradflow.analysis import fit_order
from gradflow.problems import muller_brown, quadratic, rosenbrock


def test_reference_flow_matches_matrix_exponential_on_a_quadratic():
    rng = np.random.default_rng(0)
    p = quadratic([0.5, 2.0, 7.0], b=rng.normal(size=3), seed=1)
    theta0 = rng.normal(size=(4, 3))
    ts = np.array([0.0, 0.1, 0.7, 2.0])
    ref = gf.reference.gradient_flow(p, theta0, ts)
    star = np.linalg.solve(p.A, p.b)
    for i, t in enumerate(ts):
        expected = star + (expm(-t * p.A) @ (theta0 - star).T).T
        np.testing.assert_allclose(ref.theta[i], expected, rtol=0, atol=1e-10)
    assert ref.theta.shape == (4, 4, 3) and ref.t.shape == ref.loss.shape == (4, 4)
    np.testing.assert_allclose(ref.loss, p.loss(ref.theta), rtol=1e-15)


@pytest.mark.parametrize("scipy_method", ["Radau", "BDF", "LSODA"])
def test_implicit_reference_with_exact_jacobian_agrees_with_dop853(scipy_method):
    p = muller_brown()
    theta0 = np.array([[-0.2, 0.8], [0.3, 0.2]])
    ts = [0.0, 0.01, 0.05]
    explicit = gf.reference.gradient_flow(p, theta0, ts)
    implicit = gf.reference.gradient_flow(
        p, theta0, ts, scipy_method=scipy_method, rtol=1e-10, atol=1e-10
    )
    np.testing.assert_allclose(implicit.theta, explicit.theta, rtol=0, atol=1e-7)


def test_reference_rejects_bad_input():
    p = rosenbrock()
    with pytest.raises(ValueError, match="scipy_method"):
        gf.reference.gradient_flow(p, np.zeros(2), [1.0], scipy_method="Euler")
    with pytest.raises(ValueError, match="theta0"):
        gf.reference.gradient_flow(p, np.zeros(3), [1.0])
    with pytest.raises(ValueError, match="t_eval"):
        gf.reference.gradient_flow(p, np.zeros(2), [1.0, 0.5])


@pytest.mark.parametrize(
    ("make", "theta0", "t_final", "levels"),
    [
        # Rosenbrock's flow from the classic start is stiff (λmax ≈ 1506 on the path):
        # the asymptotic regime starts near h·λmax ≈ 0.2.
        (rosenbrock, [-1.2, 1.0], 0.5, np.arange(12, 17)),
        (muller_brown, [-0.2, 0.8], 0.02, np.arange(6, 11)),
    ],
)
def test_gd_converges_to_the_flow_with_order_one(make, theta0, t_final, levels):
    p = make()
    hs = t_final / 2.0**levels
    ref = gf.reference.gradient_flow(p, np.array(theta0), [t_final])
    runs = gf.solve(
        p, np.broadcast_to(theta0, (hs.size, 2)), stepsize=hs, t_final=t_final, save="final"
    )
    assert (runs.status == "ok").all()
    np.testing.assert_array_equal(runs.n_steps, 2**levels)
    errors = np.linalg.norm(runs.theta[0] - ref.theta[0], axis=-1)
    fit = fit_order(hs, errors)
    assert fit.order == pytest.approx(1.0, abs=0.05)


def test_gd_error_constant_matches_the_linear_theory_on_a_quadratic():
    # For θ' = -λθ, (1 - hλ)^(T/h) = e^{-λT}(1 - hλ²T/2 + O(h²)): the error is
    # (λ²T/2) e^{-λT} h to first order.
    lam, t_final = 3.0, 1.0
    p = quadratic(A=np.array([[lam]]))
    hs = t_final / 2.0 ** np.arange(8, 13)
    runs = gf.solve(p, np.ones((hs.size, 1)), stepsize=hs, t_final=t_final, save="final")
    errors = np.abs(runs.theta[0, :, 0] - np.exp(-lam * t_final))
    fit = fit_order(hs, errors)
    assert fit.order == pytest.approx(1.0, abs=0.01)
    assert fit.constant == pytest.approx(lam**2 * t_final / 2 * np.exp(-lam * t_final), rel=0.02)
