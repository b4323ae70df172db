"""gradflow.diagnose: each label on a real run of solve constructed to show it."""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
from gradflow import diagnose

QUAD = gf.problems.quadratic([1.0, 10.0], seed=0)  # 2/λmax = 0.2


def test_too_high_too_low_and_good_on_a_quadratic():
    hs = np.array([1.0, 0.3, 1e-4, 0.1, 0.19])
    traj = gf.solve(QUAD, np.ones((5, 2)), stepsize=hs, steps=400)
    report = diagnose(traj, QUAD)
    assert report.label.tolist() == ["diverged", "diverged", "plateau", "converging", "converging"]
    # 0.3 (1.5 × 2/λmax) grows by |1 - 3| = 2 a step: past 10^8 × its start by step 27.
    assert traj.status[0] == "diverged" and traj.status[1] == "diverged"
    np.testing.assert_allclose(report.lambda_max, 10.0, rtol=1e-6)
    np.testing.assert_allclose(report.critical_stepsize, 0.2, rtol=1e-6)
    np.testing.assert_allclose(report.ratio, hs / 0.2, rtol=1e-6)
    np.testing.assert_allclose(report.suggested_stepsize, [0.1, 0.1, 0.1, 0.1, 0.19], rtol=1e-6)
    # The step each blew up at, from a hand loop of θ ← θ - h H θ: the first state with
    # an entry beyond 10^8 × its start's scale (1), its loss above the start's.
    H = QUAD.hessian(np.ones(2))
    for i, h in ((0, 1.0), (1, 0.3)):
        theta, k = np.ones(2), 0
        while np.abs(theta).max() <= 1e8:
            theta, k = theta - h * (H @ theta), k + 1
        assert traj.n_steps[i] == k - 1
        assert f"element {i}: diverged (blew up at step {k})" in report.text
    assert str(report) == report.text


def test_oscillation_in_a_stiff_direction_on_muller_brown():
    # Above 2/λmax at the minimum, GD settles on a period-2 orbit around it: the loss
    # alternates between two values and never decreases.
    p = gf.problems.muller_brown()
    lam = np.linalg.eigvalsh(p.hessian(p.minima[2]))[-1]
    traj = gf.solve(p, p.minima[2] + 0.01, stepsize=1.3 * 2 / lam, steps=1000)
    assert traj.status == "ok"
    report = diagnose(traj, p)
    assert report.label == "oscillating"
    assert report.ratio > 1 and report.suggested_stepsize < report.stepsize


def test_late_spikes_from_a_schedule():
    p = gf.problems.quadratic([0.01, 10.0], seed=0)

    def schedule(k):  # a cyclic bump above the limit late in the run
        return np.where((k >= 400) & (k < 440), 0.4, 0.1)

    traj = gf.solve(p, np.ones(2), stepsize=schedule, steps=600)
    assert diagnose(traj).label == "spikes"


def test_without_a_problem_only_the_curve_is_read():
    traj = gf.solve(QUAD, np.ones((2, 2)), stepsize=np.array([1e-4, 0.1]), steps=300)
    report = diagnose(traj)
    assert report.label.tolist() == ["plateau", "converging"]
    assert np.isnan(report.lambda_max).all() and np.isnan(report.suggested_stepsize).all()
    assert "λmax" not in report.text


def test_momentum_method_uses_its_own_limit():
    method = gf.methods.HeavyBall(0.5)  # limit 2(1 + β) = 3
    traj = gf.solve(QUAD, np.ones(2), method, stepsize=0.25, steps=300)
    report = diagnose(traj, QUAD, method=method)
    assert report.label == "converging"
    assert report.critical_stepsize == pytest.approx(0.3, rel=1e-6)


def test_too_few_points_and_final_only():
    traj = gf.solve(QUAD, np.ones(2), stepsize=0.1, steps=50, save="final")
    assert diagnose(traj).label == "unclear"
    big = gf.solve(QUAD, np.ones((25, 2)), stepsize=0.1, steps=20)
    assert "more; all 25" in diagnose(big).text


def test_bad_arguments():
    traj = gf.solve(QUAD, np.ones(2), stepsize=0.1, steps=10)
    with pytest.raises(TypeError, match="trajectory"):
        diagnose(np.zeros(3))
    with pytest.raises(TypeError, match="problem"):
        diagnose(traj, "quadratic")
    with pytest.raises(TypeError, match="method"):
        diagnose(traj, QUAD, method="Euler")
