"""Problem.from_jax: gradients and HVPs against jax.hessian products, x64 scoping, dtype,
pickling, refusals.

References are unbatched and not jitted (``jax.grad`` and ``jax.hessian`` of the same
function under x64); the problem computes with ``jit(vmap(...))``.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

jax = pytest.importorskip("jax", reason="Problem.from_jax needs JAX (test extra)")
jnp = jax.numpy

import gradflow as gf  # noqa: E402

RTOL = 1e-10
_rng = np.random.default_rng(0)
XS, YS = _rng.normal(size=(12, 3)), _rng.normal(size=(12, 2))
IMAGES = _rng.normal(size=(6, 1, 5, 5))
LABELS = _rng.integers(0, 3, 6)


def mlp(theta):
    """3-5-2 tanh network, mean squared error on 12 points."""
    w1, b1 = theta[:15].reshape(5, 3), theta[15:20]
    w2, b2 = theta[20:30].reshape(2, 5), theta[30:32]
    out = jnp.tanh(XS @ w1.T + b1) @ w2.T + b2
    return jnp.mean((out - YS) ** 2)


def cnn(theta):
    """1->2 channel 3x3 convolution, tanh, mean pool, linear to 3 classes, cross-entropy."""
    w, b = theta[:18].reshape(2, 1, 3, 3), theta[18:20]
    wl, bl = theta[20:26].reshape(3, 2), theta[26:29]
    h = jax.lax.conv_general_dilated(IMAGES, w, (1, 1), "VALID") + b[None, :, None, None]
    logits = jnp.tanh(h).mean(axis=(2, 3)) @ wl.T + bl
    logp = jax.nn.log_softmax(logits)
    return -jnp.mean(logp[jnp.arange(6), LABELS])


Z = np.linspace(-1.0, 1.0, 5)


def broadcasting(theta):
    """A (3, 4) weight against (5,) points and a (4,) shift: (3, 5, 4) by broadcasting."""
    W, c = theta[:12].reshape(3, 4), theta[12:16]
    a = W[:, None, :] * Z[None, :, None] + c
    return jax.scipy.special.logsumexp(a, axis=-1).mean() + 0.1 * jnp.sum(W.sum(0) * c) ** 2


MODELS = {"mlp": (mlp, 32), "cnn": (cnn, 29), "broadcasting": (broadcasting, 16)}


def _rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@pytest.fixture(scope="module", params=list(MODELS))
def model(request):
    fn, d = MODELS[request.param]
    problem = gf.Problem.from_jax(fn, d)
    theta = 0.5 * np.random.default_rng(1).normal(size=(2, d))
    v = np.random.default_rng(2).normal(size=(2, d))
    with jax.enable_x64(True):  # jitted for speed, but one vector at a time (no vmap)
        grad, hessian = jax.jit(jax.grad(fn)), jax.jit(jax.hessian(fn))
        grads = np.array([np.asarray(grad(jnp.asarray(t))) for t in theta])
        hessians = np.array([np.asarray(hessian(jnp.asarray(t))) for t in theta])
    return request.param, problem, theta, v, grads, hessians


def test_gradient_and_hvp_equal_jax_hessian_products(model):
    name, problem, theta, v, grads, hessians = model
    g, hv = problem.grad(theta), problem.hvp(theta, v)
    assert g.dtype == hv.dtype == np.float64
    for r in range(2):
        assert _rel(g[r], grads[r]) < RTOL, name
        assert _rel(hv[r], hessians[r] @ v[r]) < RTOL, name
    assert _rel(problem.hessian(theta[0]), hessians[0]) < RTOL


def test_batched_rows_equal_single_rows_to_rounding(model):
    problem, theta = model[1], model[2]
    batched = problem.grad(theta[:, None, :])
    single = np.stack([problem.grad(theta[r]) for r in range(2)])[:, None, :]
    np.testing.assert_allclose(batched, single, rtol=1e-13, atol=1e-15)
    assert batched.flags.writeable  # a new array the caller may overwrite
    assert problem.loss(np.zeros((0, problem.dim))).shape == (0,)


def test_x64_is_scoped_to_the_problem():
    before = jax.config.jax_enable_x64
    problem = gf.Problem.from_jax(broadcasting, 16)
    theta = np.full(16, 0.1)
    assert problem.grad(theta).dtype == np.float64
    assert problem.grad(theta.astype(np.float32)).dtype == np.float32
    assert jax.config.jax_enable_x64 == before
    # float64 really is computed in float64: a float32 computation differs at ~1e-7.
    g64, g32 = problem.grad(theta), problem.grad(theta.astype(np.float32))
    assert 0 < np.max(np.abs(g64 - g32)) < 1e-5


@pytest.mark.slow  # XLA compiles every new batch shape: CI's slow suite
def test_the_library_runs_on_a_jax_problem():
    problem = gf.Problem.from_jax(mlp, 32)
    theta0 = 0.5 * np.random.default_rng(3).normal(size=32)
    tracker = gf.curvature.track_sharpness(problem, every=10, seed=0)
    traj = gf.solve(problem, theta0, stepsize=0.1, steps=40, callback=tracker)
    assert traj.loss[-1] < traj.loss[0] and np.isfinite(tracker.values).all()
    with jax.enable_x64(True):
        H = np.asarray(jax.jit(jax.hessian(mlp))(jnp.asarray(theta0)))
    top = gf.curvature.top_eigenvalue(problem, theta0, seed=0)
    np.testing.assert_allclose(top.value, np.linalg.eigvalsh(H)[-1], rtol=1e-7)
    np.testing.assert_allclose(tracker.values[0], np.linalg.eigvalsh(H)[-1], rtol=1e-5)
    tr = gf.curvature.trace(problem, theta0, n_probes=100, seed=0)
    assert abs(tr.value - np.trace(H)) <= 5 * tr.stderr
    assert np.isfinite(gf.lr_find(problem, theta0, steps=30, end_lr=100.0).valley)
    assert np.isfinite(gf.diagnose(traj, problem).lambda_max)
    # same start, same bits
    np.testing.assert_array_equal(
        gf.solve(problem, theta0, stepsize=0.1, steps=40).theta, traj.theta
    )


def quartic(t):
    return t[0] ** 2 + 3 * t[1] ** 2 + t[0] ** 4


@pytest.mark.slow  # XLA compiles every new batch shape: CI's slow suite
def test_verify_bound_on_a_jax_function():
    problem = gf.Problem.from_jax(quartic, 2)
    check = gf.stability.verify_bound(problem, np.array([0.3, -0.2]), gf.methods.Euler(), steps=60)
    np.testing.assert_allclose(check.predicted, 2.0 / 6.0, rtol=1e-6)
    assert abs(check.relative_gap) < 0.05


def test_bad_functions_and_arrays_are_refused():
    with pytest.raises(ValueError, match="fn must return a scalar"):
        gf.Problem.from_jax(lambda t: t**2, 3)
    with pytest.raises(TypeError, match="fn must take a flat vector"):
        gf.Problem.from_jax(lambda t: t[0] @ t[1], 3)
    with pytest.raises(TypeError, match="fn must be callable"):
        gf.Problem.from_jax(3.0, 3)
    with pytest.raises(TypeError, match="floating scalar"):
        gf.Problem.from_jax(lambda t: jnp.sum(t > 0), 3)
    problem = gf.Problem.from_jax(quartic, 2)
    with pytest.raises(TypeError, match=r"theta0 must be a numpy array.*JAX array"):
        gf.solve(problem, jnp.zeros(2), stepsize=0.1, steps=2)


def test_pickles_by_reference_and_refuses_lambdas():
    problem = gf.Problem.from_jax(quartic, 2)
    back = pickle.loads(pickle.dumps(problem))
    theta = np.array([[0.3, -0.2], [1.0, 2.0]])
    np.testing.assert_array_equal(back.grad(theta), problem.grad(theta))
    with pytest.raises(TypeError, match="cannot be pickled: its fn"):
        pickle.dumps(gf.Problem.from_jax(lambda t: jnp.sum(t**2), 2))
