"""Schedule-Free SGD and AdamW against ``schedulefree`` (one quick 50-step run each; the
full sweep is slow), the algorithm boxes, and the linear step-size limit of the SGD form.

gradflow's θ is the averaged sequence ``x`` (the package's eval-mode parameters), so
the reference's ``x`` is read after ``optimizer.eval()`` and the package is put back in
train mode before the next step.  The package updates ``y`` and ``z`` in place, gradflow
``x`` and ``z``: only the rounding differs (measured below 3e-15 of the trajectory's
scale in 200 steps; tolerance 1e-10).
"""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
from gradflow.methods import AdamWScheduleFree, SGDScheduleFree

STEPS = 200
RTOL = 1e-10

_RNG = np.random.default_rng(7)
_X = np.c_[_RNG.standard_normal((40, 3)), np.ones(40)]
_Y = (_X[:, 0] - 0.5 * _X[:, 1] + 0.3 * _RNG.standard_normal(40) > 0).astype(int)

PROBLEMS = {
    "quadratic": (lambda: gf.problems.quadratic([1.0, 10.0, 50.0], seed=3), [1.0, -2.0, 0.5]),
    "rosenbrock": (gf.problems.rosenbrock, [-1.2, 1.0]),
    "logistic": (
        lambda: gf.problems.logistic_regression(_X, _Y, l2=0.01),
        [0.5, -0.5, 0.2, 0.0],
    ),
}

CONFIGS = [
    (SGDScheduleFree, 1e-3, {}),
    (
        SGDScheduleFree,
        1e-3,
        {
            "momentum": 0.8,
            "weight_decay": 0.01,
            "warmup_steps": 20,
            "r": 1.0,
            "weight_lr_power": 1.0,
        },
    ),
    (AdamWScheduleFree, 1e-2, {}),
    (AdamWScheduleFree, 1e-2, {"weight_decay": 0.01, "warmup_steps": 20, "r": 0.5}),
]


def box(grad, x0, h, steps, beta=0.9, adam=False, b2=0.999, eps=1e-8):
    """Defazio et al. 2024, Algorithms 1 and 2 (no warmup, r = 0, c_{k+1} = 1/(k+1))."""
    x, z, v = x0.copy(), x0.copy(), 0 * x0
    out = []
    for k in range(steps):
        y = (1 - beta) * z + beta * x
        g = grad(y)
        if adam:
            v = b2 * v + (1 - b2) * g * g
            g = g / (np.sqrt(v / (1 - b2 ** (k + 1))) + eps)
        z = z - h * g
        c = 1.0 / (k + 1)
        x = (1 - c) * x + c * z
        out.append(x)
    return np.array(out)


@pytest.mark.parametrize("name", list(PROBLEMS))
@pytest.mark.parametrize("adam", [False, True], ids=["sgd", "adamw"])
def test_trajectory_matches_the_algorithm_box(name, adam):
    make, theta0 = PROBLEMS[name]
    problem = make()
    h = 1e-2 if adam else 1e-3
    x0 = np.array(theta0, dtype=float)
    expected = box(lambda y: problem.grad(y[None])[0], x0, h, STEPS, adam=adam)
    method = AdamWScheduleFree() if adam else SGDScheduleFree()
    traj = gf.solve(problem, x0, method, h, steps=STEPS)
    np.testing.assert_allclose(traj.theta[1:], expected, rtol=0, atol=RTOL * np.abs(expected).max())
    # the recorded loss is the eval-mode loss L(x), not L(y)
    np.testing.assert_allclose(traj.loss[1:], problem.loss(expected), rtol=1e-9)


def reference_run(problem, theta0, cls, kw, h, steps=STEPS):
    torch = pytest.importorskip("torch", reason="the reference implementation runs on PyTorch")
    sf = pytest.importorskip("schedulefree", reason="the reference Schedule-Free package")
    x = torch.tensor(np.array(theta0, dtype=float), requires_grad=True)
    opt = getattr(sf, cls.__name__)([x], lr=h, foreach=False, **kw)
    opt.train()
    out = []
    for _ in range(steps):
        x.grad = torch.tensor(problem.grad(x.detach().numpy()[None])[0])
        opt.step()
        opt.eval()  # x, the averaged parameters
        out.append(x.detach().numpy().copy())
        opt.train()
    return np.array(out)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(PROBLEMS))
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c[0].__name__}{sorted(c[2])}")
def test_trajectory_matches_the_package(name, config):
    _compare_with_the_package(name, config, STEPS)


@pytest.mark.parametrize("config", [CONFIGS[1], CONFIGS[3]], ids=["sgd", "adamw"])
def test_quick_trajectory_matches_the_package(config):
    """The quick subset: 50 steps on the logistic regression, one non-default
    configuration per method with warmup inside the run (the full sweep above is slow)."""
    _compare_with_the_package("logistic", config, 50)


def _compare_with_the_package(name, config, steps):
    make, theta0 = PROBLEMS[name]
    problem = make()
    cls, h, kw = config
    expected = reference_run(problem, theta0, cls, kw, h, steps)
    traj = gf.solve(problem, theta0, cls(**kw), h, steps=steps)
    np.testing.assert_allclose(traj.theta[1:], expected, rtol=0, atol=RTOL * np.abs(expected).max())


def test_sgd_step_size_limit_is_two_over_one_minus_beta():
    """On L = ½μθ² the average freezes and z is gradient descent with step (1 - β)h: a
    bisection of the divergence threshold (two rounds of 17 candidates, as verify_bound
    makes them; stable = finite and shrinking from step 1000 to step 2000) finds 2/((1 - β)μ)
    to 0.5%.  The early steps grow the state by up to ~1e26 near the limit (the average's
    factor 1 - c_k(1 + hμβ) exceeds 1 in modulus while k < hμβ), which the driver's
    default divergence guard would call divergence: the guard is set far out."""
    mu, beta = 50.0, 0.9
    p = gf.problems.quadratic([1.0, mu], seed=0)
    predicted = 2.0 / ((1.0 - beta) * mu)
    lo, hi = 0.8 * predicted, 1.2 * predicted
    for _ in range(2):
        hs = np.linspace(lo, hi, 17)
        traj = gf.solve(
            p, np.ones((hs.size, 2)), SGDScheduleFree(momentum=beta), hs, steps=2000,
            save_every=1000, divergence_norm=1e150,
        )  # fmt: skip
        size = np.abs(traj.theta).max(axis=-1)
        stable = ~traj.diverged & (size[-1] < size[-2])
        last = np.flatnonzero(stable).max()
        assert stable[: last + 1].all()
        lo, hi = hs[last], hs[last + 1]
    # the coupling to the average (c_k ~ 1/k) puts the measured edge 0.2% below
    assert abs(lo - predicted) / predicted < 0.005
    assert (hi - lo) / predicted < 0.002


def test_batch_equals_single_rows_and_float32_stays():
    p = gf.problems.quadratic([1.0, 10.0, 50.0], seed=3)
    starts = np.random.default_rng(0).standard_normal((5, 3))
    hs = np.array([1e-3, 1e-2, 1e-2, 2e-2, 5e-3])
    for m in (SGDScheduleFree(warmup_steps=5), AdamWScheduleFree(weight_decay=0.01)):
        batch = gf.solve(p, starts, m, hs, steps=30, save="final")
        for i in range(5):
            alone = gf.solve(p, starts[i], m, hs[i], steps=30, save="final")
            assert np.array_equal(alone.theta[-1], batch.theta[-1, i])
        new = m.step(p, m.init(p, starts.astype(np.float32)), np.array([1e-2], np.float32)).state
        assert all(a.dtype == np.float32 for a in new if a.dtype.kind == "f")


@pytest.mark.parametrize(
    ("make", "name", "error"),
    [
        (lambda: SGDScheduleFree(momentum=0.0), "momentum", ValueError),
        (lambda: SGDScheduleFree(warmup_steps=-1), "warmup_steps", ValueError),
        (lambda: SGDScheduleFree(warmup_steps=1.5), "warmup_steps", TypeError),
        (lambda: AdamWScheduleFree(eps=0.0), "eps", ValueError),
        (lambda: AdamWScheduleFree(r="1"), "r", TypeError),
    ],
)
def test_bad_arguments_are_named(make, name, error):
    with pytest.raises(error, match=name):
        make()
