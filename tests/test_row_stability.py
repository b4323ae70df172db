"""Batch = single, bit for bit, for every zoo problem.

Every zoo problem computes each row of a batch independently of the batch: the loss,
gradient, HVP and Hessian of a ``(1000, d)`` batch equal, bit for bit, the same rows
evaluated one at a time and in blocks of 7.  A BLAS matrix-matrix product would not
give this (its kernels round a row differently depending on the rows around it), so
the problems that multiply by a matrix (quadratic, least squares, logistic regression)
use row-stable kernels; all of them are exercised below (small matrices go through
``numpy.einsum``, large ones through fixed-size BLAS blocks, or one BLAS ``gemv`` per
row where the blocks would not be row-stable).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import gradflow as gf
from gradflow.problems import (
    ZOO,
    Problem,
    least_squares,
    logistic_regression,
    mlp_regression,
    quadratic,
)

N_ROWS = 1000
BLOCK = 7

_RNG = np.random.default_rng(20261201)
X_SMALL = _RNG.standard_normal((12, 3))  # X θ and Xᵀ r: 36 entries, the einsum kernel
X_LARGE = _RNG.standard_normal((300, 20))  # 6000 entries, one gemv per row
Y_SMALL = _RNG.standard_normal(12)
Y_LARGE = _RNG.standard_normal(300)
LAB_SMALL = _RNG.integers(0, 2, 12)
LAB_LARGE = _RNG.integers(0, 2, 300)

#: Every zoo problem (the registry and the data-fitting ones), with both kernels.
PROBLEMS: dict[str, Callable[[], Problem]] = {
    **ZOO,
    "quadratic_d5": lambda: quadratic(np.linspace(0.5, 10.0, 5), b=np.ones(5), seed=1),
    "quadratic_d40": lambda: quadratic(np.geomspace(0.1, 100.0, 40), seed=2),
    "least_squares_small": lambda: least_squares(X_SMALL, Y_SMALL),
    "least_squares_large": lambda: least_squares(X_LARGE, Y_LARGE),
    "logistic_regression_small": lambda: logistic_regression(X_SMALL, LAB_SMALL, l2=0.1),
    "logistic_regression_large": lambda: logistic_regression(X_LARGE, LAB_LARGE),
    "mlp_regression_small": lambda: mlp_regression(width=6, n_points=8, degree=3, seed=3),
}

#: The Hessian of these is assembled from ``d`` HVPs; at d = 300 a (1000, d) batch of
#: Hessians is 720 MB, so only the HVPs it is built from are checked.
NO_BATCH_HESSIAN = {"mlp_regression"}


def _rows(problem: Problem, rng: np.random.Generator, dtype: type) -> np.ndarray:
    if hasattr(problem, "init"):
        theta = problem.init(seed=int(rng.integers(1 << 30)), batch_shape=N_ROWS)
        theta = theta + 0.1 * rng.standard_normal(theta.shape)
    else:
        theta = rng.uniform(-2.0, 2.0, (N_ROWS, problem.dim))
    return theta.astype(dtype)


def _functions(name: str, problem: Problem) -> dict[str, Callable[..., np.ndarray]]:
    fns: dict[str, Callable[..., np.ndarray]] = {
        "loss": lambda th, v: problem.loss(th),
        "grad": lambda th, v: problem.grad(th),
        "hvp": problem.hvp,
    }
    if name not in NO_BATCH_HESSIAN:
        fns["hessian"] = lambda th, v: problem.hessian(th)
    return fns


def _assert_row_stable(fn: Callable[..., np.ndarray], theta: np.ndarray, v: np.ndarray) -> None:
    batched = fn(theta, v)
    one_at_a_time = np.stack([fn(theta[i], v[i]) for i in range(N_ROWS)])
    np.testing.assert_array_equal(batched, one_at_a_time, err_msg="rows one at a time")
    blocks = np.concatenate(
        [fn(theta[i : i + BLOCK], v[i : i + BLOCK]) for i in range(0, N_ROWS, BLOCK)]
    )
    np.testing.assert_array_equal(batched, blocks, err_msg=f"blocks of {BLOCK}")
    grid = fn(theta.reshape(40, 25, -1), v.reshape(40, 25, -1))
    np.testing.assert_array_equal(batched, grid.reshape(batched.shape), err_msg="a (40, 25) batch")


@pytest.mark.parametrize("name", list(PROBLEMS))
def test_batch_equals_single_bit_for_bit(name: str) -> None:
    problem = PROBLEMS[name]()
    rng = np.random.default_rng(7)
    theta = _rows(problem, rng, np.float64)
    v = rng.standard_normal(theta.shape)
    for label, fn in _functions(name, problem).items():
        try:
            _assert_row_stable(fn, theta, v)
        except AssertionError as err:
            raise AssertionError(f"{name}.{label} depends on the batch:\n{err}") from None


@pytest.mark.parametrize(
    "name", ["quadratic_d5", "quadratic_d40", "least_squares_large", "logistic_regression_small"]
)
def test_float32_rows_are_batch_independent_too(name: str) -> None:
    problem = PROBLEMS[name]()
    rng = np.random.default_rng(8)
    theta = _rows(problem, rng, np.float32)
    v = rng.standard_normal(theta.shape).astype(np.float32)
    for fn in _functions(name, problem).values():
        out = fn(theta, v)
        assert out.dtype == np.float32
        _assert_row_stable(fn, theta, v)


@pytest.mark.parametrize(
    "name", ["quadratic_d40", "least_squares_large", "logistic_regression_large"]
)
def test_batched_solve_equals_single_runs(name: str) -> None:
    problem = PROBLEMS[name]()
    rng = np.random.default_rng(9)
    theta0 = rng.uniform(-1.0, 1.0, (12, problem.dim))
    hs = np.geomspace(1e-3, 1e-2, 12)
    kwargs = {"steps": 40, "save": "final"}
    batched = gf.solve(problem, theta0, stepsize=hs, **kwargs)
    for i in range(12):
        alone = gf.solve(problem, theta0[i : i + 1], stepsize=float(hs[i]), **kwargs)
        np.testing.assert_array_equal(batched.theta[:, i], alone.theta[:, 0])
        np.testing.assert_array_equal(batched.loss[:, i], alone.loss[:, 0])


def test_fallback_to_one_gemv_per_row_is_row_stable(monkeypatch: pytest.MonkeyPatch) -> None:
    # Where BLAS would give a row other bits at another position of a block, row_matmul
    # falls back to one matrix-vector call per row; that kernel is row-stable too.
    from gradflow.problems import _rowstable

    monkeypatch.setattr(_rowstable, "_blocks_are_row_stable", lambda m: False)
    for name in ["quadratic_d40", "least_squares_large", "logistic_regression_large"]:
        problem = PROBLEMS[name]()
        rng = np.random.default_rng(10)
        theta = _rows(problem, rng, np.float64)
        v = rng.standard_normal(theta.shape)
        for fn in _functions(name, problem).values():
            _assert_row_stable(fn, theta, v)


def test_the_block_check_sees_position_dependent_kernels() -> None:
    # A "BLAS" that rounds the last row of every block differently must be caught.
    from gradflow.problems import _rowstable

    m = _rowstable.fixed_matrix(np.random.default_rng(11).standard_normal((30, 20)))
    real = _rowstable._block_products

    def skewed(rows: np.ndarray, mat: np.ndarray, out: np.ndarray) -> None:
        real(rows, mat, out)
        out[_rowstable.BLOCK_ROWS - 1 :: _rowstable.BLOCK_ROWS] *= 1.0 + 2.0**-52

    saved = dict(_rowstable._BLOCK_CHECK)
    try:
        _rowstable._BLOCK_CHECK.clear()
        _rowstable._block_products = skewed
        assert not _rowstable._blocks_are_row_stable(m)
    finally:
        _rowstable._block_products = real
        _rowstable._BLOCK_CHECK.clear()
        _rowstable._BLOCK_CHECK.update(saved)
