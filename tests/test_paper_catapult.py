"""The catapult reproduction's uv model and its phases (Lewkowycz et al. 2020)."""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
from gradflow.papers.catapult import uv_model


def _f_lam(theta, n):
    u, v = theta[..., :n], theta[..., n:]
    return (u * v).sum(-1) / np.sqrt(n), ((u * u).sum(-1) + (v * v).sum(-1)) / n


def test_uv_model_derivatives_against_formulas_and_differences():
    n = 5
    p = uv_model(n)
    theta = np.random.default_rng(0).standard_normal((3, 2 * n))
    u, v = theta[:, :n], theta[:, n:]
    f = (u * v).sum(-1) / np.sqrt(n)
    np.testing.assert_allclose(p.loss(theta), 0.5 * f**2, rtol=1e-14)
    np.testing.assert_allclose(p.grad(theta), f[:, None] * np.hstack([v, u]) / np.sqrt(n))
    w = np.random.default_rng(1).standard_normal((3, 2 * n))
    eps = 1e-6
    fd = (p.grad(theta + eps * w) - p.grad(theta - eps * w)) / (2 * eps)
    np.testing.assert_allclose(p.hvp(theta, w), fd, rtol=1e-7, atol=1e-9)
    # rows are computed alone: batch = single, bit for bit
    for r in range(3):
        np.testing.assert_array_equal(p.grad(theta[r : r + 1]), p.grad(theta)[r : r + 1])
        np.testing.assert_array_equal(p.hvp(theta[r], w[r]), p.hvp(theta, w)[r])


def test_uv_model_bad_width():
    with pytest.raises(TypeError, match="width"):
        uv_model(2.5)
    with pytest.raises(ValueError, match="width"):
        uv_model(0)


def test_gd_follows_the_papers_map_and_phases():
    """GD on the 2n parameters against the paper's closed (f, λ) recursion, written out
    here, and the three phases at n = 256."""
    n = 256
    p = uv_model(n)
    theta0 = np.random.default_rng(3).standard_normal(2 * n)
    f0, lam0 = _f_lam(theta0, n)
    ratios = np.array([1.5, 3.0, 4.5])
    hs = ratios / lam0
    traj = gf.solve(p, np.broadcast_to(theta0, (3, 2 * n)), stepsize=hs, steps=400, save_every=1)
    f, lam = _f_lam(traj.theta, n)
    ff, ll = np.full(3, f0), np.full(3, lam0)
    for k in range(1, 8):
        ff, ll = ff * (1 - hs * ll + hs**2 * ff**2 / n), ll + hs * ff**2 / n * (hs * ll - 4)
        np.testing.assert_allclose(f[k, :2], ff[:2], rtol=1e-9)
        np.testing.assert_allclose(lam[k, :2], ll[:2], rtol=1e-9)
    assert traj.status.tolist() == ["ok", "ok", "diverged"]
    assert np.all(np.diff(traj.loss[:, 0]) <= 1e-12 * traj.loss[0, 0])  # lazy: monotone
    assert abs(lam[-1, 0] / lam0 - 1) < 0.05
    assert traj.loss[:, 1].max() > traj.loss[0, 1] and traj.loss[-1, 1] < 1e-12
    assert hs[1] * lam[-1, 1] < 2  # the catapult ends flatter than 2/h ...
    sharp = gf.curvature.top_eigenvalue(p, traj.theta[-1, 1]).value
    np.testing.assert_allclose(sharp, lam[-1, 1], rtol=1e-6)  # ... and λ is the sharpness
