"""Doctests of the optional adapters skip, with a reason, when their library is absent."""

from __future__ import annotations

import importlib.util

import pytest

#: A fragment of a doctest's dotted name -> the optional modules its examples import.
_NEEDS = {
    "from_torch": ("torch",),
    "problems._torch.": ("torch",),
    "from_jax": ("jax",),
    "problems._jax.": ("jax",),
    "papers.eos_digits": ("torch", "sklearn"),
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if type(item).__name__ != "DoctestItem":
            continue
        for fragment, modules in _NEEDS.items():
            missing = [m for m in modules if importlib.util.find_spec(m) is None]
            if fragment in item.name and missing:
                reason = f"needs {', '.join(missing)} (the test extra installs it)"
                item.add_marker(pytest.mark.skip(reason=reason))
