"""Optimisation-side rules: Armijo, Polyak, Barzilai–Borwein, AdGD, local Lipschitz."""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
from gradflow.rules import AdGD, Armijo, BarzilaiBorwein, LocalLipschitz, Polyak


def _logistic():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(100, 10))
    y = (X @ rng.normal(size=10) > 0).astype(float)
    return gf.problems.logistic_regression(X, y, l2=1e-2)


def test_armijo_accepted_steps_satisfy_sufficient_decrease():
    problem = gf.problems.rosenbrock()
    c = 1e-4
    traj = gf.solve(problem, np.array([[-1.2, 1.0], [0.5, -0.5]]), stepsize=Armijo(c=c), steps=400)
    for i in range(2):
        theta, loss, h = traj.theta[:, i], traj.loss[:, i], traj.h[:, i]
        moved = np.any(theta[1:] != theta[:-1], axis=-1)
        assert moved.sum() == traj.n_steps[i]
        g = problem.grad(theta[:-1][moved])
        used = h[1:][moved]
        assert np.all(loss[1:][moved] <= loss[:-1][moved] - c * used * np.sum(g * g, -1))
        # Rejections happened, and every accepted step is h0·ρ^j for some j.
        assert traj.n_rejected[i] > 0
        j = np.log2(used)
        np.testing.assert_allclose(j, np.round(j), atol=1e-12)


def test_polyak_reaches_the_minimum_to_1e_10():
    problem = gf.problems.quadratic([1.0, 5.0, 20.0], b=np.array([1.0, -2.0, 0.5]), seed=3)
    theta0 = np.random.default_rng(0).normal(size=(4, 3))
    traj = gf.solve(problem, theta0, stepsize=Polyak(), steps=400, save="final")
    assert np.all(traj.loss[0] - problem.minimum < 1e-10)
    # One gradient a step: the rule's ∇L(θ_{k+1}) is the one GD's next step uses
    # (one evaluation, shared), plus the gradient at the last state.
    assert np.all(traj.n_grad == 1 + 400)


def test_polyak_needs_a_known_minimum():
    with pytest.raises(ValueError, match="f_star"):
        gf.solve(_logistic(), np.zeros(10), stepsize=Polyak(), steps=3)


@pytest.mark.parametrize("variant", [1, 2])
def test_barzilai_borwein_steps_stay_in_the_inverse_spectrum(variant):
    eigs = np.array([0.5, 2.0, 9.0, 40.0])
    problem = gf.problems.quadratic(eigs, seed=1)
    theta0 = np.random.default_rng(2).normal(size=(5, 4))
    traj = gf.solve(problem, theta0, stepsize=BarzilaiBorwein(variant, h0=1e-3), steps=60)
    steps = traj.h[2:]  # h[1] is h0, the first secant step is h[2]
    finite = traj.loss[2:] > 1e-28  # after convergence the secants are rounding noise
    assert np.all(steps[finite] >= 1 / eigs.max() * (1 - 1e-10))
    assert np.all(steps[finite] <= 1 / eigs.min() * (1 + 1e-10))


def test_adgd_converges_on_logistic_regression_without_knowing_l():
    problem = _logistic()
    from scipy.optimize import minimize

    opt = minimize(
        problem.loss, np.zeros(10), jac=problem.grad, method="BFGS", options={"gtol": 1e-12}
    )
    best = opt.fun
    traj = gf.solve(
        problem,
        np.zeros((3, 10)) + np.arange(3)[:, None],
        stepsize=AdGD(),
        steps=3000,
        save="final",
    )
    assert (traj.status == "ok").all()
    grad_norm = np.linalg.norm(problem.grad(traj.theta[0]), axis=-1)
    assert np.all(grad_norm < 1e-6)
    assert np.all(traj.loss[0] - best < 1e-8)


@pytest.mark.parametrize("estimator", ["secant", "hvp"])
def test_local_lipschitz_step_is_safety_over_the_local_curvature(estimator):
    problem = gf.problems.quadratic(A=np.diag([3.0]))
    rule = LocalLipschitz(safety=0.5, h0=0.01, estimator=estimator)
    traj = gf.solve(problem, [1.0], stepsize=rule, steps=5)
    np.testing.assert_allclose(traj.h[2:], 0.5 / 3.0, rtol=1e-12)
    # GD's gradient per step, shared with the secant rule (plus the gradient at the last
    # state), or GD's gradient plus the rule's HVP (two gradient equivalents).
    assert traj.n_grad == (1 + 5 if estimator == "secant" else 3 * 5)


def test_local_lipschitz_hvp_converges_on_rosenbrock_valley():
    problem = gf.problems.rosenbrock()
    traj = gf.solve(
        problem,
        [0.5, 0.2],
        stepsize=LocalLipschitz(estimator="hvp", h0=1e-4),
        steps=3000,
        save="final",
    )
    assert traj.status == "ok" and traj.loss[0] < problem.loss(np.array([0.5, 0.2])) * 1e-3


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (lambda: Armijo(c=0.0), "c"),
        (lambda: Armijo(rho=1.0), "rho"),
        (lambda: Armijo(h0=-1.0), "h0"),
        (lambda: BarzilaiBorwein(3), "variant"),
        (lambda: AdGD(h0=0.0), "h0"),
        (lambda: LocalLipschitz(safety=-1.0), "safety"),
        (lambda: LocalLipschitz(estimator="power"), "estimator"),
        (lambda: Polyak(h_max=0.0), "h_max"),
    ],
)
def test_bad_rule_arguments(factory, match):
    with pytest.raises(ValueError, match=match):
        factory()
