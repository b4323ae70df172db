"""Benchmark: minibatch SGD through ``solve(..., batch_size=B)`` against hand-written numpy.

What it measures (plain SGD, constant step, ``save="final"``, least squares and logistic
regression on seeded Gaussian data, ``n = 2·10^4`` examples, ``d = 50``, ``B = 32``,
300 steps):

1. one trajectory: ``gf.solve(problem, theta0, SGD(), h, batch_size=B, seed=...)``
   against the hand loop a user writes, ``i = rng.choice(n, B, replace=False);
   θ -= h X_iᵀ(X_iθ − y_i)/B`` (logistic: ``θ -= h X_iᵀ(−y_i σ(−m_i))/B``,
   ``σ(−m) = 1/(1 + e^m)``);
2. 256 trajectories in one call against the hand-written vectorised floor: per step
   ``idx = rng.integers(0, n, (256, B))`` (with replacement, cheaper than any draw
   without), ``X_i = X[idx]`` and two stacked products (``np.matmul``, the faster of
   ``matmul`` and ``einsum`` here), so the floor is below any exact implementation;
3. the peak memory of a 3-step run (``tracemalloc``, which sees numpy's allocations):
   O(rows·B·d) for the minibatch gradient, against O(rows·n·d) before.

How: ``time.perf_counter`` around each call, garbage collector off during a call, one
untimed warm-up call first, candidates interleaved (A, B, A, B, ...), best and median
of the repeats (ratios use the best times, the median ratio alongside); the helpers are
``bench_gd``'s.  Each pair also reports both final losses (the runs draw different
examples, so their iterates differ; the losses say both do the same work).

Usage::

    python benchmarks/bench_minibatch.py [--quick] [--out FILE.json] [--checkout DIR]
        [--steps N] [--repeats N] [--single-only]

``--quick`` runs tiny sizes in a few seconds (a smoke test for CI; its ratios say
nothing about the target).  ``--checkout DIR`` benchmarks the gradflow of another
checkout (e.g. an older one, for before/after; ``--steps`` shortens its runs, and the
per-step times stay comparable).  Exits 0 whether or not the target is met: it reports,
it does not gate.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent


def _checkout_from_argv(argv: list[str]) -> Path:
    """The checkout whose gradflow is benchmarked (``--checkout DIR``, else this one).
    Read before ``bench_gd`` is imported: it imports gradflow from this checkout."""
    for i, arg in enumerate(argv):
        if arg == "--checkout" and i + 1 < len(argv):
            return Path(argv[i + 1]).resolve()
        if arg.startswith("--checkout="):
            return Path(arg.split("=", 1)[1]).resolve()
    return HERE.parent


CHECKOUT = _checkout_from_argv(sys.argv[1:])
sys.path.insert(0, str(CHECKOUT))
import gradflow as gf  # noqa: E402

sys.path.insert(1, str(HERE))
from bench_gd import machine, summary  # noqa: E402

SEED = 20261201
STEP = {"least_squares": 0.02, "logistic_regression": 0.5}

#: Target of issue 20: ``solve`` with ``batch_size`` within 2× the hand loop.
TARGET = 2.0


@dataclass(frozen=True)
class Sizes:
    """Problem sizes and repeat counts of one run."""

    n: int  # examples
    d: int  # parameters
    batch: int  # B
    steps: int  # steps of every run
    n_traj: int  # trajectories of the batched runs
    repeats: int  # interleaved repeats of every timing


FULL = Sizes(n=20_000, d=50, batch=32, steps=300, n_traj=256, repeats=7)
QUICK = Sizes(n=2_000, d=10, batch=8, steps=20, n_traj=16, repeats=3)


# ---------------------------------------------------------------------------------------
# data and the hand-written loops
# ---------------------------------------------------------------------------------------
def make_problem(kind: str, sz: Sizes) -> gf.Problem:
    rng = np.random.default_rng(SEED)
    X = rng.standard_normal((sz.n, sz.d)) / np.sqrt(sz.d)
    w = rng.standard_normal(sz.d)
    if kind == "least_squares":
        return gf.problems.least_squares(X, X @ w + 0.1 * rng.standard_normal(sz.n))
    labels = (X @ w + 0.5 * rng.standard_normal(sz.n) > 0).astype(float)
    return gf.problems.logistic_regression(X, labels)


def _hand_grad(kind: str) -> Callable[..., np.ndarray]:
    """Mean gradient over the rows ``Xi`` (``(B, d)`` or ``(E, B, d)``) by plain numpy."""

    def least_squares(Xi: np.ndarray, yi: np.ndarray, th: np.ndarray) -> np.ndarray:
        r = (Xi @ th[..., None])[..., 0] - yi
        return (r[..., None, :] @ Xi)[..., 0, :] / Xi.shape[-2]

    def logistic(Xi: np.ndarray, yi: np.ndarray, th: np.ndarray) -> np.ndarray:
        m = (Xi @ th[..., None])[..., 0] * yi
        coef = -yi / (1.0 + np.exp(m))
        return (coef[..., None, :] @ Xi)[..., 0, :] / Xi.shape[-2]

    return least_squares if kind == "least_squares" else logistic


def hand_single(problem: Any, kind: str, sz: Sizes, theta0: np.ndarray) -> np.ndarray:
    """One trajectory: ``rng.choice`` without replacement, then the two products."""
    X, y, n, B, h = problem.X, problem.y, sz.n, sz.batch, STEP[kind]
    grad = _hand_grad(kind)
    rng = np.random.default_rng(SEED)
    th = theta0.copy()
    with np.errstate(over="ignore"):
        for _ in range(sz.steps):
            i = rng.choice(n, B, replace=False)
            th = th - h * grad(X[i], y[i], th)
    return th


def hand_batched(problem: Any, kind: str, sz: Sizes, theta0: np.ndarray) -> np.ndarray:
    """``E`` trajectories: indices with replacement (the cheapest draw), stacked products."""
    X, y, n, B, h = problem.X, problem.y, sz.n, sz.batch, STEP[kind]
    grad = _hand_grad(kind)
    rng = np.random.default_rng(SEED)
    th = theta0.copy()
    with np.errstate(over="ignore"):
        for _ in range(sz.steps):
            idx = rng.integers(0, n, (th.shape[0], B))
            th = th - h * grad(X[idx], y[idx], th)
    return th


def solve_sgd(problem: Any, kind: str, sz: Sizes, theta0: np.ndarray) -> np.ndarray:
    traj = gf.solve(
        problem,
        theta0,
        gf.methods.SGD(),
        STEP[kind],
        steps=sz.steps,
        batch_size=sz.batch,
        seed=SEED,
        save="final",
    )
    return traj.theta[-1]


# ---------------------------------------------------------------------------------------
# measurements
# ---------------------------------------------------------------------------------------
def _mean_loss(problem: Any, theta: np.ndarray) -> float:
    return float(np.mean(problem.loss(np.atleast_2d(theta))))


def time_interleaved(
    fns: dict[str, Callable[[], object]], repeats: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall and CPU seconds of each call over ``repeats`` interleaved rounds, after one
    warm-up call each (``bench_gd.time_interleaved``, with the process's CPU time too:
    on a shared machine the time a process waits for a core inflates the wall clock
    only)."""
    for fn in fns.values():
        fn()
    wall: dict[str, list[float]] = {name: [] for name in fns}
    cpu: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            gc.disable()
            try:
                w, c = time.perf_counter(), time.process_time()
                fn()
                cpu[name].append(time.process_time() - c)
                wall[name].append(time.perf_counter() - w)
            finally:
                gc.enable()
    return wall, cpu


def _ratios(samples: dict[str, list[float]], key: str) -> dict[str, float]:
    best = {name: min(times) for name, times in samples.items()}
    median = {name: float(np.median(times)) for name, times in samples.items()}
    return {
        f"ratio{key}_best": best["solve"] / best["hand"],
        f"ratio{key}_median": median["solve"] / median["hand"],
        # The stepping alone: solve less the one full-batch loss it evaluates at the end.
        f"ratio_steps{key}_best": (best["solve"] - best["final_loss"]) / best["hand"],
        f"ratio_steps{key}_median": (median["solve"] - median["final_loss"]) / median["hand"],
    }


def bench_pair(
    problem: Any, kind: str, sz: Sizes, theta0: np.ndarray, floor: Callable[..., np.ndarray]
) -> dict[str, Any]:
    """``solve`` and a hand-written floor on the same workload, interleaved; and the
    full-batch loss ``solve`` evaluates once at the end (for the saved output), timed
    alongside, since the hand loop computes none."""
    final = np.atleast_2d(solve_sgd(problem, kind, sz, theta0))
    samples, cpu = time_interleaved(
        {
            "solve": lambda: solve_sgd(problem, kind, sz, theta0),
            "hand": lambda: floor(problem, kind, sz, theta0),
            "final_loss": lambda: problem.loss(final),
        },
        sz.repeats,
    )
    per_step = 1e6 / sz.steps
    return {
        "solve_s": summary(samples["solve"]),
        "hand_s": summary(samples["hand"]),
        "final_loss_s": summary(samples["final_loss"]),
        "solve_cpu_s": summary(cpu["solve"]),
        "hand_cpu_s": summary(cpu["hand"]),
        "final_loss_cpu_s": summary(cpu["final_loss"]),
        "solve_us_per_step": summary(samples["solve"], per_step),
        "hand_us_per_step": summary(samples["hand"], per_step),
        "start_loss": _mean_loss(problem, theta0),
        "solve_final_loss": _mean_loss(problem, final),
        "hand_final_loss": _mean_loss(problem, floor(problem, kind, sz, theta0)),
        **_ratios(samples, ""),
        **_ratios(cpu, "_cpu"),
    }


def peak_memory(problem: Any, kind: str, sz: Sizes, theta0: np.ndarray) -> int:
    """Peak bytes traced during a 3-step minibatch ``solve`` (after a warm-up)."""
    short = replace(sz, steps=3)
    solve_sgd(problem, kind, short, theta0)
    tracemalloc.start()
    try:
        solve_sgd(problem, kind, short, theta0)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def run(sz: Sizes, batched: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {}
    rng = np.random.default_rng(SEED + 1)
    for kind in ("least_squares", "logistic_regression"):
        problem = make_problem(kind, sz)
        one = np.zeros(sz.d)
        many = 0.1 * rng.standard_normal((sz.n_traj, sz.d))
        out[kind] = {
            "single": bench_pair(problem, kind, sz, one, hand_single),
            "peak_bytes_single": peak_memory(problem, kind, sz, one),
        }
        if batched:
            out[kind]["batched"] = bench_pair(problem, kind, sz, many, hand_batched)
            out[kind]["peak_bytes_batched"] = peak_memory(problem, kind, sz, many)
    return out


# ---------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------
def _fmt_bytes(b: int) -> str:
    return f"{b / 2**20:.1f} MiB" if b >= 2**20 else f"{b / 2**10:.0f} KiB"


def table(res: dict[str, Any]) -> str:
    sz = Sizes(**res["sizes"])
    lines = [
        "| problem | trajectories | `solve` µs/step | hand µs/step | solve / hand | "
        "solve less its final full loss / hand | same, CPU time | final full loss (ms) | "
        f"final loss solve / hand | peak memory, 3 steps | target ≤ {TARGET:g}× met |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for kind in ("least_squares", "logistic_regression"):
        r = res["results"][kind]
        for label, traj in (("single", 1), ("batched", sz.n_traj)):
            if label not in r:
                continue
            p, mem = r[label], r[f"peak_bytes_{label}"]
            met = "yes" if p["ratio_best"] <= TARGET else "**NO**"
            if res["quick"]:
                met = "n/a (--quick)"
            lines.append(
                f"| {kind} | {traj} | {p['solve_us_per_step']['best']:.1f} | "
                f"{p['hand_us_per_step']['best']:.1f} | {p['ratio_best']:.2f} "
                f"({p['ratio_median']:.2f}) | {p['ratio_steps_best']:.2f} "
                f"({p['ratio_steps_median']:.2f}) | {p['ratio_steps_cpu_best']:.2f} "
                f"({p['ratio_steps_cpu_median']:.2f}) | {p['final_loss_s']['best'] * 1e3:.2f} | "
                f"{p['solve_final_loss']:.4g} / {p['hand_final_loss']:.4g} | "
                f"{_fmt_bytes(mem)} | {met} |"
            )
    lines.append("")
    lines.append(
        "Ratios: best of the interleaved repeats (median in brackets); wall clock unless "
        "marked CPU time (the process's, which excludes waiting for a core)."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes for a smoke run")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--checkout", type=Path, help="benchmark this checkout's gradflow")
    parser.add_argument("--steps", type=int, help="override the number of steps")
    parser.add_argument("--repeats", type=int, help="override the number of repeats")
    parser.add_argument("--single-only", action="store_true", help="skip the batched runs")
    args = parser.parse_args(argv)
    sz = QUICK if args.quick else FULL
    if args.steps:
        sz = replace(sz, steps=args.steps)
    if args.repeats:
        sz = replace(sz, repeats=args.repeats)
    res: dict[str, Any] = {
        "benchmark": "minibatch_sgd",
        "quick": args.quick,
        "sizes": asdict(sz),
        "checkout": str(CHECKOUT),
        "gradflow_file": gf.__file__,
        "machine": machine(),
    }
    res["results"] = run(sz, batched=not args.single_only)
    m = res["machine"]
    print(
        f"gradflow {m['gradflow']} ({CHECKOUT}), {m['date']}: {m['cpus']} CPUs, "
        f"{m['cpu_model']}, Python {m['python']}, numpy {m['numpy']}; n = {sz.n:,}, "
        f"d = {sz.d}, B = {sz.batch}, {sz.steps} steps"
        + (" [--quick: sizes too small for the target]" if args.quick else "")
    )
    print()
    print(table(res))
    if args.out:
        args.out.write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
