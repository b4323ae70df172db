"""SPS_max against a transcription of Loizou et al.'s box, on the drawn minibatches.

The reference loop below is the paper's SPS_max written out with numpy formulas of the
minibatch loss and gradient (not gradflow's), on the index sets the driver draws (a
documented pure function of seed, step and element: ``MinibatchSampler.indices``).
"""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
from gradflow.methods import SPS
from gradflow.problems._minibatch import MinibatchSampler

_RNG = np.random.default_rng(2021)
_X = _RNG.standard_normal((40, 4))
_Y_LS = _X @ _RNG.standard_normal(4) + 0.1 * _RNG.standard_normal(40)
_LABELS = _RNG.integers(0, 2, 40)
_PM = 2.0 * _LABELS - 1.0  # labels as ±1


def _logistic_fg(theta, idx, l2):
    """Minibatch logistic loss and gradient, by hand: (1/B) Σ log(1 + e^{-y x·θ}) + ½λ‖θ‖²."""
    x, y = _X[idx], _PM[idx]
    m = y * (x @ theta)
    f = np.mean(np.log1p(np.exp(-m))) + 0.5 * l2 * theta @ theta
    g = -(y / (1.0 + np.exp(m))) @ x / len(idx) + l2 * theta
    return f, g


def _ls_fg(theta, idx):
    x, y = _X[idx], _Y_LS[idx]
    r = x @ theta - y
    return 0.5 * np.mean(r * r), r @ x / len(idx)


def _paper_sps_max(fg, theta0, gamma_b, c, f_star, steps, index_of_step):
    """Loizou et al. (2021), SPS_max: γ = min((f_i - f_i*)/(c‖∇f_i‖²), γ_b); x -= γ ∇f_i."""
    theta, out = np.array(theta0, dtype=float), []
    for k in range(steps):
        f, g = fg(theta, index_of_step(k))
        gamma = min((f - f_star) / (c * (g @ g)), gamma_b)
        theta = theta - gamma * g
        out.append(theta)
    return np.array(out)


@pytest.mark.parametrize(
    ("name", "c", "gamma_b"), [("logistic", 0.5, 5.0), ("least_squares", 0.2, 1.0)]
)
def test_matches_the_paper_on_drawn_minibatches(name, c, gamma_b):
    """Several elements with their own minibatches: each equals the paper's loop to 1e-11
    (the two differ only in the order of the sums, amplified mildly over 60 steps)."""
    if name == "logistic":
        p, fg = (
            gf.problems.logistic_regression(_X, _LABELS, l2=1e-2),
            (lambda t, i: _logistic_fg(t, i, 1e-2)),
        )
    else:
        p, fg = gf.problems.least_squares(_X, _Y_LS), _ls_fg
    starts = _RNG.standard_normal((3, 4))
    traj = gf.solve(p, starts, SPS(c=c), gamma_b, steps=60, batch_size=5, seed=7)
    sampler = MinibatchSampler(p, 5, 7, n_elements=3)
    for j in range(3):
        ref = _paper_sps_max(
            fg, starts[j], gamma_b, c, 0.0, 60, lambda k, j=j: sampler.indices(k, np.array([j]))[0]
        )
        np.testing.assert_allclose(traj.theta[1:, j], ref, rtol=1e-11, atol=1e-13)


def test_full_batch_is_the_capped_polyak_step():
    """Without batch_size the sample is everything: f_i = L, the cap is h."""
    p = gf.problems.quadratic([1.0, 10.0], seed=0)
    theta0 = np.array([1.0, -2.0])
    traj = gf.solve(p, theta0, SPS(c=0.5, f_star=p.minimum), 0.15, steps=30)
    theta = theta0.copy()
    for k in range(30):
        g = p.grad(theta[None])[0]
        gap = float(p.loss(theta[None])[0]) - p.minimum
        theta = theta - min(gap / (0.5 * g @ g), 0.15) * g
        np.testing.assert_allclose(traj.theta[k + 1], theta, rtol=1e-12, atol=1e-15)


def test_uses_the_minibatch_loss_not_the_full_loss():
    """The step is built from f_i of the drawn batch: against a loop that used the full
    loss with the minibatch gradient, the trajectories differ."""
    p = gf.problems.logistic_regression(_X, _LABELS)
    theta0 = np.array([0.5, -0.5, 0.2, 0.1])
    traj = gf.solve(p, theta0, SPS(), 10.0, steps=5, batch_size=3, seed=1, save="final")
    sampler = MinibatchSampler(p, 3, 1, n_elements=1)
    theta = theta0.copy()
    for k in range(5):
        idx = sampler.indices(k, np.array([0]))[0]
        g = _logistic_fg(theta, idx, 0.0)[1]
        f_full = float(p.loss(theta[None])[0])
        theta = theta - min(f_full / (0.5 * g @ g), 10.0) * g
    assert not np.allclose(traj.theta[-1, 0], theta, rtol=1e-6)


def test_the_stability_threshold_in_c_is_one_quarter():
    """On ½μθ² with a cap far above 2/μ the iteration is θ ← (1 - 1/(2c))θ: a bisection
    on c (after 100 steps |θ| has shrunk, or not) finds 1/4."""
    mu = 4.0
    p = gf.problems.quadratic([mu], seed=0)

    def converges(c):
        traj = gf.solve(p, np.ones(1), SPS(c=c), 1e3, steps=100, save="final")
        return traj.status[()] == "ok" and abs(traj.theta[-1, 0]) < 1.0

    lo, hi = 0.1, 0.5
    assert not converges(lo) and converges(hi)
    for _ in range(20):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if converges(mid) else (mid, hi)
    assert hi == pytest.approx(0.25, abs=1e-5)


def test_batch_equals_single_float32_and_effective_step():
    p = gf.problems.least_squares(_X, _Y_LS)
    starts = _RNG.standard_normal((4, 4))
    batch = gf.solve(p, starts, SPS(), 1.0, steps=20, batch_size=6, seed=3, save="final")
    alone = gf.solve(p, starts[0], SPS(), 1.0, steps=20, batch_size=6, seed=3, save="final")
    assert np.array_equal(alone.theta[-1], batch.theta[-1, 0])
    f32 = gf.solve(p, starts.astype(np.float32), SPS(), 1.0, steps=20, batch_size=6, seed=3)
    assert f32.theta.dtype == np.float32 and np.isfinite(f32.theta).all()
    sps = SPS()
    state = sps.init(p, starts)
    assert np.isnan(sps.effective_stepsize(state, 1.0)).all()
    new = sps.step(p, state, np.array([1.0])).state
    g = p.grad(starts)
    np.testing.assert_allclose(sps.effective_stepsize(new, 1.0) * g, starts - new.theta)
    with pytest.raises(TypeError, match="sampled loss"):
        sps.next_effective_stepsize(state, 1.0, g)


def test_minibatch_without_a_loss_hook_is_a_type_error():
    p = gf.problems.mlp_regression(width=3, n_points=8, degree=2, seed=0)
    if callable(getattr(p, "minibatch_loss", None)):
        pytest.skip("mlp_regression has minibatch_loss")
    with pytest.raises(TypeError, match="minibatch_loss"):
        gf.solve(p, p.init(seed=0), SPS(), 0.1, steps=2, batch_size=2, seed=0)


@pytest.mark.parametrize(
    ("kwargs", "exc", "word"),
    [
        ({"c": 0.0}, ValueError, "c"),
        ({"c": "a"}, TypeError, "c"),
        ({"f_star": float("nan")}, ValueError, "f_star"),
        ({"f_star": None}, TypeError, "f_star"),
    ],
)
def test_bad_arguments(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        SPS(**kwargs)


def test_no_amplification_matrix():
    with pytest.raises(NotImplementedError, match="SPS"):
        SPS().amplification_matrix()


def test_order_one_towards_the_gradient_flow():
    """For a small cap the Polyak ratio (>= 1/(2cL) here) never binds: SPS is GD, a
    first-order discretisation of the gradient flow (against scipy's solve_ivp)."""
    p = gf.problems.quadratic([1.0, 10.0], seed=0)
    theta0 = np.array([1.0, -2.0])
    ref = gf.reference.gradient_flow(p, theta0, [1.0]).theta[-1]
    ks = 2 ** np.arange(5, 9)
    errors = []
    for k in ks:
        traj = gf.solve(p, theta0, SPS(f_star=p.minimum), 1.0 / k, steps=int(k), save="final")
        errors.append(np.abs(traj.theta[-1] - ref).max())
    assert gf.analysis.fit_order(1.0 / ks, errors).order == pytest.approx(1.0, abs=0.05)
