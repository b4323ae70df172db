"""Adaptive steps at scipy's cost: the same steps as solve_ivp(RK45), the same numbers as
before the per-step work was trimmed, and the shipped tableaux verified here, not on import.

Expected values come from scipy at run time, from the formulas written out below in plain
numpy (the stepper and the controller as published), or from the step counts the
controllers took before this release (``shrink_on_accept=False`` is that controller).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import gradflow as gf
from gradflow.controllers import IController, PIController, PIDController
from gradflow.methods import TABLEAUX, ButcherTableau, RungeKutta
from gradflow.methods._tableau import deferred_order_checks
from gradflow.stepsize import Observation

DOPRI = RungeKutta(gf.methods.DOPRI54)

#: The five gradient flows of the cost comparison: problem, start, end time.
FLOWS = {
    "rosenbrock": (gf.problems.rosenbrock, [-1.2, 1.0], 1.0),
    "beale": (gf.problems.beale, [1.0, 1.0], 10.0),
    "himmelblau": (gf.problems.himmelblau, [0.0, 0.0], 1.0),
    "muller_brown": (gf.problems.muller_brown, [-0.2, 0.8], 0.05),
    "decay": (lambda: gf.problems.quadratic(A=np.array([[1.0]])), [1.0], 10.0),  # y' = -y
}


def _scipy_rk45(problem, theta0, t_final, tol):
    with np.errstate(all="ignore"):  # scipy's trial steps may overflow exp
        return solve_ivp(
            lambda _t, y: -problem.grad(y),
            (0.0, t_final),
            np.asarray(theta0, dtype=float),
            method="RK45",
            rtol=tol,
            atol=tol,
        )


# ---------------------------------------------------------------------------------------
# the I controller takes scipy RK45's steps
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("tol", [1e-3, 1e-6, 1e-9])
@pytest.mark.parametrize("flow", list(FLOWS))
def test_gradient_counts_match_scipy_rk45(flow, tol):
    make, theta0, t_final = FLOWS[flow]
    problem = make()
    ctrl = IController(rtol=tol, atol=tol)
    traj = gf.solve(problem, theta0, DOPRI, ctrl, t_final=t_final, save_every=1)
    ref = _scipy_rk45(problem, theta0, t_final, tol)
    assert traj.status == "ok" and ref.status == 0
    assert abs(int(traj.n_grad) / ref.nfev - 1) <= 0.10  # the target
    # In fact the same steps: the accepted times agree up to the rounding of the steps
    # (an ulp in e^(-1/5) against (1/e)^(1/5), or in scipy's BLAS stage sums, which
    # depend on the CPU, grows to ~1e-4 over Himmelblau's 116 steps at rtol 1e-9).
    times = np.unique(traj.t)
    assert times.shape == ref.t.shape
    np.testing.assert_allclose(times, ref.t, rtol=0, atol=1e-3 * t_final)
    np.testing.assert_allclose(traj.theta[-1], ref.y[:, -1], rtol=0, atol=1e-9)


def test_an_accepted_step_may_shrink_unless_told_not_to():
    # Rosenbrock's valley at rtol = 1e-3: the error rises along the path.
    problem, theta0 = gf.problems.rosenbrock(), [-1.2, 1.0]
    runs = {}
    for shrink in (True, False):
        ctrl = IController(rtol=1e-3, atol=1e-3, shrink_on_accept=shrink)
        traj = gf.solve(problem, theta0, DOPRI, ctrl, t_final=1.0, save_every=1)
        accepted = np.diff(traj.step) == 1  # attempt n + 1 moved the element on
        dt = np.diff(traj.t)
        # Two accepted attempts in a row, the second shorter (but not the landing on T).
        shrank = accepted[:-1] & accepted[1:] & (dt[1:] < dt[:-1] * (1 - 1e-12))
        shrank[-1] = False
        assert shrank.any() == shrink
        runs[shrink] = traj
    assert runs[True].n_rejected < runs[False].n_rejected


#: (n_steps, n_rejected) of DOPRI54 before this release (never-shrinking controllers), per
#: flow and tolerance: I control, then PID (0.14, 0.25, 0.10).
BEFORE = {
    ("rosenbrock", 1e-3): ((150, 8), (154, 7)),
    ("rosenbrock", 1e-6): ((223, 11), (286, 4)),
    ("beale", 1e-3): ((127, 41), (130, 10)),
    ("beale", 1e-6): ((152, 24), (176, 2)),
    ("himmelblau", 1e-3): ((31, 7), (37, 2)),
    ("himmelblau", 1e-6): ((45, 5), (59, 4)),
    ("muller_brown", 1e-3): ((25, 4), (27, 3)),
    ("muller_brown", 1e-6): ((37, 6), (44, 7)),
    ("decay", 1e-3): ((8, 0), (14, 0)),
    ("decay", 1e-6): ((22, 0), (35, 0)),
}


@pytest.mark.parametrize("flow, tol", list(BEFORE))
def test_never_shrinking_controllers_take_the_steps_they_took_before(flow, tol):
    make, theta0, t_final = FLOWS[flow]
    problem = make()
    ctrls = (
        IController(rtol=tol, atol=tol, shrink_on_accept=False),
        PIDController(0.14, 0.25, 0.10, rtol=tol, atol=tol, shrink_on_accept=False),
    )
    for ctrl, expected in zip(ctrls, BEFORE[flow, tol], strict=True):
        traj = gf.solve(problem, theta0, DOPRI, ctrl, t_final=t_final, save="final")
        assert (int(traj.n_steps), int(traj.n_rejected)) == expected


# ---------------------------------------------------------------------------------------
# the controller's update, against its formula written out
# ---------------------------------------------------------------------------------------
def _reference_update(ctrl, k, err, old, new, h, delta1, delta2, rejected):
    """h_new, accepted and too_small by the formulas of the controllers' docstring."""
    scale = ctrl.atol + ctrl.rtol * np.maximum(np.abs(old), np.abs(new))
    e = np.sqrt(np.mean((err / scale) ** 2, axis=-1))
    e = np.where(np.isfinite(e), e, np.inf)
    accepted = e < 1.0
    p, i, d = ctrl.pcoeff, ctrl.icoeff, ctrl.dcoeff
    with np.errstate(all="ignore"):
        delta = 1.0 / e
        factor = (
            ctrl.safety * delta ** ((p + i + d) / k) * delta1 ** (-(p + 2 * d) / k)
        ) * delta2 ** (d / k)
    factor = np.where(e == 0, ctrl.factor_max, np.nan_to_num(factor, nan=ctrl.factor_min))
    if ctrl.shrink_on_accept:
        grow = np.clip(factor, ctrl.factor_min, ctrl.factor_max)
        grow = np.where(rejected, np.minimum(grow, 1.0), grow)
    else:
        grow = np.where(rejected, 1.0, np.clip(factor, 1.0, ctrl.factor_max))
    shrink = np.clip(factor, ctrl.factor_min, ctrl.safety)
    h_new = np.minimum(h * np.where(accepted, grow, shrink), ctrl.h_max)
    too_small = (~accepted & ~(h_new >= ctrl.h_min)) | ~(h_new > 0)
    return h_new, accepted, too_small


def _random_observation(rng, B, d, dtype):
    old = rng.normal(size=(B, d)).astype(dtype)
    new = (old + 1e-3 * rng.normal(size=(B, d))).astype(dtype)
    # Errors from far below to far above the tolerance, and the edge cases.
    err = (rng.normal(size=(B, d)) * 10.0 ** rng.uniform(-12, -2, size=(B, 1))).astype(dtype)
    err[0] = 0.0  # e = 0
    err[1, 0] = np.inf  # overflowed trial
    err[2, 0] = np.nan
    h = (10.0 ** rng.uniform(-6, -1, size=B)).astype(dtype)
    return old, new, err, h


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shrink", [True, False])
@pytest.mark.parametrize(
    "coeffs", [(0.0, 1.0, 0.0), (0.4, 0.3, 0.0), (0.14, 0.25, 0.10)], ids=["I", "PI", "PID"]
)
def test_controller_update_is_its_formula_bit_for_bit(coeffs, shrink, dtype):
    rng = np.random.default_rng(7)
    B, d = 64, 3
    ctrl = PIDController(
        *coeffs, rtol=1e-5, atol=1e-7, h_min=1e-5, h_max=0.05, shrink_on_accept=shrink
    )
    problem = gf.problems.quadratic(np.ones(d), seed=0)
    state = ctrl.init(problem, np.ones((B, d), dtype), (B,), DOPRI)
    for _ in range(6):  # a few updates: the history and the rejected flags evolve
        old, new, err, h = _random_observation(rng, B, d, dtype)
        expected = _reference_update(
            ctrl,
            state.k[0],
            err,
            old,
            new,
            h.astype(float),
            state.delta1,
            state.delta2,
            state.rejected,
        )
        obs = Observation(1, new, theta_old=old, error=err, h=h)
        state, verdict = ctrl.update(state, obs)
        h_new, accepted, too_small = expected
        np.testing.assert_array_equal(state.h, h_new)
        assert state.h.dtype == np.float64
        got_accepted = np.ones(B, bool) if verdict.accepted is None else verdict.accepted
        np.testing.assert_array_equal(got_accepted, accepted)
        got_small = np.zeros(B, bool) if verdict.too_small is None else verdict.too_small
        np.testing.assert_array_equal(got_small, too_small)
        np.testing.assert_array_equal(state.rejected, ~accepted)


def test_an_all_accepted_update_says_so_with_none():
    ctrl = IController(rtol=1e-3, atol=1e-3)
    problem = gf.problems.quadratic([1.0, 2.0], seed=0)
    theta = np.ones((4, 2))
    state = ctrl.init(problem, theta, (4,), DOPRI)
    obs = Observation(1, theta, theta_old=theta, error=np.full((4, 2), 1e-6), h=state.h)
    _, verdict = ctrl.update(state, obs)
    assert verdict.accepted is None and verdict.too_small is None


def test_shrink_on_accept_must_be_a_bool():
    with pytest.raises(TypeError, match="shrink_on_accept"):
        IController(rtol=1e-3, atol=1e-3, shrink_on_accept="yes")
    assert PIController(rtol=1e-3, atol=1e-3).shrink_on_accept is True


# ---------------------------------------------------------------------------------------
# the stepper, against the Runge-Kutta formulas written out
# ---------------------------------------------------------------------------------------
def _reference_step(tableau, grad, theta, g0, h):
    """One explicit RK step: stages θ - h Σ_j a_ij g_j, summed j = 0, 1, ... in turn."""

    def combine(weights, gs):
        total = None
        for w, g in zip(weights, gs, strict=False):
            if float(w) != 0.0:
                total = g * float(w) if total is None else total + g * float(w)
        return total

    gs = [g0]
    stage = theta
    for i in range(1, tableau.stages):
        inc = combine(tableau.a[i, :i], gs)
        stage = theta if inc is None else theta - inc * h
        gs.append(grad(stage))
    if tableau.fsal:
        new = stage
    else:
        new = theta - combine(tableau.b_weights, gs) * h
    error = None
    if tableau.has_embedded:
        error = combine(tableau.b_hat_weights - tableau.b_weights, gs) * h
    return new, error


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(TABLEAUX))
def test_every_tableau_steps_by_its_formula_bit_for_bit(name, dtype):
    tableau = TABLEAUX[name]
    method = RungeKutta(tableau)
    problem = gf.problems.rosenbrock()
    rng = np.random.default_rng(11)
    theta = rng.uniform(-1.5, 1.5, size=(5, 2)).astype(dtype)
    h = rng.uniform(1e-4, 1e-2, size=(5, 1)).astype(dtype)
    result = method.step(problem, method.init(problem, theta), h)
    new, error = _reference_step(tableau, problem.grad, theta, problem.grad(theta), h)
    np.testing.assert_array_equal(result.state.theta, new)
    assert result.state.theta.dtype == dtype
    if tableau.has_embedded:
        np.testing.assert_array_equal(result.error, error)
        assert result.error.dtype == dtype
    # Each row alone (a step of shape (1,), as the driver passes it): the same bits.
    for r in range(5):
        alone = method.step(problem, method.init(problem, theta[r : r + 1]), h[r])
        np.testing.assert_array_equal(alone.state.theta, result.state.theta[r : r + 1])


# ---------------------------------------------------------------------------------------
# order conditions: checked here, not on import
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(TABLEAUX))
def test_every_registered_tableau_holds_its_order_conditions(name):
    tableau = TABLEAUX[name]
    tableau.verify()  # raises if order or embedded_order is not the true order
    assert tableau.verified


def test_import_checks_no_order_condition():
    code = (
        "import gradflow\n"
        "from gradflow.methods._tableau import rooted_trees\n"
        "from gradflow.methods import TABLEAUX\n"
        "print(rooted_trees.cache_info().currsize, any(t.verified for t in TABLEAUX.values()))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "False"]  # no rooted tree was ever built


def test_a_deferred_wrong_claim_fails_its_verification():
    rk4 = gf.methods.RK4
    with deferred_order_checks():
        wrong = ButcherTableau(A=rk4.A, b=rk4.b, order=3, name="RK4 as 3")
        with pytest.raises(ValueError, match="square"):  # shapes are still checked
            ButcherTableau(A=[[0, 0], [1]], b=[1, 0])
    assert not wrong.verified
    with pytest.raises(ValueError, match=r"claims order 3.*true order is 4"):
        wrong.verify()
    # Outside the context construction checks again.
    with pytest.raises(ValueError, match="true order is 4"):
        ButcherTableau(A=rk4.A, b=rk4.b, order=3)
