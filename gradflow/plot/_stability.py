"""Figure: linear stability regions in the complex ``z = hλ`` plane."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from gradflow._validation import check_allocation, check_integer
from gradflow.plot._common import fmt, new_axes

__all__ = ["stability_region"]

#: Window when no method has a finite real stability limit above it (Hairer–Wanner's
#: Fig. IV.2.1 shows ``[-5, 1] × [-3.5, 3.5]``).
DEFAULT_REACH = 4.0


def _name(method: Any) -> str:
    name = getattr(method, "name", None)
    if isinstance(name, str) and name:
        return name
    tableau = getattr(method, "tableau", None)
    return getattr(tableau, "name", None) or type(method).__name__


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
    """Shade where ``|R(z)| <= 1`` and mark the real stability interval ``[-β, 0]``.

    For a one-step method ``R`` is its stability function; for a multi-state method
    (heavy ball, Nesterov) the spectral radius of its amplification matrix
    (:func:`gradflow.stability.amplification`).  Gradient descent with step ``h`` on a
    Hessian eigenvalue ``μ`` sits at ``z = -hμ``: it is stable while ``hμ`` stays in the
    marked interval, ``hμ < β`` (:func:`gradflow.stability.real_stability_limit`).

    Parameters
    ----------
    method : Method or sequence of Method
        Several methods are overlaid, each in its own colour.
    ax : matplotlib Axes, optional
        Axes to draw on (default: a new figure).
    labels : sequence of str, optional
        One legend entry per method (default: the method's name).
    re, im : (float, float), optional
        Window in ``Re z`` and ``Im z`` (default: ``[-1.15 β, 0.25 β]`` for the largest
        finite ``β``, at least ``[-4, 1]``; ``im`` symmetric, ``±0.6`` times the ``re``
        width).  With several methods the interval ends are given in the legend.
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
    ['$-\\\\beta = -2$']
    """
    from gradflow.stability import real_stability_limit
    from gradflow.stability import stability_region as region

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
    betas = [real_stability_limit(m) for m in methods]
    re, im = _window(betas, re, im)
    import matplotlib.pyplot as plt

    xs = np.linspace(*re, int(resolution))
    ys = np.linspace(*im, int(resolution))
    ax = new_axes(ax)
    colours = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    for i, (m, beta) in enumerate(zip(methods, betas, strict=True)):
        c = colours[i % len(colours)]
        r = region(m, xs, ys)
        amp = np.where(np.isfinite(r.amplification), r.amplification, 1e3)
        ax.contourf(xs, ys, r.stable.astype(float), levels=[0.5, 1.5], colors=[c], alpha=0.25)
        ax.contour(xs, ys, amp, levels=[1.0], colors=[c], linewidths=1.2)
        text = labels[i] if labels is not None else _name(m)
        beta_text = "∞" if not math.isfinite(beta) else fmt(beta)
        ax.plot([], [], color=c, lw=6, alpha=0.4, label=f"{text} (β = {beta_text})")
    _intervals(ax, betas, colours)
    ax.axhline(0.0, color="k", lw=0.5)
    ax.axvline(0.0, color="k", lw=0.5)
    ax.set_xlim(*re)
    ax.set_ylim(*im)
    ax.set_aspect("equal")
    ax.set_xlabel("Re $z$,  $z = h\\lambda$")
    ax.set_ylabel("Im $z$")
    if title is not None:
        ax.set_title(title)
    if len(methods) == 1:
        ax.legend(frameon=False, fontsize="small", loc="upper left")
    else:  # outside: the regions fill the window
        ax.legend(frameon=False, fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def _window(
    betas: list[float], re: tuple[float, float] | None, im: tuple[float, float] | None
) -> tuple[tuple[float, float], tuple[float, float]]:
    """The default window (see :func:`stability_region`) where ``re`` or ``im`` is not given."""
    finite = [b for b in betas if math.isfinite(b)]
    reach = max([DEFAULT_REACH, *(1.15 * b for b in finite)])
    if re is None:
        re = (-reach, max(1.0, 0.25 * reach))
    if im is None:
        half = 0.6 * (re[1] - re[0])
        im = (-half, half)
    return re, im


def _intervals(ax: Any, betas: list[float], colours: list[str]) -> None:
    """The real stability intervals ``[-β, 0]``, longest first so each shorter one stays
    visible on top; with one method its end is annotated."""
    order = sorted(range(len(betas)), key=lambda j: -betas[j] if math.isfinite(betas[j]) else 0)
    for j in order:
        beta, c = betas[j], colours[j % len(colours)]
        if not math.isfinite(beta):
            continue
        ax.plot([-beta, 0.0], [0.0, 0.0], color=c, lw=3, solid_capstyle="butt", zorder=3)
        ax.plot([-beta], [0.0], "|", color=c, ms=10, mew=2, zorder=3)
        if len(betas) == 1:
            ax.annotate(
                f"$-\\beta = -{fmt(beta)}$",
                (-beta, 0.0),
                xytext=(0, 8),
                textcoords="offset points",
                ha="center",
                fontsize="small",
                color=c,
            )
