"""Reaction paths on the Müller–Brown surface, refined by Richardson extrapolation.

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

Run ``python examples/reaction_path.py`` (about a second; writes ``reaction_path.png``);
``--quick`` uses fewer steps and no figure.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NamedTuple

import numpy as np
from scipy.integrate import solve_ivp

import gradflow as gf

#: Initial step off the saddle along ± the unstable eigenvector (its V drops by
#: ½|λ|δ² ≈ 0.04, against barriers of 25 and more).
DISPLACEMENT = 1e-2
#: The path ends where ‖∇V‖ falls to this (at the saddle start it is about 7, on the way
#: down it reaches hundreds).
GRADIENT_STOP = 10.0
#: Gradient descent that finishes the descent: h·λmax ≈ 0.8 at the stiffest minimum
#: (λmax ≈ 4068), and enough steps to contract the slowest mode (λ ≈ 221) below 1e-10.
DESCENT_STEP = 2e-4
DESCENT_STEPS = 5_000
#: Arc-length tolerance of the reference (scipy DOP853).
REFERENCE_TOL = 1e-12


class Branch(NamedTuple):
    """One half of a reaction path: from ``saddle`` in direction ``sign``."""

    saddle: int
    sign: int
    length: float  # arc length to ‖∇V‖ = GRADIENT_STOP
    s: np.ndarray  # (n,) saved arc lengths
    path: np.ndarray  # (n, 2) Richardson-extrapolated path
    estimate: np.ndarray  # (n,) its error estimate, ‖·‖₂ per point
    error: np.ndarray  # (n,) its true error against the scipy reference
    raw_error: np.ndarray  # (n,) the error of the finest Euler run
    order: float  # observed order at the path end
    minimum: int  # index into problem.minima that the descent reaches
    descent: np.ndarray  # (m, 2) gradient-descent continuation to that minimum


def arc_length_problem(surface: gf.Problem) -> gf.Problem:
    """A Problem whose "gradient" is the unit gradient ∇V/‖∇V‖ (its flow: dθ/ds)."""

    def unit_gradient(theta: np.ndarray) -> np.ndarray:
        g = surface.grad(theta)
        return g / np.linalg.norm(g, axis=-1, keepdims=True)

    return gf.Problem(surface.loss, unit_gradient, dim=2, name="muller_brown/arc-length")


def starts(surface: gf.problems.muller_brown) -> list[tuple[int, int, np.ndarray]]:
    """(saddle index, sign, start) for both directions off each saddle."""
    out = []
    for i, saddle in enumerate(surface.saddles):
        eigenvalues, vectors = np.linalg.eigh(surface.hessian(saddle))
        assert eigenvalues[0] < 0 < eigenvalues[1], "not a first-order saddle"
        for sign in (+1, -1):
            out.append((i, sign, saddle + sign * DISPLACEMENT * vectors[:, 0]))
    return out


def reference(surface: gf.Problem, start: np.ndarray, n_coarse: int) -> tuple[float, np.ndarray]:
    """Arc length to ‖∇V‖ = GRADIENT_STOP and the path on the coarse grid (scipy)."""

    def field(_s: float, y: np.ndarray) -> np.ndarray:
        g = surface.grad(y)
        return -g / np.linalg.norm(g)

    def stop(_s: float, y: np.ndarray) -> float:
        return float(np.linalg.norm(surface.grad(y))) - GRADIENT_STOP

    stop.terminal, stop.direction = True, -1
    sol = solve_ivp(
        field,
        (0.0, 10.0),
        start,
        method="DOP853",
        rtol=REFERENCE_TOL,
        atol=REFERENCE_TOL,
        events=stop,
        dense_output=True,
    )
    length = float(sol.t_events[0][0])
    grid = np.linspace(0.0, length, n_coarse + 1)
    path = sol.sol(grid).T
    path[-1] = sol.y_events[0][0]
    return length, path


def main(quick: bool = False, figure: str | Path | None = "reaction_path.png") -> list[Branch]:
    """Refine all four branches, report them, and draw the figure (unless ``figure=None``).

    Returns
    -------
    list of Branch
        Saddle 0 ``+``, saddle 0 ``-``, saddle 1 ``+``, saddle 1 ``-``.
    """
    surface = gf.problems.muller_brown()
    path_problem = arc_length_problem(surface)
    n_coarse, levels = (32, 3) if quick else (64, 4)
    euler = gf.methods.Euler()
    pieces = []
    for saddle, sign, start in starts(surface):
        length, exact = reference(surface, start, n_coarse)
        grid = np.linspace(0.0, length, n_coarse + 1)
        # Every level lands on every grid point in whole steps: N, 2N, 4N, ... steps.
        hs = length / (n_coarse * 2.0 ** np.arange(levels))
        runs = gf.solve(
            path_problem,
            np.broadcast_to(start, (levels, 2)),
            euler,
            stepsize=hs,
            t_final=length,
            save_at=grid,
        )
        assert (runs.status == "ok").all()
        by_level = np.moveaxis(runs.theta, 1, 0)  # (levels, n, 2)
        refined = gf.richardson.extrapolate(by_level, ratio=2, order=euler.order)
        order = float(
            gf.richardson.observed_order(np.linalg.norm(by_level[:, -1] - exact[-1], axis=-1))
        )
        pieces.append(
            (
                saddle,
                sign,
                length,
                grid,
                refined.value,
                np.linalg.norm(refined.error, axis=-1),
                np.linalg.norm(refined.value - exact, axis=-1),
                np.linalg.norm(by_level[-1] - exact, axis=-1),
                order,
            )
        )

    # Finish every branch by plain gradient descent, all four in one call.
    ends = np.array([piece[4][-1] for piece in pieces])
    descent = gf.solve(surface, ends, stepsize=DESCENT_STEP, steps=DESCENT_STEPS, save_every=50)
    finals = descent.theta[-1]
    distances = np.linalg.norm(finals[:, None, :] - surface.minima[None], axis=-1)
    reached = distances.argmin(axis=1)
    assert np.all(distances.min(axis=1) < 1e-8), "a descent did not converge to a minimum"

    branches = [
        Branch(*piece[:9], minimum=int(m), descent=descent.theta[:, b])
        for b, (piece, m) in enumerate(zip(pieces, reached, strict=True))
    ]
    report(surface, branches, n_coarse, levels)
    if figure is not None:
        draw(surface, branches, Path(figure))
        print(f"figure: {figure}")
    return branches


def connections(branches: list[Branch]) -> dict[int, set[int]]:
    """Saddle index -> the set of minimum indices its two branches reach."""
    out: dict[int, set[int]] = {}
    for b in branches:
        out.setdefault(b.saddle, set()).add(b.minimum)
    return out


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps, no figure")
    parser.add_argument("--figure", default="reaction_path.png", help="PNG to write")
    args = parser.parse_args()
    main(quick=args.quick, figure=None if args.quick else args.figure)
