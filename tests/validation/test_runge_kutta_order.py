"""Every Runge–Kutta tableau converges to the gradient flow with its claimed order.

The global error at T is measured against scipy's DOP853 (at rtol = 1e-13, atol = 1e-14,
so that the reference error stays two orders below the smallest error fitted) over at
least four step sizes per method, each range chosen in the method's asymptotic regime
and above the rounding floor; the least-squares log-log slope must be within ±0.1 of
the tableau's order.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
from gradflow.analysis import fit_order
from gradflow.methods import (
    BS32,
    DOPRI54,
    EULER,
    HEUN,
    HEUN_EULER,
    MIDPOINT,
    RALSTON,
    RK4,
    SSPRK3,
)


def _chain_10d():
    # A smooth, coupled, non-quadratic 10-d loss: log-cosh springs between neighbours on
    # top of a confining ½‖θ‖² + ¼ Σ log(1 + θ_i²).
    import sympy as sp

    xs = sp.symbols("x0:10")
    expr = (
        sum(sp.log(sp.cosh(xs[i] - xs[i + 1])) for i in range(9))
        + sum(x**2 / 2 for x in xs)
        + sum(sp.log(1 + x**2) for x in xs) / 4
    )
    problem = gf.Problem.from_sympy(expr, xs, name="logcosh-chain-10d")
    return problem, 1.5 * np.random.default_rng(1).normal(size=10), 1.0


def _rosenbrock():
    # From (-0.5, 0.3) the flow runs down into the valley (λmax ≈ 391 at the start).
    return gf.problems.rosenbrock(), np.array([-0.5, 0.3]), 0.5


# (tableau, levels k of h = T / 2^k) per problem.
ROSENBROCK_LEVELS = {
    EULER: range(10, 15),
    HEUN: range(13, 18),
    HEUN_EULER: range(13, 18),
    MIDPOINT: range(10, 15),
    RALSTON: range(10, 15),
    SSPRK3: range(10, 15),
    BS32: range(10, 15),
    RK4: range(10, 14),
}
CHAIN_LEVELS = {
    EULER: range(5, 10),
    HEUN: range(6, 11),
    HEUN_EULER: range(6, 11),
    MIDPOINT: range(6, 11),
    RALSTON: range(6, 11),
    SSPRK3: range(6, 11),
    BS32: range(6, 11),
    RK4: range(5, 10),
    DOPRI54: range(4, 8),
}


def _errors(problem, theta0, t_final, tableau, levels):
    hs = t_final / 2.0 ** np.asarray(levels)
    ref = gf.reference.gradient_flow(problem, theta0, [t_final], rtol=1e-13, atol=1e-14)
    runs = gf.solve(problem, np.broadcast_to(theta0, (hs.size, theta0.size)),
                    gf.methods.RungeKutta(tableau), stepsize=hs, t_final=t_final,
                    save="final")
    assert (runs.status == "ok").all()
    return hs, np.linalg.norm(runs.theta[0] - ref.theta[0], axis=-1)


@pytest.mark.parametrize("tableau", list(ROSENBROCK_LEVELS), ids=lambda t: t.name)
def test_order_on_rosenbrock(tableau):
    problem, theta0, t_final = _rosenbrock()
    hs, errors = _errors(problem, theta0, t_final, tableau, ROSENBROCK_LEVELS[tableau])
    assert errors.min() > 1e-12  # well above the reference's own error
    assert fit_order(hs, errors).order == pytest.approx(tableau.order, abs=0.1)


def test_dopri54_on_rosenbrock_is_at_least_fifth_order():
    # On this flow DOPRI54's h^5 error term is so small that the measurable range
    # (errors 1e-6 .. 1e-12) shows the h^6-h^7 terms: local slopes 6.5-6.7.  The
    # asymptotic slope 5 appears only below the rounding floor, so we check >= 5.
    problem, theta0, t_final = _rosenbrock()
    hs, errors = _errors(problem, theta0, t_final, DOPRI54, range(7, 11))
    assert errors.min() > 1e-12
    order = fit_order(hs, errors).order
    assert 4.9 <= order <= 7.0


@pytest.fixture(scope="module")
def chain_10d():
    return _chain_10d()


@pytest.mark.parametrize("tableau", list(CHAIN_LEVELS), ids=lambda t: t.name)
def test_order_on_a_non_quadratic_10d_problem(tableau, chain_10d):
    problem, theta0, t_final = chain_10d
    hs, errors = _errors(problem, theta0, t_final, tableau, CHAIN_LEVELS[tableau])
    assert errors.min() > 1e-12
    assert fit_order(hs, errors).order == pytest.approx(tableau.order, abs=0.1)
