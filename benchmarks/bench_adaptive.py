"""Adaptive step control: work–precision against scipy, and batched vs looped solve_ivp.

1. Work–precision: the gradient flow of Rosenbrock, Müller–Brown and a 50-d logistic
   regression integrated by gradflow's DOPRI54 + I controller and by scipy's
   ``solve_ivp`` RK45 and DOP853 at rtol = atol = 1e-3 ... 1e-10; for each run the number
   of gradient evaluations, the wall time and the achieved error at T (max abs against
   DOP853 at 1e-13).  A figure is written to ``benchmarks/work_precision.png``.
2. Batch: 1,000 Rosenbrock starts integrated in one gradflow call (one step size per
   element) against a Python loop of ``solve_ivp(RK45)`` at the same tolerance; target:
   gradflow at least 50× faster.

``python benchmarks/bench_adaptive.py [--quick] [--no-figure]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
from scipy.integrate import solve_ivp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import gradflow as gf

HERE = Path(__file__).resolve().parent
DOPRI = gf.methods.RungeKutta(gf.methods.DOPRI54)
TARGET_BATCH_SPEEDUP = 50.0


def _cases() -> dict:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 50))
    y = (X @ rng.normal(size=50) + 0.5 * rng.normal(size=200) > 0).astype(float)
    logistic = gf.problems.logistic_regression(X, y, l2=1e-2)
    return {
        "rosenbrock": (gf.problems.rosenbrock(), np.array([-1.2, 1.0]), 1.0),
        "muller_brown": (gf.problems.muller_brown(), np.array([-0.2, 0.8]), 0.05),
        "logistic-50d": (logistic, rng.normal(size=50), 5.0),
    }


def _best(fn, repeats: int) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def _run_gradflow(problem, theta0, t_final, tol):
    ctrl = gf.controllers.IController(rtol=tol, atol=tol)
    return gf.solve(problem, theta0, DOPRI, ctrl, t_final=t_final, save="final")


def _run_scipy(problem, theta0, t_final, tol, method):
    with np.errstate(all="ignore"):  # scipy's trial steps may overflow exp
        return solve_ivp(lambda _t, y: -problem.grad(y), (0.0, t_final), theta0,
                         method=method, rtol=tol, atol=tol)


def work_precision(tols: list[float], repeats: int) -> list[dict]:
    rows = []
    for name, (problem, theta0, t_final) in _cases().items():
        ref = gf.reference.gradient_flow(problem, theta0, [t_final], rtol=1e-13, atol=1e-13)
        exact = ref.theta[0]
        for tol in tols:
            wall, traj = _best(partial(_run_gradflow, problem, theta0, t_final, tol), repeats)
            rows.append({"problem": name, "solver": "gradflow DOPRI54+I", "tol": tol,
                         "n_grad": int(traj.n_grad), "wall_ms": wall * 1e3,
                         "error": float(np.abs(traj.theta[0] - exact).max())})
            for method in ("RK45", "DOP853"):
                wall, sol = _best(partial(_run_scipy, problem, theta0, t_final, tol, method),
                                  repeats)
                rows.append({"problem": name, "solver": f"scipy {method}", "tol": tol,
                             "n_grad": int(sol.nfev), "wall_ms": wall * 1e3,
                             "error": float(np.abs(sol.y[:, -1] - exact).max())})
    return rows


def batch_vs_loop(n: int, tol: float) -> dict:
    problem = gf.problems.rosenbrock()
    theta0 = np.random.default_rng(0).uniform([-2.0, -1.0], [2.0, 4.0], size=(n, 2))
    ctrl = gf.controllers.IController(rtol=tol, atol=tol)
    wall_gf, traj = _best(lambda: gf.solve(problem, theta0, DOPRI, ctrl, t_final=1.0,
                                           save="final"), 3)
    start = time.perf_counter()
    finals = []
    for row in theta0:
        sol = solve_ivp(lambda t, y: -problem.grad(y), (0.0, 1.0), row, method="RK45",
                        rtol=tol, atol=tol)
        finals.append(sol.y[:, -1])
    wall_loop = time.perf_counter() - start
    ref = gf.reference.gradient_flow(problem, theta0, [1.0], rtol=1e-12, atol=1e-12).theta[0]
    return {"n": n, "tol": tol, "gradflow_s": wall_gf, "loop_s": wall_loop,
            "speedup": wall_loop / wall_gf,
            "gradflow_err": float(np.abs(traj.theta[0] - ref).max()),
            "scipy_err": float(np.abs(np.array(finals) - ref).max()),
            "gradflow_steps_range": (int(traj.n_steps.min()), int(traj.n_steps.max()))}


def figure(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    problems = sorted({r["problem"] for r in rows})
    fig, axes = plt.subplots(1, len(problems), figsize=(4.2 * len(problems), 3.6))
    for ax, name in zip(axes, problems, strict=True):
        for solver, marker in (("gradflow DOPRI54+I", "o"), ("scipy RK45", "s"),
                               ("scipy DOP853", "^")):
            sel = [r for r in rows if r["problem"] == name and r["solver"] == solver]
            ax.loglog([r["n_grad"] for r in sel], [max(r["error"], 1e-16) for r in sel],
                      marker=marker, label=solver)
        ax.set_title(name)
        ax.set_xlabel("gradient evaluations")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("max |θ(T) − θ_ref(T)|")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-figure", action="store_true")
    args = parser.parse_args(argv)
    tols = [1e-4, 1e-7] if args.quick else [10.0**-k for k in range(3, 11)]
    rows = work_precision(tols, 1 if args.quick else 3)
    print("| problem | solver | tol | gradient evals | wall ms | error at T |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['problem']} | {r['solver']} | {r['tol']:.0e} | {r['n_grad']} | "
              f"{r['wall_ms']:.1f} | {r['error']:.1e} |")
    batch = batch_vs_loop(50 if args.quick else 1000, 1e-6)
    print(f"\nbatch of {batch['n']} Rosenbrock starts, rtol = atol = {batch['tol']:g}: "
          f"gradflow {batch['gradflow_s']:.3f} s (steps per element "
          f"{batch['gradflow_steps_range'][0]}–{batch['gradflow_steps_range'][1]}), "
          f"looped solve_ivp RK45 {batch['loop_s']:.2f} s, speed-up {batch['speedup']:.0f}× "
          f"(target >= {TARGET_BATCH_SPEEDUP:.0f}); max error gradflow "
          f"{batch['gradflow_err']:.1e}, scipy {batch['scipy_err']:.1e}")
    if not args.no_figure and not args.quick:
        figure(rows, HERE / "work_precision.png")
        print(f"figure: {HERE / 'work_precision.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
