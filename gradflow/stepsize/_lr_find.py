"""The learning-rate range test (Smith 2017) with fastai's semantics, batched.

One run takes ``steps`` steps of the method with exponentially increasing step sizes,
each from where the previous one left off, records the loss after every step, smooths it
and stops when the smoothed loss has blown up.  The sweep is a step-size policy
(:class:`RangeTest`) run by :func:`gradflow.solve`, so minibatches, gradient counts and
divergence handling are those of any run.  Where the curve still falls steeply the
step size is useful; where it turns up the method has become unstable (for gradient
descent on a quadratic: ``h > 2/λmax``).  Every start of a batch runs its own test in the
same vectorised loop.

The default suggestion, :attr:`LRFindResult.suggestion`, is ``edge``: 0.9 of the
method's critical step ``β/λmax`` at the start (``λmax`` by Lanczos on the problem's
HVPs, deterministic whatever the minibatches), capped by the step at the smoothed
loss's minimum (where the sweep turned up, if it did so earlier than the linear limit
predicts).  fastai's ``valley`` sits orders of magnitude below it on smooth problems.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from gradflow._trajectory import Status
from gradflow._validation import (
    as_state_array,
    check_allocation,
    check_positive,
    check_real,
    check_step_count,
    check_unit_interval,
)
from gradflow.methods import Euler, Method
from gradflow.problems import Problem
from gradflow.stepsize._policy import Observation, StepSizePolicy, Verdict

__all__ = ["LRFindResult", "LRFindWarning", "RangeTest", "lr_find"]

#: fastai ``lr_find``: suggestions ignore the first ``steps // SKIP_START_DIV`` points
#: (the smoothing has not settled) and the last ``SKIP_END`` recorded ones (the blow-up).
SKIP_START_DIV = 10
SKIP_END = 5
#: fastai's ``minimum`` suggestion: the step size at the smoothed minimum divided by this.
MINIMUM_DIVISOR = 10.0
#: ``edge``: this fraction of the critical step ``β/λmax(θ0)``.  Measured in
#: tests/validation/test_lr_find_validation.py: after 200 steps of gradient descent it
#: reaches a loss within 1.25× of the best constant step on a dense grid on least
#: squares, logistic regression and the tanh MLP.
EDGE_FRACTION = 0.9
#: "never decreased": the smoothed loss never fell below its start by this fraction.
DECREASE = 1e-3


class LRFindWarning(UserWarning):
    """The range test could not bracket a step: it never diverged or never decreased.

    :func:`lr_find` also records it in :attr:`LRFindResult.verdict`; filter it with
    ``warnings.filterwarnings("ignore", category=gradflow.stepsize.LRFindWarning)``.
    """


@dataclass(frozen=True)
class LRFindResult:
    """Result of :func:`lr_find` for a batch of starts (batch shape ``batch``).

    Attributes
    ----------
    lrs : ndarray, shape (steps,)
        The swept step sizes, ``lrs[i] = start·(end/start)^(i/(steps - 1))``.
    losses : ndarray, shape (steps, *batch)
        ``losses[i]`` is the loss after the step with ``lrs[i]``; NaN after an
        element's test stopped.
    smoothed : ndarray, shape (steps, *batch)
        The debiased exponential moving average of ``losses`` (NaN after the stop).
    n_steps : ndarray of int, shape batch
        Steps each element took (the last is the one that tripped the stop, if any).
    diverged : ndarray of bool, shape batch
        Whether the element stopped on divergence before ``steps``.
    n_grad : ndarray of int, shape batch
        Gradient evaluations each element's test spent (minibatch gradients count one).
    minimum, steep, valley : float or ndarray of shape batch
        fastai's suggestions (NaN when too few points were recorded): ``minimum`` is
        the step size at the smallest smoothed loss divided by 10; ``steep`` the one
        where the smoothed loss falls fastest against ``log h``; ``valley`` fastai's
        default, a point about two thirds down the longest valley of the curve.
    edge : float or ndarray of shape batch
        ``0.9 β/λmax(θ0)`` capped by the step at the smoothed minimum (NaN for a method
        without a linear stability limit).
    suggestion : float or ndarray of shape batch
        The default: ``edge`` where it is defined, else ``minimum``.
    lambda_max, critical_stepsize : float or ndarray of shape batch
        ``λmax(∇²L(θ0))`` and the method's critical step ``β/λmax`` there (NaN without
        a linear stability limit: Adam, ...).
    above_limit : dict of str to bool or ndarray
        Per suggestion (``"minimum"``, ``"steep"``, ``"valley"``, ``"edge"``): whether
        it exceeds ``critical_stepsize``.
    verdict : str or ndarray of str, shape batch
        ``"ok"``; ``"never_diverged"`` (the sweep reached ``end_lr`` without blowing up:
        the suggestions may sit below the useful range, raise ``end_lr``); or
        ``"never_decreased"`` (the smoothed loss never fell below its start: lower
        ``start_lr``, or the start is already at a minimum).  Either also issues an
        :class:`LRFindWarning`.
    skip_start : int
        Points ignored at the start by the suggestions (``steps // 10``).
    problem, method : str
        Names.
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    n_steps: np.ndarray
    diverged: np.ndarray
    n_grad: np.ndarray
    minimum: Any
    steep: Any
    valley: Any
    edge: Any
    suggestion: Any
    lambda_max: Any
    critical_stepsize: Any
    above_limit: dict
    verdict: Any
    skip_start: int
    problem: str
    method: str

    def __str__(self) -> str:
        """Each suggestion beside ``β/λmax(θ0)`` (first start of a batch)."""

        def first(x: Any) -> float:
            return float(np.asarray(x, dtype=float).reshape(-1)[0])

        crit = first(self.critical_stepsize)
        lines = [
            f"LR range test, {self.method} on {self.problem}: "
            f"β/λmax(θ0) = {crit:.4g} (λmax = {first(self.lambda_max):.4g}); "
            f"verdict: {np.asarray(self.verdict).reshape(-1)[0]}"
        ]
        for name in ("edge", "minimum", "steep", "valley"):
            h = first(getattr(self, name))
            flag = (
                " ABOVE the limit"
                if bool(np.asarray(self.above_limit[name]).reshape(-1)[0])
                else ""
            )
            ratio = f"{h / crit:.4g} × the limit" if np.isfinite(crit) else "no limit"
            tag = " (default)" if name == "edge" and np.isfinite(h) else ""
            lines.append(f"  {name}{tag}: h = {h:.4g} ({ratio}){flag}")
        return "\n".join(lines)

    def plot(
        self,
        ax: Any = None,
        *,
        suggestions: bool = True,
        raw: bool = True,
        log_loss: bool | None = None,
    ) -> Any:
        """Loss against step size (log axis) for every start, with the suggestions.

        Draws, like fastai, the points the suggestions see (without the first
        ``steps // 10`` and the last 5 recorded).  matplotlib is imported here.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw on (default: a new figure).
        suggestions : bool, optional
            Mark ``minimum``, ``steep`` and ``valley`` on each smoothed curve.
        raw : bool, optional
            Also draw the unsmoothed losses (faint).
        log_loss : bool, optional
            Log scale for the loss; by default when every loss drawn is positive and
            they span more than two decades.

        Returns
        -------
        matplotlib Axes
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
        n_el = int(np.prod(self.n_steps.shape, dtype=np.int64))
        lrs = self.lrs
        smoothed = self.smoothed.reshape(lrs.size, n_el)
        losses = self.losses.reshape(lrs.size, n_el)
        ends = self.n_steps.reshape(n_el) - SKIP_END
        marks = {
            name: np.asarray(getattr(self, name), dtype=float).reshape(n_el) for name in _MARKERS
        }
        drawn = []
        for e in range(n_el):
            window = slice(self.skip_start, max(self.skip_start, ends[e]))
            x, y = lrs[window], smoothed[window, e]
            if not x.size:
                continue
            label = "smoothed loss" if n_el == 1 else f"start {e}"
            (line,) = ax.plot(x, y, lw=1.6, label=label)
            drawn.append(y)
            if raw:
                ax.plot(x, losses[window, e], lw=0.8, alpha=0.35, color=line.get_color())
                drawn.append(losses[window, e])
            if suggestions:
                _mark(ax, x, y, {name: value[e] for name, value in marks.items()}, line.get_color())
        if suggestions:
            # Neutral legend entries for the markers, after the curves.
            for name, style in _MARKERS.items():
                if np.isfinite(marks[name]).any():
                    ax.plot(
                        [], [], style, color="0.75", mec="black", mew=0.6, ls="none", label=name
                    )
        ax.set_xscale("log")
        if drawn:
            values = np.concatenate(drawn)
            values = values[np.isfinite(values)]
            if log_loss is None:
                log_loss = bool(
                    values.size and values.min() > 0 and values.max() > 100 * values.min()
                )
        if log_loss:
            ax.set_yscale("log")
        ax.set_xlabel("step size h (learning rate)")
        ax.set_ylabel("loss after the step")
        ax.set_title(f"LR range test: {self.method} on {self.problem}")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(frameon=False, fontsize="small")
        return ax


#: Marker of each suggestion in :meth:`LRFindResult.plot`.
_MARKERS = {"minimum": "v", "steep": "o", "valley": "*", "edge": "D"}


def _mark(ax: Any, x: np.ndarray, y: np.ndarray, values: dict[str, float], color: Any) -> None:
    """Mark the suggestions ``values`` on the smoothed curve ``(x, y)``."""
    for name, h in values.items():
        if not np.isfinite(h):
            continue
        at = np.interp(np.log(h), np.log(x), y)
        ax.plot(
            [h],
            [at],
            _MARKERS[name],
            ms=9 if name == "valley" else 7,
            color=color,
            mec="black",
            mew=0.6,
            zorder=3,
        )


def _starts(problem: Problem, theta0: Any, seed: Any) -> np.ndarray:
    """Initial states ``(*batch, d)`` from ``theta0``, or from ``problem.init(seed)``."""
    if theta0 is not None:
        if seed is not None:
            raise ValueError("give either theta0 or init_seed (it draws starts with problem.init)")
        return as_state_array(theta0, "theta0", problem.dim)
    init = getattr(problem, "init", None)
    if not callable(init):
        raise ValueError(
            f"theta0 is required: problem {problem.name!r} has no init(seed) to draw starts"
        )
    if isinstance(seed, Sequence) and not isinstance(seed, str):
        arr = np.stack([np.asarray(init(seed=s), dtype=np.float64) for s in seed])
    else:
        arr = np.asarray(init(seed=seed), dtype=np.float64)
    return as_state_array(arr, "theta0", problem.dim)


def _valley_index(smoothed: np.ndarray, length: np.ndarray) -> np.ndarray:
    """fastai's ``valley`` on every column of ``smoothed`` (valid rows ``< length``).

    fastai grows the longest decreasing subsequence ``lds[i]`` ending at each point
    (over all earlier points ``j`` with a larger loss) and keeps the first point where
    it is longest, with the subsequence's start taken when that point first became the
    longest; it suggests the point ``start + ⌊len/3⌋ + ⌊len/6⌋`` of that valley.  The
    inner loop over ``j`` is a running maximum here, so only ``i`` is a Python loop.
    """
    n, B = smoothed.shape
    cols = np.arange(B)
    lds = np.ones((n, B), dtype=np.int64)
    max_end = np.zeros(B, dtype=np.int64)
    max_start = np.zeros(B, dtype=np.int64)
    for i in range(1, n):
        live = i < length
        longer = np.where(smoothed[:i] > smoothed[i], lds[:i] + 1, 1)
        running = np.maximum.accumulate(longer, axis=0)
        final = running[-1]
        best = lds[max_end, cols]
        record = live & (final > best)
        first = np.argmax(running > best, axis=0)
        max_start = np.where(record, i - running[first, cols], max_start)
        max_end = np.where(record, i, max_end)
        lds[i] = np.where(live, final, 1)
    sections = (max_end - max_start) / 3
    idx = max_start + np.floor(sections).astype(np.int64) + np.floor(sections / 2).astype(np.int64)
    # fastai's start can be -1 (a valley from the first point), giving index -1, i.e.
    # the last point; clip instead.
    return np.clip(idx, 0, np.maximum(length - 1, 0))


def _suggest(
    lrs: np.ndarray, smoothed: np.ndarray, n_steps: np.ndarray, skip_start: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """fastai's minimum / steep / valley on rows ``[skip_start, n_steps - 5)`` per column."""
    B = smoothed.shape[1]
    length = np.maximum(n_steps - SKIP_END - skip_start, 0)
    width = int(length.max()) if B else 0
    minimum = np.full(B, np.nan)
    steep = np.full(B, np.nan)
    valley = np.full(B, np.nan)
    if width == 0:
        return minimum, steep, valley
    rows = np.arange(width)[:, None]
    valid = rows < length
    x = lrs[skip_start : skip_start + width]
    y = np.where(valid, smoothed[skip_start : skip_start + width], np.nan)
    has = length >= 1
    at_min = np.argmin(np.where(valid, y, np.inf), axis=0)
    minimum[has] = x[at_min[has]] / MINIMUM_DIVISOR
    if width >= 2:
        slope = np.diff(y, axis=0) / np.diff(np.log(x))[:, None]
        slope = np.where(valid[1:], slope, np.inf)
        two = length >= 2
        steep[two] = x[np.argmin(slope, axis=0)[two]]
    valley[has] = x[_valley_index(y, length)[has]]
    return minimum, steep, valley


class _RangeState(NamedTuple):
    average: np.ndarray  # (B,) the moving average a_i
    best: np.ndarray  # (B,) smallest debiased average so far
    lrs: np.ndarray  # (steps,) the sweep in the state's dtype
    SHARED = ("lrs",)


class RangeTest(StepSizePolicy):
    r"""The range test's sweep as a step-size policy (what :func:`lr_find` runs).

    Proposes ``lrs[k]`` at step ``k`` and, after each step, smooths the loss of the new
    state, ``a_i = β a_{i-1} + (1 - β) L_i``, ``s_i = a_i/(1 - β^{i+1})``; it stops an
    element once ``s_i - L* > diverge_factor·(min_{j<=i} s_j - L*)`` or ``s_i`` is not
    finite.

    Parameters
    ----------
    lrs : array_like, shape (steps,)
        The step sizes of the sweep, positive.
    smoothing : float
        ``β`` in ``[0, 1)``.
    diverge_factor : float
        Stop factor, ``> 1``.
    floor : float
        ``L*``, the loss the blow-up is measured from.

    References
    ----------
    L. N. Smith, "Cyclical learning rates for training neural networks", WACV 2017, §3.3.
    """

    def __init__(
        self, lrs: ArrayLike, smoothing: float, diverge_factor: float, floor: float
    ) -> None:
        self.lrs = np.asarray(lrs, dtype=np.float64)
        self.smoothing, self.diverge_factor, self.floor = smoothing, diverge_factor, floor

    def init(
        self, problem: Any, theta0: np.ndarray, batch_shape: tuple[int, ...], method: Any
    ) -> _RangeState:
        B = theta0.shape[0]
        return _RangeState(np.zeros(B), np.full(B, np.inf), self.lrs.astype(theta0.dtype))

    def propose(self, state: _RangeState, k: int) -> np.ndarray:
        return state.lrs[k : k + 1]

    def update(self, state: _RangeState, obs: Observation) -> tuple[_RangeState, Verdict]:
        beta, floor = self.smoothing, self.floor
        loss = np.asarray(obs.loss, dtype=np.float64)
        average = beta * state.average + (1.0 - beta) * loss
        smooth = average / (1.0 - beta**obs.k)
        best = np.minimum(state.best, smooth)
        stop = ~np.isfinite(smooth) | (smooth - floor > self.diverge_factor * (best - floor))
        verdict = Verdict(stop=stop) if stop.any() else Verdict()
        return _RangeState(average, best, state.lrs), verdict


def _is_count(value: Any) -> bool:
    """Whether ``value`` is an integer (not a bool); :func:`_sweep` checks it fully."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _sweep(
    problem: Problem, start_lr: Any, end_lr: Any, steps: Any, smoothing: Any, diverge_factor: Any
) -> RangeTest:
    """The validated sweep of :func:`lr_find`; both ends hit exactly."""
    start = check_positive(start_lr, "start_lr")
    end = check_real(end_lr, "end_lr")
    if end <= start:
        raise ValueError(f"end_lr must be > start_lr = {start}, got {end_lr!r}")
    n = check_step_count(steps, "steps", 2)
    check_allocation(n, 8, f"steps ({n} step sizes)")
    beta = check_unit_interval(smoothing, "smoothing")
    factor = check_real(diverge_factor, "diverge_factor", low=1.0, low_open=True)
    lrs = start * (end / start) ** (np.arange(n) / (n - 1))
    lrs[0], lrs[-1] = start, end
    floor = 0.0 if problem.minimum is None else problem.minimum
    return RangeTest(lrs, beta, factor, floor)


def _smooth(losses: np.ndarray, beta: float) -> np.ndarray:
    """The debiased moving average of the loss columns (NaN stays NaN)."""
    out = np.empty_like(losses)
    average = np.zeros(losses.shape[1])
    for i in range(losses.shape[0]):
        average = beta * average + (1.0 - beta) * losses[i]
        out[i] = average / (1.0 - beta ** (i + 1))
    return out


@functools.lru_cache(maxsize=64)
def _beta(method: Method) -> float:
    """The method's real stability limit (cached: a scan of its stability function)."""
    from gradflow.stability import real_stability_limit

    return real_stability_limit(method)


def _limit_at_start(
    problem: Problem, starts: np.ndarray, method: Method
) -> tuple[np.ndarray, np.ndarray]:
    """``λmax(∇²L(θ0))`` of every start and the method's ``β/λmax`` there (NaN for a
    method without a linear stability limit: Adam & co. have no preconditioner yet)."""
    from gradflow.curvature import eigenvalues

    B = starts.shape[0]
    try:
        beta = _beta(method)
    except TypeError:
        return np.full(B, np.nan), np.full(B, np.nan)
    finite = np.isfinite(starts).all(axis=-1)
    lam = np.full(B, np.nan)
    if finite.any():
        res = eigenvalues(problem, starts[finite].astype(np.float64), 1, tol=1e-6, seed=0)
        lam[finite] = res.values[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        crit = np.where(lam > 0, beta / lam, np.inf)
    return lam, np.where(np.isnan(lam), np.nan, crit)


def _verdict(smoothed: np.ndarray, n_steps: np.ndarray, diverged: np.ndarray) -> np.ndarray:
    """``"ok"``, ``"never_diverged"`` or ``"never_decreased"`` per column."""
    with np.errstate(all="ignore"):
        first = smoothed[0]
        low = np.nanmin(np.where(np.isfinite(smoothed), smoothed, np.nan), axis=0)
        scale = np.maximum(np.abs(first), np.finfo(float).tiny)
        fell = first - low > DECREASE * scale
    out = np.full(smoothed.shape[1], "ok", dtype="<U15")
    out[~diverged] = "never_diverged"
    out[~fell] = "never_decreased"
    return out


def _warn(verdict: np.ndarray, end_lr: float) -> None:
    import warnings

    for name, text in (
        ("never_decreased", "the smoothed loss never fell below its start: lower start_lr"),
        (
            "never_diverged",
            f"the sweep reached end_lr = {end_lr:g} without diverging: the suggestions may "
            "lie below the useful range (raise end_lr)",
        ),
    ):
        count = int(np.sum(verdict == name))
        if count:
            warnings.warn(
                f"lr_find: {count} of {verdict.size} start(s): {text}",
                LRFindWarning,
                stacklevel=3,
            )


def lr_find(
    problem: Problem,
    theta0: ArrayLike | None,
    method: Method | None = None,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    steps: int = 100,
    smoothing: float = 0.98,
    diverge_factor: float = 4.0,
    *,
    batch_size: int | None = None,
    seed: int | np.random.Generator | None = None,
    init_seed: int | Sequence[int] | None = None,
    progress: bool = False,
) -> LRFindResult:
    r"""Learning-rate range test: sweep the step size up and watch the loss.

    Step ``i = 0, ..., steps - 1`` takes one step of ``method`` with
    ``h_i = start_lr·(end_lr/start_lr)^(i/(steps - 1))`` from the state the previous
    step left (both ends hit exactly, as pytorch-lr-finder; fastai's ``i/steps``
    stops one ratio short of ``end_lr``), and records the loss after it.  The loss is
    smoothed by fastai's debiased moving average
    ``a_i = β a_{i-1} + (1 - β) L_i``, ``s_i = a_i/(1 - β^(i+1))``, and an element stops
    once ``s_i - L* > diverge_factor·(min_{j<=i} s_j - L*)`` or ``s_i`` is not finite,
    with ``L*`` the problem's known minimum value (``problem.minimum``) or 0 (fastai's
    test ``s_i > 4·best`` assumes a loss >= 0; measuring from ``L*`` keeps it meaningful
    for losses that can be negative).

    The suggestions look, as fastai's, at the smoothed curve without its first
    ``steps // 10`` and last 5 recorded points:

    * ``minimum``: the step size of the smallest smoothed loss divided by 10.  That step
      size is where the loss is about to blow up (for GD, already past ``2/λmax`` once
      the smoothing lag is counted), so fastai backs off by a decade; kept as fastai.
    * ``steep``: where the smoothed loss falls fastest against ``log h`` (the left end
      of the steepest segment).  Lightning takes the slope against ``h`` itself, which
      favours large steps (Lightning #21141); the log is what the plot shows.
    * ``valley``: fastai's default since 2.5: the longest decreasing run of the curve
      (its longest decreasing subsequence) and the point about 2/3 down it
      (``start + ⌊len/3⌋ + ⌊len/6⌋``).
    * ``edge``, the default :attr:`~LRFindResult.suggestion`: ``0.9 β/λmax(θ0)`` with
      the method's real stability limit ``β`` (2 for gradient descent) and ``λmax`` by
      Lanczos at the start, capped by the step at the smoothed minimum.  After 200
      steps of gradient descent it reaches a loss within 1.25× (asserted: 1.5×) of the
      best constant step on a dense grid on least squares, logistic regression and the
      tanh MLP (``tests/validation/test_lr_find_validation.py``), where ``valley`` is
      up to 240× worse; being read from the full-batch curvature, it is the same
      under minibatches.  For methods without a linear limit (Adam, ...) it is NaN
      and the suggestion is ``minimum``.

    Every suggestion is reported beside ``β/λmax(θ0)`` (``critical_stepsize``) with a
    flag when it exceeds it (``above_limit``; ``str(result)`` prints them).  When the
    sweep never diverged, or its smoothed loss never fell, the result's ``verdict``
    says so and an :class:`LRFindWarning` (a ``UserWarning``) is issued.

    Parameters
    ----------
    problem : Problem
    theta0 : array_like, shape (*batch, d), or None
        Starts; every leading axis is a batch axis, and each start runs its own test.
        ``None`` draws starts with ``problem.init(seed=init_seed)`` (problems that
        have it).
    method : Method, optional
        The optimiser (default ``Euler()``, gradient descent).  Momentum methods carry
        their velocity through the sweep, as in a training run.
    start_lr, end_lr : float, optional
        Ends of the sweep, ``0 < start_lr < end_lr`` (fastai's 1e-7 and 10).
    steps : int, optional
        Steps of the sweep, ``>= 2`` (default 100).
    smoothing : float, optional
        ``β`` in ``[0, 1)`` (default 0.98).
    diverge_factor : float, optional
        Stop factor, ``> 1`` (default 4).
    batch_size : int, optional
        Minibatch size for a finite-sum problem: each step's gradients are minibatch
        gradients, as in :func:`gradflow.solve` (the recorded loss is the full loss,
        which is what the smoothing would estimate).  Default: full-batch gradients.
    seed : int or numpy.random.Generator, optional
        Seed of the minibatches (only with ``batch_size``).
    init_seed : int or sequence of int, optional
        With ``theta0=None``: the seed of ``problem.init``, or several seeds (one start
        each, batch shape ``(len(init_seed),)``).
    progress : bool, default False
        Show the sweep's progress bar (that of :func:`gradflow.solve`; needs tqdm).

    Returns
    -------
    LRFindResult
        ``lrs``, ``losses``, ``smoothed`` (step axis first), ``n_steps``, ``diverged``,
        ``n_grad``,
        the suggestions ``minimum``, ``steep``, ``valley``, ``edge`` and the default
        ``suggestion`` (floats for a single start, arrays of the batch shape
        otherwise), ``lambda_max``, ``critical_stepsize``, ``above_limit``, ``verdict``
        and ``plot()``.

    Warns
    -----
    LRFindWarning
        When an element's sweep never diverged or its smoothed loss never decreased.

    Raises
    ------
    TypeError
        If ``problem`` or ``method`` has the wrong type, a number is not a real number
        (a bool, a string...), ``steps`` is not an integer, or ``theta0`` does not hold
        real numbers.
    ValueError
        If an argument is out of range or not finite, ``theta0`` has the wrong shape or
        is not finite, both or neither of ``theta0`` and a drawing ``problem.init``
        are available, or the ``steps + 1`` saved states would exceed
        :data:`gradflow._validation.MAX_ALLOCATION_BYTES` (the message gives the size).

    References
    ----------
    L. N. Smith, "Cyclical learning rates for training neural networks", WACV 2017, §3.3.
    J. Howard and S. Gugger, "fastai: a layered API for deep learning", Information 11,
    108, 2020 (``Learner.lr_find`` and its suggestion functions).
    J. M. Cohen, S. Kaur, Y. Li, J. Z. Kolter and A. Talwalkar, "Gradient descent on
    neural networks typically occurs at the edge of stability", ICLR 2021 (steps near
    ``2/λmax`` train well).

    Examples
    --------
    >>> import numpy as np
    >>> import gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 100.0], seed=0)      # 2/λmax = 0.02
    >>> res = gf.lr_find(p, np.ones(2))
    >>> bool(res.diverged), bool(res.valley < 0.02), bool(res.steep < 0.02)
    (True, True, True)
    >>> round(res.suggestion, 6), round(res.critical_stepsize, 6), str(res.verdict)
    (0.018, 0.02, 'ok')
    """
    from gradflow._solve import solve

    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a gradflow Problem, got {type(problem).__name__}")
    method = Euler() if method is None else method
    if not isinstance(method, Method):
        raise TypeError(f"method must be a gradflow Method, got {type(method).__name__}")
    arr = _starts(problem, theta0, init_seed)
    batch_shape = arr.shape[:-1]
    if _is_count(steps):  # the saved states (steps + 1, *batch, d), before the sweep
        check_allocation(
            float(steps + 1) * arr.size,
            arr.dtype.itemsize,
            f"steps ({steps + 1} saved states x {arr.size // arr.shape[-1]} starts"
            f" x d = {arr.shape[-1]})",
        )
    sweep = _sweep(problem, start_lr, end_lr, steps, smoothing, diverge_factor)
    n, beta, lrs = sweep.lrs.size, sweep.smoothing, sweep.lrs
    traj = solve(
        problem, arr, method, sweep, steps=n, batch_size=batch_size, seed=seed, progress=progress
    )
    B = int(np.prod(batch_shape, dtype=np.int64))
    status = traj.status.reshape(B)
    # A state that turned non-finite ends the test at that step (its loss is not finite).
    blown = (status == Status.DIVERGED.value) | (status == Status.FAILED.value)
    n_steps = traj.n_steps.reshape(B) + blown
    diverged = blown | (status == Status.STOPPED.value)
    # Saved column j is the state after j steps (held once an element stopped).
    saved = traj.loss.reshape(-1, B)[1:]
    losses = np.full((n, B), np.nan)
    losses[: saved.shape[0]] = saved
    step = np.arange(1, n + 1)[:, None]
    losses[step > traj.n_steps.reshape(B)] = np.nan
    smoothed = np.where(step <= n_steps, _smooth(losses, beta), np.nan)

    skip_start = n // SKIP_START_DIV
    with np.errstate(all="ignore"):
        minimum, steep, valley = _suggest(lrs, smoothed, n_steps, skip_start)
    lam, crit = _limit_at_start(problem, arr.reshape(B, -1), method)
    with np.errstate(all="ignore"):
        at_min = lrs[np.argmin(np.where(np.isfinite(smoothed), smoothed, np.inf), axis=0)]
        edge = np.minimum(EDGE_FRACTION * crit, at_min)
    suggestion = np.where(np.isfinite(edge), edge, minimum)
    verdict = _verdict(smoothed, n_steps, diverged)
    _warn(verdict, end_lr)

    def shaped(values: np.ndarray) -> Any:
        if batch_shape != ():
            return values.reshape(batch_shape)
        kind = {"U": str, "b": bool}.get(values.dtype.kind, float)
        return kind(values.reshape(-1)[0])

    with np.errstate(invalid="ignore"):
        above = {
            name: shaped(np.asarray(v) > crit)
            for name, v in (
                ("minimum", minimum),
                ("steep", steep),
                ("valley", valley),
                ("edge", edge),
            )
        }

    return LRFindResult(
        lrs=lrs,
        losses=losses.reshape(n, *batch_shape),
        smoothed=smoothed.reshape(n, *batch_shape),
        n_steps=n_steps.reshape(batch_shape),
        diverged=diverged.reshape(batch_shape),
        n_grad=traj.n_grad,
        minimum=shaped(minimum),
        steep=shaped(steep),
        valley=shaped(valley),
        edge=shaped(edge),
        suggestion=shaped(suggestion),
        lambda_max=shaped(lam),
        critical_stepsize=shaped(crit),
        above_limit=above,
        verdict=shaped(verdict),
        skip_start=skip_start,
        problem=problem.name,
        method=method.name,
    )
