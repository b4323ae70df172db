"""The one driver loop: :func:`solve` runs any method with any step-size policy.

The batch is flattened to ``B`` rows on entry and restored on exit.  Elements that stop
(finish, diverge, hit a limit) are dropped from the working arrays, so the rest go on
at full speed and each element's arithmetic is exactly what it would be alone.  Under
a constant step the loop does no per-element Python work and no per-step work
proportional to the batch beyond the method's step and one dot product (the
divergence check, a sum over the batch).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from gradflow._validation import check_step_count
from gradflow.methods.base import Method
from gradflow.methods.euler import Euler
from gradflow.problems.minibatch import MinibatchSampler
from gradflow.problems.problem import Problem
from gradflow.stepsize.policy import Observation, as_policy
from gradflow.trajectory import STATUS_DTYPE, Status, Trajectory

__all__ = ["StepInfo", "solve"]

#: Two times closer than ``LANDING_RELATIVE * h + LANDING_ULPS * eps * |t|`` are taken as
#: equal when a step lands on a save time or ``t_final``: a step of ``h`` that ends that
#: close is not shortened (so ``t_final = N h`` reproduces ``steps = N`` bit for bit),
#: and no sliver step is taken to cover the rounding of accumulated times.
LANDING_RELATIVE = 1e-9
LANDING_ULPS = 16.0

#: Steps between divergence checks when nothing is saved or handed out in between.
CHECK_INTERVAL = 16

#: Loss evaluation of the saved states is done in chunks of about this many numbers.
LOSS_CHUNK = 1 << 20

_SAVE_MODES = ("all", "final")


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
    """

    k: int
    t: np.ndarray
    theta: np.ndarray
    active: np.ndarray


# ---------------------------------------------------------------------------------------
# argument checking
# ---------------------------------------------------------------------------------------
def _check_theta0(theta0: ArrayLike, dim: int) -> np.ndarray:
    try:
        arr = np.asarray(theta0)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"theta0 must be an array of shape (*batch, {dim}): {exc}") from None
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise TypeError(f"theta0 must hold real numbers, got dtype {arr.dtype}")
    if not np.issubdtype(arr.dtype, np.floating) or arr.dtype == np.float16:
        arr = arr.astype(np.float64)
    if arr.ndim == 0 or arr.shape[-1] != dim:
        raise ValueError(
            f"theta0 must have shape (*batch, {dim}) for a problem of dim {dim}, got {arr.shape}"
        )
    if arr.size == 0:
        raise ValueError(f"theta0 must not be an empty batch, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("theta0 must be finite; it contains NaN or inf")
    return arr


def _check_horizon(steps: Any, t_final: Any) -> tuple[int | None, float | None]:
    if (steps is None) == (t_final is None):
        raise ValueError(
            "give exactly one of steps (a number of steps) or t_final (an end time); "
            f"got steps={steps!r}, t_final={t_final!r}"
        )
    if steps is not None:
        return check_step_count(steps, "steps", 0), None
    try:
        t_end = float(t_final)
    except (TypeError, ValueError):
        raise ValueError(f"t_final must be a positive finite number, got {t_final!r}") from None
    if not (math.isfinite(t_end) and t_end > 0):
        raise ValueError(f"t_final must be a positive finite number, got {t_final!r}")
    return None, t_end


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
        if save not in _SAVE_MODES:
            raise ValueError(f"save must be one of {_SAVE_MODES}, got {save!r}")
        return ("final", 0, None) if save == "final" else ("every", 1, None)
    if save_at is not None:
        if t_final is None:
            raise ValueError("save_at needs t_final: save times are times, not step counts")
        ts = np.asarray(save_at, dtype=float)
        if ts.ndim != 1 or ts.size == 0:
            raise ValueError(f"save_at must be a non-empty 1-D array of times, got {ts.shape}")
        if not np.all(np.isfinite(ts)) or np.any(np.diff(ts) <= 0):
            raise ValueError("save_at must be finite and strictly increasing")
        if ts[0] < 0 or ts[-1] > t_final:
            raise ValueError(f"save_at must lie in [0, t_final={t_final}], got [{ts[0]}, {ts[-1]}]")
        return "at", 0, ts
    every = 1 if save_every is None else check_step_count(save_every, "save_every", 1)
    return "every", every, None


# ---------------------------------------------------------------------------------------
# saved output
# ---------------------------------------------------------------------------------------
class _Saves:
    """Preallocated (or, when the count is unknown, geometrically grown) output."""

    def __init__(self, n: int, B: int, d: int, dtype: np.dtype) -> None:
        self.B, self.d, self.dtype = B, d, dtype
        self.t = np.zeros((n, B))
        self.theta = np.zeros((n, B, d), dtype=dtype)
        self.h = np.zeros((n, B), dtype=dtype)
        self.step = np.zeros((n, B), dtype=np.int64)
        self.count = 0

    def _ensure(self, n: int) -> None:
        if n <= self.t.shape[0]:
            return
        size = max(n, 2 * self.t.shape[0], 16)
        for name in ("t", "theta", "h", "step"):
            old = getattr(self, name)
            new = np.zeros((size, *old.shape[1:]), dtype=old.dtype)
            new[: old.shape[0]] = old
            setattr(self, name, new)

    def column(self, j: int) -> None:
        self._ensure(j + 1)
        self.count = max(self.count, j + 1)

    def trimmed(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        n = self.count
        return self.t[:n], self.theta[:n], self.h[:n], self.step[:n]


def _merge(accepted: np.ndarray, new: Any, old: Any) -> Any:
    """Field by field: the new state where accepted, else the old one."""
    fields = []
    for n, o in zip(new, old, strict=True):
        mask = accepted.reshape(accepted.shape + (1,) * (np.ndim(n) - 1))
        fields.append(np.where(mask, n, o))
    return type(new)(*fields)


def _evaluate_loss(problem: Problem, theta: np.ndarray) -> np.ndarray:
    n, B, d = theta.shape
    loss = np.empty((n, B), dtype=theta.dtype)
    rows = max(1, LOSS_CHUNK // max(1, B * d))
    for start in range(0, n, rows):
        block = theta[start : start + rows]
        loss[start : start + rows] = problem.loss(block)
    return loss


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
        ``steps = N``).
    save_every : int, optional
        Save every ``save_every``-th step (and always the last state).  The default
        when no save option is given is ``save_every=1``.
    save_at : array_like, optional
        Increasing times in ``[0, t_final]`` to save at (needs ``t_final``).  Steps are
        shortened to land exactly on them (no interpolation), which changes the step
        sequence only where a save time is not a multiple of the step.
    save : {"all", "final"}, optional
        ``"final"`` keeps only the last state, ``"all"`` every step.
    max_steps : int, optional
        Cap on the steps of each element in a ``t_final`` run; elements that hit it stop
        with status ``"max_steps"``.
    callback : callable, optional
        ``callback(info: StepInfo)`` after the initial state and after every step;
        returning ``True`` stops the run (active elements get status ``"stopped"``).
    divergence_norm : float, optional
        An element diverges when ``‖θ‖₂`` exceeds this.  By default it diverges when an
        entry of ``θ`` becomes non-finite (overflow or NaN).
    batch_size : int, optional
        Minibatch size ``B`` in ``[1, n_samples]`` for a finite-sum problem (one with
        ``per_example_grad``): every gradient the method evaluates in step ``k`` is the
        mean of ``B`` per-example gradients drawn without replacement, independently for
        every trajectory, as a pure function of ``(seed, k, element)`` (see
        :mod:`gradflow.problems.minibatch`).  The method is unchanged — it is handed a
        minibatch view of the problem each step.  Saved losses, and the observations of
        step-size policies, use the full problem.  Default: full-batch gradients.
    seed : int or numpy.random.Generator, optional
        Seed of the minibatches (only with ``batch_size``); same seed, same bits.

    Returns
    -------
    Trajectory
        Saved ``t``, ``theta``, ``loss``, ``h`` and ``step`` of shape ``(n_saved, *batch,
        ...)``, and per element ``status``, ``n_grad``, ``n_steps`` and ``n_rejected``.

    Raises
    ------
    TypeError
        If ``problem``, ``method``, ``stepsize`` or ``callback`` has the wrong type.
    ValueError
        If ``theta0`` has the wrong shape, is empty or non-finite; if a step size is not
        positive or does not broadcast to the batch; if not exactly one of ``steps``
        and ``t_final`` is given; if the save options are unknown or conflicting; if
        ``batch_size`` is outside ``[1, n_samples]`` or ``seed`` is given without it.
        (``TypeError`` if ``batch_size`` is given for a problem without per-example
        gradients.)

    Notes
    -----
    Failure is data: an element whose state turns non-finite (or leaves the ball
    ``‖θ‖₂ <= divergence_norm``) is marked ``"diverged"`` at that step and keeps its last
    state inside; the others are untouched, bit for bit.  Every zoo problem computes
    each row independently of the batch: batched = single runs bit for bit on any CPU
    (a row of a batched run equals that row run alone).  A :class:`~gradflow.Problem`
    built by the user with BLAS calls (``theta @ A``) keeps whatever their kernel does:
    BLAS may round a row differently depending on the batch size, by a few ulp.  No
    numpy floating-point warning reaches the caller.  Memory is O(saved points × batch
    × d).

    References
    ----------
    E. Hairer, S. P. Nørsett and G. Wanner, *Solving Ordinary Differential Equations I*,
    2nd ed., Springer, 1993, §II.4 (step-size bookkeeping of a one-step integrator).

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
    """
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a gradflow Problem, got {type(problem).__name__}")
    method = Euler() if method is None else method
    if not isinstance(method, Method):
        raise TypeError(f"method must be a gradflow Method, got {type(method).__name__}")
    if stepsize is None:
        raise TypeError("stepsize is required: a positive float, array, schedule or policy")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {type(callback).__name__}")
    arr = _check_theta0(theta0, problem.dim)
    n_steps_req, t_end = _check_horizon(steps, t_final)
    mode, every, save_times = _check_save(save_every, save_at, save, t_end)
    cap = None if max_steps is None else check_step_count(max_steps, "max_steps", 1)
    if divergence_norm is not None:
        divergence_norm = float(divergence_norm)
        if not divergence_norm > 0:
            raise ValueError(f"divergence_norm must be > 0, got {divergence_norm}")
    policy = as_policy(stepsize)
    sampler = None
    if batch_size is not None:
        n_elements = int(np.prod(arr.shape[:-1], dtype=np.int64))
        sampler = MinibatchSampler(problem, batch_size, seed, n_elements)
    elif seed is not None:
        raise ValueError("seed seeds the minibatches: give batch_size with it")
    with np.errstate(all="ignore"):
        run = _Run(
            problem,
            arr,
            method,
            policy,
            n_steps_req,
            t_end,
            mode,
            every,
            save_times,
            cap,
            callback,
            divergence_norm,
            sampler,
        )
        return run.execute()


class _Run:
    """The mutable state of one :func:`solve` call (kept out of the public function)."""

    def __init__(
        self,
        problem: Problem,
        arr: np.ndarray,
        method: Method,
        policy: Any,
        n_steps_req: int | None,
        t_end: float | None,
        mode: str,
        every: int,
        save_times: np.ndarray | None,
        cap: int | None,
        callback: Callable[[StepInfo], bool | None] | None,
        divergence_norm: float | None,
        sampler: MinibatchSampler | None = None,
    ) -> None:
        self.problem, self.method, self.policy = problem, method, policy
        self.sampler = sampler
        self.batch_shape = arr.shape[:-1]
        self.d = arr.shape[-1]
        self.dtype = arr.dtype
        self.B0 = int(np.prod(self.batch_shape, dtype=np.int64))
        self.theta0 = np.array(arr.reshape(self.B0, self.d), dtype=self.dtype, copy=True)
        self.n_steps_req, self.t_end = n_steps_req, t_end
        self.mode, self.every, self.save_times = mode, every, save_times
        self.cap, self.callback = cap, callback
        self.limit2 = None if divergence_norm is None else divergence_norm**2
        self.eps = float(np.finfo(self.dtype).eps)

    # -- helpers -------------------------------------------------------------------------
    def _row_h(self, h: np.ndarray) -> np.ndarray:
        """Nominal step sizes of the active rows, shape (B,)."""
        return np.broadcast_to(h, (self.active.size,))

    def _step_problem(self, k: int, rows: np.ndarray | None = None) -> Problem:
        """The problem step ``k`` hands the method: the full one, or the minibatch view
        of the active rows (``rows`` selects among them, for a replay)."""
        if self.sampler is None:
            return self.problem
        original = self.active if rows is None else self.active[rows]
        return self.sampler.view(k, original)

    def _current_t(self, k: int) -> np.ndarray:
        if self.policy.constant:
            return self.t_anchor + (k - self.k_anchor) * self.h_nominal.astype(float)
        return self.t_acc

    def _write(
        self, j: int, k: int, t_rows: np.ndarray, h_rows: np.ndarray, rows: np.ndarray | None = None
    ) -> None:
        """Write active rows (all, or those selected by ``rows``) into column j."""
        s = self.saves
        s.column(j)
        theta = self.state[0]
        steps: Any = k if self.accepted_count is None else self.accepted_count
        if rows is None:
            if self.all_active:
                s.theta[j], s.t[j], s.h[j], s.step[j] = theta, t_rows, h_rows, steps
                return
            idx = self.active
        else:
            idx = self.active[rows]
            theta, t_rows, h_rows = theta[rows], t_rows[rows], h_rows[rows]
            if self.accepted_count is not None:
                steps = steps[rows]
        s.theta[j, idx], s.t[j, idx], s.h[j, idx], s.step[j, idx] = theta, t_rows, h_rows, steps

    def _write_column(self, j: int, k: int) -> None:
        """Column j holds every element: active rows now, stopped rows as they ended."""
        s = self.saves
        s.column(j)
        if not self.all_active:
            s.theta[j], s.t[j], s.h[j], s.step[j] = (
                self.held_theta,
                self.held_t,
                self.held_h,
                self.n_steps,
            )
        if self.active.size:
            self._write(j, k, self._current_t(k), self._row_h(self.h_nominal))

    def _stop(
        self,
        rows: np.ndarray,
        status: Status | np.ndarray,
        k: int | np.ndarray,
        t_rows: np.ndarray,
        theta_rows: np.ndarray,
        h_rows: np.ndarray,
    ) -> None:
        """Record the end of the active rows ``rows`` (a boolean mask) and drop them.

        ``status`` is one :class:`Status` or an array of status values, one per row.
        """
        idx = self.active[rows]
        self.status[idx] = status.value if isinstance(status, Status) else status
        self.n_steps[idx] = k
        if self.accepted_count is not None:
            # Per-element counts: accepted steps, not driver iterations.
            k = self.accepted_count[rows]
            self.n_steps[idx] = k
            self.n_rejected[idx] = self.rejected_count[rows]
        self.n_grad[idx] += self.grads_uniform
        self.held_theta[idx] = theta_rows
        self.held_t[idx] = t_rows
        self.held_h[idx] = h_rows
        if self.mode == "final":
            s = self.saves
            s.theta[0, idx], s.t[0, idx], s.h[0, idx], s.step[0, idx] = (
                theta_rows,
                t_rows,
                h_rows,
                k,
            )
        keep = ~rows
        self.active = self.active[keep]
        self.all_active = False
        self.state = type(self.state)(*(f[keep] for f in self.state))
        # Policy fields of length 1 are shared by all elements and stay as they are.
        n = keep.size
        self.pstate = type(self.pstate)(*(f[keep] if f.shape[0] == n else f for f in self.pstate))
        if self.h_nominal.shape[0] > 1:
            self.h_nominal = self.h_nominal[keep]
        if self.policy.constant:
            self.t_anchor = self.t_anchor[keep]
            self.k_anchor = self.k_anchor[keep]
        else:
            self.t_acc = self.t_acc[keep]
        if self.stop_idx is not None:
            self.stop_idx = self.stop_idx[keep]
        if self.accepted_count is not None:
            self.accepted_count = self.accepted_count[keep]
            self.rejected_count = self.rejected_count[keep]

    def _notify(self, k: int) -> bool:
        if self.callback is None:
            return False
        theta = self.held_theta.copy()
        t = self.held_t.copy()
        active = np.zeros(self.B0, dtype=bool)
        if self.active.size:
            theta[self.active] = self.state[0]
            t[self.active] = self._current_t(k)
            active[self.active] = True
        theta.flags.writeable = False
        info = StepInfo(
            k,
            t.reshape(self.batch_shape),
            theta.reshape(*self.batch_shape, self.d),
            active.reshape(self.batch_shape),
        )
        return bool(self.callback(info))

    # -- the loop ------------------------------------------------------------------------
    def execute(self) -> Trajectory:
        problem, method, policy = self.problem, self.method, self.policy
        B0, d = self.B0, self.d
        self.state = method.init(problem, self.theta0)
        if getattr(policy, "uses_method", False):
            self.pstate = policy.init(problem, self.theta0, self.batch_shape, method=method)
        else:
            self.pstate = policy.init(problem, self.theta0, self.batch_shape)
        self.active = np.arange(B0)
        self.all_active = True
        self.status = np.full(B0, Status.OK.value, dtype=STATUS_DTYPE)
        self.n_steps = np.zeros(B0, dtype=np.int64)
        self.n_grad = np.full(B0, method.init_grads + policy.init_grads, dtype=np.int64)
        self.n_rejected = np.zeros(B0, dtype=np.int64)
        # Adaptive policies accept and reject per element: count both per active row.
        self.accepted_count = np.zeros(B0, dtype=np.int64) if policy.adaptive else None
        self.rejected_count = np.zeros(B0, dtype=np.int64) if policy.adaptive else None
        self.grads_uniform = 0  # gradient evaluations common to every active row so far
        self.held_theta = np.array(self.theta0, copy=True)
        self.held_t = np.zeros(B0)
        self.held_h = np.zeros(B0, dtype=self.dtype)
        self.t_anchor = np.zeros(B0)
        self.k_anchor = np.zeros(B0, dtype=np.int64)
        self.t_acc = np.zeros(B0)

        # Stops: the save times and t_final, where steps must land exactly.
        timed = self.t_end is not None
        self.stop_idx = None
        if timed:
            extra = self.save_times if self.mode == "at" else np.empty(0)
            stops = np.unique(np.append(extra, self.t_end))
            save_col = np.full(stops.size, -1)
            if self.mode == "at":
                save_col[np.searchsorted(stops, self.save_times)] = np.arange(self.save_times.size)
            self.stop_idx = np.zeros(B0, dtype=np.int64)

        if self.mode == "final":
            n_cols = 1
        elif self.mode == "at":
            n_cols = self.save_times.size
        elif self.n_steps_req is not None:
            n = self.n_steps_req
            n_cols = n // self.every + 1 + (n % self.every != 0)
        else:
            n_cols = 16
        self.saves = _Saves(n_cols, B0, d, self.dtype)
        if self.mode == "final":
            self.saves.column(0)

        k = 0
        self.h_nominal = policy.propose(self.pstate, 0).astype(self.dtype, copy=False)
        # Saves of the initial state.
        if self.mode == "every":
            self._write_column(0, 0)
            col = 1
        if self.mode == "at" and stops[0] == 0.0:
            self._write(int(save_col[0]), 0, np.zeros(B0), self._row_h(self.h_nominal))
            self.stop_idx += 1
        stopped = self._notify(0)

        dtype = self.dtype
        n_req = self.n_steps_req
        # Divergence is checked every CHECK_INTERVAL steps, and at every step whose
        # state is written or handed out.  A non-finite entry stays non-finite under
        # any update θ + Δ, so a sparse check misses nothing; the exact step is then
        # found by replaying the failed rows from the last checked state.  A norm ball
        # is not absorbing, and a callback sees every state: both check every step, as
        # do methods that ask to and adaptive policies (whose rejections a replay would
        # have to repeat).  A step that reports failed elements is checked too.
        sparse = (
            self.limit2 is None
            and self.callback is None
            and not method.checks_every_step
            and not policy.adaptive
        )
        check_every = CHECK_INTERVAL if sparse else 1
        self._snapshot(k)
        while self.active.size and not stopped:
            if n_req is not None and k == n_req:
                break
            if self.cap is not None and k == self.cap:
                break
            if k > 0:
                self.h_nominal = policy.propose(self.pstate, k).astype(dtype, copy=False)
            h = self.h_nominal
            land = None
            if timed:
                t_now = self._current_t(k)
                stop_t = stops[self.stop_idx]
                h64 = self._row_h(h).astype(float)
                gap = stop_t - t_now
                slack = LANDING_RELATIVE * h64 + LANDING_ULPS * self.eps * np.abs(stop_t)
                land = h64 >= gap - slack
                if land.any():
                    shorten = land & (h64 > gap + slack)
                    if shorten.any():
                        h = np.where(shorten, gap, h64).astype(dtype)
                else:
                    land = None
            self.h_history.append((h, self.h_nominal))
            result = method.step(
                self._step_problem(k), self.state, h[:, None] if h.shape[0] > 1 else h
            )
            varying_grads = isinstance(result.n_grad, np.ndarray)
            if varying_grads:
                self.n_grad[self.active] += result.n_grad
            else:
                self.grads_uniform += result.n_grad
            accepted = too_small = None
            if not policy.stateless:
                accepted, too_small = self._consult_policy(k, h, result)
                if accepted is not None and not accepted.all():
                    # Rejected elements keep their old state and retry.
                    result = result._replace(state=_merge(accepted, result.state, self.state))
                    if land is not None:
                        land = land & accepted
            if not policy.constant:
                h_used = h.astype(float)
                if accepted is not None:
                    h_used = np.where(accepted, h_used, 0.0)
                self.t_acc = self.t_acc + h_used
            k += 1
            writes = self.mode == "every" and k % self.every == 0
            if (
                k - self.snap_k >= check_every
                or land is not None
                or writes
                or varying_grads
                or result.failed is not None
                or k == n_req
                or k == self.cap
            ):
                bad = self._bad_rows(result.state[0])
                if result.failed is not None and result.failed.any():
                    bad = result.failed if bad is None else bad | result.failed
                if bad is not None:
                    self._replay_divergence(bad, result.state)
                    if land is not None:
                        land = land[~bad]
                    if not self.active.size:
                        break
                else:
                    self.state = result.state
                self._snapshot(k)
            else:
                self.state = result.state
            if too_small is not None and too_small.any():
                self._stop(
                    too_small,
                    Status.STEP_TOO_SMALL,
                    k,
                    self._current_t(k)[too_small],
                    self.state[0][too_small],
                    self._row_h(self.h_nominal)[too_small],
                )
                if land is not None:
                    land = land[~too_small]
                if not self.active.size:
                    break

            if land is not None and land.any():
                landed_t = stops[self.stop_idx[land]]
                if policy.constant:
                    self.t_anchor[land] = landed_t
                    self.k_anchor[land] = k
                else:
                    self.t_acc[land] = landed_t
                if self.mode == "at":
                    cols = save_col[self.stop_idx]
                    hits = land & (cols >= 0)
                    if hits.any():
                        t_rows = self._current_t(k)
                        h_rows = self._row_h(self.h_nominal)
                        for j in np.unique(cols[hits]):
                            self._write(int(j), k, t_rows, h_rows, rows=hits & (cols == j))
                self.stop_idx[land] += 1
                done = self.stop_idx == stops.size
                if done.any():
                    self._stop(
                        done,
                        Status.OK,
                        k,
                        self._current_t(k)[done],
                        self.state[0][done],
                        self._row_h(self.h_nominal)[done],
                    )
            if self.mode == "every" and k % self.every == 0:
                self._write_column(col, k)
                col += 1
            stopped = self._notify(k)

        # Elements still active: finished (steps reached), capped or stopped.
        if self.active.size:
            if stopped:
                reason = Status.STOPPED
            elif n_req is not None:
                reason = Status.OK
            else:
                reason = Status.MAX_STEPS
            if self.mode == "every" and k % self.every != 0:
                self._write_column(col, k)
                col += 1
            everyone = np.ones(self.active.size, dtype=bool)
            self._stop(
                everyone, reason, k, self._current_t(k), self.state[0], self._row_h(self.h_nominal)
            )
        elif self.mode == "every" and k % self.every != 0:
            self._write_column(col, k)
            col += 1
        if self.mode == "at":
            self._fill_missed_saves()
        return self._result()

    def _consult_policy(
        self, k: int, h: np.ndarray, result: Any
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Tell the policy about step ``k + 1``; returns (accepted, too_small) masks."""
        policy, problem = self.policy, self.problem
        theta_new = result.state[0]
        loss = problem.loss(theta_new) if policy.needs_loss else None
        grad = None
        if policy.needs_grad:
            grad = problem.grad(theta_new)
            self.grads_uniform += 1
        self.grads_uniform += policy.extra_grads_per_step
        obs = Observation(
            k + 1, theta_new, loss, True, self.state[0], result.error, self._row_h(h), grad
        )
        if not policy.adaptive:
            self.pstate = policy.observe(self.pstate, obs)
            return None, None
        verdict = policy.review(self.pstate, obs)
        self.pstate = verdict.state
        accepted = np.asarray(verdict.accepted, dtype=bool)
        self.accepted_count += accepted
        self.rejected_count += ~accepted
        return accepted, verdict.too_small

    def _bad_rows(self, theta: np.ndarray) -> np.ndarray | None:
        """Rows that diverged (mask over the active rows), or None.

        One global reduction decides; rows are inspected only when it trips.  No BLAS:
        a threaded dot product stalls when the cores are busy.
        """
        if self.limit2 is None:
            if np.isfinite(theta.sum()):
                return None
            bad = ~np.isfinite(theta).all(axis=-1)
        else:
            if np.square(theta).sum() <= self.limit2:
                return None
            bad = ~(np.square(theta).sum(axis=-1) <= self.limit2)
        return bad if bad.any() else None

    def _snapshot(self, k: int) -> None:
        """Remember the last checked state (states are never modified in place)."""
        self.snap_k = k
        self.snap_state = self.state
        self.snap_grads = self.grads_uniform
        self.snap_t = self._current_t(k).copy() if not self.policy.constant else None
        self.h_history = []

    def _replay_divergence(self, bad: np.ndarray, new_state: Any) -> None:
        """Find the step at which each row of ``bad`` diverged (or failed) and stop it.

        The rows are re-run from the last checked state with the step sizes the run
        used; each row's arithmetic is the same as in the batch, so the kept state (the
        last one inside) is bit for bit what a check at every step would keep.  The
        other rows continue from ``new_state``.
        """
        method = self.method
        rows = np.flatnonzero(bad)
        n = rows.size
        sub = type(self.snap_state)(*(f[rows] for f in self.snap_state))
        if self.policy.constant:
            t_rows = self._current_t(self.snap_k)[rows]
        else:
            t_rows = self.snap_t[rows]
        grads = np.full(n, self.snap_grads, dtype=np.int64)
        kept_k = np.full(n, -1, dtype=np.int64)
        kept_theta = np.empty((n, self.d), dtype=self.dtype)
        kept_t = np.empty(n)
        kept_h = np.empty(n, dtype=self.dtype)
        kept_grads = np.empty(n, dtype=np.int64)
        alive = np.ones(n, dtype=bool)
        failed_rows = np.zeros(n, dtype=bool)
        for j, (h, h_nominal) in enumerate(self.h_history):
            h_rows = h[rows] if h.shape[0] > 1 else np.broadcast_to(h, (n,))
            result = method.step(self._step_problem(self.snap_k + j, rows), sub, h_rows[:, None])
            if not isinstance(result.n_grad, np.ndarray):
                # (Per-row counts were added by the main loop, which then checks
                # every step, so only uniform counts are replayed.)
                grads = grads + result.n_grad
            found = self._bad_rows(result.state[0])
            if result.failed is not None and result.failed.any():
                failed_rows[alive & result.failed] = True
                found = result.failed if found is None else found | result.failed
            now_bad = None if found is None else alive & found
            if now_bad is not None and now_bad.any():
                kept_k[now_bad] = self.snap_k + j
                kept_theta[now_bad] = sub[0][now_bad]
                kept_t[now_bad] = t_rows[now_bad]
                nominal = np.broadcast_to(h_nominal, (self.active.size,))[rows]
                kept_h[now_bad] = nominal[now_bad]
                kept_grads[now_bad] = grads[now_bad]
                alive &= ~now_bad
                if not alive.any():
                    break
            sub = result.state
            t_rows = t_rows + h_rows.astype(float)
        if alive.any():  # pragma: no cover - the replay is deterministic
            raise RuntimeError("divergence replay did not reproduce the failure")
        if self.policy.constant:
            # Same formula as _current_t, so the time is the one a dense check keeps.
            h_rows = np.broadcast_to(self.h_nominal, (self.active.size,))[rows]
            kept_t = self.t_anchor[rows] + (kept_k - self.k_anchor[rows]) * h_rows.astype(float)
        idx = self.active[rows]
        self.n_grad[idx] += kept_grads - self.grads_uniform
        if self.accepted_count is not None:
            # (Adaptive runs check every step: the failed step was the last one counted.)
            self.accepted_count[rows] -= 1
        status = np.where(failed_rows, Status.FAILED.value, Status.DIVERGED.value)
        self._stop(bad, status, kept_k, kept_t, kept_theta, kept_h)
        keep = ~bad
        self.state = type(new_state)(*(f[keep] for f in new_state))

    def _fill_missed_saves(self) -> None:
        """Save times an element never reached hold its final state and time."""
        s = self.saves
        s.column(self.save_times.size - 1)
        stop_times = self.held_t
        for j, tj in enumerate(self.save_times):
            missed = stop_times < tj - LANDING_ULPS * self.eps * max(abs(tj), 1.0)
            if missed.any():
                s.theta[j, missed] = self.held_theta[missed]
                s.t[j, missed] = self.held_t[missed]
                s.h[j, missed] = self.held_h[missed]
                s.step[j, missed] = self.n_steps[missed]

    def _result(self) -> Trajectory:
        t, theta, h, step = self.saves.trimmed()
        loss = _evaluate_loss(self.problem, theta)
        shape = self.batch_shape
        n = t.shape[0]
        return Trajectory(
            t=t.reshape(n, *shape),
            theta=theta.reshape(n, *shape, self.d),
            loss=loss.reshape(n, *shape),
            h=h.reshape(n, *shape),
            step=step.reshape(n, *shape),
            status=self.status.reshape(shape),
            n_grad=self.n_grad.reshape(shape),
            n_steps=self.n_steps.reshape(shape),
            n_rejected=self.n_rejected.reshape(shape),
            method=self.method.name,
            problem=self.problem.name,
        )
