"""Sweeps beyond one process: :func:`sweep` runs :func:`gradflow.solve` on Dask, by chunks.

The batch is flattened and cut into chunks of consecutive elements; each chunk is one
Dask task that calls :func:`gradflow.solve` on its rows, and the chunks' trajectories
are concatenated back into one :class:`~gradflow.Trajectory`.  Because every zoo problem
computes each row independently of the batch (see :mod:`gradflow.problems`) and the
driver stops, checks and replays every element on its own, a chunk's rows are the same
bits as those rows of a single call.  What couples elements is only the saved columns
of ``save_every`` / ``save="all"`` runs: a run saves as long as one of its elements is
active and later columns repeat a stopped element's last state, so a chunk whose
elements all stopped early saved fewer columns; it is padded with its last column,
which is exactly what the single call holds there.

Serialisation: the problem, method and step-size policy travel to the workers as one
``cloudpickle`` payload (cloudpickle comes with ``distributed``).  Zoo and ``from_sympy``
problems pickle as their construction call (plain :mod:`pickle` takes them too);
cloudpickle also takes a user's local closures and lambdas
(``Problem(loss=lambda ...)``) by value, where plain :mod:`pickle` refuses them, and it is
what Dask itself falls back on; pickling one payload up front turns an unpicklable
problem into a ``TypeError`` before any cluster starts.  Workers need the same gradflow
version importable.

Memory allocation in a worker: Dask's nanny starts its workers with
``MALLOC_TRIM_THRESHOLD_=65536`` (to hand freed memory back to the OS), which on glibc
also freezes the ``mmap`` threshold at 128 KiB, so every numpy temporary above it is a
fresh ``mmap``, zero-filled page by page: ``solve`` then runs 3-4x slower in a worker
than in a plain process (measured in ``benchmarks/README.md``, "Sweeps on Dask").  While
chunks run, a worker's heap is given glibc's usual room (``mallopt``); the worker's
settings are restored and the memory trimmed when its last chunk ends.

Fault tolerance is Dask's: every task's inputs stay in the scheduler's graph (the
payload is a task, never scattered data), so the chunks of a worker that dies are rerun
elsewhere, and the result is the same.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import math
import os
import pickle
import platform
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from gradflow._broadcast import per_element
from gradflow._driver.progress import progress_bar
from gradflow._optional import require
from gradflow._solve import _check_horizon, _check_save
from gradflow._trajectory import Status, Trajectory
from gradflow._validation import as_state_array, check_bool, check_integer, check_positive
from gradflow.methods import Euler, Method
from gradflow.problems import Problem
from gradflow.stepsize import Clip, ConstantStep, Join, Product, ScheduledStep, as_policy

__all__ = ["sweep"]

#: ``chunks="auto"``: about this many chunks per worker thread, so that a slow or lost
#: chunk delays the end by a fraction of a worker's share (Dask's guidance: tasks of
#: about a second or more, several per thread).
CHUNKS_PER_THREAD = 4

#: Share of a worker's memory limit a chunk may use per thread: Dask pauses a worker
#: at 80 % of its limit ("distributed.worker.memory.pause").
MEMORY_FRACTION = 0.8

#: Working arrays of a chunk besides its saved output, in copies of its ``(rows, d)``
#: state: start, ledger, method state, gradient, new state, divergence snapshot and
#: temporaries of the update, plus two per gradient of a step.  With ``ROW_BYTES`` this
#: bounds the measured peak of a worker (Euler on Rosenbrock, 125,000 rows: 92 MiB over
#: the idle worker, estimated 107 MiB; see ``benchmarks/README.md``, "Sweeps on Dask").
WORKING_COPIES = 16

#: Per-row bookkeeping of a chunk in bytes (times, steps, counts, status, indices, the
#: chunk's input as it arrives and its result's status strings and counts, serialised).
ROW_BYTES = 512

#: The keyword arguments of :func:`gradflow.solve` a sweep passes on to every chunk.
_PASSED = ("steps", "t_final", "save_every", "save_at", "save", "max_steps", "divergence_norm")

#: Arguments of :func:`gradflow.solve` that couple elements, and why a sweep refuses them.
_REFUSED = {
    "callback": "a callback sees the whole batch at every step and may stop the whole run",
    "batch_size": (
        "a minibatch is drawn from the element's index in the whole batch, which a "
        "chunk's solve call cannot be given"
    ),
    "seed": "seed only seeds minibatches (batch_size), which a sweep cannot split",
}


# ---------------------------------------------------------------------------------------
# splitting the step-size policy
# ---------------------------------------------------------------------------------------
class _ChunkSchedule:
    """A schedule's values for the elements ``lo:hi`` of the flattened batch ``shape``.

    A scalar value is passed through; an array is broadcast to the whole batch (as
    :class:`~gradflow.stepsize.ScheduledStep` does) and cut to the chunk, so each row
    gets the number it gets in a single call.
    """

    def __init__(self, schedule: Any, shape: tuple[int, ...], lo: int, hi: int) -> None:
        self.schedule, self.shape, self.lo, self.hi = schedule, shape, lo, hi

    def __call__(self, k: int) -> Any:
        raw = self.schedule(k)
        value = np.asarray(raw)
        if value.ndim == 0 or value.dtype.kind not in "iuf":
            return raw  # a number, or something ScheduledStep reports
        try:
            full = np.broadcast_to(value, self.shape)
        except ValueError:
            raise ValueError(
                f"stepsize schedule value at step {k} has shape {value.shape}, which does "
                f"not broadcast to the batch shape {self.shape}"
            ) from None
        return full.reshape(-1)[self.lo : self.hi]

    def __repr__(self) -> str:
        return repr(self.schedule)


def _arrays(obj: Any) -> list[str]:
    """Attributes of ``obj`` holding arrays of more than one number."""
    return [
        name
        for name, value in getattr(obj, "__dict__", {}).items()
        if isinstance(value, np.ndarray) and value.size > 1
    ]


def _check_splittable(policy: Any) -> None:
    """Refuse a policy holding per-element arrays that :func:`_chunk_policy` cannot cut."""
    if isinstance(policy, (ConstantStep, ScheduledStep)):
        return
    if isinstance(policy, (Product, Join)):
        for part in policy.parts:
            _check_splittable(part)
        return
    if isinstance(policy, Clip):
        _check_splittable(policy.policy)
        return
    held = _arrays(policy)
    if held:
        raise ValueError(
            f"sweep cannot split the step-size policy {type(policy).__name__} over chunks: "
            f"its {', '.join(held)} hold arrays (one value per element?); give it one "
            "value for all elements, or use solve"
        )


def _chunk_policy(policy: Any, shape: tuple[int, ...], lo: int, hi: int) -> Any:
    """The policy of the elements ``lo:hi`` (of the flattened batch ``shape``)."""
    if isinstance(policy, ConstantStep):
        if policy.h.size == 1:
            return policy
        return ConstantStep(per_element(policy.h, "stepsize", shape)[lo:hi])
    if isinstance(policy, ScheduledStep):
        return ScheduledStep(_ChunkSchedule(policy.schedule, shape, lo, hi))
    if isinstance(policy, (Product, Join)):
        new = copy.copy(policy)
        new.parts = tuple(_chunk_policy(p, shape, lo, hi) for p in policy.parts)
        return new
    if isinstance(policy, Clip):
        new = copy.copy(policy)
        new.policy = _chunk_policy(policy.policy, shape, lo, hi)
        return new
    return policy


# ---------------------------------------------------------------------------------------
# what runs on a worker
# ---------------------------------------------------------------------------------------
#: glibc ``mallopt`` parameters (malloc.h) and the values a chunk runs with: allocations
#: below 32 MiB (glibc's largest dynamic mmap threshold on 64-bit) come from the heap,
#: and up to 64 MiB of free heap top is kept between steps.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
CHUNK_MMAP_THRESHOLD, CHUNK_TRIM_THRESHOLD = 32 * 2**20, 64 * 2**20
#: glibc's default mmap threshold (restored unless the environment sets one).
DEFAULT_MMAP_THRESHOLD = 128 * 2**10

_heap_lock = threading.Lock()
_heap_users = 0


def _glibc() -> Any:
    """The C library when it is glibc and the worker's trim threshold is fixed, else None."""
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


@contextlib.contextmanager
def _roomy_heap() -> Iterator[None]:
    """glibc's usual heap behaviour while chunks run in this process (see the module
    docstring); the process's own settings are back when the last chunk ends."""
    global _heap_users
    libc = _glibc()
    if libc is None:
        yield
        return
    with _heap_lock:
        if _heap_users == 0:
            libc.mallopt(M_MMAP_THRESHOLD, CHUNK_MMAP_THRESHOLD)
            libc.mallopt(M_TRIM_THRESHOLD, CHUNK_TRIM_THRESHOLD)
        _heap_users += 1
    try:
        yield
    finally:
        with _heap_lock:
            _heap_users -= 1
            if _heap_users == 0:
                mmap = os.environ.get("MALLOC_MMAP_THRESHOLD_", DEFAULT_MMAP_THRESHOLD)
                libc.mallopt(M_TRIM_THRESHOLD, int(os.environ["MALLOC_TRIM_THRESHOLD_"]))
                libc.mallopt(M_MMAP_THRESHOLD, int(mmap))
                libc.malloc_trim(0)


def _payload(blob: bytes) -> bytes:
    """The serialised problem, method and policy, as a task (recomputable if lost)."""
    return blob


def _solve_chunk(blob: bytes, theta: np.ndarray, lo: int, hi: int) -> Trajectory:
    """Run :func:`gradflow.solve` on the rows ``lo:hi``."""
    from gradflow._solve import solve

    problem, method, policy, shape, kwargs = pickle.loads(blob)
    with _roomy_heap():
        return solve(problem, theta, method, _chunk_policy(policy, shape, lo, hi), **kwargs)


# ---------------------------------------------------------------------------------------
# sizes: chunks and their memory
# ---------------------------------------------------------------------------------------
def _saved_columns(save_mode: tuple, horizon: tuple, policy: Any, kwargs: dict) -> int | None:
    """How many columns a chunk saves at most (None: not known before the run)."""
    mode, every, times = save_mode
    if mode == "final":
        return 1
    if mode == "at":
        return int(times.size)
    steps, t_final = horizon
    if steps is None:
        steps = kwargs.get("max_steps")
    if steps is None and isinstance(policy, ConstantStep):
        steps = math.ceil(t_final / float(np.min(policy.h)))
    return None if steps is None else steps // every + 2


def _chunk_bytes(rows: int, d: int, itemsize: int, columns: int | None, method: Method) -> float:
    """Estimated peak memory of a chunk of ``rows`` elements (the saved output twice: it
    is serialised to be sent back)."""
    per_column = (d + 2) * itemsize + 16  # θ, h, loss; t and step (8 bytes each)
    saved = 0.0 if columns is None else 2.0 * columns * per_column
    work = (WORKING_COPIES + 2 * method.grads_per_step) * d * itemsize + ROW_BYTES
    return float(rows) * (saved + work)


def _workers(client: Any, timeout: float | None) -> tuple[int, float | None]:
    """Total worker threads, and the smallest memory limit per thread (None: no limit)."""
    info = client.scheduler_info()["workers"]
    if not info:
        client.wait_for_workers(1, timeout=timeout)
        info = client.scheduler_info()["workers"]
    threads = sum(int(w.get("nthreads", 1)) for w in info.values())
    limits = [
        w["memory_limit"] / max(1, int(w.get("nthreads", 1)))
        for w in info.values()
        if w.get("memory_limit")
    ]
    return max(threads, 1), (min(limits) if limits else None)


def _mib(n: float) -> str:
    return f"{n / 2**20:,.1f} MiB"


def _chunk_rows(chunks: Any, B: int, threads: int, budget: float | None, per_row: float) -> int:
    """Rows per chunk: the user's, or ``CHUNKS_PER_THREAD`` per thread that fit."""
    if budget is not None and per_row > budget:
        raise ValueError(
            f"one element of the sweep needs about {_mib(per_row)}, more than a worker "
            f"can hold ({_mib(budget)} per thread: {MEMORY_FRACTION:.0%} of its memory "
            "limit); save fewer points"
        )
    if chunks == "auto":
        rows = math.ceil(B / (CHUNKS_PER_THREAD * threads))
        if budget is not None:
            rows = min(rows, int(budget // per_row))
        return max(rows, 1)
    rows = min(chunks, B)
    if budget is not None and rows * per_row > budget:
        raise ValueError(
            f"a chunk of {rows} elements needs about {_mib(rows * per_row)}, more than a "
            f"worker can hold ({_mib(budget)} per thread: {MEMORY_FRACTION:.0%} of its "
            f"memory limit); use chunks <= {int(budget // per_row)}"
        )
    return rows


def _check_chunks(chunks: Any) -> Any:
    if isinstance(chunks, str):
        if chunks != "auto":
            raise ValueError(f"chunks must be 'auto' or a number of rows >= 1, got {chunks!r}")
        return chunks
    return check_integer(chunks, "chunks", 1)


# ---------------------------------------------------------------------------------------
# gathering and merging
# ---------------------------------------------------------------------------------------
def _pad(a: np.ndarray, n: int) -> np.ndarray:
    """Saved columns ``a`` extended to ``n`` by repeating the last (all stopped there)."""
    if a.shape[0] == n:
        return a
    return np.concatenate([a, np.repeat(a[-1:], n - a.shape[0], axis=0)])


def _merge(parts: list[Trajectory], shape: tuple[int, ...], d: int, **names: Any) -> Trajectory:
    """One trajectory of batch ``shape`` from the chunks' trajectories, in order."""
    n = max(p.t.shape[0] for p in parts)

    def saved(name: str, *tail: int) -> np.ndarray:
        joined = np.concatenate([_pad(getattr(p, name), n) for p in parts], axis=1)
        return joined.reshape(n, *shape, *tail)

    def each(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts]).reshape(shape)

    return Trajectory(
        t=saved("t"),
        theta=saved("theta", d),
        loss=saved("loss"),
        h=saved("h"),
        step=saved("step"),
        status=each("status"),
        n_grad=each("n_grad"),
        n_steps=each("n_steps"),
        n_rejected=each("n_rejected"),
        method=parts[0].method,
        problem=parts[0].problem,
        message=parts[0].message,
        **names,
    )


def _gather(client: Any, futures: list, sizes: list[int], timeout: Any, progress: bool) -> list:
    """The chunks' results in order, each fetched (and released on its worker) as soon as
    it is done, waiting at most ``timeout`` seconds in all."""
    distributed = require("distributed", "dask", "sweep")
    bar = None
    if progress:
        bar = progress_bar(len(futures), "sweep", "chunk")
    position = {f.key: i for i, f in enumerate(futures)}
    results: list = [None] * len(futures)
    active, diverged = sum(sizes), 0
    try:
        if bar is not None:
            bar.set_postfix(active=active, diverged=diverged)
        done = distributed.as_completed(futures, with_results=True, timeout=timeout)
        for future, result in done:
            i = position[future.key]
            results[i] = result
            future.release()  # the worker's copy is not needed any more
            if bar is not None:
                active -= sizes[i]
                diverged += int(np.count_nonzero(results[i].status == Status.DIVERGED.value))
                bar.set_postfix(active=active, diverged=diverged, refresh=False)
                bar.update()
    finally:
        if bar is not None:
            bar.close()
    return results


@contextlib.contextmanager
def _restored(saved: dict[str, str | None]) -> Iterator[None]:
    """Environment variables ``saved`` as they were, on the way out."""
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def _client(client: Any) -> Iterator[Any]:
    """The user's client unchanged, or a local cluster for the duration of the sweep."""
    if client is not None:
        yield client
        return
    distributed = require("distributed", "dask", "sweep")
    dask = require("dask", "dask", "sweep")
    # Dask's nannies write their workers' variables into this process's environment
    # before spawning them: put the caller's back once the cluster is closed.
    keys = {*dask.config.get("distributed.nanny.pre-spawn-environ", {}), "PYTHONHASHSEED"}
    saved = {key: os.environ.get(key) for key in keys}
    with (
        _restored(saved),
        distributed.LocalCluster(
            n_workers=os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",  # any free port: never a clash warning
        ) as cluster,
        distributed.Client(cluster) as local,
    ):
        yield local


def _check_kwargs(kwargs: dict) -> dict:
    for name, why in _REFUSED.items():
        if kwargs.get(name) is not None:
            raise ValueError(f"sweep does not take {name}: {why}; use solve")
    unknown = sorted(set(kwargs) - set(_PASSED) - set(_REFUSED))
    if unknown:
        raise TypeError(f"sweep got unexpected keyword arguments {unknown}")
    return {k: v for k, v in kwargs.items() if k in _PASSED and v is not None}


# ---------------------------------------------------------------------------------------
# the entry point
# ---------------------------------------------------------------------------------------
def sweep(
    problem: Problem,
    theta0: ArrayLike,
    method: Method | None = None,
    stepsize: Any = None,
    *,
    client: Any = None,
    chunks: int | str = "auto",
    progress: bool = False,
    timeout: float | None = None,
    **solve_kwargs: Any,
) -> Trajectory:
    """Run :func:`gradflow.solve` over a large batch on Dask, chunk by chunk.

    The batch of ``theta0`` is flattened and cut into chunks of consecutive elements;
    each chunk is one Dask task running :func:`gradflow.solve` on its rows, on the
    workers of ``client`` (one process per core of this machine when none is given).
    The chunks' results are joined into the :class:`~gradflow.Trajectory` one ``solve``
    call would return: element for element the same bits for every zoo problem (each
    row is computed independently of the batch), the same statuses and counts
    (``n_grad``, ``n_steps``, ``n_rejected``), and the same saved columns, whatever the
    chunking, with divergence and adaptive control alike.

    Parameters
    ----------
    problem : Problem
        The loss landscape; it must be serialisable by ``cloudpickle`` (every zoo
        problem, and problems built from Python functions or sympy, are).
    theta0 : array_like, shape (*batch, d)
        Initial states, as for :func:`gradflow.solve`.
    method : Method, optional
        The integrator (default ``Euler()``).
    stepsize : float, array_like, callable or StepSizePolicy
        As for :func:`gradflow.solve`.  Per-element arrays (a ``(n_h, 1)`` array of step
        sizes over a ``(n_h, n_ic, d)`` batch) and array-valued schedules are cut with the
        batch, also inside :class:`~gradflow.stepsize.Product`, ``Join`` and ``Clip``;
        any other policy must hold one value for all elements.
    client : distributed.Client, optional
        Where to run: any Dask client (a ``LocalCluster``, dask-jobqueue, Kubernetes...),
        used as it is and left open.  Default: a ``LocalCluster`` on the loopback
        interface with one single-threaded worker process per core
        (``os.cpu_count()``), started for this call and closed afterwards, also on
        error.
    chunks : int or "auto", optional
        Rows per chunk, or ``"auto"`` (default): about ``CHUNKS_PER_THREAD = 4`` chunks
        per worker thread, fewer rows if a chunk would not fit in a worker's memory.
    progress : bool, optional
        Show a progress bar (tqdm, the ``progress`` extra) of the chunks done, with the
        elements of chunks still queued or running (``active``) and the diverged
        elements of the chunks done.  Default False.
    timeout : float, optional
        Seconds to wait for the chunks before raising ``TimeoutError`` (default: no
        limit).
    **solve_kwargs
        ``steps``, ``t_final``, ``save_every``, ``save_at``, ``save``, ``max_steps``,
        ``divergence_norm``: passed to every chunk's :func:`gradflow.solve`.

    Returns
    -------
    Trajectory
        What ``solve(problem, theta0, method, stepsize, **solve_kwargs)`` returns, with
        ``method_repr`` and ``stepsize_repr`` filled in.

    Raises
    ------
    ImportError
        If dask.distributed (the ``dask`` extra) is not installed, or tqdm (the
        ``progress`` extra) with ``progress=True``.
    TypeError
        If ``problem`` or ``method`` has the wrong type, cannot be serialised for the
        workers, or an unknown keyword argument is given; as :func:`gradflow.solve` for
        the others.
    ValueError
        As :func:`gradflow.solve`; if ``callback``, ``batch_size`` or ``seed`` is given
        (they couple the elements of a batch: a minibatch is drawn from an element's
        index in the whole batch, which a chunk's ``solve`` call has no argument for);
        if the step-size policy or method holds per-element arrays it cannot cut; if a
        chunk would not fit in a worker's memory (with its estimated size).
    TimeoutError
        If ``timeout`` passes before every chunk is done.

    Notes
    -----
    Memory: a chunk of ``c`` elements is estimated at ``c`` times (``2 × saved columns ×
    ((d + 2) · itemsize + 16)`` + ``(WORKING_COPIES + 2 · grads_per_step) · d ·
    itemsize`` + ``ROW_BYTES``) bytes and must fit in ``MEMORY_FRACTION = 0.8`` of a
    worker's memory limit per thread (columns are unknown, and not counted, for a
    ``t_final`` run saving every few steps under an adaptive policy without
    ``max_steps``).  The joined result is held by the caller, as ``solve``'s would be.

    In a script, start the sweep under ``if __name__ == "__main__":``: the local
    cluster's worker processes are spawned and import the main module.

    References
    ----------
    M. Rocklin, "Dask: parallel computation with blocked algorithms and task
    scheduling", Proc. 14th Python in Science Conf. (SciPy 2015), 126-132.

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> from distributed import Client, LocalCluster  # doctest: +SKIP
    >>> theta0 = np.random.default_rng(0).uniform(-2, 2, (10_000, 2))
    >>> with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster) as client:
    ...     traj = gf.sweep(gf.problems.rosenbrock(), theta0, stepsize=1e-3, steps=1_000,
    ...                     save="final", client=client)  # doctest: +SKIP
    """
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a gradflow Problem, got {type(problem).__name__}")
    method = Euler() if method is None else method
    if not isinstance(method, Method):
        raise TypeError(f"method must be a gradflow Method, got {type(method).__name__}")
    if stepsize is None:
        raise TypeError("stepsize is required: a positive float, array, schedule or policy")
    kwargs = _check_kwargs(solve_kwargs)
    chunks = _check_chunks(chunks)
    progress = check_bool(progress, "progress")
    if timeout is not None:
        timeout = check_positive(timeout, "timeout")
    arr = as_state_array(theta0, "theta0", problem.dim)
    shape, d = arr.shape[:-1], arr.shape[-1]
    flat = arr.reshape(-1, d)
    horizon = _check_horizon(kwargs.get("steps"), kwargs.get("t_final"))
    save_mode = _check_save(
        kwargs.get("save_every"), kwargs.get("save_at"), kwargs.get("save"), horizon[1]
    )
    policy = as_policy(stepsize)
    _check_splittable(policy)
    _chunk_policy(policy, shape, 0, 1)  # a per-element array that does not broadcast
    held = _arrays(method)
    if held:
        raise ValueError(
            f"sweep cannot split the method {method.name} over chunks: its {held} hold arrays"
        )
    cloudpickle = require("cloudpickle", "dask", "sweep")
    try:
        blob = cloudpickle.dumps((problem, method, policy, shape, kwargs))
    except Exception as exc:  # cloudpickle raises whatever the object's reduction raises
        raise TypeError(
            f"sweep sends the problem, method and step-size policy to the workers, but "
            f"they cannot be serialised (cloudpickle: {type(exc).__name__}: {exc})"
        ) from exc
    if progress:
        require("tqdm", "progress", "progress=True")
    columns = _saved_columns(save_mode, horizon, policy, kwargs)
    per_row = _chunk_bytes(1, d, arr.dtype.itemsize, columns, method)
    with _client(client) as c:
        threads, budget = _workers(c, timeout)
        rows = _chunk_rows(chunks, flat.shape[0], threads, budget, per_row)
        parts = _run(c, blob, flat, rows, timeout, progress)
    return _merge(parts, shape, d, method_repr=repr(method), stepsize_repr=repr(policy))


def _run(client: Any, blob: bytes, flat: np.ndarray, rows: int, timeout: Any, progress: bool):
    """Submit the chunks, wait for them, and release them (also on error)."""
    dask = require("dask", "dask", "sweep")
    bounds = [(lo, min(lo + rows, flat.shape[0])) for lo in range(0, flat.shape[0], rows)]
    futures: list = []
    # The chunks' states are the graph's data by design (so a lost chunk can rerun):
    # Dask's warning about large graphs does not apply.
    with dask.config.set({"distributed.admin.large-graph-warning-threshold": "1 PiB"}):
        payload = client.submit(_payload, blob, pure=False)
        try:
            for lo, hi in bounds:
                chunk = np.ascontiguousarray(flat[lo:hi])
                futures.append(client.submit(_solve_chunk, payload, chunk, lo, hi, pure=False))
            return _gather(client, futures, [hi - lo for lo, hi in bounds], timeout, progress)
        finally:
            client.cancel([*futures, payload])
