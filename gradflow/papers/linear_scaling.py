r"""The linear scaling rule and its breakdown (Goyal et al. 2017; McCandlish et al. 2018).

Goyal et al. train with batch ``kB`` and step ``kh`` (after a linear warmup) and match the
small-batch loss per epoch; McCandlish et al. explain where that stops: the rule holds
for batches below the *gradient noise scale* ``B_noise = tr(HΣ)/(GᵀHG)``, which for
``H ∝ I`` is the simple noise scale ``B_simple = tr Σ/‖G‖²``
(:func:`gradflow.analysis.gradient_noise`).

Why.  On a quadratic the expected loss after one SGD step with batch ``B`` (drawn
without replacement, covariance ``f_B Σ``, ``f_B = (n - B)/(B(n - 1)) ≈ 1/B``) is exactly

.. math:: \mathbb E L(\theta - h\hat g) = L - h\lVert G\rVert^2
          + \tfrac{h^2}{2}\bigl(G^\top H G + f_B \operatorname{tr}(H\Sigma)\bigr).

Per epoch (``n/B`` steps) with ``h = cB`` the first and last terms do not depend on
``B`` — the linear scaling rule — while ``(n/B)(c²B²/2) GᵀHG`` grows with ``B``.  For the
small-batch optimal ``c = ‖G‖²/tr(HΣ)`` the progress per epoch relative to the small-batch
limit is ``1 - B/B_noise``: it halves near ``B_noise/2`` and vanishes at ``B_noise``.

Set-up (one where ``H = I`` and ``B_simple`` is the same at every point, so the
comparison has one number to meet): least squares
(:func:`gradflow.problems.least_squares`) on ``d`` columns of the ``n × n`` Hadamard
matrix (``XᵀX = nI``, every row of norm² ``d``) with noiseless targets.  Then
``tr Σ = (d - 1)‖θ - θ*‖²`` and ``B_simple = d - 1`` exactly, and
``E L_{k+1} = ρ(h_k, B) E L_k`` with ``ρ(h, B) = 1 - 2h + h²(1 + (d - 1) f_B)`` (the
expected losses are computable in closed form).  The base step ``h0`` at ``B0`` is
*tuned* by a batched sweep (the best mean loss after ``EPOCHS`` epochs), then every ``B =
B0·2^j`` up to ``n`` runs ``linear_scaling(h0, B0, B, warmup)``
(:func:`gradflow.schedules.linear_scaling`, warmup over ``WARMUP_EPOCHS``) for
``EPOCHS`` epochs, ``SEEDS`` trajectories each in one batched :func:`gradflow.solve`.

Breakdown, defined: the progress of a run is ``P(B) = -mean ln(L_E / L_0)`` over its
trajectories after the epoch budget (the typical run: ``L_K`` is a product of ``K``
random factors, so its mean is carried by rare trajectories — with 64 seeds the mean loss
after 4 epochs is 30-60× the median — while ``E ln L`` is a sum that concentrates);
``r(B) = P(B)/P(B0)``; ``B_crit`` is where ``r`` falls through 1/2 (interpolated in
``log B``).  From the formula above (``c`` optimal, ``B ≪ n``) the *expected* progress
gives ``r = -ln(1 - x + x²)/x`` with ``x = B/B_simple``, 1/2 at ``x ≈ 0.55``; the
typical progress loses a variance term ``Var(ln ρ̂)/2`` per step that shrinks as the
batch grows, which moves its half-point up, towards ``x = 1`` (where even the expected
progress vanishes).  Either way ``B_crit`` must sit within a factor of 2 of ``B_simple``.

Checks: ``B_crit/B_simple`` in ``[1/2, 2]``; ``r ≥ 0.8`` for every ``B ≤ B_simple/4``
(the rule holds: the formula gives ``r ≥ 0.83`` there); ``B_simple`` from
:func:`gradflow.analysis.gradient_noise` is ``d - 1`` at the start and at the ends of the
small-batch runs (1e-9); and the mean loss after the first quarter epoch agrees with
the closed-form expectation within ``3`` standard errors (+1 %) for every stable ``B``
(a check of the runs themselves; later means are too heavy-tailed for a standard error).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from gradflow.papers._result import PaperResult, new_figure, paper_dir, save_figure, write_json

__all__ = ["CLAIM", "NAME", "Sizes", "expected_loss", "run"]

NAME = "linear_scaling"
CLAIM = (
    "Batch kB with step kh (and warmup) matches the small-batch progress per epoch up to a "
    "critical batch, where it breaks down, within a factor of 2 of the simple noise scale "
    "B_simple = tr Σ/|G|²."
)
#: The progress ratio that defines the breakdown.
HALF = 0.5
#: ``B_crit/B_simple`` must lie in ``[1/FACTOR, FACTOR]``.
FACTOR = 2.0
#: Warmup length (Goyal et al.: 5 of 90 epochs).
WARMUP_EPOCHS = 0.25
#: Standard errors (and the relative slack) allowed between measured and expected losses.
SE_FACTOR = 3.0
SLACK = 0.01
SEED = 0


class Sizes(NamedTuple):
    """Problem size and run lengths."""

    n: int  # examples (a power of 2)
    d: int  # parameters (B_simple = d - 1)
    b0: int  # base batch
    epochs: int  # budget
    seeds: int  # trajectories per batch size
    sweep: int  # step sizes of the tuning sweep


FULL = Sizes(n=512, d=128, b0=2, epochs=4, seeds=256, sweep=24)
QUICK = Sizes(n=128, d=32, b0=2, epochs=4, seeds=64, sweep=16)


def data(sz: Sizes, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """``d`` columns of the Sylvester–Hadamard matrix (``XᵀX = nI``), noiseless targets."""
    import scipy.linalg

    X = scipy.linalg.hadamard(sz.n).astype(np.float64)[:, 1 : sz.d + 1]
    w = np.random.default_rng(seed).standard_normal(sz.d)
    return X, X @ w


def expected_loss(h: np.ndarray, batch: int, n: int, d: int) -> np.ndarray:
    r"""``E L_K / L_0 = Π_k ρ(h_k, B)`` on the Hadamard design (see the module docstring).

    Parameters
    ----------
    h : ndarray, shape (K,)
        The steps of the run.
    batch : int
        ``B``.
    n, d : int
        Examples and parameters.

    Returns
    -------
    ndarray, shape (K + 1,)
        The expected loss after ``0 .. K`` steps, relative to the start.

    References
    ----------
    S. McCandlish, J. Kaplan, D. Amodei et al., "An empirical model of large-batch
    training", arXiv:1812.06162, 2018, eq. (2.6) (the expected one-step improvement).

    Examples
    --------
    >>> float(expected_loss(np.array([1.0]), 8, 8, 4)[-1])   # full batch, h = 1: exact
    0.0
    """
    f = (n - batch) / (batch * (n - 1.0))
    rho = 1.0 - 2.0 * h + h * h * (1.0 + (d - 1) * f)
    return np.concatenate([[1.0], np.cumprod(rho)])


def _tune(problem: Any, sz: Sizes) -> tuple[float, np.ndarray, np.ndarray]:
    """The base step: the best typical loss after the budget at ``B0`` (one batched sweep)."""
    import gradflow as gf

    hs = np.geomspace(0.1, 10.0, sz.sweep) / (1.0 + (sz.d - 1) / sz.b0)  # around the optimum
    theta0 = np.zeros((sz.sweep, sz.seeds, sz.d))
    traj = gf.solve(
        problem,
        theta0,
        gf.methods.SGD(),
        hs[:, None],
        steps=sz.epochs * sz.n // sz.b0,
        batch_size=sz.b0,
        seed=SEED,
        save="final",
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        typical = np.log(traj.loss[-1]).mean(axis=1)  # the typical run (module docstring)
    typical = np.where(np.isfinite(typical), typical, np.inf)
    return float(hs[int(np.argmin(typical))]), hs, typical


def _run_batch(problem: Any, sz: Sizes, h0: float, B: int) -> dict[str, Any]:
    """``SEEDS`` runs of the linear scaling rule at batch ``B`` (losses once per epoch)."""
    import gradflow as gf

    per_epoch = sz.n // B
    sub = max(1, per_epoch // 4)  # losses every quarter epoch
    warmup = round(WARMUP_EPOCHS * per_epoch)
    rule = gf.schedules.linear_scaling(h0, sz.b0, B, warmup_steps=warmup)
    steps = sz.epochs * per_epoch
    traj = gf.solve(
        problem,
        np.zeros((sz.seeds, sz.d)),
        gf.methods.SGD(),
        rule,
        steps=steps,
        batch_size=B,
        seed=SEED + B,
        save_every=sub,
    )
    h = np.asarray(rule(np.arange(steps)), dtype=np.float64)
    expected = expected_loss(h, B, sz.n, sz.d)
    return {
        "loss": traj.loss[:: per_epoch // sub],  # (epochs + 1, seeds)
        "first": traj.loss[1],  # after the first quarter epoch (one step if B = n)
        "first_expected": expected[sub],
        "finite": bool((traj.status == "ok").all() and np.isfinite(traj.loss).all()),
        "expected": expected[::per_epoch],
        "theta_end": traj.theta[-1],
        "h": rule.h,
    }


def _typical(loss: np.ndarray) -> np.ndarray:
    """``exp(mean ln L)`` over the trajectories (axis 1)."""
    with np.errstate(all="ignore"):
        return np.exp(np.log(loss).mean(axis=1))


def _crossing(batches: np.ndarray, r: np.ndarray, level: float) -> float:
    """Where ``r`` first falls below ``level``, interpolated in ``log B`` (inf if never)."""
    below = np.flatnonzero(r < level)
    if below.size == 0 or below[0] == 0:
        return float("inf") if below.size == 0 else float(batches[0])
    j = int(below[0])
    lo, hi = np.log(batches[j - 1]), np.log(batches[j])
    frac = (r[j - 1] - level) / (r[j - 1] - r[j])
    return float(np.exp(lo + frac * (hi - lo)))


def run(out_dir: str | Path, quick: bool = False) -> PaperResult:
    """Run the reproduction, check the claim, write figures and numbers to ``out_dir/NAME``."""
    import gradflow as gf

    start = time.perf_counter()
    result = PaperResult(NAME, CLAIM, quick=quick)
    sz = QUICK if quick else FULL
    X, y = data(sz)
    problem = gf.problems.least_squares(X, y)
    h0, sweep_h, sweep_loss = _tune(problem, sz)
    batches = sz.b0 * 2 ** np.arange(int(np.log2(sz.n // sz.b0)) + 1)
    runs = {int(B): _run_batch(problem, sz, h0, int(B)) for B in batches}
    L0 = float(problem.loss(np.zeros(sz.d)))
    with np.errstate(all="ignore"):  # a diverged batch has no progress: r = -inf
        P = np.array([-np.log(runs[int(B)]["loss"][-1] / L0).mean() for B in batches])
    P = np.where(np.isfinite(P), P, -np.inf)
    r = P / P[0]
    b_crit = _crossing(batches.astype(float), r, HALF)
    # the simple noise scale where the runs go: the start and the small-batch states
    noise = gf.analysis.gradient_noise(
        problem, np.concatenate([np.zeros((1, sz.d)), runs[sz.b0]["theta_end"]])
    )
    b_simple = float(noise.b_simple[0])
    x = batches / b_simple
    with np.errstate(all="ignore"):
        r_theory = -np.log(1 - x + x * x) / x  # (c optimal, B ≪ n)
    result.numbers = {
        "sizes": sz._asdict(),
        "h0": h0,
        "h0_optimal_formula": 1.0 / (1.0 + (sz.d - 1) * (sz.n - sz.b0) / (sz.b0 * (sz.n - 1))),
        "sweep_h": sweep_h,
        "sweep_mean_log_loss": sweep_loss,
        "batches": batches,
        "progress": P,
        "progress_ratio": r,
        "progress_ratio_formula": r_theory,
        "b_crit": b_crit,
        "b_simple": b_simple,
        "b_simple_range": [float(noise.b_simple.min()), float(noise.b_simple.max())],
        "typical_loss_per_epoch": {int(B): _typical(runs[int(B)]["loss"]) for B in batches},
    }
    _check(result, sz, batches, r, b_crit, b_simple, noise.b_simple, runs, L0)
    directory = paper_dir(out_dir, NAME)
    _figure(result, directory, sz, batches, r, b_crit, b_simple, runs, L0)
    result.runtime = time.perf_counter() - start
    write_json(result, directory)
    return result


def _check(
    result: PaperResult,
    sz: Sizes,
    batches: np.ndarray,
    r: np.ndarray,
    b_crit: float,
    b_simple: float,
    b_simple_all: np.ndarray,
    runs: dict[int, dict[str, Any]],
    L0: float,
) -> None:
    ratio = b_crit / b_simple
    result.check(
        "breakdown: B_crit (progress per epoch halved) / B_simple",
        f"{b_crit:.1f} / {b_simple:.1f} = {ratio:.2f}",
        f"in [1/{FACTOR:g}, {FACTOR:g}]",
        1 / FACTOR <= ratio <= FACTOR,
    )
    small = batches <= b_simple / 4
    result.check(
        "linear scaling holds: progress ratio r for B ≤ B_simple/4",
        f"min {r[small].min():.3f} over B = {batches[small].tolist()}",
        "≥ 0.8 (expected-loss formula: ≥ 0.83)",
        bool(small.sum() >= 2 and r[small].min() >= 0.8),
    )
    spread = float(np.max(np.abs(b_simple_all - (sz.d - 1))))
    result.check(
        "B_simple (gradflow.analysis) at the start and the small-batch ends",
        f"max |B_simple - (d - 1)| = {spread:.2e}",
        f"d - 1 = {sz.d - 1} within 1e-9 relative",
        spread <= 1e-9 * (sz.d - 1),
    )
    worst = 0.0
    checked = []
    for B in batches:
        rr = runs[int(B)]
        if not rr["finite"] or rr["expected"].max() > 1.0:
            continue  # unstable: heavy tails, no standard error to speak of
        loss = rr["first"] / L0
        mean, se = loss.mean(), loss.std(ddof=1) / np.sqrt(sz.seeds)
        expected = rr["first_expected"]
        worst = max(worst, abs(mean - expected) / (SE_FACTOR * se + SLACK * expected))
        checked.append(int(B))
    result.check(
        "mean loss after a quarter epoch vs the closed-form expectation (stable B)",
        f"worst |mean - E| / ({SE_FACTOR:g} se + {SLACK:g} E) = {worst:.2f} over B = {checked}",
        "≤ 1",
        bool(checked) and worst <= 1.0,
    )


def _figure(
    result: PaperResult,
    directory: Path,
    sz: Sizes,
    batches: np.ndarray,
    r: np.ndarray,
    b_crit: float,
    b_simple: float,
    runs: dict[int, dict[str, Any]],
    L0: float,
) -> None:
    fig, axes = new_figure(2, 1, width=8.4, height=3.4)
    ax = axes[0, 0]
    colours = np.linspace(0.1, 0.9, batches.size)
    import matplotlib

    cmap = matplotlib.colormaps["viridis"]
    for B, c in zip(batches, colours, strict=True):
        typical = _typical(runs[int(B)]["loss"]) / L0
        typical = np.where(typical <= 1e3, typical, np.nan)  # a diverged run leaves the axes
        ax.semilogy(np.arange(typical.size), typical, "o-", ms=3, color=cmap(c), label=f"B = {B}")
    ax.set(
        xlabel="epochs",
        ylabel="typical L / L₀  (exp mean ln L)",
        title=f"B = kB₀, h = kh₀ (B₀ = {sz.b0}, h₀ = {result.numbers['h0']:.3g})",
    )
    ax.legend(fontsize=6, ncol=2)
    ax = axes[0, 1]
    x = np.geomspace(batches[0], batches[-1], 200)
    xs = x / b_simple
    ax.semilogx(
        x,
        -np.log(1 - xs + xs * xs) / xs,
        "-",
        color="#777777",
        lw=0.8,
        label="expected-loss formula, x = B/B_simple",
    )
    ax.semilogx(batches, np.maximum(r, -1.0), "o", color="#0072B2", label="measured")
    ax.axhline(HALF, color="k", lw=0.5, alpha=0.5)
    ax.axvline(b_simple, color="#D55E00", lw=1.0, label=f"B_simple = {b_simple:.0f}")
    ax.axvline(b_crit, color="#0072B2", lw=1.0, ls="--", label=f"B_crit = {b_crit:.1f}")
    ax.set(
        xlabel="batch size B",
        ylabel="progress per epoch / small-batch",
        title="breakdown of linear scaling",
        ylim=(-1.05, 1.1),
    )
    ax.legend(fontsize=7, loc="lower left")
    save_figure(fig, directory, NAME, result)
