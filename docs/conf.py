"""Sphinx configuration of the gradflow site.

Build (warnings are errors)::

    pip install -e ".[docs]"
    python -m sphinx -W -b html docs docs/_build/html

``GRADFLOW_DOCS_QUICK=1`` runs the gallery and the papers at their quick (CI) size.
Math is rendered by MathJax, which the browser loads from its CDN; for a build read
without network, ``GRADFLOW_DOCS_MATHJAX=/path/to/tex-svg.js`` (the single-file SVG
bundle of the npm package ``mathjax`` 3, ``es5/tex-svg.js``) is copied into the site
and used instead.
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))  # the gradflow of this checkout

import gradflow  # noqa: E402

project = "gradflow"
author = "the gradflow authors"
copyright = "the gradflow authors, BSD-3-Clause"
release = gradflow.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
    "gradflow_docs",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_generated", "**/*.inc", "gallery/*.ipynb", "gallery/*.py"]
templates_path = ["_templates"]
root_doc = "index"
default_role = "code"

# API reference: autosummary stubs from each namespace's __all__ (see _ext/gradflow_docs.py).
autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# Cross-references to the libraries gradflow speaks to are not checked (no network at
# build time); missing targets are plain text, not warnings.
intersphinx_mapping: dict[str, tuple[str, str | None]] = {}
nitpicky = False

myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3
# CONTRIBUTING.md and CHANGES.md are included below a page title: their sections start at H2.
suppress_warnings = ["myst.header"]
# numpydoc also parses raw docstrings, where it warns about the custom section of
# StepSizePolicy; gradflow_docs.keep_custom_sections renders it as a rubric.
warnings.filterwarnings("ignore", message="Unknown section", category=UserWarning)

sphinx_gallery_conf = {
    "examples_dirs": str(HERE.parent / "examples"),
    "gallery_dirs": "gallery",
    "filename_pattern": r".*\.py$",
    "reset_argv": "gradflow_docs.gallery_argv",
    "image_scrapers": ("gradflow_docs.scrape_outputs",),
    "reset_modules": ("matplotlib",),
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "plot_gallery": "True",
    "abort_on_example_error": True,
    "capture_repr": (),
    "min_reported_time": 1e9,
    "show_signature": False,
}

html_theme = "pydata_sphinx_theme"
html_title = f"gradflow {release}"
html_static_path = ["_static"]
html_css_files = ["gradflow.css"]
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 7,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"default_mode": "light"}

_mathjax = os.environ.get("GRADFLOW_DOCS_MATHJAX")
if _mathjax:
    # Only the one file (the npm package's folder holds many other bundles).
    _static = HERE / "_generated" / "mathjax"
    _static.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_mathjax, _static / "tex-svg.js")
    html_static_path.append(str(_static))
    mathjax_path = "tex-svg.js"
