"""Random reshuffling: ``solve(..., batch_size=B, shuffle=True)`` and its sampler."""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
from gradflow.methods import SGD
from gradflow.problems import MinibatchSampler

N, D = 12, 3


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(11)
    return gf.problems.least_squares(rng.standard_normal((N, D)), rng.standard_normal(N))


def _permutations(seed: int, epoch: int, elements: int, n: int) -> np.ndarray:
    """The documented rule, written out: stable argsort of n uniforms per element from
    PCG64(seed) advanced by epoch * 2**64 draws."""
    bits = np.random.PCG64(seed)
    bits.advance(epoch * 2**64)
    return np.argsort(np.random.Generator(bits).random((elements, n)), axis=1, kind="stable")


def test_every_epoch_uses_every_example_once(problem):
    B, E = 4, 5
    sampler = MinibatchSampler(problem, B, seed=3, n_elements=E, shuffle=True)
    rows = np.arange(E)
    epochs = []
    for epoch in range(4):
        batches = [sampler.indices(epoch * (N // B) + p, rows) for p in range(N // B)]
        order = np.concatenate(batches, axis=1)
        np.testing.assert_array_equal(np.sort(order, axis=1), np.broadcast_to(np.arange(N), (E, N)))
        epochs.append(order)
    # new orders each epoch and for each element
    assert not np.array_equal(epochs[0], epochs[1])
    assert len({tuple(r) for r in epochs[0].tolist()}) == E


def test_indices_follow_the_documented_rule_in_any_order(problem):
    B, E, m = 3, 4, N // 3
    sampler = MinibatchSampler(problem, B, seed=17, n_elements=E, shuffle=True)
    for k in (9, 2, 3, 13, 0, 14, 9):  # out of order, and revisited
        epoch, p = divmod(k, m)
        expected = _permutations(17, epoch, E, N)[:, p * B : (p + 1) * B]
        np.testing.assert_array_equal(sampler.indices(k, np.arange(E)), expected)
        np.testing.assert_array_equal(sampler.indices(k, np.array([2, 0])), expected[[2, 0]])


def test_sgd_run_matches_a_hand_loop_with_reshuffling(problem):
    B, E, h, steps, seed = 4, 3, 0.1, 10, 5
    theta0 = np.random.default_rng(0).standard_normal((E, D))
    traj = gf.solve(problem, theta0, SGD(), h, steps=steps, batch_size=B, seed=seed, shuffle=True)
    X, y = problem.X, problem.y
    theta = theta0.copy()
    m = N // B
    for k in range(steps):
        epoch, p = divmod(k, m)
        idx = _permutations(seed, epoch, E, N)[:, p * B : (p + 1) * B]
        for j in range(E):  # the plain published loop: one trajectory at a time
            Xb, yb = X[idx[j]], y[idx[j]]
            theta[j] = theta[j] - h * Xb.T @ (Xb @ theta[j] - yb) / B
    np.testing.assert_allclose(traj.theta[-1], theta, rtol=1e-12, atol=1e-13)


def test_reproducible_float32_and_rows_independent(problem):
    theta0 = np.ones((4, D), dtype=np.float32)
    kw = {"steps": 9, "batch_size": 3, "seed": 1, "shuffle": True}
    a = gf.solve(problem, theta0, SGD(), 0.05, **kw)
    b = gf.solve(problem, theta0, SGD(), 0.05, **kw)
    assert a.theta.dtype == np.float32
    np.testing.assert_array_equal(a.theta, b.theta)
    # an element that diverges changes no other element's bits (replay draws the same)
    hs = np.array([0.05, 0.05, 40.0, 0.05], dtype=np.float32)
    c = gf.solve(problem, theta0, SGD(), hs, **{**kw, "steps": 200})
    d = gf.solve(problem, theta0, SGD(), np.float32(0.05), **{**kw, "steps": 200})
    assert c.status.tolist() == ["ok", "ok", "diverged", "ok"]
    np.testing.assert_array_equal(c.theta[:, [0, 1, 3]], d.theta[:, [0, 1, 3]])


def test_full_batch_under_shuffle_is_gradient_descent(problem):
    theta0 = np.ones(D)
    a = gf.solve(problem, theta0, SGD(), 0.1, steps=5, batch_size=N, seed=0, shuffle=True)
    b = gf.solve(problem, theta0, SGD(), 0.1, steps=5)
    np.testing.assert_allclose(a.theta, b.theta, rtol=0, atol=1e-14)


def test_bad_shuffle_arguments(problem):
    with pytest.raises(TypeError, match="shuffle"):
        gf.solve(problem, np.ones(D), SGD(), 0.1, steps=2, batch_size=3, shuffle="yes")
    with pytest.raises(ValueError, match="batch_size must divide n_samples"):
        gf.solve(problem, np.ones(D), SGD(), 0.1, steps=2, batch_size=5, shuffle=True)
    with pytest.raises(ValueError, match=r"shuffle.*batch_size"):
        gf.solve(problem, np.ones(D), SGD(), 0.1, steps=2, shuffle=True)
    # shuffle=False without batch_size is the default and fine
    gf.solve(problem, np.ones(D), SGD(), 0.1, steps=2, shuffle=False)
