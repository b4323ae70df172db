"""Figure: several step-size schedules on one axes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from gradflow._validation import check_integer
from gradflow.plot._common import LEGEND_INSIDE_MAX, legend, next_series, tag_series
from gradflow.plot._style import series_style

__all__ = ["schedules"]

#: Default number of steps drawn for a plain callable (which has no ``span``).
DEFAULT_SPAN = 100


def _labels(schedule: Any, n: int, given: str | None) -> list[str]:
    """Legend texts of the ``n`` lines of one schedule."""
    if given is not None:
        return [given] if n == 1 else [f"{given} [{j}]" for j in range(n)]
    if not hasattr(schedule, "label"):
        name = getattr(schedule, "__name__", type(schedule).__name__)
        return [name] if n == 1 else [f"{name} [{j}]" for j in range(n)]
    if n == 1:
        return [schedule.label()]
    texts = [schedule.label(index=j) for j in range(n)]
    if len(set(texts)) < n:
        texts = [f"{text} [{j}]" for j, text in enumerate(texts)]
    return texts


def schedules(
    schedules: Any,
    k: int | ArrayLike | None = None,
    ax: Any = None,
    labels: Sequence[str] | None = None,
    *,
    log: bool = False,
    title: str | None = None,
) -> Any:
    """Draw step-size schedules against the step index on one axes.

    Each schedule is drawn as a step function (``h_k`` is used for the whole step
    ``k``); a schedule with array-valued parameters (a sweep) draws one line per value.
    Lines differ in colour and dash (:func:`series_style`), and calls on the same axes
    continue the series.
    matplotlib is imported only when this is called.

    Parameters
    ----------
    schedules : Schedule, callable, or sequence of them
        gradflow schedules (or any ``f(k)`` that takes an integer array).
    k : int or array_like of int, optional
        An int ``N`` draws ``k = 0, ..., N``; an integer array draws those indices.
        Default: up to the largest ``span`` of the schedules (enough to show each
        shape, past the horizon).
    ax : matplotlib Axes, optional
        Axes to draw on (default: a new 6.4 × 4 inch figure).
    labels : sequence of str, optional
        Legend labels, one per schedule (default: :meth:`Schedule.label`, the name and
        leading arguments; a sweep labels each line with its own values).
    log : bool, optional
        Log scale for the step size (zero values are left out).
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    TypeError
        If an entry is not callable, or ``k`` is not integer.
    ValueError
        If ``labels`` has the wrong length or ``k`` is negative or empty.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import gradflow as gf
    >>> S = gf.schedules
    >>> ax = gf.plot.schedules([S.cosine(0.1, 100), S.one_cycle(0.1, 100)], k=120)
    >>> len(ax.get_lines())
    2
    """
    import matplotlib.pyplot as plt

    items = _callables(schedules)
    if labels is not None:
        labels = list(labels)
        if len(labels) != len(items):
            raise ValueError(f"labels must have {len(items)} entries, got {len(labels)}")
    steps = _indices(k, items)
    curves = []
    for i, s in enumerate(items):
        given = labels[i] if labels is not None else None
        curves.extend(_lines(s, steps, given))
    outside = len(curves) > LEGEND_INSIDE_MAX
    if ax is None:
        size = (9.0, 4.0) if outside else (6.4, 4.0)
        _, ax = plt.subplots(figsize=size, layout="constrained")
    first = next_series(ax)
    for i, (y, name) in enumerate(curves):
        if log:
            y = np.where(y > 0, y, np.nan)
        props = series_style(first + i)
        (line,) = ax.plot(steps, y, drawstyle="steps-post", lw=1.5, label=name, **props)
        tag_series(line, first + i)
    _decorate(ax, steps, log, title)
    return ax


def _callables(schedules: Any) -> list[Any]:
    """The schedules as a non-empty list of callables."""
    items = [schedules] if callable(schedules) else list(schedules)
    if not items:
        raise ValueError("schedules must not be empty")
    for i, s in enumerate(items):
        if not callable(s):
            raise TypeError(f"schedules[{i}] must be callable, got {type(s).__name__}")
    return items


def _indices(k: int | ArrayLike | None, items: list[Any]) -> np.ndarray:
    """The step indices drawn: ``0..k`` for an int, the given ones, or ``0..span``."""
    from gradflow.schedules import as_steps

    if k is None:
        return np.arange(max(int(getattr(s, "span", DEFAULT_SPAN)) for s in items) + 1)
    if isinstance(k, (int, np.integer)) and not isinstance(k, bool):
        return np.arange(check_integer(k, "k", 1) + 1)
    steps = as_steps(k).reshape(-1)
    if not steps.size:
        raise ValueError("k must not be empty")
    return steps


def _lines(schedule: Any, steps: np.ndarray, given: str | None) -> list[tuple[Any, str]]:
    """``(values, label)`` of every line of one schedule (one per sweep element)."""
    shape = tuple(getattr(schedule, "shape", ()))
    values = np.asarray(schedule(steps.reshape(-1, *([1] * len(shape)))), dtype=float)
    values = values.reshape(steps.size, -1)
    return list(zip(values.T, _labels(schedule, values.shape[1], given), strict=True))


def _decorate(ax: Any, steps: np.ndarray, log: bool, title: str | None) -> None:
    """Scales, limits, axis labels, grid and legend."""
    if log:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0)
    ax.set_xlim(steps.min(), steps.max())
    ax.set_xlabel("step index $k$")
    ax.set_ylabel("step size $h_k$")
    if title is not None:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    legend(ax)
