r"""Warm restarts (SGDR) and one-cycle: exploration, then exploitation.

SGDR (Loshchilov & Hutter, ICLR 2017) repeats cosine annealing from a large step;
one-cycle (Smith & Topin 2018) warms up to a large step and anneals to a tiny one.  The
large steps *explore*: with ``h`` above ``2/λ`` of the local minima no minimum is stable,
and GD rattles over the landscape while the broad quadratic envelope pulls it inwards;
the annealed end *exploits*: the step falls below ``2/λ`` and GD settles.

Landscape: the 2-d Rastrigin-type function
``L(θ) = ½‖θ‖² + A Σ_i (1 - cos 2πθ_i)`` (local minima near every integer point, all
with curvature ``λ ≈ 1 + 4π²A``; the global one at 0), from ``n`` uniform starts in
``[-4.5, 4.5]²``, ``N`` steps of GD with the same peak step ``H_MAX`` (about ``2.4·2/λ``)
for the large-step policies (:func:`gradflow.schedules.cosine_restarts`,
:func:`gradflow.schedules.one_cycle`, constant) and a small constant step ``H_MIN``.

Checks (fractions over the starts):

* SGDR ends at the global minimum from at least ``SGDR_GLOBAL`` of the starts, and from
  at least ``GAIN`` times as many starts as the small constant step (which keeps the
  minimum nearest the start: exploitation without exploration);
* (a single cosine anneal from ``H_MAX`` is also run and reported: on this landscape it
  does as well as SGDR — the effect is the large-then-small step, not the restarts);
* SGDR's runs converge (``‖∇L‖ < 1e-6``) from at least ``SGDR_GLOBAL`` of the starts,
  the large constant step's from at most ``10%`` (exploration without exploitation).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from gradflow.papers._result import PaperResult, new_figure, paper_dir, save_figure, write_json

__all__ = ["CLAIM", "NAME", "landscape", "run"]

NAME = "schedules"
CLAIM = (
    "Large steps explore, annealed steps exploit: SGDR warm restarts (and one-cycle) end in the "
    "global minimum of a multi-minimum landscape far more often than a small constant step, "
    "and converge where a large constant step does not."
)
#: Rastrigin amplitude: curvature at the minima ≈ 1 + 4π² ≈ 40.5, 2/λ ≈ 0.049.
AMPLITUDE = 1.0
#: Peak step of the large-step policies and the small constant step.
H_MAX = 0.12
H_MIN = 0.01
#: Half-width of the box of starts.
BOX = 4.5
#: Thresholds of the checks.
SGDR_GLOBAL = 0.9
GAIN = 5.0
#: (number of starts, steps, SGDR cycles).
FULL = (2000, 6000, 6)
QUICK = (200, 1200, 4)
SEED = 0
#: Distance from the origin below which a run counts as in the global basin.
GLOBAL_RADIUS = 0.5


def landscape():
    """The 2-d Rastrigin-type problem ``½‖θ‖² + A Σ(1 - cos 2πθ_i)`` (a gradflow Problem)."""
    import gradflow as gf

    a = AMPLITUDE

    def loss(theta: np.ndarray) -> np.ndarray:
        return 0.5 * np.sum(theta**2, axis=-1) + a * np.sum(1.0 - np.cos(2 * np.pi * theta), -1)

    def grad(theta: np.ndarray) -> np.ndarray:
        return theta + 2 * np.pi * a * np.sin(2 * np.pi * theta)

    def hvp(theta: np.ndarray, v: np.ndarray) -> np.ndarray:
        return (1.0 + 4 * np.pi**2 * a * np.cos(2 * np.pi * theta)) * v

    return gf.Problem(loss, grad, dim=2, hvp=hvp, name="rastrigin2d")


def run(out_dir: str | Path, quick: bool = False) -> PaperResult:
    """Run the reproduction, check the claim, write figures and numbers to ``out_dir/NAME``."""
    import gradflow as gf

    start = time.perf_counter()
    result = PaperResult(NAME, CLAIM, quick=quick)
    n, steps, cycles = QUICK if quick else FULL
    problem = landscape()
    theta0 = np.random.default_rng(SEED).uniform(-BOX, BOX, (n, 2))
    policies = {
        "constant small": H_MIN,
        "constant large": H_MAX,
        "SGDR (cosine restarts)": gf.schedules.cosine_restarts(H_MAX, period=steps // cycles),
        "one-cycle": gf.schedules.one_cycle(H_MAX, steps),
        "cosine, no restart": gf.schedules.cosine(H_MAX, steps),
    }
    save_every = max(steps // 200, 1)
    stats = {}
    curves = {}
    for label, policy in policies.items():
        traj = gf.solve(problem, theta0, stepsize=policy, steps=steps, save_every=save_every)
        radius = np.linalg.norm(traj.theta, axis=-1)  # (n_saved, n)
        final = traj.theta[-1]
        gnorm = np.linalg.norm(problem.grad(final), axis=-1)
        stats[label] = {
            "global_fraction": float(np.mean(radius[-1] < GLOBAL_RADIUS)),
            "converged_fraction": float(np.mean(gnorm < 1e-6)),
            "mean_final_loss": float(np.mean(traj.loss[-1])),
            "diverged": int(np.sum(traj.diverged)),
        }
        curves[label] = (traj.step[:, 0], np.mean(traj.loss, axis=-1), traj.h[:, 0])
    sgdr, small, large = (
        stats["SGDR (cosine restarts)"],
        stats["constant small"],
        stats["constant large"],
    )
    result.check(
        "SGDR: fraction of starts ending in the global minimum",
        f"{sgdr['global_fraction']:.3f} (constant small step: {small['global_fraction']:.3f})",
        f"≥ {SGDR_GLOBAL} and ≥ {GAIN:g}× the small constant step's",
        sgdr["global_fraction"] >= SGDR_GLOBAL
        and sgdr["global_fraction"] >= GAIN * small["global_fraction"],
    )
    result.check(
        "converged (‖∇L‖ < 1e-6): SGDR vs large constant step",
        f"{sgdr['converged_fraction']:.3f} vs {large['converged_fraction']:.3f}",
        f"SGDR ≥ {SGDR_GLOBAL}, large constant ≤ 0.1",
        sgdr["converged_fraction"] >= SGDR_GLOBAL and large["converged_fraction"] <= 0.1,
    )
    result.numbers = {
        "starts": n,
        "steps": steps,
        "cycles": cycles,
        "h_max": H_MAX,
        "h_min": H_MIN,
        "two_over_lambda": 2.0 / (1.0 + 4 * np.pi**2 * AMPLITUDE),
        "policies": stats,
    }
    directory = paper_dir(out_dir, NAME)
    _figure(curves, stats, directory, result)
    result.runtime = time.perf_counter() - start
    write_json(result, directory)
    return result


def _figure(curves, stats, directory: Path, result: PaperResult) -> None:
    fig, axes = new_figure(2, 1, width=8.0, height=4.0)
    ax_h, ax_loss = axes[0]
    colours = ("#999999", "#000000", "#D55E00", "#0072B2", "#009E73")
    for (label, (k, loss, h)), c in zip(curves.items(), colours, strict=True):
        ls = ":" if label.startswith("cosine") else "-"
        ax_h.plot(k, h, color=c, lw=1.2, ls=ls, label=label)
        frac = stats[label]["global_fraction"]
        ax_loss.plot(k, loss, color=c, lw=1.2, ls=ls, label=f"{label}: {frac:.0%} at global min")
    ax_h.axhline(
        2.0 / (1.0 + 4 * np.pi**2 * AMPLITUDE),
        color="k",
        ls="--",
        lw=0.8,
        label="2/λ at the minima",
    )
    ax_h.set(xlabel="step k", ylabel="step size h_k", title="schedules")
    ax_h.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.22), ncols=2)
    ax_loss.set(
        xlabel="step k",
        ylabel="mean loss over starts",
        yscale="symlog",
        title="exploration, then exploitation",
    )
    ax_loss.set_yscale("symlog", linthresh=1e-3)
    ax_loss.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.22), ncols=1)
    save_figure(fig, directory, NAME, result)
