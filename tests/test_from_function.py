"""``Problem.from_function``: difference gradients of plain numpy losses.

Expected values come from sympy (the same formulas differentiated symbolically), closed
forms (a quadratic, ``Σ exp θ_i``) and the error model of the central difference
(``C δ²`` truncation, ``eps/δ`` rounding) -- never from the code under test.
"""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

import gradflow as gf
from gradflow import Problem
from gradflow.analysis import fit_order
from gradflow.problems import FunctionProblem

sp = pytest.importorskip("sympy", reason="sympy gives the reference derivatives")

EPS = float(np.finfo(np.float64).eps)
RNG = np.random.default_rng(20240615)


# -- losses written in this file, in both conventions -----------------------------------
def rosenbrock_vector(t: np.ndarray) -> float:
    """Chained Rosenbrock of one vector (a scalar loss)."""
    return sum(100.0 * (t[i + 1] - t[i] ** 2) ** 2 + (1.0 - t[i]) ** 2 for i in range(len(t) - 1))


def rosenbrock_rows(t: np.ndarray) -> np.ndarray:
    """Chained Rosenbrock of rows (n, d) (a batched loss)."""
    return np.sum(100.0 * (t[:, 1:] - t[:, :-1] ** 2) ** 2 + (1.0 - t[:, :-1]) ** 2, axis=1)


def beale_rows(t: np.ndarray) -> np.ndarray:
    x, y = t[..., 0], t[..., 1]
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


A_QUAD = np.array([[3.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 1.0]])
B_QUAD = np.array([1.0, -2.0, 0.5])


def quadratic_rows(t: np.ndarray) -> np.ndarray:
    return 0.5 * np.einsum("ni,ij,nj->n", t, A_QUAD, t) - t @ B_QUAD


def _sympy_derivatives(expr, symbols):
    """Gradient and Hessian of ``expr`` lambdified from sympy (the reference)."""
    grad = sp.lambdify([symbols], [sp.diff(expr, s) for s in symbols], "numpy")
    hess = sp.lambdify([symbols], sp.hessian(expr, symbols).tolist(), "numpy")
    return (
        lambda th: np.array([np.array(grad(row), dtype=float) for row in th]),
        lambda th: np.array([np.array(hess(row), dtype=float) for row in th]),
    )


def _rosenbrock_sym(d: int):
    xs = sp.symbols(f"x0:{d}")
    expr = sum(100 * (xs[i + 1] - xs[i] ** 2) ** 2 + (1 - xs[i]) ** 2 for i in range(d - 1))
    return _sympy_derivatives(expr, list(xs))


def _beale_sym():
    x, y = sp.symbols("x y")
    expr = sum((c - x + x * y**k) ** 2 for k, c in ((1, 1.5), (2, 2.25), (3, 2.625)))
    return _sympy_derivatives(expr, [x, y])


CASES = {
    "rosenbrock_scalar": (rosenbrock_vector, 4, _rosenbrock_sym(4), False),
    "rosenbrock_batched": (rosenbrock_rows, 4, _rosenbrock_sym(4), True),
    "beale": (beale_rows, 2, _beale_sym(), True),
    "quadratic": (
        quadratic_rows,
        3,
        (lambda th: th @ A_QUAD - B_QUAD, lambda th: np.broadcast_to(A_QUAD, (len(th), 3, 3))),
        True,
    ),
}


def _relative(got: np.ndarray, want: np.ndarray) -> float:
    """Largest error per row, relative to the row's largest entry."""
    scale = np.max(np.abs(want), axis=-1, keepdims=True)
    return float(np.max(np.abs(got - want) / scale))


@pytest.mark.parametrize("case", sorted(CASES))
def test_complex_step_gradient_is_exact_to_rounding(case: str) -> None:
    loss, d, (grad, hess), batched = CASES[case]
    p = Problem.from_function(loss, dim=d)
    assert (p.batched, p.derivative, p.loss_evaluations_per_grad) == (batched, "complex", d)
    theta = RNG.uniform(-1.5, 1.5, size=(6, d))
    assert _relative(p.grad(theta), grad(theta)) <= 1e-14
    # HVP: a central difference of the complex-step gradient, O(eps^(2/3)).
    v = RNG.standard_normal((6, d))
    hv = np.einsum("nij,nj->ni", hess(theta), v)
    assert _relative(p.hvp(theta, v), hv) <= 1e-8
    assert _relative(p.hessian(theta).reshape(6, -1), hess(theta).reshape(6, -1)) <= 1e-8
    assert not p.has_exact_hvp


@pytest.mark.parametrize("case", sorted(CASES))
def test_central_difference_gradient_meets_its_error_bound(case: str) -> None:
    loss, d, (grad, hess), batched = CASES[case]
    p = Problem.from_function(loss, dim=d, derivative="central")
    assert (p.batched, p.derivative, p.loss_evaluations_per_grad) == (batched, "central", 2 * d)
    theta = RNG.uniform(-1.5, 1.5, size=(6, d))
    # O(eps^(2/3)) ≈ 4e-11 times the size of the third derivatives and of L.
    assert _relative(p.grad(theta), grad(theta)) <= 1e-8
    # HVP by second differences at eps^(1/4): O(eps^(1/2)) ≈ 1.5e-8.
    v = RNG.standard_normal((6, d))
    hv = np.einsum("nij,nj->ni", hess(theta), v)
    assert _relative(p.hvp(theta, v), hv) <= 1e-5
    assert _relative(p.hessian(theta).reshape(6, -1), hess(theta).reshape(6, -1)) <= 1e-5


def _exp_sum(t: np.ndarray) -> np.ndarray:
    return np.sum(np.exp(t), axis=-1)


def test_central_difference_error_slopes_against_the_increment() -> None:
    """Truncation ``δ² e^θ / 6`` gives slope 2 for large increments; rounding
    ``eps·L/δ`` gives slope -1 for tiny ones."""
    theta = np.full((1, 8), 0.3)  # |θ_i| < 1: h_i = δ, the same for every coordinate
    exact = np.exp(theta)

    def error(delta: float) -> float:
        p = Problem.from_function(_exp_sum, dim=8, derivative="central", increment=delta)
        return float(np.max(np.abs(p.grad(theta) - exact)))

    large = np.array([1e-2, 5e-3, 2.5e-3, 1.25e-3])
    fit = fit_order(large, [error(h) for h in large])
    assert fit.order == pytest.approx(2.0, abs=0.05)
    # The constant of the truncation error is |∂³L|/6 = e^0.3/6.
    assert fit.constant == pytest.approx(np.exp(0.3) / 6, rel=0.02)
    tiny = np.geomspace(1e-9, 1e-12, 7)
    assert fit_order(tiny, [error(h) for h in tiny]).order == pytest.approx(-1.0, abs=0.35)
    # The default increment eps^(1/3) sits between, near the best error eps^(2/3)·L.
    p = Problem.from_function(_exp_sum, dim=8, derivative="central")
    assert np.max(np.abs(p.grad(theta) - exact)) <= 20 * EPS ** (2 / 3) * _exp_sum(theta)[0]


def test_batched_and_scalar_detection() -> None:
    cases = [
        (lambda t: np.sum(t**2, axis=-1), True),  # rows by axis=-1
        (lambda t: t @ np.arange(1.0, 4.0) + 1.0, True),
        (lambda t: np.sum(t**2), False),  # sums the whole block
        (lambda t: t[0] ** 2 + t[1] * t[2], False),  # indexes coordinates
        (lambda t: np.sum(t**2) + t[..., 0], False),  # right shape, rows mixed
        (lambda t: float(np.dot(t, t)), False),  # fails on a block
    ]
    theta = RNG.standard_normal((4, 3))
    for loss, batched in cases:
        p = Problem.from_function(loss, dim=3)
        assert p.batched is batched
        singles = np.array([np.asarray(loss(row)) for row in theta]).reshape(-1)
        want = singles if not batched else loss(theta)
        np.testing.assert_allclose(p.loss(theta), want, rtol=1e-15)
    # dim = 2: the probe block has 3 rows, so a loss indexing t[0], t[1] is not batched.
    assert not Problem.from_function(lambda t: t[0] * t[1], dim=2).batched


class _Calls:
    """A scalar loss that counts its calls."""

    def __init__(self, loss):
        self.loss, self.n = loss, 0

    def __call__(self, t):
        self.n += 1
        return self.loss(t)


def test_forced_convention_and_mode_skip_the_probe() -> None:
    calls = _Calls(lambda t: float(np.sum(t**2)))
    p = Problem.from_function(calls, dim=3, batched=False, derivative="central")
    assert calls.n == 0 and not p.batched
    p.grad(np.ones((5, 3)))
    assert calls.n == 5 * 2 * 3  # a loop over rows: 2·dim loss calls per gradient row


def test_a_batched_loss_is_called_once_per_gradient() -> None:
    calls = _Calls(lambda t: np.sum(t**2, axis=-1))
    p = Problem.from_function(calls, dim=4)
    calls.n = 0
    g = p.grad(RNG.standard_normal((7, 2, 4)))
    assert calls.n == 1 and g.shape == (7, 2, 4)


def test_rows_do_not_depend_on_the_batch() -> None:
    for loss in (rosenbrock_vector, rosenbrock_rows):
        for derivative in ("complex", "central"):
            p = Problem.from_function(loss, dim=4, derivative=derivative)
            theta = RNG.uniform(-1.0, 1.0, size=(5, 4))
            v = RNG.standard_normal((5, 4))
            g, hv = p.grad(theta), p.hvp(theta, v)
            for i in range(5):
                assert p.grad(theta[i]).tobytes() == g[i].tobytes()
                assert p.hvp(theta[i : i + 1], v[i : i + 1]).tobytes() == hv[i].tobytes()


@pytest.mark.parametrize("derivative", ["complex", "central"])
def test_float32_stays_float32(derivative: str) -> None:
    p = Problem.from_function(rosenbrock_rows, dim=4, derivative=derivative)
    theta = RNG.uniform(-1.0, 1.0, size=(3, 4)).astype(np.float32)
    for out in (p.loss(theta), p.grad(theta), p.hvp(theta, theta), p.hessian(theta)):
        assert out.dtype == np.float32
    grad, _ = CASES["rosenbrock_batched"][2]
    want = grad(theta.astype(np.float64))
    # float32: eps ≈ 1.2e-7 (complex step), eps^(2/3) ≈ 2.4e-5 (central).
    assert _relative(p.grad(theta), want) <= (1e-5 if derivative == "complex" else 1e-3)


def test_non_analytic_losses_fall_back_to_central_differences() -> None:
    losses = [
        lambda t: np.sum(np.abs(t) ** 3, axis=-1),  # abs: a real result
        lambda t: np.real(np.sum(t * t, axis=-1)),  # drops the imaginary part
        lambda t: np.sum(t * np.conj(t), axis=-1),  # right type, wrong imaginary part
        lambda t: np.sum(t * t, axis=-1).astype(float),  # casts (with a ComplexWarning)
    ]
    for loss in losses:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the probe leaks no warning
            p = Problem.from_function(loss, dim=3)
        assert p.derivative == "central"
    with pytest.raises(ValueError, match="derivative='complex'"):
        Problem.from_function(lambda t: np.sum(np.abs(t), axis=-1), dim=3, derivative="complex")


def _casting_loss(t: np.ndarray) -> np.ndarray:
    # Assigning complex values to a float array raises numpy's ComplexWarning.
    out = np.zeros(t.shape[0])
    out[:] = np.sum(t * t, axis=-1)
    return out


def test_no_warning_leaks() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = Problem.from_function(_casting_loss, dim=3)
        assert p.derivative == "central"
        q = Problem.from_function(lambda t: np.sum(np.exp(t), axis=-1), dim=2)
        big = np.array([[800.0, 0.0], [np.nan, 1.0]])  # overflow and NaN: data, not warnings
        assert not np.all(np.isfinite(q.grad(big)))
        assert not np.all(np.isfinite(p.hvp(big[:, [0, 1, 1]], np.ones((2, 3)))))


def test_solve_lr_find_and_top_eigenvalue_run_on_a_function_problem() -> None:
    exact = gf.problems.quadratic(A=A_QUAD, b=B_QUAD)
    p = Problem.from_function(quadratic_rows, dim=3, name="quad-fn")
    theta0 = RNG.standard_normal((2, 3))
    traj = gf.solve(p, theta0, stepsize=0.2, steps=40)
    ref = gf.solve(exact, theta0, stepsize=0.2, steps=40)
    np.testing.assert_allclose(traj.theta, ref.theta, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(traj.n_grad, ref.n_grad)  # gradients, not loss calls
    lam = np.linalg.eigvalsh(A_QUAD)[-1]
    top = gf.curvature.top_eigenvalue(p, theta0[0], seed=0)
    assert float(top.values[0]) == pytest.approx(lam, rel=1e-8)
    res = gf.lr_find(p, theta0[0], steps=30)
    assert np.all(np.isfinite(res.lrs)) and res.lrs.size > 0
    central = Problem.from_function(quadratic_rows, dim=3, derivative="central")
    top = gf.curvature.top_eigenvalue(central, theta0[0], seed=0)
    assert float(top.values[0]) == pytest.approx(lam, rel=1e-6)


def _sphere_rows(t: np.ndarray) -> np.ndarray:
    return 0.5 * np.sum(t * t, axis=-1)


def _sphere_grad(t: np.ndarray) -> np.ndarray:
    return 1.0 * t


def _sphere_hvp(t: np.ndarray, v: np.ndarray) -> np.ndarray:
    return 1.0 * v


def test_exact_grad_and_hvp_are_used() -> None:
    p = Problem.from_function(_sphere_rows, dim=3, grad=_sphere_grad)
    assert (p.derivative, p.loss_evaluations_per_grad, p.has_exact_hvp) == ("exact", 0, False)
    theta = RNG.standard_normal((4, 3))
    assert p.grad(theta).tobytes() == theta.tobytes()
    np.testing.assert_allclose(p.hvp(theta, theta), theta, rtol=1e-9)
    q = Problem.from_function(_sphere_rows, dim=3, grad=_sphere_grad, hvp=_sphere_hvp)
    assert q.has_exact_hvp and q.hvp(theta, 2 * theta).tobytes() == (2 * theta).tobytes()
    # A scalar grad follows the scalar loss, row by row.
    r = Problem.from_function(lambda t: 0.5 * float(t @ t), dim=3, grad=lambda t: 2.0 * t)
    assert not r.batched and np.array_equal(r.grad(theta), 2.0 * theta)


def test_function_problems_pickle_when_their_functions_do() -> None:
    for derivative in ("complex", "central"):
        p = Problem.from_function(rosenbrock_rows, dim=4, derivative=derivative, name="r")
        q = pickle.loads(pickle.dumps(p))
        assert isinstance(q, FunctionProblem) and q.derivative == derivative
        theta = RNG.standard_normal((3, 4))
        assert q.grad(theta).tobytes() == p.grad(theta).tobytes()
        assert q.hvp(theta, theta).tobytes() == p.hvp(theta, theta).tobytes()
    p = Problem.from_function(lambda t: np.sum(t, axis=-1), dim=2)
    with pytest.raises((pickle.PicklingError, AttributeError)):
        pickle.dumps(p)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"loss": "f"}, TypeError, "loss"),
        ({"dim": 0}, ValueError, "dim"),
        ({"dim": 2.5}, TypeError, "dim"),
        ({"grad": 3}, TypeError, "grad"),
        ({"hvp": "h"}, TypeError, "hvp"),
        ({"batched": "yes"}, TypeError, "batched"),
        ({"derivative": "forward"}, ValueError, "derivative"),
        ({"derivative": 2}, TypeError, "derivative"),
        ({"derivative": "central", "grad": _sphere_grad}, ValueError, "derivative"),
        ({"increment": 0.0}, ValueError, "increment"),
        ({"increment": 2.0}, ValueError, "increment"),
        ({"increment": "big"}, TypeError, "increment"),
        ({"increment": 1e-4, "derivative": "complex"}, ValueError, "increment"),
        ({"theta0": [1.0, 2.0]}, ValueError, "theta0"),
        ({"theta0": [1.0, np.nan, 0.0]}, ValueError, "theta0"),
        ({"theta0": ["a", "b", "c"]}, TypeError, "theta0"),
        ({"loss": lambda t: "x"}, ValueError, "loss"),
        ({"loss": lambda t: np.ones(2)}, ValueError, "loss"),
        ({"loss": lambda t: np.log(np.sum(t)), "theta0": -np.ones(3)}, ValueError, "theta0"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        Problem.from_function(**({"loss": _sphere_rows, "dim": 3} | kwargs))


def test_functions_that_return_the_wrong_shape_are_named() -> None:
    p = Problem.from_function(_sphere_rows, dim=3, grad=lambda t: t[:, :2], batched=True)
    with pytest.raises(ValueError, match="grad must return shape"):
        p.grad(np.ones((2, 3)))
    q = Problem.from_function(lambda t: np.sum(t), dim=3, batched=True, derivative="central")
    with pytest.raises(ValueError, match="loss must return shape"):
        q.loss(np.ones((2, 3)))
    r = Problem.from_function(lambda t: "x", dim=3, batched=False, derivative="central")
    with pytest.raises(TypeError, match="loss must return real numbers"):
        r.loss(np.ones((2, 3)))
