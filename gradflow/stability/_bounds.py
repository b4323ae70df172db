r"""Bound verification: predicted against measured critical step sizes.

Linear stability predicts that a method with real stability interval ``[-β, 0]``
converges to a strict minimiser ``θ*`` iff ``h < β / λmax(∇²L(θ*))`` (for ``h`` close to
the limit, where the run's fate is decided by the linearisation at ``θ*``).
:func:`verify_bound` checks this on a problem: it finds the minimiser the run reaches,
predicts the critical step, and *measures* the empirical threshold by a batched
bisection over ``h`` — every round runs many candidate step sizes in one
:func:`gradflow.solve` call.

Resolution.  A step a relative ``δ`` below the limit contracts the top mode by only
``ρ = 1 - O(δ)`` per step, and a step ``δ`` above grows it by ``1 + O(δ)``, so a finite
run separates the two only for ``δ`` larger than about ``log(1/tol) / (c N)`` after
``N`` steps (``c`` is the slope of the method's amplification at the limit: 2 for
gradient descent).  The step budget is chosen from the method's exact amplification
function so that ``δ = 2e-3`` is resolved; the bisection brackets are far narrower, so
this budget is what limits the accuracy of the measurement (reported as
``resolution``).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from gradflow._checks import check_problem
from gradflow._driver.progress import progress_bar
from gradflow._solve import solve
from gradflow._validation import as_state_array, check_bool, check_integer
from gradflow.curvature import eigenvalues
from gradflow.methods import Method
from gradflow.problems import Problem
from gradflow.stability._function import amplification, real_stability_limit

__all__ = ["BoundCheck", "verify_bound"]

#: A run counts as converged when ``‖∇L(θ_N)‖ <= CONVERGED_RTOL · ‖∇L(θ0)‖`` ...
CONVERGED_RTOL = 1e-6
#: ... or its gradient still shrinks, by this factor over the second half of the run
#: (a slow mode, far below the limit, may not have converged in the budget) ...
SHRINKING = 0.5
#: ... and it ended within this fraction of ``‖θ0 - θ*‖`` of the minimiser ``θ*`` (and
#: not at another minimiser of lower curvature, which a too-large step can reach).
SAME_MINIMIZER_RTOL = 0.1
#: Relative resolution the automatic step budget aims at (see the module docstring).
RESOLUTION_TARGET = 2e-3
#: Bounds on the automatic step budget.
MIN_STEPS, MAX_STEPS = 500, 200_000
#: Candidate step sizes per bisection round (one ``solve`` call), and refining rounds.
CANDIDATES, ROUNDS = 17, 3
#: The first bracket is ``predicted · (1 ± BRACKET_HALF_WIDTH)``; it moves by factors of
#: 2 (at most MAX_EXPANSIONS times) until it holds a stable and an unstable step.
BRACKET_HALF_WIDTH, MAX_EXPANSIONS = 0.25, 8
#: Runs leaving the ball of radius DIVERGENCE_FACTOR · max(1, ‖θ0‖, ‖θ*‖) have diverged.
DIVERGENCE_FACTOR = 1e6
#: The point reached is a minimiser only if its Hessian has no eigenvalue below
#: ``-INDEFINITE_RTOL · λmax`` (a rounding margin for flat directions, ``λ ≈ 0``);
#: otherwise it is a saddle (or a maximum) and there is no bound to verify there.
INDEFINITE_RTOL = 1e-8
#: Finding θ*: the method runs at SAFE_FRACTION · min(β, 2)/λ(θ0) and halvings of it, in
#: chunks of SEARCH_CHUNK steps (at most SEARCH_CHUNKS), then Newton's method polishes
#: the result where the dense Hessian is affordable (d <= NEWTON_MAX_DIM).
SAFE_FRACTION, LADDER = 0.5, 4
SEARCH_CHUNK, SEARCH_CHUNKS = 2000, 25
NEWTON_MAX_DIM, NEWTON_STEPS = 500, 20
#: Steps of the descent check at h = 1/L (every loss is compared with the previous one,
#: allowing DESCENT_ULPS ulps of the largest loss for rounding), and points where L is
#: sampled along it.
DESCENT_STEPS, DESCENT_ULPS, DESCENT_SAMPLES = 2000, 64.0, 40


class BoundCheck(NamedTuple):
    """Result of :func:`verify_bound`, per batch element (shape ``batch``).

    Attributes
    ----------
    predicted : ndarray
        ``β / λmax(θ*)``, the linear-stability critical step.
    measured : ndarray
        The empirical threshold: the midpoint of ``bracket``.
    relative_gap : ndarray
        ``(measured - predicted) / predicted`` (0 when both are infinite).
    bracket : tuple of ndarray
        ``(largest stable step found, smallest unstable step found)``.
    limit : float
        ``β``, the method's real stability limit.
    lambda_max, lambda_min : ndarray
        Extreme Hessian eigenvalues at ``θ*``.
    minimizer : ndarray, shape (*batch, d)
        ``θ*``, the minimiser the method reaches from ``θ0`` at a safe step.
    lipschitz : ndarray
        ``L``: the largest ``|λ|`` met along the descent run (sampled) and at ``θ0``,
        ``θ*``.
    descent_step : ndarray
        ``1/L``, the descent-lemma step.
    monotone_descent : ndarray of bool
        Whether the method at ``h = 1/L`` decreased the loss at every step (guaranteed
        for gradient descent by the descent lemma; not for momentum methods).
    steps : int
        Steps per bisection run.
    resolution : float
        The relative ``δ`` below the limit that the step budget still classifies as
        stable (``ρ(-(1 - δ)β)^steps = 1e-6`` on the top mode).
    """

    predicted: np.ndarray
    measured: np.ndarray
    relative_gap: np.ndarray
    bracket: tuple[np.ndarray, np.ndarray]
    limit: float
    lambda_max: np.ndarray
    lambda_min: np.ndarray
    minimizer: np.ndarray
    lipschitz: np.ndarray
    descent_step: np.ndarray
    monotone_descent: np.ndarray
    steps: int
    resolution: float


def _gradnorm(problem: Problem, theta: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.linalg.norm(problem.grad(theta), axis=-1)


def _extreme(problem: Problem, points: np.ndarray, tol: float, which: str) -> np.ndarray:
    """The Hessian eigenvalue at the ``which`` end of the spectrum at each point, shape
    ``points.shape[:-1]`` (dense ``eigh`` up to ``d = 64``, Lanczos above)."""
    algorithm = "dense" if problem.dim <= 64 else "lanczos"
    res = eigenvalues(problem, points, 1, algorithm=algorithm, tol=tol, seed=0, which=which)
    return res.values[..., 0]


def _find_minimizer(
    problem: Problem, theta0: np.ndarray, method: Method, h_base: np.ndarray, bar: Any = None
) -> np.ndarray:
    """Run ``method`` from ``theta0`` (B, d) at a ladder of safe steps until the gradient
    is ``CONVERGED_RTOL`` times smaller, then polish by Newton's method."""
    B, d = theta0.shape
    ladder = h_base[None, :] * 0.5 ** np.arange(LADDER)[:, None]  # (LADDER, B)
    theta = np.broadcast_to(theta0, (LADDER, B, d)).copy()
    g0 = _gradnorm(problem, theta0)
    alive = np.ones((LADDER, B), dtype=bool)
    for _ in range(SEARCH_CHUNKS):
        traj = solve(problem, theta, method, ladder, steps=SEARCH_CHUNK, save="final")
        _tick(bar, "minimiser")
        alive &= traj.ok
        theta = np.where(alive[..., None], traj.theta[-1], theta)
        g = np.where(alive, _gradnorm(problem, theta), np.inf)
        if np.all(g.min(axis=0) <= CONVERGED_RTOL * g0):
            break
    # Per element, the largest ladder step whose run stayed finite and got closest.
    g = np.where(alive, _gradnorm(problem, theta), np.inf)
    good = alive & (g <= np.maximum(CONVERGED_RTOL * g0, g.min(axis=0)))
    best = np.argmax(good, axis=0)
    star = theta[best, np.arange(B)]
    if d <= NEWTON_MAX_DIM:
        with np.errstate(all="ignore"):
            for _ in range(NEWTON_STEPS):
                gs = problem.grad(star)
                try:
                    step = np.linalg.solve(problem.hessian(star), gs[..., None])[..., 0]
                except np.linalg.LinAlgError:
                    break
                trial = star - step
                better = np.isfinite(trial).all(axis=-1) & (
                    _gradnorm(problem, trial) < np.linalg.norm(gs, axis=-1)
                )
                if not better.any():
                    break
                star = np.where(better[:, None], trial, star)
    return star


def _classify(
    problem: Problem,
    theta0: np.ndarray,
    star: np.ndarray,
    method: Method,
    hs: np.ndarray,
    steps: int,
    radius: float,
    bar: Any = None,
) -> np.ndarray:
    """Stable (converging to θ*) or not, for step sizes ``hs`` (n, B) from ``theta0`` (B, d).

    Stable: finite, inside the ball, ends near θ*, and its gradient either fell below
    ``CONVERGED_RTOL`` of the initial one or still shrinks (by SHRINKING over the second
    half of the run, an even number of steps, so a period-2 orbit does not pass).
    """
    n, B = hs.shape
    d = theta0.shape[-1]
    starts = np.broadcast_to(theta0, (n, B, d))
    traj = solve(
        problem,
        starts,
        method,
        hs,
        steps=steps,
        save_every=steps // 2,
        divergence_norm=radius,
    )
    _tick(bar, "threshold")
    mid, end = traj.theta[1], traj.theta[-1]
    g0 = _gradnorm(problem, theta0)
    gap0 = np.linalg.norm(theta0 - star, axis=-1)
    with np.errstate(all="ignore"):
        g_mid, g_end = _gradnorm(problem, mid), _gradnorm(problem, end)
        converging = (g_end <= CONVERGED_RTOL * g0) | (g_end <= SHRINKING * g_mid)
        near = np.linalg.norm(end - star, axis=-1) <= SAME_MINIMIZER_RTOL * gap0
    return traj.ok & converging & near


def _check_minimum(star: np.ndarray, top: np.ndarray, bottom: np.ndarray) -> None:
    """``ValueError`` unless the Hessian at every point ``star`` is positive semidefinite
    (to ``INDEFINITE_RTOL``): a saddle has no stability bound to verify."""
    saddle = np.flatnonzero(bottom < -INDEFINITE_RTOL * top)
    if saddle.size:
        i = int(saddle[0])
        raise ValueError(
            f"there is no minimiser to verify the bound at: the stationary point reached "
            f"from theta0 (element {i}), {np.array2string(star[i], precision=6)}, has an "
            f"indefinite Hessian (λmin = {bottom[i]:.6g}, λmax = {top[i]:.6g}): a saddle; "
            "start in the basin of a minimum"
        )


def _auto_steps(method: Method, beta: float, kappa: np.ndarray) -> tuple[int, float]:
    """Step budget resolving RESOLUTION_TARGET, and converging the slowest mode."""
    log_tol = math.log(CONVERGED_RTOL)
    if not math.isfinite(beta):
        return MIN_STEPS, 0.0
    rho_top = float(amplification(method, -(1.0 - RESOLUTION_TARGET) * beta))
    n_top = log_tol / math.log(rho_top) if rho_top < 1 else MAX_STEPS
    n_slow = 0.0
    k = float(np.max(kappa))
    # The slow mode carries ~1/κ of the initial gradient, so it must shrink by tol·κ.
    if math.isfinite(k) and k > 0 and CONVERGED_RTOL * k < 1:
        rho_slow = float(amplification(method, -(1.0 - RESOLUTION_TARGET) * beta / k))
        if rho_slow < 1:
            n_slow = math.log(CONVERGED_RTOL * k) / math.log(rho_slow)
        else:
            n_slow = MAX_STEPS
    steps = int(min(MAX_STEPS, max(MIN_STEPS, math.ceil(max(n_top, n_slow)))))
    steps += -steps % 4  # halves of even length (see _classify)
    return steps, _resolution(method, beta, steps)


def _resolution(method: Method, beta: float, steps: int) -> float:
    """The relative δ with ``ρ(-(1 - δ)β)^steps = CONVERGED_RTOL`` (top mode)."""
    if not math.isfinite(beta):
        return 0.0
    target = math.exp(math.log(CONVERGED_RTOL) / steps)
    lo, hi = 0.0, 1.0  # ρ(-(1 - δ)β) decreases from 1 as δ grows from 0 (near the limit)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if float(amplification(method, -(1.0 - mid) * beta)) > target:
            lo = mid
        else:
            hi = mid
    return hi


def _measure(
    problem: Problem,
    theta0: np.ndarray,
    star: np.ndarray,
    method: Method,
    predicted: np.ndarray,
    ref: np.ndarray,
    steps: int,
    radius: float,
    bar: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Batched bisection: bracket (largest stable, smallest unstable) step per element."""
    B = theta0.shape[0]
    finite = np.isfinite(predicted)
    lo = np.where(finite, (1 - BRACKET_HALF_WIDTH) * predicted, ref)
    hi = np.where(finite, (1 + BRACKET_HALF_WIDTH) * predicted, ref * 1e6)
    best_stable = np.zeros(B)
    first_unstable = np.full(B, np.inf)
    bracketed = np.zeros(B, dtype=bool)
    rounds = np.zeros(B, dtype=int)
    expansions = np.zeros(B, dtype=int)
    active = np.ones(B, dtype=bool)
    frac = np.linspace(0.0, 1.0, CANDIDATES)[:, None]
    while active.any():
        idx = np.flatnonzero(active)
        geometric = ~finite[idx] & ~bracketed[idx]
        hs = np.where(
            geometric,
            lo[idx] * (hi[idx] / lo[idx]) ** frac,
            lo[idx] + (hi[idx] - lo[idx]) * frac,
        )
        ok = _classify(problem, theta0[idx], star[idx], method, hs, steps, radius, bar)
        unstable = ~ok
        none = ~unstable.any(axis=0)  # all stable: move the bracket up
        first = np.argmax(unstable, axis=0)
        at_start = ~none & (first == 0)  # all unstable: move it down
        inside = ~none & (first > 0)  # a transition: narrow the bracket around it
        cols = np.arange(idx.size)
        h_prev = hs[np.maximum(first - 1, 0), cols]
        h_first = hs[first, cols]
        best_stable[idx] = np.where(
            none, np.maximum(best_stable[idx], hs[-1]), np.where(inside, h_prev, best_stable[idx])
        )
        first_unstable[idx] = np.where(
            at_start,
            np.minimum(first_unstable[idx], hs[0]),
            np.where(inside, h_first, first_unstable[idx]),
        )
        lo[idx] = np.where(none, hs[-1], np.where(at_start, hs[0] / 2, h_prev))
        hi[idx] = np.where(none, 2 * hs[-1], np.where(at_start, hs[0], h_first))
        bracketed[idx] |= inside
        rounds[idx] += inside
        expansions[idx] += ~inside
        # An A-stable method (β = ∞) stable up to 1e6 × 2/λmax is done at once.
        a_stable = none & ~finite[idx] & ~bracketed[idx]
        finished = (
            a_stable
            | (rounds[idx] >= ROUNDS)
            | (~bracketed[idx] & (expansions[idx] > MAX_EXPANSIONS))
        )
        active[idx[finished]] = False
    return best_stable, first_unstable


def verify_bound(
    problem: Problem,
    theta0: ArrayLike,
    method: Method,
    *,
    steps: int | None = None,
    progress: bool = False,
) -> BoundCheck:
    r"""Check the stability bound ``h < β / λmax(θ*)`` of ``method`` against real runs.

    1. Run ``method`` from ``theta0`` at a safe step (halved until it converges) to the
       minimiser ``θ*`` it reaches, polished by Newton's method when ``d <= 500``.
    2. Predict the critical step ``β / λmax(∇²L(θ*))`` with ``β`` =
       :func:`~gradflow.stability.real_stability_limit` of the method.
    3. Measure the threshold: candidate steps around the prediction, 17 per
       :func:`gradflow.solve` call, each run for ``steps`` steps from ``theta0``; a run
       is *stable* when it stays finite and inside a ball of radius
       ``1e6 · max(1, ‖θ0‖, ‖θ*‖)``, ends with ``‖∇L‖ <= 1e-6 ‖∇L(θ0)‖``, and ends
       near ``θ*``.  The bracket (largest stable, smallest unstable) is moved until it
       holds both, then narrowed three times by a factor 16.
    4. Run the method at the descent-lemma step ``h = 1/L`` (``L`` the largest ``|λ|``
       at ``θ0``, ``θ*`` and sampled along that run) and report whether every step
       decreased the loss.

    Parameters
    ----------
    problem : Problem
    theta0 : array_like, shape (*batch, d)
        Starts; each element is verified on its own (all in the same calls).  The start
        must excite the top eigendirection at ``θ*`` (a random start does), and must not
        be a stationary point.
    method : Method
        Any gradflow method (an A-stable one, ``β = ∞``, is checked to stay stable up
        to ``1e6 · 2/λmax``).
    steps : int, optional
        Steps per run; by default chosen from the method's amplification function to
        resolve a relative ``2e-3`` below the limit and to converge the slowest mode
        (between 500 and 200,000).
    progress : bool, default False
        Show a progress bar on standard error counting the batched runs made, with the
        stage (minimiser, threshold, descent).  Needs tqdm (``pip install
        "gradflow-ode[progress]"``).

    Returns
    -------
    BoundCheck
        ``predicted``, ``measured``, ``relative_gap``, ``bracket``, ``limit``,
        ``lambda_max``, ``lambda_min``, ``minimizer``, ``lipschitz``, ``descent_step``,
        ``monotone_descent``, ``steps``, ``resolution``.

    Raises
    ------
    TypeError
        If ``problem`` or ``method`` has the wrong type.
    ValueError
        If ``theta0`` has the wrong shape or is not finite, is a stationary point, or
        the point reached is not a minimiser (its Hessian is indefinite: a saddle) or
        has a Hessian without a positive eigenvalue.

    References
    ----------
    E. Hairer and G. Wanner, *Solving Ordinary Differential Equations II*, 2nd ed.,
    Springer, 1996, §IV.2 (stability functions and intervals).
    Y. Nesterov, *Lectures on Convex Optimization*, 2nd ed., Springer, 2018, §1.2.3
    (``h < 2/L`` and the descent lemma).

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic([0.5, 3.0, 10.0], seed=4)
    >>> check = gf.stability.verify_bound(p, [1.0, -0.5, 0.3], gf.methods.Euler())
    >>> round(float(check.predicted), 6), abs(float(check.relative_gap)) < 0.01
    (0.2, True)
    >>> bool(check.monotone_descent)
    True
    """
    problem = check_problem(problem)
    if not isinstance(method, Method):
        raise TypeError(f"method must be a gradflow Method, got {type(method).__name__}")
    points = as_state_array(theta0, "theta0", problem.dim).astype(np.float64)
    if steps is not None:
        steps = check_integer(steps, "steps", 4)
        steps += -steps % 4
    batch, d = points.shape[:-1], problem.dim
    flat = points.reshape(-1, d)
    if np.any(_gradnorm(problem, flat) == 0):
        raise ValueError("theta0 must not be a stationary point (its gradient is zero)")
    beta = real_stability_limit(method)
    bar = progress_bar(None, "verify_bound", "run") if check_bool(progress, "progress") else None
    try:
        return _verify(problem, flat, batch, method, beta, steps, bar)
    finally:
        if bar is not None:
            bar.close()


def _tick(bar: Any, stage: str) -> None:
    """One batched run done (for the progress bar, when there is one)."""
    if bar is not None:
        bar.set_postfix(stage=stage, refresh=False)
        bar.update(1)


def _verify(
    problem: Problem,
    flat: np.ndarray,
    batch: tuple[int, ...],
    method: Method,
    beta: float,
    steps: int | None,
    bar: Any,
) -> BoundCheck:
    """Steps 1-4 of :func:`verify_bound` for the starts ``flat`` (B, d)."""
    # 1. The minimiser the run reaches.
    lam0 = np.abs(_extreme(problem, flat, 1e-6, "LM"))
    if np.any(lam0 == 0):
        lam0 = np.where(lam0 == 0, 1.0, lam0)
    h_base = SAFE_FRACTION * min(beta, 2.0) / lam0
    star = _find_minimizer(problem, flat, method, h_base, bar)

    # 2. The prediction.
    top = _extreme(problem, star, 1e-12, "LA")
    bottom = _extreme(problem, star, 1e-12, "SA")
    if np.any(top <= 0):
        raise ValueError("the Hessian at the minimiser reached has no positive eigenvalue")
    _check_minimum(star, top, bottom)
    predicted = beta / top
    kappa = np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1.0), np.inf)

    # 3. The measurement.
    if steps is None:
        steps, resolution = _auto_steps(method, beta, kappa)
    else:
        resolution = _resolution(method, beta, steps)
    radius = DIVERGENCE_FACTOR * max(
        1.0, float(np.linalg.norm(flat, axis=-1).max()), float(np.linalg.norm(star, axis=-1).max())
    )
    lo, hi = _measure(problem, flat, star, method, predicted, 2.0 / top, steps, radius, bar)
    with np.errstate(all="ignore"):
        measured = np.where(np.isfinite(hi), 0.5 * (lo + hi), np.inf)
        gap = np.where(
            np.isinf(measured) & np.isinf(predicted), 0.0, (measured - predicted) / predicted
        )

    # 4. Descent at h = 1/L, with L re-estimated along the run it makes.
    lip = np.maximum(lam0, np.maximum(np.abs(top), np.abs(bottom)))
    for _ in range(2):
        traj = solve(problem, flat, method, 1.0 / lip, steps=DESCENT_STEPS, save="all")
        _tick(bar, "descent")
        every = max(1, traj.theta.shape[0] // DESCENT_SAMPLES)
        samples = traj.theta[::every]
        along = np.abs(_extreme(problem, samples, 1e-8, "LM")).max(axis=0)
        if np.all(along <= lip * (1 + 1e-9)):
            break
        lip = np.maximum(lip, along)
    loss = traj.loss
    eps = float(np.finfo(loss.dtype).eps)
    # Once converged the loss only moves by the rounding of its own evaluation, which is
    # relative to the size of its terms: measure ulps against the largest loss met.
    with np.errstate(all="ignore"):  # a run that diverged has inf - inf = nan: not a rise
        rise = np.diff(loss, axis=0) > DESCENT_ULPS * eps * np.abs(loss).max(axis=0)
    monotone = traj.ok & ~rise.any(axis=0)

    return BoundCheck(
        predicted.reshape(batch)[()],
        measured.reshape(batch)[()],
        gap.reshape(batch)[()],
        (lo.reshape(batch)[()], hi.reshape(batch)[()]),
        beta,
        top.reshape(batch)[()],
        bottom.reshape(batch)[()],
        star.reshape(*batch, flat.shape[-1]),
        lip.reshape(batch)[()],
        (1.0 / lip).reshape(batch)[()],
        monotone.reshape(batch)[()],
        steps,
        resolution,
    )
