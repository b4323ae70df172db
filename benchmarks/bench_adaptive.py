"""Adaptive step control: cost per step and gradient counts against scipy, work–precision,
and batched runs against a loop of solve_ivp and against diffrax under jax.vmap.

0. Single run (Rosenbrock from (−1.2, 1), T = 1, rtol = atol = 1e-6): gradflow's
   DOPRI54 + I controller against ``solve_ivp(RK45)``, wall time per *attempted* step
   (interleaved A, B, A, B, best of N with the collector off); target <= 1.2×.  Then
   where a gradflow step spends its time: gradient evaluations, the Runge–Kutta stepper,
   the controller, and the rest (the driver), by timing wrappers around each.
0b. Gradient counts against scipy RK45 at equal rtol = atol on Rosenbrock, Beale,
   Himmelblau, Müller–Brown and y' = −y; target <= 1.1×.
1. Work–precision: the gradient flow of Rosenbrock, Müller–Brown and a 50-d logistic
   regression integrated by gradflow's DOPRI54 + I controller and by scipy's
   ``solve_ivp`` RK45 and DOP853 at rtol = atol = 1e-3 ... 1e-10; for each run the number
   of gradient evaluations, the wall time and the achieved error at T (max abs against
   DOP853 at 1e-13).  A figure is written to ``benchmarks/work_precision.png``.
2. Batch: 1,000 Rosenbrock starts integrated in one gradflow call (one step size per
   element) against a Python loop of ``solve_ivp(RK45)`` at the same tolerance; target:
   gradflow at least 50× faster.
3. The same batch against diffrax ``Dopri5`` + ``PIDController`` (I control) under
   ``jax.vmap`` and ``jax.jit`` (compilation excluded, one XLA thread), when diffrax is
   importable; recorded, no target.

``python benchmarks/bench_adaptive.py [--quick] [--no-figure]``.  ``--quick`` runs small
sizes in a few seconds (a smoke test; its ratios say nothing about the targets) and skips
diffrax.  Exits 0 whether or not a target is met.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
from scipy.integrate import solve_ivp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import gradflow as gf

HERE = Path(__file__).resolve().parent
DOPRI = gf.methods.RungeKutta(gf.methods.DOPRI54)
TARGET_BATCH_SPEEDUP = 50.0
TARGET_STEP_RATIO = 1.2
TARGET_COUNT_RATIO = 1.1

#: The five flows of the gradient-count comparison: problem, start, end time.
FLOWS = {
    "rosenbrock": (gf.problems.rosenbrock, [-1.2, 1.0], 1.0),
    "beale": (gf.problems.beale, [1.0, 1.0], 10.0),
    "himmelblau": (gf.problems.himmelblau, [0.0, 0.0], 1.0),
    "muller_brown": (gf.problems.muller_brown, [-0.2, 0.8], 0.05),
    "y' = -y": (lambda: gf.problems.quadratic(A=np.array([[1.0]])), [1.0], 10.0),
}


# ---------------------------------------------------------------------------------------
# timing (as in bench_gd.py: collector off, candidates interleaved, best of N)
# ---------------------------------------------------------------------------------------
def _timed(fn: Callable[[], object]) -> float:
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start
    finally:
        if gc_was_on:
            gc.enable()


def time_interleaved(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Best seconds of each call over ``repeats`` interleaved rounds, after a warm-up."""
    for fn in fns.values():
        fn()
    best = dict.fromkeys(fns, np.inf)
    for _ in range(repeats):
        for name, fn in fns.items():
            best[name] = min(best[name], _timed(fn))
    return best


def _scipy_attempts(sol) -> int:
    # RK45: f(t0) and one Euler probe for the initial step, then 6 evaluations a trial.
    return (sol.nfev - 2) // 6


def single_run(repeats: int, tol: float = 1e-6) -> dict:
    """Wall time per attempted step of one trajectory, gradflow against scipy RK45."""
    problem, theta0 = gf.problems.rosenbrock(), np.array([-1.2, 1.0])
    ctrl = gf.controllers.IController(rtol=tol, atol=tol)
    runs = {
        "gradflow": lambda: gf.solve(problem, theta0, DOPRI, ctrl, t_final=1.0, save="final"),
        "scipy": lambda: _run_scipy(problem, theta0, 1.0, tol, "RK45"),
    }
    best = time_interleaved(runs, repeats)
    traj, sol = runs["gradflow"](), runs["scipy"]()
    attempts = {"gradflow": int(traj.n_steps + traj.n_rejected), "scipy": _scipy_attempts(sol)}
    per = {k: best[k] / attempts[k] for k in runs}
    return {
        "tol": tol,
        "attempts": attempts,
        "us_per_attempt": {k: v * 1e6 for k, v in per.items()},
        "ratio": per["gradflow"] / per["scipy"],
        "split": _split(problem, theta0, ctrl, repeats),
    }


def _split(problem, theta0, ctrl, repeats: int) -> dict:
    """Microseconds per attempted step in the gradients, the stepper, the controller and
    the driver, by timing wrappers (best run of ``repeats``)."""
    clock = time.perf_counter
    spent = {"grad": 0.0, "step": 0.0, "update": 0.0}
    grad = problem.grad

    def timed_grad(theta):
        start = clock()
        out = grad(theta)
        spent["grad"] += clock() - start
        return out

    class Stepper(type(DOPRI)):
        def step(self, *args):
            start = clock()
            out = super().step(*args)
            spent["step"] += clock() - start
            return out

    class Controller(type(ctrl)):
        def update(self, *args):
            start = clock()
            out = super().update(*args)
            spent["update"] += clock() - start
            return out

    method, policy = Stepper(DOPRI.tableau), Controller(rtol=ctrl.rtol, atol=ctrl.atol)
    problem.grad = timed_grad  # the driver's counting view calls the problem's grad
    best = None
    try:
        for _ in range(max(repeats, 3)):
            spent.update(grad=0.0, step=0.0, update=0.0)
            traj = None

            def run():
                nonlocal traj
                traj = gf.solve(problem, theta0, method, policy, t_final=1.0, save="final")

            total = _timed(run)
            if best is None or total < best[0]:
                best = (total, dict(spent), int(traj.n_steps + traj.n_rejected))
    finally:
        del problem.grad
    total, spent, n = best
    # The stepper's gradients are inside its time; two gradients are the controller's
    # initial step and one the method's start (both before the first step).
    us = {
        "total": total / n * 1e6,
        "gradients": spent["grad"] / n * 1e6,
        "stepper (without gradients)": (spent["step"] - spent["grad"]) / n * 1e6,
        "controller update": spent["update"] / n * 1e6,
    }
    us["driver and the rest"] = (
        total / n * 1e6
        - us["gradients"]
        - us["stepper (without gradients)"]
        - us["controller update"]
    )
    return us


def gradient_counts(tols: list[float]) -> list[dict]:
    """gradflow DOPRI54 + I controller against scipy RK45 at equal tolerances."""
    rows = []
    for name, (make, theta0, t_final) in FLOWS.items():
        problem = make()
        for tol in tols:
            ctrl = gf.controllers.IController(rtol=tol, atol=tol)
            traj = gf.solve(problem, theta0, DOPRI, ctrl, t_final=t_final, save="final")
            sol = _run_scipy(problem, np.asarray(theta0, dtype=float), t_final, tol, "RK45")
            rows.append(
                {
                    "problem": name,
                    "tol": tol,
                    "gradflow": int(traj.n_grad),
                    "rejected": int(traj.n_rejected),
                    "scipy": int(sol.nfev),
                    "ratio": int(traj.n_grad) / sol.nfev,
                }
            )
    return rows


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
        return solve_ivp(
            lambda _t, y: -problem.grad(y),
            (0.0, t_final),
            theta0,
            method=method,
            rtol=tol,
            atol=tol,
        )


def work_precision(tols: list[float], repeats: int) -> list[dict]:
    rows = []
    for name, (problem, theta0, t_final) in _cases().items():
        ref = gf.reference.gradient_flow(problem, theta0, [t_final], rtol=1e-13, atol=1e-13)
        exact = ref.theta[0]
        for tol in tols:
            wall, traj = _best(partial(_run_gradflow, problem, theta0, t_final, tol), repeats)
            rows.append(
                {
                    "problem": name,
                    "solver": "gradflow DOPRI54+I",
                    "tol": tol,
                    "n_grad": int(traj.n_grad),
                    "wall_ms": wall * 1e3,
                    "error": float(np.abs(traj.theta[0] - exact).max()),
                }
            )
            for method in ("RK45", "DOP853"):
                wall, sol = _best(
                    partial(_run_scipy, problem, theta0, t_final, tol, method), repeats
                )
                rows.append(
                    {
                        "problem": name,
                        "solver": f"scipy {method}",
                        "tol": tol,
                        "n_grad": int(sol.nfev),
                        "wall_ms": wall * 1e3,
                        "error": float(np.abs(sol.y[:, -1] - exact).max()),
                    }
                )
    return rows


def batch_vs_loop(n: int, tol: float) -> dict:
    problem = gf.problems.rosenbrock()
    theta0 = np.random.default_rng(0).uniform([-2.0, -1.0], [2.0, 4.0], size=(n, 2))
    ctrl = gf.controllers.IController(rtol=tol, atol=tol)
    wall_gf, traj = _best(
        lambda: gf.solve(problem, theta0, DOPRI, ctrl, t_final=1.0, save="final"), 3
    )
    start = time.perf_counter()
    finals = []
    for row in theta0:
        sol = solve_ivp(
            lambda t, y: -problem.grad(y), (0.0, 1.0), row, method="RK45", rtol=tol, atol=tol
        )
        finals.append(sol.y[:, -1])
    wall_loop = time.perf_counter() - start
    ref = gf.reference.gradient_flow(problem, theta0, [1.0], rtol=1e-12, atol=1e-12).theta[0]
    return {
        "n": n,
        "tol": tol,
        "gradflow_s": wall_gf,
        "loop_s": wall_loop,
        "theta0": theta0,
        "speedup": wall_loop / wall_gf,
        "gradflow_err": float(np.abs(traj.theta[0] - ref).max()),
        "scipy_err": float(np.abs(np.array(finals) - ref).max()),
        "gradflow_steps_range": (int(traj.n_steps.min()), int(traj.n_steps.max())),
    }


def _diffrax_batch(theta0: np.ndarray, tol: float, repeats: int, seconds_gf: float) -> dict | None:
    """The batch of :func:`batch_vs_loop` by diffrax Dopri5 + I control under jax.vmap."""
    os.environ.setdefault(
        "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    )
    try:
        import diffrax
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)

    def field(_t, y, _args):  # -∇ of (1 - x)² + 100 (y - x²)²
        x, v = y[0], y[1]
        return -jnp.stack([-2 * (1 - x) - 400 * x * (v - x * x), 200 * (v - x * x)])

    def one(y0):
        sol = diffrax.diffeqsolve(
            diffrax.ODETerm(field),
            diffrax.Dopri5(),
            t0=0.0,
            t1=1.0,
            dt0=None,
            y0=y0,
            stepsize_controller=diffrax.PIDController(rtol=tol, atol=tol),
            max_steps=100_000,
        )
        return sol.ys[-1], sol.stats["num_steps"]

    batched = jax.jit(jax.vmap(one))
    y0 = jnp.asarray(theta0)
    start = time.perf_counter()
    jax.block_until_ready(batched(y0))
    compile_s = time.perf_counter() - start
    best = time_interleaved({"diffrax": lambda: jax.block_until_ready(batched(y0))}, repeats)
    return {
        "diffrax_s": best["diffrax"],
        "compile_s": compile_s,
        "gradflow_over_diffrax": seconds_gf / best["diffrax"],
    }


def figure(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    problems = sorted({r["problem"] for r in rows})
    fig, axes = plt.subplots(1, len(problems), figsize=(4.2 * len(problems), 3.6))
    for ax, name in zip(axes, problems, strict=True):
        for solver, marker in (
            ("gradflow DOPRI54+I", "o"),
            ("scipy RK45", "s"),
            ("scipy DOP853", "^"),
        ):
            sel = [r for r in rows if r["problem"] == name and r["solver"] == solver]
            ax.loglog(
                [r["n_grad"] for r in sel],
                [max(r["error"], 1e-16) for r in sel],
                marker=marker,
                label=solver,
            )
        ax.set_title(name)
        ax.set_xlabel("gradient evaluations")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("max |θ(T) − θ_ref(T)|")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _report_single(single: dict) -> None:
    att, us = single["attempts"], single["us_per_attempt"]
    met = "yes" if single["ratio"] <= TARGET_STEP_RATIO else "no"
    print(
        f"single run, Rosenbrock, rtol = atol = {single['tol']:g}: gradflow "
        f"{us['gradflow']:.1f} µs per attempted step ({att['gradflow']} attempts), scipy "
        f"RK45 {us['scipy']:.1f} µs ({att['scipy']}); ratio {single['ratio']:.2f} "
        f"(target <= {TARGET_STEP_RATIO}; met: {met})"
    )
    print("where a gradflow step goes (µs per attempted step):")
    for part, value in single["split"].items():
        print(f"  {part:30s} {value:7.1f}")


def _report_counts(counts: list[dict]) -> None:
    worst = max(abs(r["ratio"] - 1) for r in counts)
    print("\n| problem | tol | gradflow gradients (rejected) | scipy RK45 nfev | ratio |")
    print("|---|---|---|---|---|")
    for r in counts:
        print(
            f"| {r['problem']} | {r['tol']:.0e} | {r['gradflow']} ({r['rejected']}) | "
            f"{r['scipy']} | {r['ratio']:.3f} |"
        )
    met = "yes" if worst <= TARGET_COUNT_RATIO - 1 else "no"
    print(f"largest deviation {worst:.1%} (target <= {TARGET_COUNT_RATIO - 1:.0%}; met: {met})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-figure", action="store_true")
    args = parser.parse_args(argv)
    print(
        f"machine: {os.cpu_count()} cores, numpy {np.__version__}, python "
        f"{sys.version.split()[0]}\n"
    )
    _report_single(single_run(3 if args.quick else 15))
    _report_counts(gradient_counts([1e-6] if args.quick else [1e-3, 1e-6, 1e-9]))
    tols = [1e-4] if args.quick else [10.0**-k for k in range(3, 11)]
    rows = work_precision(tols, 1 if args.quick else 3)
    print("\n| problem | solver | tol | gradient evals | wall ms | error at T |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['problem']} | {r['solver']} | {r['tol']:.0e} | {r['n_grad']} | "
            f"{r['wall_ms']:.1f} | {r['error']:.1e} |"
        )
    batch = batch_vs_loop(10 if args.quick else 1000, 1e-6)
    print(
        f"\nbatch of {batch['n']} Rosenbrock starts, rtol = atol = {batch['tol']:g}: "
        f"gradflow {batch['gradflow_s']:.3f} s (steps per element "
        f"{batch['gradflow_steps_range'][0]}–{batch['gradflow_steps_range'][1]}), "
        f"looped solve_ivp RK45 {batch['loop_s']:.2f} s, speed-up {batch['speedup']:.0f}× "
        f"(target >= {TARGET_BATCH_SPEEDUP:.0f}); max error gradflow "
        f"{batch['gradflow_err']:.1e}, scipy {batch['scipy_err']:.1e}"
    )
    if args.quick:
        print("diffrax: skipped in --quick")
    else:
        dx = _diffrax_batch(batch["theta0"], batch["tol"], 5, batch["gradflow_s"])
        if dx is None:
            print("diffrax: not importable, skipped")
        else:
            print(
                f"diffrax Dopri5 + PIDController (I) under jit+vmap, one XLA thread: "
                f"{dx['diffrax_s']:.3f} s (compile {dx['compile_s']:.1f} s, excluded); "
                f"gradflow / diffrax = {dx['gradflow_over_diffrax']:.2f}"
            )
    if not args.no_figure and not args.quick:
        figure(rows, HERE / "work_precision.png")
        print(f"figure: {HERE / 'work_precision.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
