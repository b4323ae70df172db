"""The gradflow command."""

import subprocess
import sys

import pytest

import gradflow
from gradflow.cli import main


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert gradflow.__version__ in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "demo" in capsys.readouterr().out


def test_info_lists_problems_and_methods(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    for name in ("rosenbrock", "muller_brown", "mlp_regression", "Euler"):
        assert name in out


def test_demo_reports_order_one_and_the_stability_crossing(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert out.count("h crossed 2/λmax") == 2
    orders = [
        float(line.split(":")[1].split()[0])
        for line in out.splitlines()
        if "observed order" in line
    ]
    assert len(orders) == 2 and all(abs(p - 1.0) < 0.05 for p in orders)


def test_console_script_module_entry_runs():
    out = subprocess.run(
        [sys.executable, "-m", "gradflow.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.startswith("gradflow ")


def test_import_does_not_load_sympy_or_matplotlib():
    code = "import sys, gradflow; print('sympy' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
