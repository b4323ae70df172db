"""The policy protocol: shared evaluations, composition, and lr_find through solve."""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
from gradflow.rules import AdGD, BarzilaiBorwein, LocalLipschitz, Polyak, ReduceOnPlateau
from gradflow.stepsize import Clip, Join, Product, Verdict


def _counting(problem):
    """The same problem, with a tally of gradient evaluations per row (independent of
    the driver's own counts)."""
    calls = {"rows": 0, "calls": 0}

    def grad(theta):
        theta = np.asarray(theta)
        calls["calls"] += 1
        calls["rows"] += int(np.prod(theta.shape[:-1], dtype=np.int64))
        return problem.grad(theta)

    counted = gf.Problem(
        loss=problem.loss,
        grad=grad,
        hvp=problem.hvp,
        dim=problem.dim,
        name=problem.name,
        minimum=problem.minimum,
    )
    return counted, calls


@pytest.mark.parametrize(
    "rule",
    [BarzilaiBorwein(1), BarzilaiBorwein(2), AdGD(), Polyak(), LocalLipschitz()],
    ids=["BB1", "BB2", "AdGD", "Polyak", "LocalLipschitz-secant"],
)
def test_rules_with_gd_cost_one_gradient_per_step(rule):
    base = gf.problems.quadratic([1.0, 10.0], seed=0)
    problem, calls = _counting(base)
    steps = 100
    theta0 = np.ones((3, 2)) * np.array([[1.0], [2.0], [-1.0]])
    traj = gf.solve(problem, theta0, stepsize=rule, steps=steps, save="final")
    # One gradient per step (at θ_0 ... θ_99, shared between the rule and GD), plus the
    # one at θ_100 that the rule reads after the last step.
    assert calls["rows"] == 3 * (steps + 1)
    np.testing.assert_array_equal(traj.n_grad, steps + 1)


def test_shared_gradient_gives_the_same_run_as_fresh_evaluations():
    base = gf.problems.rosenbrock()
    traj = gf.solve(base, [-1.2, 1.0], stepsize=BarzilaiBorwein(1, h0=1e-4), steps=60)
    # Hand loop: GD with BB1 steps, every gradient evaluated afresh.
    theta, g, h = np.array([-1.2, 1.0]), base.grad(np.array([-1.2, 1.0])), 1e-4
    for k in range(60):
        new = theta - h * base.grad(theta)
        np.testing.assert_array_equal(traj.theta[k + 1], new)
        g_new = base.grad(new)
        s, y = new - theta, g_new - g
        if s @ y > 0 and np.isfinite(s @ s / (s @ y)):
            h = (s @ s) / (s @ y)
        theta, g = new, g_new


def test_hvp_rule_counts_two_per_hvp():
    problem = gf.problems.quadratic([1.0, 10.0], seed=0)
    traj = gf.solve(
        problem, np.ones(2), stepsize=LocalLipschitz(estimator="hvp"), steps=20, save="final"
    )
    assert int(traj.n_grad) == 20 + 2 * 20


def _torch_chained_step_exponential(lr0, step_size, gamma_step, gamma_exp, n):
    """PyTorch's ChainedScheduler([StepLR, ExponentialLR]) in its recursive (chainable)
    form: each scheduler multiplies the current lr by its own factor at every step."""
    lrs, lr = [lr0], lr0
    for epoch in range(1, n):
        if epoch % step_size == 0:  # StepLR.get_lr
            lr = lr * gamma_step
        lr = lr * gamma_exp  # ExponentialLR.get_lr
        lrs.append(lr)
    return np.array(lrs)


def test_product_of_two_schedules_equals_chained_scheduler():
    n = 40
    expected = _torch_chained_step_exponential(0.1, 7, 0.5, 0.95, n)
    s1 = gf.schedules.step_decay(0.1, step_size=7, gamma=0.5)
    s2 = gf.schedules.exponential(1.0, gamma=0.95)
    product = Product(s1, s2)
    problem = gf.problems.quadratic([1.0, 2.0], seed=0)
    traj = gf.solve(problem, np.ones(2), stepsize=product, steps=n)
    np.testing.assert_allclose(traj.h[1:], expected, rtol=1e-13)
    # A policy times a callable factor (LambdaLR), written with the operator.
    lam = gf.stepsize.ConstantStep(0.1) * (lambda k: 1.0 / (1 + k))
    traj = gf.solve(problem, np.ones(2), stepsize=lam, steps=5)
    np.testing.assert_allclose(traj.h[1:], [0.1 / (1 + k) for k in range(5)], rtol=1e-15)


def test_warmup_then_plateau_equals_the_two_runs_back_to_back():
    problem = gf.problems.quadratic([1.0, 10.0], seed=0)
    warmup = gf.schedules.linear(0.21, start_factor=0.1, total_steps=20)
    plateau = ReduceOnPlateau(0.21, patience=3, factor=0.5)
    joined = gf.solve(problem, np.ones(2), stepsize=Join([warmup, plateau], [20]), steps=120)
    first = gf.solve(problem, np.ones(2), stepsize=warmup, steps=20)
    second = gf.solve(problem, first.theta[-1], stepsize=plateau, steps=100)
    np.testing.assert_array_equal(joined.theta[:21], first.theta)
    np.testing.assert_array_equal(joined.theta[20:], second.theta)
    np.testing.assert_array_equal(joined.h[21:], second.h[1:])
    assert second.h[-1] < 0.21  # the plateau cut the step after the warmup


class _Witness(gf.stepsize.StepSizePolicy):
    """Test policy: a factor of 1 that keeps what acceptance masks it was shown."""

    def __init__(self):
        self.seen = []

    def init(self, problem, theta0, batch_shape, method):
        return ()

    def propose(self, state, k):
        return np.ones(1)

    def update(self, state, obs):
        self.seen.append(None if obs.accepted is None else obs.accepted.copy())
        return state, Verdict()


def test_rejected_steps_reach_composed_policies():
    problem = gf.problems.rosenbrock()
    witness = _Witness()
    ctrl = gf.controllers.IController(rtol=1e-6, atol=1e-6)
    method = gf.methods.RungeKutta(gf.methods.DOPRI54)
    traj = gf.solve(problem, [-1.2, 1.0], method, Product(ctrl, witness), t_final=1.0, save="final")
    alone = gf.solve(problem, [-1.2, 1.0], method, ctrl, t_final=1.0, save="final")
    assert int(traj.n_rejected) > 0
    rejected = sum(int((~m).sum()) for m in witness.seen if m is not None)
    assert rejected == int(traj.n_rejected)
    # A factor of 1 changes nothing: the same steps, the same end state.
    assert int(traj.n_steps) == int(alone.n_steps)
    np.testing.assert_array_equal(traj.theta[-1], alone.theta[-1])


def test_clip_bounds_a_controller_and_stays_accurate():
    problem = gf.problems.rosenbrock()
    method = gf.methods.RungeKutta(gf.methods.DOPRI54)
    capped = Clip(gf.controllers.IController(rtol=1e-8, atol=1e-8), h_max=1e-3)
    traj = gf.solve(problem, [-1.2, 1.0], method, capped, t_final=0.5)
    assert traj.h.max() <= 1e-3 and str(traj.status) == "ok"
    ref = gf.reference.gradient_flow(problem, [-1.2, 1.0], [0.5])
    assert np.abs(traj.theta[-1] - ref.theta[0]).max() < 1e-7


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: Product(0.1), ValueError),
        (lambda: Product(0.1, "x"), TypeError),
        (lambda: Join([0.1, 0.2], [0]), ValueError),
        (lambda: Join([0.1, 0.2], [5, 6]), ValueError),
        (lambda: Join([0.1, 0.2], 5), TypeError),
        (lambda: Join([0.1, 0.2], None), TypeError),
        (lambda: Join([0.1, 0.2], [2.5]), TypeError),
        (lambda: Clip(0.1), ValueError),
        (lambda: Clip(0.1, h_max=-1.0), ValueError),
        (lambda: Clip(0.1, h_max="1"), TypeError),
    ],
)
def test_bad_compositions(make, error):
    with pytest.raises(error):
        make()


@pytest.mark.filterwarnings("ignore::gradflow.stepsize.LRFindWarning")  # 60 steps: no blow-up
def test_lr_find_with_minibatches():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    y = X @ rng.normal(size=5) + 0.1 * rng.normal(size=200)
    problem = gf.problems.least_squares(X, y)
    a = gf.lr_find(problem, np.zeros(5), steps=60, batch_size=16, seed=1)
    b = gf.lr_find(problem, np.zeros(5), steps=60, batch_size=16, seed=1)
    c = gf.lr_find(problem, np.zeros(5), steps=60, batch_size=16, seed=2)
    np.testing.assert_array_equal(a.losses, b.losses)  # same seed, same bits
    assert not np.array_equal(a.losses, c.losses, equal_nan=True)
    assert bool(a.diverged)
    # One minibatch gradient per step.
    assert int(a.n_grad) == int(a.n_steps)
    # The whole data set as the minibatch is the full-batch test.
    full = gf.lr_find(problem, np.zeros(5), steps=60, batch_size=200, seed=0)
    exact = gf.lr_find(problem, np.zeros(5), steps=60)
    np.testing.assert_allclose(full.losses, exact.losses, rtol=1e-12, equal_nan=True)
    assert int(exact.n_grad) == int(exact.n_steps)
