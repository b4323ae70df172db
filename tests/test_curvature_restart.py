"""Thick-restart Lanczos: problems that need several restarts converge to eigh's answer,
with a bounded HVP count and a basis of at most ``m`` vectors."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import gradflow as gf
from gradflow.curvature import eigenvalues, hvp, top_eigenvalue
from gradflow.curvature._lanczos import RESTART_BASIS_SIZE, default_basis_size, kept_at_restart


def matrix_with_spectrum(eigs, seed=0):
    """``Q diag(eigs) Qᵀ`` with a random orthogonal ``Q``."""
    eigs = np.asarray(eigs, dtype=float)
    Q = np.linalg.qr(np.random.default_rng(seed).standard_normal((eigs.size, eigs.size)))[0]
    return (Q * eigs) @ Q.T


@pytest.fixture(scope="module")
def hard():
    """d = 400, eigenvalues uniform in [-1, 1]: top gaps ~5e-3, so the wanted pairs need
    several restarts of a 40-vector basis."""
    eigs = np.random.default_rng(4).uniform(-1.0, 1.0, 400)
    A = matrix_with_spectrum(eigs, seed=5)
    return gf.problems.quadratic(A=A), np.linalg.eigh(A)[0]


def test_basis_size_rule():
    assert default_basis_size(1) == RESTART_BASIS_SIZE
    assert default_basis_size(30) == 61  # scipy eigsh's ncv = 2k + 1 for large k
    for k, m in [(1, 40), (3, 40), (10, 40), (20, 41)]:
        assert k < kept_at_restart(k, m) < m


@pytest.mark.parametrize("which", ["LA", "SA", "LM"])
def test_several_restarts_converge_to_eigh(hard, which):
    p, w = hard
    d, k = 400, 3
    key = {"LA": -w, "SA": w, "LM": -np.abs(w)}[which]
    want = w[np.argsort(key, kind="stable")][:k]
    res = eigenvalues(p, np.zeros(d), k, seed=0, which=which)
    assert res.converged
    assert res.n_hvp > 3 * default_basis_size(k)  # several restarts happened
    np.testing.assert_allclose(res.values, want, rtol=1e-8, atol=1e-12)
    # The reported residuals are the true ones: the arrowhead recurrence is right.
    Hv = hvp(p, np.zeros((k, d)), res.vectors)
    true = np.linalg.norm(Hv - res.values[:, None] * res.vectors, axis=-1)
    np.testing.assert_allclose(true, res.residuals, rtol=1e-3, atol=1e-13)
    assert np.all(res.residuals <= 1e-8 * np.abs(res.values) + 1e-13)
    np.testing.assert_allclose(res.vectors @ res.vectors.T, np.eye(k), atol=1e-8)


def test_restarted_hvp_count_stays_close_to_unrestarted(hard):
    p, w = hard
    restarted = top_eigenvalue(p, np.zeros(400), seed=1)
    plain = top_eigenvalue(p, np.zeros(400), seed=1, restart=False)
    assert restarted.converged and plain.converged
    assert restarted.value == pytest.approx(w[-1], rel=1e-12)
    assert plain.value == pytest.approx(w[-1], rel=1e-12)
    assert default_basis_size(1) < min(int(plain.n_hvp), int(restarted.n_hvp))
    assert int(restarted.n_hvp) <= 1.5 * int(plain.n_hvp)


def test_max_iter_bounds_the_products_across_restarts(hard):
    p, _ = hard
    res = top_eigenvalue(p, np.zeros(400), max_iter=100, seed=0, tol=1e-14)
    assert not res.converged and int(res.n_hvp) == 100
    assert np.isfinite(res.value) and np.isfinite(res.residuals).all()


def test_batch_with_restarts_equals_single_calls(hard):
    p, w = hard
    theta = np.zeros((3, 400))
    v0 = np.random.default_rng(2).standard_normal((3, 400))
    res = eigenvalues(p, theta, 2, v0=v0)
    np.testing.assert_allclose(res.values, np.broadcast_to(w[::-1][:2], (3, 2)), rtol=1e-8)
    for i in range(3):
        single = eigenvalues(p, theta[i], 2, v0=v0[i])
        assert int(single.n_hvp) == int(res.n_hvp[i])
        np.testing.assert_allclose(single.values, res.values[i], rtol=1e-12)


def test_restarted_basis_memory_is_bounded():
    # d = 20,000 and a spectrum needing ~2,000 products: an unrestarted basis would grow
    # to thousands of vectors (hundreds of MB); the restarted one holds m = 40 (6.4 MB).
    d = 20_000
    lam = np.random.default_rng(6).uniform(0.0, 1.0, d)
    lam[0] = 1.0
    p = gf.Problem(
        loss=lambda th: 0.5 * np.sum(lam * th * th, axis=-1),
        grad=lambda th: lam * th,
        hvp=lambda th, v: lam * v,
        dim=d,
    )
    top_eigenvalue(p, np.zeros(d), seed=0, max_iter=3)  # warm-up: lazy imports allocate
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        res = top_eigenvalue(p, np.zeros(d), seed=0, max_iter=3000)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    m = default_basis_size(1)
    assert res.converged and res.value == pytest.approx(1.0, rel=1e-8)
    assert int(res.n_hvp) > 5 * m
    # The basis, the kept Ritz vectors while they are formed, a few work vectors.
    assert peak <= 2 * m * d * 8


def test_restart_must_be_a_bool():
    p = gf.problems.quadratic([1.0, 2.0], seed=0)
    with pytest.raises(TypeError, match="restart"):
        top_eigenvalue(p, np.zeros(2), restart="no")


def test_no_restart_needed_gives_the_same_bits_as_plain_lanczos():
    # Converged within m vectors: both variants do the same arithmetic.
    eigs = np.random.default_rng(7).uniform(0.0, 0.5, 300)
    eigs[:3] = [1.0, 0.8, 0.7]
    p = gf.problems.quadratic(A=matrix_with_spectrum(eigs, seed=8))
    a = eigenvalues(p, np.zeros((2, 300)), 2, seed=3)
    b = eigenvalues(p, np.zeros((2, 300)), 2, seed=3, restart=False)
    assert (a.n_hvp < default_basis_size(2)).all()
    assert np.array_equal(a.values, b.values) and np.array_equal(a.vectors, b.vectors)
    assert np.array_equal(a.n_hvp, b.n_hvp)
