"""Hutchinson's trace, stochastic Lanczos quadrature and sharpness tracking."""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
from gradflow.curvature import spectral_density, trace, track_sharpness


def _random_quadratic(d=30, seed=0):
    M = np.random.default_rng(seed).standard_normal((d, d))
    return gf.problems.quadratic(A=(M + M.T) / 4)


def test_trace_is_unbiased_over_seeds():
    p = _random_quadratic()
    exact = np.trace(p.A)
    values = np.array([float(trace(p, np.zeros(30), 20, seed=s).value) for s in range(100)])
    se = values.std(ddof=1) / np.sqrt(values.size)
    assert abs(values.mean() - exact) <= 3 * se


def test_trace_batch_samples_and_reproducibility():
    p = _random_quadratic()
    est = trace(p, np.zeros((2, 3, 30)), n_probes=7, seed=4)
    assert est.value.shape == (2, 3) and est.samples.shape == (7, 2, 3)
    assert (est.n_hvp == 7).all()
    np.testing.assert_allclose(est.value, est.samples.mean(axis=0))
    again = trace(p, np.zeros((2, 3, 30)), n_probes=7, seed=4)
    assert np.array_equal(est.samples, again.samples)
    # A diagonal Hessian is estimated exactly by Rademacher probes.
    diag = gf.problems.quadratic(A=np.diag(np.arange(1.0, 6.0)))
    exact = trace(diag, np.zeros(5), n_probes=3, seed=0)
    assert float(exact.value) == 15.0 and float(exact.stderr) == 0.0


def test_trace_of_a_nonlinear_problem_equals_the_exact_hessian_trace():
    p = gf.problems.mlp_regression(width=10)
    theta = p.init(seed=0)
    est = trace(p, theta, n_probes=400, seed=1)
    exact = np.trace(p.hessian(theta))
    assert abs(float(est.value) - exact) <= 4 * float(est.stderr)


def test_spectral_density_shapes_weights_and_grid():
    p = _random_quadratic(40)
    sd = spectral_density(p, np.zeros((2, 40)), n_lanczos=15, n_probes=3, seed=0, n_grid=5000)
    assert sd.nodes.shape == (2, 3, 15) and sd.weights.shape == (2, 3, 15)
    assert sd.density.shape == (2, 5000) and sd.grid.shape == (2, 5000)
    np.testing.assert_allclose(sd.weights.sum(axis=(-2, -1)), 1.0)
    np.testing.assert_allclose(np.trapezoid(sd.density, sd.grid), 1.0, atol=1e-6)
    # A grid coarser than the kernel (spacing ~2σ here) integrates only to ~1e-3.
    coarse = spectral_density(p, np.zeros(40), n_lanczos=15, n_probes=3, seed=0, n_grid=500)
    assert abs(np.trapezoid(coarse.density, coarse.grid) - 1.0) < 1e-2
    w = np.linalg.eigvalsh(p.A)
    # Ritz values lie inside the spectrum, and the extreme ones converge to its ends.
    assert sd.nodes.min() >= w[0] - 1e-9 and sd.nodes.max() <= w[-1] + 1e-9
    assert sd.nodes.max() == pytest.approx(w[-1], rel=1e-3)
    assert (sd.n_hvp == 45).all()
    # PyHessian's kernel: variance 1e-5 · max(1, λmax - λmin) over the nodes.
    span = sd.nodes[0].max() - sd.nodes[0].min()
    assert sd.sigma[0] == pytest.approx(np.sqrt(1e-5 * max(1.0, span)))


def test_spectral_density_on_a_shared_grid_with_a_given_sigma():
    p = gf.problems.quadratic([1.0, 2.0, 3.0, 4.0], seed=0)
    grid = np.linspace(0.0, 5.0, 5001)
    sd = spectral_density(p, np.zeros(4), n_lanczos=10, n_probes=2, sigma=0.05, grid=grid, seed=0)
    # d = 4 steps reach an invariant subspace: the 4 nodes are the eigenvalues.
    np.testing.assert_allclose(np.sort(sd.nodes[0]), [1.0, 2.0, 3.0, 4.0], atol=1e-10)
    assert sd.grid is grid and np.trapezoid(sd.density, grid) == pytest.approx(1.0, abs=1e-6)
    assert sd.moment(1) == pytest.approx(2.5, abs=0.6)


def test_spectral_density_after_breakdown_pads_with_zero_weights():
    p = gf.problems.quadratic([1.0, 1.0, 3.0], seed=0)  # 2 distinct eigenvalues
    sd = spectral_density(p, np.zeros(3), n_lanczos=3, n_probes=2, seed=0, n_grid=100)
    assert (sd.weights[:, 2] == 0).all()
    assert sd.weights.sum() == pytest.approx(1.0)
    assert sd.moment(1) == pytest.approx(
        np.mean([np.sum(w * n) for w, n in zip(sd.weights * 2, sd.nodes, strict=True)])
    )


@pytest.mark.parametrize(
    ("fn", "kwargs", "error", "match"),
    [
        (trace, {"n_probes": 1}, ValueError, "n_probes"),
        (spectral_density, {"n_lanczos": 0}, ValueError, "n_lanczos"),
        (spectral_density, {"sigma": -1.0}, ValueError, "sigma"),
        (spectral_density, {"grid": [1.0]}, ValueError, "grid"),
        (spectral_density, {"n_probes": 2.0}, TypeError, "n_probes"),
    ],
)
def test_bad_arguments(fn, kwargs, error, match):
    with pytest.raises(error, match=match):
        fn(gf.problems.quadratic([1.0, 2.0], seed=0), np.zeros(2), **kwargs)


def test_track_sharpness_records_every_k_steps_and_nan_after_stopping():
    p = gf.problems.quadratic([1.0, 10.0], seed=0)
    tracker = track_sharpness(p, every=3, seed=0)
    hs = np.array([0.1, 0.5])  # the second diverges (2/λmax = 0.2)
    traj = gf.solve(p, np.ones((2, 2)), stepsize=hs, steps=600, callback=tracker, save="final")
    assert traj.status.tolist() == ["ok", "diverged"]
    assert tracker.steps[:3].tolist() == [0, 3, 6] and tracker.values.shape[1:] == (2,)
    np.testing.assert_allclose(tracker.values[:, 0], 10.0, rtol=1e-6)
    after = tracker.steps > traj.n_steps[1]
    assert np.isnan(tracker.values[after, 1]).all()
    assert np.isfinite(tracker.values[~after, 1]).all()
    assert tracker.times.shape == tracker.values.shape
    assert "every=3" in repr(tracker)


def test_track_sharpness_warm_start_saves_hvps_and_matches_dense():
    p = gf.problems.mlp_regression(width=20)
    theta0 = p.init(seed=2, batch_shape=(3,))
    cold = track_sharpness(p, every=10, seed=0, warm_start=False)
    warm = track_sharpness(p, every=10, seed=0)
    for tracker in (cold, warm):
        gf.solve(p, theta0, stepsize=0.05, steps=60, callback=tracker, save="final")
    np.testing.assert_allclose(warm.values, cold.values, rtol=1e-5)
    assert warm.n_hvp < cold.n_hvp
    dense = gf.curvature.top_eigenvalue(p, theta0, algorithm="dense").value
    np.testing.assert_allclose(warm.values[0], dense, rtol=1e-6)


def test_track_sharpness_bad_arguments():
    p = gf.problems.quadratic([1.0, 2.0], seed=0)
    with pytest.raises(ValueError, match="every"):
        track_sharpness(p, every=0)
    with pytest.raises(ValueError, match="algorithm"):
        track_sharpness(p, algorithm="qr")
    with pytest.raises(TypeError, match="problem"):
        track_sharpness(None)
