"""Figure: optimisation paths of a 2-D problem over filled contours of its loss."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradflow._validation import check_allocation, check_integer
from gradflow.plot._common import (
    columns,
    element_labels,
    find_record,
    keep_record,
    legend,
    new_axes,
    next_series,
    tag_series,
)
from gradflow.plot._style import series_style

__all__ = ["trajectories"]

#: Margin added around the paths on each side, as a fraction of their extent.
PAD = 0.15
#: Log-spaced levels are used when the largest shifted loss on the grid is more than this
#: many times its median: a few steep walls would otherwise take all the linear levels
#: (Rosenbrock 18, Müller–Brown 11, Himmelblau 8; a quadratic on a centred box 3–5).
LOG_SKEW = 7.5
#: The lowest log level sits this fraction of the loss range above the minimum.
LOG_FLOOR = 1e-4
#: Width (points) of each path, and of the white outline under it.
PATH_WIDTH = 1.5
HALO_WIDTH = 2.6
#: Opacity of the outline.
HALO_ALPHA = 0.6
#: Opacity of the filled contours: pale, so that saturated path colours stand out.
FILL_ALPHA = 0.4
#: Key of the background record left on the axes for overlaid calls.
_RECORD = "trajectories.background"


def _box(problem: Any, theta: np.ndarray, ok: np.ndarray) -> tuple[tuple[float, float], ...]:
    """Axis limits holding the paths of finished elements, their starts and the minimisers."""
    points = [theta[0].reshape(-1, 2)]
    if ok.any():
        points.append(theta[:, ok].reshape(-1, 2))
    for name in ("minimizers", "minima"):
        extra = getattr(problem, name, None)
        if extra is not None:
            points.append(np.asarray(extra, dtype=float).reshape(-1, 2))
    pts = np.concatenate(points)
    pts = pts[np.isfinite(pts).all(axis=1)]
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    span = np.maximum(hi - lo, 1e-3 * np.maximum(1.0, np.abs(hi)))
    lo, hi = lo - PAD * span, hi + PAD * span
    return (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1]))


def trajectories(
    problem: Any,
    traj: Any,
    ax: Any = None,
    labels: Sequence[str] | None = None,
    *,
    xlim: tuple[float, float] | None = None,
    ylim: tuple[float, float] | None = None,
    levels: int = 25,
    log: bool | None = None,
    resolution: int = 200,
    colorbar: bool = True,
    title: str | None = None,
) -> Any:
    """Draw the paths of a batch of runs over filled loss contours of a 2-D problem.

    The loss is evaluated (batched) on a ``resolution²`` grid and shifted by its minimum
    on the grid, ``L − min L``, so negative losses (Müller–Brown) need no care.  Where
    that is dominated by steep walls (largest value above 7.5 times the median:
    Rosenbrock's valley, Müller–Brown's wells) the levels are log-spaced; otherwise
    linear.  Each path is a line from an open circle (start) to a filled dot (end); a
    diverged path ends in a cross; known minimisers are stars.

    **Overlays.**  Calls on the same axes (one per method, say) share one background:
    a later call draws only its paths, in the next series styles of the axes (colour
    and dash, :func:`series_style`), and the legend lists every label once.  When its
    paths (or its ``xlim``/``ylim``) need a larger window, the contours, minimisers and
    colour bar are drawn again for the union of the windows, replacing the old ones;
    otherwise ``levels``, ``log``, ``resolution`` and ``colorbar`` of the later call
    are not used.

    Parameters
    ----------
    problem : Problem
        A problem with ``dim == 2``.
    traj : Trajectory
        From :func:`gradflow.solve` on ``problem`` (any batch shape; use ``save_every``
        for smooth paths).
    ax : matplotlib Axes, optional
        Axes to draw on (default: a new figure).
    labels : sequence of str, optional
        One legend entry per batch element (default: none beyond 10 elements, else the
        batch index).
    xlim, ylim : (float, float), optional
        Plot window (default: the paths, starts and minimisers with a 15 % margin; the
        paths of diverged runs are left out of the default window; on axes that hold
        an earlier call, the union with its window).
    levels : int, optional
        Number of contour levels (default 25).
    log : bool, optional
        Force log-spaced (``True``) or linear (``False``) levels (default: automatic).
    resolution : int, optional
        Grid points per axis (default 200).
    colorbar : bool, optional
        Add a colour bar of ``L − min L`` (default ``True``).
    title : str, optional
        Axes title (default: the problem's name).

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    ValueError
        If ``problem.dim != 2``, the trajectory's states are not 2-D, ``labels`` has the
        wrong length, ``levels`` / ``resolution`` is below 2, or the ``resolution²``
        grid would exceed :data:`gradflow._validation.MAX_ALLOCATION_BYTES`.
    TypeError
        If ``levels`` or ``resolution`` is not an integer.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import gradflow as gf
    >>> p = gf.problems.rosenbrock()
    >>> traj = gf.solve(p, [[-1.5, 2.0], [1.5, -0.5]], stepsize=1e-3, steps=2000, save_every=20)
    >>> ax = gf.plot.trajectories(p, traj, resolution=60)
    >>> len(ax.get_lines()) >= 2, len(ax.collections) > 0
    (True, True)

    Overlay a second method on the same background:

    >>> hb = gf.solve(p, [-1.5, 2.0], gf.methods.HeavyBall(0.9), stepsize=1e-4, steps=2000,
    ...               save_every=20)
    >>> ax = gf.plot.trajectories(p, hb, ax, labels=["heavy ball"], resolution=60)
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['[0]', '[1]', 'heavy ball', 'minimiser']
    """
    if getattr(problem, "dim", None) != 2:
        raise ValueError(
            f"trajectories needs a 2-D problem, got dim={getattr(problem, 'dim', None)}"
        )
    theta = np.asarray(traj.theta, dtype=float)
    if theta.shape[-1] != 2:
        raise ValueError(f"trajectory states must be 2-D, got shape {theta.shape}")
    levels = check_integer(levels, "levels", 2)
    resolution = check_integer(resolution, "resolution", 2)
    grid_text = f"resolution ({resolution} x {resolution} grid of 2-D points)"
    check_allocation(float(resolution) ** 2 * 2, 8, grid_text)

    batch_shape = tuple(np.shape(traj.status))
    theta = columns(theta, len(batch_shape))  # (n, m, 2)
    diverged = np.asarray(traj.status).reshape(-1) == "diverged"
    texts = element_labels(labels, theta.shape[1], batch_shape)
    ax = new_axes(ax)
    background = find_record(ax, _RECORD)
    auto_x, auto_y = _box(problem, theta, ~diverged)
    if background is not None:  # an overlay: the window grows to hold every call's paths
        auto_x = _union(background.window[0], auto_x)
        auto_y = _union(background.window[1], auto_y)
    window = (
        auto_x if xlim is None else tuple(map(float, xlim)),
        auto_y if ylim is None else tuple(map(float, ylim)),
    )
    if background is None or background.window != window:
        bar = None
        if background is not None:
            background.remove()
            bar = background.colorbar
        _background(ax, problem, window, levels, log, resolution, colorbar if bar is None else bar)
    _paths(ax, theta, diverged, texts)
    ax.set_xlim(*window[0])
    ax.set_ylim(*window[1])
    ax.set_xlabel("$\\theta_1$")
    ax.set_ylabel("$\\theta_2$")
    ax.set_title(title if title is not None else getattr(problem, "name", ""))
    legend(ax)
    return ax


@dataclass
class _Background:
    """What one call drew under the paths, for the calls overlaid on it."""

    window: tuple[tuple[float, float], tuple[float, float]]
    artists: list[Any]
    colorbar: Any = None

    def remove(self) -> None:
        """Take the contours and minimisers off the axes (the colour bar stays, to be
        pointed at the new contours: removing it fails under constrained layout)."""
        for artist in self.artists:
            artist.remove()


def _union(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    return (min(a[0], b[0]), max(a[1], b[1]))


def _background(
    ax: Any,
    problem: Any,
    window: tuple[tuple[float, float], tuple[float, float]],
    levels: int,
    log: bool | None,
    resolution: int,
    colorbar: Any,
) -> None:
    """Filled loss contours, their lines, the minimisers and the colour bar, once per axes
    (``colorbar``: whether to add one, or an existing one to show the new contours)."""
    from matplotlib.colors import LogNorm
    from matplotlib.ticker import LogFormatterSciNotation, LogLocator

    x, y = np.meshgrid(np.linspace(*window[0], resolution), np.linspace(*window[1], resolution))
    with np.errstate(all="ignore"):
        z = np.asarray(problem.loss(np.stack([x, y], axis=-1)), dtype=float)
    finite = np.isfinite(z)
    z = np.where(finite, z, np.nanmax(np.where(finite, z, -np.inf)))
    shifted = z - z.min()
    top = float(shifted.max()) or 1.0
    if log is None:
        log = bool(top > LOG_SKEW * max(float(np.median(shifted)), LOG_FLOOR * top))
    if log:
        floor = LOG_FLOOR * top
        values = shifted + floor
        bounds = np.geomspace(floor, top + floor, int(levels))
        filled = ax.contourf(
            x, y, values, levels=bounds, norm=LogNorm(floor, top + floor), alpha=FILL_ALPHA
        )
    else:
        values = shifted
        bounds = np.linspace(0.0, top, int(levels))
        filled = ax.contourf(x, y, values, levels=bounds, alpha=FILL_ALPHA)
    lines = ax.contour(x, y, values, levels=bounds, colors="k", linewidths=0.25, alpha=0.5)
    record = _Background(window, [filled, lines])
    minimizers = getattr(problem, "minimizers", None)
    if minimizers is not None:
        (stars,) = ax.plot(
            *np.asarray(minimizers).reshape(-1, 2).T,
            "*",
            color="white",
            mec="k",
            mew=0.6,
            ms=10,
            zorder=4,
            label="minimiser",
        )
        record.artists.append(stars)
    if colorbar:
        label = "$L - \\min L$" + (" (log)" if log else "")
        if not hasattr(colorbar, "update_normal"):  # a flag, not a colour bar
            record.colorbar = ax.figure.colorbar(filled, ax=ax, label=label)
        else:
            record.colorbar = colorbar
            colorbar.update_normal(filled)
            colorbar.set_label(label)
        if log:
            record.colorbar.locator = LogLocator()
            record.colorbar.formatter = LogFormatterSciNotation()
            record.colorbar.update_ticks()
    keep_record(filled, _RECORD, record)


def _paths(ax: Any, theta: np.ndarray, diverged: np.ndarray, texts: list[str | None]) -> None:
    """Each element's path in the next series style of the axes over a white halo (it
    reads on dark and light contours alike; every halo lies under every path, so
    overlapping paths stay visible); open circle at the start, dot (or a cross,
    diverged) at the end."""
    first = next_series(ax)
    for i in range(theta.shape[1]):
        path = theta[:, i]
        path = path[np.isfinite(path).all(axis=1)]
        props = series_style(first + i)
        c = props["color"]
        ax.plot(*path.T, color="white", ls="-", lw=HALO_WIDTH, alpha=HALO_ALPHA, zorder=2.0)
        (line,) = ax.plot(
            path[:, 0], path[:, 1], **props, lw=PATH_WIDTH, label=texts[i], zorder=2.1
        )
        tag_series(line, first + i)
        ax.plot(*path[0], "o", color=c, mfc="white", ms=5, zorder=3)
        ax.plot(*path[-1], "X" if diverged[i] else "o", color=c, mec="k", mew=0.5, ms=5, zorder=3)
