"""Heavy ball, Nesterov momentum and Nesterov's AGD: recurrences, ODE limits, stability.

Expected values come from hand-written recurrences, scipy ``solve_ivp`` solutions of the
limiting ODEs, Bessel functions, and the closed-form stability limits
``2(1 + β)``, ``(2 + 2β)/(1 + 2β)`` and ``4/3``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import brentq
from scipy.special import j1

import gradflow as gf
from gradflow.analysis import fit_order
from gradflow.methods import HeavyBall, Nesterov, NesterovAGD
from gradflow.problems import himmelblau, quadratic


# ---------------------------------------------------------------------------------------
# the recurrences, bit for bit
# ---------------------------------------------------------------------------------------
def _loop(kind: str, beta: float, grad, theta0: np.ndarray, h: np.ndarray, n: int):
    """The textbook recurrences, one row per batch element, all states kept."""
    out = [theta0]
    theta = theta0
    if kind == "heavy_ball":
        prev = theta0
        for _ in range(n):
            theta, prev = theta - h * grad(theta) + beta * (theta - prev), theta
            out.append(theta)
    elif kind == "nesterov":
        v = np.zeros_like(theta0)
        for _ in range(n):
            g = grad(theta)
            v = beta * v + g
            theta = theta - h * (g + beta * v)
            out.append(theta)
    else:  # Su-Boyd-Candès AGD, k = 1, 2, ...
        x_prev, y = theta0, theta0
        for k in range(1, n + 1):
            x = y - h * grad(y)
            y = x + (k - 1) / (k + 2) * (x - x_prev)
            x_prev = x
            out.append(x)
    return np.stack(out)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    ("kind", "method"),
    [
        ("heavy_ball", HeavyBall(0.8)),
        ("nesterov", Nesterov(0.7)),
        ("agd", NesterovAGD()),
    ],
)
def test_matches_hand_written_recurrence_bit_for_bit(kind, method, dtype):
    rng = np.random.default_rng(1)
    p = quadratic([0.3, 2.0, 5.0], b=rng.normal(size=3), seed=2)
    hs = np.array([0.01, 0.05, 0.15])
    theta0 = rng.normal(size=(3, 4, 3)).astype(dtype)
    n = 60
    traj = gf.solve(p, theta0, method, hs[:, None], steps=n)
    assert traj.theta.dtype == dtype and (traj.status == "ok").all()
    h_rows = np.repeat(hs, 4)[:, None].astype(dtype)
    beta = getattr(method, "beta", 0.0)
    # The problem's own gradient: the recurrence is under test, not the matrix product.
    expected = _loop(kind, beta, p.grad, theta0.reshape(12, 3), h_rows, n)
    assert expected.dtype == dtype
    np.testing.assert_array_equal(traj.theta.reshape(n + 1, 12, 3), expected)
    np.testing.assert_array_equal(traj.n_grad, n)


@pytest.mark.parametrize("method", [HeavyBall(0.9), Nesterov(0.9), NesterovAGD()])
def test_step_leaves_the_old_state_untouched(method):
    p = quadratic([1.0, 3.0], seed=0)
    state = method.init(p, np.ones((2, 2)))
    state = method.step(p, state, np.array([0.1])).state
    copies = [np.array(f, copy=True) for f in state]
    result = method.step(p, state, np.array([[0.1], [0.2]]))
    for old, copy in zip(state, copies, strict=True):
        np.testing.assert_array_equal(old, copy)
    assert result.n_grad == 1 and result.failed is None and result.error is None
    assert all(f.shape[0] == 2 for f in result.state)


def test_agd_step_counter_survives_compaction():
    # Rows that diverge are dropped from the state mid-run; the per-row counter k must
    # travel with its row, so the survivors equal runs of them alone bit for bit.
    p = quadratic([1.0, 10.0], seed=4)
    rng = np.random.default_rng(5)
    theta0 = rng.normal(size=(4, 2))
    hs = np.array([0.05, 0.2, 0.12, 0.3])  # 4/3 / 10 = 0.1333: rows 1 and 3 diverge
    batch = gf.solve(p, theta0, NesterovAGD(), hs, steps=3000, save="final")
    assert batch.status.tolist() == ["ok", "diverged", "ok", "diverged"]
    alone = gf.solve(p, theta0[[0, 2]], NesterovAGD(), hs[[0, 2]], steps=3000, save="final")
    np.testing.assert_array_equal(batch.theta[-1, [0, 2]], alone.theta[-1])


# ---------------------------------------------------------------------------------------
# limits h -> 0
# ---------------------------------------------------------------------------------------
X0 = np.array([[0.0, 0.0], [1.0, -1.0]])  # Himmelblau: λmax(∇²L) ≈ 82 on the paths


def _second_order_reference(problem, x0, damping, t_end, t_start=0.0, v0=None):
    """``X'' + damping(t) X' + ∇L(X) = 0`` by DOP853 at rtol = atol = 1e-12."""
    n = x0.size
    shape = x0.shape

    def rhs(t, y):
        x, v = y[:n].reshape(shape), y[n:].reshape(shape)
        return np.concatenate([v.ravel(), (-damping(t) * v - problem.grad(x)).ravel()])

    v0 = np.zeros(n) if v0 is None else v0.ravel()
    sol = solve_ivp(
        rhs,
        (t_start, t_end),
        np.concatenate([x0.ravel(), v0]),
        method="DOP853",
        rtol=1e-12,
        atol=1e-12,
    )
    assert sol.success
    return sol.y[:n, -1].reshape(shape)


@pytest.mark.parametrize("cls", [HeavyBall, Nesterov])
def test_converges_to_the_damped_second_order_ode(cls):
    # β = 1 - γ√h, k = T/√h steps: θ_k -> X(T) with X'' + γX' + ∇L = 0, X'(0) = 0 (the
    # first step's velocity -√h ∇L(θ0) vanishes in the limit).  The backward difference
    # for X' makes the error O(√h); Nesterov's gradient correction is O(√h) as well.
    p = himmelblau()
    gamma, t_end = 2.0, 1.0
    ref = _second_order_reference(p, X0, lambda t: gamma, t_end)
    ns = 2 ** np.arange(8, 13)
    sqrt_h = t_end / ns
    errors = []
    for n, r in zip(ns, sqrt_h, strict=True):
        traj = gf.solve(p, X0, cls(1.0 - gamma * r), r * r, steps=int(n), save="final")
        errors.append(np.abs(traj.theta[-1] - ref).max())
    fit = fit_order(sqrt_h, errors)
    assert fit.order == pytest.approx(1.0, abs=0.05)
    assert errors[-1] < 1e-2  # measured: 1.3e-3 (heavy ball), 5.1e-3 (Nesterov)


@pytest.mark.parametrize(
    ("cls", "beta"), [(HeavyBall, 0.5), (HeavyBall, 0.9), (Nesterov, 0.5), (Nesterov, 0.9)]
)
def test_fixed_beta_approaches_the_rescaled_gradient_flow(cls, beta):
    # θ_k ≈ gradient flow at time τ = k h/(1 - β), error O(h).
    p = himmelblau()
    tau = 0.05
    ref = gf.reference.gradient_flow(p, X0, [tau]).theta[-1]
    ks = 2 ** np.arange(9, 14)
    hs = tau * (1.0 - beta) / ks
    errors = []
    for k, h in zip(ks, hs, strict=True):
        traj = gf.solve(p, X0, cls(beta), h, steps=int(k), save="final")
        errors.append(np.abs(traj.theta[-1] - ref).max())
    fit = fit_order(hs, errors)
    assert fit.order == pytest.approx(1.0, abs=0.05)


def test_agd_matches_the_bessel_solution_on_a_scalar_quadratic():
    # f = ½λx²: X(t) = 2 x0 J1(√λ t)/(√λ t), compared at t = k√s = T.
    lam, t_end = 2.0, 5.0
    p = quadratic(A=[[lam]])
    x0 = np.array([[1.0], [-0.5]])
    exact = 2.0 * x0[:, 0] * j1(np.sqrt(lam) * t_end) / (np.sqrt(lam) * t_end)
    ns = 2 ** np.arange(8, 14)
    sqrt_s = t_end / ns
    errors = []
    for n, r in zip(ns, sqrt_s, strict=True):
        traj = gf.solve(p, x0, NesterovAGD(), r * r, steps=int(n), save="final")
        errors.append(np.abs(traj.theta[-1, :, 0] - exact).max())
    fit = fit_order(sqrt_s, errors)
    assert fit.order == pytest.approx(1.0, abs=0.05)
    assert errors[-1] < 1e-3


def test_agd_matches_the_su_boyd_candes_ode_on_himmelblau():
    # X'' + (3/t)X' + ∇f(X) = 0 from t0 = 1e-3 with the series X ≈ x0 - t²∇f(x0)/8
    # (error O(t0⁴)), avoiding the singular damping at t = 0.
    p = himmelblau()
    t0, t_end = 1e-3, 0.5
    g0 = p.grad(X0)
    ref = _second_order_reference(
        p, X0 - t0**2 * g0 / 8.0, lambda t: 3.0 / t, t_end, t_start=t0, v0=-t0 * g0 / 4.0
    )
    ns = 2 ** np.arange(8, 14)
    sqrt_s = t_end / ns
    errors = []
    for n, r in zip(ns, sqrt_s, strict=True):
        traj = gf.solve(p, X0, NesterovAGD(), r * r, steps=int(n), save="final")
        errors.append(np.abs(traj.theta[-1] - ref).max())
    fit = fit_order(sqrt_s, errors)
    assert fit.order == pytest.approx(1.0, abs=0.05)


# ---------------------------------------------------------------------------------------
# linear stability
# ---------------------------------------------------------------------------------------
STABILITY_CASES = [
    (HeavyBall(0.0), 2.0),
    (HeavyBall(0.5), 3.0),
    (HeavyBall(0.9), 3.8),
    (Nesterov(0.5), 3.0 / 2.0),
    (Nesterov(0.9), 3.8 / 2.8),
    (NesterovAGD(), 4.0 / 3.0),
]
SPECTRUM = [0.5, 3.0, 10.0]
LAMBDA_MAX = 10.0
#: Near the limit the top mode grows by only |ζ| ≈ 1.02 per step at 1.01× the limit
#: (gradient descent, β = 0), so reaching overflow would take ~36 000 steps.  An element
#: instead counts as diverged when ‖θ‖ leaves a ball 1e6 times its start (~700 steps at
#: that rate); stable runs contract and never come near it.
BALL = 1e6


def _starts(n: int = 8) -> np.ndarray:
    return np.random.default_rng(7).normal(size=(n, len(SPECTRUM)))


def _run(method, theta0, hs, steps):
    p = quadratic(SPECTRUM, seed=3)
    ball = BALL * np.linalg.norm(theta0, axis=-1).max()
    batch = np.broadcast_to(theta0, (hs.size, *theta0.shape))
    return gf.solve(p, batch, method, hs[:, None], steps=steps, save="final", divergence_norm=ball)


@pytest.mark.parametrize(("method", "limit"), STABILITY_CASES, ids=lambda v: str(v))
def test_stable_below_and_divergent_above_the_closed_form_limit(method, limit):
    theta0 = _starts()
    hs = np.array([0.99, 1.01]) * limit / LAMBDA_MAX
    traj = _run(method, theta0, hs, 20_000)
    assert (traj.status[0] == "ok").all()
    assert (np.linalg.norm(traj.theta[-1, 0], axis=-1) < np.linalg.norm(theta0, axis=-1)).all()
    assert (traj.status[1] == "diverged").all()


@pytest.mark.parametrize(("method", "limit"), STABILITY_CASES, ids=lambda v: str(v))
def test_batched_bisection_finds_the_threshold(method, limit):
    # Each round runs 17 candidate steps in one solve and keeps the bracket between the
    # largest stable and the smallest divergent one.  A step a relative δ above the limit
    # needs ~log(1e6)/(cδ) steps to leave the ball, so 6000 steps resolve δ ≈ 1e-3.
    theta0 = _starts(4)
    predicted = limit / LAMBDA_MAX
    lo, hi = 0.9 * predicted, 1.1 * predicted
    for _ in range(3):
        hs = np.linspace(lo, hi, 17)
        traj = _run(method, theta0, hs, 6000)
        diverged = (traj.status == "diverged").any(axis=1)
        assert not diverged[0] and diverged[-1]
        first = int(np.argmax(diverged))
        assert diverged[first:].all()  # monotone in h
        lo, hi = hs[first - 1], hs[first]
    assert abs(hi / predicted - 1.0) < 0.01
    assert abs(lo / predicted - 1.0) < 0.01


def _spectral_radius(method):
    import sympy as sp

    entries = sp.lambdify(sp.Symbol("z"), method.amplification_matrix(), modules="numpy")

    def rho(x: float) -> float:
        return float(np.abs(np.linalg.eigvals(np.array(entries(-x), dtype=float))).max())

    return rho


@pytest.mark.parametrize(("method", "limit"), STABILITY_CASES, ids=lambda v: str(v))
def test_amplification_matrix_spectral_radius_crosses_one_at_the_limit(method, limit):
    rho = _spectral_radius(method)
    xs = np.linspace(0.01, 0.999 * limit, 200)
    assert max(rho(x) for x in xs) < 1.0
    root = brentq(lambda x: rho(x) - 1.0, 0.999 * limit, 1.1 * limit, xtol=1e-13)
    assert root == pytest.approx(limit, abs=1e-9)


@pytest.mark.parametrize("cls", [HeavyBall, Nesterov])
def test_amplification_matrix_is_the_step_on_a_scalar_quadratic(cls):
    import sympy as sp

    mu, h, beta = 3.0, 0.2, 0.7
    p = quadratic(A=[[mu]])
    method = cls(beta)
    state = method.init(p, np.array([[1.0]]))
    state = method.step(p, state, np.array([h])).state
    new = method.step(p, state, np.array([h])).state
    M = np.array(method.amplification_matrix().subs(sp.Symbol("z"), -h * mu), dtype=float)
    if cls is HeavyBall:
        before, after = np.ravel(state), np.ravel(new)  # (θ_k, θ_{k-1})
    else:  # the scaled state (θ, h v)
        before = np.array([state.theta[0, 0], h * state.v[0, 0]])
        after = np.array([new.theta[0, 0], h * new.v[0, 0]])
    np.testing.assert_allclose(M @ before, after, rtol=1e-14)


# ---------------------------------------------------------------------------------------
# arguments and metadata
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [HeavyBall, Nesterov])
@pytest.mark.parametrize(
    ("beta", "error"),
    [
        (-0.1, ValueError),
        (1.0, ValueError),
        (1.5, ValueError),
        (float("nan"), ValueError),
        ("0.5", TypeError),
        (True, TypeError),
    ],
)
def test_bad_beta_raises(cls, beta, error):
    with pytest.raises(error, match="beta"):
        cls(beta)


def test_metadata():
    for m in (HeavyBall(), Nesterov(), NesterovAGD()):
        assert m.order == 1 and m.grads_per_step == 1 and m.init_grads == 0
        assert m.amplification_matrix().shape == (2, 2)
    assert HeavyBall().beta == 0.9 and Nesterov(0.0).beta == 0.0
    assert "γ" in HeavyBall.ode and "3/t" in NesterovAGD.ode
