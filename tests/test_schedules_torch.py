"""Schedules against the real ``torch.optim.lr_scheduler`` classes, stepped on a dummy
optimiser, over random parameters.

``drive`` records ``param_groups[0]["lr"]`` (and ``momentum``) before each
``optimizer.step()``: the values step ``k`` uses, which gradflow's ``s(k)`` must equal.
The momentum-schedule runs compare a whole ``torch.optim.SGD`` trajectory with
``gradflow.solve(..., SGD(momentum=s.momentum), stepsize=s)``.  Each ``check_*`` takes
a seed for its random parameters.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
import gradflow.schedules as S


def _torch():
    """torch, imported by the test that needs it (not at collection: ~8 s of CPU)."""
    return pytest.importorskip("torch", reason="the PyTorch references need torch")


def _L():
    return _torch().optim.lr_scheduler


#: Random parameter draws of the slow sweep; the quick suite runs draw 0 of every check
#: in one test, so that one worker imports torch (about 8 s of CPU).
SEEDS = range(1, 6)
#: The closed forms equal PyTorch's recursions to rounding (a few ulp over ~100 steps).
RTOL = 1e-12


def drive(make, n, lr=0.1, momentum=0.9, epochs=None):
    """Values of ``lr`` and ``momentum`` used by steps ``0..n-1`` of a PyTorch scheduler.

    ``epochs``: call ``scheduler.step(epochs[k])`` (an explicit, possibly fractional,
    epoch) to set the values of step ``k >= 1`` instead of ``scheduler.step()``.
    """
    torch = _torch()
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=lr, momentum=momentum)
    sched = make(opt)
    lrs, moms = [], []
    for k in range(n):
        lrs.append(opt.param_groups[0]["lr"])
        moms.append(opt.param_groups[0]["momentum"])
        opt.step()
        if epochs is None:
            sched.step()
        elif k + 1 < n:
            sched.step(epochs[k + 1])
    return np.array(lrs), np.array(moms)


def random_factor(rng):
    """A factor function of k with kinks, jumps and a period (not a closed form)."""
    a, b, period = rng.uniform(0.8, 1.0), rng.uniform(1.0, 1.2), int(rng.integers(2, 7))
    return lambda k: b if k % period == 0 else a * (1 + 0.01 * np.sin(k))


# ---------------------------------------------------------------------------------------
# LambdaLR, MultiplicativeLR, ChainedScheduler
# ---------------------------------------------------------------------------------------
def check_lambda_factor_is_lambdalr(seed):
    L = _L()
    rng = np.random.default_rng(seed)
    lr, f, n = rng.uniform(0.01, 1.0), random_factor(rng), 80
    ref, _ = drive(lambda o: L.LambdaLR(o, f), n, lr)
    np.testing.assert_array_equal(S.lambda_factor(lr, f)(np.arange(n)), ref)


def check_multiplicative_is_multiplicativelr_factor_from_step_one(seed):
    L = _L()
    rng = np.random.default_rng(seed)
    lr, f, n = rng.uniform(0.01, 1.0), random_factor(rng), 80
    ref, _ = drive(lambda o: L.MultiplicativeLR(o, f), n, lr)
    s = S.multiplicative(lr, f)
    # Bit for bit, f(0) never used: step 0 is lr, step 1 is lr·f(1).
    np.testing.assert_array_equal(s(np.arange(n)), ref)
    assert s(0) == lr and s(1) == lr * f(1)
    # Asked for out of order (the memo grows on demand) the values are the same.
    np.testing.assert_array_equal(S.multiplicative(lr, f)(np.arange(n)[::-1]), ref[::-1])


def _chained_pairs(rng):
    """(PyTorch schedulers, the same as a gradflow product) with random parameters."""
    L = _L()
    lr = rng.uniform(0.05, 1.0)
    size, g1, g2 = int(rng.integers(2, 9)), rng.uniform(0.3, 0.9), rng.uniform(0.9, 0.99)
    ms = sorted(int(m) for m in rng.integers(1, 60, size=3))
    start, total = rng.uniform(0.1, 0.9), int(rng.integers(3, 40))
    t_max = int(rng.integers(5, 60))
    return (
        [
            (
                lambda o: [L.StepLR(o, size, g1), L.ExponentialLR(o, g2)],
                S.step_decay(lr, size, g1) * S.exponential(1.0, g2),
            ),
            (
                lambda o: [L.LinearLR(o, start, 1.0, total), L.MultiStepLR(o, ms, g1)],
                S.linear(lr, start, 1.0, total) * S.multistep(1.0, ms, g1),
            ),
            # PyTorch's recursive cosine is multiplicative when eta_min = 0.
            (
                lambda o: [L.CosineAnnealingLR(o, t_max), L.ExponentialLR(o, g2)],
                S.product(S.cosine(lr, t_max), S.exponential(1.0, g2)),
            ),
        ],
        lr,
        t_max,
    )


def check_product_is_chainedscheduler(seed):
    L = _L()
    rng = np.random.default_rng(seed)
    pairs, lr, t_max = _chained_pairs(rng)
    for make, s in pairs:
        n = 70
        ref, _ = drive(lambda o, make=make: L.ChainedScheduler(make(o)), n, lr)
        # The cosine is held after T_max here and rises again in PyTorch.
        m = min(n, t_max) if "cosine" in repr(s) else n
        np.testing.assert_allclose(s(np.arange(m)), ref[:m], rtol=RTOL, atol=1e-300)


# ---------------------------------------------------------------------------------------
# CyclicLR with cycle_momentum, OneCycleLR's momentum
# ---------------------------------------------------------------------------------------
def check_cyclic_and_its_momentum_are_cycliclr(seed):
    L = _L()
    rng = np.random.default_rng(seed)
    mode = ["triangular", "triangular2", "exp_range"][seed % 3]
    base, top = rng.uniform(1e-3, 0.05), rng.uniform(0.06, 0.5)
    up, down = int(rng.integers(1, 12)), int(rng.integers(0, 12))
    gamma = rng.uniform(0.97, 1.0)
    lo, hi = sorted(rng.uniform(0.5, 0.99, size=2))
    n = 3 * (up + down) + 5
    ref, ref_mom = drive(
        lambda o: L.CyclicLR(
            o, base, top, up, down or None, mode, gamma, base_momentum=lo, max_momentum=hi
        ),
        n,
    )
    # PyTorch's step_size_down=None means "as up": pass gradflow the same.
    s = S.cyclic(base, top, up, down or up, mode, gamma, base_momentum=lo, max_momentum=hi)
    k = np.arange(n)
    np.testing.assert_allclose(s(k), ref, rtol=RTOL)
    np.testing.assert_allclose(s.momentum(k), ref_mom, rtol=RTOL)
    assert s.momentum(0) == hi


def check_cyclic_momentum_defaults_are_pytorchs(seed):
    # Fixed arguments: PyTorch's defaults (seed unused).
    L = _L()
    ref, ref_mom = drive(lambda o: L.CyclicLR(o, 0.01, 0.1, 3), 12)
    s = S.cyclic(0.01, 0.1, 3)
    np.testing.assert_allclose(s(np.arange(12)), ref, rtol=RTOL)
    np.testing.assert_allclose(s.momentum(np.arange(12)), ref_mom, rtol=RTOL)
    assert ref_mom.max() == 0.9 and abs(ref_mom.min() - 0.8) < 1e-15


def check_one_cycle_momentum_is_onecyclelrs(seed):
    L = _L()
    rng = np.random.default_rng(seed)
    total, pct = int(rng.integers(10, 80)), rng.uniform(0.15, 0.45)
    three = bool(seed % 2)
    ref, ref_mom = drive(
        lambda o: L.OneCycleLR(o, 0.5, total_steps=total, pct_start=pct, three_phase=three),
        total,
    )
    s = S.one_cycle(0.5, total, pct, three_phase=three)
    np.testing.assert_allclose(s(np.arange(total)), ref, rtol=RTOL)
    np.testing.assert_allclose(s.momentum(np.arange(total)), ref_mom, rtol=RTOL)


def torch_sgd_run(theta0, hessian, make_scheduler, n, nesterov):
    """``torch.optim.SGD`` on ``½ θᵀHθ`` (float64) with a scheduler that cycles the momentum."""
    torch = _torch()
    x = torch.tensor(theta0, dtype=torch.float64, requires_grad=True)
    H = torch.tensor(hessian, dtype=torch.float64)
    opt = torch.optim.SGD([x], lr=0.1, momentum=0.9, nesterov=nesterov)
    sched = make_scheduler(opt)
    out = [x.detach().numpy().copy()]
    for _ in range(n):
        opt.zero_grad()
        (0.5 * x @ H @ x).backward()
        opt.step()
        sched.step()
        out.append(x.detach().numpy().copy())
    return np.array(out)


def check_sgd_follows_a_cyclic_momentum_schedule_like_pytorch(seed):
    L = _L()
    rng = np.random.default_rng(seed)
    nesterov = bool(seed % 2)
    p = gf.problems.quadratic(rng.uniform(1.0, 20.0, size=3), seed=seed)
    theta0 = rng.normal(size=(1, 3))
    up, down = int(rng.integers(2, 9)), int(rng.integers(1, 9))
    lo, hi = sorted(rng.uniform(0.5, 0.97, size=2))
    args = (0.002, 0.04, up, down)
    s = S.cyclic(*args, mode="triangular2", base_momentum=lo, max_momentum=hi)
    n = 80
    traj = gf.solve(
        p, theta0, gf.methods.SGD(momentum=s.momentum, nesterov=nesterov), s, steps=n, save="all"
    )
    ref = torch_sgd_run(
        theta0[0],
        p.hessian(theta0)[0],
        lambda o: L.CyclicLR(o, *args, mode="triangular2", base_momentum=lo, max_momentum=hi),
        n,
        nesterov,
    )
    np.testing.assert_allclose(traj.theta[:, 0], ref, rtol=1e-10, atol=1e-13)
    # The schedule matters: a constant momentum gives another trajectory.
    fixed = gf.solve(
        p, theta0, gf.methods.SGD(momentum=hi, nesterov=nesterov), s, steps=n, save="all"
    )
    assert np.max(np.abs(fixed.theta[:, 0] - ref)) > 1e-3 * np.max(np.abs(ref))


def check_sgd_follows_one_cycle_momentum_like_pytorch(seed):
    L = _L()
    p = gf.problems.quadratic([1.0, 4.0, 9.0], seed=seed)
    theta0 = np.array([[1.0, -1.0, 0.5]])
    total = 50
    s = S.one_cycle(0.05, total)
    traj = gf.solve(p, theta0, gf.methods.SGD(momentum=s.momentum), s, steps=total - 1)
    ref = torch_sgd_run(
        theta0[0],
        p.hessian(theta0)[0],
        lambda o: L.OneCycleLR(o, 0.05, total_steps=total),
        total - 1,
        False,
    )
    np.testing.assert_allclose(traj.theta[-1, 0], ref[-1], rtol=1e-10, atol=1e-13)


def test_momentum_schedule_batch_rows_and_float32():
    p = gf.problems.quadratic([1.0, 3.0], seed=0)
    s = S.cyclic(0.01, 0.1, 4, base_momentum=0.6, max_momentum=0.9)
    method = gf.methods.SGD(momentum=s.momentum)
    theta0 = np.random.default_rng(0).normal(size=(5, 2))
    batch = gf.solve(p, theta0, method, s, steps=30, save="final")
    for i in range(5):
        one = gf.solve(p, theta0[i : i + 1], method, s, steps=30, save="final")
        np.testing.assert_array_equal(one.theta[-1, 0], batch.theta[-1, i])
    single = gf.solve(p, theta0.astype(np.float32), method, s, steps=30, save="final")
    assert single.theta.dtype == np.float32
    np.testing.assert_allclose(single.theta[-1], batch.theta[-1], rtol=1e-4, atol=1e-6)


def test_momentum_schedule_refusals():
    s = S.cyclic(0.01, 0.1, 4)
    with pytest.raises(NotImplementedError, match="momentum schedule"):
        gf.methods.SGD(momentum=s.momentum).amplification_matrix()
    with pytest.raises(ValueError, match="nesterov"):
        gf.methods.SGD(momentum=s.momentum, nesterov=True, dampening=0.5)
    with pytest.raises(ValueError, match="max_momentum"):
        S.cyclic(0.01, 0.1, 4, max_momentum=1.0)
    with pytest.raises(TypeError, match="momentum"):
        gf.methods.SGD(momentum="0.9")


# ---------------------------------------------------------------------------------------
# CosineAnnealingWarmRestarts: per step, and with fractional epochs step(k/n)
# ---------------------------------------------------------------------------------------
def check_cosine_restarts_fractional_epochs_are_pytorchs_step_epoch(seed):
    L = _L()
    rng = np.random.default_rng(seed)
    for _ in range(6):
        t0, mult, spe = int(rng.integers(1, 5)), int(rng.integers(1, 4)), int(rng.integers(1, 8))
        lr, eta = rng.uniform(0.05, 1.0), rng.uniform(0.0, 0.02)
        n = spe * t0 * (1 + mult + mult**2) + 3
        epochs = np.arange(n) / spe
        make = lambda o, t0=t0, mult=mult, eta=eta: L.CosineAnnealingWarmRestarts(  # noqa: E731
            o, t0, mult, eta
        )
        ref, _ = drive(make, n, lr, epochs=epochs)
        s = S.cosine_restarts(lr, t0, mult, eta, steps_per_epoch=spe)
        np.testing.assert_allclose(s(np.arange(n)), ref, rtol=RTOL)
        if spe == 1:
            # An epoch per step is the plain scheduler.step() loop.
            plain, _ = drive(make, n, lr)
            np.testing.assert_allclose(s(np.arange(n)), plain, rtol=RTOL)


def test_cosine_restarts_whole_epochs_of_a_fractional_schedule():
    s1 = S.cosine_restarts(0.3, 3, 2, 0.01)
    s5 = S.cosine_restarts(0.3, 3, 2, 0.01, steps_per_epoch=5)
    k = np.arange(60)
    # Equal to rounding: π·T_cur/T_i is formed in PyTorch's order, (π·T_cur)/T_i.
    np.testing.assert_allclose(s5(5 * k), s1(k), rtol=1e-14)
    assert s5.span == 5 * s1.span
    assert "k/5" in s5.describe() and "steps_per_epoch=5" in repr(s5)
    assert repr(s1) == "cosine_restarts(lr=0.3, period=3, mult=2, min_lr=0.01)"


CHECKS = [
    check_cyclic_momentum_defaults_are_pytorchs,
    check_sgd_follows_one_cycle_momentum_like_pytorch,
    check_lambda_factor_is_lambdalr,
    check_multiplicative_is_multiplicativelr_factor_from_step_one,
    check_product_is_chainedscheduler,
    check_cyclic_and_its_momentum_are_cycliclr,
    check_one_cycle_momentum_is_onecyclelrs,
    check_sgd_follows_a_cyclic_momentum_schedule_like_pytorch,
    check_cosine_restarts_fractional_epochs_are_pytorchs_step_epoch,
]


def test_every_check_on_one_draw():
    for check in CHECKS:
        check(0)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__[len("check_") :])
def test_random_draws(check, seed):
    check(seed)
