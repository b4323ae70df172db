"""The driver: shapes, batching, save modes, divergence, bad input."""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradflow as gf
from gradflow.problems import quadratic, rosenbrock


def _diag_quadratic(eigs=(1.0, 10.0)):
    return quadratic(A=np.diag(eigs))


def _gd_by_hand(grad, theta0, hs):
    """Plain numpy gradient descent, one trajectory, for comparison."""
    theta = np.array(theta0, dtype=float)
    out = [theta.copy()]
    for h in hs:
        theta = theta - h * grad(theta)
        out.append(theta.copy())
    return np.array(out)


def test_shapes_of_a_batched_run():
    p = rosenbrock()
    theta0 = np.random.default_rng(0).normal(size=(3, 4, 2)) * 0.3
    traj = gf.solve(p, theta0, stepsize=1e-4, steps=10, save_every=5)
    assert traj.theta.shape == (3, 3, 4, 2)
    assert traj.t.shape == traj.loss.shape == traj.h.shape == traj.step.shape == (3, 3, 4)
    assert traj.status.shape == traj.n_grad.shape == traj.n_steps.shape == (3, 4)
    assert traj.step[:, 0, 0].tolist() == [0, 5, 10]
    np.testing.assert_allclose(traj.t[:, 0, 0], [0.0, 5e-4, 1e-3])
    assert np.all(traj.n_grad == 10) and np.all(traj.n_steps == 10)
    assert (traj.status == "ok").all()
    np.testing.assert_array_equal(traj.loss, p.loss(traj.theta))


def test_single_start_without_batch_axes():
    p = rosenbrock()
    traj = gf.solve(p, [-1.2, 1.0], stepsize=1e-3, steps=3)
    assert traj.theta.shape == (4, 2) and traj.status.shape == ()
    expected = _gd_by_hand(p.grad, [-1.2, 1.0], [1e-3] * 3)
    np.testing.assert_array_equal(traj.theta, expected)


def test_save_every_keeps_the_last_state_and_final_mode():
    p = rosenbrock()
    full = gf.solve(p, [0.0, 0.0], stepsize=1e-3, steps=10)
    sparse = gf.solve(p, [0.0, 0.0], stepsize=1e-3, steps=10, save_every=4)
    final = gf.solve(p, [0.0, 0.0], stepsize=1e-3, steps=10, save="final")
    assert sparse.step.tolist() == [0, 4, 8, 10]
    np.testing.assert_array_equal(sparse.theta, full.theta[[0, 4, 8, 10]])
    assert final.theta.shape == (1, 2)
    np.testing.assert_array_equal(final.theta[0], full.theta[-1])
    assert final.t[0] == pytest.approx(1e-2, rel=1e-15)


def test_t_final_equals_steps_bit_for_bit_when_T_is_a_multiple_of_h():
    p = rosenbrock()
    theta0 = np.array([[-1.2, 1.0], [0.5, 0.5]])
    by_steps = gf.solve(p, theta0, stepsize=1e-4, steps=300, save="final")
    by_time = gf.solve(p, theta0, stepsize=1e-4, t_final=0.03, save="final")
    np.testing.assert_array_equal(by_steps.theta, by_time.theta)
    assert (by_time.status == "ok").all() and np.all(by_time.n_steps == 300)
    assert np.all(by_time.t == 0.03)


def test_t_final_shortens_the_last_step_per_element():
    p = _diag_quadratic()
    hs = np.array([0.3, 0.07])
    traj = gf.solve(p, np.ones((2, 2)), stepsize=hs, t_final=1.0, save="final")
    assert traj.n_steps.tolist() == [4, 15]
    np.testing.assert_array_equal(traj.t[0], [1.0, 1.0])
    for i, h in enumerate(hs):
        n = math.floor(1.0 / h)
        steps = [h] * n + [1.0 - n * h]
        expected = _gd_by_hand(p.grad, [1.0, 1.0], steps)[-1]
        np.testing.assert_allclose(traj.theta[0, i], expected, rtol=1e-13)


def test_save_at_lands_exactly_on_requested_times():
    p = _diag_quadratic()
    ts = [0.0, 0.25, 0.5, 1.0]
    traj = gf.solve(p, np.ones((3, 2)), stepsize=[0.1, 0.05, 0.03], t_final=1.0, save_at=ts)
    np.testing.assert_array_equal(traj.t, np.broadcast_to(np.array(ts)[:, None], (4, 3)))
    np.testing.assert_array_equal(traj.theta[0], np.ones((3, 2)))
    # h = 0.1 reaches 0.25 by steps 0.1, 0.1, 0.05 and 0.5 by 0.1, 0.1, 0.05.
    expected = _gd_by_hand(p.grad, [1.0, 1.0], [0.1, 0.1, 0.05, 0.1, 0.1, 0.05])
    np.testing.assert_allclose(traj.theta[2, 0], expected[-1], rtol=1e-14)
    assert traj.step[:, 0].tolist() == [0, 3, 6, 11]


def test_schedule_callable_matches_hand_loop():
    p = rosenbrock()
    sched = lambda k: 1e-3 / (1.0 + 0.1 * k)  # noqa: E731
    traj = gf.solve(p, [-1.2, 1.0], stepsize=sched, steps=30)
    expected = _gd_by_hand(p.grad, [-1.2, 1.0], [sched(k) for k in range(30)])
    np.testing.assert_array_equal(traj.theta, expected)
    np.testing.assert_allclose(traj.t[-1], sum(sched(k) for k in range(30)), rtol=1e-14)
    # h[j] is the step that led to saved point j; h[0] the first proposal.
    np.testing.assert_allclose(traj.h[1:], [sched(k) for k in range(30)], rtol=1e-15)


def test_float32_stays_float32():
    p = rosenbrock()
    traj = gf.solve(p, np.array([[-1.2, 1.0]], dtype=np.float32), stepsize=1e-3, steps=5)
    assert traj.theta.dtype == np.float32 and traj.loss.dtype == np.float32


def test_batch_of_stepsizes_times_starts_equals_single_runs_bit_for_bit():
    p = rosenbrock()
    rng = np.random.default_rng(3)
    hs = np.array([1e-4, 7e-4, 2e-3])
    theta0 = rng.uniform(-1.5, 1.5, size=(3, 4, 2))
    batch = gf.solve(p, theta0, stepsize=hs[:, None], steps=300, save_every=50)
    for i, h in enumerate(hs):
        for j in range(4):
            alone = gf.solve(p, theta0[i, j], stepsize=h, steps=300, save_every=50)
            np.testing.assert_array_equal(batch.theta[:, i, j], alone.theta)
            np.testing.assert_array_equal(batch.loss[:, i, j], alone.loss)
            assert batch.status[i, j] == alone.status


def test_batch_with_t_final_and_divergence_equals_single_runs_bit_for_bit():
    p = gf.problems.muller_brown()
    theta0 = np.array([[-0.5, 1.4], [0.6, 0.0], [-0.05, 0.45]])
    hs = np.array([[1e-4], [5e-4], [2e-2]])  # the last row diverges
    batch = gf.solve(p, np.broadcast_to(theta0, (3, 3, 2)), stepsize=hs, t_final=0.3, save_every=7)
    assert (batch.status[2] == "diverged").any()
    for i in range(3):
        for j in range(3):
            alone = gf.solve(p, theta0[j], stepsize=hs[i, 0], t_final=0.3, save_every=7)
            np.testing.assert_array_equal(batch.theta[: alone.theta.shape[0], i, j], alone.theta)
            assert batch.status[i, j] == alone.status
            assert batch.n_steps[i, j] == alone.n_steps


def _first_exit_step(factor: float, c: float, radius: float) -> int:
    """Smallest k with |factor|^k |c| > radius, by logarithms."""
    x = math.log(radius / abs(c)) / math.log(abs(factor))
    assert abs(x - round(x)) > 1e-6, "ambiguous test setup"
    return math.floor(x) + 1


def test_just_above_two_over_lambda_diverges_at_the_right_step():
    lam = np.array([1.0, 10.0])
    p = _diag_quadratic(lam)
    critical = 2.0 / lam.max()
    hs = np.array([0.99, 1.01]) * critical
    theta0 = np.array([[0.0, 1.0], [0.0, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        traj = gf.solve(p, theta0, stepsize=hs, steps=5000, save="final", divergence_norm=1e6)
    assert traj.status.tolist() == ["ok", "diverged"]
    k_star = _first_exit_step(1.0 - hs[1] * 10.0, 1.0, 1e6)
    assert traj.n_steps[1] == k_star - 1
    assert traj.n_grad[1] == k_star
    # The kept state is θ_{k*-1} from the closed form (1 - hλ)^k.
    kept = (1.0 - hs[1] * lam) ** (k_star - 1) * theta0[1]
    np.testing.assert_allclose(traj.theta[0, 1], kept, rtol=1e-9)
    assert traj.t[0, 1] == pytest.approx((k_star - 1) * hs[1], rel=1e-14)
    # The stable element is untouched and converges.
    alone = gf.solve(p, theta0[0], stepsize=hs[0], steps=5000, save="final")
    np.testing.assert_array_equal(traj.theta[0, 0], alone.theta[0])
    assert np.linalg.norm(traj.theta[0, 0]) < 1e-30


def test_default_divergence_is_growth_beyond_the_start_without_warnings():
    p = _diag_quadratic()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        traj = gf.solve(p, np.ones((2, 2)), stepsize=[0.15, 0.25], steps=10_000, save_every=100)
    assert traj.status.tolist() == ["ok", "diverged"]
    assert np.all(np.isfinite(traj.theta)) and np.all(np.isfinite(traj.loss))
    # |1 - 2.5| = 1.5 on the λ = 10 mode: the state passes 10^8 × its start's scale (1)
    # with a loss above the start's at the first k with 1.5^k > 10^8, long before an
    # overflow (k ≈ 1745); the last state inside is kept.
    k_star = _first_exit_step(1.5, 1.0, 1e8)
    assert int(traj.n_steps[1]) == k_star - 1
    np.testing.assert_allclose(traj.theta[-1, 1], [0.75 ** (k_star - 1), (-1.5) ** (k_star - 1)])
    # Columns after the divergence repeat the kept state and its time.
    last = traj.theta[-1, 1]
    assert np.array_equal(traj.theta[-2, 1], last) and traj.t[-1, 1] == traj.t[-2, 1]


def test_callback_sees_every_step_and_can_stop():
    p = rosenbrock()
    seen = []

    def cb(info):
        seen.append((info.k, info.theta.shape, info.active.all()))
        return info.k == 5

    traj = gf.solve(p, np.zeros((2, 2)), stepsize=1e-3, steps=100, callback=cb)
    assert [s[0] for s in seen] == list(range(6))
    assert seen[0][1] == (2, 2)
    assert traj.status.tolist() == ["stopped", "stopped"] and traj.n_steps.tolist() == [5, 5]


def test_max_steps_in_a_timed_run():
    p = rosenbrock()
    traj = gf.solve(
        p, np.zeros((2, 2)), stepsize=[1e-4, 1e-3], t_final=0.01, max_steps=50, save="final"
    )
    assert traj.status.tolist() == ["max_steps", "ok"]
    assert traj.n_steps.tolist() == [50, 10]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"theta0": np.zeros(3)}, "theta0"),
        ({"theta0": np.zeros((4, 3))}, "theta0"),
        ({"theta0": np.zeros((0, 2))}, "theta0"),
        ({"theta0": [np.nan, 1.0]}, "theta0"),
        ({"theta0": [np.inf, 1.0]}, "theta0"),
        ({"stepsize": 0.0}, "stepsize"),
        ({"stepsize": -1e-3}, "stepsize"),
        ({"stepsize": [1e-3, np.nan]}, "stepsize"),
        ({"stepsize": [1e-3, 2e-3, 3e-3]}, "stepsize"),
        ({"steps": None}, "steps"),
        ({"t_final": 1.0}, "t_final"),
        ({"steps": -1}, "steps"),
        ({"steps": None, "t_final": -1.0}, "t_final"),
        ({"save": "sometimes"}, "save"),
        ({"save": "final", "save_every": 2}, "save"),
        ({"save_every": 0}, "save_every"),
        ({"save_at": [0.0, 1.0]}, "save_at"),
        ({"steps": None, "t_final": 1.0, "save_at": [0.5, 0.2]}, "save_at"),
        ({"steps": None, "t_final": 1.0, "save_at": [0.5, 2.0]}, "save_at"),
        ({"max_steps": 0}, "max_steps"),
        ({"divergence_norm": -1.0}, "divergence_norm"),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(kwargs, match):
    args = {"theta0": np.zeros((2, 2)), "stepsize": 1e-3, "steps": 10}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        gf.solve(rosenbrock(), **args)


def test_bad_types_raise_type_error():
    p = rosenbrock()
    with pytest.raises(TypeError, match="problem"):
        gf.solve(lambda x: x, np.zeros(2), stepsize=1e-3, steps=1)
    with pytest.raises(TypeError, match="method"):
        gf.solve(p, np.zeros(2), "euler", 1e-3, steps=1)
    with pytest.raises(TypeError, match="stepsize"):
        gf.solve(p, np.zeros(2), steps=1)
    with pytest.raises(TypeError, match="stepsize"):
        gf.solve(p, np.zeros(2), stepsize="big", steps=1)
    with pytest.raises(TypeError, match="theta0"):
        gf.solve(p, np.array(["a", "b"]), stepsize=1e-3, steps=1)
    with pytest.raises(TypeError, match="steps"):
        gf.solve(p, np.zeros(2), stepsize=1e-3, steps=2.5)
    with pytest.raises(ValueError, match="schedule"):
        gf.solve(p, np.zeros(2), stepsize=lambda k: 1e-3 - 1e-4 * k, steps=20)


@settings(max_examples=25, deadline=None)
@given(
    eigs=st.lists(st.floats(0.1, 10.0), min_size=1, max_size=4),
    frac=st.floats(0.05, 0.95),
    steps=st.integers(0, 40),
    seed=st.integers(0, 2**16),
)
def test_gd_on_quadratic_matches_closed_form(eigs, frac, steps, seed):
    rng = np.random.default_rng(seed)
    d = len(eigs)
    b = rng.normal(size=d)
    p = quadratic(np.array(eigs), b=b, seed=seed)
    h = frac * 2.0 / max(eigs)
    theta0 = rng.normal(size=(3, d))
    traj = gf.solve(p, theta0, stepsize=h, steps=steps)
    star = np.linalg.solve(p.A, b)
    M = np.eye(d) - h * p.A
    for k in range(steps + 1):
        expected = star + (np.linalg.matrix_power(M, k) @ (theta0 - star).T).T
        np.testing.assert_allclose(traj.theta[k], expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("horizon", [{"steps": 700}, {"t_final": 0.7}])
def test_sparse_divergence_checks_find_the_same_step_as_checking_every_step(horizon):
    # A callback forces a check after every step; without one the driver checks every
    # few steps and replays the failed rows.  Both must agree bit for bit.
    p = gf.problems.muller_brown()
    rng = np.random.default_rng(7)
    theta0 = rng.uniform([-1.5, -0.5], [1.0, 2.0], size=(40, 2))
    hs = np.geomspace(1e-4, 2e-2, 40)
    sched = gf.stepsize.ConstantStep(hs)
    sparse = gf.solve(p, theta0, stepsize=sched, save="final", **horizon)
    dense = gf.solve(p, theta0, stepsize=sched, save="final", callback=lambda info: None, **horizon)
    assert 0 < sparse.diverged.sum() < 40
    np.testing.assert_array_equal(sparse.status, dense.status)
    np.testing.assert_array_equal(sparse.n_steps, dense.n_steps)
    np.testing.assert_array_equal(sparse.n_grad, dense.n_grad)
    np.testing.assert_array_equal(sparse.theta, dense.theta)
    np.testing.assert_array_equal(sparse.t, dense.t)
    np.testing.assert_array_equal(sparse.n_grad, sparse.n_steps + sparse.diverged)


def test_sparse_checks_with_a_schedule_keep_times_and_states():
    p = _diag_quadratic()
    sched = lambda k: 0.101 + 0.0005 * k  # noqa: E731  (crosses 2/λmax = 0.2 at k = 198)
    sparse = gf.solve(p, np.ones(2), stepsize=sched, steps=2000, save="final")
    dense = gf.solve(
        p, np.ones(2), stepsize=sched, steps=2000, save="final", callback=lambda info: None
    )
    assert sparse.status == dense.status == "diverged"
    assert sparse.n_steps == dense.n_steps
    np.testing.assert_array_equal(sparse.theta, dense.theta)
    np.testing.assert_array_equal(sparse.t, dense.t)
    np.testing.assert_allclose(
        sparse.t[0], sum(sched(k) for k in range(sparse.n_steps)), rtol=1e-13
    )


class _HalveState(NamedTuple):
    h: np.ndarray
    last: np.ndarray


class _HalveOnIncrease(gf.stepsize.StepSizePolicy):
    """Test policy: halve an element's step whenever its loss went up."""

    def __init__(self, h0):
        self.h0 = h0

    def init(self, problem, theta0, batch_shape, method):
        return _HalveState(np.full(theta0.shape[0], self.h0), problem.loss(theta0))

    def propose(self, state, k):
        return state.h

    def update(self, state, obs):
        up = obs.loss > state.last
        return _HalveState(np.where(up, state.h / 2, state.h), obs.loss), gf.stepsize.Verdict()


def test_stateful_policy_sees_losses_per_element():
    p = _diag_quadratic()
    theta0 = np.array([[1.0, 1.0], [1.0, 0.0]])
    traj = gf.solve(p, theta0, stepsize=_HalveOnIncrease(0.25), steps=40)
    # Hand loop of the same rule, element by element.
    for i in range(2):
        theta, h, last = theta0[i].copy(), 0.25, p.loss(theta0[i])
        for k in range(40):
            theta = theta - h * p.grad(theta)
            np.testing.assert_array_equal(traj.theta[k + 1, i], theta)
            loss = p.loss(theta)
            h = h / 2 if loss > last else h
            last = loss
    # Element 1 starts on the stable λ = 1 mode only: its step never halves.
    assert traj.h[-1, 1] == 0.25 and traj.h[-1, 0] < 0.2


def test_a_schedule_may_start_at_zero():
    p = rosenbrock()
    traj = gf.solve(p, [-1.2, 1.0], stepsize=lambda k: 1e-4 * k, steps=5)
    np.testing.assert_array_equal(traj.theta[1], traj.theta[0])  # h_0 = 0: no move
    expected = _gd_by_hand(p.grad, [-1.2, 1.0], [1e-4 * k for k in range(5)])
    np.testing.assert_array_equal(traj.theta, expected)
