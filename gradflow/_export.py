"""Trajectories to xarray and netCDF, and back: :func:`to_xarray`, :func:`save`, :func:`load`.

Why netCDF-4 through h5netcdf (and not zarr): a sweep's result is gathered in one
process and written once, so zarr's strengths (a directory of chunks that many writers
fill in parallel, cloud object stores) buy nothing here, while a netCDF-4 file is one
self-describing file that every netCDF tool reads (``ncdump``, NCO, MATLAB, R, Julia).
h5netcdf writes it through h5py's binary wheels, with no netCDF-C library to install.

Exactness: numbers are written as they are (no ``_FillValue``, no packing, no
compression), so a load gives the same bits, NaN payloads included; int64 counts and
float32 states keep their dtypes; status strings are variable-length strings.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gradflow._optional import require
from gradflow._provenance import environment
from gradflow._trajectory import STATUS_DTYPE, Trajectory

__all__ = ["load", "save", "to_xarray"]

#: Format tag and version written to every file (``load`` refuses other files).
FORMAT = "gradflow.Trajectory"
FORMAT_VERSION = 1

#: Names the dataset uses itself; a batch axis may not take them.
_RESERVED = (
    "saved",
    "param",
    "t",
    "h",
    "step",
    "theta",
    "loss",
    "status",
    "n_grad",
    "n_steps",
    "n_rejected",
)

#: Trajectory attributes stored as dataset attributes (strings).
_TEXT = ("problem", "method", "method_repr", "stepsize_repr", "message")

_EXTRA = {
    "xarray": "xarray",
    "h5netcdf": "xarray",
    "h5py": "xarray",
}


def _require(module: str) -> Any:
    return require(module, _EXTRA[module], "exporting a Trajectory")


def _batch_dims(batch_dims: Any, shape: tuple[int, ...]) -> list[tuple[str, Any]]:
    """``(name, coordinate values or None)`` for every batch axis."""
    if batch_dims is None:
        names = ["batch"] if len(shape) == 1 else [f"batch_{i}" for i in range(len(shape))]
        return [(n, None) for n in names]
    if isinstance(batch_dims, Mapping):
        pairs = list(batch_dims.items())
    elif isinstance(batch_dims, Sequence) and not isinstance(batch_dims, str):
        pairs = [(n, None) for n in batch_dims]
    else:
        raise TypeError(
            f"batch_dims must be a sequence of names or a mapping name -> values, "
            f"got {type(batch_dims).__name__}"
        )
    if any(not isinstance(n, str) for n, _ in pairs):
        raise TypeError("batch_dims names must be strings")
    names = [n for n, _ in pairs]
    if len(names) != len(shape) or len(set(names)) != len(names):
        raise ValueError(
            f"batch_dims must name each of the {len(shape)} batch axes (batch shape "
            f"{shape}) once, got {names}"
        )
    clash = [n for n in names if n in _RESERVED]
    if clash:
        raise ValueError(f"batch_dims may not use the dataset's own names {clash}")
    out = []
    for (name, values), size in zip(pairs, shape, strict=True):
        if values is not None:
            values = np.asarray(values)
            if values.shape != (size,):
                raise ValueError(
                    f"batch_dims[{name!r}] must hold {size} coordinate values, got shape "
                    f"{values.shape}"
                )
        out.append((name, values))
    return out


def _attributes(traj: Trajectory) -> dict[str, Any]:
    attrs: dict[str, Any] = {"format": FORMAT, "format_version": FORMAT_VERSION}
    attrs.update({name: getattr(traj, name) for name in _TEXT})
    if traj.seed is not None:
        attrs["seed"] = np.int64(traj.seed)
    attrs.update(traj.provenance or environment())
    return attrs


def to_xarray(traj: Trajectory, batch_dims: Any = None) -> Any:
    """See :meth:`gradflow.Trajectory.to_xarray`."""
    xr = _require("xarray")
    dims = _batch_dims(batch_dims, traj.batch_shape)
    batch = tuple(n for n, _ in dims)
    saved = ("saved", *batch)
    coords: dict[str, Any] = {
        "t": (saved, traj.t),
        "h": (saved, traj.h),
        "step": (saved, traj.step),
    }
    coords.update({n: (n, v) for n, v in dims if v is not None})
    data = {
        "theta": ((*saved, "param"), traj.theta),
        "loss": (saved, traj.loss),
        "status": (batch, np.asarray(traj.status, dtype=object)),
        "n_grad": (batch, traj.n_grad),
        "n_steps": (batch, traj.n_steps),
        "n_rejected": (batch, traj.n_rejected),
    }
    return xr.Dataset(data, coords=coords, attrs=_attributes(traj))


def save(traj: Trajectory, path: str | Path, batch_dims: Any = None) -> Path:
    """See :meth:`gradflow.Trajectory.save`."""
    _require("h5netcdf")
    _require("h5py")
    ds = to_xarray(traj, batch_dims)
    # No fill value: a NaN (or any value) is stored and read back as the same bits.
    encoding = {name: {"_FillValue": None} for name in ds.variables if name != "status"}
    path = Path(path)
    ds.to_netcdf(path, engine="h5netcdf", encoding=encoding)
    return path


def _text(attrs: Mapping[str, Any], name: str) -> str:
    value = attrs.get(name, "")
    return value if isinstance(value, str) else str(value)


def load(path: str | Path) -> Trajectory:
    """Read a trajectory written by :meth:`Trajectory.save` (needs the ``xarray`` extra).

    Parameters
    ----------
    path : str or pathlib.Path
        A netCDF-4 file written by :meth:`gradflow.Trajectory.save`.

    Returns
    -------
    Trajectory
        Equal, array for array and bit for bit, to the trajectory saved: ``t``,
        ``theta``, ``loss``, ``h``, ``step`` with their dtypes, ``status`` strings, the
        int64 counts, the names and ``repr`` strings, ``seed``, and in ``provenance``
        the versions, date and git commit recorded when the file was written.

    Raises
    ------
    ImportError
        If xarray or h5netcdf is not installed (``pip install "gradflow-ode[xarray]"``).
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a gradflow trajectory (or of a newer format version).

    References
    ----------
    R. Rew and G. Davis, "NetCDF: an interface for scientific data access", IEEE
    Computer Graphics and Applications 10(4), 76-82, 1990.

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> traj = gf.solve(gf.problems.rosenbrock(), np.zeros((3, 2)), stepsize=1e-3, steps=5)
    >>> back = gf.load(traj.save("run.nc"))  # doctest: +SKIP
    >>> bool(np.array_equal(back.theta, traj.theta))  # doctest: +SKIP
    True
    """
    xr = _require("xarray")
    _require("h5netcdf")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {str(path)!r}")
    with xr.open_dataset(
        path, engine="h5netcdf", mask_and_scale=False, decode_times=False, cache=False
    ) as ds:
        ds = ds.load()
    attrs = dict(ds.attrs)
    version = attrs.get("format_version")
    if attrs.get("format") != FORMAT or not isinstance(version, numbers.Integral):
        raise ValueError(f"{str(path)!r} is not a gradflow trajectory file")
    if int(version) > FORMAT_VERSION:
        raise ValueError(
            f"{str(path)!r} has format version {int(version)}; this gradflow reads up to "
            f"{FORMAT_VERSION}"
        )
    keys = {"format", "format_version", "seed", *_TEXT}
    seed = attrs.get("seed")
    return Trajectory(
        t=ds["t"].values,
        theta=ds["theta"].values,
        loss=ds["loss"].values,
        h=ds["h"].values,
        step=ds["step"].values,
        status=ds["status"].values.astype(STATUS_DTYPE),
        n_grad=ds["n_grad"].values,
        n_steps=ds["n_steps"].values,
        n_rejected=ds["n_rejected"].values,
        method=_text(attrs, "method"),
        problem=_text(attrs, "problem"),
        message=_text(attrs, "message"),
        method_repr=_text(attrs, "method_repr"),
        stepsize_repr=_text(attrs, "stepsize_repr"),
        seed=None if seed is None else int(seed),
        provenance={k: _text(attrs, k) for k in attrs if k not in keys},
    )
