"""Error-controlled DOPRI54 against scipy: accuracy, cost, per-element independence."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import gradflow as gf

DOPRI = gf.methods.RungeKutta(gf.methods.DOPRI54)


def _logistic_50d():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 50))
    y = (X @ rng.normal(size=50) + 0.5 * rng.normal(size=200) > 0).astype(float)
    return gf.problems.logistic_regression(X, y, l2=1e-2), rng.normal(size=50), 5.0


CASES = {
    "rosenbrock": lambda: (gf.problems.rosenbrock(), np.array([-1.2, 1.0]), 1.0),
    "muller_brown": lambda: (gf.problems.muller_brown(), np.array([-0.2, 0.8]), 0.05),
    "logistic_50d": _logistic_50d,
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("rtol", [1e-3, 1e-5, 1e-7, 1e-9])
def test_dopri54_with_i_controller_meets_tolerance_at_scipy_cost(case, rtol):
    problem, theta0, t_final = CASES[case]()
    ref = gf.reference.gradient_flow(problem, theta0, [t_final], rtol=1e-13, atol=1e-13)
    ctrl = gf.controllers.IController(rtol=rtol, atol=rtol)
    traj = gf.solve(problem, theta0, DOPRI, ctrl, t_final=t_final, save="final")
    assert traj.status == "ok" and traj.t[0] == t_final
    error = np.abs(traj.theta[0] - ref.theta[0]).max()
    assert error <= 10 * rtol
    with np.errstate(all="ignore"):  # scipy's own trial steps may overflow exp
        scipy_run = solve_ivp(
            lambda t, y: -problem.grad(y),
            (0.0, t_final),
            theta0,
            method="RK45",
            rtol=rtol,
            atol=rtol,
        )
    assert traj.n_grad == pytest.approx(scipy_run.nfev, rel=0.25)


def test_batch_of_1000_starts_takes_each_elements_own_steps():
    problem = gf.problems.rosenbrock()
    rng = np.random.default_rng(0)
    # Starts from the flat valley floor to the steep walls: λmax from ~10 to ~1e4.
    theta0 = rng.uniform([-2.0, -1.0], [2.0, 4.0], size=(1000, 2))
    ctrl = gf.controllers.IController(rtol=1e-6, atol=1e-6)
    batch = gf.solve(problem, theta0, DOPRI, ctrl, t_final=0.5, save_every=1)
    assert (batch.status == "ok").all()
    assert batch.n_steps.min() * 3 < batch.n_steps.max()  # really different stiffness
    for i in rng.choice(1000, size=12, replace=False):
        alone = gf.solve(problem, theta0[i], DOPRI, ctrl, t_final=0.5, save_every=1)
        n = alone.t.shape[0]
        np.testing.assert_array_equal(batch.t[:n, i], alone.t)
        np.testing.assert_array_equal(batch.h[:n, i], alone.h)
        np.testing.assert_array_equal(batch.theta[:n, i], alone.theta)
        assert (batch.n_steps[i], batch.n_rejected[i]) == (alone.n_steps, alone.n_rejected)
