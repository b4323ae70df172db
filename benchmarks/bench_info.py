"""Benchmark: ``gradflow info`` and the real stability limits it lists.

What it measures:

1. the 20 real stability limits ``gradflow info`` prints (every default-constructible
   method and every tableau), by ``real_stability_limit(m)`` (sympy: the exact
   amplification matrix, lambdified, scanned, Brent) against
   ``real_stability_limit(m, algorithm="numeric")`` (one batched step of the method per
   scan), in one process, interleaved; sympy's import and first-call costs are warmed up
   first, so the ratio is the steady-state one;
2. ``gradflow info`` in a fresh interpreter against the floor of the same interpreter
   importing what ``info`` imports (``gradflow.cli``, ``gradflow.methods``,
   ``gradflow.problems``, ``gradflow.stability``), interleaved; wall time and the child's
   CPU time (``resource.getrusage``), which a loaded shared machine inflates less.

Timing as ``bench_gd.py``: best of N with the garbage collector off for in-process calls,
candidates interleaved A, B, A, B.  Target: ``gradflow info`` under 1 s of wall time on
a quiet machine (CPU time is what it would be).

Usage::

    python benchmarks/bench_info.py [--quick] [--out FILE.json]

``--quick`` runs two repeats in a few seconds (a smoke test for CI).  Always exits 0.
"""

from __future__ import annotations

import argparse
import gc
import inspect
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from gradflow import methods  # noqa: E402
from gradflow.stability import real_stability_limit  # noqa: E402

TARGET_INFO_S = 1.0
FLOOR = "import gradflow.cli, gradflow.methods, gradflow.problems, gradflow.stability"


def info_methods() -> list[methods.Method]:
    """The methods whose limits ``gradflow info`` prints."""
    out = []
    for name in methods.__all__:
        obj = getattr(methods, name)
        if not (inspect.isclass(obj) and issubclass(obj, methods.Method)):
            continue
        if obj in (methods.Method, methods.RungeKutta):
            continue
        try:
            out.append(obj())
        except (TypeError, ValueError):
            continue
    return out + [methods.RungeKutta(t) for t in methods.TABLEAUX.values()]


def limits(ms: list[methods.Method], algorithm: str) -> list[float]:
    values = []
    for m in ms:
        try:
            values.append(real_stability_limit(m, algorithm=algorithm))
        except TypeError:
            values.append(float("nan"))
    return values


def best_interleaved(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    for fn in fns.values():
        fn()  # warm-up (imports, first-call costs)
    best = {name: float("inf") for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            gc.disable()
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
            gc.enable()
    return best


def run_child(args: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one fresh interpreter."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--quick", action="store_true", help="two repeats (CI smoke test)")
    parser.add_argument("--out", help="write the numbers as JSON")
    args = parser.parse_args()
    repeats = 2 if args.quick else 7
    ms = info_methods()
    exact, numeric = limits(ms, "symbolic"), limits(ms, "numeric")
    worst = max(abs(a - b) / b for a, b in zip(numeric, exact, strict=True) if 0 < b < float("inf"))
    best = best_interleaved(
        {"symbolic": lambda: limits(ms, "symbolic"), "numeric": lambda: limits(ms, "numeric")},
        repeats,
    )
    child = {"info": ["-m", "gradflow.cli", "info"], "floor": ["-c", FLOOR]}
    run_child(child["info"])  # warm the bytecode cache
    wall = {k: float("inf") for k in child}
    cpu = {k: float("inf") for k in child}
    for _ in range(repeats):
        for name, argv in child.items():
            w, c = run_child(argv)
            wall[name], cpu[name] = min(wall[name], w), min(cpu[name], c)
    result = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "load_average": os.getloadavg(),
        "methods": len(ms),
        "max_relative_difference_numeric_vs_symbolic": worst,
        "limits_symbolic_s": best["symbolic"],
        "limits_numeric_s": best["numeric"],
        "speedup": best["symbolic"] / best["numeric"],
        "info_wall_s": wall["info"],
        "info_cpu_s": cpu["info"],
        "floor_wall_s": wall["floor"],
        "floor_cpu_s": cpu["floor"],
        "target_info_s": TARGET_INFO_S,
        "met_cpu": cpu["info"] < TARGET_INFO_S,
    }
    print(
        f"{len(ms)} limits: symbolic {best['symbolic']:.3f} s, numeric "
        f"{best['numeric']:.3f} s ({result['speedup']:.0f}x), max rel. diff {worst:.1e}"
    )
    print(
        f"gradflow info: wall {wall['info']:.2f} s, CPU {cpu['info']:.2f} s; floor (imports) "
        f"wall {wall['floor']:.2f} s, CPU {cpu['floor']:.2f} s; target < {TARGET_INFO_S} s"
    )
    print(f"load average {result['load_average'][0]:.1f} on {os.cpu_count()} cores")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
