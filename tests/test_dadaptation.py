"""D-Adaptation (SGD and Adam) against the ``dadaptation`` package.

The full package sweeps (three problems, four configurations, 200 steps) are marked
slow; the quick suite runs one 50-step comparison per method against the package (skipped
when it is absent) and the algorithm boxes transcribed below as plain loops.

The reference runs the package's optimiser on a torch float64 parameter whose gradient
comes from the same gradflow problem, so the two differ only in the rounding of their
sums (torch's dot products and norms against numpy's): 200 steps agree to 1e-10 of the
trajectory's scale.  The estimate ``d`` read along a ``solve`` run from the method
state is compared with the package's ``param_groups[0]["d"]`` after every step.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
from gradflow.methods import DAdaptAdam, DAdaptSGD

STEPS = 200
#: Rounding only (see the module docstring); the largest measured gap is 3e-12.
RTOL = 1e-10

_RNG = np.random.default_rng(7)
_X = np.c_[_RNG.standard_normal((40, 3)), np.ones(40)]
_Y = (_X[:, 0] - 0.5 * _X[:, 1] + 0.3 * _RNG.standard_normal(40) > 0).astype(int)

PROBLEMS = {
    "quadratic": (lambda: gf.problems.quadratic([1.0, 10.0, 50.0], seed=3), [1.0, -2.0, 0.5], 1.0),
    "rosenbrock": (gf.problems.rosenbrock, [-1.2, 1.0], 0.5),
    "logistic": (
        lambda: gf.problems.logistic_regression(_X, _Y, l2=0.01),
        [0.5, -0.5, 0.2, 0.0],
        1.0,
    ),
}

CONFIGS = [
    (DAdaptSGD, "DAdaptSGD", {}),
    (DAdaptSGD, "DAdaptSGD", {"momentum": 0.9, "weight_decay": 1e-2, "growth_rate": 1.2}),
    (DAdaptAdam, "DAdaptAdam", {}),
    (
        DAdaptAdam,
        "DAdaptAdam",
        {"weight_decay": 0.1, "decouple": True, "use_bias_correction": True, "growth_rate": 1.5},
    ),
]


def _package_kwargs(kw: dict) -> dict:
    kw = dict(kw)
    if "beta1" in kw or "beta2" in kw:
        kw["betas"] = (kw.pop("beta1", 0.9), kw.pop("beta2", 0.999))
    return kw


def reference_run(problem, theta0, cls, kw, h, steps=STEPS):
    """The package's iterates and estimates ``d`` after each step."""
    torch = pytest.importorskip("torch", reason="the reference implementation runs on PyTorch")
    package = pytest.importorskip("dadaptation", reason="the reference D-Adaptation package")
    cls = getattr(package, cls)
    x = torch.tensor(np.array(theta0, dtype=float), requires_grad=True)
    opt = cls([x], lr=h, **_package_kwargs(kw))
    thetas, ds = [], []
    for _ in range(steps):
        x.grad = torch.tensor(problem.grad(x.detach().numpy()[None])[0])
        opt.step()
        thetas.append(x.detach().numpy().copy())
        ds.append(opt.param_groups[0]["d"])
    return np.array(thetas), np.array(ds)


def _compare_with_the_package(name, config, steps):
    make, theta0, h = PROBLEMS[name]
    problem = make()
    ours, theirs, kw = config
    expected, d_expected = reference_run(problem, theta0, theirs, kw, h, steps)
    method = ours(**kw)
    d_seen = []
    traj = gf.solve(
        problem,
        theta0,
        method,
        h,
        steps=steps,
        callback=lambda info: d_seen.append(method.step_estimate(info.method_state)[0]),
    )
    scale = np.abs(expected).max()
    np.testing.assert_allclose(traj.theta[1:], expected, rtol=0, atol=RTOL * scale)
    np.testing.assert_allclose(d_seen[1:], d_expected, rtol=RTOL)
    assert d_seen[0] == method.d0


@pytest.mark.slow
@pytest.mark.parametrize("name", list(PROBLEMS))
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c[0].__name__}{sorted(c[2])}")
def test_trajectory_and_estimate_match_the_package(name, config):
    _compare_with_the_package(name, config, STEPS)


@pytest.mark.parametrize("config", [CONFIGS[1], CONFIGS[3]], ids=["sgd", "adam"])
def test_quick_trajectory_and_estimate_match_the_package(config):
    """The quick subset: 50 steps on the logistic regression, one non-default
    configuration per method (the full sweep above is slow)."""
    _compare_with_the_package("logistic", config, 50)


def sgd_box(grad, x0, h, steps, momentum=0.0, d0=1e-6):
    """D-Adapted SGD with momentum (Defazio & Mishchenko 2023, Algorithm 4, in the
    package's form: λ_k = d_k h/‖g_0‖, d_{k+1} = max(d_k, 2 Σλ⟨g, s⟩/‖s‖))."""
    x, z, s, d, num = x0.copy(), x0.copy(), np.zeros_like(x0), d0, 0.0
    out, ds = [], []
    g0 = None
    for _ in range(steps):
        g = grad(x)
        g0 = np.sqrt(sum(gi * gi for gi in g)) if g0 is None else g0
        lam = d * h / g0
        num += lam * float(np.dot(g, s))
        s = s + lam * g
        d = max(d, 2 * num / np.sqrt(float(np.dot(s, s))))
        z = x0 - s
        x = momentum * x + (1 - momentum) * z
        out.append(x)
        ds.append(d)
    return np.array(out), np.array(ds)


def adam_box(grad, x0, h, steps, b1=0.9, b2=0.999, eps=1e-8, d0=1e-6):
    """D-Adapted Adam (Algorithm 5, the package's form without bias correction)."""
    x, m, v, s, d, num = x0.copy(), 0 * x0, 0 * x0, 0 * x0, d0, 0.0
    out, ds = [], []
    for _ in range(steps):
        g = grad(x)
        lam = d * h
        acc = lam * float(np.dot(g, s / (np.sqrt(v) + eps)))
        m = b1 * m + lam * (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        s = np.sqrt(b2) * s + lam * (1 - np.sqrt(b2)) * g
        num = np.sqrt(b2) * num + (1 - np.sqrt(b2)) * acc
        d = max(d, num / ((1 - np.sqrt(b2)) * np.abs(s).sum()))
        x = x - m / (np.sqrt(v) + eps)
        out.append(x)
        ds.append(d)
    return np.array(out), np.array(ds)


@pytest.mark.parametrize("name", list(PROBLEMS))
@pytest.mark.parametrize(
    ("method", "box"),
    [
        (DAdaptSGD(), sgd_box),
        (DAdaptSGD(momentum=0.9), lambda *a: sgd_box(*a, momentum=0.9)),
        (DAdaptAdam(), adam_box),
    ],
    ids=["sgd", "sgd-momentum", "adam"],
)
def test_trajectory_matches_the_algorithm_box(name, method, box):
    make, theta0, h = PROBLEMS[name]
    problem = make()
    x0 = np.array(theta0, dtype=float)
    expected, d_expected = box(lambda x: problem.grad(x[None])[0], x0, h, STEPS)
    state, got, d_got = method.init(problem, x0[None]), [], []
    for _ in range(STEPS):
        state = method.step(problem, state, np.array([h])).state
        got.append(state.theta[0])
        d_got.append(method.step_estimate(state)[0])
    scale = np.abs(expected).max()
    np.testing.assert_allclose(np.array(got), expected, rtol=0, atol=RTOL * scale)
    np.testing.assert_allclose(d_got, d_expected, rtol=RTOL)


def test_d_grows_to_a_fraction_of_the_distance():
    """Defazio & Mishchenko 2023, Lemma 5 (the SGD form's d_k <= D = ‖θ0 - θ*‖ on convex
    problems) and Theorem 2 (d reaches a constant fraction of D): here 0.9 D to D.  The
    Adam form weights its estimate by the preconditioner, so it estimates D in another
    norm: within a factor 10 of the Euclidean D, from d0 = 1e-6."""
    p = gf.problems.quadratic([1.0, 2.0, 3.0], seed=1)
    starts = np.random.default_rng(2).standard_normal((6, 3)) * 3.0
    distance = np.linalg.norm(starts, axis=1)  # θ* = 0
    for method, low, high in ((DAdaptSGD(), 0.9, 1 + 1e-12), (DAdaptAdam(), 0.1, 10.0)):
        state = method.init(p, starts)
        for _ in range(400):
            state = method.step(p, state, np.array([0.5])).state
        assert np.all(state.d <= high * distance), method.name
        assert np.all(state.d >= low * distance), method.name
        assert np.abs(state.theta).max() < 1e-6 * np.abs(starts).max(), method.name


@pytest.mark.parametrize("method", [DAdaptSGD(momentum=0.5), DAdaptAdam()], ids=lambda m: m.name)
def test_batch_equals_single_rows_and_float32_stays(method):
    p = gf.problems.quadratic([1.0, 10.0, 50.0], seed=3)
    starts = np.random.default_rng(0).standard_normal((5, 3))
    hs = np.array([0.5, 1.0, 1.0, 2.0, 0.7])
    batch = gf.solve(p, starts, method, hs, steps=30, save="final")
    for i in range(5):
        alone = gf.solve(p, starts[i], method, hs[i], steps=30, save="final")
        assert np.array_equal(alone.theta[-1], batch.theta[-1, i])
    f32 = gf.solve(p, starts.astype(np.float32), method, 1.0, steps=30, save="final")
    assert f32.theta.dtype == np.float32
    state = method.init(p, starts.astype(np.float32))
    new = method.step(p, state, np.array([1.0], dtype=np.float32)).state
    assert all(a.dtype == np.float32 for a in new if a.dtype.kind == "f")


def test_effective_stepsize_is_the_displacement_per_gradient():
    """Without momentum, θ_{k+1} = θ_k - λ_k g_k with λ_k = d_k h/‖g_0‖ (the d before the
    step's update): next_effective_stepsize reports λ_k, finite at the initial state."""
    p = gf.problems.quadratic([1.0, 10.0], seed=0)
    m = DAdaptSGD()
    state = m.init(p, np.array([[1.0, -2.0], [0.3, 0.5]]))
    g0 = np.linalg.norm(p.grad(state.theta), axis=1)
    for _ in range(5):
        g = p.grad(state.theta)
        got = m.next_effective_stepsize(state, 1.0, g)
        new = m.step(p, state, np.array([1.0])).state
        np.testing.assert_allclose(got, (state.theta - new.theta) / g, rtol=1e-9)
        np.testing.assert_allclose(got[:, 0], state.d / g0, rtol=1e-12)
        state = new


def test_a_stationary_start_does_not_move():
    p = gf.problems.quadratic([1.0, 10.0], seed=0)
    for m in (DAdaptSGD(), DAdaptAdam()):
        traj = gf.solve(p, np.zeros((2, 2)), m, 1.0, steps=5, save="final")
        assert np.array_equal(traj.theta[-1], np.zeros((2, 2)))


@pytest.mark.parametrize(
    ("cls", "kwargs", "name", "error"),
    [
        (DAdaptSGD, {"momentum": 1.0}, "momentum", ValueError),
        (DAdaptSGD, {"d0": 0.0}, "d0", ValueError),
        (DAdaptSGD, {"growth_rate": 0.5}, "growth_rate", ValueError),
        (DAdaptSGD, {"weight_decay": "x"}, "weight_decay", TypeError),
        (DAdaptAdam, {"eps": -1.0}, "eps", ValueError),
        (DAdaptAdam, {"decouple": 1}, "decouple", TypeError),
        (DAdaptAdam, {"beta2": 1.0}, "beta2", ValueError),
    ],
)
def test_bad_arguments_are_named(cls, kwargs, name, error):
    with pytest.raises(error, match=name):
        cls(**kwargs)


def test_no_amplification_matrix():
    with pytest.raises(NotImplementedError, match="running estimate"):
        DAdaptSGD().amplification_matrix()
