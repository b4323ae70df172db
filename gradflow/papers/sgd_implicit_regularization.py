r"""Implicit regularisation of SGD with random shuffling (Smith, Dherin, Barrett & De, ICLR 2021).

One epoch of SGD with random shuffling takes ``m = n/B`` steps of size ``h`` on the
minibatch losses ``L̂_0 .. L̂_{m-1}`` of a random partition of the ``n`` examples, in a
random order.  Backward error analysis of the epoch (the paper's §2) gives, for the mean
iterate over the orderings,

.. math:: \mathbb E[\theta_m] = \tilde\theta(mh) + O(m^3h^3),\qquad
          \tilde L_{SGD} = L + \frac{h}{4m}\sum_{k=0}^{m-1}\lVert\nabla\hat L_k\rVert^2,

where ``θ̃`` is the gradient flow of ``L̃_SGD``, while the plain gradient flow of ``L``
is only ``O(m²h²)`` away.  Averaged also over the partition (random shuffling draws
both) the modified loss is, in expectation, the paper's

.. math:: L + \frac h4\Bigl(\lVert\nabla L\rVert^2
          + \frac{n-B}{B(n-1)}\,\frac1n\sum_i\lVert\nabla\ell_i-\nabla L\rVert^2\Bigr)

(a ``B``-subset without replacement), and since the correction enters the epoch
linearly at order ``h²``, the flow of this expected loss is still ``O(m³h³)`` from the
mean iterate.  The claim is a statement *in expectation*: a single epoch differs from
its mean by ``O(m²h²)`` (the order of the minibatches).

The check: L2-free logistic regression on ``n = 12`` points in ``d = 4`` (a zoo finite
sum), ``B = 3`` (``m = 4``), all step sizes × ``R`` shuffles in one batched
:func:`gradflow.solve` (``batch_size=B, shuffle=True``: one permutation per epoch and
trajectory).  The mean of the ``R`` end points is compared with both flows integrated by
:func:`gradflow.modified.flow_reference` (scipy DOP853, ``rtol = atol = 1e-12``);
``fit_order`` fits the log-log slopes against ``mh``.  As ``mh → 0`` the paper predicts
slopes 3 and 2; at the sizes used (``mh`` up to 0.8, with Monte Carlo noise ``‖SE‖``
at most ``NOISE_MAX`` of the error) the criteria are slope ``≥ MOD_SLOPE_MIN`` for the
modified flow and ``2 ± FLOW_SLOPE_TOL`` for the plain flow, and the Monte Carlo
standard error must stay below ``NOISE_MAX`` times the modified-flow error at every
``h`` (so the error measured is not noise).

References
----------
S. L. Smith, B. Dherin, D. G. T. Barrett and S. De, "On the origin of implicit
regularization in stochastic gradient descent", ICLR 2021.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from gradflow.papers._result import PaperResult, new_figure, paper_dir, save_figure, write_json

__all__ = ["CLAIM", "NAME", "run"]

NAME = "sgd_implicit_regularization"
CLAIM = (
    "Averaged over random shuffles, one epoch of m SGD steps of size h stays O(m³h³) close to "
    "the flow of L + (h/4m) Σ_k ‖∇L̂_k‖² but only O(m²h²) close to the gradient flow of L: "
    "log-log slopes ≥ 2.7 and 2 ± 0.15 against mh."
)
#: The modified flow's slope must reach this (3 as mh → 0; finite mh bends it down).
MOD_SLOPE_MIN = 2.7
#: The plain flow's slope is 2 within this.
FLOW_SLOPE_TOL = 0.15
#: Monte Carlo standard error of the mean end point, relative to the modified-flow error.
NOISE_MAX = 0.15
#: (examples n, features d, batch size B).
DATA = (12, 4, 3)
#: (epoch lengths m·h, shuffles R per step size).
FULL = ((0.05, 0.1, 0.2, 0.4, 0.8), 250_000)
QUICK = ((0.2, 0.4, 0.8), 40_000)
SEED = 1


def _problem():
    """The logistic-regression finite sum and its start (labels of a noisy linear rule)."""
    import gradflow as gf

    n, d, _ = DATA
    rng = np.random.default_rng(SEED)
    X = rng.standard_normal((n, d))
    y = np.where(X @ rng.standard_normal(d) + 0.5 * rng.standard_normal(n) > 0, 1, -1)
    return gf.problems.logistic_regression(X, y), rng.standard_normal(d)


def _expected_modified_field(problem, hs: np.ndarray, batch_size: int):
    r"""``θ ↦ -∇(L + (h/4) E‖∇L̂_S‖²)`` for rows ``θ`` of shape ``(len(hs), d)``.

    ``E‖∇L̂_S‖² = (1 - b)‖∇L‖² + b (1/n) Σ_i ‖∇ℓ_i‖²`` with ``b = (n - B)/(B(n - 1))``
    (a uniform ``B``-subset, without replacement); its gradient is
    ``2(1 - b) ∇²L ∇L + 2b (1/n) Σ_i ∇²ℓ_i ∇ℓ_i``, from the problem's exact HVPs.
    """
    n, d = problem.n_samples, problem.dim
    b = (n - batch_size) / (batch_size * (n - 1))
    hcol = np.asarray(hs, dtype=float)[:, None]
    each = np.arange(n)

    def field(theta: np.ndarray) -> np.ndarray:
        rows = theta.shape[0]
        g = problem.grad(theta)
        per = problem.per_example_grad(theta).reshape(rows * n, d)
        own = problem.minibatch_hvp(  # ∇²ℓ_i ∇ℓ_i: each example its own batch of one
            np.repeat(theta, n, axis=0), per, np.tile(each, rows)[:, None]
        )
        mean_own = own.reshape(rows, n, d).mean(axis=1)
        return -g - hcol / 2 * ((1 - b) * problem.hvp(theta, g) + b * mean_own)

    return field


def run(out_dir: str | Path, quick: bool = False) -> PaperResult:
    """Run the reproduction, check the claim, write figures and numbers to ``out_dir/NAME``."""
    import gradflow as gf
    from gradflow.analysis import fit_order

    start = time.perf_counter()
    result = PaperResult(NAME, CLAIM, quick=quick)
    epochs, shuffles = QUICK if quick else FULL
    problem, theta0 = _problem()
    n, d, B = DATA
    m = n // B
    times = np.asarray(epochs)
    hs = times / m
    starts = np.broadcast_to(theta0, (hs.size, shuffles, d))
    traj = gf.solve(
        problem,
        starts,
        gf.methods.SGD(),
        hs[:, None],
        steps=m,
        save="final",
        batch_size=B,
        seed=SEED,
        shuffle=True,
    )
    ends = traj.theta[-1]  # (n_h, R, d)
    mean = ends.mean(axis=1)
    se = np.linalg.norm(ends.std(axis=1, ddof=1), axis=-1) / np.sqrt(shuffles)
    flow = gf.modified.flow_reference(lambda th: -problem.grad(th), theta0[None], times)[:, 0]
    # Each h has its own modified flow, run to its own epoch time mh: one stacked system
    # per h would need as many scipy calls, so all run together to every mh and each
    # row is read at its own time.
    field = _expected_modified_field(problem, hs, B)
    paths = gf.modified.flow_reference(field, np.broadcast_to(theta0, (hs.size, d)), times)
    modified = paths[np.arange(hs.size), np.arange(hs.size)]
    err_flow = np.linalg.norm(mean - flow, axis=-1)
    err_mod = np.linalg.norm(mean - modified, axis=-1)
    fit_flow = fit_order(times, err_flow)
    fit_mod = fit_order(times, err_mod)
    noise = se / err_mod
    result.check(
        f"Monte Carlo standard error of the mean over {shuffles:,} shuffles",
        f"‖SE‖ / error vs modified flow ≤ {noise.max():.3f}",
        f"≤ {NOISE_MAX} at every h",
        np.all(noise <= NOISE_MAX),
    )
    result.check(
        "slope of ‖E[θ_m] - θ_flow(mh)‖ against mh",
        f"{fit_flow.order:.3f}",
        f"2 ± {FLOW_SLOPE_TOL}",
        abs(fit_flow.order - 2.0) <= FLOW_SLOPE_TOL,
    )
    result.check(
        "slope of ‖E[θ_m] - θ_modified(mh)‖ against mh",
        f"{fit_mod.order:.3f}",
        f"≥ {MOD_SLOPE_MIN} (3 as mh → 0)",
        fit_mod.order >= MOD_SLOPE_MIN,
    )
    result.numbers = {
        "n": n,
        "d": d,
        "batch_size": B,
        "m": m,
        "shuffles": shuffles,
        "mh": times,
        "h": hs,
        "error_vs_flow": err_flow,
        "error_vs_modified": err_mod,
        "standard_error": se,
        "slope_flow": fit_flow.order,
        "slope_modified": fit_mod.order,
        "local_slopes_flow": fit_flow.local,
        "local_slopes_modified": fit_mod.local,
    }
    directory = paper_dir(out_dir, NAME)
    _figure(times, err_flow, err_mod, se, fit_flow, fit_mod, m, directory, result)
    result.runtime = time.perf_counter() - start
    write_json(result, directory)
    return result


def _figure(times, err_flow, err_mod, se, fit_flow, fit_mod, m, directory, result) -> None:
    fig, axes = new_figure(1, 1, width=5.0, height=3.8)
    ax = axes[0, 0]
    for err, fit, label, colour, marker in (
        (err_flow, fit_flow, "vs gradient flow of L", "#0072B2", "o"),
        (err_mod, fit_mod, "vs flow of L + (h/4m) Σ‖∇L̂_k‖²", "#D55E00", "s"),
    ):
        ax.loglog(times, err, marker, color=colour, label=f"{label}: slope {fit.order:.2f}")
        ax.loglog(times, fit.constant * times**fit.order, "-", color=colour, lw=0.8)
    ax.loglog(times, se, ":", color="0.4", label="Monte Carlo standard error")
    ax.set(
        xlabel="epoch length m·h",
        ylabel="‖E[θ_m] - θ(mh)‖₂",
        title=f"shuffled SGD, one epoch of m = {m} steps",
    )
    ax.legend(fontsize=7, loc="upper left")
    save_figure(fig, directory, NAME, result)
