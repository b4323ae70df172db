"""Error controllers: PI damping, limits, statuses, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
from gradflow.controllers import (
    IController,
    PIController,
    PIDController,
    PredictiveController,
    initial_step,
)

DOPRI = gf.methods.RungeKutta(gf.methods.DOPRI54)


def test_pi_and_pid_reject_less_than_i_where_i_oscillates():
    # λ = 1000 limits DOPRI54's step by stability (h ≈ 3.3e-3) long after the fast mode
    # has decayed: the I controller then alternates accept/reject.
    problem = gf.problems.quadratic(A=np.diag([1.0, 1000.0]))
    counts = {}
    for name, ctrl in {
        "I": IController(rtol=1e-3, atol=1e-6),
        "PI": PIController(rtol=1e-3, atol=1e-6),
        "PID": PIDController(0.14, 0.25, 0.10, rtol=1e-3, atol=1e-6),
    }.items():
        traj = gf.solve(problem, np.ones(2), DOPRI, ctrl, t_final=20.0, save="final")
        assert traj.status == "ok"
        counts[name] = (int(traj.n_steps), int(traj.n_rejected))
    # Measured: I (6050, 977), PI (6060, 1), PID (6062, 3); never shrinking an accepted step
    # (shrink_on_accept=False): I (6041, 1838), PI (6056, 286), PID (6056, 345).
    assert counts["PI"][1] < counts["I"][1] / 3
    assert counts["PID"][1] < counts["I"][1] / 3
    assert counts["PI"][0] < 1.1 * counts["I"][0]


def test_predictive_controller_reaches_tolerance():
    problem = gf.problems.rosenbrock()
    ref = gf.reference.gradient_flow(problem, [-1.2, 1.0], [1.0])
    traj = gf.solve(
        problem,
        [-1.2, 1.0],
        DOPRI,
        PredictiveController(rtol=1e-7, atol=1e-7),
        t_final=1.0,
        save="final",
    )
    assert traj.status == "ok"
    assert np.abs(traj.theta[0] - ref.theta[0]).max() < 1e-6


def test_initial_step_follows_hairer_norsett_wanner():
    # For θ' = -λθ from θ0 = 1: d0 = 1/sc, d1 = λ/sc, h0 = 0.01/λ, d2 = λ²/sc, and
    # h1 = (0.01 / max(d1, d2))^(1/(q+1)); h = min(100 h0, h1).
    lam, rtol, atol, q = 4.0, 1e-6, 1e-6, 4
    problem = gf.problems.quadratic(A=np.array([[lam]]))
    h, n = initial_step(problem, np.array([[1.0]]), q, rtol, atol)
    sc = atol + rtol
    d1, d2 = lam / sc, lam * lam / sc
    expected = min(100 * 0.01 / lam, (0.01 / max(d1, d2)) ** (1 / (q + 1)))
    assert n == 2 and h[0] == pytest.approx(expected, rel=1e-12)


def test_heun_euler_pair_controls_plain_gradient_descent_error():
    problem = gf.problems.muller_brown()
    ref = gf.reference.gradient_flow(problem, [-0.2, 0.8], [0.05])
    pair = gf.methods.RungeKutta(gf.methods.HEUN_EULER)
    traj = gf.solve(
        problem, [-0.2, 0.8], pair, IController(rtol=1e-6, atol=1e-6), t_final=0.05, save="final"
    )
    assert traj.status == "ok"
    assert np.abs(traj.theta[0] - ref.theta[0]).max() < 1e-5


def test_save_at_lands_on_times_and_counts_are_per_element():
    problem = gf.problems.rosenbrock()
    ts = np.linspace(0, 1, 6)
    traj = gf.solve(
        problem,
        np.array([[-1.2, 1.0], [1.0, 1.0]]),
        DOPRI,
        IController(rtol=1e-8, atol=1e-8),
        t_final=1.0,
        save_at=ts,
    )
    np.testing.assert_array_equal(traj.t, np.broadcast_to(ts[:, None], (6, 2)))
    ref = gf.reference.gradient_flow(problem, np.array([[-1.2, 1.0], [1.0, 1.0]]), ts)
    assert np.abs(traj.theta - ref.theta).max() < 1e-7
    assert traj.n_steps[0] > traj.n_steps[1]  # the minimiser needs almost no steps
    # The starting-step heuristic's 2 gradients (its ∇L(θ0) is the one the method's FSAL
    # start uses: one evaluation, shared) and 6 per attempted step of DOPRI54.
    assert np.all(traj.n_grad == 2 + 6 * (traj.n_steps + traj.n_rejected))


def test_step_too_small_max_steps_and_float32():
    problem = gf.problems.rosenbrock()
    tight = IController(rtol=1e-10, atol=1e-10, h_min=1e-3)
    traj = gf.solve(problem, [-1.2, 1.0], DOPRI, tight, t_final=1.0, save="final")
    assert traj.status == "step_too_small"
    capped = gf.solve(
        problem,
        [-1.2, 1.0],
        DOPRI,
        IController(rtol=1e-8, atol=1e-8),
        t_final=1.0,
        max_steps=20,
        save="final",
    )
    assert capped.status == "max_steps" and capped.n_steps + capped.n_rejected == 20
    single = gf.solve(
        problem,
        np.array([-1.2, 1.0], dtype=np.float32),
        DOPRI,
        IController(rtol=1e-4, atol=1e-4),
        t_final=1.0,
        save="final",
        max_steps=10_000,
    )
    assert single.status == "ok" and single.theta.dtype == np.float32
    assert single.t[0] == 1.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rtol": 0.0, "atol": 1e-6}, "rtol"),
        ({"rtol": -1e-3, "atol": 1e-6}, "rtol"),
        ({"rtol": 1e-3, "atol": -1e-6}, "atol"),
        ({"rtol": 1e-3, "atol": 1e-6, "factor_min": 1.0}, "factor_min"),
        ({"rtol": 1e-3, "atol": 1e-6, "factor_max": 0.5}, "factor_max"),
        ({"rtol": 1e-3, "atol": 1e-6, "h0": -1.0}, "h0"),
    ],
)
def test_bad_controller_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PIDController(**kwargs)


def test_controller_needs_an_embedded_pair():
    problem = gf.problems.rosenbrock()
    for method in (gf.methods.Euler(), gf.methods.RungeKutta(gf.methods.RK4)):
        with pytest.raises(ValueError, match="embedded"):
            gf.solve(problem, [0.0, 0.0], method, IController(rtol=1e-6, atol=1e-6), t_final=1.0)
