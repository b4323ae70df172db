"""Sophia against a transcription of Liu et al.'s Algorithm 3 (no PyPI reference).

The reference loop below is the paper's box with the Hessian-vector products, the
Gauss–Newton–Bartlett estimate and the gradients written out with numpy formulas here
(not gradflow's); the random probes and labels are inputs, taken from Sophia's
documented stream (``sophia_uniforms``), whose properties are tested separately.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pytest

import gradflow as gf
from gradflow.methods import Sophia
from gradflow.methods._sophia import sophia_uniforms
from gradflow.problems._minibatch import MinibatchSampler

_RNG = np.random.default_rng(2305)
_X = _RNG.standard_normal((24, 3))
_LABELS = _RNG.integers(0, 2, 24)
_PM = 2.0 * _LABELS - 1.0
_Y = _X @ np.array([1.0, -2.0, 0.5]) + 0.3 * _RNG.standard_normal(24)
_L2 = 0.05
_QUAD = gf.problems.quadratic([1.0, 10.0, 100.0], seed=0)
_A = _QUAD.hessian(np.zeros(3))
_NORMAL = NormalDist()


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# -- the problems by hand: gradient, HVP, GNB estimate ----------------------------------
def _quad_grad(t):
    return _A @ t - _A @ _QUAD.minimizers[0]


def _rosen_grad(t):
    x, y = t
    return np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])


def _rosen_hvp(t, v):
    x, y = t
    H = np.array([[2 - 400 * (y - x * x) + 800 * x * x, -400 * x], [-400 * x, 200.0]])
    return H @ v


def _logit_grad(t, idx=slice(None)):
    x, y = _X[idx], _PM[idx]
    return -(y * _sigmoid(-y * (x @ t))) @ x / len(y) + _L2 * t


def _logit_hvp(t, v, idx=slice(None)):
    x = _X[idx]
    p = _sigmoid(x @ t)
    return (p * (1 - p) * (x @ v)) @ x / len(x) + _L2 * v


def _logit_gnb(t, u, idx=slice(None)):
    """B ĝ² + λ, ĝ the data gradient at labels ŷ = 1 where u < σ(x·θ)."""
    x = _X[idx]
    p = _sigmoid(x @ t)
    g = (p - (u[idx] < p)) @ x / len(x)
    return len(x) * g * g + _L2


def _ls_grad(t):
    return (_X @ t - _Y) @ _X / len(_Y)


def _ls_gnb(t, u):
    xi = np.array([_NORMAL.inv_cdf(float(q)) for q in u])  # Φ⁻¹, independently of scipy
    g = -(xi @ _X) / len(_Y)
    return len(_Y) * g * g


def _paper(grad, estimate, theta0, h, s: Sophia, steps, key=0, index=None):
    """Algorithm 3 of Liu et al. (2023) as a plain loop (0-based t: estimate when
    t mod k = 0; decay θ(1 - ηλ); θ -= η clip(m/max(ρh, ε), 1))."""
    theta = np.array(theta0, dtype=float)
    m = np.zeros_like(theta)
    hess = np.zeros_like(theta)
    out = []
    for t in range(steps):
        idx = slice(None) if index is None else index(t)
        g = grad(theta) if index is None else grad(theta, idx)
        m = s.beta1 * m + (1 - s.beta1) * g
        if t % s.every == 0:
            hess = s.beta2 * hess + (1 - s.beta2) * estimate(theta, t, key, idx)
        theta = theta * (1 - h * s.weight_decay)
        theta = theta - h * np.clip(m / np.maximum(s.rho * hess, s.eps), -1, 1)
        out.append(theta)
    return np.array(out)


def _probe(seed, key, t, d):
    return np.where(sophia_uniforms(seed, np.array([key]), np.array([t]), d)[0] > 0.5, 1.0, -1.0)


def _hutchinson(hvp, seed, d):
    def estimate(theta, t, key, idx):
        u = _probe(seed, key, t, d)
        return u * hvp(theta, u)

    return estimate


HUTCHINSON_CASES = {
    "quadratic": (_QUAD, _quad_grad, lambda t, v: _A @ v, [1.0, -2.0, 0.5], 1e-2),
    "rosenbrock": (gf.problems.rosenbrock(), _rosen_grad, _rosen_hvp, [-1.2, 1.0], 1e-3),
    "logistic_regression": (
        gf.problems.logistic_regression(_X, _LABELS, l2=_L2),
        _logit_grad,
        _logit_hvp,
        [0.3, -0.2, 0.1],
        5e-2,
    ),
}


@pytest.mark.parametrize("name", sorted(HUTCHINSON_CASES))
def test_hutchinson_matches_the_paper_box(name):
    """200 float64 steps, two elements (own streams): the box to 1e-10 relative (sums
    in another order, amplified over 200 steps)."""
    problem, grad, hvp, theta0, h = HUTCHINSON_CASES[name]
    s = Sophia(seed=5, every=3)
    starts = np.array([theta0, 0.5 * np.asarray(theta0)])
    traj = gf.solve(problem, starts, s, h, steps=200)
    for j in range(2):
        ref = _paper(grad, _hutchinson(hvp, 5, problem.dim), starts[j], h, s, 200, key=j)
        np.testing.assert_allclose(traj.theta[1:, j], ref, rtol=1e-10, atol=1e-13)


def test_gnb_matches_the_paper_box_logistic_and_least_squares():
    lr = gf.problems.logistic_regression(_X, _LABELS, l2=_L2)
    ls = gf.problems.least_squares(_X, _Y)
    for problem, grad, gnb in ((lr, _logit_grad, _logit_gnb), (ls, _ls_grad, _ls_gnb)):
        s = Sophia(estimator="gnb", seed=3, every=2, rho=0.05)

        def estimate(theta, t, key, idx, gnb=gnb):
            return gnb(theta, sophia_uniforms(3, np.array([key]), np.array([t]), 24)[0])

        traj = gf.solve(problem, np.array([0.3, -0.2, 0.1]), s, 2e-2, steps=200)
        ref = _paper(grad, estimate, [0.3, -0.2, 0.1], 2e-2, s, 200)
        np.testing.assert_allclose(traj.theta[1:], ref, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("estimator", ["hutchinson", "gnb"])
def test_minibatch_run_matches_the_paper_box(estimator):
    """Under batch_size the gradient, HVP and GNB estimate are the drawn minibatch's."""
    problem = gf.problems.logistic_regression(_X, _LABELS, l2=_L2)
    s = Sophia(estimator=estimator, seed=11, every=2)
    starts = np.array([[0.3, -0.2, 0.1], [-0.1, 0.4, 0.2]])
    traj = gf.solve(problem, starts, s, 3e-2, steps=60, batch_size=6, seed=4)
    sampler = MinibatchSampler(problem, 6, 4, n_elements=2)
    for j in range(2):
        if estimator == "hutchinson":

            def estimate(theta, t, key, idx):
                u = _probe(11, key, t, 3)
                return u * _logit_hvp(theta, u, idx)

        else:

            def estimate(theta, t, key, idx):
                return _logit_gnb(
                    theta, sophia_uniforms(11, np.array([key]), np.array([t]), 24)[0], idx
                )

        ref = _paper(
            _logit_grad,
            estimate,
            starts[j],
            3e-2,
            s,
            60,
            key=j,
            index=lambda t, j=j: sampler.indices(t, np.array([j]))[0],
        )
        np.testing.assert_allclose(traj.theta[1:, j], ref, rtol=1e-10, atol=1e-13)


def test_hvps_are_counted_by_the_driver():
    """Every estimate is one HVP through the driver's counting view (two gradients)."""
    s = Sophia(every=10)
    traj = gf.solve(_QUAD, np.ones((3, 3)), s, 1e-2, steps=50, save="final")
    assert np.all(traj.n_grad == 50 + 2 * 5)


def test_estimators_are_unbiased():
    """Over 4000 independent streams the mean estimate is diag ∇²L (Hutchinson) and the
    Gauss–Newton diagonal plus λ (GNB), within 5 standard errors."""
    lr = gf.problems.logistic_regression(_X, _LABELS, l2=_L2)
    theta = np.broadcast_to(np.array([0.3, -0.2, 0.1]), (4000, 3)).copy()
    hess = lr.hessian(theta[:1])[0]
    for est, expected in (("hutchinson", np.diag(hess)), ("gnb", np.diag(hess))):
        s = Sophia(estimator=est, beta2=0.0)
        h1 = s.step(lr, s.init(lr, theta), np.array([1e-3])).state.hess
        se = h1.std(axis=0) / np.sqrt(len(h1))
        assert np.all(np.abs(h1.mean(axis=0) - expected) < 5 * se + 1e-12), est
    # On a diagonal Hessian Hutchinson's estimate is exact (u² = 1).
    p = gf.problems.quadratic(A=np.diag([2.0, 30.0]))
    s = Sophia(beta2=0.0)
    h1 = s.step(p, s.init(p, np.ones((5, 2))), np.array([1e-3])).state.hess
    np.testing.assert_array_equal(h1, np.broadcast_to([2.0, 30.0], (5, 2)))


def test_stream_is_uniform_and_per_element():
    u = sophia_uniforms(0, np.arange(200), np.full(200, 7), 500)
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / u.size)
    assert abs(np.corrcoef(u[0], u[1])[0, 1]) < 0.2
    assert not np.array_equal(u, sophia_uniforms(1, np.arange(200), np.full(200, 7), 500))
    assert not np.array_equal(u, sophia_uniforms(0, np.arange(200), np.full(200, 8), 500))
    np.testing.assert_array_equal(u[5:6], sophia_uniforms(0, np.array([5]), np.array([7]), 500))


def test_same_seed_same_bits_batch_equals_single_float32():
    p = gf.problems.logistic_regression(_X, _LABELS, l2=_L2)
    starts = _RNG.standard_normal((4, 3))
    s = Sophia(every=2)
    a = gf.solve(p, starts, s, 1e-2, steps=30, save="final")
    b = gf.solve(p, starts, s, 1e-2, steps=30, save="final")
    assert np.array_equal(a.theta, b.theta)
    alone = gf.solve(p, starts[0], s, 1e-2, steps=30, save="final")
    assert np.array_equal(alone.theta[-1], a.theta[-1, 0])
    other = gf.solve(p, starts, Sophia(every=2, seed=1), 1e-2, steps=30, save="final")
    assert not np.array_equal(other.theta, a.theta)
    f32 = gf.solve(p, starts.astype(np.float32), s, 1e-2, steps=30, save="final")
    assert f32.theta.dtype == np.float32 and np.isfinite(f32.theta).all()


def test_rows_due_at_different_steps_estimate_alone():
    """Rows whose counters differ: only the due rows estimate (via problem.restrict),
    each row as if stepped alone."""
    s = Sophia(every=2, beta2=0.5)
    state = s.init(_QUAD, np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]]))
    state = state._replace(k=np.array([2, 3]), hess=np.ones((2, 3)), key=np.array([4, 9]))
    both = s.step(_QUAD, state, np.array([1e-2])).state
    for r in range(2):
        one = s.step(_QUAD, type(state)(*(f[r : r + 1] for f in state)), np.array([1e-2]))
        np.testing.assert_array_equal(one.state.theta[0], both.theta[r])
    assert np.array_equal(both.hess[1], np.ones(3))


def test_the_linear_limit_by_bisection():
    """Unclipped, exact diagonal (β2 = 0, every step), λ = 0: a tiny start grows after
    400 steps exactly when h/ρ > 2(1 + β1)/(1 - β1).  Located by bisection, vectorised:
    each round runs a batch of 16 step sizes spanning the bracket and keeps the
    sub-interval where growth starts."""
    b1, rho = 0.9, 0.04
    p = gf.problems.quadratic(A=np.diag([3.0]))
    s = Sophia(beta1=b1, beta2=0.0, rho=rho, weight_decay=0.0, every=1)
    limit = 2 * rho * (1 + b1) / (1 - b1)
    lo, hi = 0.5 * limit, 2 * limit
    for _ in range(3):
        hs = np.linspace(lo, hi, 16)
        theta0 = np.full((16, 1), 1e-9)  # |m|/(ρH) << 1: the clipping stays off
        traj = gf.solve(p, theta0, s, hs, steps=400, save="final")
        grows = np.abs(traj.theta[-1, :, 0]) > 1e-9
        assert not grows[0] and grows[-1]
        first = int(np.argmax(grows))
        assert grows[first:].all()  # one threshold: growth from there on
        lo, hi = hs[first - 1], hs[first]
    assert hi == pytest.approx(limit, rel=2e-3)


def test_clipping_bounds_each_step_by_h():
    p = gf.problems.rosenbrock()
    s = Sophia(weight_decay=0.0)
    traj = gf.solve(p, np.array([-1.2, 1.0]), s, 0.05, steps=50)
    assert np.abs(np.diff(traj.theta, axis=0)).max() <= 0.05 * (1 + 1e-12)


def test_effective_stepsize():
    s = Sophia(every=2, weight_decay=0.0)
    state = s.init(_QUAD, np.array([[1.0, -2.0, 0.5], [0.1, 0.2, 0.3]]))
    g = _QUAD.grad(state.theta)
    with pytest.raises(TypeError, match="curvature"):
        s.next_effective_stepsize(state, 1e-2, g)
    state = s.step(_QUAD, state, np.asarray(1e-2)).state  # k = 1: the next is not due
    g = _QUAD.grad(state.theta)
    got = s.next_effective_stepsize(state, 1e-2, g)
    new = s.step(_QUAD, state, np.asarray(1e-2)).state
    np.testing.assert_allclose(got, (state.theta - new.theta) / new.m, rtol=1e-10)


def test_gnb_needs_the_problem_hook():
    with pytest.raises(TypeError, match="gauss_newton_bartlett"):
        gf.solve(gf.problems.rosenbrock(), np.zeros(2), Sophia(estimator="gnb"), 1e-3, steps=2)


@pytest.mark.parametrize(
    ("kwargs", "exc", "word"),
    [
        ({"beta1": 1.0}, ValueError, "beta1"),
        ({"beta2": -0.5}, ValueError, "beta2"),
        ({"rho": 0.0}, ValueError, "rho"),
        ({"eps": -1.0}, ValueError, "eps"),
        ({"weight_decay": -0.1}, ValueError, "weight_decay"),
        ({"every": 0}, ValueError, "every"),
        ({"every": 1.5}, TypeError, "every"),
        ({"estimator": "newton"}, ValueError, "estimator"),
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": 1.0}, TypeError, "seed"),
    ],
)
def test_bad_arguments(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        Sophia(**kwargs)


def test_no_amplification_matrix():
    with pytest.raises(NotImplementedError, match="Sophia"):
        Sophia().amplification_matrix()


def test_order_one_towards_the_diagonal_newton_flow():
    """Unclipped on a diagonal quadratic with the exact estimate (β2 = 0, every step) and
    λ = 0 the flow is dθ/dt = -θ/ρ in every coordinate: θ0 e^{-t/ρ}, reached at order 1
    (the momentum's lag is O(h))."""
    p = gf.problems.quadratic(A=np.diag([2.0, 30.0]))
    rho, t_end = 0.04, 0.04
    theta0 = np.array([1e-3, -2e-3])  # |m|/(ρH) = |θ|/ρ < 1: no clipping
    s = Sophia(beta1=0.5, beta2=0.0, rho=rho, weight_decay=0.0, every=1)
    ks = 2 ** np.arange(6, 10)
    errors = []
    for k in ks:
        traj = gf.solve(p, theta0, s, t_end / k, steps=int(k), save="final")
        errors.append(np.abs(traj.theta[-1] - theta0 * np.exp(-t_end / rho)).max())
    assert gf.analysis.fit_order(t_end / ks, errors).order == pytest.approx(1.0, abs=0.05)
