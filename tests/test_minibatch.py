"""Minibatch SGD in ``solve`` and the gradient-noise estimators."""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
from gradflow.methods import SGD, Adam


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((30, 5))
    return gf.problems.least_squares(X, rng.standard_normal(30))


def test_one_step_mean_over_seeds_is_full_batch_step(problem):
    theta0, h, B = np.ones(5), 0.1, 4
    steps = np.array(
        [
            gf.solve(problem, theta0, SGD(), h, steps=1, save="final", batch_size=B, seed=s).theta[
                -1
            ]
            for s in range(2000)
        ]
    )
    full = theta0 - h * problem.grad(theta0)
    mean = steps.mean(axis=0)
    se = steps.std(axis=0, ddof=1) / np.sqrt(steps.shape[0])
    assert np.all(np.abs(mean - full) <= 3 * se)


def test_trajectories_draw_independent_batches_and_are_reproducible(problem):
    theta0 = np.ones((4, 5))
    a = gf.solve(problem, theta0, SGD(), 0.1, steps=5, batch_size=3, seed=1)
    b = gf.solve(problem, theta0, SGD(), 0.1, steps=5, batch_size=3, seed=1)
    c = gf.solve(problem, theta0, SGD(), 0.1, steps=5, batch_size=3, seed=2)
    np.testing.assert_array_equal(a.theta, b.theta)
    assert not np.array_equal(a.theta, c.theta)
    assert len({tuple(row) for row in a.theta[-1]}) == 4  # independent per element
    # an element's samples do not depend on the others (elements 2..3 alone)
    d = gf.solve(problem, theta0, SGD(), 0.1, steps=5, batch_size=3, seed=1)
    np.testing.assert_array_equal(d.theta[:, 2:], a.theta[:, 2:])


def test_full_batch_size_is_full_gradient(problem):
    theta0 = np.ones((2, 5))
    a = gf.solve(problem, theta0, Adam(), 0.01, steps=10, batch_size=30, seed=0)
    b = gf.solve(problem, theta0, Adam(), 0.01, steps=10)
    np.testing.assert_allclose(a.theta, b.theta, rtol=0, atol=1e-12)


def test_replay_of_divergence_reproduces_dense_checks(problem):
    """Rows that diverge are replayed with the same minibatches (bits as a dense check)."""
    theta0 = np.random.default_rng(0).standard_normal((6, 5))
    hs = np.array([0.05, 0.5, 0.1, 30.0, 0.02, 50.0])
    kw = {"steps": 1000, "batch_size": 2, "seed": 9, "save": "final"}
    sparse = gf.solve(problem, theta0, SGD(momentum=0.5), hs, **kw)
    dense = gf.solve(problem, theta0, SGD(momentum=0.5), hs, callback=lambda info: None, **kw)
    assert (sparse.status == "diverged").any()
    np.testing.assert_array_equal(sparse.status, dense.status)
    np.testing.assert_array_equal(sparse.n_steps, dense.n_steps)
    # (same minibatches; BLAS matmuls in least_squares may round differently for a
    # different number of rows, hence 1e-12 rather than bit equality)
    np.testing.assert_allclose(sparse.theta, dense.theta, rtol=1e-12, atol=0)


def test_mlp_and_logistic_minibatches():
    p = gf.problems.mlp_regression(width=4, n_points=12)
    theta = p.init(seed=0, batch_shape=3)
    per = p.per_example_grad(theta)
    assert per.shape == (3, 12, p.dim)
    np.testing.assert_allclose(per.mean(axis=-2), p.grad(theta), rtol=1e-12, atol=1e-14)
    traj = gf.solve(p, theta, SGD(), 0.05, steps=5, batch_size=4, seed=0)
    assert (traj.status == "ok").all()
    rng = np.random.default_rng(1)
    q = gf.problems.logistic_regression(rng.standard_normal((20, 3)), rng.integers(0, 2, 20))
    traj = gf.solve(q, np.zeros(3), Adam(), 0.01, steps=5, batch_size=5, seed=0)
    assert (traj.status == "ok").all()


@pytest.mark.parametrize("bad", [0, -1, 31, 2.0, True])
def test_bad_batch_size(problem, bad):
    with pytest.raises((ValueError, TypeError), match="batch_size"):
        gf.solve(problem, np.ones(5), SGD(), 0.1, steps=1, batch_size=bad)


def test_minibatch_needs_finite_sum_and_seed_needs_batch(problem):
    q = gf.problems.quadratic([1.0, 2.0], seed=0)
    with pytest.raises(TypeError, match="finite sum"):
        gf.solve(q, np.ones(2), SGD(), 0.1, steps=1, batch_size=1)
    with pytest.raises(ValueError, match="batch_size"):
        gf.solve(problem, np.ones(5), SGD(), 0.1, steps=1, seed=0)
    with pytest.raises(ValueError, match="seed"):
        gf.solve(problem, np.ones(5), SGD(), 0.1, steps=1, batch_size=2, seed=-3)


# ---- noise estimators -------------------------------------------------------------------
def test_b_simple_matches_closed_form_on_least_squares():
    """x ~ N(0, I_d), y = xᵀθ* + σε: at θ = θ* + δ, G = δ and
    tr Σ = (d + 1)‖δ‖² + dσ², so B_simple = d + 1 + dσ²/‖δ‖²."""
    d, n, sigma = 5, 40_000, 0.5
    rng = np.random.default_rng(11)
    theta_star = rng.standard_normal(d)
    X = rng.standard_normal((n, d))
    y = X @ theta_star + sigma * rng.standard_normal(n)
    p = gf.problems.least_squares(X, y)
    deltas = np.array([[1.0, 0, 0, 0, 0], [0.3, -0.2, 0.1, 0.0, 0.4]])
    est = gf.analysis.gradient_noise(p, theta_star + deltas)
    norm2 = np.sum(deltas**2, axis=-1)
    closed = d + 1 + d * sigma**2 / norm2
    np.testing.assert_allclose(est.b_simple, closed, rtol=0.10)
    np.testing.assert_allclose(gf.analysis.simple_noise_scale(p, theta_star + deltas), est.b_simple)


def test_noise_trace_sets_minibatch_variance(problem):
    """Var of a B-minibatch gradient (without replacement) = tr Σ (n - B)/(B (n - 1))."""
    theta, B, n = np.ones(5), 4, 30
    sampler = gf.problems.MinibatchSampler(problem, B, seed=0, n_elements=4000)
    g = sampler.view(0, np.arange(4000)).grad(np.broadcast_to(theta, (4000, 5)))
    var = np.sum(g.var(axis=0, ddof=1))
    trace = gf.analysis.gradient_noise(problem, theta).trace
    np.testing.assert_allclose(var, trace * (n - B) / (B * (n - 1)), rtol=0.1)


def test_noise_bad_input(problem):
    with pytest.raises(TypeError, match="finite sum"):
        gf.analysis.gradient_noise(gf.problems.quadratic([1.0], seed=0), [1.0])
    with pytest.raises(ValueError, match="ddof"):
        gf.analysis.gradient_noise(problem, np.ones(5), ddof=2)
