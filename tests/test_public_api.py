"""One public path per public object.

Every public object of gradflow lives in exactly one public module (its home); the
implementing modules are private (``_name``).  The top level re-exports only a few
conveniences besides the subpackages.  Modules import other packages' names through
those packages' public namespaces; only the top-level private modules
(``gradflow._name``) are shared internals that any package may import.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import types
from collections import defaultdict
from pathlib import Path

import pytest

import gradflow

#: Top-level conveniences: ``gradflow.<name>``, in addition to the object's home (if the
#: home is not the top level itself).
CONVENIENCES = {
    "Diagnosis",
    "Problem",
    "Status",
    "StepInfo",
    "Trajectory",
    "diagnose",
    "load",
    "lr_find",
    "solve",
    "sweep",
}

#: Conveniences whose home is a subpackage: the top-level name is the same object.
CONVENIENCE_HOMES = {
    "Diagnosis": "gradflow.stability",
    "Problem": "gradflow.problems",
    "diagnose": "gradflow.stability",
    "lr_find": "gradflow.stepsize",
}

#: Entry points, not library namespaces.
SKIPPED = {"gradflow.cli"}

PACKAGE_DIR = Path(gradflow.__file__).parent

_SCALARS = (str, bytes, int, float, complex, bool, type(None))


def _raise(name: str) -> None:
    raise ImportError(f"cannot import {name}")


def public_module_names() -> list[str]:
    names = ["gradflow"]
    for info in pkgutil.walk_packages(gradflow.__path__, "gradflow.", onerror=_raise):
        if info.name in SKIPPED or any(p.startswith("_") for p in info.name.split(".")):
            continue
        names.append(info.name)
    return sorted(names)


PUBLIC_MODULES = public_module_names()


def public_names(module: types.ModuleType) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        return [n for n in vars(module) if not n.startswith("_")]
    return list(names)


def is_gradflow_object(obj: object) -> bool:
    """Classes and functions (also wrapped ones) defined in gradflow, instances of gradflow
    classes, and non-empty containers (compared by identity)."""
    if isinstance(obj, (types.ModuleType, *_SCALARS)):
        return False
    if isinstance(obj, (dict, list, tuple, set, frozenset)):
        return len(obj) > 0
    module = getattr(obj, "__module__", None) or type(obj).__module__
    return isinstance(module, str) and module.startswith("gradflow")


def public_paths() -> dict[int, list[str]]:
    paths: dict[int, list[str]] = defaultdict(list)
    keep = []  # hold references so ids stay unique
    for name in PUBLIC_MODULES:
        module = importlib.import_module(name)
        for attr in public_names(module):
            obj = getattr(module, attr)
            if is_gradflow_object(obj):
                keep.append(obj)
                paths[id(obj)].append(f"{name}.{attr}")
    return paths


def test_walk_finds_the_homes():
    for home in (
        "gradflow.analysis",
        "gradflow.controllers",
        "gradflow.curvature",
        "gradflow.methods",
        "gradflow.modified",
        "gradflow.papers",
        "gradflow.plot",
        "gradflow.problems",
        "gradflow.reference",
        "gradflow.richardson",
        "gradflow.rules",
        "gradflow.schedules",
        "gradflow.stability",
        "gradflow.stepsize",
    ):
        assert home in PUBLIC_MODULES


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_public_module_declares_all(name):
    module = importlib.import_module(name)
    assert hasattr(module, "__all__"), f"{name} has no __all__"
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names missing attributes: {missing}"
    assert len(set(module.__all__)) == len(module.__all__), f"{name}.__all__ repeats a name"
    if name != "gradflow":
        modules = [n for n in module.__all__ if isinstance(getattr(module, n), types.ModuleType)]
        assert not modules, f"{name}.__all__ exports modules: {modules}"


def test_every_public_object_has_one_home():
    bad = []
    for paths in public_paths().values():
        top = [p for p in paths if p.count(".") == 1 and p.split(".")[1] in CONVENIENCES]
        homes = [p for p in paths if p not in top]
        if len(top) > 1 or len(homes) > 1 or (not homes and not top):
            bad.append(paths)
    assert not bad, "objects with more than one public path:\n" + "\n".join(map(str, bad))


def test_top_level_reexports_only_conveniences():
    exported = {n: getattr(gradflow, n) for n in gradflow.__all__}
    subpackages = {n for n, obj in exported.items() if isinstance(obj, types.ModuleType)}
    assert subpackages <= {m.split(".")[1] for m in PUBLIC_MODULES if m.count(".") == 1}
    others = set(gradflow.__all__) - subpackages - {"__version__"}
    assert others == CONVENIENCES
    for name, home in CONVENIENCE_HOMES.items():
        assert getattr(gradflow, name) is getattr(importlib.import_module(home), name)


def _own_package(path: Path) -> str | None:
    parts = path.relative_to(PACKAGE_DIR).parts
    return parts[0] if len(parts) > 1 else None


def _absolute(path: Path, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    package = ["gradflow", *path.relative_to(PACKAGE_DIR).parts[:-1]]
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def private_cross_package_imports() -> list[str]:
    bad = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        own = _own_package(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                targets = [(_absolute(path, node), [a.name for a in node.names])]
            elif isinstance(node, ast.Import):
                targets = [(a.name, []) for a in node.names]
            else:
                continue
            for module, names in targets:
                parts = module.split(".")
                if parts[0] != "gradflow" or len(parts) < 2:
                    continue
                if parts[1].startswith("_") or parts[1] == own:
                    continue  # a shared top-level private module, or the own package
                private = [p for p in parts[2:] if p.startswith("_")]
                private += [n for n in names if n.startswith("_")]
                if private:
                    where = path.relative_to(PACKAGE_DIR.parent)
                    bad.append(f"{where}:{node.lineno}: {module} {names}")
    return bad


def test_no_private_imports_across_packages():
    bad = private_cross_package_imports()
    assert not bad, "private names imported from another package:\n" + "\n".join(bad)


def test_import_check_catches_a_private_import(tmp_path, monkeypatch):
    package = tmp_path / "gradflow"
    (package / "analysis").mkdir(parents=True)
    (package / "analysis" / "_x.py").write_text(
        "from gradflow.curvature._checks import as_points\n"
        "from gradflow._validation import check_integer\n"
        "from gradflow.analysis._y import z\n"
    )
    monkeypatch.setattr(f"{__name__}.PACKAGE_DIR", package)
    assert private_cross_package_imports() == [
        "gradflow/analysis/_x.py:1: gradflow.curvature._checks ['as_points']"
    ]
