"""Effective step sizes along a run: StepInfo's method state, next_effective_stepsize,
track_effective_stepsize, and scaling rules passed to solve directly.

Expected values are computed here from the update rules (PyTorch's Adam / Adagrad /
RMSprop and optax's Lion formulas), not from the code under test: the effective step of
an update is the displacement divided by the direction it scales.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf

H = 1e-2


def _problem() -> gf.Problem:
    return gf.problems.quadratic([1.0, 100.0], seed=0)


def _displacement_per_direction(method, p, theta, state, h):
    """(θ_k − θ_{k+1}) / direction_{k+1}, the direction computed here from the formulas."""
    g = p.grad(theta)
    new = method.step(p, state, np.asarray(h)).state
    k1 = state.k + 1
    if isinstance(method, (gf.methods.Adam, gf.methods.LAMB)):
        m = method.beta1 * state.m + (1 - method.beta1) * g
        direction = m / (1 - method.beta1 ** k1[:, None])
    elif isinstance(method, gf.methods.Lion):
        direction = method.beta1 * state.m + (1 - method.beta1) * g
    else:  # AdaGrad, RMSProp, SGD (no momentum), Adafactor: the gradient
        direction = g
    return (theta - new.theta) / direction, new


@pytest.mark.parametrize(
    "method",
    [
        gf.methods.Adam(),
        gf.methods.AdaGrad(),
        gf.methods.RMSProp(),
        gf.methods.Lion(),
        gf.methods.SGD(),
        gf.methods.LAMB(),
        gf.methods.Adafactor(),
    ],
    ids=lambda m: m.name,
)
def test_next_effective_stepsize_is_what_the_step_does(method):
    p = _problem()
    theta = np.array([[1.0, -2.0], [0.3, 0.5], [-4.0, 0.01]])
    state = method.init(p, theta)
    for _ in range(4):  # the initial state first, then states along a run
        expected, new = _displacement_per_direction(method, p, state.theta, state, H)
        got = method.next_effective_stepsize(state, H, p.grad(state.theta))
        assert np.isfinite(got).all()
        np.testing.assert_allclose(got, expected, rtol=1e-12)
        state = new


def test_adam_initial_effective_step_is_h_over_abs_gradient():
    p, adam = _problem(), gf.methods.Adam(eps=1e-8)
    theta = np.array([[1.0, -2.0]])
    g = p.grad(theta)
    got = adam.next_effective_stepsize(adam.init(p, theta), H, g)
    np.testing.assert_allclose(got, H / (np.abs(g) + 1e-8), rtol=1e-12)


def test_lookahead_methods_refuse():
    p = _problem()
    nesterov = gf.methods.Nesterov(0.9)
    state = nesterov.init(p, np.ones((1, 2)))
    with pytest.raises(TypeError, match="effective step size"):
        nesterov.next_effective_stepsize(state, H, p.grad(np.ones((1, 2))))
    with pytest.raises(TypeError, match="effective step size"):
        gf.analysis.track_effective_stepsize(p, gf.methods.RungeKutta(gf.methods.RK4))
    with pytest.raises(ValueError, match="every"):
        gf.analysis.track_effective_stepsize(p, gf.methods.Adam(), every=0)


def test_tracker_along_an_adam_run_matches_the_update_rule():
    p, adam = _problem(), gf.methods.Adam()
    theta0 = np.array([[1.0, -2.0], [0.3, 0.5], [2.0, 2.0]])
    h = np.array([1e-2, 3e-2, 1e-3])
    tracker = gf.analysis.track_effective_stepsize(p, adam, every=1)
    traj = gf.solve(p, theta0, adam, h, steps=30, callback=tracker)
    assert tracker.steps.tolist() == list(range(31))
    assert tracker.values.shape == (31, 3, 2)
    assert tracker.n_grad == 31 * 3
    # Independent replay of Adam's moments from the saved states.
    b1, b2, eps = adam.beta1, adam.beta2, adam.eps
    m = np.zeros_like(theta0)
    v = np.zeros_like(theta0)
    for k in range(30):
        g = p.grad(traj.theta[k])
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        v_hat = v / (1 - b2 ** (k + 1))
        expected = h[:, None] / (np.sqrt(v_hat) + eps)
        np.testing.assert_allclose(tracker.values[k], expected, rtol=1e-10)


def test_stepinfo_carries_h_and_the_active_method_state():
    p = _problem()
    seen = []

    def callback(info):
        seen.append((info.k, info.h.copy(), info.active.copy(), info.method_state))

    theta0 = np.array([[1.0, 1.0], [1.0, 1.0]])
    # The second element diverges (h > 2/100) and stops; the first keeps going.
    traj = gf.solve(p, theta0, stepsize=np.array([1e-3, 0.05]), steps=200, callback=callback)
    assert traj.status.tolist() == ["ok", "diverged"]
    k, h, active, state = seen[0]
    assert k == 0 and h.tolist() == [1e-3, 0.05] and active.tolist() == [True, True]
    assert state.theta.shape == (2, 2)
    k, h, active, state = seen[-1]
    assert active.tolist() == [True, False]
    assert state.theta.shape == (1, 2)
    np.testing.assert_array_equal(state.theta, traj.theta[-1, :1])


def test_tracker_marks_stopped_elements_nan():
    p, adam = _problem(), gf.methods.Adam()
    tracker = gf.analysis.track_effective_stepsize(p, adam, every=10)
    theta0 = np.array([[1.0, 1.0], [50.0, 50.0]])  # the second starts outside the ball
    traj = gf.solve(p, theta0, adam, 1e-2, steps=50, callback=tracker, divergence_norm=10.0)
    assert traj.status.tolist() == ["ok", "diverged"]
    assert np.isfinite(tracker.values[:, 0]).all()
    assert np.isnan(tracker.values[1:, 1]).all()


@pytest.mark.parametrize("rule", [gf.schedules.linear_scaling, gf.schedules.sqrt_scaling])
def test_scaling_rules_are_accepted_by_solve(rule):
    p = _problem()
    scaled = rule(1e-3, 32, 256, warmup_steps=5)
    a = gf.solve(p, np.ones(2), stepsize=scaled, steps=20)
    b = gf.solve(p, np.ones(2), stepsize=scaled.schedule, steps=20)
    np.testing.assert_array_equal(a.theta, b.theta)
    np.testing.assert_array_equal(a.h, b.h)
    assert a.h[-1] == pytest.approx(scaled.h)
