"""Row-stable kernels: what "batch = single, bit for bit" costs against batched BLAS.

The zoo problems that multiply by a matrix (quadratic, least squares, logistic
regression) compute each batch row on its own (``gradflow/problems/_rowstable.py``):
``numpy.einsum`` for small matrices, BLAS calls on fixed blocks of 8 rows for large
ones (one ``gemv`` per row where a block would not give every row position the same
bits).  This
script times their ``loss``, ``grad`` and ``hvp`` against the same formulas written with
one batched BLAS product (``theta @ A``, ``theta @ X.T``, ``r @ X``: what the problems
did before), and counts, for each version, how many rows of the batch differ from the
row evaluated alone.

Workloads (full run): quadratic d = 2 on 10^5 rows; least squares and logistic
regression with n = 1000 examples, d = 50, on 256 θ; the default ``mlp_regression``
(width 100, 20 points) on 256 θ, which never used BLAS and is listed for reference.
Second table: the gradient of a single row.  Third table: the candidate kernels on
every product shape of those workloads (batched BLAS, einsum, fixed blocks, one gemv
per row), and which one ``row_matmul`` picks; ``--large`` adds a 1000 × 1000 product on
1000 rows (the ``bench_optimizers.py`` least-squares shape).

Method: ``time.perf_counter`` (``--cpu-time``: ``time.process_time``, the CPU time of
the process, which other processes on a busy machine do not inflate; meaningful with
one BLAS thread, ``OPENBLAS_NUM_THREADS=1``), garbage collector off during a call, one
warm-up call, candidates interleaved, best of 5 (``--quick``: best of 2 at small
sizes).  Ratios are row-stable / BLAS on the best times.

Usage: ``python benchmarks/bench_row_stable.py [--quick] [--cpu-time] [--large]
[--out FILE.json]``.
Always exits 0: it reports, it does not gate.
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_gd import summary

import gradflow as gf
from gradflow.problems import _rowstable

SEED = 20261201
#: Rows evaluated alone to count batch-dependent rows (the first ones of the batch).
N_CHECKED = 200
#: The clock of the timings: wall time by default, CPU time of the process with
#: ``--cpu-time`` (set by ``main``).
CLOCK: list[Callable[[], float]] = [time.perf_counter]


def time_interleaved(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Seconds of each call over ``repeats`` interleaved rounds, after one warm-up call.

    The garbage collector is off during a call; the clock is ``CLOCK[0]``.
    """
    clock = CLOCK[0]
    for fn in fns.values():
        fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            gc.disable()
            try:
                start = clock()
                fn()
                samples[name].append(clock() - start)
            finally:
                gc.enable()
    return samples


def _expit(m: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -m))


def blas_quadratic(p: Any) -> dict[str, Callable[..., np.ndarray]]:
    """The quadratic's loss, grad and hvp with one batched BLAS product."""
    a, b = p.A, p.b
    return {
        "loss": lambda th, v: np.sum(th * (0.5 * (th @ a) - b), axis=-1),
        "grad": lambda th, v: th @ a - b,
        "hvp": lambda th, v: v @ a,
    }


def blas_least_squares(p: Any) -> dict[str, Callable[..., np.ndarray]]:
    X, y, n = p.X, p.y, p.n_samples

    def loss(th: np.ndarray, v: np.ndarray) -> np.ndarray:
        r = th @ X.T - y
        return np.sum(r * r, axis=-1) / (2.0 * n)

    return {
        "loss": loss,
        "grad": lambda th, v: ((th @ X.T - y) @ X) / float(n),
        "hvp": lambda th, v: ((v @ X.T) @ X) / float(n),
    }


def blas_logistic(p: Any) -> dict[str, Callable[..., np.ndarray]]:
    X, y, n, l2 = p.X, p.y, p.n_samples, p.l2

    def loss(th: np.ndarray, v: np.ndarray) -> np.ndarray:
        m = (th @ X.T) * y
        return np.sum(np.logaddexp(0.0, -m), axis=-1) / float(n) + 0.5 * l2 * np.sum(
            th * th, axis=-1
        )

    def grad(th: np.ndarray, v: np.ndarray) -> np.ndarray:
        m = (th @ X.T) * y
        return ((-y * _expit(-m)) @ X) / float(n) + l2 * th

    def hvp(th: np.ndarray, v: np.ndarray) -> np.ndarray:
        m = (th @ X.T) * y
        s = _expit(m) * _expit(-m)
        return ((s * (v @ X.T)) @ X) / float(n) + l2 * v

    return {"loss": loss, "grad": grad, "hvp": hvp}


def row_stable(p: gf.Problem) -> dict[str, Callable[..., np.ndarray]]:
    """The problem's own (row-stable) functions."""
    return {
        "loss": lambda th, v: p.loss(th),
        "grad": lambda th, v: p.grad(th),
        "hvp": p.hvp,
    }


def batch_dependent_rows(fn: Callable[..., np.ndarray], th: np.ndarray, v: np.ndarray) -> int:
    """How many of the first rows differ, bit for bit, from the row evaluated alone."""
    k = min(N_CHECKED, th.shape[0])
    batched = fn(th, v)[:k].reshape(k, -1)
    alone = np.stack([fn(th[i], v[i]) for i in range(k)]).reshape(k, -1)
    return int(np.sum(np.any(batched != alone, axis=1)))


def workloads(quick: bool) -> list[tuple[str, gf.Problem, np.ndarray, dict | None]]:
    rng = np.random.default_rng(SEED)
    rows_q, n, d, rows_d = (10_000, 200, 20, 64) if quick else (100_000, 1000, 50, 256)
    width = 20 if quick else 100
    quad = gf.problems.quadratic([1.0, 10.0], seed=0)
    X = rng.standard_normal((n, d))
    ls = gf.problems.least_squares(X, X @ rng.standard_normal(d) + rng.standard_normal(n))
    logit = gf.problems.logistic_regression(X, rng.integers(0, 2, n), l2=1e-3)
    mlp = gf.problems.mlp_regression(width=width)
    return [
        (f"quadratic d=2, {rows_q:,} rows", quad, rng.standard_normal((rows_q, 2)),
         blas_quadratic(quad)),
        (f"least_squares n={n}, d={d}, {rows_d} θ", ls, rng.standard_normal((rows_d, d)),
         blas_least_squares(ls)),
        (f"logistic_regression n={n}, d={d}, {rows_d} θ", logit,
         0.1 * rng.standard_normal((rows_d, d)), blas_logistic(logit)),
        (f"mlp_regression width={width} (no BLAS), {rows_d} θ", mlp,
         mlp.init(seed=1, batch_shape=rows_d), None),
    ]  # fmt: skip


def product_shapes(quick: bool, large: bool) -> list[tuple[int, int, int, str]]:
    """``(rows, k, n, where)``: every product with a fixed matrix in the workloads."""
    rows_q, n, d, rows_d = (10_000, 200, 20, 64) if quick else (100_000, 1000, 50, 256)
    shapes = [
        (rows_q, 2, 2, "quadratic θA"),
        (rows_d, d, n, "regression θXᵀ"),
        (rows_d, n, d, "regression rX"),
    ]
    if large:
        shapes.append((1000, 1000, 1000, "regression d = n = 1000"))
    return shapes


def kernel_candidates(quick: bool, large: bool, repeats: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(SEED + 1)
    out = []
    for rows, k, n, where in product_shapes(quick, large):
        m = _rowstable.fixed_matrix(rng.standard_normal((k, n)))
        mt = _rowstable.fixed_matrix(m.T)
        a = rng.standard_normal((rows, k))

        def forced(a: np.ndarray, m: np.ndarray, blocks: bool) -> np.ndarray:
            saved = _rowstable.EINSUM_MAX, _rowstable._blocks_are_row_stable
            _rowstable.EINSUM_MAX = -1  # no einsum
            _rowstable._blocks_are_row_stable = lambda m: blocks
            try:
                return _rowstable.row_matmul(a, m)
            finally:
                _rowstable.EINSUM_MAX, _rowstable._blocks_are_row_stable = saved

        spec, other = ("...k,kn->...n", m) if n >= k else ("...k,nk->...n", mt)
        fns = {
            "blas": lambda a=a, m=m: a @ m,
            "einsum": lambda a=a, spec=spec, other=other: np.einsum(spec, a, other),
            "blocks": lambda a=a, m=m: forced(a, m, True),
            "gemv": lambda a=a, m=m: forced(a, m, False),
        }
        samples = time_interleaved(fns, repeats)
        best = {name: min(s) for name, s in samples.items()}
        if k * n <= _rowstable.EINSUM_MAX:
            chosen = "einsum"
        else:
            chosen = "blocks" if _rowstable._blocks_are_row_stable(m) else "gemv"
        out.append({"where": where, "rows": rows, "k": k, "n": n, "best_s": best, "chosen": chosen})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, 2 repeats")
    parser.add_argument("--out", type=Path, help="write the samples as JSON")
    parser.add_argument(
        "--cpu-time",
        action="store_true",
        help="time with the process's CPU clock (robust to other load; use with one BLAS thread)",
    )
    parser.add_argument(
        "--large", action="store_true", help="also a 1000 x 1000 product on 1000 rows"
    )
    args = parser.parse_args(argv)
    repeats = 2 if args.quick else 5
    CLOCK[0] = time.process_time if args.cpu_time else time.perf_counter
    results: dict[str, Any] = {
        "cpu_time": args.cpu_time,
        "quick": args.quick,
        "repeats": repeats,
        "workloads": [],
        "kernels": [],
    }

    print(
        "| workload | function | BLAS best (ms) | row-stable best (ms) | ratio "
        "| batch-dependent rows (BLAS / row-stable) |"
    )
    print("|---|---|---|---|---|---|")
    singles: list[tuple[str, dict[str, float]]] = []
    for label, problem, theta, blas in workloads(args.quick):
        v = np.random.default_rng(SEED + 2).standard_normal(theta.shape)
        stable = row_stable(problem)
        for fname, fn in stable.items():
            fns = {"row-stable": lambda fn=fn, th=theta, v=v: fn(th, v)}
            if blas is not None:
                fns["blas"] = lambda fn=blas[fname], th=theta, v=v: fn(th, v)
                ref, got = blas[fname](theta, v), fn(theta, v)
                scale = max(1.0, float(np.max(np.abs(ref))))
                assert np.allclose(got, ref, rtol=1e-12, atol=1e-12 * scale), (label, fname)
            samples = time_interleaved(fns, repeats)
            rs = summary(samples["row-stable"], 1e3)
            bad_rs = batch_dependent_rows(fn, theta, v)
            k = min(N_CHECKED, theta.shape[0])
            row: dict[str, Any] = {"workload": label, "function": fname, "row_stable_ms": rs}
            if blas is not None:
                bl = summary(samples["blas"], 1e3)
                bad_bl = batch_dependent_rows(blas[fname], theta, v)
                ratio = rs["best"] / bl["best"]
                row.update(blas_ms=bl, ratio=ratio, batch_dependent=[bad_bl, bad_rs])
                print(
                    f"| {label} | {fname} | {bl['best']:.3f} | {rs['best']:.3f} | {ratio:.2f} "
                    f"| {bad_bl} / {bad_rs} of {k} |"
                )
            else:
                row.update(batch_dependent=[None, bad_rs])
                print(
                    f"| {label} | {fname} | (same code) | {rs['best']:.3f} | 1 "
                    f"| – / {bad_rs} of {k} |"
                )
            results["workloads"].append(row)
            if fname == "grad":
                one, v1 = theta[:1], v[:1]
                fns1 = {"row-stable": lambda fn=fn, th=one, v=v1: fn(th, v)}
                if blas is not None:
                    fns1["blas"] = lambda fn=blas[fname], th=one, v=v1: fn(th, v)
                singles.append((label, {n: min(t) for n, t in time_interleaved(fns1, 20).items()}))

    print("\n| workload | grad of one row: BLAS (µs) | row-stable (µs) |")
    print("|---|---|---|")
    for label, best in singles:
        blas_us = f"{best['blas'] * 1e6:.1f}" if "blas" in best else "(same code)"
        name = re.sub(r", [\d,]+ (rows|θ)$", "", label)
        print(f"| {name} | {blas_us} | {best['row-stable'] * 1e6:.1f} |")
    results["one_row_grad_s"] = dict(singles)

    print(
        f"\n| product | rows | k × n | BLAS (ms) | einsum / BLAS "
        f"| blocks of {_rowstable.BLOCK_ROWS} / BLAS | gemv per row / BLAS | chosen |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for kc in kernel_candidates(args.quick, args.large, repeats):
        b = kc["best_s"]
        print(
            f"| {kc['where']} | {kc['rows']:,} | {kc['k']} × {kc['n']} | {b['blas'] * 1e3:.3f} "
            f"| {b['einsum'] / b['blas']:.1f} | {b['blocks'] / b['blas']:.2f} "
            f"| {b['gemv'] / b['blas']:.1f} | {kc['chosen']} |"
        )
        results["kernels"].append(kc)
    if args.quick:
        print("\n(--quick: small sizes, the ratios say little about the full workloads)")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
