"""The numeric real stability limit (from the method's own step) against the exact one."""

from __future__ import annotations

import inspect
import math
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

from gradflow import methods
from gradflow.methods import TABLEAUX, RungeKutta
from gradflow.stability import real_stability_limit, stability_function

z = sp.Symbol("z")
REL = 1e-12


def _default_methods() -> dict[str, methods.Method]:
    """Every exported method class that builds without arguments (as ``gradflow info``)."""
    out = {}
    for name in methods.__all__:
        obj = getattr(methods, name)
        if inspect.isclass(obj) and issubclass(obj, methods.Method) and obj is not methods.Method:
            try:
                out[name] = obj()
            except (TypeError, ValueError):
                continue
    return out


VARIANTS = {
    "HeavyBall(0.3)": methods.HeavyBall(beta=0.3),
    "HeavyBall(0.99)": methods.HeavyBall(beta=0.99),
    "Nesterov(0.5)": methods.Nesterov(beta=0.5),
    "SGD(momentum)": methods.SGD(momentum=0.9),
    "SGD(nesterov)": methods.SGD(momentum=0.9, nesterov=True),
    "SGD(dampening)": methods.SGD(momentum=0.5, dampening=0.3),
}
ALL = {**_default_methods(), **VARIANTS, **{t: RungeKutta(TABLEAUX[t]) for t in TABLEAUX}}


def _agree(numeric: float, exact: float) -> bool:
    if math.isinf(exact):
        return numeric == exact
    return abs(numeric - exact) <= REL * exact


@pytest.mark.parametrize("name", list(ALL), ids=list(ALL))
def test_numeric_limit_equals_the_symbolic_limit(name):
    method = ALL[name]
    try:
        exact = real_stability_limit(method)
    except TypeError:
        with pytest.raises(TypeError, match="linear"):
            real_stability_limit(method, algorithm="numeric")
        return
    numeric = real_stability_limit(method, algorithm="numeric")
    assert _agree(numeric, exact), (numeric, exact)


@pytest.mark.parametrize("name", list(TABLEAUX), ids=list(TABLEAUX))
def test_numeric_limit_is_the_first_root_of_abs_R_equal_one(name):
    # Independent of both paths: the real roots of R(-x) = ±1 by sympy's nroots.
    R = stability_function(RungeKutta(TABLEAUX[name]))
    x = sp.Symbol("x")
    roots = []
    for target in (1, -1):
        poly = sp.Poly(sp.expand(R.subs(z, -x) - target), x)
        roots += [complex(r).real for r in poly.nroots(n=30) if abs(complex(r).imag) < 1e-20]
    expected = min(r for r in roots if r > 1e-9)
    numeric = real_stability_limit(RungeKutta(TABLEAUX[name]), algorithm="numeric")
    assert abs(numeric - expected) <= REL * expected


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9])
def test_numeric_limit_of_momentum_matches_the_closed_forms(beta):
    # Polyak: 2(1 + β); PyTorch Nesterov: (2 + 2β)/(1 + 2β).
    heavy = real_stability_limit(methods.HeavyBall(beta=beta), algorithm="numeric")
    nesterov = real_stability_limit(methods.Nesterov(beta=beta), algorithm="numeric")
    assert abs(heavy - 2 * (1 + beta)) <= REL * heavy
    assert abs(nesterov - (2 + 2 * beta) / (1 + 2 * beta)) <= REL * nesterov


def test_numeric_limit_of_the_asymptotic_agd_iteration():
    # Su–Boyd–Candès with the momentum coefficient at its limit 1: s λmax < 4/3.
    value = real_stability_limit(methods.NesterovAGD(), algorithm="numeric")
    assert abs(value - 4 / 3) <= REL


def test_numeric_path_rejects_nonlinear_methods_and_bad_arguments():
    for method in (methods.Adam(), methods.Lion(), methods.Clipped(methods.Euler(), clip_norm=1.0)):
        with pytest.raises(TypeError, match="linear"):
            real_stability_limit(method, algorithm="numeric")
    with pytest.raises(TypeError, match="method"):
        real_stability_limit("euler", algorithm="numeric")
    with pytest.raises(ValueError, match="algorithm"):
        real_stability_limit(methods.Euler(), algorithm="exact")


def test_numeric_path_imports_neither_sympy_nor_scipy():
    code = (
        "import sys, gradflow as gf\n"
        "gf.stability.real_stability_limit(gf.methods.RungeKutta(gf.methods.RK4), "
        "algorithm='numeric')\n"
        "print('sympy' in sys.modules, 'scipy.optimize' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_numeric_limit_is_deterministic():
    method = methods.RungeKutta(methods.DOPRI54)
    values = {real_stability_limit(method, algorithm="numeric") for _ in range(2)}
    assert len(values) == 1 and np.isfinite(values.pop())
