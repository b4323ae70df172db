"""Optimisers as methods: 50 steps equal independent re-implementations of the
published algorithms (with PyTorch's conventions), weight-decay variants, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradflow as gf
from gradflow.methods import SGD, AdaGrad, Adam, AdamW, Clipped, Lion, RMSProp

STEPS = 50
D = 20


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(20261123)
    X = rng.standard_normal((60, D))
    y = rng.standard_normal(60)
    return gf.problems.least_squares(X, y)


@pytest.fixture(scope="module")
def starts():
    return np.random.default_rng(7).standard_normal((3, D))


def _run(problem, starts, method, h):
    traj = gf.solve(problem, starts, method, h, steps=STEPS)
    assert (traj.status == "ok").all()
    return traj.theta  # (STEPS + 1, 3, D)


def _reference(problem, starts, update, h):
    """Run ``update(theta, g, state, t, h) -> (theta, state)`` one trajectory at a time."""
    out = np.empty((STEPS + 1, *starts.shape))
    for j, theta in enumerate(starts):
        theta = theta.copy()
        state: dict = {}
        out[0, j] = theta
        for t in range(1, STEPS + 1):
            g = problem.grad(theta[None])[0]
            theta, state = update(theta, g, state, t, h)
            out[t, j] = theta
        del state
    return out


# ---- the published algorithms, written out plainly --------------------------------------
def sgd_ref(momentum=0.0, dampening=0.0, nesterov=False, wd=0.0):
    def update(theta, g, st, t, h):
        g = g + wd * theta
        if momentum:
            b = g.copy() if t == 1 else momentum * st["b"] + (1 - dampening) * g
            st["b"] = b
            g = g + momentum * b if nesterov else b
        return theta - h * g, st

    return update


def adagrad_ref(eps=1e-10, s0=0.0, wd=0.0):
    def update(theta, g, st, t, h):
        g = g + wd * theta
        s = st.get("s", np.full_like(theta, s0)) + g**2
        st["s"] = s
        return theta - h * g / (np.sqrt(s) + eps), st

    return update


def rmsprop_ref(alpha=0.99, eps=1e-8, momentum=0.0, centered=False, wd=0.0):
    def update(theta, g, st, t, h):
        g = g + wd * theta
        v = alpha * st.get("v", 0.0) + (1 - alpha) * g**2
        st["v"] = v
        if centered:
            ga = alpha * st.get("ga", 0.0) + (1 - alpha) * g
            st["ga"] = ga
            denom = np.sqrt(v - ga**2) + eps
        else:
            denom = np.sqrt(v) + eps
        if momentum:
            b = momentum * st.get("b", 0.0) + g / denom
            st["b"] = b
            return theta - h * b, st
        return theta - h * g / denom, st

    return update


def adam_ref(b1=0.9, b2=0.999, eps=1e-8, amsgrad=False, wd=0.0, decoupled=False):
    """Kingma & Ba, Algorithm 1, with eps added after bias-correcting v (PyTorch);
    decoupled=True is Loshchilov & Hutter's AdamW with PyTorch's lr-scaled decay."""

    def update(theta, g, st, t, h):
        if decoupled:
            theta = theta * (1 - h * wd)
        else:
            g = g + wd * theta
        m = b1 * st.get("m", 0.0) + (1 - b1) * g
        v = b2 * st.get("v", 0.0) + (1 - b2) * g * g
        st["m"], st["v"] = m, v
        if amsgrad:
            v = np.maximum(st.get("vmax", 0.0), v)
            st["vmax"] = v
        m_hat = m / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        return theta - h * m_hat / (np.sqrt(v_hat) + eps), st

    return update


def lion_ref(b1=0.9, b2=0.99, wd=0.0):
    """Chen et al. 2023, Algorithm 2."""

    def update(theta, g, st, t, h):
        m = st.get("m", np.zeros_like(theta))
        c = b1 * m + (1 - b1) * g
        theta = theta - h * (np.sign(c) + wd * theta)
        st["m"] = b2 * m + (1 - b2) * g
        return theta, st

    return update


CASES = [
    (SGD(), sgd_ref(), 0.05),
    (SGD(momentum=0.9), sgd_ref(0.9), 0.02),
    (SGD(momentum=0.9, dampening=0.3, weight_decay=0.1), sgd_ref(0.9, 0.3, wd=0.1), 0.02),
    (SGD(momentum=0.8, nesterov=True, weight_decay=0.05), sgd_ref(0.8, 0, True, 0.05), 0.02),
    (AdaGrad(), adagrad_ref(), 0.1),
    (
        AdaGrad(eps=1e-6, initial_accumulator_value=0.5, weight_decay=0.1),
        adagrad_ref(1e-6, 0.5, 0.1),
        0.1,
    ),
    (RMSProp(), rmsprop_ref(), 1e-2),
    # centered: √(v - ḡ²) cancels catastrophically when g barely varies; a larger eps keeps
    # the comparison well conditioned.
    (
        RMSProp(alpha=0.9, momentum=0.5, centered=True, weight_decay=0.01, eps=1e-3),
        rmsprop_ref(0.9, 1e-3, 0.5, True, 0.01),
        1e-3,
    ),
    (Adam(), adam_ref(), 1e-2),
    (
        Adam(beta1=0.5, beta2=0.9, eps=1e-6, amsgrad=True, weight_decay=0.1),
        adam_ref(0.5, 0.9, 1e-6, True, 0.1),
        1e-2,
    ),
    (AdamW(), adam_ref(wd=1e-2, decoupled=True), 1e-2),
    (
        AdamW(beta1=0.8, beta2=0.95, weight_decay=0.3, amsgrad=True),
        adam_ref(0.8, 0.95, amsgrad=True, wd=0.3, decoupled=True),
        1e-2,
    ),
    (Lion(), lion_ref(), 1e-3),
    (Lion(beta1=0.95, beta2=0.98, weight_decay=0.5), lion_ref(0.95, 0.98, 0.5), 1e-3),
]


@pytest.mark.parametrize(("method", "reference", "h"), CASES, ids=[repr(c[0]) for c in CASES])
def test_fifty_steps_equal_published_algorithm(problem, starts, method, reference, h):
    got = _run(problem, starts, method, h)
    want = _reference(problem, starts, reference, h)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_per_element_step_sizes_and_counters(problem, starts):
    """An array of step sizes runs each element as if alone (bias corrections per element)."""
    hs = np.array([1e-3, 1e-2, 3e-2])
    got = gf.solve(problem, starts, Adam(), hs, steps=STEPS, save="final").theta[-1]
    for j in range(3):
        alone = gf.solve(problem, starts[j], Adam(), hs[j], steps=STEPS, save="final")
        np.testing.assert_allclose(got[j], alone.theta[-1], rtol=0, atol=1e-14)


def test_adam_effective_step_is_not_sgd_step():
    """1e-3 in Adam is not 1e-3 in SGD: displacement per unit gradient after one step."""
    p = gf.problems.quadratic(A=np.diag([1e-4, 1e-2, 1.0]))
    theta0, h = np.ones((1, 3)), 1e-3
    adam = Adam()
    s1 = adam.step(p, adam.init(p, theta0), np.array([h])).state
    g0 = p.grad(theta0)
    per_unit = (theta0 - s1.theta) / g0
    np.testing.assert_allclose(per_unit, adam.effective_stepsize(s1, h), rtol=1e-12)
    np.testing.assert_allclose(per_unit, h / (np.abs(g0) + adam.eps), rtol=1e-12)
    sgd = SGD()
    s1 = sgd.step(p, sgd.init(p, theta0), np.array([h])).state
    np.testing.assert_allclose((theta0 - s1.theta) / g0, h, rtol=1e-9)
    assert adam.effective_stepsize(adam.init(p, theta0), h).shape == (1, 3)


@pytest.mark.parametrize("method", [AdaGrad(), RMSProp(), Lion(), SGD(momentum=0.5)])
def test_effective_stepsize_is_displacement_per_unit_gradient_at_first_step(method):
    p = gf.problems.quadratic(A=np.diag([1e-2, 1.0]))
    theta0, h = np.ones((2, 2)), 1e-3
    s1 = method.step(p, method.init(p, theta0), np.array([h])).state
    per_unit = (theta0 - s1.theta) / p.grad(theta0)
    if isinstance(method, Lion):  # per unit of c = (1 - β1) g at the first step
        per_unit = per_unit / (1 - method.beta1)
    np.testing.assert_allclose(per_unit, method.effective_stepsize(s1, h), rtol=1e-10)


def test_weight_decay_variants_differ_exactly_as_documented(problem, starts):
    """AdamW = shrink θ by (1 - hλ), then the Adam step without decay (same moments);
    Adam's coupled decay adds λθ to the gradient before the moments instead."""
    h, lam = 1e-2, 0.1
    adamw, plain, coupled = AdamW(weight_decay=lam), Adam(), Adam(weight_decay=lam)
    state = plain.init(problem, starts)
    for _ in range(5):
        state = plain.step(problem, state, np.array([h])).state
    w = adamw.step(problem, state, np.array([h])).state
    a = plain.step(problem, state, np.array([h])).state
    np.testing.assert_array_equal(w.m, a.m)
    np.testing.assert_array_equal(w.v, a.v)
    np.testing.assert_allclose(w.theta, a.theta - h * lam * state.theta, rtol=0, atol=1e-15)
    shifted = gf.Problem(loss=problem.loss, grad=lambda th: problem.grad(th) + lam * th, dim=D)
    c = coupled.step(problem, state, np.array([h])).state
    c2 = plain.step(shifted, state, np.array([h])).state
    np.testing.assert_allclose(c.theta, c2.theta, rtol=0, atol=1e-15)
    assert not np.allclose(c.theta, w.theta, rtol=0, atol=1e-9)


def test_decay_schedule_keeps_product_constant(problem, starts):
    sched = gf.schedules.cosine(1e-2, 100, 1e-3)
    lam = gf.schedules.constant_decay_product(sched, 1e-3)
    k = np.arange(100)
    np.testing.assert_allclose(sched(k) * lam(k), 1e-3, rtol=1e-12)
    got = gf.solve(problem, starts, AdamW(weight_decay=lam), sched, steps=20, save="final")
    ref = _reference(problem, starts, _adamw_scheduled(sched, lam), None)
    np.testing.assert_allclose(got.theta[-1], ref[20], rtol=0, atol=1e-12)


def _adamw_scheduled(sched, lam):
    """AdamW with h_t = sched(t - 1) and λ_t = lam(t - 1) (0-based step index)."""

    def update(theta, g, st, t, h):
        step = adam_ref(wd=float(lam(t - 1)), decoupled=True)
        return step(theta, g, st, t, float(sched(t - 1)))

    return update


def test_sgd_momentum_reproduces_heavy_ball(problem, starts):
    a = gf.solve(problem, starts, SGD(momentum=0.7), 0.02, steps=STEPS).theta
    b = gf.solve(problem, starts, gf.methods.HeavyBall(0.7), 0.02, steps=STEPS).theta
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)


def test_amplification_matrices():
    import sympy as sp

    z = sp.Symbol("z")
    assert SGD().amplification_matrix() == sp.Matrix([[1 + z]])
    assert (
        SGD(momentum=0.5).amplification_matrix() == gf.methods.HeavyBall(0.5).amplification_matrix()
    )
    assert (
        SGD(momentum=0.5, nesterov=True).amplification_matrix()
        == gf.methods.Nesterov(0.5).amplification_matrix()
    )
    for m in (Adam(), AdamW(), AdaGrad(), RMSProp(), Lion(), SGD(weight_decay=0.1)):
        with pytest.raises(NotImplementedError):
            m.amplification_matrix()


def test_orders_and_odes():
    for m in (SGD(), AdaGrad(), RMSProp(), Adam(), AdamW(), Lion()):
        assert m.order == 1 and isinstance(m.ode, str) and m.ode


@pytest.mark.parametrize(
    ("factory", "kwargs", "label"),
    [
        (Adam, {"beta1": 1.0}, "beta1"),
        (Adam, {"beta1": -0.1}, "beta1"),
        (Adam, {"beta2": 1.0}, "beta2"),
        (AdamW, {"beta2": 1.5}, "beta2"),
        (Lion, {"beta1": 1.0}, "beta1"),
        (Lion, {"beta2": -1e-3}, "beta2"),
        (Adam, {"eps": 0.0}, "eps"),
        (AdamW, {"eps": -1e-8}, "eps"),
        (AdaGrad, {"eps": 0.0}, "eps"),
        (RMSProp, {"eps": 0.0}, "eps"),
        (RMSProp, {"alpha": 1.0}, "alpha"),
        (SGD, {"momentum": 1.0}, "momentum"),
        (SGD, {"weight_decay": -1.0}, "weight_decay"),
        (Adam, {"beta1": math.nan}, "beta1"),
        (SGD, {"nesterov": True}, "nesterov"),
        (AdamW, {"weight_decay": -0.1}, "weight_decay"),
    ],
)
def test_bad_hyperparameters(factory, kwargs, label):
    with pytest.raises(ValueError, match=label):
        factory(**kwargs)


def test_hyperparameter_of_the_wrong_type():
    with pytest.raises(TypeError, match="eps"):
        Adam(eps="1e-8")


def test_clipped_bad_input():
    with pytest.raises(TypeError, match="method"):
        Clipped("adam", clip_norm=1.0)
    with pytest.raises(ValueError, match="clip_norm or clip_value"):
        Clipped(Adam())
    with pytest.raises(ValueError, match="clip_norm"):
        Clipped(Adam(), clip_norm=0.0)


def test_float32_stays_float32(problem):
    for m in (SGD(momentum=0.9), AdaGrad(), RMSProp(), Adam(), AdamW(), Lion()):
        traj = gf.solve(problem, np.ones(D, dtype=np.float32), m, 1e-3, steps=3)
        assert traj.theta.dtype == np.float32


def test_adam_and_adamw_share_one_implementation(problem, starts):
    # Without weight decay the two are the same method, bit for bit.
    h = np.array([1e-3, 1e-2, 3e-2])
    theta0 = np.broadcast_to(starts[0], (3, starts.shape[-1]))
    for amsgrad in (False, True):
        a = gf.solve(problem, theta0, Adam(amsgrad=amsgrad), h, steps=40, save="final")
        w = gf.solve(
            problem, theta0, AdamW(weight_decay=0.0, amsgrad=amsgrad), h, steps=40, save="final"
        )
        np.testing.assert_array_equal(a.theta, w.theta)
    assert type(Adam()).step is type(AdamW()).step
