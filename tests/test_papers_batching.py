"""The batch-size reproductions' own pieces: the Hadamard design's noise scale and
expected loss, the epoch accounting and the schedules of the decay/grow runs.

Expected values: hand-written numpy (per-example gradients by the textbook formula),
a Monte-Carlo average of one SGD step on random permutations, and
exact arithmetic on the schedules.
"""

from __future__ import annotations

import numpy as np

import gradflow as gf
from gradflow.papers import batch_size_schedule as bss
from gradflow.papers import linear_scaling as ls


def test_hadamard_design_has_identity_hessian_and_b_simple_d_minus_1():
    sz = ls.QUICK
    X, y = ls.data(sz)
    np.testing.assert_array_equal(X.T @ X, sz.n * np.eye(sz.d))
    theta = np.random.default_rng(1).standard_normal(sz.d)
    per = X * (X @ theta - y)[:, None]  # ∇ℓ_i = x_i (x_iᵀθ - y_i)
    G = per.mean(axis=0)
    trace = np.sum((per - G) ** 2) / sz.n
    assert np.isclose(trace / (G @ G), sz.d - 1, rtol=1e-12)
    p = gf.problems.least_squares(X, y)
    assert np.isclose(gf.analysis.simple_noise_scale(p, theta), sz.d - 1, rtol=1e-12)


def test_expected_loss_is_the_mean_of_one_sgd_step():
    """E L(θ - h ĝ) over minibatches drawn without replacement (the first B of a random
    permutation), by Monte Carlo."""
    sz = ls.QUICK
    X, y = ls.data(sz)
    p = gf.problems.least_squares(X, y)
    rng = np.random.default_rng(5)
    theta = rng.standard_normal(sz.d)
    B, h, draws = 8, 0.3, 20_000
    idx = np.argsort(rng.random((draws, sz.n)), axis=1)[:, :B]  # B of n, no replacement
    Xi = X[idx]  # (draws, B, d)
    g = np.einsum("kbd,kb->kd", Xi, Xi @ theta - y[idx]) / B
    after = p.loss(theta - h * g)
    mean, se = after.mean(), after.std(ddof=1) / np.sqrt(draws)
    expected = float(p.loss(theta)) * ls.expected_loss(np.array([h]), B, sz.n, sz.d)[-1]
    assert abs(mean - expected) <= 4 * se


def test_epochs_seen_and_the_decay_grow_schedules_match_g_per_phase():
    assert bss.epochs_seen(np.array([4, 4, 8]), 8).tolist() == [0.0, 0.5, 1.0, 2.0]
    sz = bss.QUICK
    sc = bss._schedules(sz)
    steps = int(sc["steps_grow"].sum())
    sizes = np.floor(np.asarray(sc["grow_batch"](np.arange(steps))) + 0.5).astype(int)
    epochs = bss.epochs_seen(sizes, sz.n)
    assert epochs[-1] == sum(sz.phases)  # every phase is whole epochs
    bounds = np.cumsum(sc["steps_grow"])[:-1]
    np.testing.assert_allclose(epochs[bounds], np.cumsum(sz.phases)[:-1])
    # decay run: h_j (n/B0 - 1) = h0 (n/B_j - 1), the noise scale of the grow run
    h = np.asarray(sc["decay_step"](np.cumsum(np.r_[0, sc["steps_decay"][:-1]])))
    np.testing.assert_allclose(h * (sz.n / sz.b0 - 1), bss.H0 * (sz.n / sc["B"] - 1), rtol=1e-14)


def test_crossing_interpolates_in_log_b():
    b = np.array([2.0, 4.0, 8.0])
    assert np.isclose(ls._crossing(b, np.array([1.0, 0.75, 0.25]), 0.5), 4 * np.sqrt(2))
    assert ls._crossing(b, np.array([1.0, 0.9, 0.8]), 0.5) == np.inf
