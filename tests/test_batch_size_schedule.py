"""``solve(..., batch_size=schedule)``: batch sizes that change with the step.

Expected values come from the int ``batch_size`` runs (an independent, older code path),
from a hand-written SGD loop that draws its minibatches by the documented rule (PCG64
advanced ``k·2^64``, Floyd's algorithm written out here) and the textbook least-squares
gradient, and from full-batch gradient descent.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
from gradflow.methods import SGD
from gradflow.problems import MinibatchSampler

_RNG = np.random.default_rng(20260419)
N, D = 60, 4
X = _RNG.standard_normal((N, D))
Y = X @ _RNG.standard_normal(D) + 0.3 * _RNG.standard_normal(N)
PROBLEM = gf.problems.least_squares(X, Y)
THETA0 = _RNG.standard_normal((5, D))
SEED = 17


def _run(batch_size, steps=90, method=None, theta0=THETA0, h=0.05, **kw):
    kw = {"steps": steps, "batch_size": batch_size, "seed": SEED, **kw}
    return gf.solve(PROBLEM, theta0, SGD() if method is None else method, h, **kw)


def _floyd(u: np.ndarray, n: int) -> list[int]:
    """Floyd's algorithm, one draw at a time (Bentley & Floyd 1987)."""
    B, taken = u.size, []
    for i in range(B):
        j = n - B + i
        t = min(int(u[i] * (j + 1)), j)
        taken.append(j if t in taken else t)
    return taken


def _hand_sgd(sizes: list[int], h: float, theta0: np.ndarray, seed: int) -> np.ndarray:
    """SGD by the documented draw: step k reads (E, B_k) uniforms at draw k·2^64."""
    theta = theta0.copy()
    E = theta.shape[0]
    for k, B in enumerate(sizes):
        gen = np.random.default_rng(seed)
        gen.bit_generator.advance(k << 64)
        u = gen.random((E, B))
        for j in range(E):
            S = np.array(_floyd(u[j], N))
            theta[j] = theta[j] - h * X[S].T @ (X[S] @ theta[j] - Y[S]) / B
    return theta


# -- the same bits as an int ---------------------------------------------------------------
@pytest.mark.parametrize(
    "schedule",
    [gf.schedules.constant(7.0), lambda k: 7, lambda k: 7.4, np.int64(7)],
    ids=["schedule", "callable", "rounded", "numpy-int"],
)
@pytest.mark.parametrize("method", [SGD(momentum=0.9), gf.methods.RungeKutta(gf.methods.HEUN)])
def test_a_constant_schedule_is_the_int_bit_for_bit(schedule, method):
    a = _run(7, method=method)
    b = _run(schedule, method=method)
    np.testing.assert_array_equal(a.theta, b.theta)
    np.testing.assert_array_equal(a.loss, b.loss)
    np.testing.assert_array_equal(a.n_grad, b.n_grad)


def test_same_seed_same_bits_and_another_seed_other_bits():
    grow = gf.schedules.multistep(4.0, [30, 60], gamma=3.0)
    a, b = _run(grow), _run(grow)
    np.testing.assert_array_equal(a.theta, b.theta)
    c = _run(grow, seed=SEED + 1)
    assert not np.array_equal(a.theta[-1], c.theta[-1])


def test_steps_before_a_change_are_those_of_the_int_run_and_all_follow_the_rule():
    grow = gf.schedules.multistep(4.0, [30, 60], gamma=3.0)  # B = 4, 12, 36
    run = _run(grow)
    # step k depends on (seed, k, B_k) alone: up to the first change, the int run's bits
    np.testing.assert_array_equal(run.theta[:31], _run(4, steps=30).theta)
    # every step draws by the documented rule with its own B_k
    sizes = [4] * 30 + [12] * 30 + [36] * 30
    np.testing.assert_allclose(
        run.theta[-1], _hand_sgd(sizes, 0.05, THETA0, SEED), rtol=1e-12, atol=1e-13
    )


def test_a_scalar_only_callable_equals_the_vectorised_schedule():
    grow = gf.schedules.multistep(4.0, [30, 60], gamma=3.0)

    def by_hand(k):  # `if` on k: refuses an array of steps, called once per step
        return 4 if k < 30 else (12 if k < 60 else 36)

    np.testing.assert_array_equal(_run(grow).theta, _run(by_hand).theta)


def test_full_batch_steps_are_gradient_descent():
    """Steps whose B_k is n_samples use the full gradient (the problem itself)."""
    to_full = gf.schedules.multistep(5.0, [10], gamma=N / 5)  # B = 5, then 60 = n
    run = _run(to_full, steps=40, h=0.1)
    gd = gf.solve(PROBLEM, run.theta[10], stepsize=0.1, steps=30)
    np.testing.assert_allclose(run.theta[10:], gd.theta, rtol=1e-13, atol=1e-14)


def test_rows_of_a_batch_are_the_rows_alone():
    grow = gf.schedules.multistep(3.0, [20], gamma=4.0)
    batched = _run(grow, steps=40)
    alone = _run(grow, steps=40, theta0=THETA0[0])
    np.testing.assert_array_equal(batched.theta[:, 0], alone.theta)


def test_float32_stays_float32():
    run = _run(gf.schedules.multistep(4.0, [10], gamma=2.0), theta0=THETA0.astype(np.float32))
    assert run.theta.dtype == np.float32 and run.loss.dtype == np.float32


def test_divergence_replay_draws_the_same_batches():
    """A diverged row is replayed from the last check with the batches of its steps."""
    hs = np.array([0.05, 2.0, 0.02, 5.0, 0.1])
    grow = gf.schedules.multistep(3.0, [7, 20], gamma=3.0)
    kw = {"steps": 300, "save": "final", "method": SGD(momentum=0.5), "h": hs}
    sparse = _run(grow, **kw)
    dense = _run(grow, callback=lambda info: None, **kw)
    assert (sparse.status == "diverged").any() and (sparse.status == "ok").any()
    np.testing.assert_array_equal(sparse.status, dense.status)
    np.testing.assert_array_equal(sparse.n_steps, dense.n_steps)
    np.testing.assert_array_equal(sparse.theta, dense.theta)


# -- sizes, rounding and epochs ------------------------------------------------------------
def test_sizes_round_to_nearest_halves_up_and_count_epochs():
    values = {0: 2.5, 1: 2.4999, 2: 3.5, 3: 0.5, 4: 59.6}
    sampler = MinibatchSampler(PROBLEM, lambda k: values.get(k, 10), 0, 2)
    assert sampler.sizes(np.arange(6)).tolist() == [3, 2, 4, 1, 60, 10]
    grow = MinibatchSampler(PROBLEM, gf.schedules.multistep(6.0, [10], gamma=2.0), 0, 2)
    seen = np.cumsum(grow.sizes(np.arange(15)))
    assert seen[9] / N == 1.0 and seen[14] / N == 2.0  # 10 steps of 6, 5 of 12: 2 epochs
    assert MinibatchSampler(PROBLEM, 9, 0, 1).sizes(np.arange(3)).tolist() == [9, 9, 9]


def test_a_bad_size_raises_at_its_step_naming_batch_size():
    def drops(k):
        return 8 if k < 37 else 0

    assert (_run(drops, steps=37).status == "ok").all()  # step 37 never comes
    with pytest.raises(ValueError, match=r"batch_size.*\[1, 60\].*at step 37"):
        _run(drops, steps=38)
    with pytest.raises(ValueError, match=r"batch_size.*at step 0"):
        _run(gf.schedules.constant(61.0))
    with pytest.raises(ValueError, match=r"batch_size.*at step 12"):
        _run(lambda k: 5 if k < 12 else float("nan"))
    with pytest.raises(ValueError, match=r"batch_size.*one number per step.*step 0"):
        _run(gf.schedules.constant(np.array([4.0, 5.0])))
    with pytest.raises(TypeError, match=r"batch_size.*real number.*step 3"):
        _run(lambda k: 4 if k < 3 else "four")
    with pytest.raises(TypeError, match=r"batch_size must be an integer in .* or a schedule"):
        _run(4.0)


def test_a_raising_schedule_read_ahead_raises_only_when_its_step_comes():
    table = [5] * 20  # a list: k = 20 raises IndexError

    assert (_run(table.__getitem__, steps=20).status == "ok").all()
    with pytest.raises(IndexError):
        _run(table.__getitem__, steps=21)


def test_shuffle_needs_an_int_batch_size():
    with pytest.raises(ValueError, match="batch_size must be an int under shuffle"):
        _run(gf.schedules.multistep(4.0, [30], gamma=3.0), shuffle=True)
