"""ReduceOnPlateau against a scalar transcription of PyTorch's ReduceLROnPlateau.step."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradflow as gf
from gradflow.rules import ReduceOnPlateau
from gradflow.stepsize import Observation


class TorchPlateau:
    """One parameter group of torch.optim.lr_scheduler.ReduceLROnPlateau, written out from
    its documented algorithm (scalar Python)."""

    def __init__(
        self,
        lr,
        mode="min",
        factor=0.1,
        patience=10,
        threshold=1e-4,
        threshold_mode="rel",
        cooldown=0,
        min_lr=0.0,
        eps=1e-8,
    ):
        self.lr, self.mode, self.factor, self.patience = lr, mode, factor, patience
        self.threshold, self.threshold_mode = threshold, threshold_mode
        self.cooldown, self.min_lr, self.eps = cooldown, min_lr, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    def is_better(self, a, best):
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min" and self.threshold_mode == "abs":
            return a < best - self.threshold
        if self.mode == "max" and self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metric):
        current = float(metric)
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            old = self.lr
            new = max(old * self.factor, self.min_lr)
            if old - new > self.eps:
                self.lr = new
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0


def run_policy(policy, losses, accepted=None):
    """Feed loss columns (n_steps, B) to the policy; return the proposals (n_steps + 1, B)."""
    n, B = losses.shape
    state = policy.init(None, np.zeros((B, 1)), (B,), None)
    out = [np.broadcast_to(policy.propose(state, 0), (B,)).copy()]
    for k in range(n):
        ok = None if accepted is None else accepted[k]
        state, _ = policy.update(state, Observation(k + 1, np.zeros((B, 1)), losses[k], ok))
        out.append(np.broadcast_to(policy.propose(state, k + 1), (B,)).copy())
    return np.array(out)


def run_reference(kwargs, losses):
    n, B = losses.shape
    out = np.empty((n + 1, B))
    for b in range(B):
        ref = TorchPlateau(**kwargs)
        out[0, b] = ref.lr
        for k in range(n):
            ref.step(losses[k, b])
            out[k + 1, b] = ref.lr
    return out


def loss_columns(n=120, seed=0):
    rng = np.random.default_rng(seed)
    k = np.arange(n, dtype=float)
    return np.stack(
        [
            np.maximum(10.0 - k, 3.0),  # falls, then a long plateau
            1.0 / (1.0 + k),  # improves for ever
            np.where(k < 20, 5.0 - 0.1 * k, 3.0 + 0.01 * np.sin(k)),  # noisy plateau
            3.0 + rng.normal(0, 1e-5, n),  # flat within the threshold
            np.exp(-0.01 * k) + rng.normal(0, 0.02, n),  # noisy descent
            np.where(k % 17 == 0, np.nan, 2.0 - 1e-3 * k),  # NaN is a bad step
            -1.0 - 0.1 * np.minimum(k, 30),  # negative losses
        ],
        axis=1,
    )


CASES = [
    {},
    {"patience": 0},
    {"patience": 3, "cooldown": 4},
    {"patience": 2, "factor": 0.5, "min_lr": 0.03},
    {"patience": 1, "threshold": 0.05, "threshold_mode": "abs"},
    {"patience": 2, "mode": "max", "threshold": 1e-3},
    {"patience": 2, "mode": "max", "threshold_mode": "abs", "cooldown": 1},
    {"patience": 1, "factor": 0.5, "eps": 0.2},  # eps skips the small cuts
    {"patience": 0, "factor": 0.9, "threshold": 0.0, "cooldown": 2, "min_lr": 0.5},
]


@pytest.mark.parametrize("kwargs", CASES)
def test_matches_pytorch_per_element(kwargs):
    losses = loss_columns()
    kwargs = {"lr": 1.0, **kwargs}
    got = run_policy(ReduceOnPlateau(**kwargs), losses)
    np.testing.assert_array_equal(got, run_reference(kwargs, losses))


def test_plateau_cuts_on_the_patience_plus_one_th_bad_step():
    losses = np.array([[5.0], [4.0], [4.0], [4.0], [4.0], [4.0], [4.0]])
    got = run_policy(ReduceOnPlateau(1.0, patience=2), losses)[:, 0]
    # Bad steps at k = 2, 3, 4: the third (patience + 1) cuts.
    np.testing.assert_allclose(got, [1, 1, 1, 1, 1, 0.1, 0.1, 0.1])


def test_cooldown_ignores_bad_steps():
    losses = np.full((12, 1), 1.0)
    got = run_policy(ReduceOnPlateau(1.0, patience=0, cooldown=3), losses)[:, 0]
    # Step 1 sets best; step 2 is bad -> cut; three cooldown steps; bad again -> cut.
    ref = run_reference({"lr": 1.0, "patience": 0, "cooldown": 3}, losses)[:, 0]
    np.testing.assert_array_equal(got, ref)
    assert list(np.flatnonzero(np.diff(got))) == [1, 5, 9]


def test_min_lr_and_eps():
    flat = np.full((40, 1), 1.0)
    got = run_policy(ReduceOnPlateau(1.0, patience=0, min_lr=0.005), flat)[:, 0]
    assert sorted(set(got.tolist()), reverse=True) == [1.0, 0.1, 0.010000000000000002, 0.005]
    # lr = 3e-8, factor 0.5: the first cut (1.5e-8 > eps) applies, the next (7.5e-9) not.
    got = run_policy(ReduceOnPlateau(3e-8, patience=0, factor=0.5), flat)[:, 0]
    assert set(got.tolist()) == {3e-8, 1.5e-8}
    ref = run_reference({"lr": 3e-8, "patience": 0, "factor": 0.5}, flat)[:, 0]
    np.testing.assert_array_equal(got, ref)


def test_lr_array_broadcasts_to_the_batch():
    losses = np.tile(loss_columns(60)[:, :3], (1, 2))  # batch (2, 3) flattened
    policy = ReduceOnPlateau(np.array([[1.0], [0.5]]), patience=2, min_lr=np.array([0.0, 0.1, 0.0]))
    state = policy.init(None, np.zeros((6, 1)), (2, 3), None)
    np.testing.assert_array_equal(state.lr, [1, 1, 1, 0.5, 0.5, 0.5])
    np.testing.assert_array_equal(state.min_lr, [0, 0.1, 0, 0, 0.1, 0])
    got = run_policy_shaped(policy, losses, (2, 3))
    for b, (lr, low) in enumerate([(1, 0), (1, 0.1), (1, 0), (0.5, 0), (0.5, 0.1), (0.5, 0)]):
        ref = run_reference({"lr": lr, "patience": 2, "min_lr": low}, losses[:, [b]])[:, 0]
        np.testing.assert_array_equal(got[:, b], ref)


def run_policy_shaped(policy, losses, batch_shape):
    n, B = losses.shape
    state = policy.init(None, np.zeros((B, 1)), batch_shape, None)
    out = [policy.propose(state, 0).copy()]
    for k in range(n):
        state, _ = policy.update(state, Observation(k + 1, np.zeros((B, 1)), losses[k]))
        out.append(policy.propose(state, k + 1).copy())
    return np.array(out)


def test_rejected_steps_leave_the_state_alone():
    losses = np.full((10, 2), 1.0)
    accepted = [np.array([True, k % 2 == 0]) for k in range(10)]
    got = run_policy(ReduceOnPlateau(1.0, patience=1), losses, accepted)
    ref_all = run_reference({"lr": 1.0, "patience": 1}, losses[:, :1])[:, 0]
    ref_half = run_reference({"lr": 1.0, "patience": 1}, losses[::2, 1:])[:, 0]
    np.testing.assert_array_equal(got[:, 0], ref_all)
    np.testing.assert_array_equal(got[::2, 1][: len(ref_half)], ref_half[: len(got[::2, 1])])


def test_float32_runs_propose_float32():
    policy = ReduceOnPlateau(0.1)
    state = policy.init(None, np.zeros((3, 2), dtype=np.float32), (3,), None)
    assert policy.propose(state, 0).dtype == np.float32
    assert state.lr.dtype == np.float64


def test_in_solve_matches_a_hand_loop():
    p = gf.problems.quadratic([1.0, 10.0], seed=0)  # 2/λmax = 0.2
    theta0 = np.array([[1.0, 1.0], [0.5, -1.0]])
    lrs = np.array([0.21, 0.05])
    kwargs = {"patience": 3, "factor": 0.5, "cooldown": 2}
    traj = gf.solve(p, theta0, stepsize=ReduceOnPlateau(lrs, **kwargs), steps=150)
    assert list(traj.status) == ["ok", "ok"]
    for i in range(2):
        ref = TorchPlateau(lrs[i], **kwargs)
        theta = theta0[i].copy()
        for k in range(150):
            theta = theta - ref.lr * p.grad(theta)
            np.testing.assert_array_equal(traj.theta[k + 1, i], theta)
            ref.step(p.loss(theta))
    # The too-large step was cut below 2/λmax and the run converged; the other never cut.
    assert traj.loss[-1, 0] < 1e-6
    assert np.all(traj.h[:, 1] == 0.05)
    assert traj.h[-1, 0] < 0.2


def test_in_solve_lr_must_broadcast():
    p = gf.problems.quadratic([1.0, 10.0], seed=0)
    with pytest.raises(ValueError, match="lr of shape"):
        gf.solve(p, np.ones((3, 2)), stepsize=ReduceOnPlateau(np.array([0.1, 0.2])), steps=3)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"lr": 0.0}, "lr"),
        ({"lr": -1.0}, "lr"),
        ({"lr": 0.1, "factor": 1.0}, "factor"),
        ({"lr": 0.1, "factor": 0.0}, "factor"),
        ({"lr": 0.1, "mode": "minimum"}, "mode"),
        ({"lr": 0.1, "threshold_mode": "relative"}, "threshold_mode"),
        ({"lr": 0.1, "patience": -1}, "patience"),
        ({"lr": 0.1, "cooldown": -1}, "cooldown"),
        ({"lr": 0.1, "threshold": -1e-3}, "threshold"),
        ({"lr": 0.1, "min_lr": -1.0}, "min_lr"),
        ({"lr": 0.1, "eps": -1.0}, "eps"),
    ],
)
def test_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ReduceOnPlateau(**kwargs)


def test_float_patience_is_a_type_error():
    with pytest.raises(TypeError, match="patience"):
        ReduceOnPlateau(0.1, patience=2.5)


def test_repr():
    policy = ReduceOnPlateau(0.1, patience=5)
    assert "patience=5" in repr(policy)
    assert gf.rules.ReduceOnPlateau is ReduceOnPlateau
