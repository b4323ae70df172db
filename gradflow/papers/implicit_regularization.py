r"""Implicit gradient regularisation (Barrett & Dherin, ICLR 2021).

Gradient descent with step ``h`` follows the *modified* flow of
``L̃ = L + (h/4)‖∇L‖²`` (:func:`gradflow.modified.modified_loss`, field from
:func:`gradflow.modified.modified_flow`) to ``O(h²)``, but the plain gradient flow of
``L`` only to ``O(h)``.  On the 1-``WIDTH``-1 tanh regression network
(:func:`gradflow.problems.mlp_regression`) GD runs to ``T = T_FINAL`` with ``h = T/N`` for
``N = 2^j``; both flows are integrated by :func:`gradflow.modified.flow_reference` (scipy
DOP853, ``rtol = atol = 1e-12``).  The errors ``‖θ_N - θ(T)‖`` are fitted on log-log
axes (:func:`gradflow.analysis.fit_order`): the slopes must be ``1 ± 0.1`` and
``2 ± 0.1``.  A third check: the modified loss (its IGR term) is reduced along GD at
least as much as along the plain flow, i.e. GD's ``‖∇L‖²`` at ``T`` is at most the flow's.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from gradflow.papers._result import PaperResult, new_figure, paper_dir, save_figure, write_json

__all__ = ["CLAIM", "NAME", "run"]

NAME = "implicit_regularization"
CLAIM = (
    "GD with step h stays O(h²) close to the modified flow of L + (h/4)‖∇L‖² but only O(h) "
    "close to the gradient flow of L: log-log slopes 2 and 1 (±0.1)."
)
#: Tolerance on the fitted slopes (the issue: "slopes 1 and 2 within ±0.1").
SLOPE_TOL = 0.1
#: Time horizon of the comparison.
T_FINAL = 2.0
#: (network width, exponents j of N = 2^j steps).
FULL = (100, tuple(range(5, 12)))
QUICK = (20, tuple(range(5, 9)))
SEED = 0


def run(out_dir: str | Path, quick: bool = False) -> PaperResult:
    """Run the reproduction, check the claim, write figures and numbers to ``out_dir/NAME``."""
    import gradflow as gf
    from gradflow.analysis import fit_order

    start = time.perf_counter()
    result = PaperResult(NAME, CLAIM, quick=quick)
    width, exponents = QUICK if quick else FULL
    problem = gf.problems.mlp_regression(width=width)
    theta0 = problem.init(SEED)
    counts = 2 ** np.asarray(exponents)
    hs = T_FINAL / counts
    ends = np.array(
        [
            gf.solve(problem, theta0, stepsize=h, steps=int(n), save_every=int(n)).theta[-1]
            for n, h in zip(counts, hs, strict=True)
        ]
    )
    flow = gf.modified.flow_reference(lambda th: -problem.grad(th), theta0, [T_FINAL])[-1]
    field = gf.modified.modified_flow(problem, gf.methods.Euler(), hs, order=1)
    modified = gf.modified.flow_reference(
        field, field.start(np.broadcast_to(theta0, (hs.size, problem.dim))), [T_FINAL]
    )[-1]
    err_flow = np.linalg.norm(ends - flow, axis=-1)
    err_mod = np.linalg.norm(ends - modified, axis=-1)
    fit_flow = fit_order(hs, err_flow)
    fit_mod = fit_order(hs, err_mod)
    result.check(
        "slope of ‖θ_GD(T) - θ_flow(T)‖ against h",
        f"{fit_flow.order:.3f}",
        f"1 ± {SLOPE_TOL}",
        abs(fit_flow.order - 1.0) <= SLOPE_TOL,
    )
    result.check(
        "slope of ‖θ_GD(T) - θ_modified(T)‖ against h",
        f"{fit_mod.order:.3f}",
        f"2 ± {SLOPE_TOL}",
        abs(fit_mod.order - 2.0) <= SLOPE_TOL,
    )
    grad_sq_gd = np.sum(problem.grad(ends) ** 2, axis=-1)
    grad_sq_flow = float(np.sum(problem.grad(flow) ** 2))
    result.check(
        "IGR: ‖∇L‖² at T, GD (largest h) vs gradient flow",
        f"{grad_sq_gd[0]:.4g} vs {grad_sq_flow:.4g}",
        "GD ≤ flow (the (h/4)‖∇L‖² term is penalised)",
        grad_sq_gd[0] <= grad_sq_flow,
    )
    result.numbers = {
        "width": width,
        "T": T_FINAL,
        "h": hs,
        "error_vs_flow": err_flow,
        "error_vs_modified": err_mod,
        "slope_flow": fit_flow.order,
        "slope_modified": fit_mod.order,
        "local_slopes_flow": fit_flow.local,
        "local_slopes_modified": fit_mod.local,
        "grad_sq_gd": grad_sq_gd,
        "grad_sq_flow": grad_sq_flow,
    }
    directory = paper_dir(out_dir, NAME)
    fig, axes = new_figure(1, 1, width=4.8, height=3.6)
    ax = axes[0, 0]
    for err, fit, label, colour, marker in (
        (err_flow, fit_flow, "vs gradient flow of L", "#0072B2", "o"),
        (err_mod, fit_mod, "vs modified flow of L + (h/4)‖∇L‖²", "#D55E00", "s"),
    ):
        ax.loglog(hs, err, marker, color=colour, label=f"{label}: slope {fit.order:.2f}")
        ax.loglog(hs, fit.constant * hs**fit.order, "-", color=colour, lw=0.8)
    ax.set(
        xlabel="step size h",
        ylabel="‖θ_GD(T) - θ(T)‖₂",
        title=f"GD on the 1-{width}-1 tanh net, T = {T_FINAL:g}",
    )
    ax.legend(fontsize=8, loc="lower right")
    save_figure(fig, directory, NAME, result)
    result.runtime = time.perf_counter() - start
    write_json(result, directory)
    return result
