r"""Step-size diagnosis of a run from its loss curve (and, given the problem, its curvature).

The symptom table of practice, read as numerical analysis of the gradient-flow
integrator:

==============  ==========================================  ===============================
label           symptom in the loss curve                   reading
==============  ==========================================  ===============================
``diverged``    non-finite (status ``"diverged"``) or       ``h`` far above ``β/λmax``:
                exploding (ends 100× its descent above      every mode above it grows
                its minimum)
``oscillating`` ups and downs without a downward trend      ``h`` above the limit of a stiff
                in the second half                          direction: a period-2 (or
                                                            chaotic) orbit, or slow growth
``plateau``     steady decrease that has not levelled       ``h`` too low: the flow is
                off (the rate at the end is still a         followed accurately but slowly
                sizeable part of the rate at the start)
``spikes``      a descent, then isolated rises late in      a schedule that decayed too far
                the run                                     or too little
``converging``  decrease that levels off                    a good step
``unclear``     too few saved points                        —
==============  ==========================================  ===============================

Given the problem, :func:`diagnose` also computes ``λmax`` at the end state (at the
start for diverged runs, whose end state is meaningless), compares ``h`` with the
critical step ``β/λmax`` of the method and suggests ``½ β/λmax`` (the descent-lemma step
``1/λmax`` for gradient descent) where the label calls for a change.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from gradflow._trajectory import Trajectory
from gradflow.curvature import eigenvalues
from gradflow.methods import Method
from gradflow.problems import Problem
from gradflow.stability._function import real_stability_limit

__all__ = ["ADVICE", "Diagnosis", "diagnose"]

#: The readings of the labels (see the module docstring).
ADVICE = {
    "diverged": "the loss blew up: the step is far too high",
    "oscillating": "the loss oscillates without a downward trend: "
    "the step is too high in a stiff direction",
    "plateau": "the loss decreases slowly and has not levelled off: the step is too low",
    "spikes": "late loss spikes after a descent: the schedule decayed too far or too little",
    "converging": "smooth convergence: the step is fine",
    "unclear": "too few saved points to classify (save more often)",
}
#: Fewer saved points than this give ``"unclear"``.
MIN_POINTS = 8
#: Divergence within this many steps is "far too high" (the issue's "a few hundred").
EARLY_DIVERGENCE_STEPS = 500
#: An exploding loss counts as diverged too: it ends this many times the initial descent
#: (or the initial loss level, if nothing descended) above its minimum.
EXPLODE_FACTOR = 100.0
#: ``oscillating``: at least this fraction of the second half's steps go up ...
OSCILLATION_FRACTION = 0.25
#: ... and its first third lies less than this fraction of its range above its last third.
TREND_FRACTION = 0.5
#: ... and its range is more than this fraction of the whole run's (ups and downs at the
#: rounding level of a converged run are not oscillations).
NEGLIGIBLE = 1e-6
#: ``spikes``: a late rise above the running minimum by this fraction of the descent so far
#: ...
SPIKE_RISE = 0.1
#: ... at no more than this fraction of the points of the second half.
SPIKE_FRACTION = 0.2
#: ``plateau``: the rate of decrease over the last 10 % of the run is still this fraction
#: of the rate over the first 10 %.
PLATEAU_RATE = 0.2
#: Window (fraction of the run) for the rates.
RATE_WINDOW = 0.1
#: The suggested step is this fraction of the critical step ``β/λmax``.
SUGGEST_FRACTION = 0.5


class Diagnosis(NamedTuple):
    """What :func:`diagnose` found, per batch element (arrays of shape ``batch``).

    Attributes
    ----------
    label : ndarray of str
        ``"diverged"``, ``"oscillating"``, ``"plateau"``, ``"spikes"``, ``"converging"``
        or ``"unclear"``.
    advice : ndarray of str
        The reading of each label (:data:`ADVICE`).
    stepsize : ndarray
        The step size in force at the last saved state.
    lambda_max : ndarray
        ``λmax`` at the end state (start state for diverged runs); ``nan`` without a
        problem.
    critical_stepsize : ndarray
        ``β / λmax`` (``nan`` without a problem).
    ratio : ndarray
        ``stepsize / critical_stepsize``: above 1 the end state is linearly unstable.
    suggested_stepsize : ndarray
        ``½ β/λmax`` where the label calls for a change (or where ``ratio > 1``), else
        the step in force; ``nan`` without a problem.
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
    text: str

    def __str__(self) -> str:
        return self.text


def _window_rate(loss: np.ndarray, step: np.ndarray, first: bool) -> np.ndarray:
    """Mean decrease per step over the first (or last) RATE_WINDOW of each run."""
    n = loss.shape[0]
    w = max(1, round(RATE_WINDOW * (n - 1)))
    a, b = (0, w) if first else (n - 1 - w, n - 1)
    span = np.maximum(step[b] - step[a], 1)
    return (loss[a] - loss[b]) / span


def _labels(traj: Trajectory) -> tuple[np.ndarray, np.ndarray]:
    """Curve-only labels and the step of divergence, for the flattened batch."""
    loss = traj.loss.reshape(traj.loss.shape[0], -1).astype(float)
    step = traj.step.reshape(traj.step.shape[0], -1)
    status = traj.status.reshape(-1)
    n, B = loss.shape
    labels = np.full(B, "unclear", dtype="<U11")
    diverged = (status == "diverged") | ~np.isfinite(loss).all(axis=0)
    labels[diverged] = "diverged"
    if n < MIN_POINTS:
        return labels, traj.n_steps.reshape(-1)
    with np.errstate(all="ignore"):
        low = loss.min(axis=0)
        scale = np.maximum(loss[0] - low, np.abs(loss[0]))
        exploding = (loss[-1] - low > EXPLODE_FACTOR * scale) & (loss[-1] > loss[0])
    labels[exploding] = "diverged"
    rest = ~(diverged | exploding)
    with np.errstate(all="ignore"):
        half = loss[n // 2 :]
        up = np.diff(half, axis=0) > 0
        frac_up = up.mean(axis=0)
        third = max(1, half.shape[0] // 3)
        drop = half[:third].mean(axis=0) - half[-third:].mean(axis=0)
        spread = half.max(axis=0) - half.min(axis=0)
        visible = spread > NEGLIGIBLE * (loss.max(axis=0) - loss.min(axis=0))
        oscillating = (frac_up >= OSCILLATION_FRACTION) & (drop < TREND_FRACTION * spread) & visible
        running_min = np.minimum.accumulate(loss, axis=0)
        descent = loss[0] - running_min
        rise = (loss - running_min) / np.where(descent > 0, descent, np.inf)
        late = rise[n // 2 :] > SPIKE_RISE
        spikes = late.any(axis=0) & (late.mean(axis=0) <= SPIKE_FRACTION)
        rate_start = _window_rate(loss, step, True)
        rate_end = _window_rate(loss, step, False)
        flat = np.all(loss == loss[0], axis=0)
        plateau = flat | ((rate_start > 0) & (rate_end >= PLATEAU_RATE * rate_start))
    for name, mask in (
        ("spikes", spikes),
        ("oscillating", oscillating),
        ("plateau", plateau),
    ):
        pick = rest & mask & (labels == "unclear")
        labels[pick] = name
    labels[rest & (labels == "unclear")] = "converging"
    return labels, traj.n_steps.reshape(-1)


def diagnose(
    trajectory: Trajectory, problem: Problem | None = None, *, method: Method | None = None
) -> Diagnosis:
    r"""Classify a run's step size from its loss curve, and compare it with ``β/λmax``.

    Parameters
    ----------
    trajectory : Trajectory
        A result of :func:`gradflow.solve`, saved densely enough to see the curve (at
        least 8 points; every step is best for oscillations).
    problem : Problem, optional
        The problem that was solved: enables the curvature comparison and the suggested
        step.
    method : Method, optional
        The method that was run, for its stability limit ``β``; by default gradient
        descent's ``β = 2`` (the trajectory records only the method's name).

    Returns
    -------
    Diagnosis
        Per element ``label``, ``advice``, ``stepsize``, ``lambda_max``,
        ``critical_stepsize``, ``ratio``, ``suggested_stepsize``; and ``text``.

    Raises
    ------
    TypeError
        If ``trajectory``, ``problem`` or ``method`` has the wrong type.

    References
    ----------
    L. N. Smith, "A disciplined approach to neural network hyper-parameters: Part 1",
    arXiv:1803.09820, 2018 (reading the loss curve).
    J. M. Cohen, S. Kaur, Y. Li, J. Z. Kolter and A. Talwalkar, "Gradient descent on
    neural networks typically occurs at the edge of stability", ICLR 2021.

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 10.0], seed=0)
    >>> hs = np.array([1.0, 1e-4, 0.1])                   # 2/λmax = 0.2
    >>> traj = gf.solve(p, np.ones((3, 2)), stepsize=hs, steps=400)
    >>> report = gf.diagnose(traj, p)
    >>> report.label.tolist()
    ['diverged', 'plateau', 'converging']
    >>> np.round(report.suggested_stepsize, 6).tolist()
    [0.1, 0.1, 0.1]
    >>> print(report.text.splitlines()[1])  # doctest: +NORMALIZE_WHITESPACE
    element 1: plateau: the loss decreases slowly and has not levelled off: the step is
    too low; h = 0.0001, λmax = 10, β/λmax = 0.2 (h is 0.0005 × the limit); suggested
    h = 0.1
    """
    if not isinstance(trajectory, Trajectory):
        raise TypeError(
            f"trajectory must be a gradflow Trajectory, got {type(trajectory).__name__}"
        )
    if problem is not None and not isinstance(problem, Problem):
        raise TypeError(f"problem must be a gradflow Problem or None, got {type(problem).__name__}")
    if method is not None and not isinstance(method, Method):
        raise TypeError(f"method must be a gradflow Method or None, got {type(method).__name__}")
    batch = trajectory.batch_shape
    labels, n_steps = _labels(trajectory)
    blew_up = trajectory.status.reshape(-1) == "diverged"
    B = labels.size
    h = trajectory.h[-1].reshape(-1).astype(float)
    lam = np.full(B, np.nan)
    crit = np.full(B, np.nan)
    suggest = np.full(B, np.nan)
    beta = 2.0 if method is None else real_stability_limit(method)
    if problem is not None:
        theta = trajectory.theta.reshape(trajectory.theta.shape[0], B, -1)
        where = np.where(labels == "diverged", 0, theta.shape[0] - 1)
        points = theta[where, np.arange(B)]
        finite = np.isfinite(points).all(axis=-1)
        if finite.any():
            res = eigenvalues(problem, points[finite], 1, tol=1e-6, seed=0)
            lam[finite] = res.values[:, 0]
        with np.errstate(all="ignore"):
            crit = np.where(lam > 0, beta / lam, np.inf)
            change = np.isin(labels, ("diverged", "oscillating", "plateau")) | (h > crit)
            suggest = np.where(change, SUGGEST_FRACTION * crit, h)
    with np.errstate(all="ignore"):
        ratio = h / crit
    advice = np.array([ADVICE[str(lb)] for lb in labels], dtype=object).astype(str)
    lines = []
    for i in range(min(B, 20)):
        index = tuple(int(j) for j in np.unravel_index(i, batch)) if batch else ()
        where_i = "" if not batch else f"element {index[0] if len(index) == 1 else index}: "
        extra = ""
        if labels[i] == "diverged":
            extra = f" (blew up at step {int(n_steps[i]) + 1})" if blew_up[i] else " (exploding)"
        line = f"{where_i}{labels[i]}{extra}: {advice[i]}; h = {h[i]:.4g}"
        if problem is not None and np.isfinite(lam[i]):
            line += (
                f", λmax = {lam[i]:.4g}, β/λmax = {crit[i]:.4g} (h is {ratio[i]:.3g} × the "
                f"limit); suggested h = {suggest[i]:.4g}"
            )
        lines.append(line)
    if B > 20:
        values, counts = np.unique(labels, return_counts=True)
        summary = ", ".join(f"{v}: {c}" for v, c in zip(values, counts, strict=True))
        lines.append(f"... {B - 20} more; all {B}: {summary}")
    shape = batch

    def out(a: np.ndarray) -> Any:
        return a.reshape(shape)[()]

    return Diagnosis(
        out(labels),
        out(advice),
        out(h),
        out(lam),
        out(crit),
        out(ratio),
        out(suggest),
        "\n".join(lines),
    )
