"""Figure: work–precision diagram (error against cost, log-log)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gradflow.plot._common import legend, new_axes, next_series, tag_series
from gradflow.plot._style import series_style

__all__ = ["work_precision"]

#: Errors below this (exact to rounding) are drawn at it, so they stay on a log axis.
ERROR_FLOOR = 1e-16
#: Axis labels of the usual cost and error keys.
LABELS = {
    "n_grad": "gradient evaluations",
    "n_steps": "steps",
    "wall_ms": "wall time (ms)",
    "wall_s": "wall time (s)",
    "error": "error",
}


def work_precision(
    data: Sequence[Mapping[str, Any]] | Mapping[str, tuple[Any, Any]],
    ax: Any = None,
    *,
    cost: str = "n_grad",
    error: str = "error",
    by: str = "solver",
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
) -> Any:
    """Draw a work–precision diagram: error against cost, one line per solver.

    Parameters
    ----------
    data : sequence of dict, or mapping of str to (cost, error)
        Rows such as ``{"solver": "scipy RK45", "tol": 1e-6, "n_grad": 412,
        "error": 3e-7}`` (as ``benchmarks/bench_adaptive.py`` makes; rows are grouped by
        ``by`` and sorted by cost), or ``{"name": (costs, errors)}`` arrays.
    ax : matplotlib Axes, optional
        Axes to draw on (default: a new figure).
    cost, error, by : str, optional
        Row keys of the cost (default ``"n_grad"``), the error (``"error"``) and the
        series name (``"solver"``).
    xlabel, ylabel : str, optional
        Axis labels (default from the keys: ``"gradient evaluations"``, ...).
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    ValueError
        If ``data`` is empty, or a row lacks a key, or costs and errors differ in length.

    References
    ----------
    E. Hairer, S. P. Nørsett and G. Wanner, *Solving Ordinary Differential Equations I*,
    2nd ed., Springer, 1993, §II.1.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import gradflow as gf
    >>> rows = [{"solver": s, "n_grad": n, "error": e}
    ...         for s, k in (("a", 1.0), ("b", 4.0)) for n, e in ((10, k * 1e-2), (100, k * 1e-6))]
    >>> ax = gf.plot.work_precision(rows)
    >>> [line.get_label() for line in ax.get_lines()]
    ['a', 'b']
    """
    if isinstance(data, Mapping):
        series = []
        for name, pair in data.items():
            c, e = (np.asarray(v, dtype=float).reshape(-1) for v in pair)
            if c.shape != e.shape:
                raise ValueError(f"{name!r}: {c.size} costs but {e.size} errors")
            series.append((str(name), c, e))
    else:
        rows = list(data)
        groups: dict[str, list[tuple[float, float]]] = {}
        for row in rows:
            missing = [k for k in (cost, error, by) if k not in row]
            if missing:
                raise ValueError(f"row {row!r} has no key(s) {missing}")
            groups.setdefault(str(row[by]), []).append((float(row[cost]), float(row[error])))
        series = [(k, *map(np.array, zip(*v, strict=True))) for k, v in groups.items()]
    if not series:
        raise ValueError("data must not be empty")
    ax = new_axes(ax)
    first = next_series(ax)
    for i, (name, c, e) in enumerate(series):
        order = np.argsort(c)
        (line,) = ax.loglog(
            c[order],
            np.maximum(e[order], ERROR_FLOOR),
            label=name,
            **series_style(first + i, kind="marker"),
        )
        tag_series(line, first + i)
    ax.set_xlabel(xlabel if xlabel is not None else LABELS.get(cost, cost))
    ax.set_ylabel(ylabel if ylabel is not None else LABELS.get(error, error))
    if title is not None:
        ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    legend(ax)
    return ax
