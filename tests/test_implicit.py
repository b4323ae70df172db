"""Implicit Euler (proximal point) by batched Newton: closed forms, order, failures.

Expected values come from the closed form ``(I + hA)^{-k}(θ0 - θ*) + θ*`` on quadratics,
scipy's ``solve_ivp`` reference of the gradient flow, and explicit constructions where
Newton's method provably fails (a tanh gradient with a huge step, a singular Jacobian).
"""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
from gradflow.analysis import fit_order
from gradflow.methods import Euler, ImplicitEuler
from gradflow.problems import Problem, muller_brown, quadratic, rosenbrock


def _closed_form(p, theta0: np.ndarray, h: float, k: int) -> np.ndarray:
    """``θ* + (I + hA)^{-k}(θ0 - θ*)`` in the exact eigenbasis of ``A``."""
    q, lam = p.eigenvectors, p.eigenvalues
    star = p.minimizers[0]
    return star + ((theta0 - star) @ q * (1.0 + h * lam) ** (-k)) @ q.T


def test_unconditionally_stable_and_exact_on_a_stiff_quadratic():
    rng = np.random.default_rng(0)
    p = quadratic([1.0, 10.0, 1000.0], b=rng.normal(size=3), seed=1)
    hs = np.array([0.01, 1.0, 100.0])  # 2/λmax = 0.002: GD diverges at all three
    theta0 = rng.normal(size=(3, 4, 3))
    k = 20
    traj = gf.solve(p, theta0, ImplicitEuler(), hs[:, None], steps=k)
    assert (traj.status == "ok").all()
    for i, h in enumerate(hs):
        for j in (1, 5, k):
            np.testing.assert_allclose(
                traj.theta[j, i], _closed_form(p, theta0[i], h, j), rtol=0, atol=1e-10
            )
    gap = traj.loss - p.minimum
    assert (np.diff(gap, axis=0) <= 1e-12).all()  # monotone descent
    # Newton is exact on a quadratic up to rounding: predictor + 2 iterations (the
    # second confirms), sometimes 3 when the Euler predictor is far off (h λmax = 1e5
    # amplifies it 1e5-fold, and with it the rounding of the first correction).
    assert ((traj.n_grad >= 2 * k) & (traj.n_grad <= 4 * k)).all()
    assert (traj.n_grad[0] == 3 * k).all()  # h λmax = 10
    gd = gf.solve(p, theta0, Euler(), hs[:, None], steps=1000, save="final")
    assert (gd.status == "diverged").all()


@pytest.mark.parametrize(
    ("make", "theta0", "t_final"),
    [(rosenbrock, [0.0, 0.0], 0.5), (muller_brown, [-0.2, 0.8], 0.02)],
)
def test_converges_to_the_gradient_flow_with_order_one(make, theta0, t_final):
    p = make()
    hs = t_final / 2.0 ** np.arange(6, 11)
    ref = gf.reference.gradient_flow(p, np.array(theta0), [t_final])
    runs = gf.solve(
        p,
        np.broadcast_to(theta0, (hs.size, 2)),
        ImplicitEuler(),
        stepsize=hs,
        t_final=t_final,
        save="final",
    )
    assert (runs.status == "ok").all()
    errors = np.linalg.norm(runs.theta[0] - ref.theta[0], axis=-1)
    fit = fit_order(hs, errors)
    assert fit.order == pytest.approx(1.0, abs=0.05)


def test_stable_on_rosenbrock_far_beyond_the_explicit_limit():
    # λmax(∇²L) ≈ 1000 near the minimiser: GD needs h < 2e-3; implicit Euler with h = 0.1
    # descends monotonically to the minimiser (1, 1).
    p = rosenbrock()
    theta0 = np.array([[-1.2, 1.0], [0.0, 0.0], [2.0, 2.0]])
    traj = gf.solve(p, theta0, ImplicitEuler(), 0.1, steps=300)
    assert (traj.status == "ok").all()
    assert (np.diff(traj.loss, axis=0) <= 0).all()
    np.testing.assert_allclose(traj.theta[-1], 1.0, atol=1e-3)
    gd = gf.solve(p, theta0, Euler(), 0.1, steps=300, save="final")
    assert (gd.status == "diverged").all()


# ---------------------------------------------------------------------------------------
# per-element failure
# ---------------------------------------------------------------------------------------
def _logcosh_problem() -> Problem:
    """``L(a, b) = log cosh a + ½ b²``: convex, but Newton on ``u + h tanh u = θ`` cycles.

    With ``h = 1000`` and ``a`` not tiny the predictor lands where ``tanh`` is saturated,
    ``J ≈ 1``, and the iterates jump between ``≈ a + 1000`` and ``≈ a - 1000`` forever.
    Rows with ``a = 0`` keep ``a = 0`` exactly and see only the quadratic in ``b``.
    """

    def loss(th):
        th = np.asarray(th)
        return np.logaddexp(th[..., 0], -th[..., 0]) - np.log(2.0) + 0.5 * th[..., 1] ** 2

    def grad(th):
        th = np.asarray(th)
        return np.stack([np.tanh(th[..., 0]), th[..., 1]], axis=-1)

    def hessian(th):
        th = np.asarray(th)
        H = np.zeros((*th.shape, 2))
        H[..., 0, 0] = 1.0 - np.tanh(th[..., 0]) ** 2
        H[..., 1, 1] = 1.0
        return H

    return Problem(loss, grad, dim=2, hessian=hessian, name="logcosh")


def test_newton_failure_is_reported_per_element():
    p = _logcosh_problem()
    theta0 = np.array([[1.0, 1.0], [0.0, 2.0], [-2.0, 0.5], [0.0, -1.0]])
    fails, fine = [0, 2], [1, 3]

    def schedule(k: int) -> float:
        return 0.1 if k < 5 else 1000.0

    traj = gf.solve(p, theta0, ImplicitEuler(), schedule, steps=8)
    assert traj.status.tolist() == ["failed", "ok", "failed", "ok"]
    np.testing.assert_array_equal(traj.n_steps, [5, 8, 5, 8])
    # The failed rows keep their last good state: the state after 5 steps, bit for bit.
    five = gf.solve(p, theta0, ImplicitEuler(), schedule, steps=5, save="final")
    assert (five.status == "ok").all()
    np.testing.assert_array_equal(traj.theta[-1, fails], five.theta[-1, fails])
    np.testing.assert_array_equal(traj.t[-1, fails], five.t[-1, fails])
    # A failed step used all 50 iterations: 5 good steps plus 1 + 50 gradients.
    np.testing.assert_array_equal(traj.n_grad[fails], five.n_grad[fails] + 51)
    # The others are unaffected: bit for bit what they do alone.
    alone = gf.solve(p, theta0[fine], ImplicitEuler(), schedule, steps=8)
    np.testing.assert_array_equal(traj.theta[:, fine], alone.theta)
    np.testing.assert_array_equal(traj.n_grad[fine], alone.n_grad)
    # And they are right: a stays 0, b shrinks by 1/(1 + h) per step.
    expected_b = theta0[fine, 1] / (1.1**5 * 1001.0**3)
    np.testing.assert_allclose(traj.theta[-1, fine, 1], expected_b, rtol=1e-12)
    np.testing.assert_array_equal(traj.theta[-1, fine, 0], 0.0)


def test_singular_jacobian_is_reported_per_element():
    # L = ½(-a² + b²): J = I + h diag(-1, 1) is exactly singular at h = 1.
    p = quadratic(A=np.diag([-1.0, 1.0]))
    theta0 = np.array([[1.0, 1.0], [0.5, -1.0], [-1.0, 2.0]])
    hs = np.array([0.5, 1.0, 0.25])
    step = ImplicitEuler().step(p, ImplicitEuler().init(p, theta0), hs[:, None])
    np.testing.assert_array_equal(step.failed, [False, True, False])
    traj = gf.solve(p, theta0, ImplicitEuler(), hs, steps=6, save="final")
    assert traj.status.tolist() == ["ok", "failed", "ok"]
    np.testing.assert_array_equal(traj.theta[-1, 1], theta0[1])
    assert traj.n_steps[1] == 0
    for i in (0, 2):
        h = hs[i]
        expected = theta0[i] / np.array([1.0 - h, 1.0 + h]) ** 6
        np.testing.assert_allclose(traj.theta[-1, i], expected, rtol=1e-13)
    alone = gf.solve(p, theta0[[0, 2]], ImplicitEuler(), hs[[0, 2]], steps=6, save="final")
    np.testing.assert_array_equal(traj.theta[-1, [0, 2]], alone.theta[-1])


def test_one_newton_iteration_converges_only_where_the_predictor_is_exact():
    # max_iter = 1: convergence needs ‖Δu‖ <= tol(1 + ‖u‖) on the first correction,
    # which holds only where the Euler predictor already solves the equation (at θ*).
    rng = np.random.default_rng(3)
    p = quadratic([1.0, 4.0], b=rng.normal(size=2), seed=2)
    star = p.minimizers[0]
    theta0 = np.array([star, star + 1.0, star, star - 0.5])
    traj = gf.solve(p, theta0, ImplicitEuler(max_iter=1), 0.5, steps=3, save="final")
    assert traj.status.tolist() == ["ok", "failed", "ok", "failed"]
    np.testing.assert_array_equal(traj.n_steps, [3, 0, 3, 0])
    np.testing.assert_array_equal(traj.theta[-1, [1, 3]], theta0[[1, 3]])
    np.testing.assert_allclose(traj.theta[-1, [0, 2]], star[None, :].repeat(2, 0), atol=1e-14)


# ---------------------------------------------------------------------------------------
# dtype, stability function, arguments
# ---------------------------------------------------------------------------------------
def test_float32_stays_float32():
    p = quadratic([1.0, 100.0], seed=0)
    theta0 = np.ones((2, 2), dtype=np.float32)
    traj = gf.solve(p, theta0, ImplicitEuler(), 0.5, steps=5, save="final")
    assert traj.theta.dtype == np.float32 and (traj.status == "ok").all()
    np.testing.assert_allclose(
        traj.theta[-1], _closed_form(p, theta0.astype(float), 0.5, 5), rtol=1e-5, atol=1e-6
    )


def test_amplification_matrix_is_one_over_one_minus_z():
    import sympy as sp

    z = sp.Symbol("z")
    M = ImplicitEuler().amplification_matrix()
    assert M.shape == (1, 1) and sp.simplify(M[0, 0] - 1 / (1 - z)) == 0
    r = sp.lambdify(z, M[0, 0], modules="numpy")
    x = np.geomspace(1e-6, 1e8, 200)
    assert (np.abs(r(-x)) < 1.0).all()  # stable on the whole negative axis: limit ∞


@pytest.mark.parametrize(
    ("kwargs", "name", "error"),
    [
        ({"tol": 0.0}, "tol", ValueError),
        ({"tol": -1e-8}, "tol", ValueError),
        ({"tol": float("nan")}, "tol", ValueError),
        ({"tol": "1e-8"}, "tol", TypeError),
        ({"max_iter": 0}, "max_iter", ValueError),
        ({"max_iter": 2.5}, "max_iter", TypeError),
        ({"max_iter": True}, "max_iter", TypeError),
    ],
)
def test_bad_arguments_raise(kwargs, name, error):
    with pytest.raises(error, match=name):
        ImplicitEuler(**kwargs)


def test_metadata():
    m = ImplicitEuler()
    assert m.order == 1 and m.checks_every_step and m.init_grads == 0
    assert (m.tol, m.max_iter) == (1e-12, 50)
