"""lr_find: the sweep, the smoothing, the stop and fastai's suggestions, written out here."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest

import gradflow as gf

matplotlib.use("Agg")


def reference_run(problem, theta0, lrs, beta=0.98, factor=4.0):
    """One start, scalar bookkeeping: fastai's LRFinder with the documented choices.

    ``lrs`` is the sweep (checked against its formula separately): a last-ulp difference
    in a step size would grow over a chaotic sweep.
    """
    floor = 0.0 if problem.minimum is None else problem.minimum
    theta = np.array(theta0, dtype=float)
    avg, best = 0.0, math.inf
    losses, smoothed, tripped = [], [], False
    for i, lr in enumerate(lrs):
        theta = theta - lr * problem.grad(theta)
        loss = float(problem.loss(theta))
        avg = beta * avg + (1 - beta) * loss
        smooth = avg / (1 - beta ** (i + 1))
        losses.append(loss)
        smoothed.append(smooth)
        best = min(best, smooth)
        if not math.isfinite(smooth) or smooth - floor > factor * (best - floor):
            tripped = True
            break
    return np.array(lrs), np.array(losses), np.array(smoothed), tripped


def fastai_valley(lrs, losses):
    """fastai.callback.schedule.valley, transcribed."""
    n = len(losses)
    max_start, max_end = 0, 0
    lds = [1] * n
    for i in range(1, n):
        for j in range(0, i):
            if (losses[i] < losses[j]) and (lds[i] < lds[j] + 1):
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    idx = max_start + int(sections) + int(sections / 2)
    return float(lrs[max(idx, 0)])


def fastai_suggestions(lrs, smoothed, num_it):
    lrs = lrs[: len(smoothed)][num_it // 10 : -5]
    sm = smoothed[num_it // 10 : -5]
    minimum = lrs[int(np.argmin(sm))] / 10
    grads = (sm[1:] - sm[:-1]) / (np.log(lrs[1:]) - np.log(lrs[:-1]))
    steep = lrs[int(np.argmin(grads))]
    return minimum, steep, fastai_valley(lrs, sm)


QUAD = gf.problems.quadratic([1.0, 100.0], seed=0)


def test_sweep_is_exponential_with_both_ends():
    with pytest.warns(gf.stepsize.LRFindWarning):  # 5 steps do not blow up
        res = gf.lr_find(QUAD, np.ones(2), start_lr=1e-4, end_lr=1.0, steps=5)
    np.testing.assert_allclose(res.lrs, [1e-4, 1e-3, 1e-2, 1e-1, 1.0], rtol=1e-14)
    assert res.lrs[0] == 1e-4 and res.lrs[-1] == 1.0


@pytest.mark.parametrize(
    ("problem", "theta0"),
    [
        (QUAD, [1.0, 1.0]),
        (gf.problems.rosenbrock(), [-1.2, 1.0]),
        (gf.problems.muller_brown(), [0.0, 0.0]),  # negative losses: measured from L*
        (gf.problems.quadratic(np.linspace(0.1, 1.0, 8), seed=3), np.ones(8)),  # no stop
    ],
)
@pytest.mark.filterwarnings("ignore::gradflow.stepsize.LRFindWarning")  # the no-stop case
def test_matches_the_reference_loop(problem, theta0):
    res = gf.lr_find(problem, np.asarray(theta0))
    lrs = np.array([1e-7 * (10.0 / 1e-7) ** (i / 99) for i in range(100)])
    np.testing.assert_allclose(res.lrs, lrs, rtol=1e-14)
    lrs, losses, smoothed, tripped = reference_run(problem, theta0, res.lrs.tolist())
    k = len(losses)
    assert res.n_steps == k
    assert bool(res.diverged) == tripped
    np.testing.assert_allclose(res.losses[:k], losses, rtol=1e-12)
    np.testing.assert_allclose(res.smoothed[:k], smoothed, rtol=1e-12)
    assert np.all(np.isnan(res.losses[k:]))
    minimum, steep, valley = fastai_suggestions(lrs, smoothed, 100)
    assert res.minimum == pytest.approx(minimum, rel=1e-12)
    assert res.steep == pytest.approx(steep, rel=1e-12)
    assert res.valley == pytest.approx(valley, rel=1e-12)


def test_valley_matches_fastai_on_awkward_curves():
    from gradflow.stepsize._lr_find import _valley_index

    rng = np.random.default_rng(5)
    curves = [rng.normal(size=40).cumsum() for _ in range(30)]
    curves += [
        np.linspace(5, 1, 30),
        np.ones(20),
        np.r_[np.linspace(3, 1, 10), np.linspace(1, 4, 10)],
    ]
    for curve in curves:
        lrs = np.geomspace(1e-5, 1, curve.size)
        got = lrs[_valley_index(curve[:, None], np.array([curve.size]))[0]]
        assert got == fastai_valley(lrs, curve)
    # Batched with ragged lengths (NaN-padded): each column as alone.
    width = max(c.size for c in curves)
    padded = np.full((width, len(curves)), np.nan)
    for j, c in enumerate(curves):
        padded[: c.size, j] = c
    idx = _valley_index(padded, np.array([c.size for c in curves]))
    for j, c in enumerate(curves):
        assert idx[j] == _valley_index(c[:, None], np.array([c.size]))[0]


@pytest.mark.parametrize(
    "eigenvalues", [[1.0, 100.0], [1.0, 10.0], np.logspace(-1, 2, 20), np.linspace(1, 50, 6)]
)
def test_suggestions_are_stable_on_a_quadratic_and_gd_converges(eigenvalues):
    p = gf.problems.quadratic(eigenvalues, seed=2)
    theta0 = np.ones(p.dim)
    res = gf.lr_find(p, theta0)
    limit = 2.0 / p.eigenvalues.max()
    loss0 = float(p.loss(theta0))
    for name in ("minimum", "steep", "valley"):
        h = getattr(res, name)
        assert 0 < h < limit, (name, h, limit)
        traj = gf.solve(p, theta0, stepsize=h, steps=20_000, save="final")
        assert traj.status[()] == "ok"
        assert traj.loss[-1] < 1e-2 * loss0, (name, h)


def test_batched_starts_equal_single_runs():
    p = gf.problems.rosenbrock()
    rng = np.random.default_rng(0)
    theta0 = rng.uniform(-1.5, 1.5, size=(2, 3, 2))
    res = gf.lr_find(p, theta0, steps=80)
    assert res.losses.shape == (80, 2, 3) and res.smoothed.shape == (80, 2, 3)
    assert res.n_steps.shape == (2, 3) and res.valley.shape == (2, 3)
    assert len(set(res.n_steps.ravel().tolist())) > 1  # they stop at different steps
    for idx in np.ndindex(2, 3):
        one = gf.lr_find(p, theta0[idx], steps=80)
        np.testing.assert_array_equal(res.losses[(slice(None), *idx)], one.losses)
        np.testing.assert_array_equal(res.smoothed[(slice(None), *idx)], one.smoothed)
        assert res.n_steps[idx] == one.n_steps
        for name in ("minimum", "steep", "valley"):
            assert getattr(res, name)[idx] == getattr(one, name)


@pytest.mark.filterwarnings("ignore::gradflow.stepsize.LRFindWarning")  # 40 steps: no stop
def test_seeds_draw_starts_with_problem_init():
    p = gf.problems.mlp_regression(width=4)
    res = gf.lr_find(p, None, init_seed=[0, 1], steps=40)
    assert res.n_steps.shape == (2,)
    for j, s in enumerate([0, 1]):
        one = gf.lr_find(p, p.init(seed=s), steps=40)
        np.testing.assert_array_equal(res.smoothed[:, j], one.smoothed)
    single = gf.lr_find(p, None, init_seed=3, steps=40)
    assert isinstance(single.valley, float)


def test_momentum_method_and_float32():
    res = gf.lr_find(QUAD, np.ones(2), method=gf.methods.HeavyBall(0.9))
    assert res.diverged and 0 < res.valley < 2 * (1 + 0.9) / 100
    res32 = gf.lr_find(QUAD, np.ones(2, dtype=np.float32))
    assert np.isfinite(res32.valley)


def test_short_curves_give_nan_suggestions():
    with pytest.warns(gf.stepsize.LRFindWarning, match="never fell"):
        res = gf.lr_find(QUAD, np.ones(2), start_lr=1.0, end_lr=100.0, steps=20)
    assert res.verdict == "never_decreased"
    assert res.n_steps < 20 - 5
    assert math.isnan(res.minimum) and math.isnan(res.steep) and math.isnan(res.valley)


def test_plot(tmp_path):
    res = gf.lr_find(QUAD, np.ones((2, 2)) * [[1.0], [2.0]])
    ax = res.plot()
    labels = [line.get_label() for line in ax.get_lines()]
    assert "start 0" in labels and "valley" in labels
    assert ax.get_xscale() == "log"
    path = tmp_path / "lr_find.png"
    ax.figure.savefig(path)
    assert path.stat().st_size > 10_000
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"start_lr": 0.0}, "start_lr"),
        ({"start_lr": 1.0, "end_lr": 0.5}, "end_lr"),
        ({"steps": 1}, "steps"),
        ({"smoothing": 1.0}, "smoothing"),
        ({"diverge_factor": 1.0}, "diverge_factor"),
        ({"seed": 0}, "seed"),
        ({"init_seed": 0}, "init_seed"),
    ],
)
def test_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        gf.lr_find(QUAD, np.ones(2), **kwargs)


def test_a_non_integer_step_count_is_a_type_error():
    with pytest.raises(TypeError, match="steps"):
        gf.lr_find(QUAD, np.ones(2), steps=10.0)


def test_bad_inputs():
    with pytest.raises(ValueError, match="theta0"):
        gf.lr_find(QUAD, np.ones(3))
    with pytest.raises(ValueError, match="theta0 is required"):
        gf.lr_find(QUAD, None)
    with pytest.raises(TypeError, match="method"):
        gf.lr_find(QUAD, np.ones(2), method="sgd")
    with pytest.raises(TypeError, match="problem"):
        gf.lr_find(None, np.ones(2))


def test_edge_suggestion_beside_the_critical_step():
    # 2/λmax = 0.02 from the known spectrum; edge = 0.9 of it (the sweep turns up later).
    res = gf.lr_find(QUAD, np.ones(2))
    assert res.lambda_max == pytest.approx(100.0, rel=1e-6)
    assert res.critical_stepsize == pytest.approx(0.02, rel=1e-6)
    assert res.edge == pytest.approx(0.018, rel=1e-6)
    assert res.suggestion == res.edge
    assert res.verdict == "ok"
    for name in ("minimum", "steep", "valley", "edge"):
        assert res.above_limit[name] == (getattr(res, name) > 0.02)
    text = str(res)
    assert "β/λmax(θ0) = 0.02" in text and "edge (default): h = 0.018 (0.9 × the limit)" in text
    # A momentum method has its own limit, 2(1 + β)/λmax.
    hb = gf.lr_find(QUAD, np.ones(2), method=gf.methods.HeavyBall(0.9))
    assert hb.critical_stepsize == pytest.approx(3.8 / 100, rel=1e-6)


def test_a_flag_when_a_suggestion_exceeds_the_limit():
    # A sweep that starts above the limit: every suggestion lies above β/λmax.
    with pytest.warns(gf.stepsize.LRFindWarning):
        res = gf.lr_find(QUAD, np.ones(2), start_lr=0.05, end_lr=1.0, steps=60)
    assert res.above_limit["minimum"] == (res.minimum > 0.02)
    assert "ABOVE the limit" in str(res) or not any(res.above_limit.values())


def test_a_sweep_that_never_diverged_says_so():
    # Logistic regression: the gradient is bounded, the loss never blows up.
    rng = np.random.default_rng(1)
    X = rng.standard_normal((200, 5))
    y = (X @ rng.standard_normal(5) + 0.5 * rng.standard_normal(200) > 0).astype(float)
    p = gf.problems.logistic_regression(X, y)
    with pytest.warns(gf.stepsize.LRFindWarning, match="without diverging"):
        res = gf.lr_find(p, np.zeros(5), end_lr=100.0)
    assert res.verdict == "never_diverged" and not res.diverged
    lam = np.linalg.eigvalsh(p.hessian(np.zeros(5)))[-1]
    assert res.edge == pytest.approx(0.9 * 2 / lam, rel=1e-5)


def test_edge_is_robust_to_minibatch_noise():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    y = X @ rng.normal(size=5) + 0.1 * rng.normal(size=200)
    p = gf.problems.least_squares(X, y)
    L = np.linalg.eigvalsh(X.T @ X / 200)[-1]
    edges = []
    for seed in range(3):
        res = gf.lr_find(p, np.zeros(5), batch_size=8, seed=seed, end_lr=100.0)
        edges.append(res.edge)
    np.testing.assert_allclose(edges, 0.9 * 2 / L, rtol=1e-5)


def test_adam_has_no_linear_limit_and_falls_back_to_minimum():
    res = gf.lr_find(QUAD, np.ones(2), method=gf.methods.Adam(), end_lr=100.0)
    assert np.isnan(res.critical_stepsize) and np.isnan(res.edge)
    assert res.suggestion == res.minimum
    assert "no limit" in str(res)


def test_batched_fields_have_the_batch_shape():
    res = gf.lr_find(QUAD, np.ones((2, 3, 2)))
    for name in ("edge", "suggestion", "lambda_max", "critical_stepsize", "verdict"):
        assert np.shape(getattr(res, name)) == (2, 3), name
    assert res.above_limit["edge"].shape == (2, 3)
