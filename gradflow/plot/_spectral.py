"""Figure: Hessian eigenvalue density from stochastic Lanczos quadrature."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gradflow.plot._common import LEGEND_MAX, legend, new_axes, next_series, tag_series
from gradflow.plot._style import series_style

__all__ = ["spectral_density"]

#: On a log axis, densities below this fraction of the peak are cut off (the Gaussian
#: tails of the smoothing kernel would otherwise run down to 1e-300).
LOG_FLOOR = 1e-6


def spectral_density(
    density: Any,
    ax: Any = None,
    labels: Sequence[str] | None = None,
    *,
    log: bool = True,
    nodes: bool = True,
    title: str | None = None,
) -> Any:
    """Draw the smoothed eigenvalue density of a :class:`~gradflow.curvature.SpectralDensity`.

    As in PyHessian, the density is drawn on a log axis (default), where both the bulk
    near zero and the few outliers that set ``λmax`` are visible.  With ``nodes`` the
    quadrature nodes (Ritz values) of weight above ``1e-3`` are marked on the axis.

    Parameters
    ----------
    density : SpectralDensity
        From :func:`gradflow.curvature.spectral_density` (any batch shape: one curve per
        point).
    ax : matplotlib Axes, optional
        Axes to draw on (default: a new figure).
    labels : sequence of str, optional
        One legend entry per point.
    log : bool, optional
        Log scale for the density (default ``True``).
    nodes : bool, optional
        Mark the heavy Ritz values under the curve (default ``True``).
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    ValueError
        If ``labels`` has the wrong length.

    References
    ----------
    Z. Yao, A. Gholami, K. Keutzer and M. W. Mahoney, "PyHessian: Neural networks through
    the lens of the Hessian", IEEE BigData 2020.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 2.0, 10.0], seed=0)
    >>> sd = gf.curvature.spectral_density(p, [1.0, 1.0, 1.0], n_lanczos=3, n_probes=2, seed=0)
    >>> ax = gf.plot.spectral_density(sd)
    >>> len(ax.get_lines()) >= 1, ax.get_yscale()
    (True, 'log')
    """
    values = np.asarray(density.density, dtype=float)
    curves = values.reshape(-1, values.shape[-1])
    grid = np.broadcast_to(np.asarray(density.grid, dtype=float), values.shape)
    grid = grid.reshape(-1, values.shape[-1])
    m = curves.shape[0]
    node_values = np.asarray(density.nodes, dtype=float).reshape(m, -1)
    node_weights = np.asarray(density.weights, dtype=float).reshape(m, -1)
    if labels is not None:
        labels = list(labels)
        if len(labels) != m:
            raise ValueError(f"labels must have {m} entries, got {len(labels)}")
    ax = new_axes(ax)
    first = next_series(ax)
    for i in range(m):
        y = curves[i]
        if log:
            y = np.where(y > LOG_FLOOR * y.max(), y, np.nan)
        text = labels[i] if labels is not None else (f"[{i}]" if 1 < m <= LEGEND_MAX else None)
        (line,) = ax.plot(grid[i], y, label=text, **series_style(first + i))
        tag_series(line, first + i)
        if nodes:
            heavy = node_weights[i] > 1e-3
            ax.plot(
                node_values[i, heavy],
                np.zeros(int(heavy.sum())),
                "|",
                color=line.get_color(),
                ms=8,
                transform=ax.get_xaxis_transform(),
                clip_on=False,
            )
    if log:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0.0)
    ax.set_xlabel("Hessian eigenvalue $\\lambda$")
    ax.set_ylabel("density")
    if title is not None:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    legend(ax)
    return ax
