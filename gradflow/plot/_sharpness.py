"""Figure: sharpness ``λmax(∇²L)`` along runs against the edge of stability ``2/h``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from gradflow._validation import check_positive
from gradflow.plot._common import fmt, legend, new_axes, next_series, tag_series
from gradflow.plot._style import MARK_EVERY, series_style

__all__ = ["sharpness"]

#: Room above the highest line or threshold, as a factor of it.
HEADROOM = 1.12
#: Attribute holding the level of a threshold line (each level is drawn once per axes).
THRESHOLD_TAG = "_gradflow_threshold"


def sharpness(
    tracker_or_values: Any,
    h: float | ArrayLike,
    ax: Any = None,
    labels: Sequence[str] | None = None,
    *,
    steps: ArrayLike | None = None,
    limit: float = 2.0,
    log: bool = False,
    title: str | None = None,
) -> Any:
    """Draw the sharpness of each run with its stability threshold ``limit/h`` dashed.

    Gradient descent with step ``h`` is stable on a quadratic only while
    ``λmax < 2/h``; on neural networks the sharpness rises (progressive sharpening)
    until it reaches ``2/h`` and then hovers there (the edge of stability, Cohen et al.
    2021).  Each run's line and its threshold share a colour; the runs differ in colour
    and marker (:func:`series_style`), and calls on the same axes continue the series
    and draw each threshold level once.

    Parameters
    ----------
    tracker_or_values : SharpnessTracker or array_like, shape (n,) or (n, *batch)
        A :func:`gradflow.curvature.track_sharpness` callback after the run (its
        ``steps`` and ``values``), or the sharpness values themselves.
    h : float or array_like
        Step size of each run, broadcastable to the batch shape.
    ax : matplotlib Axes, optional
        Axes to draw on (default: a new figure).
    labels : sequence of str, optional
        One legend entry per run (default: ``h = ...``).
    steps : array_like, shape (n,), optional
        Step of each value (default: the tracker's ``steps``, or ``0, 1, ...``).
    limit : float, optional
        The method's real stability limit ``ℓ`` (default 2, gradient descent; e.g.
        ``2(1 + β)`` for heavy ball with momentum ``β``): the threshold drawn is
        ``limit/h``.
    log : bool, optional
        Log scale for the sharpness (default ``False``).
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    ValueError
        If ``h`` is not positive or does not broadcast, ``steps`` has the wrong length,
        or ``labels`` has the wrong length.
    TypeError
        If ``h`` does not hold real numbers.

    References
    ----------
    J. M. Cohen, S. Kaur, Y. Li, J. Z. Kolter and A. Talwalkar, "Gradient descent on
    neural networks typically occurs at the edge of stability", ICLR 2021.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np, gradflow as gf
    >>> values = np.array([[10.0, 12.0], [15.0, 19.0], [19.9, 20.1]])  # two runs
    >>> ax = gf.plot.sharpness(values, [0.1, 0.2], steps=[0, 10, 20])
    >>> len(ax.get_lines())  # two sharpness lines, two 2/h lines, a legend handle
    5
    """
    values, default_steps = _values(tracker_or_values)
    hs = _step_sizes(h, values.shape[1:])
    xs = default_steps if steps is None else np.asarray(steps)
    if xs.shape != (values.shape[0],):
        raise ValueError(f"steps must have shape ({values.shape[0]},), got {xs.shape}")
    ys = values.reshape(values.shape[0], -1)
    if labels is not None:
        labels = list(labels)
        if len(labels) != ys.shape[1]:
            raise ValueError(f"labels must have {ys.shape[1]} entries, got {len(labels)}")
    ax = new_axes(ax)
    overlay = next_series(ax) > 0
    thresholds = _draw_runs(ax, xs, ys, hs, labels, limit)
    key = f"${fmt(limit)}/h$"
    if key not in ax.get_legend_handles_labels()[1]:
        ax.plot([], [], color="0.3", ls="--", lw=0.9, label=key)
    if log:
        ax.set_yscale("log")
    top = max(np.nanmax(ys), *thresholds)
    if overlay:  # keep the earlier calls' lines in view
        top = max(top, ax.get_ylim()[1] / HEADROOM)
    ax.set_ylim(bottom=0.0 if not log else None)
    if not log:
        ax.set_ylim(top=HEADROOM * top)
    ax.set_xlabel("step $k$")
    ax.set_ylabel("sharpness $\\lambda_{\\max}(\\nabla^2 L)$")
    if title is not None:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    legend(ax)
    return ax


def _values(tracker_or_values: Any) -> tuple[np.ndarray, np.ndarray]:
    """The sharpness values ``(n, *batch)`` and their default steps (the tracker's, or
    ``0, 1, ...``)."""
    tracked = hasattr(tracker_or_values, "values") and hasattr(tracker_or_values, "steps")
    source = tracker_or_values.values if tracked else tracker_or_values
    values = np.asarray(source, dtype=float)
    if values.ndim == 0 or values.shape[0] == 0:
        raise ValueError(f"need at least one sharpness value, got shape {values.shape}")
    if tracked:
        return values, np.asarray(tracker_or_values.steps)
    return values, np.arange(values.shape[0])


def _step_sizes(h: float | ArrayLike, batch: tuple[int, ...]) -> np.ndarray:
    """The step size of each run, flattened over the batch, checked positive."""
    h_values = check_positive(h, "h", allow_array=True)
    try:
        return np.broadcast_to(h_values, batch).reshape(-1)
    except ValueError:
        raise ValueError(
            f"h of shape {np.shape(h)} does not broadcast to the batch shape {batch}"
        ) from None


def _draw_runs(
    ax: Any,
    xs: np.ndarray,
    ys: np.ndarray,
    hs: np.ndarray,
    labels: list[str] | None,
    limit: float,
) -> list[float]:
    """Each run's line (colour and marker of the next series style of the axes: dashes
    mean thresholds here) and, once per distinct level on the axes, its threshold
    ``limit/h`` dashed in the same colour; returns this call's threshold levels."""
    first = next_series(ax)
    drawn = {
        getattr(line, THRESHOLD_TAG) for line in ax.get_lines() if hasattr(line, THRESHOLD_TAG)
    }
    levels = []
    for i in range(ys.shape[1]):
        keep = np.isfinite(ys[:, i])
        text = labels[i] if labels is not None else f"$h = {fmt(hs[i])}$"
        props = series_style(first + i, kind="marker") | {"markevery": MARK_EVERY, "ms": 3.5}
        (line,) = ax.plot(xs[keep], ys[keep, i], label=text, **props)
        tag_series(line, first + i)
        level = float(limit / hs[i])
        levels.append(level)
        if level not in drawn:
            drawn.add(level)
            threshold = ax.axhline(level, color=props["color"], ls="--", lw=0.9)
            setattr(threshold, THRESHOLD_TAG, level)
    return levels
