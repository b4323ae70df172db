"""What a paper reproduction returns and writes: :class:`Check`, :class:`PaperResult`.

Each paper module computes, checks its claim with explicit numeric criteria, and writes
``out_dir/NAME/`` with its figures (PDF + PNG, via :func:`save_figure`) and the numbers
(``NAME.json``, via :func:`write_json`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gradflow._provenance import environment

__all__ = ["Check", "PaperResult", "new_figure", "paper_dir", "save_figure", "write_json"]


@dataclass(frozen=True)
class Check:
    """One numeric check of a claim.

    Attributes
    ----------
    description : str
        What is measured.
    measured : str
        The measured number(s), formatted.
    criterion : str
        The pass criterion, in words and numbers.
    passed : bool
    """

    description: str
    measured: str
    criterion: str
    passed: bool


@dataclass
class PaperResult:
    """Summary of one reproduction.

    Attributes
    ----------
    name, claim : str
    checks : list of Check
    figures : list of str
        Paths of the files written (PDF, PNG, JSON).
    runtime : float
        Wall time in seconds.
    quick : bool
        Whether it was the ``--quick`` size.
    numbers : dict
        The measured numbers (also in the JSON file).
    """

    name: str
    claim: str
    checks: list[Check] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    runtime: float = 0.0
    quick: bool = False
    numbers: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True when every check passed (and there is at least one)."""
        return bool(self.checks) and all(c.passed for c in self.checks)

    def check(self, description: str, measured: str, criterion: str, passed: Any) -> bool:
        """Append a :class:`Check` and return whether it passed."""
        self.checks.append(Check(description, measured, criterion, bool(passed)))
        return bool(passed)


def paper_dir(out_dir: str | Path, name: str) -> Path:
    """``out_dir/name``, created."""
    path = Path(out_dir) / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return v if np.isfinite(v) else str(v)
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    return value


def write_json(result: PaperResult, directory: Path) -> Path:
    """Write ``NAME.json``: claim, checks, numbers, runtime and provenance (gradflow,
    numpy, scipy and Python versions, platform, date, git commit: see
    :func:`gradflow._provenance.environment`); append it to the figures."""
    path = directory / f"{result.name}.json"
    payload = {
        "name": result.name,
        "claim": result.claim,
        "quick": result.quick,
        "passed": result.passed,
        "runtime_s": round(result.runtime, 2),
        "checks": [asdict(c) for c in result.checks],
        "numbers": _plain(result.numbers),
        "provenance": environment(),
    }
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    result.figures.append(str(path))
    return path


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 7.0, height: float = 3.2) -> Any:
    """A matplotlib ``Figure`` (no pyplot, no display needed) and its axes."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def save_figure(fig: Any, directory: Path, stem: str, result: PaperResult) -> None:
    """Save ``fig`` as ``stem.pdf`` and ``stem.png`` in ``directory``; record both."""
    for ext in ("pdf", "png"):
        path = directory / f"{stem}.{ext}"
        fig.savefig(path, dpi=150)
        result.figures.append(str(path))
