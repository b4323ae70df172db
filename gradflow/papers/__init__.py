"""Reproductions of published results, one module per paper, run by ``gradflow papers``.

Each module exposes ``NAME``, ``CLAIM`` (the claim in one sentence) and
``run(out_dir, quick=False) -> PaperResult``, which computes the result with gradflow's
own pieces, checks the claim with explicit numeric criteria, writes its figures (PDF +
PNG) and numbers (JSON) to ``out_dir/NAME/``, and returns the checks.  ``quick=True`` is
a smaller size for CI (seconds) that still checks something real.

``PAPERS`` maps a name to its module's import path; :func:`load` imports one.  Nothing
here imports matplotlib or runs anything at import time.  A module may list optional
modules it needs in ``REQUIRES``; ``gradflow papers run`` skips it, saying so, when one
is missing.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

from gradflow.papers._result import Check, PaperResult

#: Paper name -> module (the order of ``gradflow papers list`` and ``run --all``).
PAPERS: dict[str, str] = {
    "edge_of_stability": "gradflow.papers.edge_of_stability",
    "implicit_regularization": "gradflow.papers.implicit_regularization",
    "stability_bounds": "gradflow.papers.stability_bounds",
    "schedules": "gradflow.papers.schedules",
    "reaction_path": "gradflow.papers.reaction_path",
    "adgd": "gradflow.papers.adgd",
    "catapult": "gradflow.papers.catapult",
    "sgd_implicit_regularization": "gradflow.papers.sgd_implicit_regularization",
    "lr_free": "gradflow.papers.lr_free",
    "batch_size_schedule": "gradflow.papers.batch_size_schedule",
    "linear_scaling": "gradflow.papers.linear_scaling",
    "eos_digits": "gradflow.papers.eos_digits",
}

#: Short references, for listings.
CITATIONS: dict[str, str] = {
    "edge_of_stability": "Cohen, Kaur, Li, Kolter, Talwalkar, ICLR 2021",
    "implicit_regularization": "Barrett & Dherin, ICLR 2021",
    "stability_bounds": "h < 2/L and its analogues (Hairer & Wanner II, §IV.2)",
    "schedules": "Loshchilov & Hutter, ICLR 2017; Smith & Topin 2018",
    "reaction_path": "Müller & Brown, Theor. Chim. Acta 53, 75 (1979)",
    "adgd": "Malitsky & Mishchenko, ICML 2020",
    "catapult": "Lewkowycz, Bahri, Dyer, Sohl-Dickstein, Gur-Ari, arXiv:2003.02218, 2020",
    "sgd_implicit_regularization": "Smith, Dherin, Barrett & De, ICLR 2021",
    "lr_free": "Defazio & Mishchenko 2023; Mishchenko & Defazio 2024; Ivgi et al. 2023; "
    "Defazio et al. 2024",
    "batch_size_schedule": "Smith, Kindermans, Ying & Le, ICLR 2018",
    "linear_scaling": "Goyal et al. 2017; McCandlish et al. 2018",
    "eos_digits": "Cohen, Kaur, Li, Kolter, Talwalkar, ICLR 2021 (digits, PyTorch)",
}


def load(name: str) -> ModuleType:
    """The module of paper ``name``.

    Parameters
    ----------
    name : str
        A key of :data:`PAPERS` (``gradflow papers list`` shows them).

    Returns
    -------
    module
        With ``NAME``, ``CLAIM`` and ``run(out_dir, quick=False) -> PaperResult``.

    Raises
    ------
    ValueError
        If ``name`` is not in :data:`PAPERS`.

    Examples
    --------
    >>> load("adgd").NAME
    'adgd'
    """
    if name not in PAPERS:
        raise ValueError(f"unknown paper {name!r}; expected one of {', '.join(PAPERS)}")
    return import_module(PAPERS[name])


__all__ = ["CITATIONS", "PAPERS", "Check", "PaperResult", "load"]
