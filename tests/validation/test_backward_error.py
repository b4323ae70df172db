"""Backward error analysis validated: iterates against the flows of modified equations.

At a fixed time ``T`` the distance between ``k = T/h`` steps of a method and the exact
flow of a vector field is fitted to ``C h^p`` over four or more step sizes
(:func:`gradflow.analysis.fit_order`).  Gradient descent is ``O(h)`` from the gradient
flow, ``O(h²)`` from the flow of ``L + (h/4)‖∇L‖²`` and ``O(h³)`` from the second-order
modified field; heavy ball is ``O(h²)`` from its first-order modified flow once the
modified flow starts at the shifted point of :meth:`ModifiedFlow.start`.  All reference
flows are scipy DOP853 at rtol = atol = 1e-12, far below the smallest error fitted
(≥ 4e-9).
"""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
from gradflow.analysis import fit_order
from gradflow.modified import flow_reference, modified_flow

SLOPE_TOL = 0.1


def _iterates(problem, theta0, method, t_final, hs):
    """θ(T) of ``method`` at every step size in ``hs``, one batched call, shape (n_h, d)."""
    theta0 = np.asarray(theta0, dtype=float)
    starts = np.broadcast_to(theta0, (hs.size, theta0.size))
    traj = gf.solve(problem, starts, method, stepsize=hs, t_final=t_final, save="final")
    assert (traj.status == "ok").all()
    np.testing.assert_array_equal(traj.n_steps, np.round(t_final / hs))
    return traj.theta[0]


def _modified_errors(problem, theta0, method, t_final, hs, order, *, shifted=True):
    """Distances of the iterates to the modified flow at every step size (one scipy call)."""
    iterates = _iterates(problem, theta0, method, t_final, hs)
    field = modified_flow(problem, method, hs, order=order)
    starts = np.broadcast_to(np.asarray(theta0, dtype=float), iterates.shape)
    begin = field.start(starts) if shifted else starts
    flow = flow_reference(field, begin, [t_final])[0]
    return np.linalg.norm(iterates - flow, axis=-1)


def _plain_errors(problem, theta0, method, t_final, hs, speed=1.0):
    """Distances of the iterates to the gradient flow run ``speed`` times as fast."""
    iterates = _iterates(problem, theta0, method, t_final, hs)
    exact = gf.reference.gradient_flow(problem, theta0, [speed * t_final]).theta[0]
    return np.linalg.norm(iterates - exact, axis=-1)


def _slope(hs, errors):
    return fit_order(hs, errors).order


# The classic Rosenbrock start is stiff (λmax ≈ 1500 on the path), so the asymptotic
# regime needs h λmax ≲ 0.2: h = 0.5/2^12 … 0.5/2^15.
ROSENBROCK = dict(theta0=[-1.2, 1.0], t_final=0.5)


@pytest.mark.parametrize(
    "levels", [np.arange(12, 16), pytest.param(np.arange(12, 18), marks=pytest.mark.slow)]
)
def test_gd_on_rosenbrock_is_order_1_2_3_from_the_flow_and_modified_flows(levels):
    p = gf.problems.rosenbrock()
    t_final = ROSENBROCK["t_final"]
    hs = t_final / 2.0**levels
    gd = gf.methods.Euler()
    plain = _plain_errors(p, ROSENBROCK["theta0"], gd, t_final, hs)
    first = _modified_errors(p, ROSENBROCK["theta0"], gd, t_final, hs, order=1)
    second = _modified_errors(p, ROSENBROCK["theta0"], gd, t_final, hs, order=2)
    # Measured (quick size): 1.036, 2.004, 3.001.
    assert _slope(hs, plain) == pytest.approx(1.0, abs=SLOPE_TOL)
    assert _slope(hs, first) == pytest.approx(2.0, abs=SLOPE_TOL)
    assert _slope(hs, second) == pytest.approx(3.0, abs=SLOPE_TOL)
    assert np.all(second < first) and np.all(first < plain)


def test_gd_on_an_mlp_is_order_1_2_3_from_the_flow_and_modified_flows():
    # A 1-20-1 tanh network (60 parameters) trained to T = 5, where the loss falls from
    # 1.15 to 0.26; the largest step is a fifth of the stability limit's scale.
    p = gf.problems.mlp_regression(width=20)
    theta0 = p.init(seed=0, batch_shape=())
    t_final = 5.0
    hs = t_final / 2.0 ** np.arange(7, 11)
    gd = gf.methods.Euler()
    plain = _plain_errors(p, theta0, gd, t_final, hs)
    first = _modified_errors(p, theta0, gd, t_final, hs, order=1)
    second = _modified_errors(p, theta0, gd, t_final, hs, order=2)
    # Measured: 1.041, 2.004, 2.999.
    assert _slope(hs, plain) == pytest.approx(1.0, abs=SLOPE_TOL)
    assert _slope(hs, first) == pytest.approx(2.0, abs=SLOPE_TOL)
    assert _slope(hs, second) == pytest.approx(3.0, abs=SLOPE_TOL)

    # The claim is not vacuous at this size: training happens, the steps are not tiny
    # against the curvature, and the modified flow is much closer than the flow.
    flow = gf.reference.gradient_flow(p, theta0, [t_final])
    assert flow.loss[0] < 0.5 * p.loss(theta0)
    lam_max = np.linalg.eigvalsh(p.hessian(theta0)).max()
    assert hs[0] * lam_max > 0.2
    assert plain[0] > 1e-3  # far above the reference's 1e-12
    gain = plain / first
    assert gain[0] > 3 and gain[-1] > 30 and np.all(np.diff(gain) > 0)


def test_heun_is_order_3_from_its_second_order_modified_flow():
    # Every order-2 tableau has f_2 = 0: Heun is O(h²) from the flow, O(h³) from the
    # flow of f + h² f_3 with f_3 = (1/12) f''(f,f) - (1/6) f'f'f.
    p = gf.problems.mlp_regression(width=20)
    theta0 = p.init(seed=0, batch_shape=())
    t_final = 1.0
    hs = t_final / 2.0 ** np.arange(6, 10)
    heun = gf.methods.RungeKutta(gf.methods.HEUN)
    plain = _plain_errors(p, theta0, heun, t_final, hs)
    second = _modified_errors(p, theta0, heun, t_final, hs, order=2)
    # Measured: 2.025, 3.031.
    assert _slope(hs, plain) == pytest.approx(2.0, abs=SLOPE_TOL)
    assert _slope(hs, second) == pytest.approx(3.0, abs=SLOPE_TOL)


@pytest.mark.parametrize("where", ["rosenbrock", "mlp"])
def test_heavy_ball_is_order_2_from_its_first_order_modified_flow(where):
    beta = 0.5
    hb = gf.methods.HeavyBall(beta)
    if where == "rosenbrock":
        p = gf.problems.rosenbrock()
        theta0, t_final = ROSENBROCK["theta0"], ROSENBROCK["t_final"]
        hs = t_final / 2.0 ** np.arange(12, 16)
    else:
        p = gf.problems.mlp_regression(width=20)
        theta0, t_final = p.init(seed=0, batch_shape=()), 1.0
        hs = t_final / 2.0 ** np.arange(8, 12)
    first = _modified_errors(p, theta0, hb, t_final, hs, order=1)
    # Against the rescaled flow dθ/dt = -∇L/(1-β): first order only.
    plain = _plain_errors(p, theta0, hb, t_final, hs, speed=1.0 / (1.0 - beta))
    # Measured: 1.983 (Rosenbrock), 1.997 (MLP).
    assert _slope(hs, first) == pytest.approx(2.0, abs=SLOPE_TOL)
    assert _slope(hs, plain) == pytest.approx(1.0, abs=SLOPE_TOL)
    if where == "mlp":
        # Started at θ0 itself the modified flow keeps the O(h) lag of a ball started at
        # rest: the initial-layer shift is what makes it second order.
        unshifted = _modified_errors(p, theta0, hb, t_final, hs, order=1, shifted=False)
        assert _slope(hs, unshifted) == pytest.approx(1.0, abs=SLOPE_TOL)
