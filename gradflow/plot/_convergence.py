"""Figure: error against step size on log-log axes, with fitted orders."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from gradflow.plot._common import legend, new_axes, next_series, tag_series
from gradflow.plot._style import series_style

__all__ = ["convergence"]


def convergence(
    hs: ArrayLike | None,
    errors: ArrayLike | Mapping[str, ArrayLike | tuple[ArrayLike, ArrayLike]],
    ax: Any = None,
    *,
    xlabel: str = "step size $h$",
    ylabel: str = "error",
    title: str | None = None,
) -> Any:
    """Draw errors against step sizes log-log, each with its least-squares slope.

    Each series is fitted by :func:`gradflow.analysis.fit_order` (``err ≈ C h^p``); the
    fit is drawn dashed and its slope ``p`` written to the right of the series.
    Points with non-positive or non-finite errors (exact results, diverged runs) are
    left out of both.

    Parameters
    ----------
    hs : array_like, shape (n,), or None
        Step sizes (``None`` when every named series brings its own).
    errors : array_like, shape (n,) or (n, k), or mapping
        One series, ``k`` series (columns), or named series: ``{name: errors}`` at
        ``hs``, or ``{name: (h, errors)}`` with step sizes of its own.
    ax : matplotlib Axes, optional
        Axes to draw on (default: a new figure).
    xlabel, ylabel : str, optional
        Axis labels.
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    ValueError
        If the shapes do not match, or a series has fewer than two usable points.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np, gradflow as gf
    >>> h = np.array([0.1, 0.05, 0.025, 0.0125])
    >>> ax = gf.plot.convergence(h, {"Euler": 0.3 * h, "Heun": 0.2 * h**2})
    >>> [t.get_text() for t in ax.texts]
    ['slope 1.00', 'slope 2.00']
    """
    series = _series(hs, errors)
    ax = new_axes(ax)
    first = next_series(ax)
    used = [_draw_series(ax, first + i, *item) for i, item in enumerate(series)]
    _step_axis(ax, np.unique(np.concatenate(used)))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    legend(ax)
    return ax


_Series = tuple[str, np.ndarray | None, np.ndarray]


def _series(
    hs: ArrayLike | None,
    errors: ArrayLike | Mapping[str, ArrayLike | tuple[ArrayLike, ArrayLike]],
) -> list[_Series]:
    """``(name, h, errors)`` of every series (``h`` None where neither gives step sizes)."""
    h_all = None if hs is None else np.asarray(hs, dtype=float)
    if h_all is not None and h_all.ndim != 1:
        raise ValueError(f"hs must be 1-D, got shape {h_all.shape}")
    if isinstance(errors, Mapping):
        series = []
        for k, v in errors.items():
            if isinstance(v, tuple) and len(v) == 2:  # (h, errors) of its own
                series.append((str(k), np.asarray(v[0], dtype=float), np.asarray(v[1], float)))
            else:
                series.append((str(k), h_all, np.asarray(v, dtype=float)))
        return series
    e = np.asarray(errors, dtype=float)
    if e.ndim == 1:
        return [("", h_all, e)]
    if e.ndim == 2:
        return [(f"[{j}]", h_all, e[:, j]) for j in range(e.shape[1])]
    raise ValueError(f"errors must be 1-D or 2-D, got shape {e.shape}")


def _draw_series(ax: Any, index: int, name: str, h: np.ndarray | None, e: np.ndarray) -> np.ndarray:
    """One series (markers and a solid line in the ``index``-th series style), its fitted
    line (dashed) and slope text; returns the step sizes drawn."""
    from gradflow.analysis import fit_order

    if h is None:
        raise ValueError(f"errors {name!r} needs step sizes: give hs or an (h, errors) pair")
    if e.shape != h.shape:
        raise ValueError(f"errors {name!r} has shape {e.shape}, hs has {h.shape}")
    keep = np.isfinite(e) & (e > 0) & np.isfinite(h) & (h > 0)
    if keep.sum() < 2:
        raise ValueError(f"errors {name!r} has fewer than two positive finite points")
    fit = fit_order(h[keep], e[keep])
    label = name or None
    (line,) = ax.loglog(h[keep], e[keep], label=label, **series_style(index, kind="marker"))
    tag_series(line, index)
    grid = np.geomspace(h[keep].min(), h[keep].max(), 20)
    ax.loglog(grid, fit.constant * grid**fit.order, "--", color=line.get_color(), lw=0.8)
    right = h[keep].max()
    ax.annotate(
        f"slope {fit.order:.2f}",
        (right, e[keep][np.argmax(h[keep])]),
        xytext=(6, 0),
        textcoords="offset points",
        va="center",
        color=line.get_color(),
        fontsize="small",
    )
    return h[keep]


def _step_axis(ax: Any, hs_used: np.ndarray) -> None:
    """Room on the right for the slope texts; plain tick labels at the step sizes when
    they span less than two decades (log minor labels would collide)."""
    from matplotlib.ticker import NullFormatter

    lo, hi = hs_used.min(), hs_used.max()
    ax.set_xlim(lo / 1.25, hi * (hi / lo) ** 0.35 * 1.1)
    if hi / lo < 100:
        shown = hs_used[:: -(-hs_used.size // 4)]  # at most 4 labels
        ax.set_xticks(shown, [f"{v:.3g}" for v in shown])
        ax.xaxis.set_minor_formatter(NullFormatter())
