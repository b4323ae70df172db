"""Helpers shared by the figure modules (no matplotlib import at module level)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: With more legend entries than this the legend goes outside the axes, on the right.
LEGEND_INSIDE_MAX = 4
#: With more lines than this no legend is drawn unless labels are given.
LEGEND_MAX = 10
#: Attribute holding a series number on the first artist of each series.
SERIES_TAG = "_gradflow_series"
#: Attribute holding what an overlaid call needs to know about the earlier ones.
RECORD_TAG = "_gradflow_record"
#: A positive range whose max/min ratio exceeds this is drawn on a log axis.
DECADES_RATIO = 100.0


def new_axes(ax: Any) -> Any:
    """``ax`` itself, or the axes of a new figure (size from ``rcParams``)."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(layout="constrained")
    return ax


def legend(ax: Any, inside_max: int = LEGEND_INSIDE_MAX, loc: str = "best") -> None:
    """A frameless legend of every labelled artist on ``ax``, one entry per label and look.

    Overlaid calls on the same axes each rebuild it, so a label drawn alike by several
    calls ("minimiser", "2/h") appears once, with the first artist that carries it;
    two series that share a label but not a style keep an entry each.  Series
    come first, in their order, then the reference entries.  With
    more than ``inside_max`` entries it goes outside, on the right; without entries an
    old legend is left as it is.
    """
    handles, texts = ax.get_legend_handles_labels()
    pairs = sorted(  # series in their order, then the reference entries
        zip(handles, texts, strict=True),
        key=lambda pair: getattr(pair[0], SERIES_TAG, np.inf),
    )
    unique: dict[tuple[str, Any], Any] = {}
    for handle, text in pairs:
        unique.setdefault((text, _look(handle)), handle)
    if not unique:
        return
    args = (list(unique.values()), [text for text, _ in unique])
    if len(unique) > inside_max:
        ax.legend(
            *args, frameon=False, fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0)
        )
    else:
        ax.legend(*args, frameon=False, fontsize="small", loc=loc)


def _look(handle: Any) -> Any:
    """What a legend handle looks like: colours, line style and marker (or the artist
    itself when it is neither a line nor a patch)."""
    from matplotlib.colors import to_hex

    if hasattr(handle, "get_marker"):  # a line
        return (
            "line",
            to_hex(handle.get_color(), keep_alpha=True),
            str(handle.get_linestyle()),
            str(handle.get_marker()),
        )
    if hasattr(handle, "get_facecolor") and hasattr(handle, "get_edgecolor"):  # a patch
        face, edge = handle.get_facecolor(), handle.get_edgecolor()
        return (
            "patch",
            str(np.asarray(face).round(3)),
            str(np.asarray(edge).round(3)),
            str(handle.get_linestyle()),
        )
    return ("artist", id(handle))


def next_series(ax: Any) -> int:
    """The number of the next series on ``ax``: one more than the last a gradflow figure
    drew there (0 on fresh or cleared axes), so overlaid calls get new styles."""
    tags = [getattr(a, SERIES_TAG, -1) for a in ax.get_children()]
    return max(tags, default=-1) + 1


def tag_series(artist: Any, index: int) -> Any:
    """Mark ``artist`` as the ``index``-th series of its axes (see :func:`next_series`)."""
    setattr(artist, SERIES_TAG, index)
    return artist


def find_record(ax: Any, key: str) -> Any:
    """The record a figure left on one of the artists of ``ax`` under ``key`` (or None)."""
    for artist in ax.get_children():
        record = getattr(artist, RECORD_TAG, {}).get(key)
        if record is not None:
            return record
    return None


def keep_record(artist: Any, key: str, record: Any) -> None:
    """Leave ``record`` on ``artist`` (gone with it when the axes are cleared)."""
    setattr(artist, RECORD_TAG, {**getattr(artist, RECORD_TAG, {}), key: record})


def spans_decades(values: np.ndarray) -> bool:
    """Whether the finite values are all positive and span more than two decades."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0 or np.any(v <= 0):
        return False
    return bool(v.max() / v.min() > DECADES_RATIO)


def columns(values: np.ndarray, batch_ndim: int) -> np.ndarray:
    """``(n, *batch)`` -> ``(n, m)`` with the batch flattened (``m = prod(batch)``)."""
    values = np.asarray(values)
    n = values.shape[0]
    m = int(np.prod(values.shape[1 : 1 + batch_ndim], dtype=int))
    return values.reshape(n, m, *values.shape[1 + batch_ndim :])


def element_labels(
    labels: Sequence[str] | None, m: int, batch_shape: tuple[int, ...]
) -> list[str | None]:
    """Legend texts of ``m`` batch elements (``None``: no entry, for a single element or
    for more than :data:`LEGEND_MAX` elements without given labels)."""
    if labels is not None:
        labels = list(labels)
        if len(labels) != m:
            raise ValueError(
                f"labels must have {m} entries (one per batch element), got {len(labels)}"
            )
        return labels
    if m == 1 or m > LEGEND_MAX:
        return [None] * m
    return [str([int(j) for j in np.unravel_index(i, batch_shape)]) for i in range(m)]


def fmt(x: float) -> str:
    """A short number for labels: ``0.01``, ``2.5e-05``."""
    return f"{x:.3g}"
