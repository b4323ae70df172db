"""Richardson extrapolation: published rules, the y' = -y tableau, batched solves, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
from gradflow.richardson import extrapolate, observed_order, solve_extrapolated, weights

# ---------------------------------------------------------------------------------------
# the rule and the tableau
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("levels", "order", "step", "expected"),
    [
        # numdifftools' Richardson(step_ratio=2).rule() for order 1, order 2, and order 1
        # with two terms.
        (2, 1, 1, [-1.0, 2.0]),
        (2, 2, 1, [-1.0 / 3.0, 4.0 / 3.0]),
        (3, 1, 1, [1.0 / 3.0, -2.0, 8.0 / 3.0]),
    ],
)
def test_weights_equal_numdifftools_rules(levels, order, step, expected):
    w = weights(levels, ratio=2.0, order=order, step=step)
    np.testing.assert_allclose(w, expected, rtol=0, atol=1e-14)
    values = np.array([3.0, -1.0, 7.0][:levels])
    full = extrapolate(values, 2.0, order, step, terms=levels - 1)
    assert float(full.value) == pytest.approx(float(w @ values), abs=1e-13)


def test_y_prime_minus_y_tableau_matches_the_reference_numbers():
    # Explicit Euler on y' = -y, t = 1, h = 0.1 / 2^k: raw errors 1.9e-2 -> 2.3e-3, the
    # diagonal of the tableau 1.9e-2, 4.1e-4, 5.3e-6, 3.8e-8.
    hs = 0.1 / 2.0 ** np.arange(4)
    values = (1.0 - hs) ** (1.0 / hs)
    exact = np.exp(-1.0)
    ex = extrapolate(values, ratio=2, order=1)
    raw = np.abs(ex.tableau[:, 0] - exact)
    diagonal = np.abs(np.diagonal(ex.tableau) - exact)
    assert [float(f"{e:.1e}") for e in (raw[0], raw[-1])] == [1.9e-2, 2.3e-3]
    assert [float(f"{e:.1e}") for e in diagonal] == [1.9e-2, 4.1e-4, 5.3e-6, 3.8e-8]
    # Default: two terms removed, the finest column kept for the estimate.
    assert ex.terms == 2 and ex.value == ex.tableau[3, 2]
    true = abs(float(ex.value) - exact)
    assert 1.0 <= float(ex.error) / true <= 1.1
    # Every level used: the estimate is the error of the previous column, a bound.
    full = extrapolate(values, terms=3)
    assert full.value == ex.tableau[3, 3]
    assert abs(float(full.value) - exact) <= float(full.error)
    assert float(full.error) == pytest.approx(float(ex.error), rel=1e-12)
    np.testing.assert_array_equal(ex.exponents, [1.0, 2.0, 3.0])
    assert np.isnan(ex.tableau[0, 1]) and np.isnan(ex.tableau[2, 3])


@pytest.mark.parametrize(
    ("ratio", "order", "step"), [(2.0, 1.0, 1.0), (3.0, 2.0, 2.0), (1.5, 4.0, 1.0)]
)
def test_an_exact_expansion_is_extrapolated_exactly(ratio, order, step):
    h = 0.3 / ratio ** np.arange(4)
    limit = 1.25
    # Three error terms: four levels remove them all.
    values = limit + 0.7 * h**order - 2.0 * h ** (order + step) + 5.0 * h ** (order + 2 * step)
    ex = extrapolate(values, ratio, order, step, terms=3)
    assert float(ex.value) == pytest.approx(limit, abs=1e-12)
    # Two levels with one term: the classical (r^p A(h/r) - A(h)) / (r^p - 1).
    two = extrapolate(values[:2], ratio, order, step)
    expected = (ratio**order * values[1] - values[0]) / (ratio**order - 1.0)
    assert float(two.value) == pytest.approx(expected, rel=1e-14)


def test_spare_level_estimate_is_asymptotically_exact():
    hs = 0.01 / 2.0 ** np.arange(4)
    values = 2.0 + 0.5 * hs + 3.0 * hs**2 - 4.0 * hs**3 + 7.0 * hs**4
    ex = extrapolate(values)
    true = abs(float(ex.value) - 2.0)
    assert float(ex.error) == pytest.approx(true, rel=0.05)


def test_trailing_shapes_are_extrapolated_elementwise():
    rng = np.random.default_rng(0)
    hs = 0.1 / 2.0 ** np.arange(5)
    limit = rng.normal(size=(3, 2))
    coeffs = rng.normal(size=(3, 3, 2))
    values = limit + sum(c * hs[:, None, None] ** (j + 1) for j, c in enumerate(coeffs))
    ex = extrapolate(values)
    assert ex.value.shape == ex.error.shape == (3, 2)
    assert ex.tableau.shape == (5, 5, 3, 2)
    for i in range(3):
        for j in range(2):
            one = extrapolate(values[:, i, j])
            assert ex.value[i, j] == one.value and ex.error[i, j] == one.error
    np.testing.assert_allclose(ex.value, limit, atol=1e-12)


def test_float32_stays_float32_and_nan_propagates():
    values = np.array([1.0, 0.5, 0.25], dtype=np.float32)
    ex = extrapolate(values)
    assert ex.value.dtype == ex.error.dtype == ex.tableau.dtype == np.float32
    bad = extrapolate(np.array([[1.0, 3.0], [0.5, 1.0], [0.25, np.nan]]))
    assert np.isnan(bad.value[1]) and np.isnan(bad.error[1]) and np.isfinite(bad.value[0])


def test_observed_order_per_element():
    hs = 0.2 / 2.0 ** np.arange(4)
    values = np.stack([1.0 + 3.0 * hs, -2.0 + 0.1 * hs**2, np.full(4, 5.0)], axis=-1)
    orders = observed_order(values, ratio=2)
    np.testing.assert_allclose(orders[:2], [1.0, 2.0], atol=1e-9)
    assert np.isnan(orders[2])  # no differences: no order
    hs3 = 0.2 / 3.0 ** np.arange(3)
    assert float(observed_order(1.0 + hs3**1.5, ratio=3)) == pytest.approx(1.5, abs=1e-9)


# ---------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------


def test_bad_input_raises_value_error_naming_the_argument():
    with pytest.raises(ValueError, match="values"):
        extrapolate([1.0])
    with pytest.raises(ValueError, match="values"):
        extrapolate(np.float64(1.0))
    with pytest.raises(ValueError, match="values"):
        extrapolate([[1.0, 2.0], [1.0]])  # levels of different shapes
    with pytest.raises(TypeError, match="values"):
        extrapolate(["a", "b"])
    for ratio in (1.0, 0.5, -2.0, np.inf):
        with pytest.raises(ValueError, match="ratio"):
            extrapolate([1.0, 2.0], ratio=ratio)
    with pytest.raises(TypeError, match="ratio"):
        extrapolate([1.0, 2.0], ratio=True)
    with pytest.raises(ValueError, match="order"):
        extrapolate([1.0, 2.0], order=0)
    with pytest.raises(ValueError, match="step"):
        extrapolate([1.0, 2.0], step=-1)
    with pytest.raises(ValueError, match="terms"):
        extrapolate([1.0, 2.0, 3.0], terms=3)
    with pytest.raises(ValueError, match="terms"):
        extrapolate([1.0, 2.0, 3.0], terms=0)
    with pytest.raises(ValueError, match="values"):
        observed_order([1.0, 2.0])
    with pytest.raises(ValueError, match="ratio"):
        observed_order([1.0, 2.0, 3.0], ratio=1)
    with pytest.raises(ValueError, match="levels"):
        weights(1)


def test_solve_extrapolated_bad_input_raises_value_error_naming_the_argument():
    p = gf.problems.rosenbrock()
    euler = gf.methods.Euler()
    with pytest.raises(ValueError, match="levels"):
        solve_extrapolated(p, [0.0, 0.0], euler, 1.0, 0.1, levels=1)
    with pytest.raises(ValueError, match="ratio"):
        solve_extrapolated(p, [0.0, 0.0], euler, 1.0, 0.1, ratio=1)
    with pytest.raises(ValueError, match="ratio"):
        solve_extrapolated(p, [0.0, 0.0], euler, 1.0, 1 / 3, ratio=1.5)  # 3, 4.5, ... steps
    with pytest.raises(ValueError, match="theta0"):
        solve_extrapolated(p, [0.0, 0.0, 0.0], euler, 1.0, 0.1)  # mismatched shape
    with pytest.raises(ValueError, match="h0"):
        solve_extrapolated(p, [0.0, 0.0], euler, 1.0, 0.0)
    with pytest.raises(ValueError, match="t_final"):
        solve_extrapolated(p, [0.0, 0.0], euler, -1.0, 0.1)
    with pytest.raises(ValueError, match="terms"):
        solve_extrapolated(p, [0.0, 0.0], euler, 1.0, 0.1, levels=3, terms=3)
    with pytest.raises(TypeError, match="method"):
        solve_extrapolated(p, [0.0, 0.0], "euler", 1.0, 0.1)


# ---------------------------------------------------------------------------------------
# extrapolated integration
# ---------------------------------------------------------------------------------------


def test_solve_extrapolated_lands_every_level_in_whole_steps():
    lam = 2.0
    p = gf.problems.quadratic(A=np.array([[lam]]))
    res = solve_extrapolated(p, [1.0], gf.methods.Euler(), t_final=1.0, h0=0.3, levels=3)
    # h0 = 0.3 becomes 1/⌈1/0.3⌉ = 0.25: no shortened last step at any level.
    np.testing.assert_array_equal(res.n_steps, [4, 8, 16])
    np.testing.assert_allclose(res.h, [0.25, 0.125, 0.0625], rtol=1e-15)
    closed = (1.0 - res.h * lam) ** res.n_steps  # GD on ½λθ² from θ0 = 1
    np.testing.assert_allclose(res.theta_levels[:, 0], closed, rtol=1e-14)
    ex = extrapolate(closed, terms=1)
    assert float(res.theta[0]) == pytest.approx(float(ex.value), rel=1e-14)
    # Non-integer ratio with whole counts: 4, 6, 9 steps.
    res15 = solve_extrapolated(
        p, [1.0], gf.methods.Euler(), t_final=1.0, h0=0.25, levels=3, ratio=1.5
    )
    np.testing.assert_array_equal(res15.n_steps, [4, 6, 9])


def test_solve_extrapolated_batches_elements_independently():
    p = gf.problems.muller_brown()
    starts = np.array([[[-0.2, 0.8], [0.3, 0.2]], [[-1.0, 1.2], [0.1, 0.4]]])  # batch (2, 2)
    res = solve_extrapolated(p, starts, gf.methods.Euler(), 0.01, 0.01 / 8, levels=3)
    assert res.theta.shape == (2, 2, 2) and res.theta_error.shape == (2, 2)
    assert res.loss.shape == res.loss_error.shape == res.order.shape == (2, 2)
    assert res.status.shape == (3, 2, 2) and res.theta_levels.shape == (3, 2, 2, 2)
    alone = solve_extrapolated(p, starts[1, 0], gf.methods.Euler(), 0.01, 0.01 / 8, levels=3)
    np.testing.assert_array_equal(res.theta[1, 0], alone.theta)
    assert res.theta_error[1, 0] == alone.theta_error


def test_solve_extrapolated_with_a_second_order_method_observes_order_two():
    p = gf.problems.muller_brown()
    theta0 = np.array([-0.2, 0.8])
    ref = gf.reference.gradient_flow(p, theta0, [0.02])
    heun = gf.methods.RungeKutta(gf.methods.HEUN)
    res = solve_extrapolated(p, theta0, heun, 0.02, 0.02 / 32, levels=4)
    assert float(res.order) == pytest.approx(2.0, abs=0.1)
    raw = np.linalg.norm(res.theta_levels[-1] - ref.theta[0])
    true = np.linalg.norm(res.theta - ref.theta[0])
    assert true < raw / 100


def test_a_diverged_level_gives_nan_and_keeps_the_status():
    p = gf.problems.quadratic([1.0, 10.0], seed=0)
    starts = np.array([[1.0, 1.0], [0.5, -0.5]])
    # At h0 = 0.25 > 2/10 the coarsest level grows by 1.5 a step and overflows.
    res = solve_extrapolated(p, starts, gf.methods.Euler(), 500.0, 0.25, levels=3)
    assert (res.status[0] == "diverged").all()
    assert np.isnan(res.theta).all() and np.isnan(res.theta_error).all()


def test_extrapolated_euler_on_rosenbrock_meets_1e8_and_the_estimate_brackets_it():
    # The classic start and two more; four levels of GD, h = 2^-14 … 2^-17, to T = 1.
    p = gf.problems.rosenbrock()
    starts = np.array([[-1.2, 1.0], [1.5, 1.5], [-0.5, 0.8]])
    t_final = 1.0
    ref = gf.reference.gradient_flow(p, starts, [t_final])
    res = solve_extrapolated(p, starts, gf.methods.Euler(), t_final, 2.0**-14, levels=4)
    assert (res.status == "ok").all()
    np.testing.assert_allclose(res.order, 1.0, atol=0.1)  # in the asymptotic regime
    true = np.linalg.norm(res.theta - ref.theta[0], axis=-1)
    raw = np.linalg.norm(res.theta_levels[-1] - ref.theta[0], axis=-1)
    assert true[0] < 1e-8
    assert np.all(true < raw / 1000)
    ratio = res.theta_error / true
    assert np.all((ratio >= 0.1) & (ratio <= 10.0))  # the required factor of 10
    assert np.all((ratio >= 0.5) & (ratio <= 2.0))  # measured: 1.008 … 1.08
    loss_ratio = res.loss_error / np.abs(res.loss - ref.loss[0])
    assert np.all((loss_ratio >= 0.5) & (loss_ratio <= 2.0))
    # With every level in the value, the estimate bounds the (smaller) error.
    full = res.theta_extrapolation.tableau[-1, -1]
    full_true = np.linalg.norm(full - ref.theta[0], axis=-1)
    assert np.all(full_true <= res.theta_error)


def test_euler_error_estimate_brackets_the_true_error_on_muller_brown():
    p = gf.problems.muller_brown()
    starts = np.array([[-0.2, 0.8], [0.3, 0.2], [-1.0, 1.2]])
    t_final = 0.02
    ref = gf.reference.gradient_flow(p, starts, [t_final])
    res = solve_extrapolated(p, starts, gf.methods.Euler(), t_final, t_final / 2**7, levels=4)
    np.testing.assert_allclose(res.order, 1.0, atol=0.1)
    true = np.linalg.norm(res.theta - ref.theta[0], axis=-1)
    ratio = res.theta_error / true
    assert np.all((ratio >= 0.5) & (ratio <= 2.0))  # measured: 0.93 … 1.01
