"""Top Hessian eigenvalue of a d = 10^4 implicit operator: gradflow Lanczos and power
iteration against scipy ``eigsh`` on a LinearOperator of the same HVPs.

The operator is ``H = S Cᵀ diag(λ) C S`` (orthonormal DCT-II ``C``, random signs ``S``, a
random permutation of a prescribed spectrum ``λ``): HVPs cost ``O(d log d)`` and the
spectrum is known exactly.  Three spectra:

* ``outliers``: a bulk uniform on [0, 0.1] and five separated outliers 1, 0.8, 0.6, 0.4,
  0.3 (the shape of neural-network Hessians);
* ``clustered``: the same bulk and ten top eigenvalues 1, 0.999, ..., 0.991;
* ``uniform``: uniform on [0, 1] with λmax = 1 (gaps ~1e-4 at the top: hard for all).

Solvers: gradflow's thick-restart Lanczos (the default, a basis of at most 40 vectors),
its unrestarted variant (``restart=False``: full reorthogonalisation of a growing basis),
power iteration, and scipy ``eigsh``.  Every solver runs to ``tol = 1e-8``
(``‖Hv - λv‖ <= tol |λ|``) from the same Gaussian start vector.  Reported: HVPs, wall
time (best and median, interleaved repeats after a warm-up) and the error of λmax.
Target: gradflow Lanczos (default) within 1.3× of eigsh's HVP count and wall time.
Run ``python benchmarks/bench_curvature.py [--quick] [--out FILE.json]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import scipy.fft
from scipy.sparse.linalg import eigsh

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench_gd import summary, time_interleaved

import gradflow as gf

SEED = 20261123
TOL = 1e-8
TARGET = 1.3
POWER_MAXITER = 20_000


def implicit_quadratic(eigs: np.ndarray, seed: int = SEED) -> gf.Problem:
    """½ θᵀHθ with H = S Cᵀ diag(λ) C S; exact spectrum, O(d log d) HVPs."""
    gen = np.random.default_rng(seed)
    lam = eigs[gen.permutation(eigs.size)]
    signs = gen.choice([-1.0, 1.0], eigs.size)

    def H(v: np.ndarray) -> np.ndarray:
        v = np.asarray(v, dtype=float)
        inner = scipy.fft.dct(signs * v, norm="ortho", axis=-1)
        return signs * scipy.fft.idct(lam * inner, norm="ortho", axis=-1)

    def hvp(theta: np.ndarray, v: np.ndarray) -> np.ndarray:
        return H(np.broadcast_to(v, np.broadcast_shapes(np.shape(theta), np.shape(v))))

    return gf.Problem(
        loss=lambda th: 0.5 * np.sum(th * H(th), axis=-1),
        grad=H,
        hvp=hvp,
        dim=eigs.size,
        name="implicit-quadratic",
    )


def spectra(d: int) -> dict[str, np.ndarray]:
    gen = np.random.default_rng(SEED)
    bulk = gen.uniform(0.0, 0.1, d)
    outliers = bulk.copy()
    outliers[:5] = [1.0, 0.8, 0.6, 0.4, 0.3]
    clustered = bulk.copy()
    clustered[:10] = 1.0 - 0.001 * np.arange(10)
    uniform = gen.uniform(0.0, 1.0, d)
    uniform[0] = 1.0
    return {"outliers": outliers, "clustered": clustered, "uniform": uniform}


def bench_spectrum(name: str, eigs: np.ndarray, repeats: int, power: bool) -> dict[str, Any]:
    d = eigs.size
    problem = implicit_quadratic(eigs)
    theta = np.zeros(d)
    v0 = np.random.default_rng(SEED + 1).standard_normal(d)
    exact = float(eigs.max())
    results: dict[str, dict[str, Any]] = {}

    def lanczos() -> tuple[float, int, bool]:
        res = gf.curvature.top_eigenvalue(
            problem, theta, algorithm="lanczos", tol=TOL, max_iter=3000, v0=v0
        )
        return float(res.value), int(res.n_hvp), bool(res.converged)

    def lanczos_plain() -> tuple[float, int, bool]:
        res = gf.curvature.top_eigenvalue(
            problem, theta, algorithm="lanczos", tol=TOL, max_iter=3000, v0=v0, restart=False
        )
        return float(res.value), int(res.n_hvp), bool(res.converged)

    def power_it() -> tuple[float, int, bool]:
        res = gf.curvature.top_eigenvalue(
            problem, theta, algorithm="power", tol=TOL, max_iter=POWER_MAXITER, v0=v0
        )
        return float(res.value), int(res.n_hvp), bool(res.converged)

    def scipy_eigsh() -> tuple[float, int, bool]:
        op = gf.curvature.hvp_operator(problem, theta)
        value = eigsh(op, k=1, which="LA", tol=TOL, v0=v0)[0][0]
        return float(value), int(op.n_hvp), True

    fns = {
        "gradflow lanczos": lanczos,
        "scipy eigsh": scipy_eigsh,
        "gradflow lanczos, restart=False": lanczos_plain,
    }
    if power:
        fns["gradflow power"] = power_it
    samples = time_interleaved(fns, repeats)
    for label, fn in fns.items():
        value, n_hvp, converged = fn()
        results[label] = {
            "n_hvp": n_hvp,
            "rel_error": abs(value - exact) / exact,
            "converged": converged,
            "time": summary(samples[label]),
        }
    lan, ref = results["gradflow lanczos"], results["scipy eigsh"]
    return {
        "spectrum": name,
        "d": d,
        "rows": results,
        "hvp_ratio": lan["n_hvp"] / ref["n_hvp"],
        "time_ratio": lan["time"]["best"] / ref["time"]["best"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="d = 2000, 2 repeats, smoke run")
    parser.add_argument("--out", type=Path, help="write the results as JSON")
    args = parser.parse_args(argv)
    d, repeats = (2000, 2) if args.quick else (10_000, 5)
    results = []
    for name, eigs in spectra(d).items():
        power = not args.quick or name == "outliers"
        results.append(bench_spectrum(name, eigs, repeats, power))
    print(
        f"| spectrum (d = {d:,}) | solver | HVPs | best | median | rel. error of λmax | converged |"
    )
    print("|---|---|---|---|---|---|---|")
    for res in results:
        for label, row in res["rows"].items():
            t = row["time"]
            print(
                f"| {res['spectrum']} | {label} | {row['n_hvp']} | {t['best'] * 1e3:.1f} ms | "
                f"{t['median'] * 1e3:.1f} ms | {row['rel_error']:.1e} | {row['converged']} |"
            )
    print(
        f"\n| spectrum | Lanczos / eigsh HVPs | Lanczos / eigsh time (best) | target <= {TARGET} |"
    )
    print("|---|---|---|---|")
    for res in results:
        met = "yes" if max(res["hvp_ratio"], res["time_ratio"]) <= TARGET else "no"
        if args.quick:
            met = "n/a (--quick)"
        print(f"| {res['spectrum']} | {res['hvp_ratio']:.2f} | {res['time_ratio']:.2f} | {met} |")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
