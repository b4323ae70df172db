"""Curvature estimators against scipy (``eigh``, ``eigsh`` on an HVP LinearOperator) and
closed forms: spectra of quadratics, the tanh network's finite-difference Hessian,
Hutchinson's coverage, SLQ's moments."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft
from scipy.sparse.linalg import eigsh

import gradflow as gf
from gradflow.curvature import (
    eigenvalues,
    hvp_operator,
    spectral_density,
    trace,
    track_sharpness,
)


def implicit_quadratic(eigs, seed=0):
    """½ θᵀHθ with H = S Cᵀ diag(λ) C S (orthonormal DCT C, random signs S): an exact
    spectrum with O(d log d) HVPs."""
    eigs = np.asarray(eigs, dtype=float)
    gen = np.random.default_rng(seed)
    lam = eigs[gen.permutation(eigs.size)]
    signs = gen.choice([-1.0, 1.0], eigs.size)

    def H(v):
        v = np.asarray(v, dtype=float)
        return signs * scipy.fft.idct(
            lam * scipy.fft.dct(signs * v, norm="ortho", axis=-1), norm="ortho", axis=-1
        )

    def hvp_fn(theta, v):
        return H(np.broadcast_to(v, np.broadcast_shapes(np.shape(theta), np.shape(v))))

    return gf.Problem(
        loss=lambda th: 0.5 * np.sum(th * H(th), axis=-1), grad=H, hvp=hvp_fn, dim=eigs.size
    )


@pytest.mark.parametrize("clustered", [False, True], ids=["spread", "clustered"])
def test_lanczos_agrees_with_eigsh_on_a_2000_dim_implicit_operator(clustered):
    d = 2000
    eigs = np.random.default_rng(3).uniform(-0.5, 0.5, d)
    eigs[:4] = [1.0, 0.997, 0.994, 0.991] if clustered else [1.0, 0.9, 0.75, 0.6]
    p = implicit_quadratic(eigs)
    ours = eigenvalues(p, np.zeros(d), 3, seed=0)
    op = hvp_operator(p, np.zeros(d))
    ref = np.sort(eigsh(op, k=3, which="LA", tol=1e-12)[0])[::-1]
    exact = np.sort(eigs)[::-1][:3]
    np.testing.assert_allclose(ours.values, exact, rtol=1e-8)
    np.testing.assert_allclose(ours.values, ref, rtol=1e-8)


@pytest.mark.parametrize("which", ["LA", "SA", "LM"])
@pytest.mark.parametrize("algorithm", ["lanczos", "power"])
def test_random_symmetric_matrix_against_eigh(which, algorithm):
    gen = np.random.default_rng(11)
    M = gen.standard_normal((120, 120))
    A = (M + M.T) / 2
    p = gf.problems.quadratic(A=A)
    w = np.linalg.eigh(A)[0]
    key = {"LA": -w, "SA": w, "LM": -np.abs(w)}[which]
    want = w[np.argsort(key, kind="stable")][:4]
    res = eigenvalues(
        p, np.zeros(120), 4, algorithm=algorithm, tol=1e-10, max_iter=100_000, seed=0, which=which
    )
    np.testing.assert_allclose(res.values, want, rtol=1e-7, atol=1e-9)


def _fd_hessian(problem, theta, step=1e-5):
    """Dense Hessian by central differences of the exact gradient (one batched call)."""
    d = theta.size
    E = np.eye(d) * step
    g = problem.grad(np.concatenate([theta + E, theta - E]))
    H = (g[:d] - g[d:]).T / (2 * step)
    return 0.5 * (H + H.T)


def test_mlp_hessian_eigenvalues_from_hvps_equal_the_finite_difference_hessian():
    p = gf.problems.mlp_regression()  # 300 parameters, exact R-operator HVPs
    thetas = p.init(seed=4, batch_shape=(2,))
    res = eigenvalues(p, thetas, 4, seed=0)
    low = eigenvalues(p, thetas, 2, seed=0, which="SA")
    for i, theta in enumerate(thetas):
        w = np.linalg.eigvalsh(_fd_hessian(p, theta))
        scale = np.abs(w).max()
        np.testing.assert_allclose(res.values[i], w[::-1][:4], atol=1e-6 * scale)
        np.testing.assert_allclose(low.values[i], w[:2], atol=1e-6 * scale)
        # ... and the top eigenvalue equals eigsh's on the HVP operator.
        ref = eigsh(hvp_operator(p, theta), k=1, which="LA", tol=1e-12)[0][0]
        assert res.values[i, 0] == pytest.approx(ref, rel=1e-9)


def test_mlp_sharpness_along_gradient_descent_matches_eigsh():
    p = gf.problems.mlp_regression(width=50)
    tracker = track_sharpness(p, every=25, seed=0, tol=1e-8)
    traj = gf.solve(
        p,
        p.init(seed=1, batch_shape=(2,)),
        stepsize=np.array([0.02, 0.05]),
        steps=100,
        save_every=25,
        callback=tracker,
    )
    assert tracker.values.shape == (5, 2)
    for j, k in enumerate(tracker.steps):
        col = list(traj.step[:, 0]).index(k)
        for i in range(2):
            op = hvp_operator(p, traj.theta[col, i])
            ref = eigsh(op, k=1, which="LA", tol=1e-12)[0][0]
            assert tracker.values[j, i] == pytest.approx(ref, rel=1e-7)


def test_hutchinson_covers_the_exact_trace():
    # Unbiased: the mean over seeds is within 3 standard errors of tr(H); the per-seed
    # ±2 SE intervals cover tr(H) about 95 % of the time.
    gen = np.random.default_rng(0)
    M = gen.standard_normal((40, 40))
    p = gf.problems.quadratic(A=M @ M.T / 40 - 0.5 * np.eye(40))
    exact = np.trace(p.A)
    runs = 200
    est = trace(p, np.zeros((runs, 40)), n_probes=30, seed=1)  # 200 independent estimates
    z = (est.value - exact) / est.stderr
    coverage = np.mean(np.abs(z) <= 2.0)
    assert 0.90 <= coverage <= 0.99
    mean_se = est.value.std(ddof=1) / np.sqrt(runs)
    assert abs(est.value.mean() - exact) <= 3 * mean_se


def test_slq_density_integrates_to_one_and_matches_the_first_moments():
    gen = np.random.default_rng(5)
    M = gen.standard_normal((200, 200))
    p = gf.problems.quadratic(A=(M + M.T) / np.sqrt(800))  # semicircle on [-1, 1]
    d = 200
    sd = spectral_density(p, np.zeros(d), n_lanczos=40, n_probes=20, seed=2)
    assert np.trapezoid(sd.density, sd.grid) == pytest.approx(1.0, abs=1e-6)
    assert sd.weights.sum() == pytest.approx(1.0, abs=1e-12)
    A = p.A
    # Gauss quadrature with m nodes is exact for degree <= 2m - 1, so each probe's rule
    # gives zᵀ H^p z / d exactly: the SLQ moments are Hutchinson estimates of tr(H^p)/d.
    z = (2 * np.random.default_rng(2).integers(0, 2, (20, d), dtype=np.int8) - 1).astype(float)
    for power in (1, 2, 3):
        Hp = np.linalg.matrix_power(A, power)
        samples = np.einsum("pd,de,pe->p", z, Hp, z) / d
        assert sd.moment(power) == pytest.approx(samples.mean(), abs=1e-10)
        se = samples.std(ddof=1) / np.sqrt(samples.size)
        assert abs(sd.moment(power) - np.trace(Hp) / d) <= 4 * se + 1e-12
