"""The quadratic's bases: large problems build in seconds with the exact spectrum."""

from __future__ import annotations

import time

import numpy as np
import pytest

import gradflow as gf
from gradflow.problems._quadratic import HAAR_MAX_DIM, haar_orthogonal

D = 500


@pytest.fixture(scope="module")
def reflected() -> gf.problems.QuadraticProblem:
    lam = np.geomspace(0.1, 50.0, D)[::-1].copy()  # given unsorted
    b = np.random.default_rng(1).standard_normal(D)
    return gf.problems.quadratic(lam, b=b, seed=7, basis="householder")


def test_householder_spectrum_is_exact(reflected: gf.problems.QuadraticProblem) -> None:
    lam = np.geomspace(0.1, 50.0, D)
    np.testing.assert_array_equal(reflected.eigenvalues, lam)
    hessian = reflected.hessian(np.zeros(D))
    np.testing.assert_array_equal(hessian, hessian.T)
    np.testing.assert_allclose(np.linalg.eigvalsh(hessian), lam, rtol=0, atol=1e-12)
    assert reflected.lipschitz == 50.0
    q = reflected.eigenvectors
    np.testing.assert_allclose(q.T @ q, np.eye(D), atol=1e-13)
    np.testing.assert_allclose(reflected.A @ q, q * lam, atol=1e-12)


def test_householder_gradient_hvp_and_minimum(reflected: gf.problems.QuadraticProblem) -> None:
    rng = np.random.default_rng(2)
    theta = rng.standard_normal((3, D))
    v = rng.standard_normal((3, D))
    g = reflected.grad(theta)
    # Central differences of the loss along v: exact for a quadratic up to rounding.
    eps = 1e-4
    fd = (reflected.loss(theta + eps * v) - reflected.loss(theta - eps * v)) / (2 * eps)
    np.testing.assert_allclose(fd, np.sum(g * v, axis=-1), rtol=1e-7)
    np.testing.assert_allclose(g, theta @ reflected.A - reflected.b, atol=1e-11)
    np.testing.assert_allclose(reflected.hvp(theta, v), v @ reflected.A, atol=1e-11)
    x = reflected.minimizers[0]
    np.testing.assert_allclose(x, np.linalg.solve(reflected.A, reflected.b), rtol=1e-9)
    np.testing.assert_allclose(reflected.minimum, -0.5 * reflected.b @ x, rtol=1e-12)


def test_householder_rows_are_independent_and_dtype_kept(
    reflected: gf.problems.QuadraticProblem,
) -> None:
    theta = np.random.default_rng(3).standard_normal((11, D))
    batched = reflected.grad(theta)
    for i in range(theta.shape[0]):
        np.testing.assert_array_equal(reflected.grad(theta[i]), batched[i])
        np.testing.assert_array_equal(reflected.grad(theta[i : i + 1])[0], batched[i])
    assert reflected.grad(theta.astype(np.float32)).dtype == np.float32
    assert reflected.loss(theta.astype(np.float32)).dtype == np.float32


def test_same_seed_same_bits_and_identity_basis() -> None:
    lam = np.linspace(1.0, 3.0, 20)
    a = gf.problems.quadratic(lam, seed=4, basis="householder")
    np.testing.assert_array_equal(a.A, gf.problems.quadratic(lam, seed=4, basis="householder").A)
    ident = gf.problems.quadratic([3.0, 1.0, 2.0], b=[1.0, 1.0, 1.0], basis="identity")
    np.testing.assert_array_equal(ident.A, np.diag([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(ident.grad(np.ones(3)), [0.0, 1.0, 2.0])
    np.testing.assert_allclose(ident.minimizers[0], [1.0, 0.5, 1.0 / 3.0])


def test_minimum_classification_with_implicit_bases() -> None:
    assert gf.problems.quadratic([-1.0, 2.0], basis="householder", seed=0).minimum is None
    flat = gf.problems.quadratic([0.0, 2.0], basis="identity", b=[0.0, 4.0])
    assert flat.minimum == -4.0
    np.testing.assert_allclose(flat.minimizers[0], [0.0, 2.0])
    assert gf.problems.quadratic([0.0, 2.0], basis="identity", b=[1.0, 0.0]).minimum is None


def test_default_small_d_is_still_haar() -> None:
    lam = np.linspace(1.0, 5.0, 30)
    p = gf.problems.quadratic(lam, seed=5)
    q = haar_orthogonal(30, 5)
    a = (q * lam) @ q.T
    np.testing.assert_array_equal(p.A, 0.5 * (a + a.T))
    np.testing.assert_array_equal(p.A, gf.problems.quadratic(lam, seed=5, basis="haar").A)


def test_default_large_d_is_implicit_and_quick() -> None:
    start = time.perf_counter()
    p = gf.problems.quadratic(np.linspace(1.0, 2.0, HAAR_MAX_DIM + 1), seed=0)
    assert time.perf_counter() - start < 2.0
    assert p.lipschitz == 2.0
    assert p.minimum == 0.0


def test_basis_argument_checks() -> None:
    with pytest.raises(ValueError, match="basis"):
        gf.problems.quadratic([1.0, 2.0], basis="qr")
    with pytest.raises(TypeError, match="basis"):
        gf.problems.quadratic([1.0, 2.0], basis=1)
    with pytest.raises(ValueError, match="basis"):
        gf.problems.quadratic(A=np.eye(2), basis="identity")
    with pytest.raises(ValueError, match="b must have shape"):
        gf.problems.quadratic([1.0, 2.0], b=[1.0], basis="householder")


def test_gradient_descent_on_householder_matches_the_spectrum() -> None:
    # GD contracts each eigen-coordinate by |1 - hλ|: the error after N steps is exact.
    lam = np.linspace(1.0, 4.0, 50)
    p = gf.problems.quadratic(lam, seed=9, basis="householder")
    theta0 = np.random.default_rng(0).standard_normal(50)
    h, n = 0.2, 30
    traj = gf.solve(p, theta0, stepsize=h, steps=n, save="final")
    coords = p.eigenvectors.T @ theta0
    exact = p.eigenvectors @ (coords * (1.0 - h * lam) ** n)
    np.testing.assert_allclose(traj.theta[-1], exact, atol=1e-12)


@pytest.mark.slow
def test_d_ten_thousand_builds_in_seconds() -> None:
    d = 10**4
    start = time.perf_counter()
    p = gf.problems.quadratic(np.linspace(1.0, 10.0, d), b=np.ones(d), seed=0)
    assert time.perf_counter() - start < 20.0
    assert p.lipschitz == 10.0
    theta = np.random.default_rng(0).standard_normal((4, d))
    g = p.grad(theta)
    # The gradient in the eigenbasis is λ·(Qᵀθ) - Qᵀb, exactly the prescribed spectrum.
    coords = p.rotation.right(theta)
    np.testing.assert_allclose(
        p.rotation.right(g), coords * p.eigenvalues - p.rotation.right(p.b), atol=1e-10
    )
    np.testing.assert_allclose(p.grad(p.minimizers[0]), 0.0, atol=1e-12)
