"""gradflow.diagnose against a labelled set of runs (tests/validation/diagnose_cases.py).

Each label is fixed by how the run is built (theory: the critical step of the method at
a minimum, a flip bifurcation, a catapult window, a saddle's escape time), and each
construction is checked on the run itself without diagnose.  Two measures:

* accuracy: at least 90 % of the labels right (the whole set, ``-m slow``; every case of
  the quick subset);
* every suggested step, rerun with the same steps, converges (the gradient falls by
  10⁴) or reaches a loss at most the original run's, without diverging.
"""

from __future__ import annotations

import numpy as np
import pytest
from diagnose_cases import CASES, QUICK

import gradflow as gf

#: The accuracy the whole set must reach.
ACCURACY = 0.9


def _evaluate(case):
    built = case.build()
    assert built.check(), f"{case.name}: the construction did not hold"
    report = gf.diagnose(built.run, built.problem, **built.kwargs)
    label = str(report.label)
    h = float(report.suggested_stepsize)
    rerun_ok = None
    if np.isfinite(h):
        _, final, diverged, converged = built.rerun(h)
        tol = 1e-9 * abs(built.final_loss)
        rerun_ok = (not diverged) and (converged or final <= built.final_loss + tol)
    return label, h, rerun_ok, report


@pytest.mark.parametrize("case", QUICK, ids=lambda c: c.name)
def test_quick_subset(case):
    label, h, rerun_ok, report = _evaluate(case)
    assert label == case.label, report.text
    assert rerun_ok is not False, (case.name, h, report.text)


@pytest.mark.slow
def test_the_whole_set():
    assert len(CASES) >= 40
    rows = [(case, *_evaluate(case)) for case in CASES]
    right = sum(label == case.label for case, label, *_ in rows)
    accuracy = right / len(rows)
    wrong = [(c.name, c.label, label) for c, label, *_ in rows if label != c.label]
    assert accuracy >= ACCURACY, wrong
    bad = [(c.name, h) for c, _, h, ok, _ in rows if ok is False]
    assert not bad, bad
    suggested = sum(ok is not None for *_, ok, _ in rows)
    assert suggested >= 0.9 * len(rows)  # a number almost everywhere, n/a with a reason else
    kinds = {tag for c in CASES for tag in c.name.split("-")[:1]}
    assert {"gd", "rk4", "hb", "nesterov", "adam", "sgd", "log", "final"} <= kinds
