"""The edge of stability on the digits (gradflow.papers.eos_digits): the problem it
builds, the quick claim, and the CLI's skip when an optional library is absent."""

from __future__ import annotations

import numpy as np
import pytest

from gradflow.cli import main
from gradflow.papers import eos_digits


def test_cli_skips_the_paper_when_a_requirement_is_missing(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(eos_digits, "REQUIRES", ("torch", "no_such_module_gradflow"))
    code = main(["papers", "run", "eos_digits", "--quick", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 0
    assert "eos_digits: skipped (needs no_such_module_gradflow" in err
    assert not (tmp_path / "eos_digits").exists()


def test_problem_is_the_papers_network_on_the_bundled_digits():
    torch = pytest.importorskip("torch", reason="the paper's network is written in PyTorch")
    datasets = pytest.importorskip("sklearn.datasets", reason="the digits ship in scikit-learn")
    problem = eos_digits.digits_problem(40, 4)
    assert problem.n_samples == 40 and problem.dim == 64 * 4 + 4 + 4 * 4 + 4 + 4 * 10 + 10
    # The loss at θ0 against a hand computation with the same (seeded) network.
    X, y = datasets.load_digits(return_X_y=True)
    X = X[:40] / 16.0
    X = X - X.mean(axis=0)
    theta0 = problem.theta_from_module()
    out = problem.model.double()(torch.from_numpy(X)).detach().numpy()
    expected = 0.5 * np.mean(np.sum((out - np.eye(10)[y[:40]]) ** 2, axis=1))
    np.testing.assert_allclose(problem.loss(theta0), expected, rtol=1e-12)


@pytest.mark.slow  # about a minute on a loaded 2-core machine; CI runs it via papers --quick
def test_quick_claim_holds(tmp_path):
    pytest.importorskip("torch", reason="the paper's network is written in PyTorch")
    pytest.importorskip("sklearn", reason="the digits ship in scikit-learn")
    result = eos_digits.run(tmp_path, quick=True)
    assert result.passed, [c for c in result.checks if not c.passed]
    assert len(result.checks) == 3 * len(eos_digits.QUICK[2])
