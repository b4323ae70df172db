"""Figure: linear stability regions in the complex ``z = hλ`` plane."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradflow._validation import check_allocation, check_integer
from gradflow.plot._common import (
    find_record,
    fmt,
    keep_record,
    legend,
    new_axes,
    next_series,
    tag_series,
)
from gradflow.plot._style import series_style

__all__ = ["stability_region"]

#: Window when no method has a finite real stability limit above it (Hairer–Wanner's
#: Fig. IV.2.1 shows ``[-5, 1] × [-3.5, 3.5]``).
DEFAULT_REACH = 4.0
#: Opacity of the shaded stable sets (overlaid regions stay visible through each other).
FILL_ALPHA = 0.2
#: Gap (points) between the real axis and the nearest interval-end label.
LABEL_GAP = 6.0
#: Line pitch of stacked interval-end labels, in units of their font size.
LABEL_PITCH = 1.45
#: A pale box behind each interval-end label, legible over regions and boundaries.
LABEL_BOX = {"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.75}
#: Key of the record left on the axes for overlaid calls.
_RECORD = "stability_region"


def _name(method: Any) -> str:
    """The method's name, with its momentum ``β`` where it has one."""
    name = getattr(method, "name", None)
    if not (isinstance(name, str) and name):
        tableau = getattr(method, "tableau", None)
        name = getattr(tableau, "name", None) or type(method).__name__
    beta = getattr(method, "beta", None)
    if isinstance(beta, (int, float)) and not isinstance(beta, bool):
        return f"{name}, $\\beta = {fmt(beta)}$"
    return name


def stability_region(
    method: Any,
    ax: Any = None,
    labels: Sequence[str] | None = None,
    *,
    re: tuple[float, float] | None = None,
    im: tuple[float, float] | None = None,
    resolution: int = 301,
    title: str | None = None,
) -> Any:
    """Shade where ``|R(z)| <= 1`` and mark the real stability interval ``[-ℓ, 0]``.

    For a one-step method ``R`` is its stability function; for a multi-state method
    (heavy ball, Nesterov) the spectral radius of its amplification matrix
    (:func:`gradflow.stability.amplification`).  Gradient descent with step ``h`` on a
    Hessian eigenvalue ``μ`` sits at ``z = -hμ``: it is stable while ``hμ`` stays in the
    marked interval, ``hμ < ℓ`` (:func:`gradflow.stability.real_stability_limit`).

    The stability limit is written ``ℓ`` in the figure, never ``β``: ``β`` is the
    momentum coefficient of heavy ball and Nesterov (``HeavyBall, β = 0.5``, whose
    ``ℓ = 2(1 + β) = 3``).  Each interval end is labelled ``−ℓ = …`` in the method's
    colour; the labels are stacked on alternate sides of the real axis, in order of
    ``ℓ``, so they never overprint.

    **Overlays.**  Methods given together, or in calls on the same axes, each get the
    next series style of the axes (colour and boundary dash, :func:`series_style`).  A
    later call whose methods need a larger window redraws the earlier regions on the
    union of the windows.

    Parameters
    ----------
    method : Method or sequence of Method
        Several methods are overlaid, each in its own colour.
    ax : matplotlib Axes, optional
        Axes to draw on (default: a new figure).
    labels : sequence of str, optional
        One legend entry per method (default: the method's name, with its momentum
        ``β`` where it has one); ``(ℓ = …)`` is appended.
    re, im : (float, float), optional
        Window in ``Re z`` and ``Im z`` (default: ``[-1.15 ℓ, 0.25 ℓ]`` for the largest
        finite ``ℓ``, at least ``[-4, 1]``; ``im`` symmetric, ``±0.6`` times the ``re``
        width; on axes that hold an earlier call, the union with its window).
    resolution : int, optional
        Grid points per axis (default 301).
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    TypeError
        If an entry is not a gradflow Method.
    ValueError
        If ``method`` is empty, ``labels`` has the wrong length, ``resolution < 2``, or
        the ``resolution²`` grid would exceed
        :data:`gradflow._validation.MAX_ALLOCATION_BYTES`.

    References
    ----------
    E. Hairer and G. Wanner, *Solving Ordinary Differential Equations II*, 2nd ed.,
    Springer, 1996, §IV.2.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import gradflow as gf
    >>> ax = gf.plot.stability_region(gf.methods.Euler(), resolution=41)
    >>> [t.get_text() for t in ax.texts]
    ['$-\\\\ell = -2$']

    Overlaid calls: a colour each, labels apart.

    >>> ax = gf.plot.stability_region(gf.methods.HeavyBall(0.5), ax, resolution=41)
    >>> [t.get_text() for t in ax.texts]
    ['$-\\\\ell = -2$', '$-\\\\ell = -3$']
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['Euler ($\\\\ell = 2$)', 'HeavyBall, $\\\\beta = 0.5$ ($\\\\ell = 3$)']
    """
    from gradflow.stability import real_stability_limit

    methods = list(method) if isinstance(method, (list, tuple)) else [method]
    if not methods:
        raise ValueError("method must not be empty")
    if labels is not None:
        labels = list(labels)
        if len(labels) != len(methods):
            raise ValueError(f"labels must have {len(methods)} entries, got {len(labels)}")
    resolution = check_integer(resolution, "resolution", 2)
    # The amplification on a resolution x resolution grid of complex z.
    check_allocation(float(resolution) ** 2, 16, f"resolution ({resolution} x {resolution} grid)")
    limits = [real_stability_limit(m) for m in methods]
    ax = new_axes(ax)
    record = find_record(ax, _RECORD)
    first = next_series(ax)
    texts = labels if labels is not None else [_name(m) for m in methods]
    new = [
        _Entry(m, text, limit, first + i)
        for i, (m, text, limit) in enumerate(zip(methods, texts, limits, strict=True))
    ]
    window = _window(limits, re, im, None if record is None else record.window)
    if record is None:
        record = _Regions(window)
        record.base = [ax.axhline(0.0, color="k", lw=0.5), ax.axvline(0.0, color="k", lw=0.5)]
        keep_record(record.base[0], _RECORD, record)
    elif window != record.window:  # the earlier regions were cut at the old window
        record.clear()
        new = [*record.entries, *new]
        record.entries, record.window = [], window
    xs = np.linspace(*window[0], int(resolution))
    ys = np.linspace(*window[1], int(resolution))
    for entry in new:
        record.artists.extend(_draw_region(ax, entry, xs, ys))
    record.entries.extend(new)
    record.relabel(ax)
    ax.set_xlim(*window[0])
    ax.set_ylim(*window[1])
    ax.set_aspect("equal")
    ax.set_xlabel("Re $z$,  $z = h\\lambda$")
    ax.set_ylabel("Im $z$")
    if title is not None:
        ax.set_title(title)
    # One method: inside, top left; more: outside, as the regions fill the window.
    legend(ax, inside_max=1, loc="upper left")
    return ax


@dataclass
class _Entry:
    """One method drawn: its label, real stability limit and series number."""

    method: Any
    text: str
    limit: float
    index: int


@dataclass
class _Regions:
    """The regions on one axes, for the calls overlaid on them."""

    window: tuple[tuple[float, float], tuple[float, float]]
    entries: list[_Entry] = field(default_factory=list)
    artists: list[Any] = field(default_factory=list)
    labels: list[Any] = field(default_factory=list)
    base: list[Any] = field(default_factory=list)

    def clear(self) -> None:
        """Take every region, interval and label off the axes (not the ``z`` axes)."""
        for artist in [*self.artists, *self.labels]:
            artist.remove()
        self.artists, self.labels = [], []

    def relabel(self, ax: Any) -> None:
        """Label every finite interval end ``-ℓ``, in order of ``ℓ``, on alternate sides
        of the real axis and one line further out every second label: no two labels
        share a row, so none overlap whatever the window and figure size (each is
        centred over its end, in its method's colour; no leader lines, which could
        cross a nearer label)."""
        from matplotlib.font_manager import FontProperties

        for artist in self.labels:
            artist.remove()
        pitch = LABEL_PITCH * FontProperties(size="small").get_size_in_points()
        finite = sorted((e for e in self.entries if math.isfinite(e.limit)), key=lambda e: e.limit)
        self.labels = []
        for rank, entry in enumerate(finite):
            side = 1.0 if rank % 2 == 0 else -1.0
            offset = side * (LABEL_GAP + (rank // 2) * pitch)
            self.labels.append(
                ax.annotate(
                    f"$-\\ell = -{fmt(entry.limit)}$",
                    (-entry.limit, 0.0),
                    xytext=(0, offset),
                    textcoords="offset points",
                    ha="center",
                    va="bottom" if side > 0 else "top",
                    fontsize="small",
                    color=_colour(entry),
                    bbox=LABEL_BOX,
                    zorder=5,
                )
            )


def _colour(entry: _Entry) -> str:
    return series_style(entry.index)["color"]


def _draw_region(ax: Any, entry: _Entry, xs: np.ndarray, ys: np.ndarray) -> list[Any]:
    """Shaded stable set, its boundary, the interval ``[-ℓ, 0]`` and a legend handle."""
    from gradflow.stability import stability_region as region

    props = series_style(entry.index)
    c, ls = props["color"], props["linestyle"]
    r = region(entry.method, xs, ys)
    amp = np.where(np.isfinite(r.amplification), r.amplification, 1e3)
    fill = ax.contourf(
        xs, ys, r.stable.astype(float), levels=[0.5, 1.5], colors=[c], alpha=FILL_ALPHA
    )
    edge = ax.contour(xs, ys, amp, levels=[1.0], colors=[c], linewidths=1.2, linestyles=[ls])
    limit_text = "\\infty" if not math.isfinite(entry.limit) else fmt(entry.limit)
    (handle,) = ax.fill(
        [],
        [],
        facecolor=(c, 2 * FILL_ALPHA),
        edgecolor=c,
        linestyle=ls,
        lw=1.2,
        label=f"{entry.text} ($\\ell = {limit_text}$)",
    )
    artists = [fill, edge, tag_series(handle, entry.index)]
    if math.isfinite(entry.limit):
        # Shorter intervals on top, so each stays visible over the longer ones.
        z = 3.0 + 1.0 / (1.0 + entry.limit)
        artists += ax.plot(
            [-entry.limit, 0.0], [0.0, 0.0], color=c, ls="-", lw=3, solid_capstyle="butt", zorder=z
        )
        artists += ax.plot([-entry.limit], [0.0], "|", color=c, ms=10, mew=2, zorder=z)
    return artists


def _window(
    limits: list[float],
    re: tuple[float, float] | None,
    im: tuple[float, float] | None,
    old: tuple[tuple[float, float], tuple[float, float]] | None,
) -> tuple[tuple[float, float], tuple[float, float]]:
    """The window (see :func:`stability_region`): ``re`` and ``im`` where given, else the
    default for ``limits``, grown to hold the ``old`` window of an earlier call."""
    finite = [b for b in limits if math.isfinite(b)]
    reach = max([DEFAULT_REACH, *(1.15 * b for b in finite)])
    if re is None:
        re = (-reach, max(1.0, 0.25 * reach))
        if old is not None:
            re = (min(re[0], old[0][0]), max(re[1], old[0][1]))
    if im is None:
        half = 0.6 * (re[1] - re[0])
        im = (-half, half)
        if old is not None:
            im = (min(im[0], old[1][0]), max(im[1], old[1][1]))
    return (float(re[0]), float(re[1])), (float(im[0]), float(im[1]))
