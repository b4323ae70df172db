"""Every problem pickles: zoo, sympy-built and minibatch views give the same bits after
``pickle.loads(pickle.dumps(p))`` and in a worker process (spawn start method)."""

from __future__ import annotations

import copy
import multiprocessing
import pickle
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

import gradflow as gf
from gradflow.problems import (
    ZOO,
    MinibatchSampler,
    Problem,
    least_squares,
    logistic_regression,
    mlp_regression,
    quadratic,
    rosenbrock,
)

_RNG = np.random.default_rng(7)
_X = _RNG.standard_normal((9, 3))
_Y = _RNG.standard_normal(9)

#: Every public constructor of a problem, with non-default arguments where they change
#: the construction (implicit quadratic bases, explicit ``A``, chained Rosenbrock).
BUILDERS: dict[str, Callable[[], Problem]] = {
    **ZOO,
    "quadratic_explicit_A": lambda: quadratic(A=[[2.0, 0.5], [0.5, 1.0]], b=[1.0, -1.0]),
    "quadratic_householder": lambda: quadratic(
        np.linspace(-1.0, 3.0, 6), basis="householder", seed=3
    ),
    "quadratic_identity": lambda: quadratic([0.0, 1.0, 2.0], basis="identity"),
    "rosenbrock_5d": lambda: rosenbrock(5, a=0.5, b=10.0),
    "least_squares": lambda: least_squares(_X, _Y),
    "logistic_regression": lambda: logistic_regression(_X, np.sign(_Y), l2=0.1),
    "mlp_regression_seeded": lambda: mlp_regression(width=3, n_points=6, seed=2),
}


def _sympy_problem() -> Problem:
    sp = pytest.importorskip("sympy", reason="sympy builds the symbolic problems")
    x, y, z = sp.symbols("x y z")
    expr = (1 - x) ** 2 + 10 * (y - x**2) ** 2 + sp.exp(x * z) * sp.sin(y) + z**4 / 4
    return Problem.from_sympy(expr, [x, y, z], name="sym3", minimum=None)


def _same_bits(p: Problem, q: Problem) -> None:
    """Loss, gradient, HVP and Hessian of ``p`` and ``q`` agree bit for bit, in float64
    and float32, and the public attributes are equal."""
    assert type(q) is type(p)
    assert (q.name, q.dim, q.minimum) == (p.name, p.dim, p.minimum)
    if p.minimizers is None:
        assert q.minimizers is None
    else:
        np.testing.assert_array_equal(q.minimizers, p.minimizers)
    rng = np.random.default_rng(p.dim)
    for dtype in (np.float64, np.float32):
        theta = (0.5 * rng.standard_normal((3, p.dim))).astype(dtype)
        v = rng.standard_normal((3, p.dim)).astype(dtype)
        for got, want in (
            (q.loss(theta), p.loss(theta)),
            (q.grad(theta), p.grad(theta)),
            (q.hvp(theta, v), p.hvp(theta, v)),
            (q.hessian(theta), p.hessian(theta)),
        ):
            assert got.dtype == want.dtype == dtype
            assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_zoo_problem_round_trips_with_the_same_bits(name: str) -> None:
    p = BUILDERS[name]()
    p.grad(np.zeros((2, p.dim), dtype=np.float32))  # fill the per-dtype caches first
    q = pickle.loads(pickle.dumps(p))
    _same_bits(p, q)
    _same_bits(p, copy.deepcopy(p))


def test_sympy_problem_round_trips_with_the_same_bits() -> None:
    p = _sympy_problem()
    q = pickle.loads(pickle.dumps(p))
    _same_bits(p, q)
    assert q.expr == p.expr and q.symbols == p.symbols
    assert q.has_exact_hvp


def test_attributes_set_after_construction_travel_with_the_pickle() -> None:
    p = rosenbrock(3)
    p.name, p.minimum, p.note = "mine", -1.0, {"run": 4}
    q = pickle.loads(pickle.dumps(p))
    assert (q.name, q.minimum, q.note) == ("mine", -1.0, {"run": 4})
    assert q.a == 1.0 and q.b == 100.0


def test_the_pickle_holds_no_cache() -> None:
    # The aligned per-dtype copies of the data are made again on loading, not pickled.
    p = least_squares(np.ones((400, 50)), np.ones(400))
    before = len(pickle.dumps(p))
    p.grad(np.zeros((2, 50), dtype=np.float32))
    p.grad(np.zeros((2, 50)))
    assert len(pickle.dumps(p)) == before


def _module_loss(theta: np.ndarray) -> np.ndarray:
    return 0.5 * np.sum(theta * theta, axis=-1)


def _module_grad(theta: np.ndarray) -> np.ndarray:
    return 1.0 * theta


def test_a_plain_problem_pickles_when_its_functions_do() -> None:
    p = Problem(_module_loss, _module_grad, dim=2, name="sphere")
    _same_bits(p, pickle.loads(pickle.dumps(p)))
    local = Problem(lambda th: _module_loss(th), _module_grad, dim=2)
    with pytest.raises((pickle.PicklingError, AttributeError)):
        pickle.dumps(local)


def test_minibatch_view_round_trips() -> None:
    p = least_squares(_X, _Y)
    view = MinibatchSampler(p, 4, seed=1, n_elements=3).view(2, np.arange(3))
    q = pickle.loads(pickle.dumps(view))
    theta = _RNG.standard_normal((3, 3))
    assert q.grad(theta).tobytes() == view.grad(theta).tobytes()
    assert q.hvp(theta, theta).tobytes() == view.hvp(theta, theta).tobytes()
    np.testing.assert_array_equal(q.indices, view.indices)
    rows = np.array([0, 2])
    assert q.restrict(rows).grad(theta[rows]).tobytes() == view.grad(theta)[rows].tobytes()


def test_modified_loss_round_trips() -> None:
    p = gf.modified.modified_loss(rosenbrock(), 1e-3)
    _same_bits(p, pickle.loads(pickle.dumps(p)))


def test_problems_travel_to_spawned_worker_processes() -> None:
    """A spawned worker rebuilds the problem from its pickle and evaluates the same
    bits; the problem it sends back is equal too."""
    problems = [rosenbrock(3), _sympy_problem()]
    theta = np.random.default_rng(0).standard_normal((4, 3))
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        hvps = [pool.submit(Problem.hvp, p, theta, theta) for p in problems]
        back = [pool.submit(copy.copy, p) for p in problems]
        for p, h, b in zip(problems, hvps, back, strict=True):
            assert h.result().tobytes() == p.hvp(theta, theta).tobytes()
            _same_bits(p, b.result())
