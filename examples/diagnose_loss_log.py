"""Diagnose the loss log of a training loop of one's own, then plot it.
====================================================================

A hand-made numpy loop trains a linear model by minibatch SGD at three learning rates
(too small, good, too large) and writes the minibatch loss of every step to a CSV
file, as any training script would.  ``gf.diagnose`` reads the log back: first from
the losses alone (the curve), then with the problem and the final weights, which give
the curvature ``λmax`` and the critical step ``2/λmax`` and turn the labels into a
suggested step.  The figure shows each log, its running-median trend and the noise
band ``± σ`` that diagnose measured.

Run ``python examples/diagnose_loss_log.py [--quick] [--out DIR]`` (~2 s).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display needed
import matplotlib.pyplot as plt
import numpy as np

import gradflow as gf


def output_dir(arg: str | None) -> Path:
    """``--out``, else ``$GRADFLOW_EXAMPLES_OUT``, else a new temporary folder."""
    out = arg or os.environ.get("GRADFLOW_EXAMPLES_OUT") or tempfile.mkdtemp(prefix="gradflow-")
    path = Path(out)
    path.mkdir(parents=True, exist_ok=True)
    return path


def train(X: np.ndarray, y: np.ndarray, lr: float, steps: int, batch: int, seed: int):
    """Plain minibatch SGD on ½ mean (x·w - y)²; returns the loss log and the weights."""
    rng = np.random.default_rng(seed)
    w = np.zeros(X.shape[1])
    log = []
    for _ in range(steps):
        idx = rng.integers(0, X.shape[0], batch)
        r = X[idx] @ w - y[idx]
        log.append(0.5 * np.mean(r * r))
        w_new = w - lr * X[idx].T @ r / batch
        if not np.all(np.abs(w_new) < 1e100):  # blew up: log it and stop, as a loop would
            log.append(np.inf)
            break
        w = w_new
    return np.array(log), w


def main(out: Path, quick: bool = False) -> None:
    steps = 400 if quick else 2000
    rng = np.random.default_rng(0)
    X = rng.standard_normal((500, 8)) * np.linspace(0.5, 2.5, 8)
    y = X @ rng.standard_normal(8) + 0.3 * rng.standard_normal(500)
    L = float(np.linalg.eigvalsh(X.T @ X / len(y))[-1])  # 2/L is GD's limit
    lrs = {"small": 2e-3 / L, "good": 1.0 / L, "large": 3.0 / L}

    # The training script writes its log ...
    for name, lr in lrs.items():
        log, w = train(X, y, lr, steps, batch=16, seed=1)
        np.savetxt(out / f"loss_{name}.csv", log, header=f"lr={lr!r}")
        np.save(out / f"weights_{name}.npy", w)

    # ... and later we read it back and ask what the curve says.
    problem = gf.problems.least_squares(X, y)
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.2), layout="constrained")
    for ax, (name, lr) in zip(axes, lrs.items(), strict=True):
        log = np.loadtxt(out / f"loss_{name}.csv")
        w = np.load(out / f"weights_{name}.npy")
        curve = gf.diagnose(log, stepsize=lr)
        full = gf.diagnose(log, problem, stepsize=lr, theta=w)
        print(f"lr = {lr:.4g} ({name}): from the log alone: {curve.label}")
        print(f"  with the problem: {full.text}")
        k = np.arange(log.size)
        finite = np.isfinite(log)
        ax.semilogy(k[finite], log[finite], lw=0.6, alpha=0.5, label="minibatch loss")
        trend = np.asarray(full.trend)
        ax.semilogy(k[finite], trend[finite], lw=1.6, label="trend (running median)")
        band = float(full.noise)
        if band > 0:
            ax.fill_between(
                k[finite],
                np.maximum(trend[finite] - band, 0.1 * trend[finite]),  # a log axis
                trend[finite] + band,
                alpha=0.2,
                label="± noise σ",
            )
        ax.set_title(f"{name}: lr = {lr:.3g}\n{full.label}", fontsize="small")
        ax.set_xlabel("step")
    axes[0].set_ylabel("loss")
    axes[0].legend(fontsize="x-small", frameon=False)
    fig.savefig(out / "diagnose_loss_log.png", dpi=120)
    plt.close(fig)
    print(f"figure: {out / 'diagnose_loss_log.png'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument("--out", help="output folder")
    args = parser.parse_args()
    main(output_dir(args.out), quick=args.quick)
