"""Progress bars: solve, verify_bound and the papers CLI (tqdm, an optional extra)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import gradflow as gf

pytest.importorskip("tqdm")


def test_solve_progress_shows_steps_active_and_diverged(capsys):
    p = gf.problems.quadratic([1.0, 10.0], seed=0)
    theta0 = np.ones((3, 2))
    h = np.array([0.01, 0.1, 0.3])  # the last one diverges (h > 2/10)
    with_bar = gf.solve(p, theta0, stepsize=h, steps=400, progress=True)
    err = capsys.readouterr().err
    assert "400/400" in err and "diverged=1" in err and "active=0" in err
    without = gf.solve(p, theta0, stepsize=h, steps=400)
    np.testing.assert_array_equal(with_bar.theta, without.theta)
    assert with_bar.status.tolist() == without.status.tolist()


def test_t_final_progress_counts_time(capsys):
    p = gf.problems.rosenbrock()
    gf.solve(p, np.zeros((2, 2)), stepsize=1e-3, t_final=0.5, save="final", progress=True)
    assert "0.5/0.5" in capsys.readouterr().err


def test_progress_must_be_a_bool():
    p = gf.problems.rosenbrock()
    with pytest.raises(TypeError, match="progress"):
        gf.solve(p, np.zeros(2), stepsize=1e-3, steps=3, progress="yes")


def test_missing_tqdm_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with pytest.raises(ImportError, match=r"gradflow-ode\[progress\]"):
        gf.solve(gf.problems.rosenbrock(), np.zeros(2), stepsize=1e-3, steps=3, progress=True)


def test_verify_bound_progress_names_the_stages(capsys):
    p = gf.problems.quadratic([0.5, 3.0, 10.0], seed=4)
    check = gf.stability.verify_bound(p, [1.0, -0.5, 0.3], gf.methods.Euler(), progress=True)
    err = capsys.readouterr().err
    assert "verify_bound" in err and "stage=descent" in err
    assert abs(float(check.relative_gap)) < 0.01


def test_papers_cli_progress_flag(capsys, tmp_path):
    from gradflow.cli import _papers_bar, main

    assert (
        main(["papers", "run", "schedules", "--quick", "--progress", "--out", str(tmp_path)]) == 0
    )
    assert "1/1" in capsys.readouterr().err
    assert _papers_bar(False, 3) is None
    assert _papers_bar(None, 3) is None  # standard error is not a terminal under pytest


def test_lr_find_progress(capsys):
    p = gf.problems.quadratic([1.0, 10.0], seed=0)
    gf.stepsize.lr_find(p, np.ones(2), steps=50, progress=True)
    err = capsys.readouterr().err
    assert "/50" in err and "active=0" in err  # the sweep may end early (it blew up)
