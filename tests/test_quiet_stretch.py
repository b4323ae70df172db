"""The driver's quiet stretches (constant steps, nothing to observe) are the general loop.

A policy that overrides ``update`` (even to accept everything) is observed at every
step and goes through the general loop; the same step as a plain constant must give the
same trajectory bit for bit, statuses, counts and times included.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
from gradflow.stepsize import ConstantStep, Verdict


class _ObservedConstant(ConstantStep):
    """A constant step whose (accept-all) update makes the driver observe every step."""

    def update(self, state, observation):
        return state, Verdict()


def _same(a: gf.Trajectory, b: gf.Trajectory) -> None:
    for field in ("t", "theta", "loss", "h", "step", "n_grad", "n_steps", "n_rejected"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    assert a.status.tolist() == b.status.tolist()


CASES = [
    dict(steps=1000, save="final"),
    dict(steps=997, save_every=37),
    dict(t_final=0.4, save="final"),
    dict(t_final=0.4, save_at=[0.013, 0.1, 0.25]),
    dict(steps=513, save="all"),
    dict(t_final=1.0, max_steps=300, save="final"),
]


@pytest.mark.parametrize("horizon", CASES, ids=[str(c) for c in CASES])
@pytest.mark.parametrize(
    "method",
    [
        gf.methods.Euler(),
        gf.methods.RungeKutta(gf.methods.RK4),
        gf.methods.HeavyBall(0.5),
        gf.methods.Adam(),
    ],
)
def test_quiet_stretch_equals_the_observed_loop(horizon, method):
    p = gf.problems.quadratic([1.0, 10.0], seed=0)
    theta0 = np.random.default_rng(1).normal(size=(5, 2))
    # Per-row steps: stable, near the limit, past it (diverges between checks).
    h = np.array([1e-3, 0.05, 0.1, 0.19, 0.26])
    quiet = gf.solve(p, theta0, method=method, stepsize=h, **horizon)
    observed = gf.solve(p, theta0, method=method, stepsize=_ObservedConstant(h), **horizon)
    _same(quiet, observed)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_quiet_stretch_on_rosenbrock_with_far_starts(dtype):
    p = gf.problems.rosenbrock()
    theta0 = np.array([[-1.2, 1.0], [3.0, -2.0], [1e3, 1e3], [0.5, 0.5]], dtype=dtype)
    quiet = gf.solve(p, theta0, stepsize=1e-3, t_final=2.0, save_every=50)
    observed = gf.solve(p, theta0, stepsize=_ObservedConstant(1e-3), t_final=2.0, save_every=50)
    _same(quiet, observed)
    assert quiet.theta.dtype == dtype
    assert quiet.status[2] == "diverged"


def test_t_final_run_equals_the_same_steps():
    p = gf.problems.rosenbrock()
    theta0 = np.random.default_rng(2).uniform(-1.5, 1.5, (64, 2))
    by_steps = gf.solve(p, theta0, stepsize=1e-3, steps=1000, save="final")
    by_time = gf.solve(p, theta0, stepsize=1e-3, t_final=1.0, save="final")
    np.testing.assert_array_equal(by_steps.theta, by_time.theta)
    np.testing.assert_array_equal(by_time.n_steps, 1000)
    assert (by_time.status == "ok").all()


# -- large batches stepped in blocks of rows ---------------------------------------------
BLOCKED_METHODS = [
    gf.methods.Euler(),
    gf.methods.RungeKutta(gf.methods.RK4),
    gf.methods.HeavyBall(0.5),
    gf.methods.Nesterov(0.5),
    gf.methods.Adam(),
    gf.methods.SGD(momentum=0.9),
    gf.methods.Clipped(gf.methods.Euler(), clip_norm=1.0),
]


BLOCK_CASES = [
    dict(steps=300, save="final"),
    dict(steps=297, save_every=37),
    dict(t_final=0.4, save="final"),
]


# Every method on a fixed number of steps; three of them on each horizon.
BLOCK_PAIRS = [(m, BLOCK_CASES[0]) for m in BLOCKED_METHODS] + [
    (m, c) for m in BLOCKED_METHODS[::2] for c in BLOCK_CASES[1:]
]


@pytest.mark.parametrize(
    ("method", "horizon"), BLOCK_PAIRS, ids=[f"{m.name}-{c}" for m, c in BLOCK_PAIRS]
)
def test_blocks_of_rows_give_the_bits_of_the_whole_batch(monkeypatch, horizon, method):
    """A batch stepped in blocks (here forced at a small size: two blocks of 256 rows and
    a short one) is the batch stepped whole, bit for bit, counts and statuses included,
    with rows diverging inside blocks and per-row steps."""
    import gradflow._solve as driver

    assert method.rows_independent
    p = gf.problems.rosenbrock()
    rng = np.random.default_rng(7)
    theta0 = rng.normal(scale=1.5, size=(600, 2))
    h = rng.uniform(1e-3, 4e-3, size=600)
    h[::37] = 0.05  # these rows blow up between two checks
    whole = gf.solve(p, theta0, method=method, stepsize=h, **horizon)
    monkeypatch.setattr(driver, "BLOCK_BYTES", 256 * 2 * 8)
    blocked = gf.solve(p, theta0, method=method, stepsize=h, **horizon)
    _same(whole, blocked)
    assert (whole.status == "ok").any()
    if method.name not in ("Adam", "Clipped(Euler)"):  # (their steps are bounded)
        assert (whole.status == "diverged").any()


def test_blocks_keep_float32_and_shared_steps(monkeypatch):
    import gradflow._solve as driver

    p = gf.problems.rosenbrock()
    theta0 = np.random.default_rng(3).normal(size=(1000, 2)).astype(np.float32)
    whole = gf.solve(p, theta0, stepsize=1e-3, steps=200, save="final")
    monkeypatch.setattr(driver, "BLOCK_BYTES", 256 * 2 * 4)
    blocked = gf.solve(p, theta0, stepsize=1e-3, steps=200, save="final")
    assert blocked.theta.dtype == np.float32
    _same(whole, blocked)


def test_methods_that_share_work_across_rows_are_not_blocked():
    """The implicit step iterates until every row converges: its rows are not
    independent, so the driver steps its batch whole."""
    assert not gf.methods.ImplicitEuler().rows_independent
    assert not gf.methods.Method.rows_independent
