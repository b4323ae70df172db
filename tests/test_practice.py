"""Practice knobs: clipping, scaling rules, and adaptive-method stability."""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
from gradflow.methods import SGD, Adam, AdamW, Clipped, Euler, clip_gradient


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(5)
    return gf.problems.least_squares(rng.standard_normal((40, 8)), rng.standard_normal(40))


@pytest.mark.parametrize("inner", [Euler(), SGD()])
@pytest.mark.parametrize("clip_norm", [1e-3, 0.1, 10.0])
def test_clipping_never_lets_update_exceed_h_clip_norm(problem, inner, clip_norm):
    theta0 = 10 * np.random.default_rng(0).standard_normal((50, 8))
    hs = np.geomspace(1e-3, 0.5, 50)
    traj = gf.solve(problem, theta0, Clipped(inner, clip_norm=clip_norm), hs, steps=30)
    moves = np.linalg.norm(np.diff(traj.theta, axis=0), axis=-1)
    assert np.all(moves <= hs * clip_norm)


def test_clipping_with_minibatches_and_value_clip(problem):
    theta0 = 10 * np.ones((5, 8))
    m = Clipped(SGD(), clip_norm=0.5, clip_value=0.1)
    traj = gf.solve(problem, theta0, m, 0.1, steps=20, batch_size=4, seed=0)
    moves = np.diff(traj.theta, axis=0)
    assert np.all(np.abs(moves) <= 0.1 * 0.1 + 1e-15)
    assert np.all(np.linalg.norm(moves, axis=-1) <= 0.1 * 0.5)


def test_clip_gradient_matches_definition():
    g = np.random.default_rng(1).standard_normal((100, 6)) * 10
    c = clip_gradient(g, clip_norm=2.0)
    norms = np.linalg.norm(g, axis=-1, keepdims=True)
    np.testing.assert_allclose(c, g * np.minimum(1, 2.0 / (norms + 1e-6)), rtol=1e-15)
    assert np.all(np.linalg.norm(c, axis=-1) <= 2.0)
    np.testing.assert_array_equal(clip_gradient(g, clip_value=0.5), np.clip(g, -0.5, 0.5))
    with pytest.raises(ValueError, match="clip_value"):
        clip_gradient(g, clip_value=-1.0)


def test_clipped_keeps_method_properties():
    m = Clipped(Adam(), clip_norm=1.0)
    assert m.order == 1 and m.name == "Clipped(Adam)" and "clip" in m.ode
    with pytest.raises(NotImplementedError):
        m.amplification_matrix()


def test_scaling_rules():
    lin = gf.schedules.linear_scaling(0.1, 128, 512, warmup_steps=10)
    sq = gf.schedules.sqrt_scaling(0.1, 128, 512, warmup_steps=10)
    assert lin.h == pytest.approx(0.4) and sq.h == pytest.approx(0.2)
    k = np.arange(20)
    for rule in (lin, sq):
        vals = rule.schedule(k)
        assert vals[0] == pytest.approx(0.1)
        assert np.all(np.diff(vals) >= -1e-15)
        np.testing.assert_allclose(vals[10:], rule.h)
    assert gf.schedules.linear_scaling(0.1, 512, 128).h == pytest.approx(0.025)
    for bad in ({"h_base": 0.0}, {"batch": 0}, {"batch_base": -1}, {"warmup_steps": -1}):
        kw = {"h_base": 0.1, "batch_base": 128, "batch": 256, **bad}
        with pytest.raises(ValueError, match=next(iter(bad))):
            gf.schedules.linear_scaling(**kw)


def test_preconditioned_sharpness_on_diagonal_quadratic():
    lam = np.array([1.0, 10.0, 100.0])
    p = gf.problems.quadratic(A=np.diag(lam))
    P = np.array([[1.0, 1.0, 1.0], [1.0, 100.0, 1000.0]])
    got = gf.analysis.preconditioned_sharpness(p, np.ones((2, 3)), P, seed=0)
    np.testing.assert_allclose(got, (lam / P).max(axis=-1), rtol=1e-8)
    # rotated quadratic: compare with the dense generalized eigenproblem
    q = gf.problems.quadratic([1.0, 3.0, 30.0], seed=2)
    Pd = np.array([0.5, 2.0, 7.0])
    want = np.linalg.eigvals(np.diag(1 / Pd) @ q.A).real.max()
    got = gf.analysis.preconditioned_sharpness(q, np.zeros(3), Pd, seed=0)
    np.testing.assert_allclose(got, want, rtol=1e-8)
    with pytest.raises(ValueError, match="preconditioner"):
        gf.analysis.preconditioned_sharpness(q, np.zeros(3), -Pd)


def test_tracker_uses_adams_own_preconditioner():
    p = gf.problems.quadratic([1.0, 20.0, 300.0], seed=4)
    adam, h, n = Adam(beta1=0.9, beta2=0.99), 3e-3, 12
    theta0 = np.ones((2, 3))
    tr = gf.analysis.track_preconditioned_sharpness(p, adam, every=4, seed=0, tol=1e-10)
    gf.solve(p, theta0, adam, h, steps=n, callback=tr)
    # Independently: run Adam, and at step k use P_k built from v_{k+1}.
    state = adam.init(p, theta0)
    expect = []
    for k in range(n + 1):
        nxt = adam.step(p, state, np.array([h])).state
        if k % 4 == 0:
            P = gf.analysis.adam_preconditioner(nxt.v, nxt.k, 0.9, 0.99, adam.eps)
            dense = [np.linalg.eigvals(np.diag(1 / P[j]) @ p.A).real.max() for j in range(2)]
            expect.append(dense)
        state = nxt
    assert tr.steps.tolist() == [0, 4, 8, 12]
    np.testing.assert_allclose(tr.values, expect, rtol=1e-7)
    assert tr.threshold(h) == pytest.approx(2 * 1.9 / (0.1 * h))


def test_tracker_bad_input():
    p = gf.problems.quadratic([1.0, 2.0], seed=0)
    with pytest.raises(TypeError, match="Adam"):
        gf.analysis.track_preconditioned_sharpness(p, SGD())
    with pytest.raises(ValueError, match="every"):
        gf.analysis.track_preconditioned_sharpness(p, AdamW(), every=0)
    with pytest.raises(ValueError, match="beta1"):
        gf.analysis.adaptive_eos_threshold(0.1, beta1=1.0)
