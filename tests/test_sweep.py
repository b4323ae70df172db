"""gradflow.sweep: a batch cut into chunks on Dask equals one solve call, bit for bit.

The reference of every identity test is one :func:`gradflow.solve` call on the whole
batch in this process: the contract of ``sweep`` is that call's result, element for
element (the same bits, statuses, counts and saved columns), whatever the chunking.
The clusters run on the loopback interface, every wait has a timeout, and every
cluster is closed by its context manager.
"""

from __future__ import annotations

import contextlib
import os
import platform
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import gradflow as gf
from gradflow import _sweep
from gradflow._sweep import _chunk_rows

distributed = pytest.importorskip("distributed")

#: Seconds any sweep of these tests may take before it fails instead of hanging.
TIMEOUT = 120

FIELDS = ("t", "theta", "loss", "h", "step", "status", "n_grad", "n_steps", "n_rejected")


def assert_same(expected: gf.Trajectory, got: gf.Trajectory) -> None:
    """Every array of ``got`` has the dtype, shape and bits of ``expected``'s."""
    for name in FIELDS:
        a, b = getattr(expected, name), getattr(got, name)
        assert a.dtype == b.dtype, name
        assert a.shape == b.shape, name
        assert a.tobytes() == b.tobytes(), name
    assert (got.method, got.problem) == (expected.method, expected.problem)


def local_cluster(**options):
    return distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        **options,
    )


@pytest.fixture(scope="module")
def client():
    with (
        local_cluster(memory_limit="4GiB") as cluster,
        distributed.Client(cluster, timeout=TIMEOUT) as c,
    ):
        yield c


def _starts(shape, seed=0):
    return np.random.default_rng(seed).uniform(-2.0, 2.0, (*shape, 2))


# ---------------------------------------------------------------------------------------
# identity
# ---------------------------------------------------------------------------------------
#: Step sizes per row of a (4, 6) batch: rows 2 and 3 diverge at once (h > 2/λ), rows 0
#: and 1 run all 200 steps, so chunks of 6 hold a chunk of diverged elements only.
HS = np.array([1e-3, 2e-3, 4e-2, 5e-2])[:, None]


@pytest.mark.parametrize("chunks", [1, 5, 6, 7, "auto"])
def test_constant_steps_with_divergence(client, chunks):
    p = gf.problems.rosenbrock()
    theta0 = _starts((4, 6))
    kwargs = dict(stepsize=HS, steps=200, save_every=7)
    expected = gf.solve(p, theta0, **kwargs)
    assert (expected.status[2:] == "diverged").all() and (expected.status[0] == "ok").all()
    got = gf.sweep(p, theta0, client=client, chunks=chunks, timeout=TIMEOUT, **kwargs)
    assert_same(expected, got)
    assert got.stepsize_repr.startswith("ConstantStep(h=array(")


def test_a_chunk_that_stopped_early_is_padded(client):
    # The chunk of the last 6 elements diverges in a few steps: alone it saves fewer
    # columns than the whole run; joined, its columns hold its elements' last states.
    p = gf.problems.rosenbrock()
    theta0 = _starts((4, 6))
    alone = gf.solve(p, theta0[3], stepsize=5e-2, steps=200, save_every=7)
    expected = gf.solve(p, theta0, stepsize=HS, steps=200, save_every=7)
    assert alone.t.shape[0] < expected.t.shape[0]
    got = gf.sweep(p, theta0, stepsize=HS, steps=200, save_every=7, client=client, chunks=6)
    assert_same(expected, got)
    last = alone.theta[-1]
    assert (got.theta[alone.t.shape[0] :, 3] == last).all()


@pytest.mark.parametrize("chunks", [3, 10])
def test_adaptive_control_with_rejections(client, chunks):
    p = gf.problems.rosenbrock()
    theta0 = _starts((12,), seed=1)
    method = gf.methods.RungeKutta(gf.methods.BS32)
    policy = gf.controllers.PIController(rtol=1e-6, atol=1e-9)
    for save in (dict(save_every=5), dict(save_at=np.linspace(0.0, 0.3, 7))):
        expected = gf.solve(p, theta0, method, policy, t_final=0.3, **save)
        assert expected.n_rejected.max() > 0 and len(set(expected.n_steps.tolist())) > 1
        got = gf.sweep(p, theta0, method, policy, t_final=0.3, client=client, chunks=chunks, **save)
        assert_same(expected, got)
        assert got.stepsize_repr == repr(policy) and got.method_repr == repr(method)


def test_float32_all_steps_and_final(client):
    p = gf.problems.muller_brown()
    theta0 = np.random.default_rng(2).uniform(-1.0, 1.0, (3, 5, 2)).astype(np.float32)
    for save in ("all", "final"):
        expected = gf.solve(p, theta0, stepsize=np.float32(1e-3), steps=40, save=save)
        got = gf.sweep(
            p, theta0, stepsize=np.float32(1e-3), steps=40, save=save, client=client, chunks=4
        )
        assert got.theta.dtype == np.float32
        assert_same(expected, got)


def test_array_schedule_in_a_product(client):
    # An array-valued schedule (one peak per row) inside a Product is cut with the batch.
    p = gf.problems.rosenbrock()
    theta0 = _starts((4, 3), seed=3)
    schedule = gf.schedules.cosine(lr=HS / 10, total_steps=30, min_lr=1e-5)
    policy = gf.stepsize.Product(schedule, 2.0)
    expected = gf.solve(p, theta0, stepsize=policy, steps=30, save_every=10)
    got = gf.sweep(p, theta0, stepsize=policy, steps=30, save_every=10, client=client, chunks=5)
    assert_same(expected, got)
    np.testing.assert_allclose(np.unique(got.h[0]), np.sort(2.0 * HS.ravel() / 10), rtol=1e-15)


def test_data_problem_and_nesterov(client):
    rng = np.random.default_rng(4)
    p = gf.problems.least_squares(rng.standard_normal((30, 5)), rng.standard_normal(30))
    theta0 = rng.standard_normal((9, 5))
    method = gf.methods.Nesterov(beta=0.9)
    expected = gf.solve(p, theta0, method, 1e-2, steps=25, save_every=4)
    got = gf.sweep(p, theta0, method, 1e-2, steps=25, save_every=4, client=client, chunks=2)
    assert_same(expected, got)


def test_a_single_state(client):
    p = gf.problems.beale()
    expected = gf.solve(p, np.array([1.0, 1.0]), stepsize=1e-3, steps=30, save_every=10)
    got = gf.sweep(p, np.array([1.0, 1.0]), stepsize=1e-3, steps=30, save_every=10, client=client)
    assert got.status.shape == ()
    assert_same(expected, got)


def test_progress_bar(client, capsys):
    p = gf.problems.rosenbrock()
    theta0 = _starts((4, 6))
    expected = gf.solve(p, theta0, stepsize=HS, steps=50, save="final")
    got = gf.sweep(
        p, theta0, stepsize=HS, steps=50, save="final", client=client, chunks=6, progress=True
    )
    assert_same(expected, got)
    err = capsys.readouterr().err
    assert "sweep" in err and "4/4" in err
    assert "active=0" in err
    assert f"diverged={int(expected.diverged.sum())}" in err


def test_memory_guard_refuses_before_the_run(client):
    p = gf.problems.rosenbrock()
    theta0 = _starts((100,))
    # save="all" over 10^7 steps: 10^7 columns x (2 + 2) x 8 + 16 bytes, twice, per row.
    with pytest.raises(ValueError, match=r"a chunk of 100 elements needs about [\d,.]+ MiB"):
        gf.sweep(p, theta0, stepsize=1e-4, steps=10**7, save="all", client=client, chunks=100)
    with pytest.raises(ValueError, match=r"one element of the sweep needs about"):
        gf.sweep(p, theta0, stepsize=1e-4, steps=10**8, save="all", client=client)


def test_auto_chunks_shrink_to_fit():
    # 1000 rows on 2 threads: 4 chunks per thread -> 125 rows, unless 125 rows do not fit.
    assert _chunk_rows("auto", 1000, 2, None, 1.0) == 125
    assert _chunk_rows("auto", 1000, 2, 1000.0, 10.0) == 100
    assert _chunk_rows(7, 1000, 2, 1000.0, 10.0) == 7
    with pytest.raises(ValueError, match="use chunks <= 100"):
        _chunk_rows(101, 1000, 2, 1000.0, 10.0)


# ---------------------------------------------------------------------------------------
# the default cluster and fault tolerance
# ---------------------------------------------------------------------------------------
def _children() -> set[int]:
    """Child processes, but multiprocessing's resource tracker (it lives as long as we do)."""
    psutil = pytest.importorskip("psutil")
    pids = set()
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if "resource_tracker" not in " ".join(child.cmdline()):
                pids.add(child.pid)
    return pids


def test_default_local_cluster_is_closed(monkeypatch):
    # Dask's nannies write MALLOC_TRIM_THRESHOLD_ (and BLAS thread counts) into the
    # environment of the process that starts them; a sweep puts the caller's back.
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    environ = dict(os.environ)
    before = _children()
    p = gf.problems.himmelblau()
    theta0 = _starts((20,))
    got = gf.sweep(p, theta0, stepsize=1e-3, steps=20, save="final", timeout=TIMEOUT)
    assert_same(gf.solve(p, theta0, stepsize=1e-3, steps=20, save="final"), got)
    assert dict(os.environ) == environ
    deadline = time.monotonic() + 30
    while _children() - before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _children() - before


def test_roomy_heap_is_restored_after_the_last_chunk(monkeypatch):
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("glibc only")
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")  # as in a Dask worker
    p = gf.problems.rosenbrock()
    theta0 = _starts((50,))
    expected = gf.solve(p, theta0, stepsize=1e-3, steps=30)
    with _sweep._roomy_heap():
        with _sweep._roomy_heap():  # two chunks at once on a threaded worker
            inner = gf.solve(p, theta0, stepsize=1e-3, steps=30)
            assert _sweep._heap_users == 2
        assert _sweep._heap_users == 1
    assert _sweep._heap_users == 0
    assert_same(expected, inner)


@pytest.mark.slow
def test_default_local_cluster_is_closed_on_error():
    def grad(theta):
        raise FloatingPointError("no gradient here")

    p = gf.Problem(loss=lambda th: th.sum(axis=-1), grad=grad, dim=2, name="broken")
    before = _children()
    with pytest.raises(FloatingPointError, match="no gradient here"):
        gf.sweep(p, _starts((8,)), stepsize=1e-3, steps=5, timeout=TIMEOUT)
    deadline = time.monotonic() + 30
    while _children() - before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _children() - before


def test_a_killed_worker_loses_no_element():
    fast = gf.problems.rosenbrock()

    def slow_grad(theta):
        time.sleep(0.01)  # chunks of about 1 s, so that one is running when killed
        return fast.grad(theta)

    slow = gf.Problem(loss=fast.loss, grad=slow_grad, dim=2, name=fast.name)
    theta0 = _starts((16,), seed=5)
    kwargs = dict(stepsize=HS.repeat(4)[:16] / 4, steps=80, save_every=9)
    expected = gf.solve(fast, theta0, **kwargs)
    out: dict = {}
    with local_cluster() as cluster, distributed.Client(cluster, timeout=TIMEOUT) as c:

        def run() -> None:
            try:
                out["traj"] = gf.sweep(slow, theta0, client=c, chunks=2, timeout=TIMEOUT, **kwargs)
            except BaseException as exc:  # reported by the assertion below
                out["error"] = exc

        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.monotonic() + TIMEOUT
        busy: list = []
        while not busy and time.monotonic() < deadline:
            busy = [
                w
                for w, keys in c.processing().items()
                if any(str(k).startswith("_solve_chunk") for k in keys)
            ]
            time.sleep(0.05)
        assert busy, "no chunk started"
        time.sleep(0.3)  # into the chunk
        assert thread.is_alive()
        pid = c.run(os.getpid, workers=[busy[0]])[busy[0]]
        os.kill(pid, signal.SIGKILL)
        thread.join(TIMEOUT)
        assert not thread.is_alive()
        assert pid not in c.run(os.getpid).values()
    assert "error" not in out, out.get("error")
    assert_same(expected, out["traj"])


# ---------------------------------------------------------------------------------------
# arguments refused before any cluster starts
# ---------------------------------------------------------------------------------------
def test_refused_arguments():
    p = gf.problems.rosenbrock()
    theta0 = _starts((4,))
    with pytest.raises(ValueError, match="callback"):
        gf.sweep(p, theta0, stepsize=1e-3, steps=3, callback=lambda info: None)
    lsq = gf.problems.least_squares(np.eye(4), np.arange(4.0))
    with pytest.raises(ValueError, match=r"batch_size.*index in the whole batch"):
        gf.sweep(lsq, np.zeros((3, 4)), stepsize=1e-3, steps=3, batch_size=2, seed=0)
    with pytest.raises(TypeError, match="unexpected keyword arguments \\['stpes'\\]"):
        gf.sweep(p, theta0, stepsize=1e-3, stpes=3)
    with pytest.raises(ValueError, match="chunks"):
        gf.sweep(p, theta0, stepsize=1e-3, steps=3, chunks=0)
    with pytest.raises(TypeError, match="chunks"):
        gf.sweep(p, theta0, stepsize=1e-3, steps=3, chunks=2.5)
    with pytest.raises(ValueError, match="chunks"):
        gf.sweep(p, theta0, stepsize=1e-3, steps=3, chunks="many")
    with pytest.raises(ValueError, match="exactly one of steps"):
        gf.sweep(p, theta0, stepsize=1e-3)
    with pytest.raises(ValueError, match="stepsize of shape"):
        gf.sweep(p, theta0, stepsize=np.full(3, 1e-3), steps=3)
    with pytest.raises(TypeError, match="problem must be a gradflow Problem"):
        gf.sweep("rosenbrock", theta0, stepsize=1e-3, steps=3)
    with pytest.raises(TypeError, match="progress"):
        gf.sweep(p, theta0, stepsize=1e-3, steps=3, progress="yes")
    with pytest.raises(TypeError, match="timeout"):
        gf.sweep(p, theta0, stepsize=1e-3, steps=3, timeout="soon")


def test_per_element_policy_it_cannot_cut_is_refused():
    p = gf.problems.rosenbrock()
    plateau = gf.rules.ReduceOnPlateau(np.array([1e-3, 2e-3, 3e-3, 4e-3]))
    with pytest.raises(ValueError, match="cannot split the step-size policy ReduceOnPlateau"):
        gf.sweep(p, _starts((4,)), stepsize=plateau, steps=3)
    joined = gf.stepsize.Join([1e-4, plateau], boundaries=[2])
    with pytest.raises(ValueError, match=r"ReduceOnPlateau.*lr"):
        gf.sweep(p, _starts((4,)), stepsize=joined, steps=3)


def test_unserialisable_problem_is_refused():
    lock = threading.Lock()

    def loss(theta):
        with lock:
            return (theta**2).sum(axis=-1)

    p = gf.Problem(loss=loss, grad=lambda th: 2.0 * th, dim=2)
    with pytest.raises(TypeError, match="cannot be serialised"):
        gf.sweep(p, _starts((4,)), stepsize=1e-3, steps=3)


def test_progress_without_tqdm_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    with pytest.raises(ImportError, match=r"gradflow-ode\[progress\]"):
        gf.sweep(gf.problems.rosenbrock(), _starts((4,)), stepsize=1e-3, steps=3, progress=True)


def test_import_gradflow_imports_no_extra():
    code = (
        "import sys, gradflow\n"
        "extras = ('dask', 'distributed', 'cloudpickle', 'xarray', 'h5netcdf', 'h5py', "
        "'tqdm', 'pandas')\n"
        "print([m for m in extras if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
