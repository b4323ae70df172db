r"""The catapult phase of large step sizes (Lewkowycz, Bahri, Dyer, Sohl-Dickstein & Gur-Ari 2020).

**The uv model** (the paper's §2): a two-layer linear network of width ``n``,
``f = uᵀv x / √n`` with ``u, v ∈ ℝⁿ``, trained by gradient descent on one datum
``(x, y) = (1, 0)`` with ``L = ½ (f - y)²`` (:func:`uv_model`).  Its neural tangent
kernel is ``λ = ‖∇f‖² = (‖u‖² + ‖v‖²) x² / n``, and one GD step of size ``h`` maps

.. math:: f' = f\,(1 - h\lambda + h^2 f^2/n),\qquad
          \lambda' = \lambda + \frac{h f^2}{n}\,(h\lambda - 4)

(``x = 1``, ``y = 0``).  Hence three phases in ``h λ0``: below 2 the linearised
model converges and ``λ`` stays at ``λ0`` up to ``O(1/n)`` (*lazy*); between 2 and 4
``|1 - hλ| > 1`` makes ``f`` grow until ``f²/n`` is of order one, and then ``λ``
falls (since ``hλ < 4``) until ``hλ < 2``, after which the loss converges (*catapult*);
above 4 ``λ`` grows with ``f`` and GD diverges.  At a minimum (``f = 0``) the Hessian
is ``∇f ∇fᵀ``, so the sharpness there is ``λ``: the catapult ends at a minimum of
sharpness below ``2/h``, flatter than where it started.

**A wide network**: the 1-``width``-1 tanh network
:func:`gradflow.problems.mlp_regression` (20 points, MSE), with ``λ0`` its sharpness
at initialisation (:func:`gradflow.curvature.top_eigenvalue`; for a wide network the
Gauss–Newton/NTK part dominates it).  The paper finds the same lower threshold
``2/λ0`` and an upper one that depends on the network: ``4/λ0`` for the uv model,
larger for deep ReLU networks (up to about ``12/λ0``).  The checks therefore ask of the
network what the paper claims for networks: lazy below ``2/λ0``, catapult in
``(2/λ0, 3.5/λ0]`` and divergence at ``12/λ0`` and above; the measured upper threshold
is reported (about ``4/λ0`` here).

Checks, each on one batched :func:`gradflow.solve` over all step sizes:

* uv model: GD on the ``2n`` parameters follows the paper's ``(f, λ)`` map (relative
  error ≤ ``MAP_TOL`` over the first steps);
* lazy (``hλ0 < 2``): the loss never rises and ``λ`` stays within ``LAZY_TOL`` of
  ``λ0`` (the network: its sharpness);
* catapult (``2 < hλ0 < 4``): the loss first rises above ``RISE`` times its initial
  value, then falls below the initial value, and the final sharpness is below ``2/h``;
* divergence: status ``"diverged"`` for ``hλ0 > 4`` (uv) and ``hλ0 ≥ 12`` (network);
* thresholds (uv, a fine grid of ``hλ0``): the first step size that rises and the first
  that diverges lie within one grid spacing of ``2/λ0`` and ``4/λ0``.

References
----------
A. Lewkowycz, Y. Bahri, E. Dyer, J. Sohl-Dickstein and G. Gur-Ari, "The large learning
rate phase of deep learning: the catapult mechanism", arXiv:2003.02218, 2020.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from gradflow.papers._result import PaperResult, new_figure, paper_dir, save_figure, write_json
from gradflow.problems import Problem

__all__ = ["CLAIM", "NAME", "run", "uv_model"]

NAME = "catapult"
CLAIM = (
    "GD with h·λ0 in (2, 4) first raises the loss, then lowers it into a minimum of "
    "sharpness < 2/h; below 2 it is lazy (sharpness ≈ λ0), and above 4 (uv model) or "
    "at 12 (wide net) it diverges."
)
#: The loss "rises" when it exceeds this multiple of its initial value (far above
#: rounding; how high a catapult goes depends on h·λ0 - 2 and on f0).
RISE = 1.01
#: A loss "never rises" when no step raises it by more than this fraction of its start.
ROUNDING = 1e-12
#: Lazy phase: |λ_final/λ0 - 1| at most this (uv: O(f0²/n); the network: its sharpness).
LAZY_TOL = 0.05
#: GD against the paper's (f, λ) map: relative error bound over MAP_STEPS steps.
MAP_TOL = 1e-8
MAP_STEPS = 10
#: uv model: (width n, steps, grid of h·λ0 for the thresholds).
UV_FULL = (4096, 2000, np.round(np.arange(0.2, 6.01, 0.05), 2))
UV_QUICK = (1024, 600, np.round(np.arange(0.5, 6.01, 0.1), 2))
#: Network: (width, steps, h·λ0 values).
NET_FULL = (2048, 400, (0.5, 1.0, 1.5, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 8.0, 12.0, 16.0))
NET_QUICK = (512, 100, (1.5, 3.0, 12.0))
#: The largest upper threshold the paper reports for wide networks, in units of 1/λ0.
NET_MAX_RATIO = 12.0
SEED = 0


def _uv_parts(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    theta = np.asarray(theta)
    n = theta.shape[-1] // 2
    u, v = theta[..., :n], theta[..., n:]
    root = np.sqrt(n)
    return u, v, np.einsum("...i,...i->...", u, v) / root, root


def _uv_loss(theta: np.ndarray) -> np.ndarray:
    f = _uv_parts(theta)[2]
    return 0.5 * f * f


def _uv_grad(theta: np.ndarray) -> np.ndarray:
    u, v, f, root = _uv_parts(theta)
    r = (f / root)[..., None]  # (f - y) x / √n with x = 1, y = 0
    return np.concatenate([r * v, r * u], axis=-1)


def _uv_hvp(theta: np.ndarray, w: np.ndarray) -> np.ndarray:
    u, v, f, root = _uv_parts(theta)
    w = np.broadcast_to(w, np.shape(theta))
    n = u.shape[-1]
    a, b = w[..., :n], w[..., n:]
    # ∇²L w = ∇f (∇f·w) + f ∇²f w, with ∇f = [v, u]/√n and ∇²f w = [b, a]/√n.
    jw = (np.einsum("...i,...i->...", v, a) + np.einsum("...i,...i->...", u, b)) / root
    s, t = (jw / root)[..., None], (f / root)[..., None]
    return np.concatenate([s * v + t * b, s * u + t * a], axis=-1)


def uv_model(width: int) -> Problem:
    r"""The uv model of Lewkowycz et al. (2020): ``L = ½ (uᵀv/√n)²``, one datum ``(1, 0)``.

    Parameters
    ----------
    width : int
        ``n >= 1``; the parameters are ``θ = [u, v]`` of dimension ``2n`` (``n = 1`` is
        the two-parameter model ``½ (uv)²``).

    Returns
    -------
    Problem
        Exact gradient and HVP (``∇f ∇fᵀ w + f ∇²f w``), row-stable
        (:func:`numpy.einsum` sums per row); ``minimum`` 0 (on ``uᵀv = 0``).

    Raises
    ------
    TypeError, ValueError
        If ``width`` is not an integer ``>= 1``.

    References
    ----------
    A. Lewkowycz, Y. Bahri, E. Dyer, J. Sohl-Dickstein and G. Gur-Ari, "The large
    learning rate phase of deep learning: the catapult mechanism", arXiv:2003.02218,
    2020, §2.

    Examples
    --------
    >>> import numpy as np
    >>> p = uv_model(2)
    >>> theta = np.array([1.0, 2.0, 3.0, -1.0])  # f = (3 - 2)/√2
    >>> round(float(p.loss(theta)), 12), p.grad(theta).round(3).tolist()
    (0.25, [1.5, -0.5, 0.5, 1.0])
    """
    from gradflow._validation import check_integer

    width = check_integer(width, "width", 1)
    return Problem(
        _uv_loss, _uv_grad, dim=2 * width, hvp=_uv_hvp, name=f"uv model (n={width})", minimum=0.0
    )


def _uv_map(f: np.ndarray, lam: np.ndarray, h: np.ndarray, n: int, steps: int) -> np.ndarray:
    """The paper's closed (f, λ) map, ``steps`` times: shape (steps + 1, 2, len(h))."""
    out = np.empty((steps + 1, 2, h.size))
    out[0] = f, lam
    for k in range(steps):  # (a loop over steps; every step size at once)
        f, lam = f * (1 - h * lam + h * h * f * f / n), lam + h * f * f / n * (h * lam - 4)
        out[k + 1] = f, lam
    return out


class _Record:
    """A ``solve`` callback keeping ``fn(θ)`` of every element after every step."""

    def __init__(self, fn) -> None:
        self.fn, self.values = fn, []

    def __call__(self, info) -> None:
        self.values.append(self.fn(info.theta))

    def array(self) -> np.ndarray:
        return np.array(self.values)


def _phases(loss: np.ndarray, status: np.ndarray, ratios: np.ndarray) -> dict:
    """Per step size: rose (catapulted), fell back below the start, diverged."""
    finite = np.where(np.isfinite(loss), loss, np.inf)
    peak = finite.max(axis=0)
    rose = peak > RISE * loss[0]
    diverged = status == "diverged"
    fell = ~diverged & (loss[-1] < loss[0])
    # (rounding: a converged loss may wobble by ulps of its start)
    ups = np.diff(loss, axis=0) > ROUNDING * loss[0]
    never_up = ~diverged & ~ups.any(axis=0)
    return {
        "ratio": ratios,
        "peak": peak,
        "rose": rose,
        "fell": fell,
        "never_up": never_up,
        "diverged": diverged,
    }


def _first(mask: np.ndarray, ratios: np.ndarray) -> float:
    return float(ratios[np.argmax(mask)]) if mask.any() else np.nan


def _uv(result: PaperResult, quick: bool) -> dict:
    import gradflow as gf

    width, steps, ratios = UV_QUICK if quick else UV_FULL
    problem = uv_model(width)
    rng = np.random.default_rng(SEED)
    theta0 = rng.standard_normal(2 * width)  # u, v ~ N(0, 1)
    lam0 = float(np.sum(theta0**2) / width)
    hs = ratios / lam0
    record = _Record(lambda th: _uv_parts(th)[2])
    ntk = _Record(lambda th: np.einsum("...i,...i->...", th, th) / width)
    traj = gf.solve(
        problem,
        np.broadcast_to(theta0, (hs.size, 2 * width)),
        stepsize=hs,
        steps=steps,
        save="final",
        callback=lambda info: (record(info), ntk(info)) and None,
    )
    f, lam = record.array(), ntk.array()
    loss = 0.5 * f * f
    stable = ratios < 4.0  # (the map of a diverging run overflows)
    with np.errstate(all="ignore"):
        map_ = _uv_map(np.full(hs.size, f[0, 0]), np.full(hs.size, lam0), hs, width, MAP_STEPS)
    gd = np.stack([f[: MAP_STEPS + 1], lam[: MAP_STEPS + 1]], axis=1)
    scale = np.abs(map_[..., stable]).max(axis=0)
    map_err = float(np.max(np.abs(gd[..., stable] - map_[..., stable]) / scale))
    result.check(
        f"uv (n={width}): GD on 2n parameters vs the paper's (f, λ) map, {MAP_STEPS} steps",
        f"max relative difference {map_err:.1e}",
        f"≤ {MAP_TOL:g}",
        map_err <= MAP_TOL,
    )
    ph = _phases(loss, traj.status, ratios)
    ok = ~ph["diverged"]
    last = np.where(ok, lam[-1], np.nan)
    sharp = np.full(hs.size, np.nan)
    if ok.any():
        sharp[ok] = gf.curvature.top_eigenvalue(problem, traj.theta[-1][ok], seed=SEED).value
    lazy, cat, div = ratios < 2.0, (ratios > 2.0) & (ratios < 4.0), ratios >= 4.0
    lazy_dev = np.abs(last[lazy] / lam0 - 1)
    result.check(
        f"uv: lazy, h·λ0 in [{ratios[lazy].min():g}, {ratios[lazy].max():g}]",
        f"loss never rises: {ph['never_up'][lazy].all()}; max |λ_end/λ0 - 1| = "
        f"{np.nanmax(lazy_dev):.2e}",
        f"monotone loss, |λ_end/λ0 - 1| ≤ {LAZY_TOL}",
        ph["never_up"][lazy].all() and np.all(lazy_dev <= LAZY_TOL),
    )
    below = sharp[cat] * hs[cat]
    result.check(
        f"uv: catapult, h·λ0 in [{ratios[cat].min():g}, {ratios[cat].max():g}]",
        f"min peak/initial loss {np.min(ph['peak'][cat] / loss[0, cat]):.3g}, falls below start: "
        f"{ph['fell'][cat].all()}, max final h·λmax = {np.nanmax(below):.3f}",
        f"all rise (> {RISE:g}× the start) and fall, final sharpness < 2/h",
        ph["rose"][cat].all() and ph["fell"][cat].all() and np.all(below < 2.0),
    )
    result.check(
        f"uv: diverges, h·λ0 in [{ratios[div].min():g}, {ratios[div].max():g}]",
        f"{int(ph['diverged'][div].sum())}/{int(div.sum())} diverged",
        'all status "diverged"',
        ph["diverged"][div].all(),
    )
    onset, upper = _first(ph["rose"], ratios), _first(ph["diverged"], ratios)
    spacing = float(np.max(np.diff(ratios)))
    result.check(
        "uv: thresholds (first h·λ0 of the grid whose loss rises / that diverges)",
        f"{onset:g} and {upper:g}",
        f"in (2, 2 + {spacing:g}] and (4 - {spacing:g}, 4 + {spacing:g}] (the grid spacing)",
        2 < onset <= 2 + spacing + 1e-9 and abs(upper - 4) < spacing,
    )
    return {
        "width": width,
        "steps": steps,
        "lambda0": lam0,
        "h": hs,
        "ratio": ratios,
        "map_error": map_err,
        "onset": onset,
        "upper": upper,
        "final_ntk": last,
        "final_sharpness": sharp,
        "peak_loss": ph["peak"],
        "status": traj.status,
        "loss": loss,
        "ntk": lam,
    }


def _network(result: PaperResult, quick: bool) -> dict:
    import gradflow as gf

    width, steps, ratios = NET_QUICK if quick else NET_FULL
    ratios = np.asarray(ratios)
    problem = gf.problems.mlp_regression(width=width)
    theta0 = problem.init(SEED)
    lam0 = float(gf.curvature.top_eigenvalue(problem, theta0, seed=SEED).value)
    hs = ratios / lam0
    traj = gf.solve(
        problem,
        np.broadcast_to(theta0, (hs.size, problem.dim)),
        stepsize=hs,
        steps=steps,
        save="final",
        callback=(record := _Record(problem.loss)),
    )
    loss = record.array()
    ph = _phases(loss, traj.status, ratios)
    ok = ~ph["diverged"]
    sharp = np.full(hs.size, np.nan)
    if ok.any():
        sharp[ok] = gf.curvature.top_eigenvalue(problem, traj.theta[-1][ok], seed=SEED).value
    lazy, div = ratios < 2.0, ratios >= NET_MAX_RATIO
    cat = (ratios > 2.0) & (ratios <= 3.5)
    dev = np.abs(sharp[lazy] / lam0 - 1)
    result.check(
        f"net (width {width}): lazy, h·λ0 = {', '.join(f'{r:g}' for r in ratios[lazy])}",
        f"loss never rises: {ph['never_up'][lazy].all()}; max |λmax_end/λ0 - 1| = "
        f"{np.nanmax(dev):.3f}",
        f"monotone loss, |λmax_end/λ0 - 1| ≤ {LAZY_TOL}",
        ph["never_up"][lazy].all() and np.all(dev <= LAZY_TOL),
    )
    below = sharp[cat] * hs[cat]
    result.check(
        f"net: catapult, h·λ0 = {', '.join(f'{r:g}' for r in ratios[cat])}",
        f"peak/initial loss ≥ {np.min(ph['peak'][cat] / loss[0, cat]):.3g}, falls below "
        f"start: {ph['fell'][cat].all()}, max final h·λmax = {np.nanmax(below):.3f}",
        f"rise > {RISE:g}× the start, then below it, final h·λmax < 2",
        ph["rose"][cat].all() and ph["fell"][cat].all() and np.all(below < 2.0),
    )
    result.check(
        f"net: diverges, h·λ0 = {', '.join(f'{r:g}' for r in ratios[div])}",
        f"{int(ph['diverged'][div].sum())}/{int(div.sum())} diverged "
        f"(first diverging h·λ0 of the grid: {_first(ph['diverged'], ratios):g})",
        f'status "diverged" at h·λ0 ≥ {NET_MAX_RATIO:g}',
        ph["diverged"][div].all(),
    )
    return {
        "width": width,
        "steps": steps,
        "lambda0": lam0,
        "h": hs,
        "ratio": ratios,
        "upper": _first(ph["diverged"], ratios),
        "final_sharpness": sharp,
        "peak_loss": ph["peak"],
        "status": traj.status,
        "loss": loss,
    }


def run(out_dir: str | Path, quick: bool = False) -> PaperResult:
    """Run the reproduction, check the claim, write figures and numbers to ``out_dir/NAME``."""
    start = time.perf_counter()
    result = PaperResult(NAME, CLAIM, quick=quick)
    uv = _uv(result, quick)
    net = _network(result, quick)
    directory = paper_dir(out_dir, NAME)
    _figure(uv, net, directory, result)
    drop = ("loss", "ntk")
    result.numbers = {
        "uv": {k: v for k, v in uv.items() if k not in drop},
        "network": {k: v for k, v in net.items() if k not in drop},
    }
    result.runtime = time.perf_counter() - start
    write_json(result, directory)
    return result


def _figure(uv: dict, net: dict, directory: Path, result: PaperResult) -> None:
    fig, axes = new_figure(3, 1, width=11.0, height=3.4)
    ax_loss, ax_final, ax_net = axes[0]
    colours = ("#0072B2", "#009E73", "#D55E00", "#CC79A7")
    show = [r for r in (1.5, 2.5, 3.5, 4.5) if np.any(np.isclose(uv["ratio"], r))]
    for i, r in enumerate(show):
        j = int(np.argmin(np.abs(uv["ratio"] - r)))
        k = min(40, uv["loss"].shape[0])
        ax_loss.plot(
            np.arange(k), uv["loss"][:k, j], color=colours[i], lw=1.0, label=f"h·λ0 = {r:g}"
        )
    ax_loss.set(
        yscale="log", xlabel="step k", ylabel="loss L(θ_k)", title=f"uv model, n = {uv['width']}"
    )
    ax_loss.set_ylim(bottom=1e-16)  # (below: rounding of a converged f)
    ax_loss.legend(fontsize=7, loc="lower left")
    ratio = uv["ratio"]
    ax_final.plot(
        ratio,
        uv["final_sharpness"] / uv["lambda0"],
        "o",
        ms=3,
        color="#0072B2",
        label="final λmax / λ0",
    )
    ax_final.plot(ratio, 2 / ratio, "--", color="0.3", lw=0.8, label="2/(h λ0)")
    for x in (2, 4):
        ax_final.axvline(x, color="0.6", lw=0.6)
    diverged = uv["status"] == "diverged"
    if diverged.any():
        ax_final.plot(
            ratio[diverged],
            np.full(diverged.sum(), 1.1),
            "x",
            ms=3,
            color="#D55E00",
            label="diverged",
        )
    ax_final.set(
        ylim=(0, 1.2),
        xlabel="h·λ0",
        ylabel="λmax(end) / λ0",
        title="uv model: the sharpness GD ends at",
    )
    ax_final.legend(fontsize=7, loc="lower left")
    for i, r in enumerate(net["ratio"]):
        if r in (1.5, 3.0, 3.5, 12.0):
            c = colours[[1.5, 3.0, 3.5, 12.0].index(r)]
            ax_net.plot(net["loss"][:, i], color=c, lw=1.0, label=f"h·λ0 = {r:g}")
    ax_net.set(
        yscale="log",
        xlabel="step k",
        ylabel="loss L(θ_k)",
        title=f"tanh net, width {net['width']} (λ0 = {net['lambda0']:.1f})",
    )
    ax_net.legend(fontsize=7, loc="upper right")
    save_figure(fig, directory, NAME, result)
