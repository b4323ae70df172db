"""Keras and Hugging Face schedules against their documented closed forms, and the
properties every new schedule shares (sweeps, float32 runs, horizons, argument checks).

``transformers`` and ``keras`` are not dependencies: the references below are
transcriptions of Keras' ``PiecewiseConstantDecay`` and of the ``lr_lambda`` functions
of ``transformers.optimization`` (a ``LambdaLR`` multiplies the factor by the base step),
written in plain Python floats, step by step as documented.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradflow as gf
import gradflow.schedules as S


# ---------------------------------------------------------------------------------------
# the references
# ---------------------------------------------------------------------------------------
def keras_piecewise_constant(step, boundaries, values):
    """Keras: ``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` on
    ``(boundaries[i-1], boundaries[i]]``, the last value after the last boundary."""
    if step <= boundaries[0]:
        return values[0]
    for i in range(1, len(boundaries)):
        if boundaries[i - 1] < step <= boundaries[i]:
            return values[i]
    return values[-1]


def hf_constant_with_warmup(step, warmup):
    if step < warmup:
        return float(step) / float(max(1.0, warmup))
    return 1.0


def hf_cosine_with_hard_restarts(step, warmup, total, cycles):
    if step < warmup:
        return float(step) / float(max(1, warmup))
    progress = float(step - warmup) / float(max(1, total - warmup))
    if progress >= 1.0:
        return 0.0
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * ((float(cycles) * progress) % 1.0))))


def hf_polynomial_with_warmup(step, lr_init, warmup, total, lr_end, power):
    if step < warmup:
        return float(step) / float(max(1, warmup))
    if step > total:
        return lr_end / lr_init
    lr_range = lr_init - lr_end
    decay_steps = total - warmup
    pct_remaining = 1 - (step - warmup) / decay_steps
    decay = lr_range * pct_remaining**power + lr_end
    return decay / lr_init


SEEDS = range(6)


# ---------------------------------------------------------------------------------------
# Keras PiecewiseConstantDecay
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_piecewise_constant_is_keras(seed):
    rng = np.random.default_rng(seed)
    n_b = int(rng.integers(1, 6))
    bounds = sorted(int(b) for b in rng.choice(np.arange(0, 200), size=n_b, replace=False))
    values = list(rng.uniform(0.0, 1.0, size=n_b + 1))
    s = S.piecewise_constant(bounds, values)
    k = np.arange(bounds[-1] + 30)
    np.testing.assert_array_equal(s(k), [keras_piecewise_constant(i, bounds, values) for i in k])
    assert s.horizon == bounds[-1] + 1
    assert s(s.horizon) == s(s.horizon + 10**6) == values[-1]


def test_piecewise_constant_keras_example_and_the_switch_one_step_later():
    s = S.piecewise_constant([100000, 110000], [1.0, 0.5, 0.1])
    # "1.0 for the first 100001 steps, 0.5 for the next 10000 steps, 0.1 after".
    values = s(np.arange(120000))
    assert np.count_nonzero(values == 1.0) == 100001
    assert np.count_nonzero(values == 0.5) == 10000
    # multistep (PyTorch MultiStepLR, optax's boundaries) switches on the boundary step.
    m = S.multistep(1.0, [100000, 110000], gamma=0.5)
    assert s(100000) == 1.0 and m(100000) == 0.5 and s(100001) == 0.5


def test_piecewise_constant_sweeps_value_sets():
    table = np.array([[0.1, 0.2, 0.3], [0.01, 0.02, 0.03]])
    s = S.piecewise_constant([5], table)
    assert s.shape == (3,)
    out = s(np.arange(8)[:, None])
    for j in range(3):
        np.testing.assert_array_equal(
            out[:, j], S.piecewise_constant([5], table[:, j])(np.arange(8))
        )


# ---------------------------------------------------------------------------------------
# Hugging Face warmups
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_warmup_constant_is_hf_constant_with_warmup(seed):
    rng = np.random.default_rng(seed)
    lr, W = rng.uniform(1e-4, 1.0), int(rng.integers(0, 60))
    s = S.warmup_constant(lr, W)
    k = np.arange(W + 20)
    # HF's own operation order (lr · k/W): bit for bit.
    np.testing.assert_array_equal(s(k), [lr * hf_constant_with_warmup(i, W) for i in k])
    assert s.horizon == W and s(0) == (lr if W == 0 else 0.0)


@pytest.mark.parametrize("seed", SEEDS)
def test_warmup_cosine_restarts_is_hf_hard_restarts(seed):
    rng = np.random.default_rng(seed)
    lr, W = rng.uniform(1e-4, 1.0), int(rng.integers(0, 30))
    T, n = W + int(rng.integers(1, 300)), int(rng.integers(1, 8))
    s = S.warmup_cosine_restarts(lr, W, T, num_cycles=n)
    k = np.arange(T + 20)
    ref = np.array([lr * hf_cosine_with_hard_restarts(i, W, T, n) for i in k])
    np.testing.assert_allclose(s(k), ref, rtol=1e-12, atol=1e-15 * lr)
    assert s.horizon == T and s(T) == s(T + 10**6) == 0.0


def test_warmup_cosine_restarts_restarts_on_the_exact_step():
    # 22 cycles over 44 steps restart every 2 steps; HF's float (22·p) % 1.0 is
    # 0.9999999999999982 at step 30 (a value near 0), the exact fraction is 0.
    s = S.warmup_cosine_restarts(1.0, 0, 44, num_cycles=22)
    assert hf_cosine_with_hard_restarts(30, 0, 44, 22) < 1e-20
    assert s(30) == 1.0
    restarts = np.arange(0, 44, 2)
    np.testing.assert_array_equal(s(restarts), 1.0)
    np.testing.assert_allclose(s(restarts + 1), 0.5, rtol=1e-15)


@pytest.mark.parametrize("seed", SEEDS)
def test_warmup_polynomial_is_hf_polynomial_decay(seed):
    rng = np.random.default_rng(seed)
    lr, W = rng.uniform(1e-3, 1.0), int(rng.integers(0, 30))
    T = W + int(rng.integers(1, 300))
    end, p = lr * rng.uniform(0.0, 0.5), rng.uniform(0.3, 4.0)
    s = S.warmup_polynomial(lr, W, T, end_lr=end, power=p)
    k = np.arange(T + 20)
    ref = np.array([lr * hf_polynomial_with_warmup(i, lr, W, T, end, p) for i in k])
    np.testing.assert_allclose(s(k), ref, rtol=1e-12)
    assert s.horizon == T and s(T) == s(T + 10**6) == end


def test_warmup_polynomial_defaults_are_hfs():
    s = S.warmup_polynomial(1e-3, 10, 100)
    ref = [1e-3 * hf_polynomial_with_warmup(i, 1e-3, 10, 100, 1e-7, 1.0) for i in range(120)]
    np.testing.assert_allclose(s(np.arange(120)), ref, rtol=1e-12)


# ---------------------------------------------------------------------------------------
# sweeps, float32, describe, argument checks
# ---------------------------------------------------------------------------------------
SWEEPS = [
    lambda lr: S.warmup_constant(lr, 7),
    lambda lr: S.warmup_cosine_restarts(lr, 5, 60, 3),
    lambda lr: S.warmup_polynomial(lr, 5, 60, end_lr=1e-4, power=2.0),
    lambda lr: S.linear_onecycle(lr, 60, 0.2, 0.7),
    lambda lr: S.exponential(lr, 0.9, end_lr=1e-3),
    lambda lr: S.cosine(lr, 60, 1e-4, exponent=1.5),
    lambda lr: S.cyclic(lr / 10, lr, 6),
]


@pytest.mark.parametrize("make", SWEEPS, ids=lambda m: m(0.1).name)
def test_array_parameters_sweep_elementwise(make):
    lrs = np.array([0.05, 0.1, 0.3])
    sweep = make(lrs)
    assert sweep.shape == (3,)
    k = np.arange(80)
    out = sweep(k[:, None])
    for j, lr in enumerate(lrs):
        np.testing.assert_allclose(out[:, j], make(float(lr))(k), rtol=1e-15, atol=1e-300)


@pytest.mark.parametrize("make", SWEEPS, ids=lambda m: m(0.1).name)
def test_float32_runs_stay_float32_and_use_s_k(make):
    s = make(0.05)
    p = gf.problems.quadratic([1.0, 2.0], seed=0)
    theta0 = np.full((2, 2), 0.5, dtype=np.float32)
    traj = gf.solve(p, theta0, stepsize=s, steps=40)
    assert traj.theta.dtype == np.float32 and traj.status.tolist() == ["ok", "ok"]
    np.testing.assert_array_equal(traj.h[1:, 0], s(np.arange(40)).astype(traj.h.dtype))


def test_describe_states_the_formula_and_the_source():
    texts = {
        S.piecewise_constant([3], [1.0, 0.5]).describe(): "Keras PiecewiseConstantDecay",
        S.warmup_constant(1.0, 3).describe(): "get_constant_schedule_with_warmup",
        S.warmup_cosine_restarts(1.0, 3, 30, 2).describe(): "hard_restarts",
        S.warmup_polynomial(1.0, 3, 30).describe(): "get_polynomial_decay_schedule",
        S.linear_onecycle(1.0, 30).describe(): "optax linear_onecycle_schedule",
        S.exponential(1.0, 0.9, end_lr=0.1).describe(): "end_value",
        S.cosine(1.0, 30, exponent=2.0).describe(): "exponent p",
        S.warmup_cosine(1.0, 3, 30, exponent=2.0).describe(): "p = 2",
        S.cyclic(0.1, 1.0, 3).describe(): "momentum(k)",
    }
    for text, source in texts.items():
        assert source in text, (source, text)
    # Defaults of the new arguments leave the older reprs as they were.
    assert repr(S.cosine(0.1, 10)) == "cosine(lr=0.1, total_steps=10, min_lr=0)"
    assert repr(S.exponential(0.1, 0.9)) == "exponential(lr=0.1, gamma=0.9)"
    assert "end_lr=0.01" in repr(S.exponential(0.1, 0.9, end_lr=0.01))
    assert "exponent=2" in repr(S.cosine(0.1, 10, exponent=2.0))


@pytest.mark.parametrize(
    ("make", "error", "name"),
    [
        (lambda: S.piecewise_constant([3, 3], [1.0, 0.5, 0.1]), ValueError, "boundaries"),
        (lambda: S.piecewise_constant([3], [1.0, 0.5, 0.1]), ValueError, "values"),
        (lambda: S.piecewise_constant([3], [1.0, -0.5]), ValueError, "values"),
        (lambda: S.piecewise_constant(3, [1.0, 0.5]), ValueError, "boundaries"),
        (lambda: S.piecewise_constant([1.5], [1.0, 0.5]), TypeError, "boundaries"),
        (lambda: S.warmup_constant(0.0, 3), ValueError, "lr"),
        (lambda: S.warmup_constant(1.0, -1), ValueError, "warmup_steps"),
        (lambda: S.warmup_cosine_restarts(1.0, 10, 10), ValueError, "total_steps"),
        (lambda: S.warmup_cosine_restarts(1.0, 2, 10, num_cycles=0), ValueError, "num_cycles"),
        (lambda: S.warmup_polynomial(1.0, 2, 10, end_lr=1.0), ValueError, "end_lr"),
        (lambda: S.warmup_polynomial(1.0, 2, 10, power=0.0), ValueError, "power"),
        (lambda: S.linear_onecycle(1.0, 10, 0.5, 0.55), ValueError, "pct_start"),
        (lambda: S.linear_onecycle(1.0, 10, 0.3, 1.0), ValueError, "pct_start"),
        (lambda: S.linear_onecycle(1.0, 10, 1.5, 0.9), ValueError, "pct_start"),
        (lambda: S.linear_onecycle(1.0, 10, "0.3"), TypeError, "pct_start"),
        (lambda: S.exponential(1.0, 0.9, end_lr=0.0), ValueError, "end_lr"),
        (lambda: S.cosine(1.0, 10, exponent=0.0), ValueError, "exponent"),
        (lambda: S.warmup_cosine(1.0, 2, 10, exponent=-1.0), ValueError, "exponent"),
        (lambda: S.cosine_restarts(1.0, 3, steps_per_epoch=0), ValueError, "steps_per_epoch"),
        (lambda: S.cyclic(0.1, 1.0, 3, base_momentum=-0.1), ValueError, "base_momentum"),
    ],
)
def test_bad_arguments_name_themselves(make, error, name):
    with pytest.raises(error, match=name):
        make()


def test_linear_onecycle_phases():
    # Independent of optax: the four corners, and linear in between.
    s = S.linear_onecycle(2.0, 100, pct_start=0.25, pct_final=0.6, div_factor=8.0,
                          final_div_factor=4.0)  # fmt: skip
    corners = {0: 0.25, 25: 2.0, 60: 0.25, 100: 0.0625}
    for k, v in corners.items():
        assert abs(s(k) - v) < 1e-15
    np.testing.assert_allclose(s(np.arange(25, 61)), np.linspace(2.0, 0.25, 36), rtol=1e-14)
    np.testing.assert_allclose(s(np.arange(60, 101)), np.linspace(0.25, 0.0625, 41), rtol=1e-14)
    assert s.horizon == 100 and s(10**6) == s(100)


def test_exponential_end_lr_horizons():
    # A decay by halves from 1 to the floor 0.2: 1, 0.5, 0.25, then 0.2 from step 3 on.
    s = S.exponential(1.0, 0.5, end_lr=0.2)
    assert s.horizon == 3
    # The cap of a growth, hit exactly: 0.1·2^3 = 0.8.
    g = S.exponential(0.1, 2.0, end_lr=0.8)
    assert g.horizon == 3 and g(2) == 0.4 and g(3) == g(50) == 0.8
    # Flat: floor above the start, and a cap below it.
    assert S.exponential(0.1, 0.5, end_lr=0.3).horizon == 0
    assert S.exponential(0.1, 1.5, end_lr=0.05)(np.arange(3)).tolist() == [0.05] * 3
    # A sweep: each entry held from its own clip start, the horizon the last of them.
    sweep = S.exponential(1.0, np.array([0.5, 0.9]), end_lr=0.2)
    n9 = math.ceil(math.log(0.2) / math.log(0.9))
    assert sweep.horizon == n9
    np.testing.assert_array_equal(sweep(np.array([3, n9, 10**6])[:, None])[:, 0], 0.2)
    assert sweep(n9 - 1)[1] > 0.2 and sweep(n9)[1] == 0.2
