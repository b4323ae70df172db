"""Every script in examples/ runs to completion (Agg backend, a temporary output folder)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


def run(script: Path, out: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, MPLBACKEND="Agg", GRADFLOW_EXAMPLES_OUT=str(out))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", str(script), *args],
        cwd=out,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_there_are_examples():
    assert len(EXAMPLES) >= 4


#: Examples whose quick run takes more than a few seconds (what they call is validated
#: by the tests of verify_bound and Richardson extrapolation).
LONG = {"stability_bound", "richardson_order"}


@pytest.mark.parametrize(
    "script",
    [pytest.param(p, marks=[pytest.mark.slow] if p.stem in LONG else []) for p in EXAMPLES],
    ids=lambda p: p.stem,
)
def test_example_runs_quick(script, tmp_path):
    result = run(script, tmp_path, "--quick")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip(), "an example prints its numbers"
    for figure in tmp_path.glob("*.png"):
        assert figure.stat().st_size > 0


@pytest.mark.slow
@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs_full(script, tmp_path):
    result = run(script, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert list(tmp_path.glob("*.png")), "the full run writes its figure"
