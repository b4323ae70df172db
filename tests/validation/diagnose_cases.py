"""A labelled set of runs for gradflow.diagnose, each label fixed by how the run is built.

Every case states the theory that sets its label, never what diagnose returns:

* ``diverged``: a constant step above the method's critical step ``β/λmax`` at the
  minimum of a quadratic (every start blows up: |amplification| > 1), or far above it on
  a non-convex problem where the run is checked to blow up (status ``"diverged"``).
* ``oscillating``: GD just above ``2/λmax`` at a minimum of a non-quadratic function
  (a flip bifurcation): the run is checked to end on a period-2 orbit,
  ``θ_N ≈ θ_{N-2} ≠ θ_{N-1}``.
* ``step_too_small``: a step below 1 % of the critical step, stopped far from the
  minimum (checked: the gradient has not fallen by 10⁴).
* ``converging``: a stable step between 10 % and 100 % of the critical step (for SGD:
  ``h = 1/L``, stable in mean square for the noise floor; for Adam: default
  hyper-parameters at a moderate rate), checked to lower the loss.
* ``spikes``: a catapult (GD on the scalar net ``½(1 - xy)²`` with ``2/λ0 < h < 4/λ0``,
  Lewkowycz et al. 2020) or a schedule that raises ``h`` above the limit for a while.
* ``plateau``: a start within 10⁻¹⁰ of a saddle point, for fewer steps than the
  escape takes at the saddle's negative curvature.

``CASES`` lists them; ``QUICK`` names a subset for the quick suite.  A case's ``build()``
returns the diagnose arguments and a ``rerun(h)`` that repeats the run with the constant
step ``h`` and returns ``(start loss, final loss, diverged, converged)`` (converged: the
gradient fell by 10⁴).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp

import gradflow as gf
from gradflow.methods import RK4, Adam, HeavyBall, Nesterov, RungeKutta


@dataclass
class Built:
    run: Any
    problem: Any
    kwargs: dict
    rerun: Callable[[float], tuple[float, float, bool, bool]]
    h: float
    final_loss: float
    check: Callable[[], bool] = lambda: True  # the construction held (independent of diagnose)


@dataclass
class Case:
    name: str
    label: str
    build: Callable[[], Built]
    quick: bool = False
    tags: tuple = field(default_factory=tuple)


def _converged(problem, start, end) -> bool:
    """The gradient fell by 10⁴ (a stationary point was reached)."""
    with np.errstate(all="ignore"):
        g0, g1 = np.linalg.norm(problem.grad(start)), np.linalg.norm(problem.grad(end))
    return bool(np.isfinite(g1) and g1 <= 1e-4 * g0)


def _final(traj) -> float:
    return float(np.asarray(traj.loss)[-1].reshape(-1)[0])


def _solve_case(problem, theta0, h, steps, method=None, **opts) -> Built:
    """A gradflow run with a constant step (or a schedule) and its rerun."""

    def run_with(step):
        return gf.solve(problem, theta0, method, step, steps=steps, **opts)

    traj = run_with(h)

    def rerun(new_h: float) -> tuple[float, float, bool, bool]:
        t = run_with(float(new_h))
        start = np.asarray(theta0, float)
        end = np.asarray(t.theta[-1], float)
        return (
            float(problem.loss(start)),
            _final(t),
            bool(t.diverged),
            _converged(problem, start, end),
        )

    hh = float(h) if np.isscalar(h) else float("nan")
    return Built(traj, problem, {"method": method} if method else {}, rerun, hh, _final(traj))


def _gradient_dropped_less(built: Built, factor: float = 1e4) -> bool:
    p, traj = built.problem, built.run
    g0 = np.linalg.norm(p.grad(traj.theta[0]))
    g1 = np.linalg.norm(p.grad(traj.theta[-1]))
    return bool(g1 > g0 / factor)


def _descended(built: Built) -> bool:
    traj = built.run
    return bool(traj.ok.all() and traj.loss[-1] < traj.loss[0])


def _blew_up(built: Built) -> bool:
    traj = built.run
    return bool(traj.diverged.all() or traj.loss[-1] > 100 * traj.loss[0])


# --- problems --------------------------------------------------------------------------
Q2 = gf.problems.quadratic([1.0, 10.0], seed=0)  # 2/λmax = 0.2
Q3 = gf.problems.quadratic([1.0, 10.0, 50.0], seed=1)  # 2/λmax = 0.04
QILL = gf.problems.quadratic(np.logspace(-2, 0, 20), seed=2)  # 2/λmax = 2
ROSEN = gf.problems.rosenbrock()  # λmax(1, 1) = 1001.6
MB = gf.problems.muller_brown()
HIMMEL = gf.problems.himmelblau()
BEALE = gf.problems.beale()
NET = gf.problems.scalar_net()


def _least_squares(seed: int, n: int = 200, d: int = 5):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * np.linspace(1.0, 3.0, d)
    y = X @ rng.standard_normal(d) + 0.5 * rng.standard_normal(n)
    return gf.problems.least_squares(X, y)


def _logistic(seed: int, n: int = 200, d: int = 4):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = (X @ rng.standard_normal(d) + 0.8 * rng.standard_normal(n) > 0).astype(float)
    return gf.problems.logistic_regression(X, y)


LS = _least_squares(0)
LOGREG = _logistic(1)
L_LS = float(np.linalg.eigvalsh(LS.X.T @ LS.X / LS.n_samples)[-1])
L_LOG = float(np.linalg.eigvalsh(LOGREG.hessian(np.zeros(LOGREG.dim)))[-1])


def _funnel():
    """``r⁴/4 + 14(1 - exp(-r²))``: gentle at the start, curvature 28 in the funnel."""
    x, y = sp.symbols("x y")
    r2 = x**2 + y**2
    return gf.Problem.from_sympy(r2**2 / 4 + 14 * (1 - sp.exp(-r2)), [x, y])


FUNNEL = _funnel()


def _mlp():
    return gf.problems.mlp_regression(width=16, n_points=12)


MLP = _mlp()
MLP0 = MLP.init(seed=0)
LAM_MLP = float(np.linalg.eigvalsh(MLP.hessian(MLP0))[-1])


def _lam(problem, theta) -> float:
    return float(np.linalg.eigvalsh(problem.hessian(np.asarray(theta, float)))[-1])


# --- builders --------------------------------------------------------------------------
def gd(problem, theta0, h, steps, method=None, check=None, **opts) -> Callable[[], Built]:
    def build() -> Built:
        b = _solve_case(problem, np.asarray(theta0, float), h, steps, method, **opts)
        if check is not None:
            b.check = lambda: check(b)
        return b

    return build


def _adam_ratio_between(lo: float, hi: float) -> Callable[[Built], bool]:
    """The tracked preconditioned sharpness puts h between lo and hi of its limit."""

    def check(b: Built) -> bool:
        m = b.kwargs["method"]
        tr = gf.analysis.track_preconditioned_sharpness(b.problem, m, every=10, seed=0)
        gf.solve(b.problem, b.run.theta[0], m, b.h, steps=b.run.loss.shape[0] - 1, callback=tr)
        ratio = b.h / (2 * (1 + m.beta1) / ((1 - m.beta1) * tr.values[-1]))
        return bool(lo <= ratio < hi)

    return check


def _period_two(b: Built) -> bool:
    th = b.run.theta
    return bool(
        np.allclose(th[-1], th[-3], rtol=0, atol=1e-8) and np.linalg.norm(th[-1] - th[-2]) > 1e-4
    )


def _catapult(b: Built) -> bool:
    loss = b.run.loss
    return bool(loss.max() > 2 * loss[0] and loss[-1] < 1e-2 * loss[0])


def _escape_steps(problem, saddle, h) -> float:
    """Steps for a 1e-10 offset along the unstable direction to grow to 1e-3."""
    mu = np.linalg.eigvalsh(problem.hessian(np.asarray(saddle)))[0]
    return np.log(1e7) / np.log(1 + h * abs(mu))


def _saddle_start(problem, saddle):
    H = problem.hessian(np.asarray(saddle))
    _, V = np.linalg.eigh(H)
    return np.asarray(saddle) + 1e-10 * V[:, 0]


def plain_log(problem, h, steps, batch, seed, label_check=None) -> Callable[[], Built]:
    """A hand-made numpy SGD loop that logs the minibatch loss of every step."""

    def loop(step_size: float):
        rng = np.random.default_rng(seed)
        X, y = problem.X, problem.y
        theta = np.zeros(problem.dim)
        losses = []
        with np.errstate(all="ignore"):
            for _ in range(steps):
                idx = rng.integers(0, X.shape[0], batch)
                r = X[idx] @ theta - y[idx]
                losses.append(0.5 * np.mean(r * r))
                new = theta - step_size * X[idx].T @ r / batch
                if not np.all(np.abs(new) < 1e100):  # the loop stops at a blow-up
                    losses.append(np.inf)
                    break
                theta = new
        return np.array(losses), theta

    def build() -> Built:
        losses, theta = loop(h)

        def rerun(new_h: float):
            lo, th = loop(new_h)
            full = float(problem.loss(th))
            zero = np.zeros(problem.dim)
            blew = len(lo) < steps or not np.isfinite(lo).all()
            return float(problem.loss(zero)), full, blew, _converged(problem, zero, th)

        finite = bool(np.isfinite(theta).all())
        full = float(problem.loss(theta)) if finite else np.inf
        return Built(losses, problem, {"stepsize": h, "theta": theta}, rerun, h, full)

    return build


def _schedule_bump(k):  # 2.5 × the limit for 15 steps
    return np.where((k >= 20) & (k < 35), 0.5, 0.05)


_HB99 = HeavyBall(0.99)
_HB9 = HeavyBall(0.9)
_NES = Nesterov(0.9)
_RK4 = RungeKutta(RK4)
_B_RK4 = 2.785293563405282
_MB_MIN = np.asarray(MB.minima[2])
_MB_LAM = _lam(MB, _MB_MIN)
_MB_SADDLE = np.asarray(MB.saddles[1])
_MB_SADDLE_LAM = _lam(MB, _MB_SADDLE)
_NET0 = np.array([2.0, 0.2])
_NET_LAM = _lam(NET, _NET0)

CASES: list[Case] = [
    # gradient descent on quadratics: theory is exact
    Case("gd-quad-half", "converging", gd(Q2, np.ones(2), 0.1, 300), quick=True),
    Case("gd-quad-0.95", "converging", gd(Q2, np.ones(2), 0.19, 300)),
    Case("gd-quad-1.5", "diverged", gd(Q2, np.ones(2), 0.3, 300), quick=True),
    Case("gd-quad-1.005", "diverged", gd(Q2, np.ones(2), 0.201, 2500)),
    Case("gd-quad-tiny", "step_too_small", gd(Q2, np.ones(2), 2e-4, 300)),
    Case("gd-quad3-0.0025", "step_too_small", gd(Q3, np.ones(3), 1e-4, 400)),
    Case("gd-ill-half", "converging", gd(QILL, np.ones(20), 1.0, 400)),
    Case("gd-ill-tiny", "step_too_small", gd(QILL, np.ones(20), 0.01, 300)),
    # Rosenbrock: 2/λmax = 0.001997 at the minimum
    Case("gd-rosenbrock-half", "converging", gd(ROSEN, [-1.2, 1.0], 1e-3, 4000, check=_descended)),
    Case(
        "gd-rosenbrock-tiny",
        "step_too_small",
        gd(ROSEN, [-1.2, 1.0], 2e-6, 2000, check=_gradient_dropped_less),
    ),
    Case("gd-rosenbrock-big", "diverged", gd(ROSEN, [-1.2, 1.0], 2e-2, 500, check=_blew_up)),
    # Müller-Brown
    Case(
        "gd-muller-brown-period2",
        "oscillating",
        gd(MB, _MB_MIN + 0.01, 1.3 * 2 / _MB_LAM, 1000, check=_period_two),
    ),
    Case(
        "gd-muller-brown-1.1",
        "oscillating",
        gd(MB, _MB_MIN + 0.01, 1.1 * 2 / _MB_LAM, 1500, check=_period_two),
    ),
    Case("gd-muller-brown-half", "converging", gd(MB, _MB_MIN + 0.05, 1 / _MB_LAM, 500)),
    Case(
        "gd-muller-brown-tiny",
        "step_too_small",
        gd(MB, _MB_MIN + 0.05, 0.004 / _MB_LAM, 500, check=_gradient_dropped_less),
    ),
    Case(
        "gd-muller-brown-saddle",
        "plateau",
        gd(
            MB,
            _saddle_start(MB, _MB_SADDLE),
            1 / _MB_SADDLE_LAM,
            int(0.5 * _escape_steps(MB, _MB_SADDLE, 1 / _MB_SADDLE_LAM)),
        ),
    ),
    # classic test functions
    Case("gd-himmelblau-half", "converging", gd(HIMMEL, [0.0, 0.0], 0.01, 500, check=_descended)),
    Case("gd-himmelblau-big", "diverged", gd(HIMMEL, [0.0, 0.0], 0.1, 300, check=_blew_up)),
    Case("gd-beale-half", "converging", gd(BEALE, [1.0, 1.0], 0.01, 3000, check=_descended)),
    # the scalar net: lazy, catapult, divergence (Lewkowycz et al. 2020)
    Case("gd-net-lazy", "converging", gd(NET, _NET0, 1.0 / _NET_LAM, 400)),
    Case(
        "gd-net-catapult",
        "spikes",
        gd(NET, _NET0, 3.0 / _NET_LAM, 400, check=_catapult),
        quick=True,
    ),
    Case("gd-net-too-big", "diverged", gd(NET, _NET0, 8.0 / _NET_LAM, 400, check=_blew_up)),
    # curvature rising on the way out (exact sympy derivatives)
    Case(
        "gd-funnel-0.3",
        "diverged",
        gd(FUNNEL, [1.8, 0.3], 0.3, 200, check=_blew_up),
    ),
    Case("gd-funnel-0.035", "converging", gd(FUNNEL, [1.8, 0.3], 0.035, 400)),
    # the tanh network
    Case(
        "gd-mlp-0.96",
        "converging",
        gd(MLP, MLP0, 0.96 * 2 / LAM_MLP, 1500, check=_descended),
    ),
    Case(
        "gd-mlp-tiny",
        "step_too_small",
        gd(MLP, MLP0, 0.004 / LAM_MLP, 500, check=_gradient_dropped_less),
    ),
    Case("gd-mlp-big", "diverged", gd(MLP, MLP0, 20 * 2 / LAM_MLP, 300, check=_blew_up)),
    Case("gd-mlp-half", "converging", gd(MLP, MLP0, 1.0 / LAM_MLP, 1500, check=_descended)),
    # Runge-Kutta 4: β = 2.785
    Case("rk4-quad-0.9", "converging", gd(Q2, np.ones(2), 0.9 * _B_RK4 / 10, 300, _RK4)),
    Case("rk4-quad-1.1", "diverged", gd(Q2, np.ones(2), 1.1 * _B_RK4 / 10, 600, _RK4)),
    Case("rk4-quad-tiny", "step_too_small", gd(Q2, np.ones(2), 1e-3 * _B_RK4 / 10, 300, _RK4)),
    # momentum: β = 2(1 + μ) (heavy ball), (2 + 2μ)/(1 + 2μ) (Nesterov)
    Case("hb-quad-half", "converging", gd(Q2, np.ones(2), 0.5 * 3.8 / 10, 400, _HB9), quick=True),
    Case("hb-quad-1.2", "diverged", gd(Q2, np.ones(2), 1.2 * 3.8 / 10, 400, _HB9)),
    Case("hb0.99-quad-ringing", "converging", gd(Q2, np.ones(2), 0.25 * 3.98 / 10, 1500, _HB99)),
    Case(
        "nesterov-quad-half",
        "converging",
        gd(Q2, np.ones(2), 0.5 * (3.8 / 2.8) / 10, 400, _NES),
    ),
    Case("nesterov-quad-1.2", "diverged", gd(Q2, np.ones(2), 1.2 * (3.8 / 2.8) / 10, 400, _NES)),
    # Adam (preconditioned sharpness, Cohen et al. 2022)
    Case(
        "adam-quad-tiny",
        "step_too_small",
        gd(Q2, np.ones(2), 1e-4, 300, Adam(), check=_adam_ratio_between(0, 0.01)),
        quick=True,
    ),
    Case(
        "adam-mlp-healthy",
        "converging",
        gd(MLP, MLP0, 1e-2, 800, Adam(), check=_adam_ratio_between(0.1, 1)),
    ),
    Case(
        "adam-logreg-healthy",
        "converging",
        gd(LOGREG, np.zeros(4), 0.5, 500, Adam(), check=_adam_ratio_between(0.1, 1)),
    ),
    # minibatch SGD: h = 1/L is stable, the loss settles at a noise floor
    Case(
        "sgd-ls-B8",
        "converging",
        gd(LS, np.zeros(5), 1 / L_LS, 800, batch_size=8, seed=0),
    ),
    Case("sgd-ls-B64", "converging", gd(LS, np.zeros(5), 1 / L_LS, 800, batch_size=64, seed=0)),
    Case(
        "sgd-logreg-B8",
        "converging",
        gd(LOGREG, np.zeros(4), 1 / L_LOG, 800, batch_size=8, seed=0),
    ),
    Case(
        "sgd-ls-tiny",
        "step_too_small",
        gd(LS, np.zeros(5), 2e-3 / L_LS, 800, batch_size=8, seed=0),
    ),
    Case("sgd-ls-big", "diverged", gd(LS, np.zeros(5), 3 / L_LS, 400, batch_size=64, seed=0)),
    # a schedule that rises above the limit for a while
    Case("gd-schedule-bump", "spikes", gd(Q2, np.ones(2), _schedule_bump, 600)),
    # plain loss logs of a hand-made loop (minibatch losses: noisy)
    Case("log-sgd-healthy", "converging", plain_log(LS, 1 / L_LS, 1000, 8, 3), quick=True),
    Case("log-sgd-tiny", "step_too_small", plain_log(LS, 2e-3 / L_LS, 1000, 8, 3)),
    Case("log-sgd-big", "diverged", plain_log(LS, 4 / L_LS, 1000, 8, 3)),
    # save="final": the end state and the problem only
    Case("final-quad-half", "converging", gd(Q2, np.ones(2), 0.1, 2000, save="final")),
    Case("final-quad-tiny", "step_too_small", gd(Q2, np.ones(2), 1e-4, 500, save="final")),
]

QUICK = [c for c in CASES if c.quick]
