"""Trajectory.to_xarray, Trajectory.save / gradflow.load, and the provenance they carry."""

from __future__ import annotations

import datetime
import json
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy

import gradflow as gf
from gradflow._trajectory import STATUS_DTYPE, Status

FIELDS = ("t", "theta", "loss", "h", "step", "status", "n_grad", "n_steps", "n_rejected")
TEXT = ("method", "problem", "message", "method_repr", "stepsize_repr", "seed")


@pytest.fixture
def xr():
    pytest.importorskip("h5netcdf")
    pytest.importorskip("h5py")
    return pytest.importorskip("xarray")


def assert_round_trip(traj: gf.Trajectory, back: gf.Trajectory) -> None:
    for name in FIELDS:
        a, b = getattr(traj, name), getattr(back, name)
        assert a.dtype == b.dtype, name
        assert a.shape == b.shape, name
        assert a.tobytes() == b.tobytes(), name
    for name in TEXT:
        assert getattr(back, name) == getattr(traj, name), name


def _hostile() -> gf.Trajectory:
    """A hand-made trajectory of awkward values: NaN payloads, -0.0, infinities,
    subnormals, float32 states, every status, counts near 2^62, unicode text."""
    n, shape, d = 3, (2, 4), 3
    rng = np.random.default_rng(0)
    theta = rng.standard_normal((n, *shape, d)).astype(np.float32)
    theta.reshape(-1)[:4] = np.array([np.nan, -0.0, np.inf, 1e-45], dtype=np.float32)
    loss = rng.standard_normal((n, *shape)).astype(np.float32)
    payload = np.array([0x7FF8_0000_0000_1234], dtype=np.uint64).view(np.float64)[0]
    t = rng.random((n, *shape))
    t.reshape(-1)[0] = payload  # a NaN with a payload
    statuses = [s.value for s in Status] + ["ok"]
    return gf.Trajectory(
        t=t,
        theta=theta,
        loss=loss,
        h=np.full((n, *shape), 1e-3, dtype=np.float32),
        step=rng.integers(0, 2**62, (n, *shape)),
        status=np.array(statuses, dtype=STATUS_DTYPE).reshape(shape),
        n_grad=rng.integers(0, 2**62, shape),
        n_steps=rng.integers(0, 2**62, shape),
        n_rejected=np.zeros(shape, dtype=np.int64),
        method="Euler",
        problem="θ-landscape",
        message="a note: ∇L",
        method_repr="Euler()",
        stepsize_repr="ConstantStep(h=array([0.001, 0.002]))",
        seed=2**62 + 7,
    )


def test_round_trip_is_exact(xr, tmp_path):
    traj = _hostile()
    back = gf.load(traj.save(tmp_path / "run.nc"))
    assert_round_trip(traj, back)
    assert np.isnan(back.t.reshape(-1)[0])


def test_round_trip_of_real_runs(xr, tmp_path):
    p = gf.problems.rosenbrock()
    hs = np.array([1e-3, 2e-3, 5e-2])
    theta0 = np.broadcast_to(np.array([-1.2, 1.0]), (3, 2, 2))
    runs = [
        gf.solve(p, theta0, stepsize=hs[:, None], steps=60, save_every=7),  # divergence
        gf.solve(p, np.array([-1.2, 1.0]), stepsize=1e-3, steps=5),  # batch shape ()
        gf.solve(
            p,
            theta0.astype(np.float32),
            gf.methods.RungeKutta(gf.methods.BS32),
            gf.controllers.PIController(rtol=1e-5, atol=1e-8),
            t_final=0.2,
            save_at=[0.0, 0.1, 0.2],
        ),
    ]
    for i, traj in enumerate(runs):
        back = gf.load(traj.save(tmp_path / f"run{i}.nc"))
        assert_round_trip(traj, back)
    assert runs[0].diverged.any() and runs[2].theta.dtype == np.float32


def test_dataset_layout(xr):
    p = gf.problems.quadratic([1.0, 10.0], seed=0)
    hs = np.array([0.05, 0.1, 0.21])
    traj = gf.solve(p, np.ones((3, 2, 2)), stepsize=hs[:, None], steps=300, save_every=100)
    ds = traj.to_xarray({"h0": hs, "start": None})
    assert ds.theta.dims == ("saved", "h0", "start", "param")
    assert ds.loss.dims == ds.t.dims == ds.h.dims == ds.step.dims == ("saved", "h0", "start")
    assert ds.status.dims == ds.n_grad.dims == ("h0", "start")
    assert {"t", "h", "step", "h0"} <= set(ds.coords)
    np.testing.assert_array_equal(ds["h0"].values, hs)
    np.testing.assert_array_equal(ds.theta.values, traj.theta)
    np.testing.assert_array_equal(ds.step.values, traj.step)
    assert ds.status.values.tolist() == traj.status.tolist()
    assert ds.n_steps.dtype == np.int64
    # Selecting by step size is what the named axis is for.
    assert ds.sel(h0=0.21).status.values.tolist() == ["diverged", "diverged"]
    assert ds.attrs["problem"] == p.name and ds.attrs["method"] == "Euler"
    default = traj.to_xarray()
    assert default.theta.dims == ("saved", "batch_0", "batch_1", "param")
    one = gf.solve(p, np.ones((4, 2)), stepsize=0.1, steps=3).to_xarray()
    assert one.theta.dims == ("saved", "batch", "param")


def test_provenance_attributes(xr):
    p = gf.problems.rosenbrock()
    traj = gf.solve(p, np.zeros((2, 2)), stepsize=1e-3, steps=3)
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    attrs = traj.to_xarray().attrs
    after = datetime.datetime.now(datetime.timezone.utc)
    assert attrs["gradflow_version"] == gf.__version__
    assert attrs["numpy_version"] == np.__version__
    assert attrs["scipy_version"] == scipy.__version__
    assert attrs["python_version"] == platform.python_version()
    assert before <= datetime.datetime.fromisoformat(attrs["date"]) <= after
    package = Path(gf.__file__).resolve().parent
    top = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], cwd=package, capture_output=True, text=True
    )
    if top.returncode == 0 and Path(top.stdout.strip()).resolve() == package.parent:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=package, capture_output=True, text=True
        ).stdout.strip()
        assert attrs["git_commit"] == head
    else:
        assert attrs["git_commit"] == ""
    assert "seed" not in attrs  # no minibatches, no seed


def test_loaded_provenance_is_kept(xr, tmp_path):
    traj = _hostile()
    first = gf.load(traj.save(tmp_path / "a.nc"))
    assert first.provenance["numpy_version"] == np.__version__
    # A file written from a loaded trajectory keeps where the numbers came from.
    old = {**first.provenance, "date": "2001-02-03T04:05:06+00:00", "numpy_version": "1.0"}
    again = gf.Trajectory(**{**{f: getattr(first, f) for f in (*FIELDS, *TEXT)}, "provenance": old})
    second = gf.load(again.save(tmp_path / "b.nc"))
    assert second.provenance == old
    assert_round_trip(traj, second)


def test_batch_dims_errors(xr):
    traj = gf.solve(gf.problems.rosenbrock(), np.zeros((2, 3, 2)), stepsize=1e-3, steps=2)
    with pytest.raises(ValueError, match="name each of the 2 batch axes"):
        traj.to_xarray(["a"])
    with pytest.raises(ValueError, match="name each of the 2 batch axes"):
        traj.to_xarray(["a", "a"])
    with pytest.raises(ValueError, match="dataset's own names"):
        traj.to_xarray(["h", "start"])
    with pytest.raises(ValueError, match=r"batch_dims\['a'\] must hold 2 coordinate values"):
        traj.to_xarray({"a": [1.0, 2.0, 3.0], "b": None})
    with pytest.raises(TypeError, match="batch_dims"):
        traj.to_xarray("ab")
    with pytest.raises(TypeError, match="names must be strings"):
        traj.to_xarray([0, 1])


def test_load_refuses_other_files(xr, tmp_path):
    path = tmp_path / "other.nc"
    xr.Dataset({"x": ("i", np.arange(3.0))}).to_netcdf(path, engine="h5netcdf")
    with pytest.raises(ValueError, match="not a gradflow trajectory"):
        gf.load(path)
    with pytest.raises(FileNotFoundError):
        gf.load(tmp_path / "missing.nc")


def test_missing_xarray_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "xarray", None)
    traj = gf.solve(gf.problems.rosenbrock(), np.zeros(2), stepsize=1e-3, steps=2)
    with pytest.raises(ImportError, match=r'pip install "gradflow-ode\[xarray\]"'):
        traj.to_xarray()
    with pytest.raises(ImportError, match=r"gradflow-ode\[xarray\]"):
        gf.load("run.nc")


def test_papers_json_records_provenance(tmp_path):
    from gradflow.papers._result import PaperResult, write_json

    result = PaperResult(name="demo", claim="a claim", quick=True)
    result.check("x", "1", "= 1", True)
    payload = json.loads(write_json(result, tmp_path).read_text(encoding="utf-8"))
    prov = payload["provenance"]
    assert prov["gradflow_version"] == gf.__version__
    assert prov["numpy_version"] == np.__version__
    assert prov["scipy_version"] == scipy.__version__
    datetime.datetime.fromisoformat(prov["date"])
    assert set(prov) >= {"git_commit", "git_dirty", "python_version", "platform"}
