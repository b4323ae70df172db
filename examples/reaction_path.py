"""Reaction paths on the Müller–Brown surface, refined by Richardson extrapolation.
================================================================================

From each saddle point (transition state) the steepest-descent path, the intrinsic
reaction coordinate of chemistry, runs downhill both ways to the two minima the saddle
connects.  Parametrised by arc length ``s`` it solves

    dθ/ds = -∇V(θ) / ‖∇V(θ)‖,        θ(0) = saddle ± δ u,

with ``u`` the Hessian eigenvector of the negative eigenvalue.  That unit field is the
"gradient" of a :class:`gradflow.Problem` (whose loss is ``V`` itself, for reporting), so
gradflow integrates the path like any gradient flow: an Euler step is a step of arc
length ``h`` straight downhill.

Each branch is integrated with Euler at ``N, 2N, 4N, ...`` steps in one batched
``gf.solve`` call (the step sizes are the batch), saved on the coarse grid, and the whole
path is extrapolated with ``gf.richardson.extrapolate``; its error estimate is checked
against scipy's DOP853 at ``rtol = atol = 1e-12`` on the same arc lengths.

The path stops where ``‖∇V‖`` falls to ``GRADIENT_STOP`` (found by the scipy reference):
nearer the minimum the unit field turns on the length scale ``‖∇V‖/‖H‖`` and finally
has no limit.  Plain gradient descent then finishes the descent, which tells which
minimum the branch reaches.

Run ``python examples/reaction_path.py [--out DIR]`` (about a second; writes
``reaction_path.png`` to ``DIR``, default ``$GRADFLOW_EXAMPLES_OUT`` or a new temporary
folder); ``--quick`` uses fewer steps.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import gradflow as gf

# The computation is shared with the paper reproduction (``gradflow papers run
# reaction_path``); this script prints and draws it.
from gradflow.papers.reaction_path import Branch, connections, refine_paths, sizes


def main(quick: bool = False, figure: str | Path | None = "reaction_path.png") -> list[Branch]:
    """Refine all four branches, report them, and draw the figure (unless ``figure=None``).

    Returns
    -------
    list of Branch
        Saddle 0 ``+``, saddle 0 ``-``, saddle 1 ``+``, saddle 1 ``-``.
    """
    surface = gf.problems.muller_brown()
    branches = refine_paths(quick)
    n_coarse, levels = sizes(quick)
    report(surface, branches, n_coarse, levels)
    if figure is not None:
        draw(surface, branches, Path(figure))
        print(f"figure: {figure}")
    return branches


def report(surface: gf.Problem, branches: list[Branch], n_coarse: int, levels: int) -> None:
    def point(xy: np.ndarray) -> str:
        return f"({xy[0]:+.3f}, {xy[1]:+.3f})"

    print(
        f"Müller–Brown reaction paths: Euler at {n_coarse}·2^k steps, k < {levels}, "
        "Richardson-extrapolated; errors against scipy DOP853 (1e-12)"
    )
    print(
        "saddle            dir  length  minimum reached    raw end err  refined end err  "
        "estimate  est/err (path: min..max)  order"
    )
    for b in branches:
        ratio = b.estimate[1:] / b.error[1:]
        print(
            f"{point(surface.saddles[b.saddle])}  {'+' if b.sign > 0 else '-'}   "
            f"{b.length:6.4f}  {point(surface.minima[b.minimum])}  {b.raw_error[-1]:11.2e}  "
            f"{b.error[-1]:15.2e}  {b.estimate[-1]:8.2e}  {b.estimate[-1] / b.error[-1]:5.2f} "
            f"({ratio.min():.2f}..{ratio.max():.2f})          {b.order:.3f}"
        )
    for saddle, minima in sorted(connections(branches).items()):
        joined = " and ".join(point(surface.minima[m]) for m in sorted(minima))
        print(f"saddle {point(surface.saddles[saddle])} joins minima {joined}")


def draw(surface: gf.Problem, branches: list[Branch], path: Path) -> None:
    """Contours of V, the refined paths, their descent to the minima (matplotlib)."""
    from matplotlib.figure import Figure

    x, y = np.meshgrid(np.linspace(-1.5, 1.2, 300), np.linspace(-0.4, 2.0, 300))
    v = surface.loss(np.stack([x, y], axis=-1))
    fig = Figure(figsize=(7.0, 6.0), layout="constrained")
    ax = fig.subplots()
    filled = ax.contourf(
        x, y, np.minimum(v, 100.0), levels=np.linspace(-150, 100, 26), cmap="viridis"
    )
    ax.contour(
        x,
        y,
        np.minimum(v, 100.0),
        levels=np.linspace(-150, 100, 26),
        colors="k",
        linewidths=0.3,
        negative_linestyles="solid",
    )
    fig.colorbar(filled, ax=ax, label="V (clipped at 100)")
    colours = ("tab:red", "tab:orange")
    for b in branches:
        ax.plot(b.path[:, 0], b.path[:, 1], color=colours[b.saddle], lw=2.0)
        ax.plot(b.descent[:, 0], b.descent[:, 1], color=colours[b.saddle], lw=1.0, ls="--")
    ax.plot(*surface.saddles.T, "x", color="white", ms=10, mew=2.5, label="saddles")
    ax.plot(*surface.minima.T, "o", color="white", mec="k", ms=8, label="minima")
    ax.plot([], [], color="k", lw=2.0, label="refined path (arc length)")
    ax.plot([], [], color="k", lw=1.0, ls="--", label="gradient descent to the minimum")
    ax.set(xlabel="x", ylabel="y", title="Müller–Brown minimum-energy paths")
    ax.legend(loc="upper right", fontsize=8)
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps")
    parser.add_argument("--out", help="folder for the figure")
    args = parser.parse_args()
    import os
    import tempfile

    out = Path(
        args.out or os.environ.get("GRADFLOW_EXAMPLES_OUT") or tempfile.mkdtemp(prefix="gradflow-")
    )
    out.mkdir(parents=True, exist_ok=True)
    main(quick=args.quick, figure=out / "reaction_path.png")
