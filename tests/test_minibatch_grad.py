"""Minibatch gradients that cost O(B·d), and the O(B) draw of their indices.

Expected values come from hand-written numpy formulas in this file, from the problems'
own per-example gradients (an independent code path), from full-batch evaluations
(``index = all examples``) and from a sequential Floyd loop written here; the draw is
checked statistically with chi-square tests at fixed seeds.
"""

from __future__ import annotations

import tracemalloc
from itertools import combinations

import numpy as np
import pytest

import gradflow as gf
from gradflow.problems import MinibatchSampler, Problem
from gradflow.problems._minibatch import MinibatchView, floyd_sample

scipy_stats = pytest.importorskip("scipy.stats")

_RNG = np.random.default_rng(20261201)
X = _RNG.standard_normal((40, 6))
Y = X @ _RNG.standard_normal(6) + 0.3 * _RNG.standard_normal(40)
LABELS = (X @ _RNG.standard_normal(6) + _RNG.standard_normal(40) > 0).astype(float)


def _problems() -> dict[str, Problem]:
    return {
        "least_squares": gf.problems.least_squares(X, Y),
        "logistic_regression": gf.problems.logistic_regression(X, LABELS, l2=0.3),
        "mlp_regression": gf.problems.mlp_regression(width=5, n_points=17, degree=3, seed=2),
    }


PROBLEMS = _problems()
NAMES = list(PROBLEMS)


def _theta(p: Problem, rows: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if hasattr(p, "init"):
        return p.init(seed=seed, batch_shape=rows) + 0.1 * rng.standard_normal((rows, p.dim))
    return rng.standard_normal((rows, p.dim))


def _index(p: Problem, rows: int, B: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, p.n_samples, (rows, B))


# -- values ------------------------------------------------------------------------------
def _hand_grad(name: str, p: Problem, t: np.ndarray, S: np.ndarray) -> np.ndarray:
    """The minibatch mean gradient of one row, by the textbook formula."""
    if name == "least_squares":
        return X[S].T @ (X[S] @ t - Y[S]) / S.size
    if name == "logistic_regression":
        y = 2.0 * LABELS[S] - 1.0
        sig = 0.5 * (1.0 - np.tanh(0.5 * y * (X[S] @ t)))  # σ(-m), another form
        return -(X[S].T @ (y * sig)) / S.size + 0.3 * t
    return p.per_example_grad(t)[S].mean(axis=0)


@pytest.mark.parametrize("name", NAMES)
def test_minibatch_grad_is_the_mean_over_the_indexed_examples(name):
    p = PROBLEMS[name]
    theta, idx = _theta(p, 9), _index(p, 9, 5)  # with repeated indices in some rows
    got = p.minibatch_grad(theta, idx)
    hand = np.stack([_hand_grad(name, p, t, S) for t, S in zip(theta, idx, strict=True)])
    np.testing.assert_allclose(got, hand, rtol=1e-12, atol=1e-14)
    # the per-example path the view used to take (and still takes without minibatch_grad)
    per = p.per_example_grad(theta)
    picked = np.take_along_axis(per, idx[:, :, None], axis=1).mean(axis=1)
    np.testing.assert_allclose(got, picked, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_all_examples_give_the_full_gradient_and_hvp(name):
    p = PROBLEMS[name]
    theta = _theta(p, 4)
    v = np.random.default_rng(5).standard_normal(theta.shape)
    every = np.broadcast_to(np.arange(p.n_samples), (4, p.n_samples))
    np.testing.assert_allclose(
        p.minibatch_grad(theta, every), p.grad(theta), rtol=1e-12, atol=1e-14
    )
    np.testing.assert_allclose(
        p.minibatch_hvp(theta, v, every), p.hvp(theta, v), rtol=1e-11, atol=1e-13
    )


@pytest.mark.parametrize("name", NAMES)
def test_minibatch_hvp_is_the_derivative_of_minibatch_grad(name):
    p = PROBLEMS[name]
    theta, idx = _theta(p, 6), _index(p, 6, 4)
    v = np.random.default_rng(7).standard_normal(theta.shape)
    eps = 1e-5
    diff = (p.minibatch_grad(theta + eps * v, idx) - p.minibatch_grad(theta - eps * v, idx)) / (
        2 * eps
    )
    np.testing.assert_allclose(p.minibatch_hvp(theta, v, idx), diff, rtol=1e-6, atol=1e-8)


def test_hand_hvps_of_the_regressions():
    theta, idx = _theta(PROBLEMS["least_squares"], 5), _index(PROBLEMS["least_squares"], 5, 7)
    v = np.random.default_rng(8).standard_normal(theta.shape)
    lsq = PROBLEMS["least_squares"].minibatch_hvp(theta, v, idx)
    logit = PROBLEMS["logistic_regression"].minibatch_hvp(theta, v, idx)
    for r, S in enumerate(idx):
        np.testing.assert_allclose(lsq[r], X[S].T @ (X[S] @ v[r]) / 7, rtol=1e-12, atol=1e-14)
        m = (2.0 * LABELS[S] - 1.0) * (X[S] @ theta[r])
        s = 1.0 / (4.0 * np.cosh(0.5 * m) ** 2)  # σ(m)σ(-m)
        expected = X[S].T @ (s * (X[S] @ v[r])) / 7 + 0.3 * v[r]
        np.testing.assert_allclose(logit[r], expected, rtol=1e-12, atol=1e-14)


def test_logistic_tails_do_not_overflow_or_warn():
    p = gf.problems.logistic_regression(np.array([[1.0], [-1.0]]), [1, 0])
    theta = np.array([[-1e4], [1e4], [np.inf]])
    idx = np.array([[0, 1], [0, 1], [0, 0]])
    g = p.minibatch_grad(theta, idx)  # warnings are errors in this suite
    np.testing.assert_array_equal(g[:2, 0], [-1.0, 0.0])
    assert np.isnan(g[2, 0]) or g[2, 0] == 0.0
    h = p.minibatch_hvp(theta[:2], np.ones((2, 1)), idx[:2])
    np.testing.assert_array_equal(h, 0.0)


# -- row stability and dtypes ------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", NAMES)
def test_batched_equals_single_rows_bit_for_bit(name, dtype):
    p = PROBLEMS[name]
    rows = 300
    theta = _theta(p, rows).astype(dtype)
    v = np.random.default_rng(3).standard_normal(theta.shape).astype(dtype)
    idx = _index(p, rows, 6)
    grad = p.minibatch_grad(theta, idx)
    hvp = p.minibatch_hvp(theta, v, idx)
    assert grad.dtype == dtype and hvp.dtype == dtype
    one = [p.minibatch_grad(theta[i : i + 1], idx[i : i + 1]) for i in range(rows)]
    np.testing.assert_array_equal(grad, np.concatenate(one))
    blocks = [p.minibatch_grad(theta[i : i + 7], idx[i : i + 7]) for i in range(0, rows, 7)]
    np.testing.assert_array_equal(grad, np.concatenate(blocks))
    one = [p.minibatch_hvp(theta[i : i + 1], v[i : i + 1], idx[i : i + 1]) for i in range(rows)]
    np.testing.assert_array_equal(hvp, np.concatenate(one))
    # an extra axis (as the view's finite-difference Hessian adds) is row-stable too
    extra = np.stack([theta, 2 * theta, -theta], axis=1)
    got = p.minibatch_grad(extra, idx)
    for j in range(3):
        np.testing.assert_array_equal(got[:, j], p.minibatch_grad(extra[:, j], idx))


def test_large_regression_rows_are_stable():
    """d = 300, B = 64: the reductions are long enough for every SIMD path of einsum."""
    rng = np.random.default_rng(4)
    Xl = rng.standard_normal((500, 300))
    p = gf.problems.least_squares(Xl, rng.standard_normal(500))
    theta, idx = rng.standard_normal((40, 300)), rng.integers(0, 500, (40, 64))
    grad = p.minibatch_grad(theta, idx)
    for i in (0, 17, 39):
        np.testing.assert_array_equal(
            grad[i], p.minibatch_grad(theta[i : i + 1], idx[i : i + 1])[0]
        )


def test_solve_with_minibatches_batch_equals_single():
    """Element j draws from (seed, k, j): the first rows of a batch run alone, or as a
    shorter batch, give the same bits."""
    p = PROBLEMS["logistic_regression"]
    theta0 = _theta(p, 5)
    kw = {"steps": 25, "batch_size": 8, "seed": 11, "save": "all"}
    method = gf.methods.SGD(momentum=0.9)
    batched = gf.solve(p, theta0, method, 0.2, **kw)
    np.testing.assert_array_equal(
        batched.theta[:, :3], gf.solve(p, theta0[:3], method, 0.2, **kw).theta
    )
    np.testing.assert_array_equal(
        batched.theta[:, 0], gf.solve(p, theta0[0], method, 0.2, **kw).theta
    )


# -- the view ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_view_uses_the_minibatch_methods_and_exact_hvp(name):
    p = PROBLEMS[name]
    sampler = MinibatchSampler(p, 5, seed=3, n_elements=4)
    view = sampler.view(2, np.arange(4))
    idx = sampler.indices(2, np.arange(4))
    theta = _theta(p, 4)
    v = np.random.default_rng(9).standard_normal(theta.shape)
    assert view.has_exact_hvp
    np.testing.assert_array_equal(view.grad(theta), p.minibatch_grad(theta, idx))
    np.testing.assert_array_equal(view.hvp(theta, v), p.minibatch_hvp(theta, v, idx))
    np.testing.assert_array_equal(view.loss(theta), p.loss(theta))


def test_view_hessian_of_least_squares_is_exact():
    p = PROBLEMS["least_squares"]
    sampler = MinibatchSampler(p, 6, seed=5, n_elements=3)
    view, idx = sampler.view(0, np.arange(3)), sampler.indices(0, np.arange(3))
    hess = view.hessian(np.zeros((3, 6)))
    for r, S in enumerate(idx):
        np.testing.assert_allclose(hess[r], X[S].T @ X[S] / 6, rtol=1e-13, atol=1e-14)


class _PerExampleOnly(Problem):
    """A finite sum with per-example gradients only (no minibatch_grad): least squares."""

    def __init__(self) -> None:
        full = gf.problems.least_squares(X, Y)
        self.n_samples = X.shape[0]
        super().__init__(loss=full.loss, grad=full.grad, dim=X.shape[1], name="plain")

    def per_example_grad(self, theta: np.ndarray) -> np.ndarray:
        r = np.einsum("nd,...d->...n", X, theta) - Y
        return r[..., :, None] * X


def test_finite_sum_without_minibatch_grad_falls_back_to_per_example():
    plain, lsq = _PerExampleOnly(), PROBLEMS["least_squares"]
    sampler = MinibatchSampler(plain, 5, seed=1, n_elements=3)
    view = sampler.view(4, np.arange(3))
    assert not view.has_exact_hvp  # central differences of the minibatch gradient
    theta = _theta(lsq, 3)
    idx = sampler.indices(4, np.arange(3))
    np.testing.assert_allclose(view.grad(theta), lsq.minibatch_grad(theta, idx), rtol=1e-12)
    kw = {"steps": 20, "batch_size": 5, "seed": 2, "save": "final"}
    a = gf.solve(plain, theta, gf.methods.SGD(), 0.05, **kw)
    b = gf.solve(lsq, theta, gf.methods.SGD(), 0.05, **kw)
    np.testing.assert_allclose(a.theta, b.theta, rtol=1e-11, atol=1e-13)


def test_full_batch_size_is_the_problem_itself():
    p = PROBLEMS["mlp_regression"]
    assert MinibatchSampler(p, p.n_samples, seed=0, n_elements=2).view(3, np.arange(2)) is p
    theta0 = _theta(p, 3)
    a = gf.solve(p, theta0, gf.methods.Adam(), 0.01, steps=15, batch_size=p.n_samples, seed=0)
    b = gf.solve(p, theta0, gf.methods.Adam(), 0.01, steps=15)
    np.testing.assert_array_equal(a.theta, b.theta)


# -- arguments ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_bad_minibatch_arguments_are_named(name):
    p = PROBLEMS[name]
    theta = _theta(p, 3)
    with pytest.raises(TypeError, match="index"):
        p.minibatch_grad(theta, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="index"):
        p.minibatch_grad(theta, np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match="index"):
        p.minibatch_grad(theta, np.full((3, 2), p.n_samples))
    with pytest.raises(ValueError, match="index"):
        p.minibatch_grad(theta, np.full((3, 2), -1))
    with pytest.raises(ValueError, match="theta"):
        p.minibatch_grad(theta, np.zeros((2, 2), dtype=int))
    with pytest.raises(ValueError, match="theta"):
        p.minibatch_grad(theta[:, :-1], np.zeros((3, 2), dtype=int))
    with pytest.raises(TypeError, match="theta"):
        p.minibatch_hvp(theta.astype(complex), theta, np.zeros((3, 2), dtype=int))


# -- cost --------------------------------------------------------------------------------
def _peak_bytes(fn) -> int:
    fn()  # caches (dtype casts) filled outside the measurement
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_minibatch_gradient_and_draw_allocate_o_of_b_not_n():
    """n·d = 4·10^6 numbers (32 MB); a minibatch of 8 rows needs kilobytes."""
    rng = np.random.default_rng(0)
    n, d = 200_000, 20
    p = gf.problems.least_squares(rng.standard_normal((n, d)), rng.standard_normal(n))
    theta, idx = np.zeros((4, d)), rng.integers(0, n, (4, 8))
    assert _peak_bytes(lambda: p.minibatch_grad(theta, idx)) < 64 * 1024
    sampler = MinibatchSampler(p, 8, seed=0, n_elements=4)
    assert _peak_bytes(lambda: sampler.view(7, np.arange(4)).grad(theta)) < 64 * 1024


# -- the draw ----------------------------------------------------------------------------
def _floyd_loop(u: np.ndarray, n: int) -> list[int]:
    """Floyd's algorithm as published: one draw at a time, a set of the taken ones."""
    B, taken = u.size, []
    for i in range(B):
        j = n - B + i
        t = min(int(u[i] * (j + 1)), j)
        taken.append(j if t in taken else t)
    return taken


@pytest.mark.parametrize(("n", "B"), [(7, 3), (6, 5), (9, 9), (40, 39), (1000, 32), (3, 1)])
def test_vectorised_floyd_is_floyds_loop(n, B):
    u = np.random.default_rng(n * B).random((3000, B))
    got = floyd_sample(u, n)
    expected = np.array([_floyd_loop(row, n) for row in u])
    np.testing.assert_array_equal(got, expected)
    assert all(len(set(row)) == B for row in got.tolist())
    assert got.min() >= 0 and got.max() < n


def test_draw_follows_the_documented_rule():
    """Step k: default_rng(seed) advanced k·2^64 draws, (n_elements, B) uniforms, Floyd."""
    p = PROBLEMS["least_squares"]
    sampler = MinibatchSampler(p, 9, seed=123, n_elements=5)
    for k in (0, 1, 17, 10**6):
        gen = np.random.default_rng(123)
        gen.bit_generator.advance(k << 64)
        u = gen.random((5, 9))
        expected = np.array([_floyd_loop(row, p.n_samples) for row in u])
        np.testing.assert_array_equal(sampler.indices(k, np.arange(5)), expected)


def test_draw_of_a_row_does_not_depend_on_the_other_rows():
    p = PROBLEMS["least_squares"]
    sampler = MinibatchSampler(p, 30, seed=4, n_elements=50)  # B close to n: chains
    every = sampler.indices(3, np.arange(50))
    some = np.array([2, 3, 11, 49])
    np.testing.assert_array_equal(sampler.indices(3, some), every[some])
    np.testing.assert_array_equal(sampler.indices(3, some[::-1]), every[some[::-1]])
    assert not np.array_equal(sampler.indices(4, some), every[some])


@pytest.mark.parametrize(("n", "B"), [(50, 4), (12, 11), (1000, 32)])
def test_each_index_has_marginal_b_over_n(n, B):
    """Counts of every index over many draws: chi-square against B/n (fixed seed)."""
    p = gf.problems.least_squares(np.ones((n, 1)), np.zeros(n))
    sampler = MinibatchSampler(p, B, seed=2026, n_elements=4000)
    draws = np.concatenate([sampler.indices(k, np.arange(4000)) for k in range(5)])
    assert all(len(set(row)) == B for row in draws.tolist())  # without replacement
    counts = np.bincount(draws.ravel(), minlength=n)
    expected = np.full(n, draws.shape[0] * B / n)
    assert scipy_stats.chisquare(counts, expected).pvalue > 1e-3
    # and no single index far off: binomial z-scores (Bonferroni over n indices)
    z = (counts - expected) / np.sqrt(expected * (1 - B / n))
    assert np.abs(z).max() < 5.0


@pytest.mark.parametrize(("n", "B"), [(6, 3), (7, 5), (5, 2)])
def test_every_subset_is_equally_likely(n, B):
    """Unordered subsets are uniform (exercises the chains of Floyd's algorithm)."""
    p = gf.problems.least_squares(np.ones((n, 1)), np.zeros(n))
    sampler = MinibatchSampler(p, B, seed=7, n_elements=20_000)
    draws = np.sort(sampler.indices(0, np.arange(20_000)), axis=1)
    subsets = {s: i for i, s in enumerate(combinations(range(n), B))}
    codes = np.array([subsets[tuple(row)] for row in draws.tolist()])
    counts = np.bincount(codes, minlength=len(subsets))
    assert scipy_stats.chisquare(counts).pvalue > 1e-3


def test_same_seed_same_draw_and_the_view_class():
    p = PROBLEMS["least_squares"]
    a = MinibatchSampler(p, 5, seed=9, n_elements=3)
    b = MinibatchSampler(p, 5, seed=9, n_elements=3)
    np.testing.assert_array_equal(a.indices(8, np.arange(3)), b.indices(8, np.arange(3)))
    assert isinstance(a.view(8, np.arange(3)), MinibatchView)


def test_view_has_every_field_a_problem_gets():
    """The view sets Problem's fields itself (no argument checks every step)."""
    p = PROBLEMS["least_squares"]
    view = MinibatchSampler(p, 3, seed=0, n_elements=2).view(0, np.arange(2))
    plain = Problem(loss=p.loss, grad=p.grad, dim=p.dim)
    assert set(vars(plain)) <= set(vars(view))
    assert view.dim == p.dim and view.name == p.name and view.minimum is None
    assert "exact" in repr(view)


def test_draws_do_not_depend_on_the_order_steps_are_asked_for():
    """Steps are drawn ahead in blocks; in order, backwards or jumping, the same indices."""
    p = PROBLEMS["least_squares"]
    ahead = MinibatchSampler(p, 6, seed=21, n_elements=3)
    in_order = [ahead.indices(k, np.arange(3)) for k in range(150)]
    for order in (range(149, -1, -1), np.random.default_rng(0).permutation(150)):
        other = MinibatchSampler(p, 6, seed=21, n_elements=3)
        for k in order:
            np.testing.assert_array_equal(other.indices(int(k), np.arange(3)), in_order[k])
    alone = MinibatchSampler(p, 6, seed=21, n_elements=1)  # another block length
    for k in (0, 5, 64, 149):
        np.testing.assert_array_equal(alone.indices(k, np.arange(1)), in_order[k][:1])
