"""Modified losses, modified vector fields and their symbolic derivation."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import gradflow as gf
from gradflow.modified import (
    ModifiedFlow,
    flow_reference,
    modified_flow,
    modified_loss,
    symbolic_modified_equation,
    third_derivative,
)


def _sympy_rosenbrock() -> gf.Problem:
    x, y = sp.symbols("x y")
    return gf.Problem.from_sympy(100 * (y - x**2) ** 2 + (1 - x) ** 2, [x, y], name="rosen")


# ---------------------------------------------------------------------------------------
# the modified loss
# ---------------------------------------------------------------------------------------


def test_modified_loss_on_a_quadratic_is_closed_form():
    rng = np.random.default_rng(0)
    p = gf.problems.quadratic([0.5, 2.0, 7.0], seed=3)
    h = 0.05
    m = modified_loss(p, h)
    theta = rng.normal(size=(4, 5, 3))
    g = theta @ p.A.T - p.b  # ∇L = Aθ - b
    np.testing.assert_allclose(m.loss(theta), p.loss(theta) + h / 4 * np.sum(g * g, -1))
    np.testing.assert_allclose(m.grad(theta), g + h / 2 * g @ p.A.T, rtol=1e-13)
    assert m.dim == 3 and m.minimum == p.minimum
    np.testing.assert_array_equal(m.minimizers, p.minimizers)


def test_modified_loss_gradient_is_the_gradient_of_its_loss():
    p = gf.problems.mlp_regression(width=6, n_points=8)
    m = modified_loss(p, 0.1)
    theta = p.init(seed=1, batch_shape=(2,))
    v = np.random.default_rng(2).normal(size=theta.shape)
    eps = 1e-5
    directional = (m.loss(theta + eps * v) - m.loss(theta - eps * v)) / (2 * eps)
    np.testing.assert_allclose(directional, np.sum(m.grad(theta) * v, -1), rtol=1e-7)


def test_modified_loss_rejects_bad_input():
    p = gf.problems.rosenbrock()
    for h in (0.0, -0.1, np.nan, np.inf, [0.1, 0.2], "h", True):
        with pytest.raises(ValueError, match="h"):
            modified_loss(p, h)
    with pytest.raises(TypeError, match="problem"):
        modified_loss(lambda th: th, 0.1)


# ---------------------------------------------------------------------------------------
# the modified vector fields
# ---------------------------------------------------------------------------------------


def test_euler_first_order_field_is_minus_the_modified_gradient():
    p = gf.problems.rosenbrock()
    theta = np.random.default_rng(0).normal(size=(6, 2))
    field = modified_flow(p, gf.methods.Euler(), 1e-3)
    assert isinstance(field, ModifiedFlow)
    np.testing.assert_array_equal(field(theta), -modified_loss(p, 1e-3).grad(theta))


@pytest.mark.parametrize("method", [gf.methods.Euler(), gf.methods.RungeKutta(gf.methods.EULER)])
def test_euler_field_on_a_quadratic_is_the_exact_modified_rate(method):
    # GD multiplies θ by (1 - hλ): the exact modified rate is -log(1 - hλ)/h
    # = λ (1 + hλ/2 + h²λ²/3 + h³λ³/4 + ...).
    lam, h = 3.0, 0.02
    p = gf.problems.quadratic(A=np.array([[lam]]))
    theta = np.array([[1.5], [-0.5]])
    first = modified_flow(p, method, h, order=1)(theta)
    second = modified_flow(p, method, h, order=2)(theta)
    np.testing.assert_allclose(first, -lam * (1 + h * lam / 2) * theta, rtol=1e-14)
    np.testing.assert_allclose(
        second, -lam * (1 + h * lam / 2 + (h * lam) ** 2 / 3) * theta, rtol=1e-14
    )
    exact = np.log(1 - h * lam) / h * theta
    assert np.abs(second - exact).max() == pytest.approx(lam * (h * lam) ** 3 / 4 * 1.5, rel=0.1)


def test_heavy_ball_field_matches_its_principal_root_on_a_quadratic():
    # On ½λθ² the slow root ζ of ζ² - (1 + β - hλ)ζ + β has -log ζ / h =
    # λ/(1-β) + hλ²(1+β)/(2(1-β)³) + O(h²).
    lam, beta = 2.0, 0.6
    p = gf.problems.quadratic(A=np.array([[lam]]))
    field = modified_flow(p, gf.methods.HeavyBall(beta), 1e-3)
    rate = -float(field(np.array([1.0]))[0])
    assert rate == pytest.approx(
        lam / (1 - beta) + 1e-3 * lam**2 * (1 + beta) / (2 * (1 - beta) ** 3)
    )
    gaps = []
    for h in (2e-3, 1e-3):
        roots = np.roots([1.0, -(1 + beta - h * lam), beta])
        exact = -np.log(roots.real.max()) / h
        rate = -float(modified_flow(p, gf.methods.HeavyBall(beta), h)(np.array([1.0]))[0])
        gaps.append(abs(rate - exact))
    assert gaps[0] / gaps[1] == pytest.approx(4.0, rel=0.05)  # O(h²) remainder
    assert field.shift == pytest.approx(beta / (1 - beta) ** 2)
    np.testing.assert_allclose(field.start([1.0]), 1.0 + 1e-3 * beta / (1 - beta) ** 2 * lam)
    np.testing.assert_array_equal(modified_flow(p, gf.methods.Euler(), 0.1).start([1.0]), [1.0])


@pytest.mark.parametrize("name", list(gf.methods.TABLEAUX), ids=list(gf.methods.TABLEAUX))
def test_runge_kutta_coefficients_agree_with_the_symbolic_derivation(name):
    tableau = gf.methods.TABLEAUX[name]
    field = modified_flow(gf.problems.rosenbrock(), tableau, 0.1, order=2)
    _, kappa, alpha, gamma = field.coefficients
    eq = symbolic_modified_equation(tableau, order=2)
    f, y = eq.f, eq.y
    fp, fpp = f.diff(y), f.diff(y, 2)
    assert sp.expand(eq.terms[1] - sp.nsimplify(kappa) * fp * f) == 0
    expected = sp.nsimplify(alpha) * fpp * f**2 + sp.nsimplify(gamma) * fp**2 * f
    assert sp.expand(eq.terms[2] - expected) == 0


def test_third_derivative_exact_and_by_differences_agree():
    rng = np.random.default_rng(0)
    symbolic = _sympy_rosenbrock()
    handwritten = gf.problems.rosenbrock()
    theta = rng.normal(size=(3, 4, 2))
    v = rng.normal(size=(3, 4, 2))
    exact = third_derivative(symbolic, theta, v)
    assert np.array_equal(exact, third_derivative(symbolic, theta, v, mode="sympy"))
    # ∂³L: L_xxx = 2400x, L_xxy = -400, others 0.
    x, vx, vy = theta[..., 0], v[..., 0], v[..., 1]
    closed = np.stack([2400 * x * vx**2 - 800 * vx * vy, -400 * vx**2], axis=-1)
    np.testing.assert_allclose(exact, closed, rtol=1e-12, atol=1e-9)
    for problem in (handwritten, symbolic):
        approx = third_derivative(problem, theta, v, mode="difference")
        np.testing.assert_allclose(approx, closed, rtol=0, atol=1e-8 * np.abs(closed).max())
    assert np.all(third_derivative(handwritten, theta, np.zeros_like(v)) == 0)
    with pytest.raises(ValueError, match="sympy"):
        third_derivative(handwritten, theta, v, mode="sympy")
    with pytest.raises(ValueError, match="mode"):
        third_derivative(handwritten, theta, v, mode="exact")


def test_second_order_field_uses_sympy_or_differences_alike():
    symbolic = _sympy_rosenbrock()
    theta = np.random.default_rng(1).normal(size=(5, 2))
    exact = modified_flow(symbolic, gf.methods.Euler(), 1e-3, order=2)(theta)
    approx = modified_flow(
        symbolic, gf.methods.Euler(), 1e-3, order=2, third_derivative="difference"
    )(theta)
    np.testing.assert_allclose(approx, exact, rtol=1e-9)


def test_batched_step_sizes_give_one_field_per_element():
    p = gf.problems.muller_brown()
    hs = np.array([1e-3, 2e-3, 4e-3])
    theta = np.broadcast_to([-0.2, 0.8], (3, 4, 2))
    batched = modified_flow(p, gf.methods.Euler(), hs[:, None], order=2)(theta)
    for i, h in enumerate(hs):
        one = modified_flow(p, gf.methods.Euler(), h, order=2)(theta[i])
        np.testing.assert_allclose(batched[i], one, rtol=1e-14)


def test_modified_flow_rejects_bad_input():
    p = gf.problems.rosenbrock()
    with pytest.raises(ValueError, match="order"):
        modified_flow(p, gf.methods.Euler(), 0.1, order=3)
    with pytest.raises(ValueError, match="order"):
        modified_flow(p, gf.methods.HeavyBall(0.5), 0.1, order=2)
    with pytest.raises(ValueError, match="h"):
        modified_flow(p, gf.methods.Euler(), -0.1)
    with pytest.raises(ValueError, match="third_derivative"):
        modified_flow(p, gf.methods.Euler(), 0.1, order=2, third_derivative="exact")
    with pytest.raises(TypeError, match="method"):
        modified_flow(p, gf.methods.Nesterov(0.5), 0.1)
    with pytest.raises(TypeError, match="problem"):
        modified_flow("rosenbrock", gf.methods.Euler(), 0.1)


# ---------------------------------------------------------------------------------------
# the reference solver for arbitrary fields
# ---------------------------------------------------------------------------------------


def test_flow_reference_on_a_linear_field_and_bad_input():
    rates = np.array([[1.0], [2.0], [3.0]])
    out = flow_reference(lambda th: -rates * th, np.ones((3, 2)), [0.0, 0.5, 1.0])
    assert out.shape == (3, 3, 2)
    np.testing.assert_allclose(out[-1], np.exp(-rates) * np.ones((3, 2)), rtol=1e-11)
    np.testing.assert_array_equal(out[0], 1.0)
    with pytest.raises(ValueError, match="t_eval"):
        flow_reference(lambda th: -th, np.ones(2), [1.0, 0.5])
    with pytest.raises(ValueError, match="theta0"):
        flow_reference(lambda th: -th, [np.nan, 1.0], [1.0])
    with pytest.raises(RuntimeError, match="solve_ivp"):
        flow_reference(lambda th: th**2, np.ones(1), [2.0])  # blows up at t = 1


# ---------------------------------------------------------------------------------------
# the symbolic derivation
# ---------------------------------------------------------------------------------------


def test_symbolic_euler_reproduces_f2_and_f3_scalar():
    eq = symbolic_modified_equation(gf.methods.Euler(), order=3)
    f, y, h = eq.f, eq.y, eq.h
    fp, fpp = f.diff(y), f.diff(y, 2)
    assert eq.terms[0] == f
    assert sp.expand(eq.terms[1] + fp * f / 2) == 0
    assert sp.expand(eq.terms[2] - (fp**2 * f / 3 + fpp * f**2 / 12)) == 0
    # Hairer–Lubich–Wanner IX.1, Example 1.1: y' = y² under Euler follows
    # y' = y² - h y³ + (3/2) h² y⁴ - (8/3) h³ y⁵ + ...
    on_square = eq.field.subs(f.func, sp.Lambda(y, y**2)).doit()
    expected = y**2 - h * y**3 + sp.Rational(3, 2) * h**2 * y**4 - sp.Rational(8, 3) * h**3 * y**5
    assert sp.expand(on_square - expected) == 0


def test_symbolic_euler_on_a_linear_field_is_the_log_series():
    # f = λy: Euler's y_{k+1} = (1 + hλ) y_k is the flow of y' = log(1 + hλ)/h · y.
    eq = symbolic_modified_equation(gf.methods.Euler(), order=3)
    lam = sp.Symbol("lambda")
    field = eq.field.subs(eq.f.func, sp.Lambda(eq.y, lam * eq.y)).doit()
    series = sp.series(sp.log(1 + eq.h * lam) / eq.h, eq.h, 0, 4).removeO() * eq.y
    assert sp.expand(field - series) == 0


def test_symbolic_euler_reproduces_f2_and_f3_for_vector_fields():
    eq = symbolic_modified_equation(gf.methods.Euler(), order=2, dim=2)
    f, y = eq.f, eq.y
    jac = f.jacobian(y)
    f2f = sp.Matrix(
        [
            sum(f[i].diff(y[j], y[k]) * f[j] * f[k] for j in range(2) for k in range(2))
            for i in range(2)
        ]
    )
    assert sp.expand(eq.terms[1] + jac * f / 2) == sp.zeros(2, 1)
    assert sp.expand(eq.terms[2] - (jac * jac * f / 3 + f2f / 12)) == sp.zeros(2, 1)


@pytest.mark.parametrize("name", list(gf.methods.TABLEAUX), ids=list(gf.methods.TABLEAUX))
def test_modified_equation_terms_vanish_exactly_below_the_order(name):
    # A method of order p follows its flow to O(h^p): f_2 = … = f_p = 0, f_{p+1} ≠ 0.
    tableau = gf.methods.TABLEAUX[name]
    top = min(tableau.order, 2)
    terms = symbolic_modified_equation(tableau, order=top).terms
    assert all(terms[j] == 0 for j in range(1, tableau.order) if j <= top)
    if tableau.order <= top:
        assert terms[tableau.order] != 0
    vector = symbolic_modified_equation(gf.methods.RungeKutta(tableau), order=1, dim=2)
    assert (vector.terms[1] == sp.zeros(2, 1)) == (tableau.order >= 2)


def test_rk4_modified_equation_starts_at_h4():
    eq = symbolic_modified_equation(gf.methods.RK4, order=3)
    assert eq.terms[1] == 0 and eq.terms[2] == 0 and eq.terms[3] == 0


def test_symbolic_modified_equation_rejects_bad_input():
    with pytest.raises(ValueError, match="order"):
        symbolic_modified_equation(gf.methods.Euler(), order=0)
    with pytest.raises(ValueError, match="dim"):
        symbolic_modified_equation(gf.methods.Euler(), order=1, dim=0)
    with pytest.raises(TypeError, match="method"):
        symbolic_modified_equation(gf.methods.HeavyBall(0.5), order=1)


# ---------------------------------------------------------------------------------------
# method hooks: backward error analysis asks the method, not its type
# ---------------------------------------------------------------------------------------


def test_euler_and_its_tableau_give_bit_identical_fields():
    p = _sympy_rosenbrock()
    theta = np.array([[-0.3, 0.7], [0.2, 0.1]])
    euler = modified_flow(p, gf.methods.Euler(), 0.01, order=2)
    tableau = modified_flow(p, gf.methods.EULER, 0.01, order=2)
    assert euler.coefficients == tableau.coefficients == (1.0, -0.5, 1.0 / 12.0, 1.0 / 3.0)
    np.testing.assert_array_equal(euler(theta), tableau(theta))
    assert gf.methods.Euler().butcher_tableau() is gf.methods.EULER


def test_a_new_method_gets_backward_error_analysis_from_its_hooks():
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class TwoHalfSteps(gf.methods.Euler):  # the hook alone decides: two Euler steps of h/2
        def butcher_tableau(self):
            return gf.methods.ButcherTableau(
                A=[[0, 0], ["1/2", 0]], b=["1/2", "1/2"], order=1, name="two half steps"
            )

    field = modified_flow(gf.problems.rosenbrock(), TwoHalfSteps(), 0.1)
    assert field.coefficients[:2] == (1.0, -0.25)  # κ = Σ b_i c_i - ½ = -¼
    eq = symbolic_modified_equation(TwoHalfSteps(), order=1)
    assert sp.simplify(eq.terms[1] + eq.f * eq.f.diff(eq.y) / 4) == 0

    @dataclass(frozen=True)
    class Slow(gf.methods.Euler):  # a method that states its modified flow directly
        def modified_flow_coefficients(self, order):
            return gf.methods.ModifiedCoefficients(0.5, 0.0, 0.0, 0.0)

    slow = modified_flow(gf.problems.rosenbrock(), Slow(), 0.1)
    theta = np.array([0.3, -0.2])
    np.testing.assert_array_equal(slow(theta), -0.5 * gf.problems.rosenbrock().grad(theta))


def test_methods_without_a_modified_flow_are_named_in_the_error():
    p = gf.problems.rosenbrock()
    for method in (gf.methods.Nesterov(0.5), gf.methods.Adam(), gf.methods.ImplicitEuler()):
        with pytest.raises(TypeError, match=f"method .*{method.name}"):
            modified_flow(p, method, 0.1)
        with pytest.raises(NotImplementedError, match=method.name):
            method.modified_flow_coefficients(1)
    with pytest.raises(TypeError, match="method must be a gradflow Method"):
        modified_flow(p, "euler", 0.1)
    with pytest.raises(TypeError, match="HeavyBall"):
        symbolic_modified_equation(gf.methods.HeavyBall(0.5), order=1)
