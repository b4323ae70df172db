"""Benchmark: a PyTorch model through ``Problem.from_torch`` against hand-written torch.

What it measures, on a 64-``width``-``width``-10 tanh MLP with the mean squared loss on
``n`` random inputs (the shape of the 8x8 digits: 64 features, 10 one-hot classes),
float64, one torch thread for both sides:

1. ``gradflow.solve`` (explicit Euler, one trajectory, ``steps`` steps, ``save="final"``)
   against the floor, a hand-written torch full-batch GD loop (``loss.backward()`` then
   ``p -= h * p.grad`` on the module's parameters) doing the same steps; the two final
   parameter vectors must agree to 1e-10.  Target: ratio <= 1.3.
2. Curvature: ``gradflow.curvature.top_eigenvalue`` (Lanczos on exact HVPs, tol 1e-3)
   plus ``gradflow.curvature.trace`` (Hutchinson, 100 Rademacher probes) against a
   PyHessian-style torch implementation: power iteration with double-backward HVPs
   (``torch.autograd.grad`` of ``<∇L, v>``, ``create_graph=True``) stopped when the
   Rayleigh quotient changes by less than 1e-3 relative (PyHessian's ``tol``), and
   Hutchinson with the same number of probes.  HVP counts and times are reported; the
   eigenvalues must agree to 1e-3 relative.

How: ``time.perf_counter`` around each call, garbage collector off during a call, one
warm-up call first, candidates interleaved (A, B, A, B, ...); the best of the repeats
gives the ratio (the median alongside).  Usage::

    python benchmarks/bench_torch.py [--quick] [--out FILE.json]

``--quick`` runs tiny sizes in seconds (a smoke test for CI).  Exits 0 whether or not a
target is met (it reports, it does not gate), and also when PyTorch is absent.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import gradflow as gf  # noqa: E402

TARGET_SOLVE_OVER_HAND = 1.3
STEP = 0.2
SEED = 0
#: (examples, width, GD steps, repeats, Hutchinson probes)
FULL = (1797, 32, 200, 5, 100)
QUICK = (100, 8, 10, 2, 10)


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


def time_interleaved(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Seconds of each call over ``repeats`` rounds, after one warm-up call each."""
    for fn in fns.values():
        fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            samples[name].append(_timed(fn))
    return samples


def _summary(seconds: list[float]) -> dict[str, Any]:
    return {"best": min(seconds), "median": statistics.median(seconds), "samples": seconds}


def build(torch: Any, n: int, width: int) -> tuple[Any, Any, Any, Any]:
    """The module, its data and the ``from_torch`` problem."""
    rng = np.random.default_rng(SEED)
    X = rng.uniform(-1.0, 1.0, (n, 64))
    Y = np.eye(10)[rng.integers(0, 10, n)]
    torch.manual_seed(SEED)
    nn = torch.nn
    net = nn.Sequential(
        nn.Linear(64, width), nn.Tanh(), nn.Linear(width, width), nn.Tanh(), nn.Linear(width, 10)
    ).double()
    problem = gf.Problem.from_torch(net, square_loss, X, Y)
    return net, torch.from_numpy(X), torch.from_numpy(Y), problem


def square_loss(out: Any, target: Any) -> Any:
    return 0.5 * ((out - target) ** 2).sum(dim=-1).mean()


def hand_gd(torch: Any, net: Any, X: Any, Y: Any, theta0: np.ndarray, steps: int) -> np.ndarray:
    """The floor: a plain torch full-batch GD loop on the module itself."""
    torch.nn.utils.vector_to_parameters(torch.from_numpy(theta0), net.parameters())
    params = list(net.parameters())
    for _ in range(steps):
        for p in params:
            p.grad = None
        square_loss(net(X), Y).backward()
        with torch.no_grad():
            for p in params:
                p -= STEP * p.grad
    return torch.nn.utils.parameters_to_vector(params).detach().numpy().copy()


def pyhessian_style(torch: Any, net: Any, X: Any, Y: Any, probes: int) -> dict[str, Any]:
    """Power iteration and Hutchinson with double-backward HVPs, as PyHessian does."""
    params = [p for p in net.parameters() if p.requires_grad]
    loss = square_loss(net(X), Y)
    grads = torch.autograd.grad(loss, params, create_graph=True)
    count = [0]

    def hvp(v: list[Any]) -> list[Any]:
        count[0] += 1
        return list(torch.autograd.grad(grads, params, grad_outputs=v, retain_graph=True))

    gen = torch.Generator().manual_seed(SEED)
    v = [torch.randn(p.shape, generator=gen, dtype=p.dtype) for p in params]
    eig = None
    for _ in range(100):  # PyHessian: maxIter=100, tol=1e-3
        norm = torch.sqrt(sum((x * x).sum() for x in v))
        v = [x / norm for x in v]
        hv = hvp(v)
        new = sum((a * b).sum() for a, b in zip(hv, v, strict=True)).item()
        v = hv
        if eig is not None and abs(new - eig) / (abs(eig) + 1e-6) < 1e-3:
            eig = new
            break
        eig = new
    power_hvps = count[0]
    trace = []
    for _ in range(probes):
        z = [torch.randint(0, 2, p.shape, generator=gen).to(p.dtype) * 2 - 1 for p in params]
        trace.append(sum((a * b).sum() for a, b in zip(hvp(z), z, strict=True)).item())
    return {
        "eig": eig,
        "trace": float(np.mean(trace)),
        "hvps_power": power_hvps,
        "hvps_trace": count[0] - power_hvps,
    }


def gradflow_curvature(problem: Any, theta: np.ndarray, probes: int) -> dict[str, Any]:
    top = gf.curvature.top_eigenvalue(problem, theta, tol=1e-3, seed=SEED)
    tr = gf.curvature.trace(problem, theta, n_probes=probes, seed=SEED)
    return {
        "eig": float(top.value),
        "trace": float(tr.value),
        "hvps_power": int(top.n_hvp),
        "hvps_trace": int(tr.n_hvp),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (CI smoke test)")
    parser.add_argument("--out", type=Path, help="write the results as JSON")
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("bench_torch: PyTorch is not installed; nothing measured")
        return 0
    torch.set_num_threads(1)  # a shared 2-core machine: one thread for both sides
    n, width, steps, repeats, probes = QUICK if args.quick else FULL
    net, X, Y, problem = build(torch, n, width)
    theta0 = problem.theta_from_module()

    def solve() -> np.ndarray:
        return gf.solve(problem, theta0, stepsize=STEP, steps=steps, save="final").theta[-1]

    def hand() -> np.ndarray:
        return hand_gd(torch, net, X, Y, theta0, steps)

    samples = time_interleaved({"solve": solve, "hand": hand}, repeats)
    agree = float(np.max(np.abs(solve() - hand())) / np.max(np.abs(hand())))
    ratio = min(samples["solve"]) / min(samples["hand"])
    median = statistics.median(samples["solve"]) / statistics.median(samples["hand"])
    curv = {}
    torch.nn.utils.vector_to_parameters(torch.from_numpy(theta0), net.parameters())
    cs = time_interleaved(
        {
            "gradflow": lambda: curv.__setitem__(
                "gradflow", gradflow_curvature(problem, theta0, probes)
            ),
            "pyhessian": lambda: curv.__setitem__(
                "pyhessian", pyhessian_style(torch, net, X, Y, probes)
            ),
        },
        max(1, repeats - 2),
    )
    results = {
        "machine": f"{platform.processor() or platform.machine()}, {platform.python_version()}, "
        f"torch {torch.__version__}, 1 thread",
        "sizes": {"n": n, "width": width, "dim": problem.dim, "steps": steps, "probes": probes},
        "solve_s": _summary(samples["solve"]),
        "hand_s": _summary(samples["hand"]),
        "ratio_best": ratio,
        "ratio_median": median,
        "target": TARGET_SOLVE_OVER_HAND,
        "met": ratio <= TARGET_SOLVE_OVER_HAND,
        "max_rel_diff": agree,
        "curvature": {k: {**curv[k], "time": _summary(cs[k])} for k in curv},
        "hvp_mode": problem.hvp_mode,
    }
    per = 1e3 / steps
    print(f"from_torch MLP d={problem.dim}, n={n}, {steps} GD steps (hvp: {problem.hvp_mode})")
    print(f"  solve        best {min(samples['solve']) * per:8.3f} ms/step")
    print(f"  hand loop    best {min(samples['hand']) * per:8.3f} ms/step")
    print(
        f"  ratio {ratio:.3f} (median {median:.3f}), target <= {TARGET_SOLVE_OVER_HAND}: "
        f"{'met' if results['met'] else 'NOT met'}; results agree to {agree:.1e}"
    )
    for k, c in curv.items():
        print(
            f"  {k:<10} λmax {c['eig']:.6g} ({c['hvps_power']} HVPs), trace {c['trace']:.5g} "
            f"({c['hvps_trace']} HVPs), best {min(cs[k]):.3f} s"
        )
    if args.out:
        args.out.write_text(json.dumps(results, indent=2, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
