"""Schedules against the real ``optax`` schedules (float64 JAX), over random parameters.

Each ``check_*`` draws its parameters from a seed and compares ``s(k)`` with the optax
schedule evaluated on the same counts under ``jax.enable_x64``.  The quick suite runs
draw 0 of every check in one test (so that one worker imports JAX, about 4 s of CPU);
``pytest -m slow`` runs more draws.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradflow.schedules as S

SEEDS = range(1, 6)
#: optax's float64 arithmetic (XLA may fuse a multiply-add) equals gradflow's to rounding.
RTOL = 1e-12


def _optax():
    """optax, imported by the test that needs it (not at collection)."""
    pytest.importorskip("jax", reason="the optax references need jax")
    return pytest.importorskip("optax", reason="the optax references need optax")


#: Every reference is evaluated on the counts 0..COUNTS-1: one array shape, so JAX
#: compiles each primitive once for the whole module.
COUNTS = 512


def reference(make, n):
    """``make(optax)`` evaluated at ``k = 0..n-1`` in float64 (``n <= COUNTS``)."""
    assert n <= COUNTS
    optax = _optax()
    import jax
    import jax.numpy as jnp

    with jax.enable_x64(True):
        f = make(optax)
        out = np.asarray(jax.vmap(f)(jnp.arange(COUNTS, dtype=jnp.int64)), dtype=np.float64)
    assert out.dtype == np.float64
    return out[:n]


def check_cosine_exponent_is_optax(seed):
    rng = np.random.default_rng(seed)
    lr, T = rng.uniform(0.01, 1.0), int(rng.integers(1, 400))
    alpha, p = rng.uniform(0.0, 0.5), rng.uniform(0.2, 4.0)
    ref = reference(lambda o: o.cosine_decay_schedule(lr, T, alpha=alpha, exponent=p), T + 20)
    s = S.cosine(lr, T, min_lr=alpha * lr, exponent=p)
    np.testing.assert_allclose(s(np.arange(T + 20)), ref, rtol=RTOL)
    # Exponents as a sweep: element i equals optax with exponent i.
    ps = np.array([0.5, 1.0, p])
    sweep = S.cosine(lr, T, exponent=ps)(np.arange(T + 1)[:, None])
    for i, pi in enumerate(ps):
        ref_i = reference(lambda o, pi=pi: o.cosine_decay_schedule(lr, T, exponent=pi), T + 1)
        np.testing.assert_allclose(sweep[:, i], ref_i, rtol=RTOL, atol=1e-300)


def check_warmup_cosine_exponent_is_optax(seed):
    rng = np.random.default_rng(seed)
    W = int(rng.integers(0, 30))
    T = W + int(rng.integers(1, 150))
    init, peak = rng.uniform(0.0, 0.01), rng.uniform(0.05, 1.0)
    end, p = rng.uniform(0.0, 0.01), rng.uniform(0.2, 4.0)
    ref = reference(
        lambda o: o.warmup_cosine_decay_schedule(init, peak, W, T, end, exponent=p), T + 20
    )
    s = S.warmup_cosine(peak, W, T, init_lr=init, end_lr=end, exponent=p)
    np.testing.assert_allclose(s(np.arange(T + 20)), ref, rtol=RTOL)


def check_exponential_end_value_is_optax(seed):
    rng = np.random.default_rng(seed)
    lr = rng.uniform(0.01, 1.0)
    cases = [
        (rng.uniform(0.8, 0.99), lr * rng.uniform(0.01, 0.5)),  # a decay to a floor
        (rng.uniform(1.01, 1.2), lr * rng.uniform(2.0, 50.0)),  # growth to a cap
        (rng.uniform(0.8, 0.99), lr * rng.uniform(1.5, 3.0)),  # floor above lr: flat
        (1.0, lr * rng.uniform(0.1, 0.9)),  # rate 1: min(lr, end)
    ]
    n = 400
    for gamma, end in cases:
        ref = reference(lambda o, g=gamma, e=end: o.exponential_decay(lr, 1, g, end_value=e), n)
        s = S.exponential(lr, gamma, end_lr=end)
        np.testing.assert_allclose(s(np.arange(n)), ref, rtol=RTOL)
        # horizon: the first clipped step, from which the value is held at end_lr.
        h = s.horizon
        assert h < n
        assert s(h) == s(h + 10**6) == ref[h]
        if h > 0:
            assert s(h - 1) != s(h)


def check_linear_onecycle_is_optax(seed):
    rng = np.random.default_rng(seed)
    for _ in range(4):
        T = int(rng.integers(10, 400))
        pct_start = rng.uniform(0.0, 0.5)
        pct_final = rng.uniform(pct_start + 0.1, 0.99)
        peak, div, final = rng.uniform(0.01, 2.0), rng.uniform(2.0, 50.0), rng.uniform(2.0, 1e4)
        ref = reference(
            lambda o, T=T, a=pct_start, b=pct_final, pk=peak, d=div, f=final: (
                o.linear_onecycle_schedule(T, pk, a, b, d, f)
            ),
            T + 20,
        )
        s = S.linear_onecycle(peak, T, pct_start, pct_final, div, final)
        np.testing.assert_allclose(s(np.arange(T + 20)), ref, rtol=RTOL)
        # The peak at int(pct_start·T) and the end at T, optax's convention.
        assert abs(s(int(pct_start * T)) - peak) <= 1e-15 * peak
        assert s(T) == s(T + 5) == ref[-1]


CHECKS = [
    check_cosine_exponent_is_optax,
    check_warmup_cosine_exponent_is_optax,
    check_exponential_end_value_is_optax,
    check_linear_onecycle_is_optax,
]


def test_every_check_on_one_draw():
    for check in CHECKS:
        check(0)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__[len("check_") :])
def test_random_draws(check, seed):
    check(seed)
