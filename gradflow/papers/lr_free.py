r"""Learning-rate-free methods against tuned GD and Adam (D-Adaptation, Prodigy, DoG,
Schedule-Free).

Two problems: L2-regularised logistic regression on synthetic data (as
:mod:`gradflow.papers.adgd`) from ``θ0 = 0``, and the zoo's ``mlp_regression`` from its
own initialisation.  The baselines are *tuned*: each runs a grid of ``GRID`` step sizes
(geometric, ``1e-3`` to ``10`` for GD, ``1e-4`` to ``1`` for Adam) in one batched
``solve`` and keeps the best final loss; GD with a cosine schedule (horizon = the run's
length) is tuned on the GD grid.  The learning-rate-free methods run once at ``h = 1``
(their packages' defaults); Schedule-Free SGD (which has a step size, but no schedule) is
tuned on the GD grid, like cosine.  ``f*`` is from scipy L-BFGS-B (logistic) or the best
loss seen (MLP).  The checks, each a claim of the method's paper:

1. D-Adaptation (SGD form): on the convex problem ``d`` grows from ``1e-6`` to within a
   factor ``D_FACTOR`` of ``D = ‖θ0 - θ*‖`` and stays below it (Defazio & Mishchenko
   2023, Lemma 5 and Theorem 2).
2. Prodigy: ``d`` likewise reaches a constant fraction of ``D`` (within ``PRODIGY_FACTOR``;
   its Adam-weighted estimate measures ``D`` in another norm) (Mishchenko & Defazio
   2023, Theorem 1).
3. DoG: its suboptimality is within ``DOG_FACTOR`` of GD's at the best tuned constant
   step, on both problems (Ivgi, Hinder & Carmon 2023, §4).
4. Schedule-Free SGD without a horizon matches GD with a tuned cosine schedule that knows
   the horizon: final suboptimality within ``SF_FACTOR`` (Defazio et al. 2024, §5).
5. D-Adapt Adam and Prodigy on the MLP reach within ``ADAM_FACTOR`` of tuned Adam's loss.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from gradflow.papers._result import PaperResult, new_figure, paper_dir, save_figure, write_json
from gradflow.papers.adgd import data

__all__ = ["CLAIM", "NAME", "run"]

NAME = "lr_free"
CLAIM = (
    "Without a step size, D-Adaptation's and Prodigy's d reach a constant fraction of "
    "‖θ0 - θ*‖, DoG is within a small factor of tuned GD, and Schedule-Free SGD matches a "
    "tuned cosine schedule without knowing the horizon."
)
#: Allowed factors (see the module docstring).
D_FACTOR = 4.0
PRODIGY_FACTOR = 10.0
DOG_FACTOR = 10.0
SF_FACTOR = 2.0
ADAM_FACTOR = 10.0
#: Step sizes per tuning grid.
GRID = 9
L2 = 1e-3
#: (samples, features, steps on the logistic problem, steps on the MLP).
FULL = (2000, 50, 2000, 3000)
QUICK = (200, 10, 300, 300)
#: The MLP of the study (small: ``quick`` must run in seconds).
MLP = {"width": 8, "n_points": 12, "degree": 3, "seed": 0}
#: Suboptimalities below this are rounding (float64 losses near f*): compared as equal.
FLOOR = 1e-12


def _tuned(gf: Any, problem: Any, theta0: np.ndarray, method: Any, grid: np.ndarray,
           steps: int, schedule: bool = False) -> dict[str, Any]:  # fmt: skip
    """Best final loss over ``grid`` (one batched solve) and its loss curve."""
    starts = np.broadcast_to(theta0, (grid.size, theta0.size))
    h = gf.schedules.cosine(grid, steps) if schedule else grid
    traj = gf.solve(problem, starts, method, h, steps=steps, save_every=max(steps // 100, 1))
    final = np.where(traj.ok & np.isfinite(traj.loss[-1]), traj.loss[-1], np.inf)
    best = int(np.argmin(final))
    return {"h": float(grid[best]), "loss": traj.loss[:, best], "step": traj.step[:, best]}


def _single(gf: Any, problem: Any, theta0: np.ndarray, method: Any, steps: int) -> dict:
    """A run at ``h = 1`` recording the method's estimate along it."""
    seen: list[float] = []

    def record(info: Any) -> None:
        seen.append(float(np.ravel(method.step_estimate(info.method_state))[0]))

    traj = gf.solve(
        problem, theta0, method, 1.0, steps=steps, save_every=max(steps // 100, 1),
        callback=record,
    )  # fmt: skip
    return {"loss": traj.loss, "step": traj.step, "estimate": np.array(seen)}


def _problems(gf: Any, quick: bool) -> dict[str, tuple[Any, np.ndarray, int, float]]:
    import scipy.optimize

    n, d, steps_lr, steps_mlp = QUICK if quick else FULL
    X, y = data(n, d)
    logistic = gf.problems.logistic_regression(X, y, l2=L2)
    theta0 = np.zeros(d)
    ref = scipy.optimize.minimize(
        lambda t: float(logistic.loss(t)), theta0, jac=logistic.grad, method="L-BFGS-B",
        options={"gtol": 1e-12, "ftol": 1e-16, "maxiter": 20_000},
    )  # fmt: skip
    mlp = gf.problems.mlp_regression(**MLP)
    return {
        "logistic": (logistic, theta0, steps_lr, float(ref.fun), ref.x),
        "mlp": (mlp, mlp.init(seed=0), steps_mlp, np.nan, None),
    }


def run(out_dir: str | Path, quick: bool = False) -> PaperResult:
    """Run the study, check the claims, write figures and numbers to ``out_dir/NAME``."""
    import gradflow as gf

    m = gf.methods
    start = time.perf_counter()
    result = PaperResult(NAME, CLAIM, quick=quick)
    gd_grid, adam_grid = np.geomspace(1e-3, 10.0, GRID), np.geomspace(1e-4, 1.0, GRID)
    numbers: dict[str, Any] = {"grid_gd": gd_grid, "grid_adam": adam_grid, "problems": {}}
    curves: dict[str, dict[str, Any]] = {}
    for name, (problem, theta0, steps, f_star, theta_star) in _problems(gf, quick).items():
        runs = {
            "GD (tuned)": _tuned(gf, problem, theta0, m.Euler(), gd_grid, steps),
            "GD + cosine (tuned)": _tuned(gf, problem, theta0, m.Euler(), gd_grid, steps, True),
            "Adam (tuned)": _tuned(gf, problem, theta0, m.Adam(), adam_grid, steps),
            "Schedule-Free SGD (tuned h)": _tuned(
                gf, problem, theta0, m.SGDScheduleFree(), gd_grid, steps
            ),
            "D-Adapt SGD": _single(gf, problem, theta0, m.DAdaptSGD(), steps),
            "D-Adapt Adam": _single(gf, problem, theta0, m.DAdaptAdam(), steps),
            "Prodigy": _single(gf, problem, theta0, m.Prodigy(), steps),
            "DoG": _single(gf, problem, theta0, m.DoG(), steps),
        }
        if np.isnan(f_star):  # the MLP: the best loss any run reached
            f_star = min(float(np.nanmin(r["loss"])) for r in runs.values())
        f0 = float(problem.loss(theta0))
        for r in runs.values():
            r["gap"] = np.maximum((r["loss"] - f_star) / (f0 - f_star), FLOOR)
        curves[name] = runs
        entry: dict[str, Any] = {"steps": steps, "f_star": f_star, "runs": {}}
        for label, r in runs.items():
            entry["runs"][label] = {"final_gap": float(r["gap"][-1]), "h": r.get("h", 1.0)}
            if "estimate" in r:
                entry["runs"][label]["final_estimate"] = float(r["estimate"][-1])
        if theta_star is not None:
            entry["distance"] = float(np.linalg.norm(theta0 - theta_star))
        numbers["problems"][name] = entry
    _checks(result, numbers, curves)
    numbers["elapsed_s"] = time.perf_counter() - start
    result.numbers = numbers
    directory = paper_dir(out_dir, NAME)
    _figure(curves, numbers["problems"]["logistic"]["distance"], directory, result)
    write_json(result, directory)
    return result


def _checks(result: PaperResult, numbers: dict, curves: dict) -> None:
    lr = numbers["problems"]["logistic"]
    dist = lr["distance"]
    for label, factor in (("D-Adapt SGD", D_FACTOR), ("Prodigy", PRODIGY_FACTOR)):
        d = lr["runs"][label]["final_estimate"]
        upper = 1.0 + 1e-9 if label == "D-Adapt SGD" else factor
        result.check(
            f"{label}: final d against D = ‖θ0 - θ*‖ (logistic)",
            f"d = {d:.4g}, D = {dist:.4g}, D/d = {dist / d:.3g}",
            f"D/{factor:g} <= d <= {upper:g} D",
            dist / factor <= d <= upper * dist,
        )
    for name, entry in numbers["problems"].items():
        runs = entry["runs"]
        dog, gd = runs["DoG"]["final_gap"], runs["GD (tuned)"]["final_gap"]
        result.check(
            f"DoG vs GD at the best constant step ({name})",
            f"gap {dog:.3g} vs {gd:.3g} (h = {runs['GD (tuned)']['h']:.3g})",
            f"DoG <= {DOG_FACTOR:g} × tuned GD",
            dog <= DOG_FACTOR * gd,
        )
        sf, cos = runs["Schedule-Free SGD (tuned h)"]["final_gap"], runs[
            "GD + cosine (tuned)"]["final_gap"]  # fmt: skip
        result.check(
            f"Schedule-Free SGD (no horizon) vs tuned cosine GD ({name})",
            f"gap {sf:.3g} vs {cos:.3g}",
            f"Schedule-Free <= {SF_FACTOR:g} × cosine",
            sf <= SF_FACTOR * cos,
        )
    runs = numbers["problems"]["mlp"]["runs"]
    adam = runs["Adam (tuned)"]["final_gap"]
    for label in ("D-Adapt Adam", "Prodigy"):
        got = runs[label]["final_gap"]
        result.check(
            f"{label} vs tuned Adam (mlp)",
            f"gap {got:.3g} vs {adam:.3g} (h = {runs['Adam (tuned)']['h']:.3g})",
            f"{label} <= {ADAM_FACTOR:g} × tuned Adam",
            got <= ADAM_FACTOR * adam,
        )


def _figure(curves: dict, distance: float, directory: Path, result: PaperResult) -> None:
    fig, axes = new_figure(3, 1, width=12.0, height=3.6)
    colors = dict(zip(curves["logistic"], [f"C{i}" for i in range(10)], strict=False))
    for ax, (name, runs) in zip(axes[0, :2], curves.items(), strict=True):
        for label, r in runs.items():
            ls = "--" if "tuned" in label else "-"
            ax.semilogy(r["step"], r["gap"], ls, color=colors[label], lw=1.1, label=label)
        ax.set(title=name, xlabel="step", ylabel="(L - L*)/(L0 - L*)")
    axes[0, 0].legend(fontsize=7, loc="lower left")
    ax = axes[0, 2]
    for label in ("D-Adapt SGD", "Prodigy", "D-Adapt Adam"):
        est = curves["logistic"][label]["estimate"]
        ax.loglog(np.arange(1, est.size + 1), est, color=colors[label], label=f"{label}: d")
    dog = curves["logistic"]["DoG"]["estimate"]
    ax.loglog(np.arange(1, dog.size + 1), dog, color=colors["DoG"], label="DoG: r̄/√G")
    ax.axhline(distance, color="k", ls=":", lw=0.8, label="D = ‖θ0 - θ*‖")
    ax.set(title="step estimates (logistic)", xlabel="step")
    ax.legend(fontsize=7)
    save_figure(fig, directory, NAME, result)
