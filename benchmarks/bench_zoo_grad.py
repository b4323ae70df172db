"""Zoo gradients against the same formula written directly in numpy.

For every zoo problem this script times ``problem.grad`` (and, for a few, ``loss`` and
``hvp``) through the public :class:`~gradflow.Problem` interface against a hand-written
numpy floor of the same formula: the obvious direct expression on the columns of the
batch, with one batched BLAS product (``theta @ X.T``) where the formula multiplies by a
matrix.  The floors live in this file and share no code with the library.

Sizes (full run): a batch of 10^4 θ for the 2-D problems and the quadratic, 10^3 θ for
the 10-D Rosenbrock, 256 θ for least squares and logistic regression (n = 1000
examples, d = 50) and for the default ``mlp_regression`` (width 100, 20 points).

The matrix problems are row-stable (a row of a batch has the same bits as the row
alone, ``gradflow/problems/_rowstable.py``), which one batched BLAS call is not; their
rows carry a second floor, the same formula with the library's row-stable product
(``row_matmul``), so the table separates the cost of the formula from the cost of
row stability (measured on its own by ``benchmarks/bench_row_stable.py``).

When JAX is importable, it also times the batched Rosenbrock gradient-descent sweep
(10,000 starts × 1,000 steps, ``h = 1e-4``, float64) of ``gradflow.solve`` against
``jax.jit(jax.vmap(...))`` of a ``lax.fori_loop`` of the same update, both on one
thread (set below, before numpy and jax are imported).  Without JAX that part is
skipped.

Method: ``time.perf_counter`` (``--cpu-time``: ``time.process_time``, the CPU time of
the process, which other processes on a busy machine do not inflate; every candidate
runs on one thread, so the two clocks measure the same work), garbage collector off
during a call, large arrays served from the heap (glibc ``mallopt``, see
:func:`heap_allocations`; ``--default-malloc`` keeps the adaptive default), one warm-up
call, candidates interleaved (A, B, A, B, ...), best of N (median alongside); ratios
are library / floor on the best times.  Every library result is checked against its floor
(``allclose``) so a ratio never compares different work.

Usage::

    python benchmarks/bench_zoo_grad.py [--quick] [--cpu-time] [--default-malloc] [--no-jax]
    [--out FILE.json]

``--quick`` runs small sizes in a few seconds (a CI smoke test; its ratios say nothing
about the targets).  Exits 0 whether or not a target is met: it reports, it does not
gate.
"""

from __future__ import annotations

import os

# One thread for BLAS and for XLA, set before numpy and jax are imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "")
    + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    + " --xla_force_host_platform_device_count=1"
).strip()

import argparse
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
# Benchmark the checkout this script lives in, installed or not.
sys.path.insert(0, str(REPO))

import gradflow as gf  # noqa: E402
from gradflow.problems import _rowstable  # noqa: E402

SEED = 20261215
#: Target: library / hand-written floor, per function.
TARGET_RATIO = 1.2
#: Moonshot: batched Rosenbrock GD sweep, gradflow.solve / JAX jit+vmap.
TARGET_JAX = 2.0
STEP = 1e-4
L2 = 1e-2

Fn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Sizes:
    """Batch sizes and repeat counts of one run."""

    planar: int  # θ rows for the 2-D problems and the quadratic
    chained: int  # θ rows for the 10-D Rosenbrock
    data: int  # θ rows for least squares, logistic regression and the MLP
    n_samples: int  # examples of the regression problems
    n_features: int  # their d
    repeats: int
    sweep_starts: int  # JAX comparison
    sweep_steps: int
    sweep_repeats: int


FULL = Sizes(10_000, 1_000, 256, 1000, 50, 25, 10_000, 1_000, 5)
QUICK = Sizes(500, 100, 16, 200, 10, 3, 200, 20, 2)


# ---------------------------------------------------------------------------------------
# timing (as benchmarks/bench_gd.py)
# ---------------------------------------------------------------------------------------
#: The clock of the timings: wall time, or with ``--cpu-time`` the CPU time of the
#: process, which other processes on a busy machine do not inflate (set by ``main``).
CLOCK: list[Callable[[], float]] = [time.perf_counter]


def time_interleaved(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Seconds of each call over ``repeats`` interleaved rounds, after one warm-up call."""
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


#: ``mallopt`` parameters of glibc (``malloc.h``).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def heap_allocations() -> bool:
    """Serve large arrays from the heap instead of fresh ``mmap`` pages (glibc only).

    By default glibc maps every allocation above a threshold that adapts to the
    process's history of frees, so whether a 2 MB temporary costs 512 page faults depends
    on what ran before: the same BLAS floor measured 1.9 ms in one process and 4.4 ms in
    another.  With one fixed policy for the whole process, every candidate pays for its
    arithmetic and memory traffic only.  Returns whether the setting was applied.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        big = 1 << 30
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, big)) and bool(
            libc.mallopt(_M_TRIM_THRESHOLD, big)
        )
    except (OSError, AttributeError):
        return False


def summary(seconds: list[float], scale: float = 1.0) -> dict[str, float]:
    """Best and median of the samples, multiplied by ``scale``."""
    return {"best": min(seconds) * scale, "median": statistics.median(seconds) * scale}


# ---------------------------------------------------------------------------------------
# the hand-written floors (the obvious direct numpy expressions)
# ---------------------------------------------------------------------------------------
def rosenbrock2_grad(th: np.ndarray) -> np.ndarray:
    x, y = th[:, 0], th[:, 1]
    v = y - x * x
    return np.stack((2.0 * (x - 1.0) - 400.0 * x * v, 200.0 * v), axis=-1)


def rosenbrock2_loss(th: np.ndarray) -> np.ndarray:
    x, y = th[:, 0], th[:, 1]
    v = y - x * x
    return 100.0 * v * v + (1.0 - x) ** 2


def rosenbrock2_hvp(th: np.ndarray, u: np.ndarray) -> np.ndarray:
    x, y = th[:, 0], th[:, 1]
    hxx = 1200.0 * x * x - 400.0 * y + 2.0
    hxy = -400.0 * x
    return np.stack((hxx * u[:, 0] + hxy * u[:, 1], hxy * u[:, 0] + 200.0 * u[:, 1]), axis=-1)


def rosenbrock_chained_grad(th: np.ndarray) -> np.ndarray:
    head, tail = th[:, :-1], th[:, 1:]
    v = tail - head * head
    g = np.empty_like(th)
    g[:, :-1] = 2.0 * (head - 1.0) - 400.0 * head * v
    g[:, -1] = 0.0
    g[:, 1:] += 200.0 * v
    return g


def himmelblau_grad(th: np.ndarray) -> np.ndarray:
    x, y = th[:, 0], th[:, 1]
    u = x * x + y - 11.0
    w = x + y * y - 7.0
    return np.stack((4.0 * x * u + 2.0 * w, 2.0 * u + 4.0 * y * w), axis=-1)


def beale_grad(th: np.ndarray) -> np.ndarray:
    x, y = th[:, 0], th[:, 1]
    y2 = y * y
    y3 = y2 * y
    r1, r2, r3 = 1.5 - x + x * y, 2.25 - x + x * y2, 2.625 - x + x * y3
    gx = 2.0 * (r1 * (y - 1.0) + r2 * (y2 - 1.0) + r3 * (y3 - 1.0))
    gy = 2.0 * x * (r1 + 2.0 * r2 * y + 3.0 * r3 * y2)
    return np.stack((gx, gy), axis=-1)


def scalar_net_grad(th: np.ndarray) -> np.ndarray:
    x, y = th[:, 0], th[:, 1]
    r = x * y - 1.0
    return np.stack((r * y, r * x), axis=-1)


_MB = [
    np.array(c)
    for c in (
        (-200.0, -100.0, -170.0, 15.0),
        (-1.0, -1.0, -6.5, 0.7),
        (0.0, 0.0, 11.0, 0.6),
        (-10.0, -10.0, -6.5, 0.7),
        (1.0, 0.0, -0.5, -1.0),
        (0.0, 0.5, 1.5, 1.0),
    )
]


def muller_brown_grad(th: np.ndarray) -> np.ndarray:
    amp, a, b, c, x0, y0 = _MB
    dx = th[:, :1] - x0
    dy = th[:, 1:] - y0
    e = amp * np.exp(a * dx * dx + b * dx * dy + c * dy * dy)
    return np.stack(
        ((e * (2.0 * a * dx + b * dy)).sum(-1), (e * (b * dx + 2.0 * c * dy)).sum(-1)), axis=-1
    )


def quadratic_grad(a: np.ndarray, b: np.ndarray) -> Fn:
    return lambda th: th @ a - b


def least_squares_grad(x: np.ndarray, y: np.ndarray, mm: Callable[..., np.ndarray]) -> Fn:
    n = x.shape[0]
    xt = _rowstable.fixed_matrix(x.T)
    return lambda th: mm(mm(th, xt) - y, x) / n


def logistic_grad(x: np.ndarray, y: np.ndarray, mm: Callable[..., np.ndarray]) -> Fn:
    n = x.shape[0]
    xt = _rowstable.fixed_matrix(x.T)
    return lambda th: mm(-y / (1.0 + np.exp(y * mm(th, xt))), x) / n + L2 * th


def logistic_loss(x: np.ndarray, y: np.ndarray, mm: Callable[..., np.ndarray]) -> Fn:
    n = x.shape[0]
    xt = _rowstable.fixed_matrix(x.T)

    def loss(th: np.ndarray) -> np.ndarray:
        m = y * mm(th, xt)
        return np.logaddexp(0.0, -m).sum(-1) / n + 0.5 * L2 * (th * th).sum(-1)

    return loss


def logistic_hvp(x: np.ndarray, y: np.ndarray, mm: Callable[..., np.ndarray]) -> Callable:
    n = x.shape[0]
    xt = _rowstable.fixed_matrix(x.T)

    def hvp(th: np.ndarray, u: np.ndarray) -> np.ndarray:
        e = np.exp(-np.abs(mm(th, xt)))  # σ(m)σ(-m) = e/(1+e)² with e = exp(-|m|)
        s = e / ((1.0 + e) * (1.0 + e))
        return mm(s * mm(u, xt), x) / n + L2 * u

    return hvp


def mlp_grad(xs: np.ndarray, ys: np.ndarray, m: int) -> Fn:
    n = xs.size

    def grad(th: np.ndarray) -> np.ndarray:
        w1, b1, w2 = th[:, None, :m], th[:, None, m : 2 * m], th[:, None, 2 * m :]
        h = np.tanh(w1 * xs[:, None] + b1)  # (B, n, m)
        r = (w2 * h).sum(-1) - ys  # (B, n)
        delta = r[:, :, None] / n
        dz = delta * w2 * (1.0 - h * h)
        return np.concatenate([(dz * xs[:, None]).sum(1), dz.sum(1), (delta * h).sum(1)], axis=-1)

    return grad


# ---------------------------------------------------------------------------------------
# the cases
# ---------------------------------------------------------------------------------------
def _blas(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a @ b


def cases(sz: Sizes) -> list[dict[str, Any]]:
    """``label``, ``fn`` name, the library call, its floors and their arguments."""
    rng = np.random.default_rng(SEED)
    planar = rng.uniform(-1.5, 1.5, (sz.planar, 2))
    near_mb = np.array([-0.5, 1.0]) + 0.4 * rng.standard_normal((sz.planar, 2))
    u2 = rng.standard_normal((sz.planar, 2))
    out: list[dict[str, Any]] = []

    def add(label: str, fn: str, lib: Callable, floors: dict[str, Callable], args: tuple) -> None:
        out.append({"label": label, "fn": fn, "lib": lib, "floors": floors, "args": args})

    ros = gf.problems.rosenbrock()
    add("rosenbrock, 2-D", "grad", ros.grad, {"numpy": rosenbrock2_grad}, (planar,))
    add("", "loss", ros.loss, {"numpy": rosenbrock2_loss}, (planar,))
    add("", "hvp", ros.hvp, {"numpy": rosenbrock2_hvp}, (planar, u2))
    ros10 = gf.problems.rosenbrock(10)
    chained = rng.uniform(-1.5, 1.5, (sz.chained, 10))
    add("rosenbrock, 10-D", "grad", ros10.grad, {"numpy": rosenbrock_chained_grad}, (chained,))
    add("himmelblau", "grad", gf.problems.himmelblau().grad, {"numpy": himmelblau_grad}, (planar,))
    add("beale", "grad", gf.problems.beale().grad, {"numpy": beale_grad}, (planar,))
    add("scalar_net", "grad", gf.problems.scalar_net().grad, {"numpy": scalar_net_grad}, (planar,))
    mb = gf.problems.muller_brown()
    add("muller_brown", "grad", mb.grad, {"numpy": muller_brown_grad}, (near_mb,))
    quad = gf.problems.quadratic(seed=0)
    add(
        "quadratic, d = 2",
        "grad",
        quad.grad,
        {"numpy": quadratic_grad(quad.A, quad.b)},
        (planar,),
    )

    n, d = sz.n_samples, sz.n_features
    x = rng.standard_normal((n, d))
    theta = 0.3 * rng.standard_normal((sz.data, d))
    ls = gf.problems.least_squares(x, x @ rng.standard_normal(d) + rng.standard_normal(n))
    add(
        f"least_squares, n = {n}, d = {d}",
        "grad",
        ls.grad,
        {
            "numpy": least_squares_grad(x, ls.y, _blas),
            "row-stable": least_squares_grad(x, ls.y, _rowstable.row_matmul),
        },
        (theta,),
    )
    labels = (x @ rng.standard_normal(d) + rng.standard_normal(n) > 0).astype(float)
    lr = gf.problems.logistic_regression(x, labels, l2=L2)
    u = rng.standard_normal(theta.shape)
    for fn, floor, args in (
        ("grad", logistic_grad, (theta,)),
        ("loss", logistic_loss, (theta,)),
        ("hvp", logistic_hvp, (theta, u)),
    ):
        add(
            f"logistic_regression, n = {n}, d = {d}" if fn == "grad" else "",
            fn,
            getattr(lr, fn),
            {
                "numpy": floor(x, lr.y, _blas),
                "row-stable": floor(x, lr.y, _rowstable.row_matmul),
            },
            args,
        )
    mlp = gf.problems.mlp_regression()
    th_mlp = mlp.init(seed=1, batch_shape=sz.data)
    add(
        "mlp_regression, width 100, 20 points",
        "grad",
        mlp.grad,
        {"numpy": mlp_grad(mlp.x, mlp.y, mlp.width)},
        (th_mlp,),
    )
    return out


def run_case(case: dict[str, Any], repeats: int) -> dict[str, Any]:
    args = case["args"]
    ref = case["lib"](*args)
    for name, floor in case["floors"].items():
        got = floor(*args)
        scale = max(1.0, float(np.max(np.abs(ref))))
        # The floors compute the same formula (up to rounding): never time different work.
        assert np.allclose(got, ref, rtol=1e-10, atol=1e-12 * scale), (case["label"], name)
    fns = {"lib": lambda: case["lib"](*args)}
    fns.update({name: (lambda f=f: f(*args)) for name, f in case["floors"].items()})
    samples = time_interleaved(fns, repeats)
    row: dict[str, Any] = {"label": case["label"], "fn": case["fn"]}
    row["ms"] = {name: summary(s, 1e3) for name, s in samples.items()}
    lib = row["ms"]["lib"]
    row["ratio"] = {
        name: {
            "best": lib["best"] / row["ms"][name]["best"],
            "median": lib["median"] / row["ms"][name]["median"],
        }
        for name in case["floors"]
    }
    return row


# ---------------------------------------------------------------------------------------
# JAX: the batched Rosenbrock GD sweep
# ---------------------------------------------------------------------------------------
def jax_sweep(sz: Sizes) -> dict[str, Any]:
    """``gradflow.solve`` against JAX jit+vmap of a fori_loop, or why it was skipped."""
    try:
        import jax
    except ImportError:
        return {"skipped": "jax is not importable"}
    jax.config.update("jax_enable_x64", True)  # the same float64 arithmetic as numpy
    import jax.numpy as jnp

    def loss(th: Any) -> Any:
        return 100.0 * (th[1] - th[0] ** 2) ** 2 + (1.0 - th[0]) ** 2

    grad = jax.grad(loss)
    steps = sz.sweep_steps

    def run_one(th: Any) -> Any:
        return jax.lax.fori_loop(0, steps, lambda _, t: t - STEP * grad(t), th)

    run = jax.jit(jax.vmap(run_one))
    problem = gf.problems.rosenbrock()
    theta0 = np.random.default_rng(SEED + 1).uniform(-1.5, 1.5, (sz.sweep_starts, 2))
    start = jnp.asarray(theta0)

    def gradflow_run() -> np.ndarray:
        return gf.solve(problem, theta0, stepsize=STEP, steps=steps, save="final").theta[-1]

    def jax_run() -> np.ndarray:
        return np.asarray(run(start).block_until_ready())

    def bare_loop() -> np.ndarray:
        # where the time goes: the same steps without the driver
        theta = theta0
        for _ in range(steps):
            theta = theta - STEP * problem.grad(theta)
        return theta

    def numpy_in_place() -> np.ndarray:
        # the hand-written floor: separate coordinate arrays updated in place
        x, y = theta0[:, 0].copy(), theta0[:, 1].copy()
        v, gx = np.empty_like(x), np.empty_like(x)
        for _ in range(steps):
            np.multiply(x, x, out=v)
            np.subtract(y, v, out=v)  # y - x²
            np.subtract(x, 1.0, out=gx)
            gx *= 2.0
            gx -= 400.0 * x * v
            v *= 200.0 * STEP
            y -= v
            gx *= STEP
            x -= gx
        return np.stack((x, y), axis=-1)

    fns = {"gradflow": gradflow_run, "bare": bare_loop, "numpy": numpy_in_place, "jax": jax_run}
    samples = time_interleaved(fns, sz.sweep_repeats)
    final = gradflow_run()
    best = {k: min(v) for k, v in samples.items()}
    return {
        "jax": jax.__version__,
        "devices": len(jax.devices()),
        "s": {k: summary(v) for k, v in samples.items()},
        "ratio": best["gradflow"] / best["jax"],
        "ratio_to_jax": {k: best[k] / best["jax"] for k in fns},
        "bare_loop_same_bits": bool(np.array_equal(final, bare_loop())),
        "max_abs_difference": float(np.max(np.abs(final - jax_run()))),
        "numpy_max_abs_difference": float(np.max(np.abs(final - numpy_in_place()))),
    }


# ---------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------
def _met(ratio: float, quick: bool, target: float) -> str:
    if quick:
        return "n/a (--quick)"
    return "yes" if ratio <= target else "**NO**"


def table(rows: list[dict[str, Any]], quick: bool) -> str:
    lines = [
        "| problem, batch | fn | library (ms) | numpy floor (ms) | library / numpy "
        "| row-stable floor (ms) | library / row-stable | target | met |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ms, ratio = r["ms"], r["ratio"]
        judged = ratio["numpy"]["best"]
        cells = [
            r["label"],
            r["fn"],
            f"{ms['lib']['best']:.3f}",
            f"{ms['numpy']['best']:.3f}",
            f"{judged:.2f} ({ratio['numpy']['median']:.2f})",
        ]
        if "row-stable" in ms:
            rs = ratio["row-stable"]
            cells += [f"{ms['row-stable']['best']:.3f}", f"{rs['best']:.2f} ({rs['median']:.2f})"]
        else:
            cells += ["–", "–"]
        cells += [f"≤ {TARGET_RATIO}", _met(judged, quick, TARGET_RATIO)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--no-jax", action="store_true", help="skip the JAX sweep")
    parser.add_argument(
        "--cpu-time", action="store_true", help="time with the process's CPU clock (busy machines)"
    )
    parser.add_argument(
        "--default-malloc",
        action="store_true",
        help="keep glibc's adaptive mmap threshold (page-fault costs vary between processes)",
    )
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    sz = QUICK if args.quick else FULL
    CLOCK[0] = time.process_time if args.cpu_time else time.perf_counter
    heap = False if args.default_malloc else heap_allocations()
    rows = [run_case(c, sz.repeats) for c in cases(sz)]
    res: dict[str, Any] = {
        "quick": args.quick,
        "cpu_time": args.cpu_time,
        "heap_allocations": heap,
        "sizes": asdict(sz),
        "rows": rows,
    }
    print(
        f"gradflow {gf.__version__}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}, "
        f"clock: {'process CPU time' if args.cpu_time else 'wall'}, "
        f"large arrays from the heap (mallopt): {heap}"
        + (" [--quick: sizes too small for the targets]" if args.quick else "")
    )
    print("ratios: best (median)\n")
    print(table(rows, args.quick))
    res["jax"] = {"skipped": "--no-jax"} if args.no_jax else jax_sweep(sz)
    j = res["jax"]
    print()
    if "skipped" in j:
        print(f"JAX sweep skipped: {j['skipped']}")
    else:
        print(
            f"Rosenbrock GD sweep, {sz.sweep_starts:,} starts × {sz.sweep_steps:,} steps, "
            f"one thread (jax {j['jax']}, {j['devices']} device): "
            f"gradflow.solve / JAX jit+vmap = {j['ratio']:.2f} "
            f"(moonshot ≤ {TARGET_JAX}: {_met(j['ratio'], args.quick, TARGET_JAX)}); "
            f"max |Δθ| = {j['max_abs_difference']:.1e}\n"
        )
        labels = {
            "gradflow": "`gradflow.solve`",
            "bare": "bare loop `θ = θ - h * P.grad(θ)` (same bits as solve: "
            f"{j['bare_loop_same_bits']})",
            "numpy": "hand-written numpy, x and y arrays updated in place "
            f"(max abs difference {j['numpy_max_abs_difference']:.0e})",
            "jax": "JAX `jit(vmap(fori_loop))`, float64",
        }
        print("| candidate | best (s) | median (s) | / JAX |\n|---|---|---|---|")
        for k, label in labels.items():
            t = j["s"][k]
            print(f"| {label} | {t['best']:.3f} | {t['median']:.3f} | {j['ratio_to_jax'][k]:.2f} |")
    if args.out:
        args.out.write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
