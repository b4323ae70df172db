"""Butcher tableaux: one small module per method, discovered and registered on import.

The registry is this folder.  Every module in it defines its tableaux as module-level
constants with upper-case names (``RK4 = ButcherTableau(...)``), each carrying its
coefficients, its order and a citation (:class:`~gradflow.methods.ButcherTableau` checks
the order against the order conditions when the module is imported).  Importing this
package imports every module of the folder and registers every such constant:

* :data:`TABLEAUX` maps each tableau's :attr:`~gradflow.methods.ButcherTableau.name` to it
  (ordered by order, then stages, then name);
* :data:`EXPORTS` maps each constant's name to it; :mod:`gradflow.methods` re-exports
  those names (``gradflow.methods.RK4``).

Adding a tableau is therefore one new file in this folder; the order and stability tests
iterate :data:`TABLEAUX`, so it is tested from the moment it exists.  The exact order
conditions of the shipped tableaux are checked by the test suite
(:meth:`~gradflow.methods.ButcherTableau.verify` on every registered tableau), not at
every import: the registry is built under
:func:`~gradflow.methods._tableau.deferred_order_checks`.

Examples
--------
>>> from gradflow.methods._tableaux import EXPORTS, TABLEAUX
>>> TABLEAUX["RK4"] is EXPORTS["RK4"]
True
>>> [name for name, t in TABLEAUX.items() if t.order == 3]
['SSPRK3', 'BS32']
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from gradflow.methods._tableau import ButcherTableau, deferred_order_checks

__all__ = ["EXPORTS", "TABLEAUX", "discover"]


def _constants(module: ModuleType) -> dict[str, ButcherTableau]:
    """The public upper-case ButcherTableau constants of one module."""
    return {
        attr: value
        for attr, value in vars(module).items()
        if isinstance(value, ButcherTableau) and attr.isupper() and not attr.startswith("_")
    }


def discover(package: str = __name__, *, verify: bool = True) -> dict[str, ButcherTableau]:
    """Import every module of a tableau package and collect its tableau constants.

    Parameters
    ----------
    package : str, optional
        Dotted name of the package to scan (default: this one).
    verify : bool, optional
        Check every tableau's order conditions as it is built (default).  False defers
        them to :meth:`~gradflow.methods.ButcherTableau.verify` (the shipped registry,
        whose tableaux the test suite verifies).

    Returns
    -------
    dict
        Constant name (``"RK4"``) to tableau, sorted by ``(order, stages, name)``.

    Raises
    ------
    ValueError
        If a public module (name not starting with ``_``) defines no tableau constant, or
        two constants share a constant name or a tableau name (registry keys are unique).

    References
    ----------
    J. C. Butcher, *Numerical Methods for Ordinary Differential Equations*, 3rd ed.,
    Wiley, 2016, §23 (the tableau notation).

    Examples
    --------
    >>> sorted(discover())[:3]
    ['BS32', 'DOPRI54', 'EULER']
    """
    root = importlib.import_module(package)
    found: dict[str, ButcherTableau] = {}
    for info in sorted(pkgutil.iter_modules(root.__path__), key=lambda i: i.name):
        if verify:
            module = importlib.import_module(f"{package}.{info.name}")
        else:
            with deferred_order_checks():
                module = importlib.import_module(f"{package}.{info.name}")
        constants = _constants(module)
        if not constants and not info.name.startswith("_"):  # _name: a helper module
            raise ValueError(
                f"tableau module {module.__name__} defines no upper-case ButcherTableau constant"
            )
        for attr, tableau in constants.items():
            if found.get(attr, tableau) is not tableau:
                raise ValueError(f"two tableau constants are named {attr} ({module.__name__})")
            found[attr] = tableau
    names = [t.name for t in found.values()]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"tableau names must be unique, repeated: {duplicated}")
    return dict(sorted(found.items(), key=lambda kv: (kv[1].order, kv[1].stages, kv[1].name)))


#: Every shipped tableau by constant name (``"HEUN_EULER"``): the names
#: :mod:`gradflow.methods` exports.
EXPORTS: dict[str, ButcherTableau] = discover(verify=False)

#: Every shipped tableau by its name (``"Heun-Euler 2(1)"``): the registry the tests,
#: the command line and the papers iterate.
TABLEAUX: dict[str, ButcherTableau] = {t.name: t for t in EXPORTS.values()}

globals().update(EXPORTS)
__all__ += list(EXPORTS)
