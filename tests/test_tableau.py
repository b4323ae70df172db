"""ButcherTableau checks its true order; the tableau registry is its folder."""

from __future__ import annotations

import sys
import textwrap
from fractions import Fraction

import numpy as np
import pytest

import gradflow as gf
from gradflow.methods import RK4, TABLEAUX, ButcherTableau
from gradflow.methods._tableaux import EXPORTS, discover


@pytest.mark.parametrize("claimed", [1, 2, 3])
def test_a_claim_below_the_true_order_is_rejected(claimed):
    with pytest.raises(ValueError, match=f"claims order {claimed}.*true order is 4"):
        ButcherTableau(A=RK4.A, b=RK4.b, order=claimed, name="RK4?")


def test_a_claim_above_the_true_order_is_rejected():
    with pytest.raises(ValueError, match=r"order-5 condition .* true order is 4, not 5"):
        ButcherTableau(A=RK4.A, b=RK4.b, order=5)


def test_float_coefficients_are_checked_within_the_tolerance():
    float_rk4 = ButcherTableau(A=RK4.a.tolist(), b=RK4.b_weights.tolist(), order=4)
    assert not float_rk4.exact and float_rk4.order == 4
    with pytest.raises(ValueError, match="true order is 4"):
        ButcherTableau(A=RK4.a.tolist(), b=RK4.b_weights.tolist(), order=3)
    perturbed = RK4.b_weights + np.array([1e-9, -1e-9, 0.0, 0.0])
    with pytest.raises(ValueError, match="true order is"):
        ButcherTableau(A=RK4.a.tolist(), b=perturbed.tolist(), order=4)


@pytest.mark.parametrize("name", [n for n, t in TABLEAUX.items() if t.has_embedded])
def test_embedded_claims_must_be_the_true_embedded_order(name):
    t = TABLEAUX[name]
    for wrong in (t.embedded_order - 1, t.embedded_order + 1):
        if wrong < 1:
            continue
        with pytest.raises(ValueError, match=f"true embedded order is {t.embedded_order}"):
            ButcherTableau(A=t.A, b=t.b, b_hat=t.b_hat, order=t.order, embedded_order=wrong)


@pytest.mark.parametrize("name", list(TABLEAUX), ids=list(TABLEAUX))
def test_every_registered_tableau_is_consistent(name):
    t = TABLEAUX[name]
    assert t.exact and t.citation and t.name == name
    # Rebuilt from its coefficients, it must hold exactly its claimed order.
    assert (
        ButcherTableau(
            A=t.A,
            b=t.b,
            b_hat=t.b_hat,
            order=t.order,
            embedded_order=t.embedded_order,
            name=t.name,
            citation=t.citation,
        )
        == t
    )
    np.testing.assert_allclose(t.c_nodes, t.a.sum(axis=1), atol=1e-15)


def test_bad_shapes_and_claims():
    with pytest.raises(ValueError, match="square"):
        ButcherTableau(A=[[0, 0], [1]], b=[1, 0])
    with pytest.raises(ValueError, match="b must have 2"):
        ButcherTableau(A=[[0, 0], [1, 0]], b=[1])
    with pytest.raises(ValueError, match="strictly lower"):
        ButcherTableau(A=[[0, 1], [0, 0]], b=[1, 0])
    with pytest.raises(ValueError, match="row sum"):
        ButcherTableau(A=[[0, 0], [1, 0]], b=["1/2", "1/2"], c=[0, "1/2"], order=2)
    with pytest.raises(ValueError, match="embedded_order"):
        ButcherTableau(A=[[0, 0], [1, 0]], b=["1/2", "1/2"], b_hat=[1, 0], order=2)
    with pytest.raises(ValueError, match="embedded_order given"):
        ButcherTableau(A=[[0]], b=[1], embedded_order=1)
    with pytest.raises(ValueError, match="positive integer"):
        ButcherTableau(A=[[0]], b=[1], order=0)


def test_the_registry_is_the_folder():
    # Every registered constant is exported under its name, and keyed by its tableau name.
    assert set(TABLEAUX) == {t.name for t in EXPORTS.values()}
    for const, tableau in EXPORTS.items():
        assert getattr(gf.methods, const) is tableau
        assert const in gf.methods.__all__
    keys = [(t.order, t.stages, t.name) for t in TABLEAUX.values()]
    assert keys == sorted(keys)


def _write_package(root, name, files):
    pkg = root / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for filename, text in files.items():
        (pkg / filename).write_text(textwrap.dedent(text))
    return name


_RALSTON3 = '''
    """Ralston's third-order method."""
    from gradflow.methods import ButcherTableau

    RALSTON3 = ButcherTableau(
        A=[[0, 0, 0], ["1/2", 0, 0], [0, "3/4", 0]],
        b=["2/9", "1/3", "4/9"],
        order=3,
        name="Ralston3",
        citation="A. Ralston, Math. Comp. 16, 431-437, 1962.",
    )
'''


def test_adding_a_tableau_is_one_file(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    name = _write_package(
        tmp_path, "extra_tableaux_ok", {"ralston3.py": _RALSTON3, "_shared.py": "X = 1\n"}
    )
    found = discover(name)
    assert list(found) == ["RALSTON3"]
    assert found["RALSTON3"].order == 3 and found["RALSTON3"].b[2] == Fraction(4, 9)
    for mod in [m for m in sys.modules if m.startswith(name)]:
        monkeypatch.delitem(sys.modules, mod)


def test_discovery_rejects_a_module_without_a_tableau_and_duplicate_names(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    empty = _write_package(tmp_path, "extra_tableaux_empty", {"notes.py": "X = 1\n"})
    with pytest.raises(ValueError, match="defines no upper-case ButcherTableau"):
        discover(empty)
    twice = _write_package(
        tmp_path,
        "extra_tableaux_twice",
        {
            "a.py": _RALSTON3,
            "b.py": _RALSTON3.replace("RALSTON3 =", "OTHER ="),
        },
    )
    with pytest.raises(ValueError, match="unique"):
        discover(twice)
    for mod in [m for m in sys.modules if m.startswith("extra_tableaux")]:
        monkeypatch.delitem(sys.modules, mod)
