"""The reaction-path example: which minima each saddle joins, and its error estimates."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "reaction_path.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("reaction_path_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def branches(example):
    return example.main(quick=True, figure=None)


def test_each_saddle_joins_the_expected_minima(example, branches):
    import gradflow as gf

    surface = gf.problems.muller_brown()
    np.testing.assert_allclose(surface.saddles, [[-0.822, 0.624], [0.212, 0.293]], atol=1e-3)
    np.testing.assert_allclose(
        surface.minima, [[-0.558, 1.442], [0.623, 0.028], [-0.050, 0.467]], atol=1e-3
    )
    # Saddle (-0.82, 0.62) joins (-0.558, 1.442) and (-0.050, 0.467); saddle
    # (0.212, 0.293) joins (-0.050, 0.467) and (0.623, 0.028).
    assert example.connections(branches) == {0: {0, 2}, 1: {1, 2}}
    for b in branches:  # each descent ends on its minimum
        assert np.linalg.norm(b.descent[-1] - surface.minima[b.minimum]) < 1e-8


def test_refined_paths_and_their_error_estimates(branches):
    for b in branches:
        assert b.order == pytest.approx(1.0, abs=0.1)
        assert b.error[-1] < b.raw_error[-1] / 50  # extrapolation pays
        ratio = b.estimate[1:] / b.error[1:]  # s = 0 is exact
        # Measured (quick): 1.01 … 1.51 at the path ends, 0.59 … 2.65 along the paths.
        assert 0.5 <= ratio[-1] <= 2.0
        assert np.all((ratio >= 0.25) & (ratio <= 4.0))


def test_the_figure_is_written(example, tmp_path):
    pytest.importorskip("matplotlib")
    target = tmp_path / "paths.png"
    example.main(quick=True, figure=target)
    assert target.stat().st_size > 10_000
