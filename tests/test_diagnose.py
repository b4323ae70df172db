"""gradflow.diagnose: the labels on runs built to show them, and the failures of issue 14.

Expected values come from theory (critical steps ``β/λmax`` of quadratics from their
known spectra) or hand loops, never from diagnose.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import gradflow as gf
from gradflow import diagnose

QUAD = gf.problems.quadratic([1.0, 10.0], seed=0)  # 2/λmax = 0.2


def test_too_high_too_low_and_good_on_a_quadratic():
    hs = np.array([1.0, 0.3, 1e-4, 0.1, 0.19])
    traj = gf.solve(QUAD, np.ones((5, 2)), stepsize=hs, steps=400)
    report = diagnose(traj, QUAD)
    assert report.label.tolist() == [
        "diverged",
        "diverged",
        "step_too_small",
        "converging",
        "converging",
    ]
    np.testing.assert_allclose(report.lambda_max, 10.0, rtol=1e-6)
    np.testing.assert_allclose(report.critical_stepsize, 0.2, rtol=1e-6)
    np.testing.assert_allclose(report.ratio, hs / 0.2, rtol=1e-6)
    np.testing.assert_allclose(report.suggested_stepsize, [0.1, 0.1, 0.1, 0.1, 0.19], rtol=1e-6)
    # The step each blew up at, from a hand loop of θ ← θ - h H θ: the first state with
    # an entry beyond 10^8 × its start's scale (1).
    H = QUAD.hessian(np.ones(2))
    for i, h in ((0, 1.0), (1, 0.3)):
        theta, k = np.ones(2), 0
        while np.abs(theta).max() <= 1e8:
            theta, k = theta - h * (H @ theta), k + 1
        assert f"element {i}: diverged: the loss blew up at step {k}" in report.text
    assert str(report) == report.text


def _funnel():
    x, y = sp.symbols("x y")
    r2 = x**2 + y**2
    return gf.Problem.from_sympy(r2**2 / 4 + 14 * (1 - sp.exp(-r2)), [x, y])


def test_a_divergence_is_read_at_the_states_visited_not_the_start():
    # Issue 14: λmax at the start suggested a step above the one that diverged.  Here
    # the curvature at the start is 4.3 (1/λ0 = 0.23) but 28 in the funnel the run
    # falls into: h = 0.3 blows up.
    p = _funnel()
    theta0 = np.array([1.8, 0.3])
    lam0 = np.linalg.eigvalsh(p.hessian(theta0))[-1]
    assert 0.3 * lam0 < 2  # stable at the start
    traj = gf.solve(p, theta0, stepsize=0.3, steps=200)
    assert traj.status == "diverged"
    report = diagnose(traj, p)
    assert report.label == "diverged"
    assert report.lambda_max > 2 * lam0
    s = float(report.suggested_stepsize)
    assert s < 0.5 * 0.3 + 1e-15
    rerun = gf.solve(p, theta0, stepsize=s, steps=2000)
    assert rerun.status == "ok" and rerun.loss[-1] < 1e-12


def test_never_at_or_above_a_step_that_diverged():
    rng = np.random.default_rng(3)
    hs = rng.uniform(0.21, 2.0, size=12)  # all above 2/λmax = 0.2
    traj = gf.solve(QUAD, np.ones((12, 2)), stepsize=hs, steps=300)
    report = diagnose(traj, QUAD)
    assert (report.label == "diverged").all()
    assert (report.suggested_stepsize < hs).all()
    assert (report.suggested_stepsize <= 0.5 * hs + 1e-15).all()


@pytest.mark.parametrize("batch", [8, 64])
def test_minibatch_noise_is_not_an_oscillation(batch):
    # Issue 14: SGD at h = 1/L was "oscillating: step too high", then a suggestion 5.6×
    # larger than the step.  At 1/L it is stable; the loss settles at a noise floor.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 5)) * np.linspace(1.0, 3.0, 5)
    y = X @ rng.standard_normal(5) + 0.5 * rng.standard_normal(200)
    p = gf.problems.least_squares(X, y)
    L = np.linalg.eigvalsh(X.T @ X / 200)[-1]
    traj = gf.solve(p, np.zeros(5), stepsize=1 / L, steps=800, batch_size=batch, seed=0)
    report = diagnose(traj, p)
    assert report.label == "converging"
    assert report.noise > 0
    assert report.ratio == pytest.approx(0.5, rel=1e-5)
    assert report.suggested_stepsize == pytest.approx(1 / L)


def test_a_network_near_its_limit_is_not_told_to_lower_and_raise_at_once():
    # Issue 14: an MLP at 0.96 × its limit read "plateau: step too low", then a lower
    # step.  GD sharpens to the edge of stability (Cohen et al. 2021) and keeps falling.
    p = gf.problems.mlp_regression(width=16, n_points=12)
    theta0 = p.init(seed=0)
    lam0 = np.linalg.eigvalsh(p.hessian(theta0))[-1]
    h = 0.96 * 2 / lam0
    traj = gf.solve(p, theta0, stepsize=h, steps=1500)
    report = diagnose(traj, p)
    assert report.label == "converging"
    assert report.suggested_stepsize == pytest.approx(h)
    assert "edge of stability" in str(report.advice)


def test_a_tiny_step_is_too_small_even_when_the_curve_levels_off():
    # Issue 14: GD at 0.0025 × its limit (λ = 1, 10, 50) read "converging: the step is
    # fine".  The stiff mode has converged (the curve bends), the soft ones have not.
    p = gf.problems.quadratic([1.0, 10.0, 50.0], seed=1)
    traj = gf.solve(p, np.ones(3), stepsize=1e-4, steps=400)
    report = diagnose(traj, p)
    assert report.label == "step_too_small"
    assert report.ratio == pytest.approx(1e-4 * 50 / 2, rel=1e-6)
    assert report.suggested_stepsize == pytest.approx(0.5 * 2 / 50, rel=1e-6)
    assert "0.0025 × the limit" in report.text


def test_heavy_ball_ringing_blames_no_schedule():
    # Issue 14: heavy ball β = 0.99 ringing read "spikes: the schedule decayed too far"
    # with no schedule in use.  The step is a quarter of 2(1 + β)/λmax: stable.
    method = gf.methods.HeavyBall(0.99)
    traj = gf.solve(QUAD, np.ones(2), method, stepsize=0.25 * 3.98 / 10, steps=1500)
    report = diagnose(traj, QUAD, method=method)
    assert "schedule" not in report.text
    assert report.label == "converging"
    assert report.critical_stepsize == pytest.approx(3.98 / 10, rel=1e-9)


def test_a_schedule_is_blamed_only_when_the_step_varied():
    def bump(k):
        return np.where((k >= 20) & (k < 35), 0.5, 0.05)

    traj = gf.solve(QUAD, np.ones(2), stepsize=bump, steps=600)
    report = diagnose(traj, QUAD)
    assert report.label == "spikes" and "schedule" in str(report.advice)
    assert report.suggested_stepsize == pytest.approx(0.1, rel=1e-6)  # ½·2/λmax


def test_adam_uses_the_preconditioned_sharpness():
    # Issue 14: method=Adam() raised NotImplementedError; without it GD's β = 2 was
    # applied to an Adam run.  The limit is 2(1 + β1)/((1 - β1) λmax(P⁻¹H)) (Cohen et al.
    # 2022); λmax(P⁻¹H) from the library's own tracker, run independently.
    adam = gf.methods.Adam()
    theta0 = np.ones(2)
    traj = gf.solve(QUAD, theta0, adam, stepsize=1e-3, steps=40)
    report = diagnose(traj, QUAD, method=adam)
    tracker = gf.analysis.track_preconditioned_sharpness(QUAD, adam, every=40, seed=0)
    gf.solve(QUAD, theta0, adam, 1e-3, steps=40, callback=tracker)
    assert report.lambda_max == pytest.approx(tracker.values[-1], rel=1e-5)
    assert report.critical_stepsize == pytest.approx(38 / tracker.values[-1], rel=1e-5)
    # Without the method the trajectory only says "Adam": no limit, and why.
    blind = diagnose(traj, QUAD)
    assert np.isnan(blind.critical_stepsize) and "method=" in blind.text
    # A tracker passed as sharpness= gives the same limit.
    tracked = diagnose(traj, QUAD, method=adam, sharpness=tracker)
    assert tracked.lambda_max == tracker.values[-1]


def test_ratios_have_enough_digits():
    traj = gf.solve(QUAD, np.ones(2), stepsize=0.201, steps=3000)
    report = diagnose(traj, QUAD)
    assert "h is 1.005 × the limit" in report.text
    assert report.label == "diverged"


def test_a_plain_loss_log_from_a_hand_loop():
    # A numpy training loop of one's own: GD on least squares, losses logged per step.
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((50, 3)), rng.standard_normal(50)
    p = gf.problems.least_squares(X, y)
    L = np.linalg.eigvalsh(X.T @ X / 50)[-1]
    out = {}
    for name, h in (("small", 1e-3 / L), ("good", 1 / L), ("big", 3 / L)):
        theta, losses = np.zeros(3), []
        with np.errstate(all="ignore"):
            for _ in range(300):
                losses.append(0.5 * np.mean((X @ theta - y) ** 2))
                theta = theta - h * X.T @ (X @ theta - y) / 50
        out[name] = (np.array(losses), theta, h)
    labels = {k: str(diagnose(v[0], stepsize=v[2]).label) for k, v in out.items()}
    assert labels == {"small": "step_too_small", "good": "converging", "big": "diverged"}
    losses, theta, h = out["small"]
    report = diagnose(losses, p, stepsize=h, theta=theta)
    assert report.critical_stepsize == pytest.approx(2 / L, rel=1e-6)
    assert report.suggested_stepsize == pytest.approx(1 / L, rel=1e-6)
    # Without curvature: no number, and why.
    blind = diagnose(losses, stepsize=h)
    assert np.isnan(blind.suggested_stepsize) and "n/a" in str(blind.reason)
    # A batch of logs, one column each.
    both = diagnose(np.stack([out["small"][0], out["good"][0]], axis=1), stepsize=[h, 1 / L])
    assert both.label.tolist() == ["step_too_small", "converging"]


def test_a_plain_log_that_blew_up():
    losses = np.r_[np.linspace(1.0, 0.5, 20), 3.0, 1e5, np.inf]
    report = diagnose(losses, stepsize=0.4)
    assert report.label == "diverged"
    assert "blew up at step 22" in report.text


def test_final_only_runs_are_read_from_the_end_state():
    good = gf.solve(QUAD, np.ones(2), stepsize=0.1, steps=2000, save="final")
    small = gf.solve(QUAD, np.ones(2), stepsize=1e-4, steps=500, save="final")
    assert diagnose(good, QUAD).label == "converging"
    assert diagnose(small, QUAD).label == "step_too_small"
    assert diagnose(good).label == "unclear"  # no curve and no problem
    big = gf.solve(QUAD, np.ones((25, 2)), stepsize=0.1, steps=20)
    assert "more; all 25" in diagnose(big).text


def test_oscillation_in_a_stiff_direction_on_muller_brown():
    # Above 2/λmax at the minimum, GD settles on a period-2 orbit around it.
    p = gf.problems.muller_brown()
    lam = np.linalg.eigvalsh(p.hessian(p.minima[2]))[-1]
    traj = gf.solve(p, p.minima[2] + 0.01, stepsize=1.3 * 2 / lam, steps=1000)
    assert traj.status == "ok"
    assert np.allclose(traj.theta[-1], traj.theta[-3], atol=1e-8)  # the orbit
    report = diagnose(traj, p)
    assert report.label == "oscillating"
    assert report.ratio > 1 and report.suggested_stepsize <= 0.5 * report.stepsize


def test_momentum_and_runge_kutta_use_their_own_limits():
    hb = gf.methods.HeavyBall(0.5)  # 2(1 + β) = 3
    report = diagnose(gf.solve(QUAD, np.ones(2), hb, stepsize=0.25, steps=300), QUAD, method=hb)
    assert report.label == "converging"
    assert report.critical_stepsize == pytest.approx(0.3, rel=1e-9)
    rk4 = gf.methods.RungeKutta(gf.methods.RK4)
    traj = gf.solve(QUAD, np.ones(2), rk4, stepsize=0.3, steps=300)  # 0.3 > 0.2785
    report = diagnose(traj, QUAD, method=rk4)
    assert report.label == "diverged"
    assert report.critical_stepsize == pytest.approx(0.2785293563405282, rel=1e-9)


def test_without_a_problem_only_the_curve_is_read():
    traj = gf.solve(QUAD, np.ones((2, 2)), stepsize=np.array([1e-4, 0.1]), steps=300)
    report = diagnose(traj)
    assert report.label.tolist() == ["step_too_small", "converging"]
    assert np.isnan(report.lambda_max).all()
    assert np.isnan(report.suggested_stepsize[0]) and report.suggested_stepsize[1] == 0.1
    assert "λmax" not in report.text


def test_a_saddle_is_a_plateau_with_no_step_advice():
    p = gf.problems.muller_brown()
    saddle = np.asarray(p.saddles[1])
    w, V = np.linalg.eigh(p.hessian(saddle))
    h = 1 / w[-1]
    traj = gf.solve(p, saddle + 1e-10 * V[:, 0], stepsize=h, steps=100)
    report = diagnose(traj, p)
    assert report.label == "plateau"
    assert np.isnan(report.suggested_stepsize) and "n/a" in str(report.reason)


def test_bad_arguments():
    traj = gf.solve(QUAD, np.ones(2), stepsize=0.1, steps=10)
    with pytest.raises(TypeError, match="run"):
        diagnose(object())
    with pytest.raises(ValueError, match="run"):
        diagnose([])
    with pytest.raises(TypeError, match="problem"):
        diagnose(traj, "quadratic")
    with pytest.raises(TypeError, match="method"):
        diagnose(traj, QUAD, method="Euler")
    with pytest.raises(ValueError, match="stepsize"):
        diagnose(traj, QUAD, stepsize=0.1)
    with pytest.raises(ValueError, match="stepsize"):
        diagnose(np.ones((10, 3)), stepsize=np.ones(4))
    with pytest.raises(ValueError, match="theta"):
        diagnose(np.ones(10), theta=np.ones(2))
    with pytest.raises(ValueError, match="theta"):
        diagnose(np.ones((10, 3)), QUAD, theta=np.ones(2))
    with pytest.raises(ValueError, match="sharpness"):
        diagnose(traj, QUAD, sharpness=np.ones((3, 4)))
