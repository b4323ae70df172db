r"""Edge of stability on the 1-100-1 tanh network (Cohen et al., ICLR 2021, Figure 1).

Full-batch gradient descent on :func:`gradflow.problems.mlp_regression` (the paper's
1-100-1 tanh net, 300 parameters, fit to 20 points of a Chebyshev polynomial, MSE) with
several step sizes ``h``, all in one batched :func:`gradflow.solve` call; the sharpness
``λmax(∇²L)`` is recorded along the run by :func:`gradflow.curvature.track_sharpness`.

Checks, for every ``h``:

* **progressive sharpening**: the sharpness is, at some point, below
  ``(1 - EDGE_TOL)·2/h`` (at initialisation, or after the first catapult when it starts
  above ``2/h``) and afterwards rises back to it;
* **edge of stability**: over the last ``WINDOW`` of training the sharpness stays in
  ``2/h · (1 ± EDGE_TOL)``;
* the loss still falls (final loss below a tenth of the initial) and it does so
  non-monotonically (some steps increase it).

Full size: three step sizes, 20,000 steps, window = last half (the issue's criterion).
Quick size: two step sizes, 8,000 steps, window = last quarter — the run is cut before
the smallest ``h`` has sharpened up to its edge, so the window is shorter (documented,
looser).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from gradflow.papers._result import PaperResult, new_figure, paper_dir, save_figure, write_json

__all__ = ["CLAIM", "NAME", "run"]

NAME = "edge_of_stability"
CLAIM = (
    "Full-batch GD on a tanh network sharpens progressively until λmax ≈ 2/h, then hovers "
    "at 2/h (±10%) while the loss keeps falling non-monotonically."
)
#: Relative band around 2/h (the issue: "sharpness at 2/h ± 10%").
EDGE_TOL = 0.10
#: (step sizes, steps, fraction of training at the end that must sit on the edge).
FULL = ((0.06, 0.10, 0.12), 20_000, 0.5)
QUICK = ((0.10, 0.12), 8_000, 0.25)
#: Sharpness recorded every this many steps (Lanczos, warm-started).
SAMPLES = 200
#: Initialisation seed of the network (Xavier-normal, gain 1.9, as in the paper).
SEED = 0


def run(out_dir: str | Path, quick: bool = False) -> PaperResult:
    """Run the reproduction, check the claim, write figures and numbers to ``out_dir/NAME``."""
    import gradflow as gf

    start = time.perf_counter()
    result = PaperResult(NAME, CLAIM, quick=quick)
    hs, steps, window = QUICK if quick else FULL
    hs = np.asarray(hs)
    problem = gf.problems.mlp_regression()
    theta0 = np.broadcast_to(problem.init(SEED), (hs.size, problem.dim))
    every = steps // SAMPLES
    tracker = gf.curvature.track_sharpness(problem, every=every, seed=SEED)
    traj = gf.solve(problem, theta0, stepsize=hs, steps=steps, save_every=every, callback=tracker)
    sharp = tracker.values  # (n, len(hs))
    k = tracker.steps
    tail = k >= (1.0 - window) * steps
    numbers: dict = {"h": hs, "steps": steps, "window": window, "per_h": []}
    for i, h in enumerate(hs):
        edge = 2.0 / h
        s = sharp[:, i]
        below = s < (1.0 - EDGE_TOL) * edge
        first = int(np.argmax(below)) if below.any() else s.size
        rise = np.flatnonzero(~below[first:])  # back up to the edge after being below it
        reached = first + int(rise[0]) if rise.size else s.size - 1
        low = float(np.min(s[first:reached])) if rise.size else np.nan
        band = s[tail] / edge - 1.0
        loss = traj.loss[:, i]
        ups = int(np.sum(np.diff(loss) > 0))
        numbers["per_h"].append(
            {
                "h": h,
                "two_over_h": edge,
                "sharpness_init": s[0],
                "sharpness_low_before_edge": low,
                "step_reached_edge": int(k[reached]),
                "tail_rel_min": band.min(),
                "tail_rel_max": band.max(),
                "loss_init": loss[0],
                "loss_final": loss[-1],
                "loss_increases": ups,
                "status": str(traj.status[i]),
            }
        )
        result.check(
            f"h={h:g}: progressive sharpening",
            f"λmax {low:.2f} rises to 0.9·2/h={0.9 * edge:.2f} by step {k[reached]}",
            "falls below 0.9·2/h, then rises back to it",
            np.isfinite(low),
        )
        result.check(
            f"h={h:g}: λmax/(2/h) - 1 over the last {window:.0%} of {steps} steps",
            f"[{band.min():+.3f}, {band.max():+.3f}]",
            f"within ±{EDGE_TOL:.2f}",
            traj.status[i] == "ok" and np.all(np.abs(band) <= EDGE_TOL),
        )
        result.check(
            f"h={h:g}: loss keeps falling, non-monotonically",
            f"{loss[0]:.3g} -> {loss[-1]:.3g}, {ups} saved increases",
            "final < initial/10 and ≥ 1 increase",
            loss[-1] < loss[0] / 10 and ups >= 1,
        )
    result.numbers = numbers
    directory = paper_dir(out_dir, NAME)
    _figure(k, sharp, traj, hs, directory, result)
    result.runtime = time.perf_counter() - start
    write_json(result, directory)
    return result


def _figure(k, sharp, traj, hs, directory: Path, result: PaperResult) -> None:
    fig, axes = new_figure(2, 1, width=7.5, height=3.0)
    ax_loss, ax_sharp = axes[0]
    colours = ("#0072B2", "#D55E00", "#009E73", "#CC79A7")
    steps = traj.step[:, 0]
    for i, h in enumerate(hs):
        c = colours[i % len(colours)]
        ax_loss.plot(steps, traj.loss[:, i], color=c, lw=1.0, label=f"h = {h:g}")
        ax_sharp.plot(k, sharp[:, i], color=c, lw=1.0, label=f"h = {h:g}")
        ax_sharp.axhline(2.0 / h, color=c, ls="--", lw=0.8)
    ax_loss.set(yscale="log", xlabel="step k", ylabel="training loss L(θ_k)", title="loss")
    ax_sharp.set(
        xlabel="step k", ylabel="sharpness λmax(∇²L(θ_k))", title="sharpness (dashed: 2/h)"
    )
    ax_loss.legend(fontsize=8, loc="lower left")
    ax_sharp.legend(fontsize=8, loc="lower right")
    save_figure(fig, directory, NAME, result)
