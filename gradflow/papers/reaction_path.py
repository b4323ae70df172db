r"""Reaction paths on the Müller–Brown surface, refined by Richardson extrapolation.

Müller & Brown (Theor. Chim. Acta 53, 75, 1979).  From each saddle point (transition
state) the steepest-descent path, the intrinsic reaction coordinate of chemistry, runs
downhill both ways to the two minima the saddle connects.  Parametrised by arc length
``s`` it solves

    dθ/ds = -∇V(θ) / ‖∇V(θ)‖,        θ(0) = saddle ± δ u,

with ``u`` the Hessian eigenvector of the negative eigenvalue.  That unit field is the
"gradient" of a :class:`gradflow.Problem` (whose loss is ``V`` itself, for reporting), so
gradflow integrates the path like any gradient flow: an Euler step is a step of arc
length ``h`` straight downhill.

Each branch is integrated with Euler at ``N, 2N, 4N, ...`` steps in one batched
:func:`gradflow.solve` call (the step sizes are the batch), saved on the coarse grid, and
the whole path is extrapolated with :func:`gradflow.richardson.extrapolate`; its error
estimate is checked against scipy's DOP853 at ``rtol = atol = 1e-12`` on the same arc
lengths.  The path stops where ``‖∇V‖`` falls to ``GRADIENT_STOP``; plain gradient
descent then finishes the descent, which tells which minimum the branch reaches.

Checks: each saddle joins the two minima it is known to join; Euler's observed order at
each path end is ``1 ± 0.05``; the extrapolation's error estimate is within a factor
``ESTIMATE_FACTOR`` of the true error at every point of every path; extrapolation cuts the
end-point error by at least ``GAIN``.  ``examples/reaction_path.py`` prints and draws the
same computation.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
from scipy.integrate import solve_ivp

import gradflow as gf
from gradflow.papers._result import PaperResult, new_figure, paper_dir, save_figure, write_json

__all__ = [
    "CLAIM",
    "NAME",
    "Branch",
    "arc_length_problem",
    "connections",
    "reference",
    "refine_paths",
    "run",
    "sizes",
    "starts",
]

NAME = "reaction_path"
CLAIM = (
    "Richardson extrapolation of Euler runs refines the Müller–Brown steepest-descent paths, "
    "and its error estimate tracks the true error (against scipy at 1e-12) within a factor 3."
)
#: Bound on estimate/error (and its inverse) along every path.
ESTIMATE_FACTOR = 3.0
#: Least reduction of the end-point error by extrapolation.
GAIN = 20.0
#: Saddle index -> the minima (indices into ``muller_brown().minima``) it joins.
EXPECTED = {0: {0, 2}, 1: {1, 2}}

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


def sizes(quick: bool = False) -> tuple[int, int]:
    """(coarse grid intervals, Richardson levels) of the quick and the full refinement."""
    return (32, 3) if quick else (64, 4)


def refine_paths(quick: bool = False) -> list[Branch]:
    """Refine all four branches (Euler + Richardson) and finish them by gradient descent.

    Returns
    -------
    list of Branch
        Saddle 0 ``+``, saddle 0 ``-``, saddle 1 ``+``, saddle 1 ``-``.
    """
    surface = gf.problems.muller_brown()
    path_problem = arc_length_problem(surface)
    n_coarse, levels = sizes(quick)
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
    return branches


def connections(branches: list[Branch]) -> dict[int, set[int]]:
    """Saddle index -> the set of minimum indices its two branches reach."""
    out: dict[int, set[int]] = {}
    for b in branches:
        out.setdefault(b.saddle, set()).add(b.minimum)
    return out


def run(out_dir: str | Path, quick: bool = False) -> PaperResult:
    """Run the reproduction, check the claim, write figures and numbers to ``out_dir/NAME``."""
    start = time.perf_counter()
    result = PaperResult(NAME, CLAIM, quick=quick)
    surface = gf.problems.muller_brown()
    branches = refine_paths(quick)
    n_coarse, levels = sizes(quick)
    found = connections(branches)
    result.check(
        "minima joined by each saddle",
        "; ".join(f"saddle {s}: minima {sorted(m)}" for s, m in sorted(found.items())),
        f"= {'; '.join(f'saddle {s}: minima {sorted(m)}' for s, m in EXPECTED.items())}",
        found == EXPECTED,
    )
    orders = [b.order for b in branches]
    result.check(
        "Euler's observed order at the path ends",
        ", ".join(f"{o:.3f}" for o in orders),
        "1 ± 0.05 for each branch",
        all(abs(o - 1.0) <= 0.05 for o in orders),
    )
    ratios = np.concatenate([b.estimate[1:] / b.error[1:] for b in branches])
    result.check(
        "Richardson error estimate / true error, all points of all paths",
        f"{ratios.min():.2f} .. {ratios.max():.2f}",
        f"within [1/{ESTIMATE_FACTOR:g}, {ESTIMATE_FACTOR:g}]",
        ratios.min() >= 1.0 / ESTIMATE_FACTOR and ratios.max() <= ESTIMATE_FACTOR,
    )
    gains = [b.raw_error[-1] / b.error[-1] for b in branches]
    result.check(
        "end-point error: finest Euler / extrapolated",
        ", ".join(f"{g:.0f}×" for g in gains),
        f"≥ {GAIN:g}× for each branch",
        min(gains) >= GAIN,
    )
    result.numbers = {
        "n_coarse": n_coarse,
        "levels": levels,
        "branches": [
            {
                "saddle": surface.saddles[b.saddle],
                "sign": b.sign,
                "length": b.length,
                "minimum": surface.minima[b.minimum],
                "raw_end_error": b.raw_error[-1],
                "refined_end_error": b.error[-1],
                "estimate_end": b.estimate[-1],
                "order": b.order,
            }
            for b in branches
        ],
    }
    directory = paper_dir(out_dir, NAME)
    _figure(surface, branches, directory, result)
    result.runtime = time.perf_counter() - start
    write_json(result, directory)
    return result


def _figure(surface, branches, directory: Path, result: PaperResult) -> None:
    fig, axes = new_figure(2, 1, width=9.0, height=3.8)
    ax, ax_err = axes[0]
    x, y = np.meshgrid(np.linspace(-1.5, 1.2, 300), np.linspace(-0.4, 2.0, 300))
    v = np.minimum(surface.loss(np.stack([x, y], axis=-1)), 100.0)
    levels = np.linspace(-150, 100, 26)
    filled = ax.contourf(x, y, v, levels=levels, cmap="viridis")
    fig.colorbar(filled, ax=ax, label="V(x, y) (clipped at 100)")
    colours = ("#D55E00", "#E69F00")
    for b in branches:
        ax.plot(b.path[:, 0], b.path[:, 1], color=colours[b.saddle], lw=2.0)
        ax.plot(b.descent[:, 0], b.descent[:, 1], color=colours[b.saddle], lw=1.0, ls="--")
    ax.plot(*surface.saddles.T, "x", color="white", ms=9, mew=2.5, label="saddles")
    ax.plot(*surface.minima.T, "o", color="white", mec="k", ms=7, label="minima")
    ax.set(xlabel="x", ylabel="y", title="Müller–Brown reaction paths")
    ax.legend(fontsize=7, loc="upper right")
    styles = ("-", "--", "-.", ":")
    for i, b in enumerate(branches):
        c = colours[b.saddle]
        tag = f"saddle {b.saddle}, {'+' if b.sign > 0 else '-'}"
        ax_err.semilogy(b.s[1:], b.error[1:], color=c, ls=styles[i], lw=1.5, label=f"{tag}: true")
        ax_err.semilogy(b.s[1:], b.estimate[1:], "o", color=c, ms=2.5)
        ax_err.semilogy(b.s[1:], b.raw_error[1:], color="0.6", ls=styles[i], lw=0.8)
    ax_err.plot([], [], "o", color="k", ms=2.5, label="Richardson estimate")
    ax_err.plot([], [], color="0.6", lw=0.8, label="finest Euler run")
    ax_err.set(xlabel="arc length s", ylabel="‖θ(s) - θ_ref(s)‖₂", title="path error")
    ax_err.legend(fontsize=6, loc="lower right", ncols=2)
    save_figure(fig, directory, NAME, result)
