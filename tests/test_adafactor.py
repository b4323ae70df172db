"""Adafactor against optax (float64 trajectories), its factored moments, and its contract.

The expected trajectories come from optax (a test-only dependency) fed the gradient of
the same gradflow problem, the parameter groups as pytree leaves.  ``optax.adafactor``
evaluates ``β̂_t = 1 - t^{-0.8}`` in float32; the 1e-10 comparison therefore chains
optax's own Adafactor transformations with a float64 ``decay_rate_fn`` (everything else
is optax's code), and a second test compares with ``optax.adafactor`` itself at the
tolerance that float32 ``β̂_t`` allows.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
from gradflow.methods import Adafactor

_RNG = np.random.default_rng(1804)
_X = _RNG.standard_normal((30, 6))
_LABELS = _RNG.integers(0, 2, 30)

#: (problem, start, shapes, h).  min_dim_size_to_factor=2 below factors the matrices.
PROBLEMS = {
    "quadratic": (
        gf.problems.quadratic([1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 3.0, 7.0], seed=0),
        [1.0, -2.0, 0.5, 0.3, -0.7, 1.5, 2.0, -1.0],
        ((2, 3), (2,)),
        1e-2,
    ),
    "rosenbrock": (gf.problems.rosenbrock(), [-1.2, 1.0], None, 1e-3),
    "logistic_regression": (
        gf.problems.logistic_regression(_X, _LABELS, l2=0.1),
        [0.3, -0.2, 0.1, 0.5, -0.4, 0.2],
        ((3, 2),),
        1e-2,
    ),
}


@pytest.fixture
def x64():
    """jax in float64 for the test, restored afterwards."""
    jax = pytest.importorskip("jax", reason="the Adafactor reference is optax (needs jax)")
    pytest.importorskip("optax", reason="the Adafactor reference is optax")
    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield jax
    jax.config.update("jax_enable_x64", old)


def _optax_run(jax, opt, problem, theta0, groups, steps):
    """``steps`` optax updates with the gradflow problem's gradient; the iterates."""
    import jax.numpy as jnp
    import optax

    cuts = np.cumsum([int(np.prod(s)) for s in groups])[:-1]

    def split(flat):
        parts = zip(np.split(flat, cuts), groups, strict=True)
        return tuple(jnp.asarray(a.reshape(s)) for a, s in parts)

    def flat(tree):
        return np.concatenate([np.asarray(a).ravel() for a in tree])

    params = split(np.asarray(theta0, dtype=np.float64))
    state = opt.init(params)
    update = jax.jit(opt.update)
    out = []
    for _ in range(steps):
        g = problem.grad(flat(params)[None])[0]
        updates, state = update(split(g), state, params)
        params = optax.apply_updates(params, updates)
        out.append(flat(params))
    return np.array(out)


def _optax_adafactor64(h, min_dim=2, momentum=None, decay=None, clip=1.0):
    """optax.adafactor's chain (alias.py), with β̂_t = 1 - t^-0.8 in float64."""
    import jax.numpy as jnp
    import optax

    def beta(i, exponent=0.8):
        return 1.0 - jnp.asarray(i + 1, jnp.float64) ** (-exponent)

    tx = [optax.scale_by_factored_rms(True, 0.8, 0, min_dim, 1e-30, decay_rate_fn=beta)]
    if clip is not None:
        tx.append(optax.clip_by_block_rms(clip))
    tx += [optax.scale_by_learning_rate(h, flip_sign=False), optax.scale_by_param_block_rms()]
    if momentum is not None:
        tx.append(optax.ema(momentum, debias=False, accumulator_dtype=jnp.float64))
    if decay is not None:
        tx.append(optax.add_decayed_weights(decay))
    tx.append(optax.scale(-1))
    return optax.chain(*tx)


def _gradflow_run(method, problem, theta0, h, steps):
    traj = gf.solve(problem, np.asarray(theta0, dtype=float), method, h, steps=steps)
    return traj.theta[1:]


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_matches_optax_chain(x64, name):
    """200 float64 steps equal optax's to 1e-10 relative: the two differ in the order
    of the means' sums only (a few ulp per step, amplified ~1e3 along a run)."""
    problem, theta0, shapes, h = PROBLEMS[name]
    groups = shapes or ((problem.dim,),)
    ref = _optax_run(x64, _optax_adafactor64(h), problem, theta0, groups, 200)
    got = _gradflow_run(Adafactor(min_dim_size_to_factor=2, shapes=shapes), problem, theta0, h, 200)
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_matches_optax_chain_with_momentum_decay_no_clip(x64, name):
    problem, theta0, shapes, h = PROBLEMS[name]
    groups = shapes or ((problem.dim,),)
    opt = _optax_adafactor64(h, momentum=0.9, decay=1e-3, clip=None)
    ref = _optax_run(x64, opt, problem, theta0, groups, 200)
    method = Adafactor(
        min_dim_size_to_factor=2,
        momentum=0.9,
        weight_decay_rate=1e-3,
        clipping_threshold=None,
        shapes=shapes,
    )
    np.testing.assert_allclose(
        _gradflow_run(method, problem, theta0, h, 200), ref, rtol=1e-10, atol=1e-12
    )


def test_matches_optax_adafactor_itself(x64):
    """optax.adafactor proper (β̂_t rounded to float32, a relative error ~6e-8 in
    1 - β̂_t): equal to 1e-6 relative (1e-8 absolute near sign changes) over 200
    steps; the default min_dim_size 128 leaves these small matrices unfactored."""
    import optax

    problem, theta0, shapes, h = PROBLEMS["quadratic"]
    ref = _optax_run(x64, optax.adafactor(h), problem, theta0, shapes, 200)
    got = _gradflow_run(Adafactor(shapes=shapes), problem, theta0, h, 200)
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-8)


def test_factored_second_moment_is_the_rank_one_fit():
    """After one step (β̂_1 = 0) a factored group's V̂ is R C/mean(R) of G², computed here
    from the paper's row and column sums: V̂ = (V 1)(1ᵀ V)/(1ᵀ V 1)."""
    p = gf.problems.quadratic(np.arange(1.0, 7.0), seed=3)
    theta = _RNG.standard_normal((2, 6))
    opt = Adafactor(min_dim_size_to_factor=2, shapes=((2, 3),), eps=1e-30)
    s1 = opt.step(p, opt.init(p, theta), np.array([1e-2])).state
    G2 = p.grad(theta).reshape(2, 2, 3) ** 2 + 1e-30
    R, C = G2.sum(axis=2), G2.sum(axis=1)
    V = R[:, :, None] * C[:, None, :] / G2.sum(axis=(1, 2))[:, None, None]
    eff = opt.effective_stepsize(s1, 1e-2).reshape(2, 2, 3)
    expected = 1e-2 * s1.scale[:, 0, None, None] / np.sqrt(V)
    np.testing.assert_allclose(eff, expected, rtol=1e-12)
    assert s1.v.shape == (2, 0) and s1.v_row.shape == (2, 2) and s1.v_col.shape == (2, 3)


def test_clipping_bounds_the_update_rms():
    """RMS(Û) <= d: with the relative step off the displacement's RMS is at most h·d."""
    p = gf.problems.rosenbrock()
    opt = Adafactor(multiply_by_parameter_scale=False, clipping_threshold=0.5)
    state = opt.init(p, np.array([[-1.2, 1.0], [0.5, 0.5]]))
    for _ in range(20):
        new = opt.step(p, state, np.array([1e-2])).state
        rms = np.sqrt(np.mean((new.theta - state.theta) ** 2, axis=-1))
        assert np.all(rms <= 1e-2 * 0.5 * (1 + 1e-12))
        state = new


def test_batch_equals_single_and_float32():
    p, _, shapes, h = PROBLEMS["logistic_regression"]
    starts = _RNG.standard_normal((4, 6))
    method = Adafactor(min_dim_size_to_factor=2, shapes=shapes, momentum=0.5)
    batch = gf.solve(p, starts, method, h, steps=25, save="final")
    for j in range(4):
        alone = gf.solve(p, starts[j], method, h, steps=25, save="final")
        assert np.array_equal(alone.theta[-1], batch.theta[-1, j])
    f32 = gf.solve(p, starts.astype(np.float32), method, h, steps=25, save="final")
    assert f32.theta.dtype == np.float32 and np.isfinite(f32.theta).all()


def test_effective_stepsize_is_what_the_step_does():
    p = gf.problems.quadratic([1.0, 100.0, 3.0, 5.0], seed=0)
    opt = Adafactor(min_dim_size_to_factor=2, shapes=((2, 2),))
    state = opt.init(p, np.array([[1.0, -2.0, 0.5, 0.1], [0.3, 0.5, 0.2, -0.4]]))
    for _ in range(3):
        g = p.grad(state.theta)
        got = opt.next_effective_stepsize(state, 1e-2, g)
        new = opt.step(p, state, np.asarray(1e-2)).state
        np.testing.assert_allclose(got, (state.theta - new.theta) / g, rtol=1e-10)
        state = new


@pytest.mark.parametrize(
    ("kwargs", "exc", "word"),
    [
        ({"decay_rate": 0.0}, ValueError, "decay_rate"),
        ({"decay_rate": 1.5}, ValueError, "decay_rate"),
        ({"min_dim_size_to_factor": 0}, ValueError, "min_dim_size_to_factor"),
        ({"min_dim_size_to_factor": 2.5}, TypeError, "min_dim_size_to_factor"),
        ({"decay_offset": -1}, ValueError, "decay_offset"),
        ({"clipping_threshold": 0.0}, ValueError, "clipping_threshold"),
        ({"momentum": 1.0}, ValueError, "momentum"),
        ({"weight_decay_rate": -1.0}, ValueError, "weight_decay_rate"),
        ({"eps": -1.0}, ValueError, "eps"),
        ({"factored": 1}, TypeError, "factored"),
        ({"multiply_by_parameter_scale": "yes"}, TypeError, "multiply_by_parameter_scale"),
        ({"shapes": [[2, "a"]]}, TypeError, "shapes"),
    ],
)
def test_bad_arguments(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        Adafactor(**kwargs)


def test_no_amplification_matrix():
    with pytest.raises(NotImplementedError, match="Adafactor"):
        Adafactor().amplification_matrix()
