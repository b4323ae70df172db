"""Schedules against closed forms written out here from the PyTorch / optax / HF / Keras docs.

Every reference below is scalar Python math transcribed from the library's documented
formula (or the loop its ``step()`` runs), never a call into gradflow.
"""

from __future__ import annotations

import math
from bisect import bisect_right

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradflow as gf
from gradflow import schedules as S

REL = 1e-12


def close(actual, expected, rel=REL):
    actual = np.asarray(actual, dtype=float)
    expected = np.asarray(expected, dtype=float)
    np.testing.assert_allclose(actual, expected, rtol=rel, atol=0.0)


def check(schedule, reference, horizon, extra=()):
    """Compare at edges, the horizon and past it, scalar and array calls.

    For t <= horizon the value must equal reference(t); past it, reference(horizon).
    """
    points = sorted({0, 1, *extra, horizon - 1, horizon, horizon + 1, 2 * horizon + 7})
    points = [p for p in points if p >= 0]
    expected = [reference(min(p, horizon)) for p in points]
    for p, e in zip(points, expected, strict=True):
        value = schedule(p)
        assert isinstance(value, float)
        close(value, e)
    close(schedule(np.array(points)), expected)
    dense = np.arange(horizon + 3)
    close(schedule(dense), [reference(min(int(p), horizon)) for p in dense])


# --------------------------------------------------------------------------------------
# PyTorch closed forms (torch.optim.lr_scheduler, last_epoch = t)
# --------------------------------------------------------------------------------------
def torch_step(b, step_size, gamma, t):
    return b * gamma ** (t // step_size)


def torch_multistep(b, milestones, gamma, t):
    return b * gamma ** bisect_right(sorted(milestones), t)


def torch_linear(b, s, e, total, t):
    return b * (s + (e - s) * min(total, t) / total)


def torch_poly(b, total, power, t):
    return b * (1.0 - min(total, t) / total) ** power


def torch_cosine(b, t_max, eta_min, t):
    return eta_min + (b - eta_min) * (1 + math.cos(math.pi * t / t_max)) / 2


def torch_warm_restarts(b, t0, t_mult, eta_min, n):
    """Values of updates 0..n-1 by CosineAnnealingWarmRestarts.step() (no epoch given)."""
    out, t_cur, t_i = [], 0, t0
    for _ in range(n):
        out.append(eta_min + (b - eta_min) * (1 + math.cos(math.pi * t_cur / t_i)) / 2)
        t_cur += 1
        if t_cur >= t_i:
            t_cur -= t_i
            t_i *= t_mult
    return out


def torch_one_cycle(max_lr, total, pct, anneal, div, final_div, three_phase, t, mom=(0.85, 0.95)):
    """OneCycleLR.get_lr for last_epoch = t (returns lr, momentum)."""
    initial = max_lr / div
    low = initial / final_div
    base_m, max_m = mom

    def cos(a, b, p):
        return b + (a - b) / 2.0 * (math.cos(math.pi * p) + 1)

    def lin(a, b, p):
        return (b - a) * p + a

    f = cos if anneal == "cos" else lin
    if three_phase:
        phases = [
            (float(pct * total) - 1, initial, max_lr, max_m, base_m),
            (float(2 * pct * total) - 2, max_lr, initial, base_m, max_m),
            (total - 1, initial, low, max_m, max_m),
        ]
    else:
        phases = [
            (float(pct * total) - 1, initial, max_lr, max_m, base_m),
            (total - 1, max_lr, low, base_m, max_m),
        ]
    start = 0.0
    for i, (end, a, b, ma, mb) in enumerate(phases):
        if t <= end or i == len(phases) - 1:
            p = (t - start) / (end - start)
            return f(a, b, p), f(ma, mb, p)
        start = end
    raise AssertionError


def torch_cyclic(base, top, up, down, mode, gamma, t):
    total = float(up + down)
    ratio = up / total
    cycle = math.floor(1 + t / total)
    x = 1.0 + t / total - cycle
    s = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
    height = (top - base) * s
    if mode == "triangular":
        return base + height * 1.0
    if mode == "triangular2":
        return base + height * (1 / (2.0 ** (cycle - 1)))
    return base + height * gamma**t


# --------------------------------------------------------------------------------------
# optax, Hugging Face, Keras, Vaswani
# --------------------------------------------------------------------------------------
def optax_warmup_cosine(init, peak, warmup, decay_steps, end, t):
    """optax.warmup_cosine_decay_schedule: join(linear_schedule, cosine_decay_schedule)."""
    if t < warmup:  # linear_schedule = polynomial_schedule(power=1)
        count = min(max(t, 0), warmup)
        frac = 1 - count / warmup
        return (init - peak) * frac**1 + peak
    alpha = 0.0 if peak == 0.0 else end / peak
    steps = float(decay_steps - warmup)
    count = min(float(t - warmup), steps)
    cosine_decay = 0.5 * (1 + math.cos(math.pi * count / steps))
    return peak * ((1 - alpha) * cosine_decay + alpha)


def hf_wsd(peak, warmup, stable, decay, min_lr, kind, t):
    """transformers get_wsd_schedule lambda (linear warmup, num_cycles = 0.5) times peak."""
    r = min_lr / peak
    if t < warmup:
        progress = float(t) / float(max(1, warmup))
        return peak * max(0.0, progress * (1.0 - r) + r)
    if t < warmup + stable:
        return peak * 1.0
    if t < warmup + stable + decay:
        progress = float(t - warmup - stable) / float(max(1, decay))
        if kind == "linear":
            f = 1.0 - progress
        elif kind == "cosine":
            f = 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress))
        else:
            f = 1.0 - math.sqrt(progress)
        return peak * max(0.0, f * (1.0 - r) + r)
    return peak * r


def hf_inverse_sqrt(lr, warmup, t):
    """transformers get_inverse_sqrt_schedule (timescale = warmup) times lr."""
    if t < warmup:
        return lr * float(t) / float(max(1, warmup))
    shift = warmup - warmup
    return lr * 1.0 / math.sqrt((t + shift) / warmup)


def vaswani(d_model, warmup, step_num):
    return d_model**-0.5 * min(step_num**-0.5, step_num * warmup**-1.5)


def keras_inverse_time(lr, rate, decay_steps, staircase, t):
    p = math.floor(t / decay_steps) if staircase else t / decay_steps
    return lr / (1 + rate * p)


# --------------------------------------------------------------------------------------
# each schedule against its closed form
# --------------------------------------------------------------------------------------
def test_constant():
    s = S.constant(0.3)
    check(s, lambda t: 0.3, 1)
    assert s.horizon == 0


@pytest.mark.parametrize(("b", "size", "gamma"), [(0.1, 30, 0.1), (1.0, 1, 0.5), (0.5, 7, 1.5)])
def test_step_decay_is_steplr(b, size, gamma):
    s = S.step_decay(b, size, gamma)
    for t in [0, size - 1, size, size + 1, 5 * size, 5 * size + size - 1, 20 * size]:
        close(s(t), torch_step(b, size, gamma, t))
    ts = np.arange(0, 40 * size + 3)
    close(s(ts), [torch_step(b, size, gamma, int(t)) for t in ts])
    assert s.horizon is None


def test_step_decay_large_index_array_uses_exact_powers():
    # The table path of _int_power (large arrays) against Python's pow.
    s = S.exponential(0.7, 0.9993)
    ts = np.arange(0, 200_000, 7)
    close(s(ts), [0.7 * 0.9993 ** int(t) for t in ts], rel=1e-14)


@pytest.mark.parametrize("milestones", [[30, 80], [5, 5, 9], [0, 3], []])
def test_multistep_is_multisteplr(milestones):
    s = S.multistep(0.2, milestones, gamma=0.5)
    horizon = milestones[-1] if milestones else 0
    extra = [m + d for m in milestones for d in (-1, 0, 1)]
    check(s, lambda t: torch_multistep(0.2, milestones, 0.5, t), max(horizon, 1), extra)
    assert s.horizon == horizon


def test_exponential_is_exponentiallr():
    s = S.exponential(0.1, 0.95)
    ts = np.arange(300)
    close(s(ts), [0.1 * 0.95 ** int(t) for t in ts])
    close(s(12), 0.1 * 0.95**12)


@pytest.mark.parametrize(
    ("start", "end", "total"), [(1 / 3, 1.0, 5), (1.0, 0.0, 10), (0.25, 0.75, 1), (0.1, 1.0, 4)]
)
def test_linear_is_linearlr(start, end, total):
    s = S.linear(0.3, start, end, total)
    check(s, lambda t: torch_linear(0.3, start, end, total, t), total)
    assert s.horizon == total
    assert s(total) == 0.3 * end


def test_linear_ends_exactly_on_end_factor():
    # PyTorch's (e - s)·min(t, T)/T rounds to a tiny negative factor here; ours is 0.
    s, T = 0.923739846617551, 193
    assert s + (0.0 - s) * min(T, T) / T < 0
    assert S.linear(1.0, s, 0.0, T)(T) == 0.0


def test_linear_defaults_are_pytorchs():
    s = S.linear(1.0)
    close(s(np.arange(7)), [torch_linear(1.0, 1 / 3, 1.0, 5, min(t, 5)) for t in range(7)])


@pytest.mark.parametrize(("total", "power"), [(10, 1.0), (7, 2.0), (100, 0.5)])
def test_polynomial_is_polynomiallr(total, power):
    s = S.polynomial(0.4, total, power)
    check(s, lambda t: torch_poly(0.4, total, power, t), total)
    assert s(total) == 0.0  # ends at exactly 0


def test_polynomial_with_end_lr_is_optax():
    s = S.polynomial(1.0, 20, power=2.0, end_lr=0.1)
    ref = [(1.0 - 0.1) * (1 - min(t, 20) / 20) ** 2.0 + 0.1 for t in range(30)]
    close(s(np.arange(30)), ref)


@pytest.mark.parametrize(("total", "eta"), [(100, 0.0), (10, 0.01), (1, 0.05), (37, 0.15)])
def test_cosine_is_cosineannealinglr_then_held(total, eta):
    s = S.cosine(0.2, total, min_lr=eta)
    check(s, lambda t: torch_cosine(0.2, total, eta, t), total, extra=[total // 2])
    # PyTorch's closed form rises again after T_max; ours holds min_lr.
    assert torch_cosine(0.2, total, eta, total + max(1, total // 2)) > eta
    close(s(total + max(1, total // 2)), eta)


@pytest.mark.parametrize(("period", "mult"), [(1, 3), (2, 3), (5, 2), (10, 1), (3, 4)])
def test_cosine_restarts_match_the_step_loop(period, mult):
    n = 600
    s = S.cosine_restarts(0.1, period, mult, min_lr=0.001)
    ref = torch_warm_restarts(0.1, period, mult, 0.001, n)
    close(s(np.arange(n)), ref)
    for t in (0, 1, period - 1, period, period + 1, n - 1):
        close(s(t), ref[t])


def test_cosine_restarts_exact_where_a_logarithm_rounds():
    # Cycle starts for T0 = 1, mult = 3: 0, 1, 4, 13, 40, 121, 364.  The logarithm
    # PyTorch uses for an explicit epoch lands one cycle early at t = 121.
    assert int(math.log(121 / 1 * (3 - 1) + 1, 3)) == 4
    s = S.cosine_restarts(1.0, 1, mult=3)
    assert s(121) == 1.0
    assert s(np.array([120, 121, 122]))[1] == 1.0
    close(s(122), torch_warm_restarts(1.0, 1, 3, 0.0, 123)[122])
    # Same rounding for T0 = 2: the restart at 242 is exact.
    assert S.cosine_restarts(0.5, 2, mult=3)(242) == 0.5
    # And every restart of a long run gives lr exactly.
    starts = [1 * (3**i - 1) // 2 for i in range(12)]
    assert np.all(s(np.array(starts)) == 1.0)


def test_cosine_restarts_never_reach_min_lr():
    s = S.cosine_restarts(1.0, 4, min_lr=0.1)
    values = s(np.arange(40))
    assert values.min() > 0.1


@pytest.mark.parametrize(
    ("total", "pct", "anneal", "three"),
    [
        (10, 0.3, "cos", False),  # pct·T = 3 (integral): peak at t = 2
        (100, 0.25, "linear", False),  # pct·T = 25 exactly
        (100, 0.29, "cos", False),  # 0.29·100 = 28.999999999999996
        (1000, 0.3, "cos", False),  # 0.3·1000 = 300.00000000000006
        (57, 0.3, "linear", False),  # pct·T = 17.1
        (100, 0.3, "cos", True),
        (41, 0.2, "linear", True),
    ],
)
def test_one_cycle_is_onecyclelr(total, pct, anneal, three):
    s = S.one_cycle(0.4, total, pct, anneal, 25.0, 1e4, three)
    horizon = total - 1
    assert s.horizon == horizon
    ts = np.arange(total + 5)
    ref = [
        torch_one_cycle(0.4, total, pct, anneal, 25.0, 1e4, three, min(int(t), horizon)) for t in ts
    ]
    close(s(ts), [r[0] for r in ref])
    close(s.momentum(ts), [r[1] for r in ref])
    close(s(0), 0.4 / 25.0)
    # (PyTorch's linear anneal ends at (b - a)·1 + a, a few ulps of 0.4 off b.)
    close(s(horizon), 0.4 / 25.0 / 1e4, rel=1e-10)
    assert s(total) == s(horizon) == s(10 * total)  # held (PyTorch raises past T)
    peak = round(pct * total) - 1
    if abs(pct * total - round(pct * total)) < 1e-9:
        close(s(peak), 0.4)
        close(s.momentum(peak), 0.85)


def test_one_cycle_with_peak_at_zero_is_defined():
    # pct·T = 1 puts the peak at t = 0; PyTorch divides 0/0 there.
    s = S.one_cycle(1.0, 10, pct_start=0.1)
    assert s(0) == 1.0
    close(s(5), torch_one_cycle(1.0, 10, 0.1, "cos", 25.0, 1e4, False, 5)[0])


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
@pytest.mark.parametrize(("up", "down"), [(4, 4), (3, 7), (5, None)])
def test_cyclic_is_cycliclr(mode, up, down):
    s = S.cyclic(0.01, 0.1, up, down, mode, gamma=0.97)
    total = up + (up if down is None else down)
    ts = np.arange(4 * total + 1)
    ref = [torch_cyclic(0.01, 0.1, up, total - up, mode, 0.97, int(t)) for t in ts]
    close(s(ts), ref)
    assert s(0) == 0.01
    close(s(up), torch_cyclic(0.01, 0.1, up, total - up, mode, 0.97, up))


def test_noam_is_vaswani():
    s = S.noam(512, 4000)
    ts = np.array([0, 1, 2, 3998, 3999, 4000, 10_000, 100_000])
    close(s(ts), [vaswani(512, 4000, t + 1) for t in ts])
    close(s(3999), 512**-0.5 * 4000**-0.5)  # the peak, at s = W
    close(S.noam(256, 100, scale=2.0)(50), 2.0 * vaswani(256, 100, 51))


def test_inverse_sqrt_is_noam_normalised_and_hf_shifted():
    W = 16
    s = S.inverse_sqrt(0.3, W)
    ts = np.arange(200)
    close(s(ts), [0.3 * vaswani(1.0, W, t + 1) / vaswani(1.0, W, W) for t in ts])
    close(s(W - 1), 0.3)
    # Hugging Face counts from 0: its value at t is ours at t - 1 (and 0 at t = 0).
    assert hf_inverse_sqrt(0.3, W, 0) == 0.0
    close(s(ts[:-1]), [hf_inverse_sqrt(0.3, W, t + 1) for t in ts[:-1]])


@pytest.mark.parametrize(
    ("init", "peak", "warmup", "total", "end"),
    [
        (0.0, 1e-3, 100, 1000, 0.0),
        (1e-5, 3e-4, 10, 50, 3e-5),
        (0.5, 1.0, 0, 20, 0.1),
        (0.0, 8e-5, 8, 1200, 8e-7),  # the Llama-3 recipe, scaled down 1000×
        (0.2, 0.1, 5, 6, 0.3),
    ],
)
def test_warmup_cosine_is_optax(init, peak, warmup, total, end):
    s = S.warmup_cosine(peak, warmup, total, init_lr=init, end_lr=end)
    ts = np.arange(total + 30)
    ref = [optax_warmup_cosine(init, peak, warmup, total, end, int(t)) for t in ts]
    np.testing.assert_allclose(s(ts), ref, rtol=1e-12, atol=1e-300)
    assert s.horizon == total
    close(s(warmup), peak)
    np.testing.assert_allclose(s(0), init if warmup else peak, rtol=1e-12, atol=0)


def test_warmup_cosine_is_linear_warmup_of_cosine():
    a = S.warmup_cosine(0.1, 10, 110, init_lr=0.01, end_lr=0.001)
    b = S.linear_warmup(S.cosine(0.1, 100, min_lr=0.001), 10, start_lr=0.01)
    ts = np.arange(130)
    np.testing.assert_array_equal(a(ts), b(ts))


@pytest.mark.parametrize("decay", ["linear", "cosine", "sqrt"])
@pytest.mark.parametrize(
    ("W", "St", "D", "low"), [(10, 30, 20, 0.0), (0, 5, 7, 0.01), (3, 0, 1, 0.02)]
)
def test_wsd_is_hf(decay, W, St, D, low):
    s = S.wsd(0.1, W, St, D, min_lr=low, decay=decay)
    horizon = W + St + D
    assert s.horizon == horizon
    ts = np.arange(horizon + 10)
    np.testing.assert_allclose(
        s(ts), [hf_wsd(0.1, W, St, D, low, decay, int(t)) for t in ts], rtol=1e-12, atol=1e-17
    )


@pytest.mark.parametrize("staircase", [False, True])
def test_inverse_time_is_keras(staircase):
    s = S.inverse_time(0.5, 0.3, 10, staircase=staircase)
    ts = np.arange(0, 500, 3)
    close(s(ts), [keras_inverse_time(0.5, 0.3, 10, staircase, int(t)) for t in ts])


def test_inverse_time_perceptron():
    s = S.inverse_time(1.0, 1.0, 1)
    close(s(np.arange(5)), [1 / k for k in range(1, 6)])


# --------------------------------------------------------------------------------------
# combinators
# --------------------------------------------------------------------------------------
def test_linear_warmup_formula():
    inner = S.exponential(0.1, 0.9)
    s = S.linear_warmup(inner, 5, start_lr=0.02)
    for t in range(5):
        close(s(t), 0.02 + (0.1 - 0.02) * t / 5)
    for t in range(5, 30):
        close(s(t), 0.1 * 0.9 ** (t - 5))
    assert S.linear_warmup(inner, 0)(7) == inner(7)
    h = S.linear_warmup(S.cosine(1.0, 10), 4)
    assert h.horizon == 14 and h(14) == h(100) == 0.0


def test_sequence_boundary_belongs_to_new_schedule():
    a, b, c = S.constant(0.3), S.cosine(0.2, 10, 0.01), S.exponential(0.05, 0.5)
    s = S.sequence([a, b, c], [4, 9])

    # SequentialLR closed form: f_i(t - m_i) after milestone m_i.
    def ref(t):
        if t < 4:
            return 0.3
        if t < 9:
            return torch_cosine(0.2, 10, 0.01, t - 4)
        return 0.05 * 0.5 ** (t - 9)

    ts = np.arange(20)
    close(s(ts), [ref(int(t)) for t in ts])
    assert s(3) == 0.3 and s(4) == 0.2 and s(9) == 0.05
    assert s.horizon is None
    assert S.sequence([a, b], [4]).horizon == 14


def test_sequence_with_array_parameters():
    peaks = np.array([0.1, 0.2])
    s = S.sequence([S.constant(peaks), S.cosine(peaks, 4)], [2])
    out = s(np.arange(8)[:, None])
    assert out.shape == (8, 2)
    for j, p in enumerate(peaks):
        single = S.sequence([S.constant(p), S.cosine(p, 4)], [2])
        close(out[:, j], single(np.arange(8)))


def test_scale():
    s = S.scale(S.cosine(1.0, 10), 0.5)
    close(s(np.arange(12)), [0.5 * torch_cosine(1.0, 10, 0.0, min(t, 10)) for t in range(12)])
    assert s.horizon == 10


# --------------------------------------------------------------------------------------
# convention: shapes, types, bad arguments, descriptions
# --------------------------------------------------------------------------------------
def test_scalar_and_array_calls_and_shapes():
    s = S.cosine(0.1, 10)
    assert isinstance(s(3), float)
    assert isinstance(s(np.int32(3)), float)
    assert s(np.arange(6, dtype=np.uint16).reshape(2, 3)).shape == (2, 3)
    assert s([0, 1, 2]).shape == (3,)
    sweep = S.cosine(np.array([0.1, 0.2, 0.3]), 10)
    assert sweep.shape == (3,)
    assert sweep(4).shape == (3,)
    assert sweep(np.arange(5)[:, None]).shape == (5, 3)
    with pytest.raises(ValueError, match=r"k\[:, None\]"):
        sweep(np.arange(5))


@pytest.mark.parametrize("k", [1.0, 3.5, np.array([0.0, 1.0]), True, "3", None])
def test_non_integer_k_is_a_type_error(k):
    with pytest.raises(TypeError, match=r"k must be an int or an integer array \(a step index\)"):
        S.cosine(0.1, 10)(k)


@pytest.mark.parametrize("k", [-1, np.array([3, -2])])
def test_negative_k(k):
    with pytest.raises(ValueError, match="k must be >= 0"):
        S.exponential(0.1, 0.9)(k)


BAD = [
    (lambda: S.constant(0.0), "lr"),
    (lambda: S.constant(-1.0), "lr"),
    (lambda: S.constant(np.nan), "lr"),
    (lambda: S.cosine(0.1, 0), "total_steps"),
    (lambda: S.cosine(0.1, -5), "total_steps"),
    (lambda: S.cosine(0.1, 10, min_lr=-0.1), "min_lr"),
    (lambda: S.step_decay(0.1, 10, gamma=0.0), "gamma"),
    (lambda: S.step_decay(0.1, 10, gamma=-0.5), "gamma"),
    (lambda: S.step_decay(0.1, 0), "step_size"),
    (lambda: S.exponential(0.1, 0.0), "gamma"),
    (lambda: S.multistep(0.1, [30, 10]), "milestones"),
    (lambda: S.multistep(0.1, [10, -3]), "milestones"),
    (lambda: S.multistep(0.1, 5), "milestones"),
    (lambda: S.multistep(0.1, [5], gamma=0), "gamma"),
    (lambda: S.linear(0.1, total_steps=0), "total_steps"),
    (lambda: S.linear(0.1, start_factor=-1), "start_factor"),
    (lambda: S.polynomial(0.1, 0), "total_steps"),
    (lambda: S.polynomial(0.1, 10, power=0.0), "power"),
    (lambda: S.cosine_restarts(0.1, 0), "period"),
    (lambda: S.cosine_restarts(0.1, 10, mult=0), "mult"),
    (lambda: S.one_cycle(0.1, 100, pct_start=0.0), "pct_start"),
    (lambda: S.one_cycle(0.1, 100, pct_start=1.0), "pct_start"),
    (lambda: S.one_cycle(0.1, 100, pct_start=1.3), "pct_start"),
    (lambda: S.one_cycle(0.1, 100, pct_start=0.6, three_phase=True), "pct_start"),
    (lambda: S.one_cycle(0.1, 100, anneal="cosine"), "anneal"),
    (lambda: S.one_cycle(0.0, 100), "max_lr"),
    (lambda: S.one_cycle(0.1, 0), "total_steps"),
    (lambda: S.one_cycle(0.1, 100, div_factor=0), "div_factor"),
    (lambda: S.cyclic(0.1, 0.5, mode="triangle"), "mode"),
    (lambda: S.cyclic(0.0, 0.5), "base_lr"),
    (lambda: S.cyclic(0.1, 0.5, step_size_up=0), "step_size_up"),
    (lambda: S.cyclic(0.1, 0.5, gamma=0.0), "gamma"),
    (lambda: S.inverse_sqrt(0.1, 0), "warmup_steps"),
    (lambda: S.noam(0, 100), "d_model"),
    (lambda: S.warmup_cosine(0.1, 10, 10), "total_steps"),
    (lambda: S.warmup_cosine(0.0, 10, 100), "peak_lr"),
    (lambda: S.warmup_cosine(0.1, -1, 100), "warmup_steps"),
    (lambda: S.wsd(0.1, 10, 10, 10, decay="exp"), "decay"),
    (lambda: S.wsd(0.1, 10, 10, 0), "decay_steps"),
    (lambda: S.inverse_time(0.1, 0.0, 10), "rate"),
    (lambda: S.inverse_time(0.1, 1.0, 0), "decay_steps"),
    (lambda: S.linear_warmup(S.constant(0.1), -1), "warmup_steps"),
    (lambda: S.sequence([S.constant(0.1), S.constant(0.2)], [5, 6]), "boundaries"),
    (lambda: S.sequence([S.constant(0.1)] * 3, [6, 5]), "boundaries"),
    (lambda: S.sequence([], []), "schedules"),
    (lambda: S.scale(S.constant(0.1), 0.0), "factor"),
    (lambda: S.cosine(np.array([0.1, 0.2]), 10, min_lr=np.array([0.0, 0.0, 0.0])), "broadcast"),
]


@pytest.mark.parametrize(("make", "name"), BAD)
def test_bad_arguments_name_themselves(make, name):
    with pytest.raises(ValueError, match=name):
        make()


def test_non_schedules_are_type_errors():
    with pytest.raises(TypeError, match="schedule"):
        S.linear_warmup(lambda t: 0.1, 5)
    with pytest.raises(TypeError, match=r"schedules\[1\]"):
        S.sequence([S.constant(0.1), 0.2], [3])
    with pytest.raises(TypeError, match="lr"):
        S.constant("fast")
    with pytest.raises(TypeError, match="total_steps"):
        S.cosine(0.1, 10.5)
    with pytest.raises(TypeError, match="mult"):
        S.cosine_restarts(0.1, 10, mult=1.5)


def test_describe_and_repr():
    s = S.cosine(0.1, 100, min_lr=0.001)
    text = s.describe()
    assert "cos(π·min(k, T)/T)" in text and "T = 100" in text and "0.001" in text
    assert "held" in text
    assert repr(s) == "cosine(lr=0.1, total_steps=100, min_lr=0.001)"
    every = [
        S.constant(0.1),
        S.step_decay(0.1, 3),
        S.multistep(0.1, [3]),
        S.exponential(0.1, 0.9),
        S.linear(0.1),
        S.polynomial(0.1, 10),
        S.cosine_restarts(0.1, 10, 2),
        S.one_cycle(0.1, 100),
        S.one_cycle(0.1, 100, three_phase=True),
        S.cyclic(0.01, 0.1),
        S.inverse_sqrt(0.1, 10),
        S.noam(512, 10),
        S.warmup_cosine(0.1, 10, 100),
        S.wsd(0.1, 1, 2, 3),
        S.inverse_time(0.1, 1.0, 1, staircase=True),
        S.linear_warmup(S.constant(0.1), 3),
        S.sequence([S.constant(0.1), S.constant(0.2)], [3]),
        S.scale(S.constant(0.1), 2.0),
    ]
    for s in every:
        assert "η(k)" in s.describe() or "one cycle" in s.describe()
        assert repr(s).startswith(s.name + "(")
        assert s.label().startswith(s.name + "(")
        assert isinstance(s, S.Schedule) and s.span >= 1


# --------------------------------------------------------------------------------------
# properties
# --------------------------------------------------------------------------------------
def _monotone_schedules():
    lr = st.floats(1e-4, 10.0)
    n = st.integers(1, 300)
    frac = st.floats(0.01, 0.999)
    return st.one_of(
        st.builds(S.step_decay, lr, n, frac),
        st.builds(
            lambda a, ms, g: S.multistep(a, sorted(ms), g), lr, st.lists(n, max_size=4), frac
        ),
        st.builds(S.exponential, lr, frac),
        st.builds(S.polynomial, lr, n, st.floats(0.1, 4.0), st.floats(0.0, 1e-4)),
        st.builds(S.cosine, lr, n, st.floats(0.0, 1e-4)),
        st.builds(S.inverse_time, lr, st.floats(0.01, 10.0), n, st.booleans()),
        st.builds(S.linear, lr, st.floats(0.5, 1.0), st.floats(0.0, 0.5), n),
    )


def _any_schedules():
    lr = st.floats(1e-4, 10.0)
    n = st.integers(1, 300)
    return st.one_of(
        _monotone_schedules(),
        st.builds(S.cosine_restarts, lr, n, st.integers(1, 4), st.floats(0.0, 1e-4)),
        st.builds(
            S.one_cycle,
            lr,
            st.integers(2, 500),
            st.floats(0.05, 0.45),
            st.sampled_from(["cos", "linear"]),
            st.floats(1.0, 100.0),
            st.floats(1.0, 1e4),
            st.booleans(),
        ),
        st.builds(
            S.cyclic,
            lr,
            lr,
            n,
            st.one_of(st.none(), n),
            st.sampled_from(["triangular", "triangular2", "exp_range"]),
            st.floats(0.5, 1.0),
        ),
        st.builds(S.inverse_sqrt, lr, n),
        st.builds(S.noam, st.integers(1, 4096), n, st.floats(0.1, 10.0)),
        st.builds(
            lambda p, w, extra, i, e: S.warmup_cosine(p, w, w + extra, i, e),
            lr,
            st.integers(0, 100),
            n,
            st.floats(0.0, 1.0),
            st.floats(0.0, 1.0),
        ),
        st.builds(
            S.wsd,
            lr,
            st.integers(0, 50),
            st.integers(0, 50),
            n,
            st.floats(0.0, 1e-4),
            st.sampled_from(["linear", "cosine", "sqrt"]),
        ),
    )


@settings(max_examples=150, deadline=None)
@given(s=_any_schedules(), ts=st.lists(st.integers(0, 10**9), min_size=1, max_size=20))
def test_values_finite_non_negative_and_held(s, ts):
    values = s(np.array(ts))
    assert np.all(np.isfinite(values)) and np.all(values >= 0)
    close(values, [s(t) for t in ts])
    if s.horizon is not None:
        held = s(np.array([s.horizon, s.horizon + 1, s.horizon + 10**6]))
        assert held[0] == held[1] == held[2]


@settings(max_examples=100, deadline=None)
@given(s=_monotone_schedules())
def test_monotone_schedules_never_increase(s):
    values = s(np.arange(s.span + 5))
    assert np.all(np.diff(values) <= 1e-15 * values[:-1])


# --------------------------------------------------------------------------------------
# in solve
# --------------------------------------------------------------------------------------
def test_solve_uses_h_k_equal_to_s_k():
    p = gf.problems.quadratic([1.0, 4.0], seed=0)
    s = S.one_cycle(0.4, 60, pct_start=0.25)
    theta0 = np.array([1.0, -2.0])
    traj = gf.solve(p, theta0, stepsize=s, steps=60)
    theta = theta0.copy()
    for k in range(60):
        theta = theta - s(k) * p.grad(theta)
        np.testing.assert_array_equal(traj.theta[k + 1], theta)


def test_array_peak_sweeps_peaks_in_one_solve():
    p = gf.problems.quadratic([1.0, 10.0], seed=1)
    peaks = np.array([0.05, 0.15, 0.25])  # the last goes past 2/λmax = 0.2 at the peak
    sweep = S.warmup_cosine(peaks, 10, 200, init_lr=1e-3, end_lr=1e-3)
    theta0 = np.broadcast_to([1.0, 1.0], (3, 2))
    traj = gf.solve(p, theta0, stepsize=sweep, steps=200, save="final")
    for j, peak in enumerate(peaks):
        alone = S.warmup_cosine(float(peak), 10, 200, init_lr=1e-3, end_lr=1e-3)
        single = gf.solve(p, theta0[j], stepsize=alone, steps=200, save="final")
        np.testing.assert_array_equal(traj.theta[-1, j], single.theta[-1])
        assert traj.status[j] == single.status
    # Sweep × starts: peaks[:, None] against theta0 of shape (3, 2 starts, d).
    starts = np.stack([theta0, -theta0], axis=1)
    column = S.warmup_cosine(peaks[:, None], 10, 200, init_lr=1e-3, end_lr=1e-3)
    grid = gf.solve(p, starts, stepsize=column, steps=200, save="final")
    np.testing.assert_array_equal(grid.theta[-1, :, 0], traj.theta[-1])


def test_scalar_calls_equal_array_calls():
    # Scalar calls are served from a memo of consecutive values; they must be the values
    # of a direct evaluation, in order, out of order and for sweeps.
    for s in [
        S.one_cycle(0.1, 3000),
        S.cosine_restarts(0.1, 7, 3),
        S.exponential(0.1, 0.999),
        S.warmup_cosine(np.array([0.1, 0.2]), 100, 2000),
    ]:
        ts = np.arange(1500)
        expected = s(ts[:, None] if s.shape else ts)
        got = np.array([s(int(t)) for t in ts])
        np.testing.assert_array_equal(got, expected)
        for t in (1499, 3, 1024, 0, 700):
            np.testing.assert_array_equal(s(t), expected[t])
