"""The default divergence rule on every zoo problem: slow blow-ups caught, convergence not.

Around a minimiser θ*, a step just past a method's stability limit β/λmax grows the
perturbation along the top Hessian eigenvector by a factor slightly above 1 a step; just
below it, the run converges.  On a linear gradient (quadratic, least squares) the growth
goes on forever and must be flagged; on a nonlinear problem it may saturate into a
bounded orbit, which is not a divergence, but no element may then end 'ok' past the
blow-up threshold.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import gradflow as gf

GROWTH = 1e8  # the documented threshold: 10^8 × max(‖θ0‖_∞, 1)
P = gf.problems
RNG = np.random.default_rng(0)
_X = RNG.normal(size=(30, 3))

PROBLEMS = {
    "quadratic": P.quadratic([1.0, 4.0, 10.0], seed=0),
    "rosenbrock": P.rosenbrock(),
    "muller_brown": P.muller_brown(),
    "himmelblau": P.himmelblau(),
    "beale": P.beale(),
    "least_squares": P.least_squares(_X, _X @ np.array([1.0, -2.0, 0.5])),
    "logistic_regression": P.logistic_regression(_X, (_X[:, 0] > 0).astype(float), l2=0.1),
    "scalar_net": P.scalar_net(),
    "mlp_regression": P.mlp_regression(width=4, n_points=6, degree=2, seed=1),
}
LINEAR = {"quadratic", "least_squares"}
METHODS = {
    "Euler": gf.methods.Euler(),
    "RK4": gf.methods.RungeKutta(gf.methods.RK4),
    "HeavyBall": gf.methods.HeavyBall(0.9),
    "Nesterov": gf.methods.Nesterov(0.9),
}


def _minimiser(name: str, problem) -> np.ndarray:
    known = getattr(problem, "minimizers", None)
    if known is not None and len(known):
        return np.asarray(known[0], dtype=float)
    # No closed form: descend from the problem's start with a small step until the
    # gradient vanishes.
    theta = (
        np.asarray(problem.init(seed=0), dtype=float)
        if hasattr(problem, "init")
        else (np.full(problem.dim, 0.5))
    )
    lam = np.linalg.eigvalsh(problem.hessian(theta)).max()
    traj = gf.solve(problem, theta, stepsize=0.5 / lam, steps=20_000, save="final")
    theta = traj.theta[-1]
    assert np.linalg.norm(problem.grad(theta)) < 1e-7, name
    return theta


MINIMISERS = {name: _minimiser(name, p) for name, p in PROBLEMS.items()}


def _cases() -> list:
    """Every problem × method; RK4 and Nesterov on the nonlinear problems run with the
    slow checks (the quick suite keeps GD and heavy ball on every problem)."""
    out = []
    for name in PROBLEMS:
        for method in METHODS:
            slow = method in ("RK4", "Nesterov") and name not in LINEAR
            marks = [pytest.mark.slow] if slow else []
            out.append(pytest.param(name, method, marks=marks, id=f"{name}-{method}"))
    return out


@pytest.mark.parametrize(("name", "method_name"), _cases())
def test_just_below_converges_and_just_above_is_caught(name, method_name):
    problem, method, star = PROBLEMS[name], METHODS[method_name], MINIMISERS[name]
    H = problem.hessian(star)
    values, vectors = np.linalg.eigh(H)
    assert values.max() > 0
    limit = gf.stability.critical_stepsize(method, values)
    scale = max(1.0, np.abs(star).max())
    theta0 = star + 1e-3 * scale * vectors[:, -1]
    hs = np.array([0.9, 1.005]) * limit
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        traj = gf.solve(problem, np.stack([theta0, theta0]), method, hs, steps=6000, save_every=50)
    # 0.9 × the limit: converges (to θ*, or along a flat valley of minimisers for the
    # networks), never flagged.
    assert traj.status[0] == "ok"
    assert traj.loss[-1, 0] - problem.loss(star) <= 1e-9 * max(1.0, abs(problem.loss(star)))
    if values.min() > 1e-6 * values.max():
        assert np.linalg.norm(traj.theta[-1, 0] - star) <= 1e-3 * scale
    # 1.005 × the limit: a linear gradient grows forever and must be caught; no element
    # may end 'ok' beyond the threshold with a finite state and loss.
    far = np.abs(traj.theta[:, 1]).max() > GROWTH * np.abs(theta0).max()
    if name in LINEAR:
        assert traj.status[1] == "diverged"
    assert not (traj.status[1] == "ok" and far)
    assert np.all(np.isfinite(traj.theta)) and np.all(np.isfinite(traj.loss))


def test_gd_on_a_quadratic_is_caught_at_the_predicted_step():
    # h = 1.005 × 2/λmax on λ = (1, 10): the top mode grows by |1 - 2.01| = 1.01 a step
    # and passes 10^8 × its start (1) at the first k with 1.01^k > 10^8.
    p = P.quadratic([1.0, 10.0], seed=0)
    H = p.hessian(np.zeros(2))
    v = np.linalg.eigh(H)[1][:, -1]
    traj = gf.solve(p, v, stepsize=0.201, steps=20_000, save="final")
    theta, k = v.copy(), 0
    while np.abs(theta).max() <= GROWTH * max(1.0, np.abs(v).max()):
        theta, k = theta - 0.201 * (H @ theta), k + 1
    assert traj.status == "diverged" and int(traj.n_steps) == k - 1
    assert np.abs(traj.theta[-1]).max() < 1e9  # far below the 3e86 reached at 20,000 steps


def test_a_far_minimiser_is_not_a_divergence():
    # The minimiser lies 10^10 away from the start: the state passes 10^8 × the start's
    # scale on its way there, but the loss falls, so it is no blow-up.
    b = np.array([3e10, -1e10])
    p = P.quadratic([1.0, 2.0], b=b, seed=1)
    traj = gf.solve(p, np.zeros(2), stepsize=0.5, steps=200, save="final")
    assert traj.status == "ok"
    np.testing.assert_allclose(traj.theta[-1], p.minimizers[0], rtol=1e-9)


@pytest.mark.parametrize("beta", [0.9, 0.99])
def test_momentum_from_far_starts_converges(beta):
    # Heavy ball from 10^3 away, below its limit: any transient growth is a bounded
    # factor (about 1/(1 - β)), far from the threshold.
    p = P.quadratic([0.01, 1.0], seed=2)
    method = gf.methods.HeavyBall(beta)
    h = 0.9 * gf.stability.critical_stepsize(method, [0.01, 1.0])
    theta0 = np.full(2, 1e3)
    traj = gf.solve(p, theta0, method, h, steps=20_000, save_every=100)
    assert traj.status == "ok"
    assert np.linalg.norm(traj.theta[-1]) < 1e-6 * np.linalg.norm(theta0)


def test_a_saved_non_finite_loss_is_never_ok():
    p = P.rosenbrock()
    traj = gf.solve(p, [1e160, 1e160], stepsize=1e-4, steps=4)
    assert traj.status == "diverged"
    traj = gf.solve(p, [-1.2, 1.0], stepsize=1.0, steps=4)
    assert traj.status == "diverged" and np.all(np.isfinite(traj.loss))


def test_divergence_norm_overrides_the_rule():
    p = P.quadratic([1.0, 10.0], seed=0)
    traj = gf.solve(p, np.ones(2), stepsize=0.201, steps=20_000, save="final", divergence_norm=1e3)
    assert traj.status == "diverged" and np.linalg.norm(traj.theta[-1]) <= 1e3


@pytest.mark.parametrize(
    ("stepsize", "dtype"),
    [
        (gf.schedules.cosine(0.1, 100), np.float64),  # held at 0 past the horizon
        (lambda k: 0.0, np.float64),
        (1e-46, np.float32),  # underflows to 0 in float32
    ],
    ids=["schedule-at-zero", "zero-callable", "float32-underflow"],
)
def test_a_t_final_run_whose_time_stops_advancing_stalls(stepsize, dtype):
    p = P.quadratic([1.0, 10.0], seed=0)
    traj = gf.solve(p, np.ones(2, dtype=dtype), stepsize=stepsize, t_final=100.0)
    assert traj.status == "stalled"
    assert traj.t[-1] < 100.0


def test_stalled_rows_stop_and_the_others_go_on():
    p = P.quadratic([1.0, 10.0], seed=0)
    steps = np.array([0.1, 0.0])

    def sched(k):
        return steps if k < 5 else np.array([0.1, 0.1])

    traj = gf.solve(p, np.ones((2, 2)), stepsize=sched, t_final=1.0, save="final")
    assert traj.status.tolist() == ["ok", "stalled"]
    assert traj.t[-1, 0] == pytest.approx(1.0) and traj.t[-1, 1] == 0.0


def test_a_huge_save_fails_fast_and_says_the_size():
    with pytest.raises(ValueError, match="GiB"):
        gf.solve(P.rosenbrock(), np.zeros(2), stepsize=1e-3, steps=10**12, save="all")
