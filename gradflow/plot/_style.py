"""Paper-figure style: :func:`style` (a context manager), :func:`save` (PDF + PNG) and the
series styles every figure cycles through (:func:`series_style`)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from gradflow._validation import check_choice, check_integer, check_positive

__all__ = ["OKABE_ITO", "save", "series_style", "style"]

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
#: Series colours: Okabe–Ito without yellow (too light on white and on the bright end of
#: viridis) and without black (kept for reference lines).
SERIES_COLOURS = OKABE_ITO[:6]
#: Dash patterns cycled with the colours (solid, dashed, dotted, dash-dot, dash-dot-dot).
#: Five is coprime to the six colours, so series ``0..29`` are 30 different
#: (colour, dash) pairs and neighbours differ in both; the dash alone tells the first
#: five apart in greyscale.
DASHES: tuple[Any, ...] = (
    "-",
    (0, (4.0, 1.5)),
    (0, (1.0, 1.2)),
    (0, (5.0, 1.5, 1.0, 1.5)),
    (0, (2.5, 1.0, 1.0, 1.0, 1.0, 1.0)),
)
#: Markers cycled with the colours where the line style already has a meaning
#: (fitted lines, thresholds); seven is coprime to six: 42 different pairs.
MARKERS = ("o", "s", "^", "v", "D", "P", "X")
#: Markers drawn along a line, as a fraction of the axes diagonal between them.
MARK_EVERY = 0.1
#: Single-column width of two-column journals (inches): 3.3–3.5 in.
COLUMN_WIDTH = 3.3


_PAIRS = len(SERIES_COLOURS) * len(DASHES)


def series_style(index: int, kind: str = "line") -> dict[str, Any]:
    """Matplotlib line properties of the ``index``-th series of a figure.

    Colours come from the Okabe–Ito palette (distinguishable under the common
    colour-vision deficiencies; yellow and black left out) and cycle together with a
    second property, so series stay apart after the colours run out and in greyscale:

    * ``kind="line"``: colour and dash pattern (solid, dashed, dotted, dash-dot,
      dash-dot-dot).  Series ``0..29`` are 30 different pairs; beyond them markers are
      added, so the first 240 series all differ.
    * ``kind="marker"``: colour and marker (``o s ^ v D P X``) on a solid line, for
      figures where dashes already mean something (fitted lines, thresholds).  Series
      ``0..41`` are 42 different pairs; beyond them dashes are added (210 in all).

    Every gradflow figure drawing on an axes continues that axes' series count, so
    overlaid calls get new styles.

    Parameters
    ----------
    index : int
        Series number, from 0.
    kind : {"line", "marker"}, optional
        What cycles with the colour (default ``"line"``).

    Returns
    -------
    dict
        ``color``, ``linestyle``, ``marker`` and ``markevery`` (keyword arguments of
        ``Axes.plot``; ``marker`` is ``"none"`` where the style has none; markers added
        to a dashed line are spaced by a tenth of the axes diagonal).

    Raises
    ------
    TypeError
        If ``index`` is not an integer or ``kind`` not a string.
    ValueError
        If ``index`` is negative or ``kind`` is unknown.

    References
    ----------
    M. Okabe and K. Ito, "Color Universal Design (CUD): how to make figures and
    presentations that are friendly to colorblind people", 2008,
    https://jfly.uni-koeln.de/color/.

    Examples
    --------
    >>> import gradflow as gf
    >>> [gf.plot.series_style(i)["color"] for i in (0, 6)]
    ['#0072B2', '#0072B2']
    >>> gf.plot.series_style(0)["linestyle"] != gf.plot.series_style(6)["linestyle"]
    True
    >>> gf.plot.series_style(2, kind="marker")["marker"]
    '^'
    """
    index = check_integer(index, "index", 0)
    kind = check_choice(kind, "kind", ("line", "marker"))
    n_colours = len(SERIES_COLOURS)
    props: dict[str, Any] = {"color": SERIES_COLOURS[index % n_colours]}
    if kind == "line":
        props["linestyle"] = DASHES[index % len(DASHES)]
        lap = index // _PAIRS  # full (colour, dash) cycles before this one
        props["marker"] = "none" if lap == 0 else MARKERS[(lap - 1) % len(MARKERS)]
        return props | {"markevery": None if lap == 0 else MARK_EVERY}
    props["marker"] = MARKERS[index % len(MARKERS)]
    lap = index // (n_colours * len(MARKERS))
    props["linestyle"] = DASHES[lap % len(DASHES)]
    return props | {"markevery": None}


@contextlib.contextmanager
def style(
    width: float = COLUMN_WIDTH, aspect: float = 0.75, fontsize: float = 8.0
) -> Iterator[dict[str, Any]]:
    """Matplotlib settings for paper figures, inside a ``with`` block.

    New figures are ``width`` inches wide (one journal column by default) with fonts
    that stay readable at that size, the series cycle of :func:`series_style` (the
    colour-blind-safe Okabe–Ito colours together with dash patterns) for plain
    ``ax.plot`` calls,
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
        "axes.prop_cycle": cycler(
            color=[SERIES_COLOURS[i % len(SERIES_COLOURS)] for i in range(_PAIRS)],
            linestyle=[DASHES[i % len(DASHES)] for i in range(_PAIRS)],
        ),
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
