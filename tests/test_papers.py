"""Paper reproductions: the registry, each quick run's checks and files, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gradflow.cli import main
from gradflow.papers import PAPERS, PaperResult, load

NAMES = list(PAPERS)


def test_registry_lists_the_papers_with_claims_and_run():
    assert NAMES == [
        "edge_of_stability",
        "implicit_regularization",
        "stability_bounds",
        "schedules",
        "reaction_path",
        "adgd",
        "catapult",
        "sgd_implicit_regularization",
        "lr_free",
        "batch_size_schedule",
        "linear_scaling",
        "eos_digits",
    ]
    for name in NAMES:
        module = load(name)
        assert module.NAME == name
        assert isinstance(module.CLAIM, str) and len(module.CLAIM) > 20
        assert callable(module.run)
    with pytest.raises(ValueError, match="unknown paper"):
        load("nope")


#: Quick runs of more than a few seconds: CI runs every paper with ``gradflow papers run
#: --all --quick`` after the tests, so here they are slow checks.
LONG = {
    "stability_bounds",
    "edge_of_stability",
    "schedules",
    "implicit_regularization",
    "catapult",
    "sgd_implicit_regularization",
    "lr_free",
    "batch_size_schedule",
    "linear_scaling",
    "eos_digits",
}


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=[pytest.mark.slow] if n in LONG else []) for n in NAMES]
)
def test_quick_run_passes_and_writes_figures(name, tmp_path):
    for module in getattr(load(name), "REQUIRES", ()):  # optional libraries (eos_digits)
        pytest.importorskip(module, reason=f"paper {name} needs {module} (test extra)")
    result = load(name).run(tmp_path, quick=True)
    assert isinstance(result, PaperResult)
    assert result.name == name and result.quick
    assert result.checks, "a reproduction must check its claim"
    failed = [c for c in result.checks if not c.passed]
    assert not failed, failed
    assert result.passed
    assert result.runtime > 0
    folder = tmp_path / name
    for ext in ("pdf", "png", "json"):
        files = list(folder.glob(f"*.{ext}"))
        assert files, f"no .{ext} written"
        assert all(f.stat().st_size > 0 for f in files)
        assert all(str(f) in result.figures for f in files)
    payload = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
    assert payload["passed"] is True
    assert len(payload["checks"]) == len(result.checks)
    assert payload["claim"] == result.claim


def test_figures_have_labelled_axes(tmp_path, monkeypatch):
    """The figure written by a paper has labelled axes (artists, not pixels)."""
    import gradflow.papers._result as base

    saved = []
    original = base.save_figure

    def spy(fig, directory, stem, result):
        saved.append(fig)
        original(fig, directory, stem, result)

    module = load("implicit_regularization")
    monkeypatch.setattr(module, "save_figure", spy)
    module.run(tmp_path, quick=True)
    (fig,) = [f for f in saved if hasattr(f, "axes")]
    ax = fig.axes[0]
    assert ax.get_xlabel() and ax.get_ylabel()
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert ax.get_legend() is not None
    assert len(ax.get_lines()) >= 4  # two error series and their fitted slopes


def test_cli_papers_list(capsys):
    assert main(["papers", "list"]) == 0
    out = capsys.readouterr().out
    for name in NAMES:
        assert name in out
    assert out.count("claim:") == len(NAMES)


def test_cli_papers_run_one_quick(tmp_path, capsys):
    assert (
        main(["papers", "run", "implicit_regularization", "--quick", "--out", str(tmp_path)]) == 0
    )
    captured = capsys.readouterr()
    assert "implicit_regularization: PASS" in captured.out
    assert "[1/1] implicit_regularization" in captured.err
    assert (tmp_path / "implicit_regularization" / "implicit_regularization.png").stat().st_size


def test_cli_papers_run_fails_on_a_failed_claim(tmp_path, capsys, monkeypatch):
    module = load("implicit_regularization")
    monkeypatch.setattr(module, "SLOPE_TOL", 1e-9)  # an impossible criterion
    assert (
        main(["papers", "run", "implicit_regularization", "--quick", "--out", str(tmp_path)]) == 1
    )
    captured = capsys.readouterr()
    assert "FAIL" in captured.out
    assert "claims failed: implicit_regularization" in captured.err


def test_cli_papers_run_rejects_unknown_and_empty(capsys):
    assert main(["papers", "run", "nope"]) == 2
    assert "unknown paper" in capsys.readouterr().err
    assert main(["papers", "run"]) == 2


def test_cli_stability_rosenbrock_euler(capsys):
    assert main(["stability", "rosenbrock", "--method", "euler"]) == 0
    out = capsys.readouterr().out
    assert "predicted critical step    0.0019968" in out
    measured = float(out.split("measured critical step")[1].split()[0])
    assert abs(measured - 0.0019968) / 0.0019968 < 0.02
    assert "note:" not in out


def test_cli_stability_rejects_unknown_names(capsys):
    assert main(["stability", "nope"]) == 2
    assert "unknown problem" in capsys.readouterr().err
    assert main(["stability", "rosenbrock", "--method", "nope"]) == 2
    assert "unknown method" in capsys.readouterr().err


def test_papers_do_not_load_matplotlib_on_import():
    code = (
        "import sys, gradflow.papers as p; [p.load(n) for n in p.PAPERS]; "
        "print('matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False"]
