"""gradflow.plot.schedules draws several schedules on one axes (Agg backend)."""

from __future__ import annotations

import subprocess
import sys

import matplotlib
import numpy as np
import pytest

import gradflow as gf
from gradflow import schedules as S

matplotlib.use("Agg")
import matplotlib.pyplot as plt


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_draws_each_schedule_and_writes_the_file(tmp_path):
    items = [
        S.cosine(0.1, 100, min_lr=1e-3),
        S.warmup_cosine(0.1, 10, 100),
        S.one_cycle(0.1, 100),
        S.cosine_restarts(0.1, 20, 2),
        S.step_decay(0.1, 30, 0.5),
    ]
    ax = gf.plot.schedules(items, k=120, title="schedules")
    lines = ax.get_lines()
    assert len(lines) == 5
    for line, s in zip(lines, items, strict=True):
        x, y = line.get_data()
        np.testing.assert_array_equal(x, np.arange(121))
        np.testing.assert_array_equal(y, s(np.arange(121)))
        assert line.get_drawstyle() == "steps-post"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[0] == "cosine(lr=0.1, total_steps=100, min_lr=0.001)"
    assert ax.get_xlabel() == "step index $k$" and "step size" in ax.get_ylabel()
    path = tmp_path / "schedules.png"
    ax.figure.savefig(path, dpi=80)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def test_sweeps_draw_one_line_per_value_and_log_scale():
    sweep = S.warmup_cosine(np.array([0.1, 0.05, 0.02]), 10, 100, init_lr=1e-3)
    ax = gf.plot.schedules([sweep, S.noam(64, 10)], log=True)
    assert len(ax.get_lines()) == 4
    assert ax.get_yscale() == "log"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "peak_lr=0.05" in legend[1]
    # Default range: the largest span (noam: 10 warmups = 100 steps; warmup_cosine: 111).
    assert ax.get_lines()[0].get_xdata()[-1] == max(sweep.span, S.noam(64, 10).span)


def test_single_schedule_given_axes_labels_and_index_array():
    _, ax = plt.subplots()
    out = gf.plot.schedules(S.exponential(1.0, 0.9), k=np.arange(0, 50, 5), ax=ax, labels=["exp"])
    assert out is ax
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_xdata(), np.arange(0, 50, 5))
    assert line.get_label() == "exp"
    # Plain callables work too.
    gf.plot.schedules([lambda k: 0.1 / (1 + k)], k=10, ax=ax)
    assert len(ax.get_lines()) == 2


def test_bad_arguments():
    with pytest.raises(ValueError, match="labels"):
        gf.plot.schedules([S.constant(0.1)], labels=["a", "b"])
    with pytest.raises(TypeError, match="callable"):
        gf.plot.schedules([S.constant(0.1), 0.2])
    with pytest.raises(TypeError, match="k must be"):
        gf.plot.schedules([S.constant(0.1)], k=np.linspace(0, 1, 5))
    with pytest.raises(ValueError, match="k must be"):
        gf.plot.schedules([S.constant(0.1)], k=0)
    with pytest.raises(ValueError, match="empty"):
        gf.plot.schedules([])


def test_import_gradflow_does_not_import_matplotlib():
    code = (
        "import sys, gradflow, gradflow.plot; "
        "print('matplotlib' in sys.modules, 'sympy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
