"""Helpers shared by the figure modules (no matplotlib import at module level)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: With more legend entries than this the legend goes outside the axes, on the right.
LEGEND_INSIDE_MAX = 4
#: With more lines than this no legend is drawn unless labels are given.
LEGEND_MAX = 10
#: A positive range whose max/min ratio exceeds this is drawn on a log axis.
DECADES_RATIO = 100.0


def new_axes(ax: Any) -> Any:
    """``ax`` itself, or the axes of a new figure (size from ``rcParams``)."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(layout="constrained")
    return ax


def legend(ax: Any, n: int, given: bool = True) -> None:
    """A frameless legend: inside (``loc="best"``) for a few entries, else outside right."""
    if n == 0 or (n > LEGEND_MAX and not given):
        return
    if n > LEGEND_INSIDE_MAX:
        ax.legend(frameon=False, fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        ax.legend(frameon=False, fontsize="small", loc="best")


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
    """Legend texts of ``m`` batch elements (``None``: no entry for a single element)."""
    if labels is not None:
        labels = list(labels)
        if len(labels) != m:
            raise ValueError(
                f"labels must have {m} entries (one per batch element), got {len(labels)}"
            )
        return labels
    if m == 1:
        return [None]
    return [str([int(j) for j in np.unravel_index(i, batch_shape)]) for i in range(m)]


def fmt(x: float) -> str:
    """A short number for labels: ``0.01``, ``2.5e-05``."""
    return f"{x:.3g}"
