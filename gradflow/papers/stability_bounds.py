r"""The stability bound ``h < β/λmax`` (``β = 2`` for GD) and its analogues, checked.

For several problems × methods, :func:`gradflow.stability.verify_bound` predicts the
critical step ``β/λmax(∇²L(θ*))`` (``β`` the method's real stability limit: 2 for Euler
= GD, ≈ 2.785 for RK4, ``2(1+β)`` for heavy ball, ``(2+2β)/(1+2β)`` for Nesterov) and
measures the divergence threshold by bisection over real runs.  The claim holds when the
relative error ``|measured - predicted|/predicted`` is at most ``REL_TOL`` in every row.

Linear stability is a local statement, so every run starts near the minimiser
(``θ* + START_OFFSET·(1, -0.7, …)``).  From farther away the measured threshold of heavy
ball drops below the prediction on the curved problems (Rosenbrock, Himmelblau, Beale:
-6% to -28% from 0.1 away): its overshoot meets the nonlinear part of the landscape.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from gradflow.papers._result import PaperResult, new_figure, paper_dir, save_figure, write_json

__all__ = ["CLAIM", "NAME", "method_by_name", "run", "start_near_minimum"]

NAME = "stability_bounds"
CLAIM = (
    "The linear-stability step h* = β/λmax(θ*) (β = 2 for GD; its analogue for RK4, heavy "
    "ball, Nesterov) is the measured divergence threshold, within 2%."
)
#: Largest relative error accepted between predicted and measured critical steps.
REL_TOL = 0.02
#: Distance of the start from the minimiser (linear stability is local).
START_OFFSET = 1e-2
FULL = (
    ("quadratic", "rosenbrock", "muller_brown", "himmelblau", "beale"),
    ("euler", "rk4", "heavyball", "nesterov"),
)
QUICK = (("quadratic", "rosenbrock", "muller_brown"), ("euler", "rk4", "heavyball"))


def method_by_name(name: str) -> Any:
    """A gradflow method from a short name: euler, heun, midpoint, rk4, heavyball, nesterov, ..."""
    from gradflow import methods

    key = name.lower().replace("-", "").replace("_", "")
    simple = {
        "euler": methods.Euler,
        "gd": methods.Euler,
        "heavyball": methods.HeavyBall,
        "nesterov": methods.Nesterov,
        "impliciteuler": methods.ImplicitEuler,
    }
    if key in simple:
        return simple[key]()
    tableaux = {k.lower().replace("_", ""): v for k, v in methods.TABLEAUX.items()}
    if key in tableaux:
        return methods.RungeKutta(tableaux[key])
    known = sorted(set(simple) | set(tableaux))
    raise ValueError(f"unknown method {name!r}; expected one of {', '.join(known)}")


def start_near_minimum(problem: Any, offset: float = START_OFFSET) -> np.ndarray:
    """A start ``offset`` away from a minimiser of ``problem``.

    The problem's first known minimiser if it has one; otherwise the minimiser that
    :func:`gradflow.stability.verify_bound` reaches from a seeded start (``problem.init``
    or a standard normal draw), which costs one extra verification.
    """
    from gradflow.stability import verify_bound

    direction = np.where(np.arange(problem.dim) % 2 == 0, 1.0, -0.7)
    minimizers = getattr(problem, "minimizers", None)
    if minimizers is not None and len(minimizers):
        return np.asarray(minimizers[0], dtype=float) + offset * direction
    if hasattr(problem, "init"):
        theta0 = problem.init(0)
    else:
        theta0 = np.random.default_rng(0).standard_normal(problem.dim)
    from gradflow.methods import Euler

    star = np.asarray(verify_bound(problem, theta0, Euler()).minimizer, dtype=float)
    return star + offset * direction / np.sqrt(problem.dim)


def run(out_dir: str | Path, quick: bool = False) -> PaperResult:
    """Run the reproduction, check the claim, write figures and numbers to ``out_dir/NAME``."""
    import gradflow as gf
    from gradflow.problems import ZOO

    start = time.perf_counter()
    result = PaperResult(NAME, CLAIM, quick=quick)
    problems, methods = QUICK if quick else FULL
    rows = []
    for pname in problems:
        problem = ZOO[pname]()
        theta0 = start_near_minimum(problem)
        for mname in methods:
            check = gf.stability.verify_bound(problem, theta0, method_by_name(mname))
            predicted, measured = float(check.predicted), float(check.measured)
            rel = abs(measured - predicted) / predicted
            rows.append(
                {
                    "problem": pname,
                    "method": mname,
                    "limit": float(check.limit),
                    "lambda_max": float(check.lambda_max),
                    "predicted": predicted,
                    "measured": measured,
                    "relative_error": rel,
                    "bracket": [float(b) for b in check.bracket],
                }
            )
            result.check(
                f"{pname} / {mname}: critical step",
                f"predicted {predicted:.5g}, measured {measured:.5g} ({rel:.2%})",
                f"relative error ≤ {REL_TOL:.0%}",
                rel <= REL_TOL,
            )
    result.numbers = {"rows": rows, "start_offset": START_OFFSET}
    directory = paper_dir(out_dir, NAME)
    _table(rows, directory, result)
    _figure(rows, problems, methods, directory, result)
    result.runtime = time.perf_counter() - start
    write_json(result, directory)
    return result


def _table(rows: list[dict], directory: Path, result: PaperResult) -> None:
    path = directory / f"{NAME}.csv"
    lines = ["problem,method,beta,lambda_max,predicted,measured,relative_error"]
    lines += [
        f"{r['problem']},{r['method']},{r['limit']:.6g},{r['lambda_max']:.6g},"
        f"{r['predicted']:.6g},{r['measured']:.6g},{r['relative_error']:.3e}"
        for r in rows
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result.figures.append(str(path))


def _figure(rows, problems, methods, directory: Path, result: PaperResult) -> None:
    fig, axes = new_figure(1, 1, width=6.0, height=3.4)
    ax = axes[0, 0]
    colours = ("#0072B2", "#D55E00", "#009E73", "#CC79A7")
    width = 0.8 / len(methods)
    x = np.arange(len(problems))
    for j, mname in enumerate(methods):
        gaps = [
            100.0 * max(r["relative_error"], 1e-6)
            for p in problems
            for r in rows
            if r["problem"] == p and r["method"] == mname
        ]
        ax.bar(
            x + (j - (len(methods) - 1) / 2) * width,
            gaps,
            width,
            label=mname,
            color=colours[j % len(colours)],
        )
    ax.axhline(100 * REL_TOL, color="k", ls="--", lw=1.0, label="2% criterion")
    ax.set_xticks(x, [p.replace("_", "-") for p in problems])
    ax.set(
        yscale="log",
        ylabel="|measured - predicted| / predicted  [%]",
        title="critical step h* = β/λmax(θ*): measured vs predicted",
        ylim=(1e-3, 30.0),
    )
    ax.legend(fontsize=8, ncols=3, loc="upper left")
    save_figure(fig, directory, NAME, result)
