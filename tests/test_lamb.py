"""LAMB against ``optax.lamb`` (float64 trajectories), its trust ratio, and its contract.

The expected trajectories come from optax itself (a test-only dependency) with the
gradient of the same gradflow problem fed in, parameter groups as pytree leaves.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
from gradflow.methods import LAMB

_RNG = np.random.default_rng(18)
_X = _RNG.standard_normal((24, 3))
_LABELS = _RNG.integers(0, 2, 24)

#: (problem, start, groups, h): groups are optax's pytree leaves.
PROBLEMS = {
    "quadratic": (
        gf.problems.quadratic([1.0, 10.0, 100.0], seed=0),
        [1.0, -2.0, 0.5],
        ((2,), (1,)),
        1e-2,
    ),
    "rosenbrock": (gf.problems.rosenbrock(), [-1.2, 1.0], None, 2e-3),
    "logistic_regression": (
        gf.problems.logistic_regression(_X, _LABELS, l2=0.1),
        [0.3, -0.2, 0.1],
        None,
        5e-3,
    ),
}


@pytest.fixture
def x64():
    """jax in float64 for the test, restored afterwards."""
    jax = pytest.importorskip("jax", reason="the LAMB reference is optax (needs jax)")
    pytest.importorskip("optax", reason="the LAMB reference is optax")
    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield jax
    jax.config.update("jax_enable_x64", old)


def _optax_run(jax, opt, problem, theta0, groups, steps):
    """``steps`` optax updates with the gradflow problem's gradient; the iterates."""
    import jax.numpy as jnp
    import optax

    sizes = [int(np.prod(s)) for s in groups]
    cuts = np.cumsum(sizes)[:-1]

    def split(flat):
        return tuple(
            jnp.asarray(a.reshape(s)) for a, s in zip(np.split(flat, cuts), groups, strict=True)
        )

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


def _gradflow_run(method, problem, theta0, h, steps):
    traj = gf.solve(problem, np.asarray(theta0, dtype=float), method, h, steps=steps)
    return traj.theta[1:]


@pytest.mark.parametrize("name", sorted(PROBLEMS))
@pytest.mark.parametrize("decay", [0.0, pytest.param(0.05, marks=pytest.mark.slow)])
def test_matches_optax_lamb(x64, name, decay):
    """200 float64 steps equal optax's to 1e-10 relative: the two differ only in the
    order of the norms' sums (a few ulp per step), amplified by at most ~1e4 here."""
    import optax

    problem, theta0, shapes, h = PROBLEMS[name]
    groups = shapes or ((problem.dim,),)
    method = LAMB(weight_decay=decay, shapes=shapes)  # the defaults are optax's
    ref = _optax_run(x64, optax.lamb(h, weight_decay=decay), problem, theta0, groups, 200)
    got = _gradflow_run(method, problem, theta0, h, 200)
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)


def test_first_step_moves_each_group_by_h_times_its_norm():
    """At k = 1, ``m̂/√v̂ = sign(g)`` (ε aside): the update of a group is ``h‖θ_g‖ u/‖u‖``."""
    p = gf.problems.quadratic([1.0, 10.0, 100.0, 3.0], seed=1)
    theta = np.array([[3.0, 4.0, 2.0, -1.0], [0.1, 0.2, -0.3, 0.4]])
    lamb = LAMB(eps=1e-12, shapes=((2,), (2,)))
    h = 0.05
    s1 = lamb.step(p, lamb.init(p, theta), np.array([h])).state
    for sl in (slice(0, 2), slice(2, 4)):
        moved = np.linalg.norm(theta[:, sl] - s1.theta[:, sl], axis=-1)
        np.testing.assert_allclose(moved, h * np.linalg.norm(theta[:, sl], axis=-1), rtol=1e-10)
    g = p.grad(theta)
    np.testing.assert_allclose(
        s1.ratio[:, 0], np.linalg.norm(theta[:, :2], axis=-1) / np.sqrt(2.0), rtol=1e-10
    )
    assert np.all(np.sign(theta - s1.theta) == np.sign(g))


def test_group_at_the_origin_uses_unit_ratio():
    p = gf.problems.quadratic([1.0, 10.0], seed=0)
    p = gf.Problem(p.loss, lambda t: np.asarray(t) * 0 + 1.0, dim=2)
    lamb = LAMB()
    s1 = lamb.step(p, lamb.init(p, np.zeros((1, 2))), np.array([0.1])).state
    np.testing.assert_allclose(s1.theta, -0.1 * np.ones((1, 2)), rtol=1e-6)
    assert s1.ratio[0, 0] == 1.0


def test_batch_equals_single_and_float32():
    p = gf.problems.logistic_regression(_X, _LABELS, l2=0.1)
    starts = _RNG.standard_normal((5, 3))
    method = LAMB(weight_decay=0.01, shapes=((2,), (1,)))
    batch = gf.solve(p, starts, method, 0.05, steps=30, save="final")
    for j in range(5):
        alone = gf.solve(p, starts[j], method, 0.05, steps=30, save="final")
        assert np.array_equal(alone.theta[-1], batch.theta[-1, j])
    f32 = gf.solve(p, starts.astype(np.float32), method, 0.05, steps=30, save="final")
    assert f32.theta.dtype == np.float32 and np.isfinite(f32.theta).all()


def test_effective_stepsize_is_what_the_step_does():
    """Displacement per unit of m̂ (no decay): computed here from the update formula."""
    p = gf.problems.quadratic([1.0, 100.0, 3.0], seed=0)
    lamb = LAMB(shapes=((1,), (2,)))
    state = lamb.init(p, np.array([[1.0, -2.0, 0.5], [0.3, 0.5, 0.2]]))
    for _ in range(3):
        g = p.grad(state.theta)
        m = lamb.beta1 * state.m + (1 - lamb.beta1) * g
        m_hat = m / (1 - lamb.beta1 ** (state.k + 1))[:, None]
        got = lamb.next_effective_stepsize(state, 1e-2, g)
        new = lamb.step(p, state, np.asarray(1e-2)).state
        np.testing.assert_allclose(got, (state.theta - new.theta) / m_hat, rtol=1e-10)
        state = new


@pytest.mark.parametrize(
    ("kwargs", "exc", "word"),
    [
        ({"beta1": 1.0}, ValueError, "beta1"),
        ({"beta2": -0.1}, ValueError, "beta2"),
        ({"eps": 0.0}, ValueError, "eps"),
        ({"weight_decay": -1.0}, ValueError, "weight_decay"),
        ({"shapes": "abc"}, TypeError, "shapes"),
        ({"shapes": ((2, 0),)}, ValueError, "shapes"),
        ({"shapes": ((2.5,),)}, TypeError, "shapes"),
        ({"shapes": ()}, ValueError, "shapes"),
    ],
)
def test_bad_arguments(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        LAMB(**kwargs)


def test_shapes_must_add_up_to_dim():
    p = gf.problems.quadratic([1.0, 2.0, 3.0], seed=0)
    with pytest.raises(ValueError, match="shapes"):
        gf.solve(p, np.ones(3), LAMB(shapes=((2,), (2,))), 0.1, steps=2)


def test_no_amplification_matrix():
    with pytest.raises(NotImplementedError, match="LAMB"):
        LAMB().amplification_matrix()
