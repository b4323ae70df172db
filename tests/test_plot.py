"""gradflow.plot figures are produced (Agg backend): files, artists, ax passthrough."""

from __future__ import annotations

import subprocess
import sys

import matplotlib
import numpy as np
import pytest

import gradflow as gf

matplotlib.use("Agg")
import matplotlib.pyplot as plt


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def sweep():
    problem = gf.problems.quadratic([1.0, 10.0], seed=0)
    hs = np.array([0.05, 0.1, 0.15, 0.21])
    return problem, gf.solve(problem, np.ones((4, 2)), stepsize=hs, steps=60, save_every=2)


def test_import_does_not_load_matplotlib():
    code = "import sys, gradflow, gradflow.plot; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


def test_trajectories_log_levels_on_muller_brown_and_files(tmp_path):
    p = gf.problems.muller_brown()
    traj = gf.solve(p, [[-1.0, 1.2], [0.8, 0.3]], stepsize=2e-4, steps=500, save_every=10)
    ax = gf.plot.trajectories(p, traj, labels=["a", "b"], resolution=50)
    assert ax.get_lines() and ax.collections  # paths and filled contours
    assert ax.figure.axes[-1].get_ylabel().endswith("(log)")  # negative losses shifted, log
    assert [t.get_text() for t in ax.get_legend().get_texts()][:2] == ["a", "b"]
    paths = gf.plot.save(ax.figure, tmp_path / "sub" / "traj")
    assert [p.suffix for p in paths] == [".pdf", ".png"]
    assert all(p.stat().st_size > 0 for p in paths)


def test_trajectories_linear_levels_and_ax_passthrough(sweep):
    problem, traj = sweep
    fig, ax = plt.subplots()
    out = gf.plot.trajectories(problem, traj, ax=ax, resolution=30, colorbar=False)
    assert out is ax
    assert len(fig.axes) == 1
    with pytest.raises(ValueError, match="2-D problem"):
        gf.plot.trajectories(gf.problems.quadratic([1.0, 2.0, 3.0]), traj)


def test_loss_curves_and_stepsizes(sweep):
    _, traj = sweep
    _fig, (a, b) = plt.subplots(1, 2)
    assert gf.plot.loss_curves(traj, a, minimum=0.0) is a
    assert len(a.get_lines()) == 4 and a.get_yscale() == "log"
    assert gf.plot.stepsizes(traj, b, x="t") is b
    assert len(b.get_lines()) == 4 and b.get_xlabel() == "time $t$"
    with pytest.raises(ValueError, match="labels"):
        gf.plot.loss_curves(traj, labels=["only one"])
    with pytest.raises(ValueError, match="x must be"):
        gf.plot.stepsizes(traj, x="time")


def test_stability_region_one_and_several_methods():
    ax = gf.plot.stability_region(gf.methods.RungeKutta(gf.methods.RK4), resolution=61)
    assert ax.collections  # shaded region and boundary
    assert "2.79" in ax.texts[0].get_text()
    _fig, ax2 = plt.subplots()
    methods = [gf.methods.Euler(), gf.methods.HeavyBall(0.5), gf.methods.ImplicitEuler()]
    out = gf.plot.stability_region(methods, ax2, resolution=41)
    assert out is ax2
    labels = [t.get_text() for t in ax2.get_legend().get_texts()]
    # The stability limit is ℓ; β is heavy ball's momentum.
    assert labels == [
        "Euler ($\\ell = 2$)",
        "HeavyBall, $\\beta = 0.5$ ($\\ell = 3$)",
        "ImplicitEuler ($\\ell = \\infty$)",
    ]


def test_sharpness_draws_threshold_per_step_size():
    values = np.array([[10.0, 12.0], [15.0, 19.0], [19.9, 9.9]])
    ax = gf.plot.sharpness(values, np.array([0.1, 0.2]), steps=[0, 5, 10])
    levels = sorted(
        line.get_ydata()[0]
        for line in ax.get_lines()
        if line.get_linestyle() == "--" and len(line.get_ydata())
    )
    assert levels == pytest.approx([10.0, 20.0])
    with pytest.raises(ValueError, match="broadcast"):
        gf.plot.sharpness(values, [0.1, 0.2, 0.3])


def test_sharpness_from_tracker():
    p = gf.problems.quadratic([1.0, 10.0], seed=0)
    tracker = gf.curvature.track_sharpness(p, every=5, algorithm="dense")
    gf.solve(p, np.ones((2, 2)), stepsize=np.array([0.05, 0.1]), steps=20, callback=tracker)
    _fig, ax = plt.subplots()
    assert gf.plot.sharpness(tracker, [0.05, 0.1], ax) is ax
    assert len(ax.get_lines()) == 5


def test_convergence_annotates_fitted_slopes():
    h = np.array([0.1, 0.05, 0.025])
    errors = np.stack([h, h**2], axis=1)
    ax = gf.plot.convergence(h, errors)
    assert [t.get_text() for t in ax.texts] == ["slope 1.00", "slope 2.00"]
    assert ax.get_xscale() == ax.get_yscale() == "log"
    _fig, ax2 = plt.subplots()
    out = gf.plot.convergence(None, {"a": (h, 3 * h**3), "b": (h[:2], h[:2])}, ax2)
    assert out is ax2 and [t.get_text() for t in ax2.texts] == ["slope 3.00", "slope 1.00"]
    with pytest.raises(ValueError, match="two positive"):
        gf.plot.convergence(h, [1.0, 0.0, 0.0])


def test_spectral_density_and_work_precision(tmp_path):
    p = gf.problems.quadratic([1.0, 2.0, 10.0], seed=0)
    sd = gf.curvature.spectral_density(p, np.ones((2, 3)), n_lanczos=3, n_probes=2, seed=0)
    _fig, ax = plt.subplots()
    assert gf.plot.spectral_density(sd, ax, labels=["x", "y"]) is ax
    assert len(ax.get_lines()) == 4 and ax.get_yscale() == "log"  # 2 curves + 2 node rugs
    wp = gf.plot.work_precision({"a": ([10, 100], [1e-2, 1e-6]), "b": ([20, 200], [1e-3, 0.0])})
    assert [line.get_label() for line in wp.get_lines()] == ["a", "b"]
    assert np.all(wp.get_lines()[1].get_ydata() > 0)  # exact zero drawn at the floor
    with pytest.raises(ValueError, match="no key"):
        gf.plot.work_precision([{"solver": "a", "error": 1.0}])


def test_style_restores_settings_and_sets_palette(tmp_path):
    before = dict(matplotlib.rcParams)
    with gf.plot.style() as params:
        _fig, ax = plt.subplots()
        ax.plot([0, 1])
        assert ax.get_lines()[0].get_color().lower() == gf.plot.OKABE_ITO[0].lower()
        paths = gf.plot.save(ax, tmp_path / "styled.png")
    assert params["pdf.fonttype"] == 42
    assert [p.name for p in paths] == ["styled.pdf", "styled.png"]
    assert matplotlib.rcParams["figure.figsize"] == before["figure.figsize"]
    with pytest.raises(ValueError, match="width"):
        with gf.plot.style(width=0):
            pass
