"""Predicted critical steps against measured divergence thresholds on quadratics.

For every Runge–Kutta tableau (and Euler): at 0.99 × critical_stepsize every start
converges, at 1.01 × every start diverges, and a batched bisection over h (many
candidate steps in one ``solve`` call per round) finds the empirical threshold within 1 %
of the prediction.  Divergence = leaving the ball of radius 1e6 · max‖θ0‖ within the step
budget (the growth per step at 1.01 × is only 1 + O(0.01), so overflow would take tens of
thousands of steps).  Momentum methods are checked the same way in tests/test_momentum.py.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
from gradflow.methods import TABLEAUX, RungeKutta
from gradflow.stability import critical_stepsize

SPECTRUM = np.array([0.5, 3.0, 10.0])
STEPS = 6000


def _setup():
    problem = gf.problems.quadratic(SPECTRUM, seed=4)
    starts = np.random.default_rng(5).normal(size=(8, SPECTRUM.size))
    radius = 1e6 * np.linalg.norm(starts, axis=-1).max()
    return problem, starts, radius


def _diverges(method, problem, starts, hs, radius):
    """Boolean per step size: does any start leave the ball within STEPS steps?"""
    theta0 = np.broadcast_to(starts, (hs.size, *starts.shape))
    traj = gf.solve(
        problem,
        theta0,
        method,
        stepsize=hs[:, None],
        steps=STEPS,
        save="final",
        divergence_norm=radius,
    )
    return (traj.status == "diverged").any(axis=-1)


def _bisect(method, problem, starts, radius, h_crit, rounds=3, n=17):
    lo, hi = 0.9 * h_crit, 1.1 * h_crit
    for _ in range(rounds):
        hs = np.linspace(lo, hi, n)
        bad = _diverges(method, problem, starts, hs, radius)
        assert not bad[0] and bad[-1]
        first = int(np.argmax(bad))
        lo, hi = hs[first - 1], hs[first]
    return 0.5 * (lo + hi)


# Euler, then every registered tableau (the registry is the parametrisation).
METHODS = [gf.methods.Euler()] + [RungeKutta(t) for t in TABLEAUX.values()]
IDS = ["Euler()", *TABLEAUX]


def test_every_registered_tableau_gets_a_threshold_check():
    (mark,) = [
        m
        for m in test_stable_below_and_divergent_above_the_critical_step.pytestmark
        if m.name == "parametrize"
    ]
    assert list(mark.kwargs["ids"])[1:] == list(TABLEAUX)


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_stable_below_and_divergent_above_the_critical_step(method):
    problem, starts, radius = _setup()
    h_crit = critical_stepsize(method, problem)
    below = gf.solve(
        problem,
        np.asarray(starts),
        method,
        stepsize=0.99 * h_crit,
        steps=STEPS,
        save="final",
        divergence_norm=radius,
    )
    assert (below.status == "ok").all()
    assert np.all(np.linalg.norm(below.theta[0], axis=-1) < np.linalg.norm(starts, axis=-1))
    assert _diverges(method, problem, starts, np.array([1.01 * h_crit]), radius)[0]
    measured = _bisect(method, problem, starts, radius, h_crit)
    assert measured == pytest.approx(h_crit, rel=0.01)


def test_implicit_euler_is_stable_far_beyond_any_explicit_limit():
    problem, starts, radius = _setup()
    hs = np.array([1.0, 100.0, 1e4])  # 5 to 5e4 times 2/λmax
    traj = gf.solve(
        problem,
        np.broadcast_to(starts, (3, *starts.shape)),
        gf.methods.ImplicitEuler(),
        stepsize=hs[:, None],
        steps=50,
        save="final",
        divergence_norm=radius,
    )
    assert (traj.status == "ok").all()
    assert np.all(np.linalg.norm(traj.theta[0], axis=-1) < np.linalg.norm(starts, axis=-1))
