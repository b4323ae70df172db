"""Prodigy against ``prodigyopt`` (one quick 50-step run; the full sweep is slow) and its
algorithm box.

As for D-Adaptation (``tests/test_dadaptation.py``) the package runs on a torch float64
parameter fed the gradflow problem's gradient; the two differ only in the rounding of
their sums, which the estimate's jumps amplify on Rosenbrock to at most 5e-11 of the
trajectory's scale in 200 steps: the tolerance is 1e-9 of it.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
from gradflow.methods import Prodigy

STEPS = 200
RTOL = 1e-9

_RNG = np.random.default_rng(7)
_X = np.c_[_RNG.standard_normal((40, 3)), np.ones(40)]
_Y = (_X[:, 0] - 0.5 * _X[:, 1] + 0.3 * _RNG.standard_normal(40) > 0).astype(int)

PROBLEMS = {
    "quadratic": (lambda: gf.problems.quadratic([1.0, 10.0, 50.0], seed=3), [1.0, -2.0, 0.5], 1.0),
    "rosenbrock": (gf.problems.rosenbrock, [-1.2, 1.0], 0.5),
    "logistic": (
        lambda: gf.problems.logistic_regression(_X, _Y, l2=0.01),
        [0.5, -0.5, 0.2, 0.0],
        0.3,
    ),
}

CONFIGS = [
    {},
    {"beta1": 0.0},
    {"weight_decay": 0.1, "use_bias_correction": True, "safeguard_warmup": True, "d_coef": 0.5},
    {"weight_decay": 0.1, "decouple": False, "beta3": 0.9, "growth_rate": 1.05},
]


def reference_run(problem, theta0, kw, h, steps=STEPS):
    torch = pytest.importorskip("torch", reason="the reference implementation runs on PyTorch")
    prodigyopt = pytest.importorskip("prodigyopt", reason="the reference Prodigy package")
    kw = dict(kw)
    betas = (kw.pop("beta1", 0.9), kw.pop("beta2", 0.999))
    x = torch.tensor(np.array(theta0, dtype=float), requires_grad=True)
    opt = prodigyopt.Prodigy([x], lr=h, betas=betas, **kw)
    thetas, ds = [], []
    for _ in range(steps):
        x.grad = torch.tensor(problem.grad(x.detach().numpy()[None])[0])
        opt.step()
        thetas.append(x.detach().numpy().copy())
        ds.append(opt.param_groups[0]["d"])
    return np.array(thetas), np.array(ds)


def box(grad, x0, h, steps, b1=0.9, b2=0.999, eps=1e-8, d0=1e-6):
    """Prodigy, Algorithm 3 of Mishchenko & Defazio (2023) in the package's form."""
    b3 = np.sqrt(b2)
    x, m, v, s = x0.copy(), 0 * x0, 0 * x0, 0 * x0
    d, d_max, num = d0, d0, 0.0
    out, ds = [], []
    for _ in range(steps):
        g = grad(x)
        lam = d * h
        num = b3 * num + (d / d0) * lam * float(np.dot(g, x0 - x))
        m = b1 * m + d * (1 - b1) * g
        v = b2 * v + d * d * (1 - b2) * g * g
        s = b3 * s + (d / d0) * lam * g
        d_hat = num / np.abs(s).sum()
        d_max = max(d_max, d_hat, d0)
        d_new = d_max  # min(d_max, growth · d) with the default growth rate ∞
        x = x - lam * m / (np.sqrt(v) + d_new * eps)
        d = d_new
        out.append(x)
        ds.append(d)
    return np.array(out), np.array(ds)


def _run(method, problem, theta0, h, steps=STEPS):
    state, thetas, ds = method.init(problem, np.array([theta0], dtype=float)), [], []
    for _ in range(steps):
        state = method.step(problem, state, np.array([h])).state
        thetas.append(state.theta[0])
        ds.append(method.step_estimate(state)[0])
    return np.array(thetas), np.array(ds)


@pytest.mark.parametrize("name", list(PROBLEMS))
def test_trajectory_matches_the_algorithm_box(name):
    make, theta0, h = PROBLEMS[name]
    problem = make()
    x0 = np.array(theta0, dtype=float)
    expected, d_expected = box(lambda x: problem.grad(x[None])[0], x0, h, STEPS)
    got, d_got = _run(Prodigy(), problem, theta0, h)
    np.testing.assert_allclose(got, expected, rtol=0, atol=RTOL * np.abs(expected).max())
    np.testing.assert_allclose(d_got, d_expected, rtol=RTOL)


def _compare_with_the_package(name, kw, steps):
    make, theta0, h = PROBLEMS[name]
    problem = make()
    expected, d_expected = reference_run(problem, theta0, kw, h, steps)
    method = Prodigy(**kw)
    d_seen = []
    traj = gf.solve(
        problem,
        theta0,
        method,
        h,
        steps=steps,
        callback=lambda info: d_seen.append(info.method_state.d[0]),
    )
    np.testing.assert_allclose(traj.theta[1:], expected, rtol=0, atol=RTOL * np.abs(expected).max())
    np.testing.assert_allclose(d_seen[1:], d_expected, rtol=RTOL)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(PROBLEMS))
@pytest.mark.parametrize("kw", CONFIGS, ids=lambda kw: str(sorted(kw)))
def test_trajectory_and_estimate_match_the_package(name, kw):
    _compare_with_the_package(name, kw, STEPS)


def test_quick_trajectory_and_estimate_match_the_package():
    """The quick subset: 50 steps on the logistic regression with the safeguarded,
    bias-corrected configuration (the full sweep above is slow)."""
    _compare_with_the_package("logistic", CONFIGS[2], 50)


def test_d_grows_geometrically_from_d0():
    """Mishchenko & Defazio 2023, §3: the weights d_k/d_0 make d grow exponentially fast
    (D-Adaptation's grows at most linearly per step); here from 1e-6 to 1e-2 in 40 steps."""
    p = gf.problems.quadratic([1.0, 2.0, 3.0], seed=1)
    starts = np.random.default_rng(2).standard_normal((4, 3)) * 3.0
    m = Prodigy()
    state = m.init(p, starts)
    for _ in range(40):
        state = m.step(p, state, np.array([1.0])).state
    assert np.all(state.d > 1e4 * m.d0)


def test_batch_equals_single_rows_and_float32_stays():
    p = gf.problems.quadratic([1.0, 10.0, 50.0], seed=3)
    starts = np.random.default_rng(0).standard_normal((5, 3))
    hs = np.array([0.5, 1.0, 1.0, 2.0, 0.7])
    m = Prodigy(weight_decay=0.01)
    batch = gf.solve(p, starts, m, hs, steps=30, save="final")
    for i in range(5):
        alone = gf.solve(p, starts[i], m, hs[i], steps=30, save="final")
        assert np.array_equal(alone.theta[-1], batch.theta[-1, i])
    new = m.step(p, m.init(p, starts.astype(np.float32)), np.array([1.0], np.float32)).state
    assert all(a.dtype == np.float32 for a in new if a.dtype.kind == "f")


def test_effective_stepsize_without_momentum_is_the_displacement_per_gradient():
    """β1 = 0: θ_{k+1} = θ_k - λ_k d_{k+1} g/(√v + d_{k+1} ε)."""
    p = gf.problems.quadratic([1.0, 10.0], seed=0)
    m = Prodigy(beta1=0.0)
    state = m.init(p, np.array([[1.0, -2.0], [0.3, 0.5]]))
    for _ in range(5):
        g = p.grad(state.theta)
        got = m.next_effective_stepsize(state, 1.0, g)
        new = m.step(p, state, np.array([1.0])).state
        np.testing.assert_allclose(got, (state.theta - new.theta) / g, rtol=1e-9)
        state = new


@pytest.mark.parametrize(
    ("kwargs", "name", "error"),
    [
        ({"beta3": 1.0}, "beta3", ValueError),
        ({"d_coef": 0.0}, "d_coef", ValueError),
        ({"safeguard_warmup": "yes"}, "safeguard_warmup", TypeError),
        ({"growth_rate": 0.9}, "growth_rate", ValueError),
    ],
)
def test_bad_arguments_are_named(kwargs, name, error):
    with pytest.raises(error, match=name):
        Prodigy(**kwargs)
