"""The one driver loop: :func:`solve` runs any method with any step-size policy.

The batch is flattened to ``B`` rows on entry and restored on exit.  Elements that stop
(finish, diverge, hit a limit) are dropped from the working arrays, so the rest go on
at full speed and each element's arithmetic is exactly what it would be alone.  Under
a constant step the loop does no per-element Python work and no per-step work
proportional to the batch beyond the method's step and one sum (the divergence check).

The loop (:func:`_integrate`) reads: propose → land → step → update the policy → merge
rejected rows → check → advance → record → callback.  Its collaborators live in
:mod:`gradflow._driver`: the active rows and their compaction, the counting view of
the problem, the clock, the recorders and the divergence guard.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from gradflow._driver.clock import Clock
from gradflow._driver.counting import CountingProblem, GradientCounter
from gradflow._driver.guard import DivergenceGuard
from gradflow._driver.ledger import Ledger
from gradflow._driver.progress import Progress
from gradflow._driver.recorder import AtTimes, Every, Final, Recorder
from gradflow._rows import ActiveRows, compact, concat_rows, merge_rows
from gradflow._trajectory import Status, Trajectory
from gradflow._validation import (
    as_state_array,
    check_bool,
    check_callable,
    check_choice,
    check_integer,
    check_positive,
    check_real,
    check_step_count,
)
from gradflow.methods import Euler, Method
from gradflow.problems import MinibatchSampler, Problem
from gradflow.stepsize import Observation, StepSizePolicy, Verdict, as_policy

__all__ = ["StepInfo", "solve"]

#: Loss evaluation of the saved states is done in chunks of about this many numbers.
LOSS_CHUNK = 1 << 20

_SAVE_MODES = ("all", "final")

#: The verdict of a policy that does not observe (the default ``update``).
_ACCEPT = Verdict()


class StepInfo(NamedTuple):
    """What a ``callback`` receives after the initial state and after every step.

    Attributes
    ----------
    k : int
        Number of steps taken by the active elements.
    t : ndarray, shape batch
        Current time of every element (stopped ones keep their final time).
    theta : ndarray, shape (*batch, d)
        Current state of every element (a read-only view; copy to keep it).
    active : ndarray of bool, shape batch
        Elements still advancing.
    h : ndarray, shape batch
        The nominal step size of each element's next step (stopped ones: their last).
    method_state : NamedTuple
        The method's state of the active elements, rows in the order of
        ``np.flatnonzero(active)`` (read it, do not modify it): what an adaptive
        method's :meth:`~gradflow.methods.Method.next_effective_stepsize` needs (see
        :func:`gradflow.analysis.track_effective_stepsize`).
    """

    k: int
    t: np.ndarray
    theta: np.ndarray
    active: np.ndarray
    h: np.ndarray | None = None
    method_state: Any = None


# ---------------------------------------------------------------------------------------
# argument checking
# ---------------------------------------------------------------------------------------
def _check_theta0(theta0: ArrayLike, dim: int) -> np.ndarray:
    return as_state_array(theta0, "theta0", dim)


def _check_horizon(steps: Any, t_final: Any) -> tuple[int | None, float | None]:
    if (steps is None) == (t_final is None):
        raise ValueError(
            "give exactly one of steps (a number of steps) or t_final (an end time); "
            f"got steps={steps!r}, t_final={t_final!r}"
        )
    if steps is not None:
        return check_step_count(steps, "steps", 0), None
    return None, check_positive(t_final, "t_final")


def _check_save(
    save_every: Any, save_at: Any, save: Any, t_final: float | None
) -> tuple[str, int, np.ndarray | None]:
    given = [
        n
        for n, v in (("save_every", save_every), ("save_at", save_at), ("save", save))
        if v is not None
    ]
    if len(given) > 1:
        raise ValueError(f"give at most one of save_every, save_at, save; got {given}")
    if save is not None:
        save = check_choice(save, "save", _SAVE_MODES)
        return ("final", 0, None) if save == "final" else ("every", 1, None)
    if save_at is not None:
        if t_final is None:
            raise ValueError("save_at needs t_final: save times are times, not step counts")
        return "at", 0, _check_save_at(save_at, t_final)
    every = 1 if save_every is None else check_integer(save_every, "save_every", 1)
    return "every", every, None


def _check_save_at(save_at: Any, t_final: float) -> np.ndarray:
    """Save times: a non-empty, strictly increasing 1-D array in ``[0, t_final]``."""
    ts = check_real(save_at, "save_at", allow_array=True)
    if ts.ndim != 1:
        raise ValueError(f"save_at must be a non-empty 1-D array of times, got {ts.shape}")
    if np.any(np.diff(ts) <= 0):
        raise ValueError("save_at must be finite and strictly increasing")
    if ts[0] < 0 or ts[-1] > t_final:
        raise ValueError(f"save_at must lie in [0, t_final={t_final}], got [{ts[0]}, {ts[-1]}]")
    return ts


def _evaluate_loss(problem: Problem, theta: np.ndarray) -> np.ndarray:
    n, B, d = theta.shape
    loss = np.empty((n, B), dtype=theta.dtype)
    rows = max(1, LOSS_CHUNK // max(1, B * d))
    for start in range(0, n, rows):
        block = theta[start : start + rows]
        loss[start : start + rows] = problem.loss(block)
    return loss


def _merge(accepted: np.ndarray, new: Any, old: Any) -> Any:
    """The new state where accepted, else the old one (rejected rows retry)."""
    return new if accepted.all() else merge_rows(accepted, new, old)


# ---------------------------------------------------------------------------------------
# the driver
# ---------------------------------------------------------------------------------------
def solve(
    problem: Problem,
    theta0: ArrayLike,
    method: Method | None = None,
    stepsize: Any = None,
    *,
    steps: int | None = None,
    t_final: float | None = None,
    save_every: int | None = None,
    save_at: ArrayLike | None = None,
    save: str | None = None,
    max_steps: int | None = None,
    callback: Callable[[StepInfo], bool | None] | None = None,
    divergence_norm: float | None = None,
    batch_size: int | None = None,
    seed: int | np.random.Generator | None = None,
    shuffle: bool = False,
    progress: bool = False,
) -> Trajectory:
    r"""Integrate the gradient flow of ``problem`` from a batch of starts.

    Runs ``method`` (default :class:`~gradflow.methods.Euler`, i.e. gradient descent)
    with ``stepsize`` from every row of ``theta0`` at once, either for ``steps`` steps
    or up to time ``t_final``, and returns the saved states as a :class:`Trajectory`.

    Parameters
    ----------
    problem : Problem
        The loss landscape.
    theta0 : array_like, shape (*batch, d)
        Initial states; every leading axis is a batch axis.  Integer input becomes
        float64; float32 stays float32.
    method : Method, optional
        The integrator (default ``Euler()``).
    stepsize : float, array_like, callable or StepSizePolicy
        A positive step size; an array broadcastable to the batch shape (one step size
        per element: ``theta0`` of shape ``(n_h, n_ic, d)`` with ``hs[:, None]`` sweeps
        step sizes × starts in one call); a schedule ``k -> h_k`` of the 0-based step
        index; or a :class:`~gradflow.stepsize.StepSizePolicy` — e.g. an error
        controller (:mod:`gradflow.controllers`) or a rule (:mod:`gradflow.rules`).
        Under an adaptive policy each element keeps its own ``t`` and ``h``, rejected
        elements retry from their old state, and ``steps``, ``save_every`` and
        ``max_steps`` count driver iterations (accepted + rejected attempts); a column
        saved after a rejected attempt repeats the element's state.
    steps : int, optional
        Number of steps (exactly one of ``steps`` and ``t_final``).
    t_final : float, optional
        End time.  Each element steps until its own time reaches ``t_final``; a last
        step that would overshoot is shortened to end exactly there (a step ending
        within rounding of ``t_final`` is kept as is, so ``t_final = N h`` equals
        ``steps = N``).  An element whose time stops advancing (a zero step, or one
        below the rounding of ``t``) ends at once with status ``"stalled"``.
    save_every : int, optional
        Save every ``save_every``-th step (and always the last state).  The default
        when no save option is given is ``save_every=1``.
    save_at : array_like, optional
        Increasing times in ``[0, t_final]`` to save at (needs ``t_final``).  Steps are
        shortened to land exactly on them (no interpolation), which changes the step
        sequence only where a save time is not a multiple of the step.
    save : {"all", "final"}, optional
        ``"final"`` keeps only the last state, ``"all"`` every step.  Every saved point
        stores ``t``, ``h`` and ``step`` per element beside ``θ`` (``d + 3`` numbers):
        elements part ways as soon as one stops, lands on a save time or is rejected,
        and a column then holds each element's own time and step.
    max_steps : int, optional
        Cap on the steps of each element in a ``t_final`` run; elements that hit it stop
        with status ``"max_steps"``.
    callback : callable, optional
        ``callback(info: StepInfo)`` after the initial state and after every step;
        returning ``True`` stops the run (active elements get status ``"stopped"``).
    divergence_norm : float, optional
        An element diverges when ``‖θ‖₂`` exceeds this (or an entry is not finite),
        instead of the default rule (see Notes).
    batch_size : int or callable, optional
        Minibatch size ``B`` in ``[1, n_samples]`` for a finite-sum problem (one with
        ``per_example_grad``): every gradient the method evaluates in step ``k`` is the
        mean of ``B`` per-example gradients drawn without replacement, independently for
        every trajectory, as a pure function of ``(seed, k, element)`` (see
        :class:`gradflow.problems.MinibatchSampler`).  The method is unchanged — it is handed a
        minibatch view of the problem each step.  Saved losses, and the observations of
        step-size policies, use the full problem.  Default: full-batch gradients.

        A schedule of the step index grows (or shrinks) the batch: any gradflow
        schedule (``gradflow.schedules.multistep(128.0, [500, 600], gamma=5.0)``) or a
        callable ``k -> B_k``, evaluated on the same index ``k`` as a ``stepsize``
        schedule (driver iterations) and rounded to the nearest integer, halves up
        (``⌊B_k + 1/2⌋``).  Every trajectory uses ``B_k`` at step ``k``; a value
        outside ``[1, n_samples]`` raises a ``ValueError`` naming ``batch_size`` and
        the step when that step comes (step 0: before the run).  The draws depend on
        ``(seed, k, B_k)`` only: a constant schedule gives the bits of the int.
        Per-epoch accounting: after ``k`` steps an element has seen
        ``Σ_{j<k} B_j`` examples, ``Σ_{j<k} B_j / n_samples`` epochs (the saved
        ``step`` gives ``k``); ``n_steps`` counts the parameter updates.
    seed : int or numpy.random.Generator, optional
        Seed of the minibatches (only with ``batch_size``); same seed, same bits.
    shuffle : bool, default False
        With ``batch_size``: random reshuffling instead of independent draws — every
        epoch of ``m = n_samples / batch_size`` steps each trajectory takes a new
        permutation of the examples and uses its ``m`` consecutive slices, so every
        example enters once per epoch (``batch_size`` must divide ``n_samples``).
    progress : bool, default False
        Show a progress bar on standard error: steps done (time, for a ``t_final``
        run), elements active and diverged.  Needs tqdm (``pip install
        "gradflow-ode[progress]"``); refreshed at most every 0.2 s.

    Returns
    -------
    Trajectory
        Saved ``t``, ``theta``, ``loss``, ``h`` and ``step`` of shape ``(n_saved, *batch,
        ...)``, and per element ``status``, ``n_grad``, ``n_steps`` and ``n_rejected``.

    Raises
    ------
    TypeError
        If ``problem``, ``method``, ``stepsize`` or ``callback`` has the wrong type; if
        ``theta0`` or ``save_at`` does not hold real numbers; if ``t_final`` or
        ``divergence_norm`` is not a real number (a bool, a string...), or ``steps``,
        ``save_every`` or ``max_steps`` not an integer, or ``batch_size`` neither an
        integer nor a schedule (or its schedule returns no real number).
    ValueError
        If ``theta0`` has the wrong shape, is empty or non-finite; if a step size is not
        positive or does not broadcast to the batch; if ``t_final`` or
        ``divergence_norm`` is not finite and positive; if not exactly one of ``steps``
        and ``t_final`` is given; if the save options are unknown or conflicting; if
        ``batch_size`` (or its schedule, at some step) is outside ``[1, n_samples]`` (or
        does not divide it under ``shuffle``, which needs an int), or ``seed`` or
        ``shuffle=True`` is given without it.
        (``TypeError`` if ``batch_size`` is given for a problem without per-example
        gradients.)

    Notes
    -----
    Failure is data.  An element diverges when its state has a non-finite entry, or has
    blown up: an entry beyond ``10^8 · max(‖θ_0‖_∞, 1)`` (its start's scale) while its
    loss is not below its start's.  The second rule catches the slow blow-up of a step
    just past the stability limit (growth ``ρ^k`` with ``ρ`` slightly above 1 passes
    ``10^8`` in ``8 ln 10 / ln ρ`` steps, long before an overflow) and never flags a
    converging run, whose loss falls however far its minimiser lies and whose transient
    growth stays orders of magnitude below the threshold.  ``divergence_norm`` replaces
    it by a ball.  The state is checked every 16 steps (and at every saved step); the
    failing step is found by replaying from the last check.  A diverged element is
    marked ``"diverged"`` at that step and keeps its last state inside, and so is an
    element whose saved loss is not finite; the others are untouched, bit for bit.
    Every zoo problem computes each row independently of the batch: batched = single
    runs bit for bit on any CPU
    (a row of a batched run equals that row run alone).  A :class:`~gradflow.Problem`
    built by the user with BLAS calls (``theta @ A``) keeps whatever their kernel does:
    BLAS may round a row differently depending on the batch size, by a few ulp.  No
    numpy floating-point warning reaches the caller.  Memory is O(saved points × batch
    × d).

    References
    ----------
    E. Hairer, S. P. Nørsett and G. Wanner, *Solving Ordinary Differential Equations I*,
    2nd ed., Springer, 1993, §II.4 (step-size bookkeeping of a one-step integrator).

    S. L. Smith, P.-J. Kindermans, C. Ying and Q. V. Le, "Don't decay the learning rate,
    increase the batch size", ICLR 2018 (batch-size schedules).

    Examples
    --------
    Gradient descent on a quadratic over three step sizes × two starts:

    >>> import numpy as np
    >>> import gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 10.0], seed=0)
    >>> hs = np.array([0.05, 0.19, 0.21])             # 2/λmax = 0.2
    >>> theta0 = np.ones((3, 2, 2))
    >>> traj = gf.solve(p, theta0, stepsize=hs[:, None], steps=10_000, save="final")
    >>> traj.status[:, 0].tolist()
    ['ok', 'ok', 'diverged']

    Minibatch SGD whose batch grows five-fold at steps 250 and 270 (10 epochs at B = 4,
    4 at B = 20, then full batches):

    >>> X = np.random.default_rng(0).standard_normal((100, 3))
    >>> ls = gf.problems.least_squares(X, X @ np.ones(3))
    >>> grow = gf.schedules.multistep(4.0, [250, 270], gamma=5.0)   # B = 4, 20, 100
    >>> traj = gf.solve(ls, np.zeros(3), gf.methods.SGD(), 0.1, steps=271,
    ...                 batch_size=grow, seed=0, save="final")
    >>> int(traj.n_steps), round(float(traj.loss[-1]), 6)
    (271, 0.0)
    """
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a gradflow Problem, got {type(problem).__name__}")
    method = Euler() if method is None else method
    if not isinstance(method, Method):
        raise TypeError(f"method must be a gradflow Method, got {type(method).__name__}")
    if stepsize is None:
        raise TypeError("stepsize is required: a positive float, array, schedule or policy")
    if callback is not None:
        check_callable(callback, "callback")
    arr = _check_theta0(theta0, problem.dim)
    horizon = _check_horizon(steps, t_final)
    save_mode = _check_save(save_every, save_at, save, horizon[1])
    cap = None if max_steps is None else check_step_count(max_steps, "max_steps", 1)
    if divergence_norm is not None:
        divergence_norm = check_positive(divergence_norm, "divergence_norm")
    progress = check_bool(progress, "progress")
    policy = as_policy(stepsize)
    sampler = None
    if batch_size is not None:
        n_elements = math.prod(arr.shape[:-1])
        sampler = MinibatchSampler(problem, batch_size, seed, n_elements, shuffle)
    elif seed is not None:
        raise ValueError("seed seeds the minibatches: give batch_size with it")
    elif check_bool(shuffle, "shuffle"):
        raise ValueError("shuffle orders the minibatches: give batch_size with it")
    # The library's arithmetic is quiet; the user's callback runs under the user's state.
    user_errstate = np.geterr()
    with np.errstate(all="ignore"):
        run = _Run(
            problem,
            arr,
            method,
            policy,
            horizon,
            save_mode,
            cap,
            callback,
            divergence_norm,
            sampler,
        )
        run.user_errstate = user_errstate
        if progress:
            run.progress = Progress(*horizon, desc=f"solve {problem.name}")
        try:
            _integrate(run)
        finally:
            if run.progress is not None:
                run.progress.close(run)
        return run.result()


def _integrate(run: _Run) -> None:
    """The loop: propose → land → step → update → merge → check → advance → record."""
    stopped = run.notify()
    while run.rows.size and not stopped and not run.at_horizon():
        result = _quiet_stretch(run)
        if result is None:
            k = run.k
            h_nominal = run.propose()
            h, land, stalled = run.clock.land(h_nominal, k)
            result = run.method.step(run.step_problem(k), run.state, run.for_method(h))
            run.view.release()
            _conclude(run, result, h_nominal, h, land, stalled)
        else:
            _conclude(run, result, run.h_nominal, run.h_nominal, None, None)
        if run.progress is not None:
            run.progress.update(run)
        stopped = run.notify()
    run.finish(stopped)


def _conclude(
    run: _Run,
    result: Any,
    h_nominal: np.ndarray,
    h: np.ndarray,
    land: np.ndarray | None,
    stalled: np.ndarray | None,
) -> None:
    """Everything after a method's step: update → merge → advance → check → record."""
    k = run.k
    verdict = run.update_policy(result, h)
    accepted = verdict.accepted
    new_state = result.state if accepted is None else _merge(accepted, result.state, run.state)
    landed = run.clock.advance(k, h_nominal, h, accepted, land)
    ends = _Ends.of(run, land, landed, verdict, stalled)
    run.advance(accepted)
    run.guard.record(h, h_nominal, run.clock.state, accepted)
    run.check(new_state, result.failed, force=ends is not None)
    if ends is not None:
        run.end(ends)
    run.recorder.after_step(run)


def _quiet_stretch(run: _Run) -> Any:
    """Take the quiet steps before the next due check in a tight loop.

    A step is quiet when nothing but the method has work in it: the policy keeps its
    proposal (the very same array) and does not observe (its ``update`` is the default,
    which accepts everything), no callback, no minibatches, no save, no landing, no check
    due.  For such a step the general loop's bookkeeping is the identity — the clock keeps
    its anchors, the recorder writes nothing — except the guard's history, which is
    extended here.  So the stretch is bit for bit the general loop, without its per-step
    Python cost.  A batch much larger than :data:`BLOCK_BYTES` is stepped block by block
    (see :func:`_block_rows`).

    Returns
    -------
    StepResult or None
        The result of a step that reported failed rows (the caller concludes it through
        the general path), else None.  The step that reaches the check is left to the
        general path.
    """
    n = run.quiet_steps()
    policy, pstate, h_nominal, k = run.policy, run.pstate, run.h_nominal, run.k
    count = 0
    while count < n and policy.propose(pstate, k + count) is h_nominal:
        count += 1
    if count == 0:
        return None
    h = run.for_method(h_nominal)
    size = _block_rows(run)
    stepped = None if size is None else _blocked_steps(run, h, count, size)
    if stepped is None:
        stepped = _steps(run.method, run.view, run.state, h, count)
    run.view.release()
    state, taken, pending = stepped
    run.state, run.k = state, k + taken
    run.guard.history.extend([(h_nominal, h_nominal, run.clock.state, None)] * taken)
    return pending


#: Bytes of the rows of ``θ`` that a quiet stretch of a large batch steps at a time:
#: a step's temporaries then stay in cache (a 10⁶-start Rosenbrock batch runs about
#: 2.5× faster per element stepped in blocks of this size than whole).
BLOCK_BYTES = 1 << 20


def _block_rows(run: _Run) -> int | None:
    """Rows per block for a quiet stretch, or None to step the batch whole: blocks only
    for methods whose rows are independent (each row's step depends on that row alone,
    so stepping the batch in blocks gives the same bits) and batches of several blocks."""
    if not run.method.rows_independent:
        return None
    size = max(256, BLOCK_BYTES // (run.d * run.dtype.itemsize))
    return size if run.rows.size >= 2 * size else None


def _steps(method: Method, view: Any, state: Any, h: np.ndarray, count: int) -> tuple:
    """``count`` steps of ``method`` from ``state``; stops early at a step that reports
    failed rows.  Returns ``(state, steps taken, that step's result or None)``."""
    for taken in range(count):
        result = method.step(view, state, h)
        view.release()
        if result.failed is not None:
            return state, taken, result
        state = result.state
    return state, count, None


def _blocked_steps(run: _Run, h: np.ndarray, count: int, size: int) -> tuple | None:
    """:func:`_steps` on the active rows in blocks of ``size`` rows, each block all
    ``count`` steps in turn; None (nothing counted, nothing changed) if a block's step
    reported failed rows or the blocks' evaluation counts differ, and the caller then
    steps the batch whole."""
    method, state, rows = run.method, run.state, run.rows.size
    counter = run.counter.for_blocks()
    parts, uniform = [], set()
    for start in range(0, rows, size):
        block = slice(start, min(start + size, rows))
        counter.uniform = 0
        view = run.view.block(block, counter)
        part = compact(state, block)
        view.adopt_cache(part[0], state[0])
        part, _, pending = _steps(method, view, part, h if h.shape[0] == 1 else h[block], count)
        if pending is not None:
            return None
        parts.append(part)
        uniform.add(counter.uniform)
    if len(uniform) != 1:
        return None
    run.counter.absorb(counter, uniform.pop())
    return concat_rows(parts), count, None


#: Statuses of elements that ended without a failure.
_FINISHED = [s.value for s in (Status.OK, Status.MAX_STEPS, Status.STOPPED, Status.STALLED)]


class _Ends(NamedTuple):
    """Elements a step ends or lands (element ids: the check may drop rows first)."""

    too_small: np.ndarray | None
    stopped: np.ndarray | None
    landed: np.ndarray | None
    stalled: np.ndarray | None

    @classmethod
    def of(
        cls,
        run: _Run,
        land: np.ndarray | None,
        landed: np.ndarray | None,
        verdict: Verdict,
        stalled: np.ndarray | None,
    ) -> _Ends | None:
        """None when the step ends nothing and lands nowhere (the common case)."""
        if (
            land is None
            and stalled is None
            and verdict.too_small is None
            and (verdict.stop is None)
        ):
            return None
        too_small, stop = run.ids(verdict.too_small), run.ids(verdict.stop)
        return cls(too_small, stop, run.ids(landed), run.ids(stalled))


def _recorder(
    save_mode: tuple, steps: int | None, stops: Any, B: int, d: int, dtype: Any
) -> Recorder:
    mode, every, times = save_mode
    if mode == "final":
        return Final(B, d, dtype)
    if mode == "at":
        return AtTimes(times, stops, B, d, dtype)
    return Every(every, steps, B, d, dtype)


class _Run:
    """The state of one :func:`solve` call: the method and policy states and the
    collaborators that keep the rows, times, counts, saves and checks."""

    def __init__(
        self,
        problem: Problem,
        arr: np.ndarray,
        method: Method,
        policy: StepSizePolicy,
        horizon: tuple[int | None, float | None],
        save_mode: tuple,
        cap: int | None,
        callback: Callable[[StepInfo], bool | None] | None,
        divergence_norm: float | None,
        sampler: MinibatchSampler | None,
    ) -> None:
        self.problem, self.method, self.policy, self.sampler = problem, method, policy, sampler
        self.batch_shape, self.d, dtype = arr.shape[:-1], arr.shape[-1], arr.dtype
        self.dtype = dtype
        B = math.prod(self.batch_shape)
        theta0 = np.array(arr.reshape(B, self.d), dtype=dtype, copy=True)
        self.steps, t_end = horizon
        self.cap, self.callback = cap, callback
        self.user_errstate: dict[str, str] = {}  # numpy's error state of the caller
        self.progress: Progress | None = None
        self.rows = ActiveRows(B)
        self.counter = GradientCounter(B)
        self.view = CountingProblem(problem, self.rows, self.counter)
        self.ledger = Ledger(theta0)
        self.rejected: np.ndarray | None = None  # per active row, once a step is rejected
        self.k = 0
        stops = None
        if t_end is not None:
            extra = save_mode[2] if save_mode[0] == "at" else np.empty(0)
            stops = np.unique(np.append(extra, t_end))
        self.clock = Clock(B, stops, float(np.finfo(dtype).eps), dtype)
        self.recorder = _recorder(save_mode, self.steps, stops, B, self.d, dtype)
        self.state = method.init(self.view, theta0)
        self.pstate = policy.init(self.view, theta0, self.batch_shape, method)
        self.h_nominal = self._proposal(0)
        self.proposed_at = 0  # the step h_nominal was proposed for
        self.clock.start(self.h_nominal)
        sparse = callback is None and not method.checks_every_step
        # A policy that keeps the default update never observes, rejects or stops.
        self.observes = type(policy).update is not StepSizePolicy.update
        self.quiet = sparse and sampler is None and not self.observes
        # (A function of the ledger and the rows, not a method of the run: the guard
        # must not hold the run, or a finished run waits for the cyclic collector.)
        ledger, rows = self.ledger, self.rows
        self.guard = DivergenceGuard(
            divergence_norm, sparse, theta0, problem.loss, lambda r: ledger.theta[rows.index[r]]
        )
        self._snapshot()
        self.recorder.begin(self)

    # -- what the loop asks ------------------------------------------------------------
    def at_horizon(self) -> bool:
        return self.k == self.steps or self.k == self.cap

    def _proposal(self, k: int) -> np.ndarray:
        h = self.policy.propose(self.pstate, k)
        return h if h.dtype == self.dtype else h.astype(self.dtype)

    def propose(self) -> np.ndarray:
        if self.proposed_at != self.k:
            self.h_nominal = self._proposal(self.k)
            self.proposed_at = self.k
        return self.h_nominal

    def row_h(self) -> np.ndarray:
        """Nominal step sizes of the active rows, shape ``(rows,)``."""
        h, n = self.h_nominal, self.rows.size
        return h if h.shape[0] == n else np.repeat(h, n)

    def row_steps(self) -> Any:
        """Accepted steps of the active rows (an int while none was rejected)."""
        return self.k if self.rejected is None else self.k - self.rejected

    def quiet_steps(self) -> int:
        """How many of the next steps are quiet (see :func:`_quiet_stretch`): up to the
        step before the next due check (which also falls on every save and the
        horizon), and none that could land on a stop or stall."""
        if not self.quiet:
            return 0
        n = self.next_check - 1 - self.k
        if n > 0 and self.clock.timed:
            n = min(n, self.clock.quiet_steps(self.h_nominal, self.k))
        return n

    @staticmethod
    def for_method(h: np.ndarray) -> np.ndarray:
        """``h`` as the method takes it: ``(rows, 1)`` or ``(1,)``."""
        return h[:, None] if h.shape[0] > 1 else h

    def step_problem(self, k: int, rows: np.ndarray | None = None) -> Any:
        """The problem step ``k`` hands the method (for the active rows ``rows``): the
        counting view, or that of the minibatch view of step ``k``."""
        if self.sampler is None:
            return self.view if rows is None else self.problem
        ids = self.rows.index if rows is None else self.rows.index[rows]
        minibatch = self.sampler.view(k, ids)
        return (
            minibatch if rows is not None else CountingProblem(minibatch, self.rows, self.counter)
        )

    def update_policy(self, result: Any, h: np.ndarray) -> Verdict:
        if not self.observes:
            return _ACCEPT
        state = result.state
        obs = Observation(
            self.k + 1, state[0], None, None, self.state[0], result.error, h, None, self.view, state
        )
        self.pstate, verdict = self.policy.update(self.pstate, obs)
        return verdict

    def advance(self, accepted: np.ndarray | None) -> None:
        if accepted is not None and not accepted.all():
            if self.rejected is None:
                self.rejected = np.zeros(self.rows.size, dtype=np.int64)
            self.rejected = self.rejected + ~accepted
        self.k += 1

    # -- checks and stops --------------------------------------------------------------
    def check(self, new_state: Any, failed: np.ndarray | None, force: bool) -> None:
        """Adopt ``new_state``, stopping diverged or failed rows where a check is due."""
        self.state = new_state
        if not (
            force or failed is not None or self.k >= self.next_check or self.rejected is not None
        ):
            return
        bad = self.guard.bad_rows(new_state[0])
        if failed is not None and failed.any():
            bad = failed if bad is None else bad | failed
        if bad is not None:
            self._stop_failed(bad)
        self._snapshot()

    def _snapshot(self) -> None:
        """Take the divergence snapshot and work out the step of the next due check: the
        guard's interval, the horizon, or a step whose state will be saved."""
        k = self.k
        self.guard.snapshot(k, self.state, self.clock.state, self.counter.uniform)
        due = k + self.guard.interval
        for limit in (self.steps, self.cap, self.recorder.next_write(k)):
            if limit is not None and k < limit < due:
                due = limit
        self.next_check = due

    def _stop_failed(self, bad: np.ndarray) -> None:
        failure = self.guard.replay(bad, self.method, self.step_problem)
        steps = failure.step
        rejected = 0
        if self.rejected is not None:
            # (Rows with rejections are checked every step: the failing step is the last.)
            rejected = self.rejected[bad]
            steps = steps - rejected
        status = np.where(failure.failed, Status.FAILED.value, Status.DIVERGED.value)
        ids = self.rows.index[bad]
        self.counter.settle(ids, failure.grads)
        self.ledger.close(ids, status, steps, rejected, failure.t, failure.theta, failure.h)
        self.recorder.closed(ids, failure.t, failure.theta, failure.h, steps)
        self._drop(bad)

    def ids(self, rows: np.ndarray | None) -> np.ndarray | None:
        """Element ids of the active rows ``rows`` (a mask), or None for none."""
        return None if rows is None or not rows.any() else self.rows.index[rows]

    def end(self, ends: _Ends) -> None:
        """Stop the elements a step gave up on or ended; handle those that landed."""
        self.stop_ids(ends.too_small, Status.STEP_TOO_SMALL)
        self.stop_ids(ends.stopped, Status.STOPPED)
        self.stop_ids(ends.stalled, Status.STALLED)
        self.land(ends.landed)

    def stop_ids(self, ids: np.ndarray | None, status: Status) -> None:
        """Stop the elements ``ids`` that are still active, as they are now."""
        if ids is not None:
            self.stop_rows(self.rows.mask_of(ids), status)

    def stop_rows(self, rows: np.ndarray | None, status: Status) -> None:
        """Stop the active rows ``rows`` (a mask, or None for none) as they are now."""
        if rows is None or not rows.any():
            return
        mask = rows
        if rows.all():
            # (Every row, as at the end of a run: slices, not gathers and scatters.)
            rows = slice(None)
            ids = rows if self.rows.complete else self.rows.index
        else:
            ids = self.rows.index[rows]
        steps = self.row_steps()
        steps = steps if isinstance(steps, int) else steps[rows]
        rejected = 0 if self.rejected is None else self.rejected[rows]
        t, theta, h = self.clock.now(self.k)[rows], self.state[0][rows], self.row_h()[rows]
        self.counter.settle(ids)
        self.ledger.close(ids, status, steps, rejected, t, theta, h)
        self.recorder.closed(ids, t, theta, h, steps)
        self._drop(mask)

    def _drop(self, rows: np.ndarray) -> None:
        keep = self.rows.drop(rows)
        if not self.rows.size:
            return  # the run is over: nothing reads the working arrays again
        old = self.state
        self.state = compact(self.state, keep)
        self.view.compact(keep, old[0], self.state[0])
        self.pstate = compact(self.pstate, keep)
        if self.h_nominal.shape[0] > 1:
            self.h_nominal = self.h_nominal[keep]
        self.clock.compact(keep)
        self.guard.compact(keep)
        if self.rejected is not None:
            self.rejected = self.rejected[keep]
        self._snapshot()

    def land(self, ids: np.ndarray | None) -> None:
        """Elements ``ids`` landed on a stop: saved at a save time, finished at t_final."""
        if ids is None:
            return
        landed = self.rows.mask_of(ids)
        if not landed.any():
            return
        self.recorder.landed(self, landed)
        self.stop_rows(self.clock.passed(landed), Status.OK)

    def notify(self) -> bool:
        if self.callback is None:
            return False
        ledger = self.ledger
        theta, t, h = ledger.theta.copy(), ledger.t.copy(), ledger.h.copy()
        active = np.zeros(theta.shape[0], dtype=bool)
        if self.rows.size:
            theta[self.rows.index] = self.state[0]
            t[self.rows.index] = self.clock.now(self.k)
            h[self.rows.index] = self.propose()
            active[self.rows.index] = True
        theta.flags.writeable = False
        info = StepInfo(
            self.k,
            t.reshape(self.batch_shape),
            theta.reshape(*self.batch_shape, self.d),
            active.reshape(self.batch_shape),
            h.reshape(self.batch_shape),
            self.state,
        )
        with np.errstate(**self.user_errstate):
            return bool(self.callback(info))

    def finish(self, stopped: bool) -> None:
        """Elements still active: finished (steps reached), capped or stopped."""
        if self.rows.size:
            if stopped:
                reason = Status.STOPPED
            elif self.steps is not None:
                reason = Status.OK
            else:
                reason = Status.MAX_STEPS
            self.stop_rows(np.ones(self.rows.size, dtype=bool), reason)
        self.recorder.finish(self)

    def result(self) -> Trajectory:
        t, theta, h, step = self.recorder.columns.trimmed()
        loss = _evaluate_loss(self.problem, theta)
        shape, n, ledger = self.batch_shape, t.shape[0], self.ledger
        # A saved loss that is not finite is never 'ok' (the state overflowed the loss
        # before the state itself).
        finite = np.isfinite(loss).all(axis=0)
        if not finite.all():
            blown = ~finite & np.isin(ledger.status, _FINISHED)
            ledger.status[blown] = Status.DIVERGED.value
        return Trajectory(
            t=t.reshape(n, *shape),
            theta=theta.reshape(n, *shape, self.d),
            loss=loss.reshape(n, *shape),
            h=h.reshape(n, *shape),
            step=step.reshape(n, *shape),
            status=ledger.status.reshape(shape),
            n_grad=self.counter.totals.reshape(shape),
            n_steps=ledger.n_steps.reshape(shape),
            n_rejected=ledger.n_rejected.reshape(shape),
            method=self.method.name,
            problem=self.problem.name,
        )
