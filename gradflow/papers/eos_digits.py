r"""Edge of stability on real data: a tanh network on the 8x8 digits (Cohen et al., ICLR 2021).

Cohen et al. train fully connected tanh networks with full-batch gradient descent on a
subset of CIFAR-10 under the squared loss and find that the sharpness ``λmax(∇²L)``
rises until it reaches ``2/h`` and then hovers there.  Here the data set is
scikit-learn's bundled ``load_digits`` (1,797 8x8 images, 10 classes; shipped inside
the scikit-learn package, nothing is downloaded), pixels scaled to ``[0, 1]`` and
centred, targets one-hot, loss ``½‖f(x) - e_y‖²`` averaged over the images.  The
network is written in PyTorch (64-``width``-``width``-10, tanh, PyTorch's default
initialisation under a fixed seed) and enters gradflow through
:meth:`gradflow.Problem.from_torch`: one batched :func:`gradflow.solve` call runs every
step size, and :func:`gradflow.curvature.track_sharpness` records the sharpness with
Lanczos on the exact HVPs of ``torch.func``.

Checks, for every step size ``h``:

* **reaches the edge**: the sharpness starts below ``(1 - EDGE_TOL)·2/h`` and reaches
  ``(1 - EDGE_TOL)·2/h``;
* **hovers there**: over the last ``WINDOW`` of training the sharpness stays in
  ``2/h·(1 ± EDGE_TOL)``;
* **trains**: the final loss is below half the initial one.

Full size: all 1,797 images, width 16 (1,482 parameters), three step sizes, 1,500
steps, window the last half.  Quick size: the first 300 images, two step sizes, 600
steps, window the last quarter.

Needs PyTorch and scikit-learn (both in the ``test`` extra); without them :func:`run`
raises an ``ImportError`` that says so, and ``gradflow papers run`` reports the paper
as skipped (:data:`REQUIRES`).

References
----------
J. M. Cohen, S. Kaur, Y. Li, J. Z. Kolter and A. Talwalkar, "Gradient descent on neural
networks typically occurs at the edge of stability", ICLR 2021.

E. Alpaydin and C. Kaynak, "Optical recognition of handwritten digits", UCI Machine
Learning Repository, 1998 (the data of ``sklearn.datasets.load_digits``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from gradflow._optional import require
from gradflow.papers._result import PaperResult, new_figure, paper_dir, save_figure, write_json

__all__ = ["CLAIM", "NAME", "REQUIRES", "run"]

NAME = "eos_digits"
CLAIM = (
    "Full-batch GD on a fully connected tanh network trained on real images (8x8 digits) "
    "sharpens until λmax reaches 2/h and then hovers at 2/h (±10%), for three step sizes."
)
#: Optional modules the reproduction needs (the CLI skips the paper without them).
REQUIRES = ("torch", "sklearn")
#: Relative band around 2/h.
EDGE_TOL = 0.10
#: (images, width, step sizes, steps, fraction of training at the end on the edge).
FULL = (1797, 16, (0.45, 0.6, 0.7), 1500, 0.5)
QUICK = (300, 16, (0.5, 0.6), 600, 0.25)
#: Sharpness samples along a run (Lanczos, warm-started, relative tolerance below).
SAMPLES = 30
SHARPNESS_TOL = 1e-4
#: Seed of PyTorch's initialisation and of the Lanczos start vectors.
SEED = 0


def _square_loss(output: Any, target: Any) -> Any:
    """½‖f(x) - e_y‖² averaged over the images (Cohen et al.'s squared loss)."""
    return 0.5 * ((output - target) ** 2).sum(dim=-1).mean()


def digits_problem(n_images: int, width: int) -> Any:
    """The tanh network on the first ``n_images`` digits, as a ``from_torch`` problem."""
    import gradflow as gf

    datasets = require("sklearn.datasets", "test", f"the {NAME} paper (load_digits)")
    torch = require("torch", "torch", f"the {NAME} paper")
    X, y = datasets.load_digits(return_X_y=True)
    X = X[:n_images] / 16.0
    X = X - X.mean(axis=0)
    targets = np.eye(10)[y[:n_images]]
    torch.manual_seed(SEED)
    nn = torch.nn
    net = nn.Sequential(
        nn.Linear(64, width), nn.Tanh(), nn.Linear(width, width), nn.Tanh(), nn.Linear(width, 10)
    )
    return gf.Problem.from_torch(net, _square_loss, X, targets, name="digits_tanh_mlp")


def run(out_dir: str | Path, quick: bool = False) -> PaperResult:
    """Run the reproduction, check the claim, write figures and numbers to ``out_dir/NAME``.

    Raises
    ------
    ImportError
        If PyTorch or scikit-learn is not installed.
    """
    import gradflow as gf

    start = time.perf_counter()
    result = PaperResult(NAME, CLAIM, quick=quick)
    n_images, width, hs, steps, window = QUICK if quick else FULL
    hs = np.asarray(hs)
    problem = digits_problem(n_images, width)
    theta0 = np.broadcast_to(problem.theta_from_module(), (hs.size, problem.dim))
    every = steps // SAMPLES
    tracker = gf.curvature.track_sharpness(problem, every=every, seed=SEED, tol=SHARPNESS_TOL)
    traj = gf.solve(problem, theta0, stepsize=hs, steps=steps, save_every=every, callback=tracker)
    sharp, k = tracker.values, tracker.steps
    tail = k >= (1.0 - window) * steps
    numbers: dict = {
        "images": n_images,
        "width": width,
        "dim": problem.dim,
        "h": hs,
        "steps": steps,
        "window": window,
        "per_h": [],
    }
    for i, h in enumerate(hs):
        _check_one(result, numbers, h, sharp[:, i], k, tail, traj.loss[:, i], traj.status[i])
    result.numbers = numbers
    directory = paper_dir(out_dir, NAME)
    _figure(k, sharp, traj, hs, directory, result)
    result.runtime = time.perf_counter() - start
    write_json(result, directory)
    return result


def _check_one(result, numbers, h, s, k, tail, loss, status) -> None:
    """The three checks of one step size."""
    edge = 2.0 / h
    near = s >= (1.0 - EDGE_TOL) * edge
    reached = int(np.argmax(near)) if near.any() else None
    band = s[tail] / edge - 1.0
    numbers["per_h"].append(
        {
            "h": h,
            "two_over_h": edge,
            "sharpness_init": s[0],
            "step_reached_edge": None if reached is None else int(k[reached]),
            "tail_rel_min": band.min(),
            "tail_rel_max": band.max(),
            "loss_init": loss[0],
            "loss_final": loss[-1],
            "status": str(status),
        }
    )
    when = "never" if reached is None else f"at step {k[reached]}"
    result.check(
        f"h={h:g}: sharpness rises to the edge",
        f"λmax {s[0]:.2f} at start, reaches 0.9·2/h={0.9 * edge:.2f} {when}",
        "starts below 0.9·2/h and reaches it",
        not near[0] and reached is not None,
    )
    result.check(
        f"h={h:g}: λmax/(2/h) - 1 over the last {tail.mean():.0%} of samples",
        f"[{band.min():+.3f}, {band.max():+.3f}]",
        f"within ±{EDGE_TOL:.2f}",
        status == "ok" and bool(np.all(np.abs(band) <= EDGE_TOL)),
    )
    result.check(
        f"h={h:g}: the network trains",
        f"loss {loss[0]:.3g} -> {loss[-1]:.3g}",
        "final < initial/2",
        loss[-1] < loss[0] / 2,
    )


def _figure(k, sharp, traj, hs, directory: Path, result: PaperResult) -> None:
    fig, axes = new_figure(2, 1, width=7.5, height=3.0)
    ax_loss, ax_sharp = axes[0]
    colours = ("#0072B2", "#D55E00", "#009E73")
    steps = traj.step[:, 0]
    for i, h in enumerate(hs):
        c = colours[i % len(colours)]
        ax_loss.plot(steps, traj.loss[:, i], color=c, lw=1.0, label=f"h = {h:g}")
        ax_sharp.plot(k, sharp[:, i], color=c, lw=1.0, marker=".", ms=3, label=f"h = {h:g}")
        ax_sharp.axhline(2.0 / h, color=c, ls="--", lw=0.8)
    ax_loss.set(yscale="log", xlabel="step k", ylabel="training loss L(θ_k)", title="loss")
    ax_sharp.set(
        xlabel="step k",
        ylabel="sharpness λmax(∇²L(θ_k))",
        title="sharpness (dashed: 2/h)",
    )
    ax_loss.legend(fontsize=8, loc="upper right")
    ax_sharp.legend(fontsize=8, loc="upper right")
    save_figure(fig, directory, NAME, result)
