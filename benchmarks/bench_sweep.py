"""Benchmark: :func:`gradflow.sweep` on a 2-worker LocalCluster against one ``solve`` call.

What it measures (gradient descent = explicit Euler, ``h = 1e-4``, ``save="final"``, on
the 2-D Rosenbrock problem, starts uniform in ``[-1.5, 1.5]^2`` from a seeded rng):

1. ``gradflow.sweep`` of all trajectories on a ``LocalCluster`` of 2 single-threaded
   worker processes (started once, before the timings; ``chunks="auto"``: 4 per worker);
2. one ``gradflow.solve`` call on the whole batch in this process (the target: time 2 /
   time 1 >= 1.6);
3. the same chunks as 1 solved one after the other in this process: chunking alone
   (smaller arrays, better cache use) without parallelism, so 3 / 1 is what the second
   worker adds and 2 / 3 what the chunk size adds;
4. the fixed overhead of a small sweep on the running cluster (1,000 trajectories x 10
   steps: sweep - solve), and the time to start and close the default cluster (a sweep
   with ``client=None``);
5. the memory of each worker: resident set at idle and peak (``ru_maxrss``) after the
   sweeps, against the sweep's own estimate of a chunk.

How: ``time.perf_counter`` around each call, garbage collector off during a call, one
small warm-up of each candidate, candidates interleaved (A, B, C, A, B, C, ...), best and
median of the repeats.  The results of 1, 2 and 3 must be equal bit for bit.  The load
average (``os.getloadavg()``) is recorded before and after: the machine is shared.

Usage::

    python benchmarks/bench_sweep.py [--quick] [--out FILE.json]

``--quick`` runs tiny sizes (a smoke test for CI; it starts a cluster, so it takes
several seconds; its ratios say nothing about the target).  Exits 0 whether or not the
target is met: it reports, it does not gate.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
# Benchmark the checkout this script lives in, installed or not (the workers inherit
# sys.path from this process).
sys.path.insert(0, str(REPO))

import gradflow as gf  # noqa: E402
from gradflow._sweep import _chunk_bytes  # noqa: E402

SEED = 20261201
STEP = 1e-4
BOX = 1.5
WORKERS = 2
TARGET_SPEEDUP = 1.6


@dataclass(frozen=True)
class Sizes:
    n_traj: int
    n_steps: int
    repeats: int
    small_traj: int
    small_steps: int
    small_repeats: int
    default_cluster: bool  # also time a sweep that starts and closes its own cluster


FULL = Sizes(
    1_000_000, 1_000, 3, small_traj=1_000, small_steps=10, small_repeats=7, default_cluster=True
)
QUICK = Sizes(20_000, 20, 1, small_traj=100, small_steps=5, small_repeats=2, default_cluster=False)


def _timed(fn: Callable[[], object]) -> tuple[float, Any]:
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        out = fn()
        return time.perf_counter() - start, out
    finally:
        if gc_was_on:
            gc.enable()


def summary(seconds: list[float]) -> dict[str, Any]:
    return {"best": min(seconds), "median": statistics.median(seconds), "samples": seconds}


def _same(a: gf.Trajectory, b: gf.Trajectory) -> bool:
    names = ("t", "theta", "loss", "h", "step", "status", "n_grad", "n_steps", "n_rejected")
    return all(getattr(a, n).tobytes() == getattr(b, n).tobytes() for n in names)


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _rss_mib() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def run(sz: Sizes) -> dict[str, Any]:
    from distributed import Client, LocalCluster

    problem = gf.problems.rosenbrock()
    theta0 = np.random.default_rng(SEED).uniform(-BOX, BOX, (sz.n_traj, 2))
    kwargs = dict(stepsize=STEP, steps=sz.n_steps, save="final")
    load_before = os.getloadavg()
    res: dict[str, Any] = {"sizes": asdict(sz), "load_before": load_before}

    small = theta0[: sz.small_traj]
    res["default_cluster_sweep_s"] = None
    if sz.default_cluster:
        start = time.perf_counter()
        gf.sweep(problem, small, stepsize=STEP, steps=sz.small_steps, save="final")
        res["default_cluster_sweep_s"] = time.perf_counter() - start

    with (
        LocalCluster(
            n_workers=WORKERS,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        ) as cluster,
        Client(cluster) as client,
    ):
        idle = client.run(_rss_mib)
        rows = -(-sz.n_traj // (4 * WORKERS))
        bounds = [(lo, min(lo + rows, sz.n_traj)) for lo in range(0, sz.n_traj, rows)]

        def by_sweep() -> gf.Trajectory:
            return gf.sweep(problem, theta0, client=client, **kwargs)

        def by_solve() -> gf.Trajectory:
            return gf.solve(problem, theta0, **kwargs)

        def by_chunks() -> list[gf.Trajectory]:
            return [gf.solve(problem, theta0[lo:hi], **kwargs) for lo, hi in bounds]

        # Warm-up: every path once on a small batch (imports, the workers' first task).
        for fn in (gf.sweep, gf.solve):
            extra = {"client": client} if fn is gf.sweep else {}
            fn(problem, small, stepsize=STEP, steps=sz.small_steps, save="final", **extra)
        times: dict[str, list[float]] = {"sweep": [], "solve": [], "chunks": []}
        out: dict[str, Any] = {}
        for _ in range(sz.repeats):
            for name, fn in (("sweep", by_sweep), ("solve", by_solve), ("chunks", by_chunks)):
                seconds, out[name] = _timed(fn)
                times[name].append(seconds)
                print(f"  {name}: {seconds:.2f} s", file=sys.stderr, flush=True)
        chunk_theta = np.concatenate([t.theta for t in out["chunks"]], axis=1)
        res["same_result"] = bool(
            _same(out["sweep"], out["solve"])
            and chunk_theta.tobytes() == out["solve"].theta.tobytes()
        )
        res["all_ok"] = bool((out["solve"].status == "ok").all())
        del out

        over: dict[str, list[float]] = {"sweep": [], "solve": []}
        for _ in range(sz.small_repeats):
            for name, fn in (("sweep", gf.sweep), ("solve", gf.solve)):
                extra = {"client": client} if name == "sweep" else {}
                seconds, _ = _timed(
                    lambda fn=fn, extra=extra: fn(
                        problem, small, stepsize=STEP, steps=sz.small_steps, save="final", **extra
                    )
                )
                over[name].append(seconds)
        peak = client.run(_peak_rss_mib)
    res["load_after"] = os.getloadavg()
    res["sweep_s"], res["solve_s"] = summary(times["sweep"]), summary(times["solve"])
    res["chunks_s"] = summary(times["chunks"])
    res["small_sweep_s"], res["small_solve_s"] = summary(over["sweep"]), summary(over["solve"])
    res["worker_idle_mib"] = sorted(idle.values())
    res["worker_peak_mib"] = sorted(peak.values())
    res["chunk_rows"] = rows
    res["chunk_estimate_mib"] = _chunk_bytes(rows, 2, 8, 1, gf.methods.Euler()) / 2**20
    res["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "processor": platform.processor(),
    }
    return res


def report(res: dict[str, Any]) -> str:
    sw, so, ch = res["sweep_s"], res["solve_s"], res["chunks_s"]
    sz = res["sizes"]
    speed = so["best"] / sw["best"]
    lines = [
        f"{sz['n_traj']:,} trajectories x {sz['n_steps']:,} steps, save='final', "
        f"{WORKERS} workers; load average before {res['load_before'][0]:.2f}, after "
        f"{res['load_after'][0]:.2f}",
        "",
        "| measurement | best | median |",
        "|---|---|---|",
        f"| 1 sweep, {WORKERS}-worker LocalCluster | {sw['best']:.2f} s | {sw['median']:.2f} s |",
        f"| 2 one solve call | {so['best']:.2f} s | {so['median']:.2f} s |",
        f"| 3 the same chunks, one process | {ch['best']:.2f} s | {ch['median']:.2f} s |",
        f"| 4a small sweep ({sz['small_traj']:,} x {sz['small_steps']} steps) on the cluster "
        f"| {res['small_sweep_s']['best'] * 1e3:.0f} ms | "
        f"{res['small_sweep_s']['median'] * 1e3:.0f} ms |",
        f"| 4b the same solve | {res['small_solve_s']['best'] * 1e3:.1f} ms | "
        f"{res['small_solve_s']['median'] * 1e3:.1f} ms |",
        f"| 4c small sweep, client=None (start + close the cluster) | "
        f"{res['default_cluster_sweep_s'] or float('nan'):.1f} s | |",
        "",
        f"speed-up solve / sweep: {speed:.2f} (median {so['median'] / sw['median']:.2f}); "
        f"target >= {TARGET_SPEEDUP}: {'met' if speed >= TARGET_SPEEDUP else 'NOT met'}",
        f"parallel part chunks / sweep: {ch['best'] / sw['best']:.2f}; chunking part solve / "
        f"chunks: {so['best'] / ch['best']:.2f}",
        f"worker memory: idle {res['worker_idle_mib']} MiB, peak {res['worker_peak_mib']} MiB; "
        f"chunk of {res['chunk_rows']:,} rows estimated at {res['chunk_estimate_mib']:.1f} MiB",
        f"same result bit for bit: {res['same_result']}; all ok: {res['all_ok']}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (CI smoke test)")
    parser.add_argument("--out", type=Path, help="write the results as JSON")
    args = parser.parse_args(argv)
    try:
        import distributed  # noqa: F401
    except ImportError:
        print('bench_sweep: dask.distributed is not installed (pip install ".[dask]")')
        return 0
    res = run(QUICK if args.quick else FULL)
    print(report(res))
    if args.out:
        args.out.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
