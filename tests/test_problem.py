"""Problem: the batched interface, its finite-difference fallbacks and from_sympy."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from gradflow import Problem
from gradflow.problems import central_difference_hvp


def _cubic_problem(**kwargs):
    # L = Σ θ_i^4 / 4 + θ_0 θ_1 : gradient θ³ + (θ_1, θ_0, 0...), Hessian diag(3θ²) + J.
    def loss(th):
        return np.sum(th**4, axis=-1) / 4 + th[..., 0] * th[..., 1]

    def grad(th):
        g = th**3
        g[..., 0] += th[..., 1]
        g[..., 1] += th[..., 0]
        return g

    return Problem(loss, grad, dim=3, name="quartic", **kwargs)


def _exact_hessian(th):
    H = np.zeros((*th.shape, 3))
    idx = np.arange(3)
    H[..., idx, idx] = 3 * th**2
    H[..., 0, 1] += 1.0
    H[..., 1, 0] += 1.0
    return H


def test_finite_difference_hvp_and_hessian_are_accurate():
    p = _cubic_problem()
    rng = np.random.default_rng(0)
    th = rng.normal(size=(4, 5, 3))
    v = rng.normal(size=(4, 5, 3)) * 1e3  # the increment scales with 1/‖v‖
    exact = np.einsum("...ij,...j->...i", _exact_hessian(th), v)
    np.testing.assert_allclose(p.hvp(th, v), exact, rtol=1e-8, atol=1e-6)
    H = p.hessian(th)
    np.testing.assert_allclose(H, _exact_hessian(th), atol=1e-8)
    np.testing.assert_array_equal(H, np.swapaxes(H, -1, -2))
    assert not p.has_exact_hvp


def test_zero_direction_gives_zero_hvp():
    p = _cubic_problem()
    out = central_difference_hvp(p.grad, np.ones((2, 3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(out, 0.0)


def test_hessian_is_contracted_when_no_hvp_is_given():
    p = _cubic_problem(hessian=_exact_hessian)
    th = np.random.default_rng(1).normal(size=(6, 3))
    v = np.random.default_rng(2).normal(size=(6, 3))
    np.testing.assert_allclose(
        p.hvp(th, v), np.einsum("bij,bj->bi", _exact_hessian(th), v), rtol=1e-14
    )
    assert p.has_exact_hvp


def test_constructor_validation():
    with pytest.raises(TypeError, match="loss"):
        Problem(1.0, lambda t: t, dim=2)
    with pytest.raises(TypeError, match="grad"):
        Problem(lambda t: t, None, dim=2)
    with pytest.raises(TypeError, match="hvp"):
        Problem(lambda t: t, lambda t: t, dim=2, hvp=3)
    with pytest.raises(ValueError, match="dim"):
        Problem(lambda t: t, lambda t: t, dim=0)
    with pytest.raises(ValueError, match="minimizers"):
        Problem(lambda t: t, lambda t: t, dim=2, minimizers=[1.0, 2.0, 3.0])


def test_from_sympy_broadcasts_constants_and_matches_hand_derivatives():
    x, y, z = sp.symbols("x y z")
    # Linear and constant terms make some gradient/Hessian entries constants.
    expr = 3 * x + x**2 * y + 5 * z**2 + 7
    p = Problem.from_sympy(expr, [x, y, z], name="poly", minimum=None)
    th = np.random.default_rng(0).normal(size=(2, 4, 3))
    X, Y, Z = np.moveaxis(th, -1, 0)
    np.testing.assert_allclose(p.loss(th), 3 * X + X**2 * Y + 5 * Z**2 + 7, rtol=1e-14)
    g = np.stack([3 + 2 * X * Y, X**2, 10 * Z], axis=-1)
    np.testing.assert_allclose(p.grad(th), g, rtol=1e-14)
    H = np.zeros((2, 4, 3, 3))
    H[..., 0, 0] = 2 * Y
    H[..., 0, 1] = H[..., 1, 0] = 2 * X
    H[..., 2, 2] = 10.0
    np.testing.assert_allclose(p.hessian(th), H, rtol=1e-14)
    v = np.random.default_rng(1).normal(size=th.shape)
    np.testing.assert_allclose(p.hvp(th, v), np.einsum("...ij,...j->...i", H, v), rtol=1e-13)
    # A single point (no batch axes) and float32.
    assert p.grad(np.zeros(3)).shape == (3,) and p.loss(np.zeros(3)).shape == ()
    assert p.hessian(np.zeros(3, dtype=np.float32)).dtype == np.float32
    assert p.expr == expr and p.symbols == (x, y, z)


def test_from_sympy_rejects_bad_expressions():
    x, y = sp.symbols("x y")
    with pytest.raises(ValueError, match="free symbols"):
        Problem.from_sympy(x * y, [x])
    with pytest.raises(TypeError, match="expr"):
        Problem.from_sympy("x**2", [x])
    with pytest.raises(ValueError, match="distinct"):
        Problem.from_sympy(x**2, [x, x])
    with pytest.raises(TypeError, match="Symbol"):
        Problem.from_sympy(x**2, ["x"])
