"""Pages of the gradflow site generated from the package itself, so they cannot drift.

* ``api/<module>.rst``: one page per public namespace, an autosummary over its
  ``__all__`` (names others add later appear on the next build);
* ``theory/_stability_table.rst``: order and real stability limit of every method and
  tableau, computed by :func:`gradflow.stability.real_stability_limit`;
* ``papers/_papers.rst``: every entry of :data:`gradflow.papers.PAPERS` run at the quick
  size (``GRADFLOW_DOCS_QUICK=1``) or the full size, with its checks and its figures;
* the gallery's argument vector (``--quick`` under ``GRADFLOW_DOCS_QUICK=1``) and an image
  scraper that collects the PNG files each example writes to its output folder.

Generated files go under ``docs/_generated/`` and ``docs/api/_generated/``, both ignored
by git and rewritten on every build.
"""

from __future__ import annotations

import importlib
import inspect
import math
import os
import re
import shutil
import types
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parents[1]
GENERATED = DOCS / "_generated"
GALLERY_OUT = DOCS / "_build" / "gallery-out"

#: The public namespaces, in the order of the API reference.
NAMESPACES = [
    "gradflow",
    "gradflow.problems",
    "gradflow.methods",
    "gradflow.schedules",
    "gradflow.controllers",
    "gradflow.rules",
    "gradflow.stepsize",
    "gradflow.curvature",
    "gradflow.stability",
    "gradflow.richardson",
    "gradflow.modified",
    "gradflow.analysis",
    "gradflow.reference",
    "gradflow.plot",
    "gradflow.papers",
]


def quick() -> bool:
    """Whether the build runs the gallery and the papers at their quick (CI) size."""
    return os.environ.get("GRADFLOW_DOCS_QUICK", "") not in ("", "0")


# ---------------------------------------------------------------------------------------
# API reference
# ---------------------------------------------------------------------------------------
def _homes() -> dict[int, str]:
    """id(object) -> the namespace that is its home (every name but the top level's)."""
    homes = {}
    for name in NAMESPACES[1:]:
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", []):
            homes.setdefault(id(getattr(module, attr)), name)
    return homes


def _entries(name: str, homes: dict[int, str]) -> tuple[list[str], list[str]]:
    """(documented names, names documented at their home) of namespace ``name``."""
    module = importlib.import_module(name)
    own, elsewhere = [], []
    for attr in getattr(module, "__all__", []):
        obj = getattr(module, attr)
        if isinstance(obj, types.ModuleType) or attr.startswith("__"):
            continue
        home = homes.get(id(obj), name)
        (own if home == name else elsewhere).append(attr if home == name else f"{home}.{attr}")
    return own, elsewhere


def write_api() -> None:
    """One page per namespace: its docstring and an autosummary of its own names."""
    out = DOCS / "api" / "_generated"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    homes = _homes()
    toc = []
    for name in NAMESPACES:
        own, elsewhere = _entries(name, homes)
        lines = [name, "=" * len(name), "", f".. automodule:: {name}", "   :no-members:", ""]
        if own:
            lines += [
                ".. currentmodule:: " + name,
                "",
                ".. autosummary::",
                "   :toctree: .",
                "   :nosignatures:",
                "",
            ]
            lines += [f"   {attr}" for attr in own]
            lines.append("")
        if elsewhere:
            lines += [
                "Also re-exported here (documented at their home): "
                + ", ".join(f":obj:`{full}`" for full in elsewhere)
                + ".",
                "",
            ]
        (out / f"{name}.rst").write_text("\n".join(lines), encoding="utf-8")
        toc.append(f"   _generated/{name}")
    # Included by api/index.rst: the toctree in the order of NAMESPACES.
    (out / "toc.rst.inc").write_text(
        ".. toctree::\n   :maxdepth: 1\n\n" + "\n".join(toc) + "\n", encoding="utf-8"
    )


# ---------------------------------------------------------------------------------------
# The stability table
# ---------------------------------------------------------------------------------------
def _limit(method: Any) -> str:
    from gradflow.stability import real_stability_limit

    try:
        beta = real_stability_limit(method, algorithm="numeric")
    except TypeError:
        return "— (nonlinear)"
    return "∞" if math.isinf(beta) else f"{beta:.10g}"


def write_stability_table() -> None:
    """A list-table of every method class (default parameters) and every tableau."""
    from gradflow import methods

    rows = []
    for name in methods.__all__:
        obj = getattr(methods, name)
        if not (inspect.isclass(obj) and issubclass(obj, methods.Method)):
            continue
        if obj in (methods.Method, methods.RungeKutta):
            continue
        try:
            inst = obj()
        except (TypeError, ValueError):
            continue  # wrappers that need arguments (Clipped)
        rows.append((f":class:`~gradflow.methods.{name}` ``{inst!r}``", obj.order, _limit(inst)))
    for name, tableau in methods.TABLEAUX.items():
        method = methods.RungeKutta(tableau)
        label = f"``RungeKutta`` ({name}, {tableau.stages} stages)"
        rows.append((label, tableau.order, _limit(method)))
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 60 10 30",
        "",
        "   * - method (default parameters)",
        "     - order",
        "     - β",
    ]
    for label, order, beta in rows:
        lines += [f"   * - {label}", f"     - {order}", f"     - {beta}"]
    GENERATED.mkdir(exist_ok=True)
    (GENERATED / "stability_table.rst").write_text("\n".join(lines) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------------------
# Papers
# ---------------------------------------------------------------------------------------
def _escape(text: str) -> str:
    """Measured values and claims as plain reST text (no emphasis, roles or cells)."""
    for char in "\\*`|":
        text = str(text).replace(char, "\\" + char)
    return text


def write_papers(run: bool = True) -> None:
    """Every paper run, its claim, its checks as a table and its PNG figures (with
    ``run=False``, as ``-D plot_gallery=0`` asks: the table of claims only)."""
    import matplotlib

    matplotlib.use("Agg")
    from gradflow.papers import CITATIONS, PAPERS, load

    out = DOCS / "_build" / "papers-out"
    figures = GENERATED / "papers"
    shutil.rmtree(figures, ignore_errors=True)
    figures.mkdir(parents=True)
    size = "quick" if quick() else "full"
    if run:
        lines = [f"Every claim below was checked while this page was built ({size} size).", ""]
    else:
        lines = ["This build ran no code (``-D plot_gallery=0``): claims only.", ""]
    lines += [
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 22 30 48",
        "",
        "   * - paper",
        "     - reference",
        "     - claim",
    ]
    for name in PAPERS:
        label = f":ref:`{name} <paper-{name}>`" if run else name
        lines += [
            f"   * - {label}",
            f"     - {_escape(CITATIONS[name])}",
            f"     - {_escape(load(name).CLAIM)}",
        ]
    lines.append("")
    for name in PAPERS if run else []:
        result = load(name).run(out, quick=quick())
        verdict = "holds" if result.passed else "FAILS"
        lines += [
            f".. _paper-{name}:",
            "",
            name,
            "-" * len(name),
            "",
            f"*{_escape(CITATIONS[name])}.* {_escape(result.claim)}",
            "",
            f"The claim **{verdict}** ({size} size, {result.runtime:.1f} s); command: "
            f"``gradflow papers run {name}{' --quick' if quick() else ''}``.",
            "",
            ".. list-table::",
            "   :header-rows: 1",
            "   :widths: 46 27 27",
            "",
            "   * - check",
            "     - measured",
            "     - criterion",
        ]
        for check in result.checks:
            mark = "✓" if check.passed else "✗"
            lines += [
                f"   * - {mark} {_escape(check.description)}",
                f"     - {_escape(check.measured)}",
                f"     - {_escape(check.criterion)}",
            ]
        lines.append("")
        for png in sorted((out / name).glob("*.png")):
            target = figures / f"{name}-{png.name}"
            shutil.copyfile(png, target)
            lines += [
                f".. image:: /_generated/papers/{target.name}",
                f"   :alt: {name}",
                "   :width: 100%",
                "",
            ]
    (GENERATED / "papers.rst").write_text("\n".join(lines), encoding="utf-8")


# ---------------------------------------------------------------------------------------
# Gallery
# ---------------------------------------------------------------------------------------
def _example_out(src_file: str) -> Path:
    return GALLERY_OUT / Path(src_file).stem


def gallery_argv(gallery_conf: dict, script_vars: dict) -> list[str]:
    """``sys.argv[1:]`` of each example: its own output folder, ``--quick`` in quick builds."""
    out = _example_out(script_vars["src_file"])
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    return ["--out", str(out), *(["--quick"] if quick() else [])]


_SCRAPED: set[Path] = set()


def scrape_outputs(block: Any, block_vars: dict, gallery_conf: dict) -> str:
    """The PNG figures the example wrote to its output folder since the last block."""
    from sphinx_gallery.scrapers import figure_rst

    out = _example_out(block_vars["src_file"])
    new = sorted(p for p in out.glob("*.png") if p not in _SCRAPED)
    names = []
    for png, target in zip(new, block_vars["image_path_iterator"]):  # noqa: B905
        shutil.copyfile(png, target)
        names.append(target)
        _SCRAPED.add(png)
    return figure_rst(names, gallery_conf["src_dir"])


#: A numpydoc ``name : type`` line (Parameters, Attributes ...) or a bare ``type, shape (...)``
#: line (Returns).
_TYPE_LINE = re.compile(r"^\s*([\w*][\w*, ]* : \S|[\w ]+, shape \()")
#: ``*batch`` in ``shape (*batch, d)``: a star that would open emphasis.
_STAR = re.compile(r"(?<=[(\s,])\*(?=\w)")
_LITERAL = re.compile(r"(``.*?``|`[^`]*`)")


def escape_shape_stars(
    app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    """``autodoc-process-docstring``: escape the ``*`` of ``(*batch, d)`` in type lines,
    outside literals, so that docutils does not read it as emphasis."""
    for i, line in enumerate(lines):
        if _TYPE_LINE.match(line) and "*" in line:
            parts = _LITERAL.split(line)  # odd indices: ``literal`` and `role` spans
            parts[::2] = [_STAR.sub(r"\\*", part) for part in parts[::2]]
            lines[i] = "".join(parts)


def keep_custom_sections(
    app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    """``autodoc-process-docstring``: a section numpydoc does not know (``Contract for
    writing a policy``) becomes a rubric, so its text is kept instead of dropped."""
    from numpydoc.docscrape import NumpyDocString

    known = {key.lower() for key in NumpyDocString.sections}
    for i in range(len(lines) - 1):
        title, rule = lines[i].strip(), lines[i + 1].strip()
        if title and len(rule) >= 3 and set(rule) == {"-"} and title.lower() not in known:
            indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
            lines[i], lines[i + 1] = f"{indent}.. rubric:: {title}", ""


def generate(app: Any, config: Any) -> None:
    """``config-inited``: write every generated page before Sphinx looks for sources
    (autosummary lists the documents to scan for stubs before ``builder-inited`` handlers
    of other extensions run, so pages written later get no stubs in a fresh checkout)."""
    write_api()
    write_stability_table()
    write_papers(run=str(config.plot_gallery).lower() not in ("0", "false", "no"))


def setup(app: Any) -> dict[str, Any]:
    """Sphinx extension entry point."""
    # Before anything lists the sources: the API pages must exist for autosummary.
    app.connect("config-inited", generate, priority=100)
    # Before numpydoc (priority 500) turns the sections into reST.
    app.connect("autodoc-process-docstring", escape_shape_stars, priority=100)
    app.connect("autodoc-process-docstring", keep_custom_sections, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
