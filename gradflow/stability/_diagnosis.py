r"""Step-size diagnosis of a run, from its loss curve and the curvature it visited.

The symptom table of practice, read as numerical analysis of the gradient-flow
integrator (``β/λmax`` is the method's critical step at a visited state):

==================  ======================================  ================================
label               symptom in the loss curve               reading
==================  ======================================  ================================
``diverged``        non-finite, exploding (ends 100× its    ``h`` above ``β/λmax`` where
                    descent above its minimum) or rising    the run went: every mode above
                    again to above its start                the limit grows
``oscillating``     a persistent period-2 pattern (the      ``h`` above the limit of a stiff
                    differences alternate in sign) without  direction: GD settled on a
                    a downward trend                        period-2 orbit
``spikes``          isolated rises above the running        a catapult (an early spike),
                    minimum that come back down             edge-of-stability spikes, or a
                                                            schedule that raised ``h``
``plateau``         the trend has not moved (within the     a saddle or flat region: not a
                    noise) and the run is not at a minimum  step-size problem
``step_too_small``  still falling at a steady rate, or      ``h`` far below ``β/λmax``
                    ``h < 0.1 β/λmax`` short of a minimum   (by the curvature when known)
``converging``      a decrease that levels off (to a noise  a good step
                    floor under minibatches)
``unclear``         too few points and no curvature         —
==================  ======================================  ================================

Noise is accounted for: the curve is read through a running median (its *trend*) and a
robust noise level ``σ`` (:mod:`gradflow.stability._curve`), so the fluctuations of a
minibatch run are neither oscillations nor spikes.

The suggested step is ``½ β/λ`` with ``λ`` the curvature at the states the run actually
visited: the end state; for a diverged run the largest of the start's and the last
saved state's whose loss was still at most the start's (curvature rises on the way out);
for an oscillating run the two last states (the orbit); or the last value of a tracked
sharpness.  A diverged run's suggestion is also at most half the step that diverged; an
oscillating run's at most half its step.  Where the label calls for no change the step
is kept, and where nothing justifies a number the suggestion is NaN with the reason.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from gradflow._trajectory import Trajectory
from gradflow._validation import as_state_array
from gradflow.methods import Method
from gradflow.problems import Problem
from gradflow.stability._curve import curve_features
from gradflow.stability._limits import Limit, adam_sharpness, method_limit, top_curvature

__all__ = ["ADVICE", "Diagnosis", "diagnose"]

#: The base reading of each label (the text adds what the run shows).
ADVICE = {
    "diverged": "the loss blew up: the step is too high where the run went",
    "oscillating": "the loss alternates (period 2) without a downward trend: "
    "the step is too high in a stiff direction",
    "spikes": "isolated loss spikes that came back down",
    "plateau": "the loss has not moved beyond its noise and the run is not at a minimum: "
    "a saddle or flat region, or a step far too small (the curvature tells which)",
    "step_too_small": "the step is too small: the loss still falls steadily",
    "converging": "the loss decreases and levels off: the step is fine",
    "unclear": "too few saved points to classify (save more often, or give the problem)",
}
#: Fewer points than this are not a curve.
MIN_POINTS = 8
#: The suggestion is this fraction of the critical step ``β/λ``.
SUGGEST_FRACTION = 0.5
#: ... and, after a divergence or an oscillation, at most this fraction of the step used.
BACKOFF = 0.5
#: Below this fraction of the critical step, a run short of a minimum has too small a step.
RATIO_SMALL = 0.1
#: At a minimum: the gradient fell below this fraction of the start's.
GRADIENT_DROP = 1e-4
#: Without the start: the Newton length ``‖g‖/λmax`` below this fraction of ``1 + ‖θ‖``.
NEWTON_LENGTH = 1e-6
#: A noise level above this fraction of the final loss is a visible noise floor ...
NOISE_FLOOR = 1e-3
#: ... if the run lasted this many relaxation times ``1/λmax`` of its stiffest mode
#: (``steps · h · λmax``): a shorter run has not reached any floor.
FLOOR_TIME = 20.0
#: ``|ratio - 1|`` below this is the edge of stability.
EDGE = 0.1
#: Rows of the text report.
MAX_LINES = 20


class Diagnosis(NamedTuple):
    """What :func:`diagnose` found, per batch element (arrays of shape ``batch``).

    Attributes
    ----------
    label : ndarray of str
        ``"diverged"``, ``"oscillating"``, ``"spikes"``, ``"plateau"``,
        ``"step_too_small"``, ``"converging"`` or ``"unclear"``.
    advice : ndarray of str
        The reading of each label, with what the run shows.
    stepsize : ndarray
        The step size in force at the last finite point (NaN when unknown).
    lambda_max : ndarray
        The curvature the limit uses: ``λmax(∇²L)`` at the visited states (module
        docstring), or for the Adam family the preconditioned sharpness
        ``λmax(P⁻¹H)``; NaN when unknown.
    critical_stepsize : ndarray
        ``β/λmax`` (NaN when unknown).
    ratio : ndarray
        ``stepsize / critical_stepsize``: above 1 that state is linearly unstable.
    suggested_stepsize : ndarray
        The suggested step; NaN where none is justified (see ``reason``).
    reason : ndarray of str
        Why the suggestion is what it is, or why there is none.
    noise : ndarray
        The loss's robust noise level ``σ`` (0 for a smooth curve).
    trend : ndarray, shape (n, *batch)
        The running median of the loss the labels read.
    text : str
        A readable report, one line per element (the first 20).
    """

    label: np.ndarray
    advice: np.ndarray
    stepsize: np.ndarray
    lambda_max: np.ndarray
    critical_stepsize: np.ndarray
    ratio: np.ndarray
    suggested_stepsize: np.ndarray
    reason: np.ndarray
    noise: np.ndarray
    trend: np.ndarray
    text: str

    def __str__(self) -> str:
        return self.text


class _Run(NamedTuple):
    """A run as columns: everything :func:`diagnose` reads."""

    loss: np.ndarray  # (n, B) float64, NaN after a blow-up in a plain log
    h: np.ndarray  # (n, B), NaN when unknown
    blown: np.ndarray  # (B,) non-finite or status "diverged"
    last: np.ndarray  # (B,) index of the last finite point
    states: np.ndarray | None  # (n, B, d) saved states (a Trajectory)
    end: np.ndarray | None  # (B, d) end (last finite) states
    every_step: bool  # the states are theta_0, theta_1, ... (Adam's preconditioner)
    batch: tuple[int, ...]
    name: str  # the method's name recorded by a Trajectory
    where_blown: np.ndarray  # (B,) step of the blow-up (-1: none, or exploding)
    n_steps: np.ndarray  # (B,) steps taken (a plain log: one entry per step)


# ---------------------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------------------
def _from_trajectory(traj: Trajectory) -> _Run:
    n = traj.loss.shape[0]
    batch = traj.batch_shape
    B = int(np.prod(batch, dtype=np.int64))
    loss = traj.loss.reshape(n, B).astype(np.float64)
    finite = np.isfinite(loss)
    blown = (traj.status.reshape(B) == "diverged") | ~finite.all(axis=0)
    last = np.where(finite.all(axis=0), n - 1, np.argmin(finite, axis=0) - 1)
    last = np.maximum(last, 0)
    states = traj.theta.reshape(n, B, -1)
    step = traj.step.reshape(n, B)
    every = bool(np.all(step == np.arange(n)[:, None]))
    where = np.where(blown, traj.n_steps.reshape(B) + 1, -1)
    return _Run(
        loss,
        traj.h.reshape(n, B).astype(np.float64),
        blown,
        last,
        states,
        states[last, np.arange(B)],
        every,
        batch,
        traj.method,
        where,
        traj.n_steps.reshape(B).astype(np.float64),
    )


def _as_log(losses: Any) -> np.ndarray:
    try:
        arr = np.asarray(losses, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            "run must be a gradflow Trajectory or an array of losses (n,) or (n, *batch), "
            f"got {type(losses).__name__}"
        ) from None
    if arr.ndim == 0 or arr.shape[0] == 0 or arr.size == 0:
        raise ValueError(f"run: a loss log needs at least one point, got shape {arr.shape}")
    return arr


def _log_steps(stepsize: Any, shape: tuple[int, ...]) -> np.ndarray:
    if stepsize is None:
        return np.full(shape, np.nan)
    try:
        h = np.asarray(stepsize, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"stepsize must be real numbers, got {type(stepsize).__name__}") from None
    if h.ndim == 1 and len(shape) > 1 and h.shape[0] == shape[0]:
        h = h.reshape(-1, *([1] * (len(shape) - 1)))  # one step per entry of the log
    try:
        return np.broadcast_to(h, shape).astype(np.float64)
    except ValueError:
        raise ValueError(
            f"stepsize must broadcast to the loss log's shape {shape}, got {h.shape}"
        ) from None


def _from_log(losses: Any, stepsize: Any, theta: Any, problem: Problem | None) -> _Run:
    arr = _as_log(losses)
    n, batch = arr.shape[0], arr.shape[1:]
    B = int(np.prod(batch, dtype=np.int64))
    loss = arr.reshape(n, B)
    h = _log_steps(stepsize, arr.shape).reshape(n, B)
    finite = np.isfinite(loss)
    blown = ~finite.all(axis=0)
    first_bad = np.argmin(finite, axis=0)
    last = np.maximum(np.where(blown, first_bad - 1, n - 1), 0)
    end = None
    if theta is not None:
        if problem is None:
            raise ValueError("theta (the end state) is only used with a problem")
        end = as_state_array(theta, "theta", problem.dim, finite=False).astype(np.float64)
        if end.shape[:-1] != batch:
            raise ValueError(
                f"theta must have shape {(*batch, problem.dim)} (the log's batch), got {end.shape}"
            )
        end = end.reshape(B, -1)
    where = np.where(blown, first_bad, -1)
    return _Run(loss, h, blown, last, None, end, False, batch, "", where, last.astype(float))


def _sharpness_values(sharpness: Any, B: int) -> np.ndarray:
    """``(m, B)`` tracked curvature from an array or a tracker's ``values``."""
    values = getattr(sharpness, "values", sharpness)
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            "sharpness must be an array of λmax values (m, *batch) or a sharpness tracker, "
            f"got {type(sharpness).__name__}"
        ) from None
    if arr.ndim == 0 or arr.size == 0 or arr[0].size != B:
        raise ValueError(
            f"sharpness must have shape (m, *batch) with {B} elements per row, got {arr.shape}"
        )
    return arr.reshape(arr.shape[0], B)


# ---------------------------------------------------------------------------------------
# labels
# ---------------------------------------------------------------------------------------
def _curve_labels(
    run: _Run,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Labels from the curve, the noise level, the trend, the catapult flag and whether
    the curve settled (no significant decrease at the end)."""
    n, B = run.loss.shape
    labels = np.full(B, "unclear", dtype="<U14")
    labels[run.blown] = "diverged"
    noise = np.zeros(B)
    tr = np.where(np.isfinite(run.loss), run.loss, np.nan)
    early = np.zeros(B, dtype=bool)
    settled = np.zeros(B, dtype=bool)
    rest = ~run.blown
    if n < MIN_POINTS or not rest.any():
        return labels, noise, tr, early, settled
    with np.errstate(all="ignore"):
        f = curve_features(run.loss[:, rest])
    tr[:, rest], noise[rest] = f.trend, f.noise
    sub = np.full(int(rest.sum()), "converging", dtype="<U14")
    # Later entries win: the order is the precedence, last the strongest.
    for name, mask in (
        ("step_too_small", f.steady),
        ("plateau", f.flat),
        ("spikes", f.spikes),
        ("oscillating", f.oscillating),
        ("diverged", f.exploding | f.rising),
    ):
        sub[mask] = name
    labels[rest] = sub
    early[rest] = f.spikes & f.early_spike
    settled[rest] = f.settled
    return labels, noise, tr, early, settled


def _at_minimum(run: _Run, problem: Problem | None, lam: np.ndarray) -> np.ndarray:
    """Whether each end state is (numerically) a stationary point."""
    B = run.loss.shape[1]
    if problem is None or run.end is None:
        return np.zeros(B, dtype=bool)
    with np.errstate(all="ignore"):
        g_end = np.linalg.norm(problem.grad(run.end), axis=-1)
        if run.states is not None and run.states.shape[0] > 1:
            g0 = np.linalg.norm(problem.grad(run.states[0].astype(np.float64)), axis=-1)
            return g_end <= GRADIENT_DROP * g0
        size = 1.0 + np.linalg.norm(run.end, axis=-1)
        return np.where(lam > 0, g_end / lam, 0.0) <= NEWTON_LENGTH * size


def _refine(
    labels: np.ndarray,
    ratio: np.ndarray,
    at_min: np.ndarray,
    n: int,
    floor: np.ndarray,
    cause: np.ndarray,
) -> np.ndarray:
    """Labels corrected by the curvature: ``h`` against ``β/λ`` where it is known.

    ``floor`` marks curves that levelled off at a visible noise floor (a larger step
    raises it: not too small), ``cause`` spikes with a known cause (a schedule, a
    catapult); other spikes at the edge of stability are its self-stabilisation, a
    healthy run.
    """
    out = labels.copy()
    known = np.isfinite(ratio)
    edge = known & (np.abs(ratio - 1.0) < EDGE)
    out[(out == "spikes") & edge & ~cause] = "converging"
    small = known & (ratio < RATIO_SMALL) & ~at_min
    calm = np.isin(out, ("converging", "plateau", "step_too_small")) & ~(
        (out == "converging") & floor
    )
    out[calm & small] = "step_too_small"
    # Near its limit a slowly falling loss is the landscape's (ill-conditioning), not a
    # step that could be raised.
    out[(out == "step_too_small") & known & (ratio >= RATIO_SMALL)] = "converging"
    out[(out == "plateau") & at_min] = "converging"
    if n < MIN_POINTS:  # the end state alone
        few = out == "unclear"
        out[few & at_min & known & (ratio <= 1)] = "converging"
        out[few & known & (ratio > 1) & ~at_min] = "oscillating"
        out[few & small] = "step_too_small"
    return out


# ---------------------------------------------------------------------------------------
# curvature at the visited states
# ---------------------------------------------------------------------------------------
def _visited_curvature(
    run: _Run, problem: Problem, labels: np.ndarray, limit: Limit, method: Any
) -> tuple[np.ndarray, np.ndarray]:
    """``λ`` at the states that matter for each label, and where it was taken."""
    B = labels.size
    source = np.full(B, "at the end state", dtype=object)
    if limit.kind == "preconditioned":
        if run.states is None or not run.every_step:
            return np.full(B, np.nan), source
        source[:] = "preconditioned sharpness at the end state"
        return adam_sharpness(problem, method, run.states, run.last), source
    lam = top_curvature(problem, run.end) if run.end is not None else np.full(B, np.nan)
    if run.states is not None:
        n = run.states.shape[0]
        cols = np.arange(B)
        if labels.any() and n > 1:
            before = run.states[np.maximum(run.last - 1, 0), cols]
            osc = labels == "oscillating"
            if osc.any():
                lam[osc] = np.fmax(lam[osc], top_curvature(problem, before[osc]))
                source[osc] = "largest at the two last states"
        blown = labels == "diverged"
        if blown.any():
            lam[blown] = _outbound_curvature(run, problem, blown)
            source[blown] = "largest on the way out"
    return lam, source


def _outbound_curvature(run: _Run, problem: Problem, rows: np.ndarray) -> np.ndarray:
    """Largest ``λmax`` at the start and the last state still at or below the start's loss."""
    assert run.states is not None
    idx = np.flatnonzero(rows)
    loss = run.loss[:, idx]
    n = loss.shape[0]
    steps = np.arange(n)[:, None]
    below = (loss <= loss[0]) & np.isfinite(loss) & (steps <= run.last[idx])
    j = n - 1 - np.argmax(below[::-1], axis=0)
    start = top_curvature(problem, run.states[0, idx].astype(np.float64))
    inside = top_curvature(problem, run.states[j, idx].astype(np.float64))
    return np.fmax(start, inside)


# ---------------------------------------------------------------------------------------
# suggestions
# ---------------------------------------------------------------------------------------
def _suggest(
    labels: np.ndarray, h: np.ndarray, crit: np.ndarray, keep_spikes: np.ndarray, why: str
) -> tuple[np.ndarray, np.ndarray]:
    """The suggested step and its reason, per element (``keep_spikes``: spikes under a
    constant step, a catapult that settled or edge-of-stability spikes, need no change
    unless the end state is unstable)."""
    B = labels.size
    out = np.full(B, np.nan)
    reason = np.full(B, "", dtype=object)
    known = np.isfinite(crit)
    fix = SUGGEST_FRACTION * crit
    ratio = h / crit
    change = np.isin(labels, ("diverged", "oscillating", "step_too_small")) | (
        (labels == "spikes") & (~keep_spikes | (ratio > 1))
    )
    out[change & known] = fix[change & known]
    reason[change & known] = "½ β/λmax at the visited states"
    backoff = np.isin(labels, ("diverged", "oscillating")) & known & np.isfinite(h)
    capped = backoff & (out > BACKOFF * h)
    out[capped] = BACKOFF * h[capped]
    reason[capped] = "half the step that failed (below ½ β/λmax of the states seen)"
    keep = ~change & np.isin(labels, ("converging", "spikes"))
    out[keep] = h[keep]
    reason[keep] = "keep the step"
    none = np.isnan(out)
    reason[none & change] = f"n/a: no curvature ({why or 'give problem= or sharpness='})"
    reason[none & (labels == "plateau")] = "n/a: a plateau is not fixed by the step size"
    reason[none & (labels == "unclear")] = "n/a: the run is unclear"
    reason[none & keep] = "n/a: the step in force is not known (give stepsize=)"
    return out, reason.astype(str)


def _advice(
    labels: np.ndarray,
    ratio: np.ndarray,
    early: np.ndarray,
    varied: np.ndarray,
    where_blown: np.ndarray,
) -> np.ndarray:
    """The reading of each label, completed by what this run shows."""
    out = [ADVICE[str(lb)] for lb in labels]
    for i, lb in enumerate(labels):
        if lb == "diverged" and where_blown[i] >= 0:
            out[i] = out[i].replace("blew up", f"blew up at step {int(where_blown[i])}")
        elif lb == "diverged":
            out[i] = out[i].replace("blew up", "grows again, above its start")
        elif lb == "spikes":
            out[i] += _spike_cause(bool(varied[i]), bool(early[i]))
        elif lb == "converging" and abs(ratio[i] - 1.0) < EDGE:
            out[i] += ", at the edge of stability (h ≈ β/λmax; Cohen et al. 2021)"
    return np.array(out, dtype=object)


def _spike_cause(varied: bool, early: bool) -> str:
    if varied:
        return ": the step varied (a schedule) and rose above the limit at times"
    if early:
        return (
            ": a catapult (the loss rose, then fell as the curvature dropped below β/h; "
            "Lewkowycz et al. 2020)"
        )
    return ": edge-of-stability spikes (the curvature rose to β/h; Cohen et al. 2021)"


def _line(d: dict[str, Any], i: int, prefix: str) -> str:
    line = f"{prefix}{d['label'][i]}: {d['advice'][i]}; h = {_num(d['h'][i])}"
    if np.isfinite(d["lam"][i]):
        line += (
            f", λmax = {d['lam'][i]:.4g} ({d['source'][i]}), β/λmax = {d['crit'][i]:.4g} "
            f"(h is {_num(d['ratio'][i])} × the limit)"
        )
    elif d["why"]:
        line += f" (no limit: {d['why']})"
    s = d["suggest"][i]
    line += (
        f"; suggested h = {s:.4g} ({d['reason'][i]})"
        if np.isfinite(s)
        else (f"; suggested h: {d['reason'][i]}")
    )
    return line


def _num(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:.4g}"


def _report(d: dict[str, Any], batch: tuple[int, ...]) -> str:
    labels = d["label"]
    B = labels.size
    lines = []
    for i in range(min(B, MAX_LINES)):
        index = tuple(int(j) for j in np.unravel_index(i, batch)) if batch else ()
        prefix = "" if not batch else f"element {index[0] if len(index) == 1 else index}: "
        lines.append(_line(d, i, prefix))
    if B > MAX_LINES:
        values, counts = np.unique(labels, return_counts=True)
        summary = ", ".join(f"{v}: {c}" for v, c in zip(values, counts, strict=True))
        lines.append(f"... {B - MAX_LINES} more; all {B}: {summary}")
    return "\n".join(lines)


def _check_args(problem: Any, method: Any) -> None:
    if problem is not None and not isinstance(problem, Problem):
        raise TypeError(f"problem must be a gradflow Problem or None, got {type(problem).__name__}")
    if method is not None and not isinstance(method, Method):
        raise TypeError(f"method must be a gradflow Method or None, got {type(method).__name__}")


def _limit_for(run: _Run, method: Method | None, is_log: bool) -> Limit:
    if method is None and is_log:
        return Limit(2.0, "hessian", "")  # a plain log without a method: gradient descent
    return method_limit(method, run.name)


def _curvature(
    run: _Run,
    problem: Problem | None,
    labels: np.ndarray,
    limit: Limit,
    method: Any,
    sharpness: Any,
) -> tuple[np.ndarray, np.ndarray, str]:
    """``λ`` per element, where it was taken, and why it is missing."""
    B = labels.size
    why = limit.why
    nowhere = np.full(B, "", dtype=object)
    if not np.isfinite(limit.beta):
        return np.full(B, np.nan), nowhere, why
    if sharpness is not None:
        values = _sharpness_values(sharpness, B)
        with np.errstate(all="ignore"):
            last = values[-1] if values.shape[0] else np.full(B, np.nan)
            peak = np.nanmax(np.where(np.isfinite(values), values, -np.inf), axis=0)
        lam = np.where(labels == "diverged", peak, last)
        source = np.where(labels == "diverged", "largest tracked", "last tracked").astype(object)
        return np.where(np.isfinite(lam), lam, np.nan), source, why
    if problem is None:
        return np.full(B, np.nan), nowhere, why or "give problem= (and theta=) or sharpness="
    if run.end is None:
        return np.full(B, np.nan), nowhere, "give theta= (the end state) with the problem"
    lam, source = _visited_curvature(run, problem, labels, limit, method)
    if limit.kind == "preconditioned" and not np.isfinite(lam).any():
        why = "the preconditioned sharpness needs every step saved, or sharpness="
    return lam, source, why


def diagnose(
    run: Trajectory | ArrayLike,
    problem: Problem | None = None,
    *,
    method: Method | None = None,
    stepsize: ArrayLike | None = None,
    theta: ArrayLike | None = None,
    sharpness: Any = None,
) -> Diagnosis:
    r"""Classify a run's step size from its loss curve and the curvature it visited.

    Parameters
    ----------
    run : Trajectory or array_like, shape (n,) or (n, *batch)
        A result of :func:`gradflow.solve`, or a plain loss log from any training loop
        (one entry per step, or per logged step; NaN or inf where it blew up).  Dense
        logs are best: every step shows oscillations.
    problem : Problem, optional
        The problem: enables the curvature ``λmax`` at the visited states, the
        comparison with the critical step ``β/λmax`` and the suggestion.
    method : Method, optional
        The method that was run, for its stability limit ``β``: gradient descent and
        SGD 2, RK4 2.785..., heavy ball ``2(1 + β)``, Nesterov ``(2 + 2β)/(1 + 2β)``
        (:func:`real_stability_limit`); Adam and AdamW ``2(1 + β_1)/(1 - β_1)`` on the
        preconditioned sharpness (needs a trajectory saved every step, or
        ``sharpness=`` from :func:`gradflow.analysis.track_preconditioned_sharpness`).
        A trajectory records only the method's name: without ``method`` only gradient
        descent (``"Euler"``) has a known limit.  A plain log without ``method`` is read
        as gradient descent (SGD).
    stepsize : float or array_like, optional
        For a plain log: the step size of each entry (a scalar for a constant step).
    theta : array_like, shape (*batch, d), optional
        For a plain log, with ``problem``: the end state (the last finite state, for a
        run that blew up).
    sharpness : array_like (m, *batch) or tracker, optional
        Tracked curvature (e.g. :func:`gradflow.curvature.track_sharpness`, or the
        preconditioned sharpness for Adam): its last value (its largest for a diverged
        run) replaces the computed ``λmax``.

    Returns
    -------
    Diagnosis
        Per element ``label``, ``advice``, ``stepsize``, ``lambda_max``,
        ``critical_stepsize``, ``ratio``, ``suggested_stepsize``, ``reason``,
        ``noise``; the ``trend``; and ``text``.

    Raises
    ------
    TypeError
        If ``run`` is neither a Trajectory nor an array of numbers, ``problem`` or
        ``method`` has the wrong type, or ``stepsize``/``sharpness`` are not numbers.
    ValueError
        If a log is empty, ``stepsize``, ``theta`` or ``sharpness`` do not match its
        shape, or ``theta`` is given without a problem.

    Notes
    -----
    See the module docstring for the labels and how the curve is read.  Ratios are
    printed to four significant digits (1.005 is not 1).  A spike is blamed on a
    schedule only when the recorded step sizes varied.  ``save="final"`` runs have no
    curve; with the problem their end state is still read: at a stationary point with
    a stable step they are ``"converging"``, above the limit ``"oscillating"``, far
    below it ``"step_too_small"``.

    References
    ----------
    J. M. Cohen, S. Kaur, Y. Li, J. Z. Kolter and A. Talwalkar, "Gradient descent on
    neural networks typically occurs at the edge of stability", ICLR 2021.
    J. M. Cohen, B. Ghorbani, S. Krishnan et al., "Adaptive gradient methods at the edge
    of stability", arXiv:2207.14484, 2022.
    A. Lewkowycz, Y. Bahri, E. Dyer, J. Sohl-Dickstein and G. Gur-Ari, "The large
    learning rate phase of deep learning: the catapult mechanism", arXiv:2003.02218,
    2020.
    L. N. Smith, "A disciplined approach to neural network hyper-parameters: Part 1",
    arXiv:1803.09820, 2018 (reading the loss curve).

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 10.0], seed=0)
    >>> hs = np.array([0.3, 1e-4, 0.1])                   # 2/λmax = 0.2
    >>> traj = gf.solve(p, np.ones((3, 2)), stepsize=hs, steps=400)
    >>> report = gf.diagnose(traj, p)
    >>> report.label.tolist()
    ['diverged', 'step_too_small', 'converging']
    >>> np.round(report.suggested_stepsize, 6).tolist()
    [0.1, 0.1, 0.1]
    >>> print(report.text.splitlines()[1])  # doctest: +NORMALIZE_WHITESPACE
    element 1: step_too_small: the step is too small: the loss still falls steadily;
    h = 0.0001, λmax = 10 (at the end state), β/λmax = 0.2 (h is 0.0005 × the limit);
    suggested h = 0.1 (½ β/λmax at the visited states)

    A plain loss log from a training loop of one's own:

    >>> losses = 0.5 * 0.9 ** np.arange(200)
    >>> str(gf.diagnose(losses, stepsize=0.05).label)
    'converging'
    """
    _check_args(problem, method)
    is_log = not isinstance(run, Trajectory)
    if is_log:
        data = _from_log(run, stepsize, theta, problem)
    else:
        if stepsize is not None or theta is not None:
            raise ValueError("stepsize and theta are for a plain loss log; a Trajectory has both")
        data = _from_trajectory(run)
    B = data.loss.shape[1]
    cols = np.arange(B)
    labels, noise, tr, early, settled = _curve_labels(data)
    h = data.h[data.last, cols]
    limit = _limit_for(data, method, is_log)
    lam, source, why = _curvature(data, problem, labels, limit, method, sharpness)
    with np.errstate(all="ignore"):
        crit = np.where(lam > 0, limit.beta / lam, np.where(np.isfinite(lam), np.inf, np.nan))
        ratio = h / crit
    at_min = _at_minimum(data, problem, lam)
    with np.errstate(all="ignore"):
        hs = np.where(np.isfinite(data.loss), data.h, np.nan)
        varied = np.nanmax(hs, axis=0) > (1 + 1e-12) * np.nanmin(hs, axis=0)
        floor = settled & (noise > NOISE_FLOOR * np.abs(tr[data.last, cols]))
        elapsed = data.n_steps * ratio * limit.beta  # steps · h · λmax
        floor &= ~(np.isfinite(elapsed) & (elapsed < FLOOR_TIME))
    labels = _refine(labels, ratio, at_min, data.loss.shape[0], floor, varied | early)
    with np.errstate(all="ignore"):
        suggest, reason = _suggest(labels, h, crit, ~varied, why)
    advice = np.array(list(_advice(labels, ratio, early, varied, data.where_blown)), dtype=str)
    parts = {
        "label": labels,
        "advice": advice,
        "h": h,
        "lam": lam,
        "crit": crit,
        "ratio": ratio,
        "suggest": suggest,
        "reason": reason,
        "source": source,
        "why": why,
    }
    batch = data.batch

    def out(a: np.ndarray) -> Any:
        return a.reshape(batch)[()]

    return Diagnosis(
        out(labels),
        out(advice),
        out(h),
        out(lam),
        out(crit),
        out(ratio),
        out(suggest),
        out(reason),
        out(noise),
        tr.reshape(-1, *batch),
        _report(parts, batch),
    )
