"""Hostile inputs: every combination works or raises a clear error; no warning leaks.

Three kinds of case (the "Failure is data" contract of DESIGN.md): bad hyper-parameters
must raise a ``ValueError``/``TypeError`` naming the argument instead of running
silently; combinations of parts must work or say why not (never an internal
``IndexError``); numpy floating-point warnings must not reach the caller, while the
user's own warnings must.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pytest

import gradflow as gf
from gradflow.controllers import IController, PIController, PIDController, initial_step
from gradflow.methods import ButcherTableau
from gradflow.problems import MinibatchSampler

TOL = {"rtol": 1e-3, "atol": 1e-6}


@contextmanager
def no_warnings() -> Iterator[None]:
    """Every warning (RuntimeWarning, ComplexWarning, ...) is an error inside."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


@pytest.fixture(scope="module")
def quad() -> gf.Problem:
    return gf.problems.quadratic([1.0, 10.0], seed=0)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(24, 3))
    return X, X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=24)


# -- bad hyper-parameters that used to run silently ----------------------------------


@pytest.mark.parametrize("f_star", [np.nan, np.inf, -np.inf])
def test_polyak_refuses_a_non_finite_f_star(f_star):
    with pytest.raises(ValueError, match="f_star"):
        gf.rules.Polyak(f_star=f_star)


@pytest.mark.parametrize("name", ["pcoeff", "icoeff"])
def test_pi_controller_refuses_nan_coefficients(name):
    with pytest.raises(ValueError, match=name):
        PIController(**{name: np.nan}, **TOL)


@pytest.mark.parametrize(("h_min", "h_max"), [(1.0, 0.1), (0.5, 0.5)])
def test_pid_controller_needs_h_min_below_h_max(h_min, h_max):
    with pytest.raises(ValueError, match="h_min must be < h_max"):
        PIDController(h_min=h_min, h_max=h_max, **TOL)
    assert PIDController(h_min=0.1, h_max=1.0, **TOL).h_max == 1.0


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"A": [[0, 0], [np.nan, 0]], "b": ["1/2", "1/2"]}, r"A\[1\]\[0\]"),
        ({"A": [[0, 0], [1, 0]], "b": [0.5, np.nan]}, r"b\[1\]"),
        ({"A": [[0]], "b": [np.inf]}, r"b\[0\]"),
        ({"A": [[0, 0], [1, 0]], "b": ["1/2", "1/2"], "c": [0, np.nan]}, r"c\[1\]"),
        (
            {"A": [[0, 0], [1, 0]], "b": ["1/2", "1/2"], "b_hat": [1, np.nan], "embedded_order": 1},
            r"b_hat\[1\]",
        ),
        ({"A": [[0, 0], [1, 0]], "b": ["1/2", "x"]}, r"b\[1\]"),
    ],
)
def test_tableau_refuses_non_finite_coefficients(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ButcherTableau(order=2, name="bad", **kwargs)


@pytest.mark.parametrize("value", [True, None, 1j])
def test_tableau_refuses_coefficients_of_the_wrong_type(value):
    with pytest.raises(TypeError, match=r"b\[0\]"):
        ButcherTableau(A=[[0]], b=[value], order=1, name="bad")


@pytest.mark.parametrize(
    "stepsize", [np.array([0.1 + 1j, 0.1]), 0.1 + 0j, True, np.array([True, False]), "0.1"]
)
def test_stepsize_of_the_wrong_type_is_a_type_error(quad, stepsize):
    with no_warnings(), pytest.raises(TypeError, match="stepsize"):
        gf.solve(quad, np.ones((2, 2)), stepsize=stepsize, steps=3)


def test_t_final_as_a_string_is_a_type_error(quad):
    with pytest.raises(TypeError, match="t_final"):
        gf.solve(quad, np.ones(2), stepsize=0.1, t_final="1")


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"start_factor": 0.0}, "start_factor"),
        ({"start_factor": 1.5}, "start_factor"),
        ({"start_factor": [0.5, 0.0]}, "start_factor"),
        ({"end_factor": -0.1}, "end_factor"),
        ({"end_factor": 1.5}, "end_factor"),
    ],
)
def test_linear_schedule_keeps_pytorchs_factor_ranges(kwargs, name):
    # torch.optim.lr_scheduler.LinearLR: 0 < start_factor <= 1, 0 <= end_factor <= 1.
    with pytest.raises(ValueError, match=name):
        gf.schedules.linear(0.1, **kwargs)


def test_linear_schedule_accepts_the_ends_of_pytorchs_ranges():
    s = gf.schedules.linear(0.2, start_factor=1.0, end_factor=0.0, total_steps=4)
    np.testing.assert_allclose(s(np.arange(6)), [0.2, 0.15, 0.1, 0.05, 0.0, 0.0])


# -- messages that name the argument ------------------------------------------------


def test_save_at_of_strings_is_named(quad):
    with pytest.raises(TypeError, match="save_at"):
        gf.solve(quad, np.ones(2), stepsize=0.1, t_final=1.0, save_at=["a"])
    with pytest.raises(ValueError, match="save_at"):
        gf.solve(quad, np.ones(2), stepsize=0.1, steps=3, save_at=["a"])


def test_divergence_norm_of_the_wrong_type_is_named(quad):
    with pytest.raises(TypeError, match="divergence_norm"):
        gf.solve(quad, np.ones(2), stepsize=0.1, steps=3, divergence_norm="x")


def test_controller_tolerance_of_the_wrong_type_is_named():
    with pytest.raises(TypeError, match="rtol"):
        IController(rtol="a", atol=1e-6)


def test_quadratic_seed_of_the_wrong_type_is_named():
    with pytest.raises(TypeError, match="seed"):
        gf.problems.quadratic([1.0, 2.0], seed="a")


def _problem(loss: Callable | None = None, grad: Callable | None = None) -> gf.Problem:
    return gf.Problem(
        loss=loss or (lambda th: 0.5 * np.sum(th * th, axis=-1)),
        grad=grad or (lambda th: 1.0 * th),
        dim=2,
    )


@pytest.mark.parametrize(
    ("problem", "error", "match"),
    [
        (_problem(grad=lambda th: list(th)), TypeError, "grad must return a numpy array"),
        (_problem(grad=lambda th: th[..., :1]), ValueError, "grad must return .* shape"),
        (_problem(grad=lambda th: th + 0j), TypeError, "grad must return real numbers"),
        (_problem(loss=lambda th: th * th), ValueError, "loss must return .* shape"),
        (_problem(loss=lambda th: float(np.sum(th))), TypeError, "loss must return"),
    ],
    ids=["grad-list", "grad-shape", "grad-complex", "loss-shape", "loss-float-on-batch"],
)
def test_problem_functions_returning_the_wrong_thing_are_named(problem, error, match):
    with pytest.raises(error, match=match):
        gf.solve(problem, np.ones((3, 2)), stepsize=0.1, steps=3)


def test_problem_output_check_accepts_the_contract():
    p = _problem(loss=lambda th: 0.5 * float(np.sum(th * th)))  # a float for one point
    assert p.loss(np.ones(2)) == 1.0
    assert p.grad(np.ones((4, 3, 2))).shape == (4, 3, 2)
    assert p.hessian(np.ones((4, 2))).shape == (4, 2, 2)
    with pytest.raises(ValueError, match="hvp must return"):
        gf.Problem(loss=p.loss, grad=p.grad, hvp=lambda th, v: v[..., :1], dim=2).hvp(
            np.ones(2), np.ones(2)
        )
    with pytest.raises(ValueError, match="hessian must return"):
        gf.Problem(loss=p.loss, grad=p.grad, hessian=lambda th: np.eye(2), dim=2).hessian(
            np.ones((3, 2))
        )


@pytest.mark.parametrize("value", ["x", "0.1", None, True, 0.1 + 0j])
def test_schedule_returning_a_non_number_is_named(quad, value):
    with no_warnings(), pytest.raises(TypeError, match="stepsize schedule must return"):
        gf.solve(quad, np.ones(2), stepsize=lambda k: value, steps=3)


def test_schedule_value_of_the_wrong_shape_is_named(quad):
    with pytest.raises(ValueError, match=r"stepsize schedule value .* shape"):
        gf.solve(quad, np.ones((3, 2)), stepsize=lambda k: np.full(2, 0.1), steps=3)


# -- combinations that used to crash with internal errors ---------------------------


def test_minibatch_view_restricts_to_rows(data):
    X, y = data
    p = gf.problems.least_squares(X, y)
    sampler = MinibatchSampler(p, 5, seed=1, n_elements=4)
    view = sampler.view(2, np.arange(4))
    theta = np.random.default_rng(0).normal(size=(4, 3))
    idx = sampler.indices(2, np.arange(4))
    expected = np.stack([X[i].T @ (X[i] @ t - y[i]) / 5 for i, t in zip(idx, theta, strict=True)])
    np.testing.assert_allclose(view.grad(theta), expected, rtol=1e-12, atol=1e-13)
    rows = np.array([3, 1])
    np.testing.assert_array_equal(view.restrict(rows).grad(theta[rows]), view.grad(theta)[rows])
    mask = np.array([True, False, False, True])
    np.testing.assert_array_equal(view.restrict(mask).grad(theta[mask]), view.grad(theta)[mask])
    # The Hessian of the minibatch loss, (1/B) X_Sᵀ X_S, by differences of its gradient.
    hessians = np.stack([X[i].T @ X[i] / 5 for i in idx])
    np.testing.assert_allclose(
        view.restrict(rows).hessian(theta[rows]), hessians[rows], rtol=1e-7, atol=1e-8
    )
    with pytest.raises(TypeError, match="batch_size"):
        view.grad(theta[:2])


def _implicit_sgd(X, y, theta0, h, steps, sampler, element):
    """Implicit SGD on least squares by hand, iterate by iterate:
    ``(I + (h/B) X_Sᵀ X_S) θ_{k+1} = θ_k + (h/B) X_Sᵀ y_S`` with ``S`` the element's
    minibatch of step ``k``."""
    theta, out = np.asarray(theta0, dtype=float), []
    B = sampler.batch_size
    for k in range(steps):
        S = sampler.indices(k, np.array([element]))[0]
        A = np.eye(theta.size) + (h / B) * X[S].T @ X[S]
        theta = np.linalg.solve(A, theta + (h / B) * X[S].T @ y[S])
        out.append(theta)
    return np.array(out)


def test_implicit_euler_takes_minibatches(data):
    X, y = data
    p = gf.problems.least_squares(X, y)
    method = gf.methods.ImplicitEuler()
    traj = gf.solve(p, np.zeros(3), method, 0.5, steps=4, batch_size=6, seed=7, save="all")
    assert traj.status == "ok"
    expected = _implicit_sgd(X, y, np.zeros(3), 0.5, 4, MinibatchSampler(p, 6, 7, 1), 0)
    np.testing.assert_allclose(traj.theta[1:], expected, rtol=1e-10, atol=1e-12)


def test_implicit_euler_takes_minibatches_on_a_batch(data):
    X, y = data
    p = gf.problems.least_squares(X, y)
    starts = np.array([[0.0, 0.0, 0.0], [30.0, -40.0, 50.0], [1e3, 1e3, -1e3]])
    method = gf.methods.ImplicitEuler()
    traj = gf.solve(p, starts, method, 0.5, steps=4, batch_size=6, seed=7, save="all")
    assert (traj.status == "ok").all()
    sampler = MinibatchSampler(p, 6, 7, 3)
    for j in range(3):
        expected = _implicit_sgd(X, y, starts[j], 0.5, 4, sampler, j)
        np.testing.assert_allclose(traj.theta[1:, j], expected, rtol=1e-10, atol=1e-9)


def test_sharpness_tracker_starts_over_on_a_new_run(quad):
    tracker = gf.curvature.track_sharpness(quad, every=2, algorithm="dense")
    gf.solve(quad, np.ones((3, 2)), stepsize=0.1, steps=4, callback=tracker)
    assert tracker.values.shape == (3, 3)
    gf.solve(quad, np.ones((5, 2)), stepsize=0.1, steps=6, callback=tracker)
    assert tracker.steps.tolist() == [0, 2, 4, 6]
    assert tracker.values.shape == tracker.times.shape == (4, 5)
    np.testing.assert_allclose(tracker.values, 10.0, rtol=1e-12)


def test_verify_bound_on_a_saddle_says_there_is_no_minimiser():
    sympy = pytest.importorskip("sympy")
    x, y = sympy.symbols("x y")
    saddle = gf.Problem.from_sympy(x**2 - y**2, [x, y], name="saddle")
    with no_warnings(), pytest.raises(ValueError, match=r"no minimiser.*indefinite.*saddle"):
        gf.stability.verify_bound(saddle, [0.3, 0.2], gf.methods.Euler())


def test_initial_step_takes_any_batch_shape_and_checks_error_order(quad):
    single, n_grad = initial_step(quad, [1.0, -1.0], 4, 1e-6, 1e-9)
    batch, _ = initial_step(quad, np.array([[1.0, -1.0]]), 4, 1e-6, 1e-9)
    assert single.shape == () and n_grad == 2 and single == batch[0]
    grid, _ = initial_step(quad, np.ones((2, 3, 2)), 4, 1e-6, 1e-9)
    assert grid.shape == (2, 3)
    for order in (-1, 0):
        with pytest.raises(ValueError, match="error_order"):
            initial_step(quad, [1.0, -1.0], order, 1e-6, 1e-9)
    with pytest.raises(TypeError, match="error_order"):
        initial_step(quad, [1.0, -1.0], 1.5, 1e-6, 1e-9)
    with pytest.raises(ValueError, match="theta0"):
        initial_step(quad, [1.0, -1.0, 0.0], 4, 1e-6, 1e-9)
    with pytest.raises(ValueError, match="rtol"):
        initial_step(quad, [1.0, -1.0], 4, 0.0, 1e-9)


def test_loss_curves_take_an_array_of_losses():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    try:
        ax = gf.plot.loss_curves(np.ones(5))
        assert len(ax.get_lines()) == 1
        np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), np.arange(5))
        assert len(gf.plot.loss_curves(np.ones((5, 3))).get_lines()) == 3
        with pytest.raises(TypeError, match="traj"):
            gf.plot.loss_curves("losses")
        with pytest.raises(ValueError, match="traj"):
            gf.plot.loss_curves(np.ones(()))
        with pytest.raises(ValueError, match='x="t"'):
            gf.plot.loss_curves(np.ones(5), x="t")
        with pytest.raises(TypeError, match="traj"):
            gf.plot.stepsizes(np.ones(5))
    finally:
        plt.close("all")


@pytest.mark.parametrize(
    "analysis",
    [
        lambda m: gf.stability.critical_stepsize(m, [1.0, 10.0]),
        gf.stability.real_stability_limit,
        gf.stability.stability_function,
    ],
    ids=["critical_stepsize", "real_stability_limit", "stability_function"],
)
@pytest.mark.parametrize("method", [gf.methods.Adam(), gf.methods.Lion()], ids=["Adam", "Lion"])
def test_stability_analysis_of_a_nonlinear_method_names_it(analysis, method):
    with pytest.raises(TypeError, match=f"linear stability analysis.*{method.name}"):
        analysis(method)


# -- numpy warnings do not leak; the user's own warnings do -------------------------

EXTREMES = [1e200, -1e200, 1e300, np.inf, -np.inf, np.nan]


def _zoo(data: tuple[np.ndarray, np.ndarray]) -> dict[str, gf.Problem]:
    X, y = data
    problems = {name: factory() for name, factory in gf.problems.ZOO.items()}
    problems["least_squares"] = gf.problems.least_squares(X, y)
    problems["logistic_regression"] = gf.problems.logistic_regression(
        X, (y > 0).astype(float), l2=0.1
    )
    return problems


def test_every_zoo_problem_is_silent_at_extreme_states(data):
    for name, p in _zoo(data).items():
        for value in EXTREMES:
            theta = np.full((2, p.dim), value)
            theta[1, 0] = 1.0  # a mixed row too
            with no_warnings():
                loss, grad = p.loss(theta), p.grad(theta)
                hvp, hessian = p.hvp(theta, np.ones_like(theta)), p.hessian(theta)
                if hasattr(p, "per_example_grad"):
                    p.per_example_grad(theta)
            assert loss.shape == (2,) and grad.shape == theta.shape, name
            assert hvp.shape == theta.shape and hessian.shape == (2, p.dim, p.dim), name


def test_sympy_problems_are_silent_outside_their_domain():
    sympy = pytest.importorskip("sympy")
    x, y = sympy.symbols("x y")
    p = gf.Problem.from_sympy(sympy.sqrt(x) + sympy.log(y), [x, y])
    theta = np.array([[-1.0, 0.0], [-4.0, -1.0]])
    with no_warnings():
        loss, grad, hessian = p.loss(theta), p.grad(theta), p.hessian(theta)
    assert np.isnan(loss).all() and not np.isfinite(grad).all() and hessian.shape == (2, 2, 2)


def test_user_problems_are_silent_when_they_overflow():
    p = _problem(loss=lambda th: np.sum(np.exp(th), axis=-1), grad=np.exp)
    with no_warnings():
        assert np.isinf(p.loss(np.full(2, 1e3))) and np.isinf(p.grad(np.full(2, 1e3))).all()
        assert not np.isfinite(p.hvp(np.full(2, 1e3), np.ones(2))).any()


def test_callback_warnings_reach_the_user(quad):
    def callback(info: gf.StepInfo) -> None:
        np.log(np.zeros(1) - 1.0)  # the user's own invalid operation

    with pytest.warns(RuntimeWarning, match="invalid value"):
        gf.solve(quad, np.ones(2), stepsize=0.1, steps=2, callback=callback)
