"""Paper-figure style: :func:`style` (a context manager) and :func:`save` (PDF + PNG)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from gradflow._validation import check_positive

__all__ = ["OKABE_ITO", "save", "style"]

#: The Okabe–Ito palette, distinguishable under the common colour-vision deficiencies
#: (black first is left out: it is kept for reference lines).  M. Okabe and K. Ito,
#: "Color Universal Design (CUD)", 2008, https://jfly.uni-koeln.de/color/.
OKABE_ITO = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#E69F00",  # orange
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)
#: Single-column width of two-column journals (inches): 3.3–3.5 in.
COLUMN_WIDTH = 3.3


@contextlib.contextmanager
def style(
    width: float = COLUMN_WIDTH, aspect: float = 0.75, fontsize: float = 8.0
) -> Iterator[dict[str, Any]]:
    """Matplotlib settings for paper figures, inside a ``with`` block.

    New figures are ``width`` inches wide (one journal column by default) with fonts
    that stay readable at that size, the colour-blind-safe Okabe–Ito colour cycle,
    the perceptually uniform ``viridis`` colour map, constrained layout, TrueType
    fonts embedded in PDF (editable text, accepted by journals) and 300 dpi PNGs.
    Outside the block matplotlib's settings are as before.

    Parameters
    ----------
    width : float, optional
        Figure width in inches (default 3.3; use ~7 for a full page width).
    aspect : float, optional
        Height / width (default 0.75).
    fontsize : float, optional
        Base font size in points (default 8; tick and legend text one point smaller).

    Yields
    ------
    dict
        The ``rcParams`` in force.

    Raises
    ------
    ValueError
        If ``width``, ``aspect`` or ``fontsize`` is not finite and positive.
    TypeError
        If one of them is not a real number.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import gradflow as gf
    >>> with gf.plot.style():
    ...     fig, ax = plt.subplots()
    >>> fig.get_size_inches().round(3).tolist()
    [3.3, 2.475]
    >>> plt.close(fig)
    """
    import matplotlib as mpl
    from cycler import cycler

    width = check_positive(width, "width")
    aspect = check_positive(aspect, "aspect")
    fontsize = check_positive(fontsize, "fontsize")
    small = fontsize - 1.0
    params = {
        "figure.figsize": (width, width * aspect),
        "figure.dpi": 100,
        "figure.constrained_layout.use": True,
        "font.size": fontsize,
        "axes.titlesize": fontsize,
        "axes.labelsize": fontsize,
        "xtick.labelsize": small,
        "ytick.labelsize": small,
        "legend.fontsize": small,
        "legend.frameon": False,
        "axes.prop_cycle": cycler(color=list(OKABE_ITO)),
        "axes.linewidth": 0.6,
        "lines.linewidth": 1.2,
        "lines.markersize": 3.5,
        "xtick.major.width": 0.6,
        "ytick.major.width": 0.6,
        "grid.linewidth": 0.4,
        "image.cmap": "viridis",
        "savefig.dpi": 300,
        "savefig.bbox": "tight",
        "savefig.pad_inches": 0.02,
        "pdf.fonttype": 42,
        "ps.fonttype": 42,
        "mathtext.fontset": "dejavusans",
    }
    with mpl.rc_context(params):
        yield dict(params)


def save(fig: Any, path_stem: str | Path, formats: Sequence[str] = ("pdf", "png")) -> list[Path]:
    """Write a figure as vector PDF and PNG: ``path_stem.pdf``, ``path_stem.png``.

    Parameters
    ----------
    fig : matplotlib Figure or Axes
        The figure (an Axes saves its figure).
    path_stem : str or Path
        Path without suffix (a suffix given is replaced); parent folders are created.
    formats : sequence of str, optional
        File types (default PDF and PNG).

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    ValueError
        If ``formats`` is empty.

    Examples
    --------
    >>> import tempfile, matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import gradflow as gf
    >>> fig, ax = plt.subplots()
    >>> paths = gf.plot.save(fig, tempfile.mkdtemp() + "/figure")
    >>> [p.suffix for p in paths], all(p.stat().st_size > 0 for p in paths)
    (['.pdf', '.png'], True)
    >>> plt.close(fig)
    """
    if not formats:
        raise ValueError("formats must not be empty")
    fig = getattr(fig, "figure", fig) if not hasattr(fig, "savefig") else fig
    stem = Path(path_stem)
    if stem.suffix.lower() in {".pdf", ".png", ".svg", ".eps"}:
        stem = stem.with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in formats:
        path = stem.with_name(f"{stem.name}.{ext.lstrip('.')}")
        fig.savefig(path)
        paths.append(path)
    return paths
