"""Figures: loss and step size of a batch of runs against the step count or time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gradflow._trajectory import Trajectory
from gradflow._validation import check_choice
from gradflow.plot._common import (
    columns,
    element_labels,
    legend,
    new_axes,
    next_series,
    spans_decades,
    tag_series,
)
from gradflow.plot._style import series_style

__all__ = ["loss_curves", "stepsizes"]

_X_LABELS = {"step": "step $k$", "t": "time $t$"}


def _x_values(traj: Any, x: str) -> np.ndarray:
    x = check_choice(x, "x", ("step", "t"))
    return np.asarray(traj.step if x == "step" else traj.t)


def _check_trajectory(traj: Any) -> Trajectory:
    if not isinstance(traj, Trajectory):
        raise TypeError(f"traj must be a gradflow Trajectory, got {type(traj).__name__}")
    return traj


def _loss_series(traj: Any, x: str) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """``(x values, losses, batch shape)`` of a Trajectory or of an array of losses
    ``(n, *batch)``, whose ``k``-th row is drawn at step ``k``."""
    if isinstance(traj, Trajectory):
        return _x_values(traj, x), np.asarray(traj.loss, dtype=float), tuple(traj.status.shape)
    if isinstance(traj, (str, bytes)) or traj is None:
        raise TypeError(
            f"traj must be a gradflow Trajectory or an array of losses, got {type(traj).__name__}"
        )
    try:
        loss = np.asarray(traj)
    except (TypeError, ValueError):  # ragged sequences
        raise ValueError("traj: an array of losses must have shape (n, *batch)") from None
    if loss.dtype.kind not in "iuf":
        raise TypeError(
            f"traj must be a gradflow Trajectory or an array of losses (real numbers), got "
            f"{type(traj).__name__} of dtype {loss.dtype}"
        )
    if loss.ndim == 0 or loss.shape[0] == 0:
        raise ValueError(
            f"traj: an array of losses must have shape (n, *batch) with n >= 1, got {loss.shape}"
        )
    if check_choice(x, "x", ("step", "t")) == "t":
        raise ValueError('x="t" needs a Trajectory (an array of losses has no times)')
    steps = np.arange(loss.shape[0]).reshape(-1, *(1,) * (loss.ndim - 1))
    return steps, loss.astype(float), loss.shape[1:]


def _draw(ax: Any, xs: np.ndarray, ys: np.ndarray, texts: list[str | None], drawstyle: str) -> None:
    """One line per column, each in the next series style of the axes."""
    first = next_series(ax)
    for i in range(ys.shape[1]):
        keep = np.isfinite(ys[:, i])
        (line,) = ax.plot(
            xs[keep, i],
            ys[keep, i],
            drawstyle=drawstyle,
            label=texts[i],
            **series_style(first + i),
        )
        tag_series(line, first + i)


def loss_curves(
    traj: Any,
    ax: Any = None,
    labels: Sequence[str] | None = None,
    *,
    x: str = "step",
    minimum: float | None = None,
    log: bool | None = None,
    title: str | None = None,
) -> Any:
    """Draw the loss of every batch element against the step count (or time).

    Parameters
    ----------
    traj : Trajectory or array_like, shape (n, *batch)
        From :func:`gradflow.solve` (any batch shape; saved points only), or an array of
        losses whose row ``k`` is drawn at step ``k``.
    ax : matplotlib Axes, optional
        Axes to draw on (default: a new figure).
    labels : sequence of str, optional
        One legend entry per batch element (default: the batch index; no legend beyond
        10 elements).
    x : {"step", "t"}, optional
        Horizontal axis: steps taken (default) or flow time ``t``.
    minimum : float, optional
        Draw the suboptimality ``L − minimum`` instead of ``L`` (e.g. ``problem.minimum``).
    log : bool, optional
        Log scale for the loss (default: when the values are positive and span more than
        two decades).
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    ValueError
        If ``x`` is unknown (or ``"t"`` with an array of losses), ``labels`` has the
        wrong length, or an array of losses is empty or 0-d.
    TypeError
        If ``traj`` is neither a Trajectory nor an array of real numbers, or ``x`` is not
        a string.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 10.0], seed=0)
    >>> traj = gf.solve(p, np.ones((3, 2)), stepsize=np.array([0.05, 0.1, 0.15]), steps=50)
    >>> ax = gf.plot.loss_curves(traj, labels=["h = 0.05", "h = 0.1", "h = 0.15"])
    >>> len(ax.get_lines()), ax.get_yscale()
    (3, 'log')
    """
    xs, loss, batch_shape = _loss_series(traj, x)
    ys = columns(loss, len(batch_shape))
    xs = columns(np.broadcast_to(xs, loss.shape), len(batch_shape))
    if minimum is not None:
        ys = ys - float(minimum)
    texts = element_labels(labels, ys.shape[1], batch_shape)
    ax = new_axes(ax)
    _draw(ax, xs, ys, texts, "default")
    if log is None:
        log = spans_decades(ys)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(_X_LABELS[x])
    ax.set_ylabel("$L(\\theta) - L^*$" if minimum is not None else "loss $L(\\theta)$")
    if title is not None:
        ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    legend(ax)
    return ax


def stepsizes(
    traj: Any,
    ax: Any = None,
    labels: Sequence[str] | None = None,
    *,
    x: str = "step",
    log: bool | None = None,
    title: str | None = None,
) -> Any:
    """Draw the step size ``h`` taken by every batch element (adaptive runs, schedules).

    ``traj.h[j]`` is the nominal step that reached saved point ``j``; it is drawn as a
    step function.

    Parameters
    ----------
    traj : Trajectory
        From :func:`gradflow.solve` (any batch shape).
    ax : matplotlib Axes, optional
        Axes to draw on (default: a new figure).
    labels : sequence of str, optional
        One legend entry per batch element.
    x : {"step", "t"}, optional
        Horizontal axis: steps taken (default) or flow time ``t``.
    log : bool, optional
        Log scale for ``h`` (default: when it spans more than two decades).
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    ValueError
        If ``x`` is unknown or ``labels`` has the wrong length.
    TypeError
        If ``traj`` is not a Trajectory or ``x`` is not a string.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import gradflow as gf
    >>> p = gf.problems.rosenbrock()
    >>> ctrl = gf.controllers.IController(rtol=1e-6, atol=1e-6)
    >>> method = gf.methods.RungeKutta(gf.methods.DOPRI54)
    >>> traj = gf.solve(p, [-1.2, 1.0], method, ctrl, t_final=5.0, save_every=1)
    >>> ax = gf.plot.stepsizes(traj, x="t")
    >>> len(ax.get_lines()), ax.get_xlabel()
    (1, 'time $t$')
    """
    xs = _x_values(_check_trajectory(traj), x)
    batch_shape = tuple(np.shape(traj.status))
    ys = columns(np.asarray(traj.h, dtype=float), len(batch_shape))
    xs = columns(np.broadcast_to(xs, np.shape(traj.h)), len(batch_shape))
    texts = element_labels(labels, ys.shape[1], batch_shape)
    ax = new_axes(ax)
    # h[j] belongs to the step that ended at point j: draw it over (x[j-1], x[j]].
    _draw(ax, xs, ys, texts, "steps-pre")
    if log is None:
        log = spans_decades(ys)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(_X_LABELS[x])
    ax.set_ylabel("step size $h$")
    if title is not None:
        ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    legend(ax)
    return ax
