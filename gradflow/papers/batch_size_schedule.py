r"""Decay the step or grow the batch (Smith, Kindermans, Ying & Le, ICLR 2018).

SGD with step ``h`` and batch ``B`` on ``n`` examples has the noise scale
``g = h (n/B - 1)`` (Smith et al., eq. 2; ``≈ h n/B`` for ``B ≪ n``): to first order in
``h`` it follows the SDE ``dθ = -∇L dt + √(h/B · (n - B)/(n - 1) · Σ) dW`` (Li, Tai &
E 2017; the factor ``(n - B)/(n - 1)`` is sampling without replacement), whose
temperature is ``g/(n - 1)``, and one epoch (``n/B`` steps) advances its time by
``h n/B``.  Two runs whose ``g`` follows the same schedule per epoch — one decays ``h``
at fixed ``B``, the other keeps ``h`` and grows ``B`` — therefore follow the same SDE
per epoch and reach the same loss per epoch, while the second takes far fewer
parameter updates.

Set-up: least squares (:func:`gradflow.problems.least_squares`) on Gaussian features
with log-spaced scales (Hessian eigenvalues from ``LAMBDA_MIN`` to 1: the slow
directions take epochs to settle, so the curves show transients as well as noise
floors) and label noise; ``len(PHASES)`` phases of ``PHASES[j]`` epochs.  The
*decay* run keeps ``B0`` and sets ``h_j`` so that ``g_j = h_0 (n/B_j - 1)`` (the decay
factor is ``≈ GAMMA`` per phase, exactly the one that matches ``g``); the *grow* run keeps
``h_0`` and multiplies ``B`` by ``GAMMA`` per phase (``B_j = GAMMA^j B0``, through
``solve(..., batch_size=schedule)``); a *constant* run keeps ``h_0, B0`` (the control:
without a decay of ``g`` the loss stays at its first floor).  Every run is
``SEEDS`` trajectories in one batched :func:`gradflow.solve`, all from one start, and the
loss is the mean over them of ``L - L*`` (``L*`` from :func:`numpy.linalg.lstsq`).

Checks:

1. Same loss per epoch.  At every epoch boundary after the first change, the excess
   losses of the two runs agree within ``tol = bias + 3 se``: ``se`` the standard error
   of the ratio of the two seed means, and ``bias`` the largest ratio of the runs'
   noise floors that discretisation allows: a floor of SGD on a quadratic is
   ``(h/2B')·Σ_i Σ_ii/(1 - h λ_i/2)`` (the stationary Lyapunov equation of the
   iteration), so with ``g`` matched the floors differ by at most
   ``(1 - h_j λmax/2)/(1 - h_0 λmax/2) - 1``.
2. Before the first change both runs are the same run: bit for bit (same seed, same
   ``h`` and ``B``: the draws depend on ``(seed, k, B_k)`` only).
3. Fewer updates.  The grow run's parameter updates (``Trajectory.n_steps``) are
   ``Σ_j E_j n/B_j`` against the decay run's ``Σ_j E_j n/B0``: a ratio
   ``Σ_j E_j GAMMA^-j / Σ_j E_j`` (0.41 for three equal phases and ``GAMMA = 5``); the
   check asks for exactly that count and a ratio below 1/2.
4. The control: a *constant* run (no decay of ``g``) fails check 1's test at the last
   epoch, so that test tells schedules apart.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from gradflow.papers._result import PaperResult, new_figure, paper_dir, save_figure, write_json

__all__ = ["CLAIM", "NAME", "Sizes", "epochs_seen", "run"]

NAME = "batch_size_schedule"
CLAIM = (
    "Decaying the step h or growing the batch B by the same factors (same noise scale "
    "g = h(n/B - 1) per epoch) gives the same loss per epoch, and growing B takes far "
    "fewer parameter updates."
)
#: Factor of the noise scale per phase (Smith et al. use 5).
GAMMA = 5
#: Smallest Hessian eigenvalue (largest 1).
LAMBDA_MIN = 0.02
#: Label noise.
NOISE = 0.5
#: ``h_0 λmax``: a small step, where the first-order SDE holds.
H0 = 0.1
#: Standard errors allowed beyond the discretisation bias.
SE_FACTOR = 3.0
SEED = 0


class Sizes(NamedTuple):
    """Problem size and run lengths."""

    n: int  # examples (a multiple of B0·GAMMA^(phases-1))
    d: int  # parameters
    b0: int  # first batch size
    phases: tuple[int, ...]  # epochs per phase
    seeds: int  # trajectories averaged
    points: int  # loss points per epoch in the figure


FULL = Sizes(n=8000, d=20, b0=16, phases=(4, 4, 4), seeds=128, points=5)
QUICK = Sizes(n=2000, d=10, b0=8, phases=(2, 2, 2), seeds=48, points=2)


def data(sz: Sizes, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Features with Hessian eigenvalues log-spaced in ``[LAMBDA_MIN, 1]``, noisy labels."""
    rng = np.random.default_rng(seed)
    scales = np.sqrt(np.geomspace(LAMBDA_MIN, 1.0, sz.d))
    X = rng.standard_normal((sz.n, sz.d)) * scales
    w = rng.standard_normal(sz.d)
    return X, X @ w + NOISE * rng.standard_normal(sz.n)


def epochs_seen(sizes: np.ndarray, n: int) -> np.ndarray:
    """Epochs after each step: ``Σ_{j≤k} B_j / n`` for the batch sizes ``B_k`` of a run.

    Parameters
    ----------
    sizes : ndarray of int, shape (steps,)
        The batch size of every step (e.g. ``schedule(np.arange(steps))``).
    n : int
        Number of examples.

    Returns
    -------
    ndarray, shape (steps + 1,)
        Epochs after ``0, 1, ..., steps`` steps.

    References
    ----------
    S. L. Smith, P.-J. Kindermans, C. Ying and Q. V. Le, "Don't decay the learning rate,
    increase the batch size", ICLR 2018, §5 (training curves against epochs).

    Examples
    --------
    >>> epochs_seen(np.array([2, 2, 4]), 4).tolist()
    [0.0, 0.5, 1.0, 2.0]
    """
    return np.concatenate([[0.0], np.cumsum(sizes, dtype=np.float64) / n])


def _recorded(
    problem: Any,
    theta0: np.ndarray,
    stepsize: Any,
    batch_size: Any,
    steps: int,
    record: np.ndarray,
) -> tuple[np.ndarray, Any]:
    """States of every trajectory after the steps ``record`` (by a callback: saving every
    step would evaluate the full loss at all of them)."""
    import gradflow as gf

    wanted = {int(k): i for i, k in enumerate(record)}
    out = np.empty((len(record), *theta0.shape), dtype=theta0.dtype)

    def grab(info: Any) -> None:
        at = wanted.get(info.k)
        if at is not None:
            out[at] = info.theta

    traj = gf.solve(
        problem,
        theta0,
        gf.methods.SGD(),
        stepsize,
        steps=steps,
        batch_size=batch_size,
        seed=SEED,
        callback=grab,
        save="final",
    )
    return out, traj


def _excess(theta: np.ndarray, H: np.ndarray, theta_star: np.ndarray) -> np.ndarray:
    """``L - L* = ½ δᵀHδ`` (exact for least squares), per state."""
    delta = theta - theta_star
    return 0.5 * np.einsum("...i,ij,...j->...", delta, H, delta)


def _schedules(sz: Sizes) -> dict[str, Any]:
    """Per phase: batch sizes, step sizes and step counts of the three runs."""
    import gradflow as gf

    P = len(sz.phases)
    B = sz.b0 * GAMMA ** np.arange(P)
    h0 = H0  # λmax = 1
    g = h0 * (sz.n / B - 1.0)  # the noise scale of every phase (grow run's)
    h_decay = g / (sz.n / sz.b0 - 1.0)
    steps_grow = np.array(sz.phases) * sz.n // B
    steps_decay = np.array(sz.phases) * sz.n // sz.b0
    bounds_grow = np.cumsum(steps_grow)[:-1].tolist()
    bounds_decay = np.cumsum(steps_decay)[:-1].tolist()
    return {
        "B": B,
        "g": g,
        "h_decay": h_decay,
        "steps_grow": steps_grow,
        "steps_decay": steps_decay,
        "grow_batch": gf.schedules.multistep(float(sz.b0), bounds_grow, gamma=float(GAMMA)),
        "decay_step": gf.schedules.sequence(
            [gf.schedules.constant(float(h)) for h in h_decay], bounds_decay
        ),
    }


def _boundaries(steps_per_phase: np.ndarray, phases: tuple[int, ...], points: int) -> np.ndarray:
    """Step indices at every ``1/points`` epoch."""
    marks = [0]
    start = 0
    for steps, epochs in zip(steps_per_phase, phases, strict=True):
        per = steps // (epochs * points)
        marks.extend(start + per * np.arange(1, epochs * points + 1))
        start += steps
    return np.array(marks)


def run(out_dir: str | Path, quick: bool = False) -> PaperResult:
    """Run the reproduction, check the claim, write figures and numbers to ``out_dir/NAME``."""
    import gradflow as gf

    start = time.perf_counter()
    result = PaperResult(NAME, CLAIM, quick=quick)
    sz = QUICK if quick else FULL
    X, y = data(sz)
    problem = gf.problems.least_squares(X, y)
    H = X.T @ X / sz.n
    lam_max = float(np.linalg.eigvalsh(H)[-1])
    theta_star = np.linalg.lstsq(X, y, rcond=None)[0]
    theta0 = np.zeros((sz.seeds, sz.d))
    sc = _schedules(sz)
    h0 = H0 / lam_max
    scale = h0 / H0  # step sizes are in units of 1/λmax
    marks_grow = _boundaries(sc["steps_grow"], sz.phases, sz.points)
    marks_decay = _boundaries(sc["steps_decay"], sz.phases, sz.points)
    n_grow, n_decay = int(sc["steps_grow"].sum()), int(sc["steps_decay"].sum())
    decay_h = gf.schedules.scale(sc["decay_step"], scale)
    th_grow, tr_grow = _recorded(problem, theta0, h0, sc["grow_batch"], n_grow, marks_grow)
    th_decay, tr_decay = _recorded(problem, theta0, decay_h, sz.b0, n_decay, marks_decay)
    th_const, _ = _recorded(problem, theta0, h0, sz.b0, n_decay, marks_decay)
    curves = {
        name: _excess(th, H, theta_star)
        for name, th in (("grow", th_grow), ("decay", th_decay), ("constant", th_const))
    }
    epochs = np.arange(len(marks_grow)) / sz.points
    result.numbers = {
        "sizes": sz._asdict(),
        "lambda_max": lam_max,
        "h0": h0,
        "batch_sizes_grow": sc["B"],
        "step_sizes_decay": sc["h_decay"] * scale,
        "noise_scale": sc["g"] * scale,
        "epochs": epochs,
        **{f"excess_{k}": v.mean(axis=1) for k, v in curves.items()},
    }
    _check(result, sz, curves, sc, h0 * lam_max, (th_grow, th_decay), (tr_grow, tr_decay))
    directory = paper_dir(out_dir, NAME)
    _figure(result, directory, sz, curves, epochs, sc, marks_grow, marks_decay)
    result.runtime = time.perf_counter() - start
    write_json(result, directory)
    return result


def _ratio_and_se(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ratio of the seed means of ``a`` and ``b`` (axis 1) and its standard error."""
    S = a.shape[1]
    ma, mb = a.mean(axis=1), b.mean(axis=1)
    ra = a.std(axis=1, ddof=1) / (np.sqrt(S) * ma)
    rb = b.std(axis=1, ddof=1) / (np.sqrt(S) * mb)
    ratio = ma / mb
    return ratio, ratio * np.sqrt(ra**2 + rb**2)


def _check(
    result: PaperResult,
    sz: Sizes,
    curves: dict[str, np.ndarray],
    sc: dict[str, Any],
    h_lam: float,
    thetas: tuple[np.ndarray, np.ndarray],
    trajs: tuple[Any, Any],
) -> None:
    P = sz.points
    first = sz.phases[0] * P  # index of the first change
    ratio, se = _ratio_and_se(curves["grow"], curves["decay"])
    # the floors' discretisation factors 1/(1 - h λ/2), largest at the last phase
    h_last = h_lam * sc["h_decay"][-1] / sc["h_decay"][0]
    bias = (1 - h_last / 2) / (1 - h_lam / 2) - 1
    after = np.arange(first + P, len(ratio), P)  # epoch boundaries after the change
    dev = np.abs(ratio[after] - 1)
    tol = bias + SE_FACTOR * se[after]
    worst = int(np.argmax(dev - tol))
    result.check(
        "excess loss grow / decay at every epoch after the first change",
        f"{ratio[after].min():.3f} … {ratio[after].max():.3f} (worst |r - 1| = "
        f"{dev[worst]:.3f} vs tol {tol[worst]:.3f})",
        f"|r - 1| ≤ {bias:.3f} (discretisation bias) + {SE_FACTOR:g} se",
        bool(np.all(dev <= tol)),
    )
    result.numbers["grow_over_decay"] = ratio
    result.numbers["grow_over_decay_se"] = se
    result.numbers["bias_bound"] = bias
    same = np.array_equal(thetas[0][: first + 1], thetas[1][: first + 1])
    result.check(
        "before the first change the two runs are one run",
        "bit-identical" if same else "differ",
        "bit for bit (same seed, h and B)",
        same,
    )
    updates = {
        k: int(t.n_steps.reshape(-1)[0]) for k, t in zip(("grow", "decay"), trajs, strict=True)
    }
    expected = {"grow": int(sc["steps_grow"].sum()), "decay": int(sc["steps_decay"].sum())}
    share = float(np.dot(sz.phases, float(GAMMA) ** -np.arange(len(sz.phases))) / sum(sz.phases))
    measured = updates["grow"] / updates["decay"]
    result.check(
        "parameter updates, grow / decay",
        f"{updates['grow']:,} / {updates['decay']:,} = {measured:.3f}",
        f"= Σ E_j n/B_j: {expected['grow']:,} / {expected['decay']:,} = {share:.3f}, < 1/2",
        updates == expected and measured < 0.5,
    )
    result.numbers["updates"] = updates
    # The control: the same test must fail for a run whose g does not decay.
    r_const, se_const = _ratio_and_se(curves["constant"][-1:], curves["decay"][-1:])
    tol_const = bias + SE_FACTOR * float(se_const[0])
    result.check(
        "control: the constant-g run fails the same test (final epoch)",
        f"constant / decay = {float(r_const[0]):.2f}",
        f"|r - 1| > {tol_const:.3f} (its tolerance)",
        abs(float(r_const[0]) - 1) > tol_const,
    )


def _figure(
    result: PaperResult,
    directory: Path,
    sz: Sizes,
    curves: dict[str, np.ndarray],
    epochs: np.ndarray,
    sc: dict[str, Any],
    marks_grow: np.ndarray,
    marks_decay: np.ndarray,
) -> None:
    fig, axes = new_figure(2, 1, width=8.0, height=3.4)
    styles = {
        "decay": (f"decay h (B = {sz.b0})", "#0072B2", "-"),
        "grow": (f"grow B ×{GAMMA} (h fixed)", "#D55E00", "--"),
        "constant": ("constant h, B", "#777777", ":"),
    }
    for name, (label, colour, ls) in styles.items():
        mean = curves[name].mean(axis=1)
        axes[0, 0].semilogy(epochs, mean, ls, color=colour, label=label)
        marks = marks_grow if name == "grow" else marks_decay
        axes[0, 1].semilogy(marks, mean, ls, color=colour, label=label)
    axes[0, 0].set(
        xlabel="epochs",
        ylabel=f"L − L* (mean over {sz.seeds} runs)",
        title="same noise scale g per epoch",
    )
    axes[0, 1].set(
        xlabel="parameter updates",
        ylabel="L − L*",
        title="fewer updates when B grows",
    )
    for b in np.cumsum(sz.phases)[:-1]:
        axes[0, 0].axvline(b, color="k", lw=0.5, alpha=0.4)
    axes[0, 0].legend(fontsize=8)
    save_figure(fig, directory, NAME, result)
