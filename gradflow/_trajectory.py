"""The result of a run: :class:`Trajectory` and the per-element :class:`Status`."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # xarray is an optional dependency, imported on use
    import xarray

__all__ = ["Status", "Trajectory"]


class Status(str, Enum):
    """Why a batch element stopped (a ``str``: compares equal to its value).

    Attributes
    ----------
    OK : "ok"
        Reached ``steps`` or ``t_final``.
    DIVERGED : "diverged"
        Its state blew up (see :func:`gradflow.solve`, Notes: a non-finite entry, or a
        state far beyond its start's scale with a loss above the start's; or, with
        ``divergence_norm``, outside that ball); the last state before is kept.  Also an
        element whose saved loss is not finite.
    MAX_STEPS : "max_steps"
        Hit ``max_steps`` before ``t_final``.
    STOPPED : "stopped"
        The callback asked the run to stop.
    STEP_TOO_SMALL : "step_too_small"
        An adaptive policy asked for a step below its minimum.
    FAILED : "failed"
        The method could not complete a step (e.g. an implicit solve did not converge).
    STALLED : "stalled"
        Its time stopped advancing in a ``t_final`` run (a zero step, or one too small
        to change ``t``): it would never reach ``t_final``.
    """

    OK = "ok"
    DIVERGED = "diverged"
    MAX_STEPS = "max_steps"
    STOPPED = "stopped"
    STEP_TOO_SMALL = "step_too_small"
    FAILED = "failed"
    STALLED = "stalled"

    def __str__(self) -> str:
        return self.value


#: numpy dtype of status arrays: wide enough for every :class:`Status` value.
STATUS_DTYPE = np.dtype("<U14")


@dataclass(frozen=True)
class Trajectory:
    """Saved output of :func:`gradflow.solve`, for a batch of trajectories.

    With ``n`` saved points and batch shape ``batch``:

    Attributes
    ----------
    t : ndarray, shape (n, *batch)
        Time of each saved state (``t[j, i]`` is always the true time of
        ``theta[j, i]``: once an element has stopped, later columns repeat its last
        state and time).
    theta : ndarray, shape (n, *batch, d)
        Saved states.
    loss : ndarray, shape (n, *batch)
        Loss at the saved states.
    h : ndarray, shape (n, *batch)
        The nominal step size (before any shortening to land on a save time or
        ``t_final``) of the last step taken to reach each saved state; at the initial
        state, the first step's.  With a schedule ``s``, ``h[j] = s(step[j] - 1)``.
    step : ndarray of int, shape (n, *batch)
        Number of steps taken to reach each saved state.
    status : ndarray of str, shape batch
        Per element: a :class:`Status` value (``"ok"``, ``"diverged"``, ...).
    n_grad : ndarray of int, shape batch
        Gradient evaluations per element.
    n_steps : ndarray of int, shape batch
        Accepted steps per element.  For a ``"diverged"`` element the kept state is
        ``θ_{n_steps}`` and divergence happened in step ``n_steps + 1``.
    n_rejected : ndarray of int, shape batch
        Rejected step attempts per element (0 for fixed step sizes).
    method, problem : str
        Names of the method and the problem.
    message : str
        A note from the solver (e.g. scipy's message for reference solutions).
    method_repr, stepsize_repr : str
        ``repr`` of the method and of the step-size policy (with their parameters), for
        provenance; empty when the producer did not record them.
    seed : int or None
        The integer seed of the minibatches, if the run drew any.
    provenance : dict of str to str
        Where the numbers came from (library versions, date, git commit: see
        :func:`gradflow.load`); empty for a run in memory, whose provenance
        :meth:`save` and :meth:`to_xarray` take from the running process.
    """

    t: np.ndarray
    theta: np.ndarray
    loss: np.ndarray
    h: np.ndarray
    step: np.ndarray
    status: np.ndarray
    n_grad: np.ndarray
    n_steps: np.ndarray
    n_rejected: np.ndarray
    method: str = ""
    problem: str = ""
    message: str = ""
    method_repr: str = ""
    stepsize_repr: str = ""
    seed: int | None = None
    provenance: dict[str, str] = field(default_factory=dict)

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Shape of the batch of trajectories."""
        return self.status.shape

    @property
    def n_accepted(self) -> np.ndarray:
        """Accepted steps per element (an alias of :attr:`n_steps`)."""
        return self.n_steps

    @property
    def diverged(self) -> np.ndarray:
        """Boolean mask of diverged elements, shape ``batch``."""
        return self.status == Status.DIVERGED.value

    @property
    def ok(self) -> np.ndarray:
        """Boolean mask of elements that finished normally, shape ``batch``."""
        return self.status == Status.OK.value

    def __repr__(self) -> str:
        values, counts = np.unique(self.status, return_counts=True)
        summary = ", ".join(f"{v}: {c}" for v, c in zip(values, counts, strict=True))
        return (
            f"Trajectory(problem={self.problem!r}, method={self.method!r}, "
            f"batch_shape={self.batch_shape}, saved={self.t.shape[0]}, status={{{summary}}})"
        )

    def to_xarray(self, batch_dims: Any = None) -> xarray.Dataset:
        """The trajectory as an :class:`xarray.Dataset` (needs the ``xarray`` extra).

        Dimensions: ``saved`` (the saved points), the batch axes, ``param`` (the ``d``
        parameters).  Variables: ``theta (saved, *batch, param)``, ``loss (saved,
        *batch)``, and per element ``status`` (strings), ``n_grad``, ``n_steps``,
        ``n_rejected`` (int64).  Coordinates: ``t``, ``h``, ``step`` of shape ``(saved,
        *batch)``, and the batch axes' values where given.  Attributes: the problem,
        the method and its ``repr``, the step-size policy's ``repr``, the seed (when
        there is one), and the provenance (gradflow, numpy, scipy and Python versions,
        platform, date, git commit: the trajectory's own, or else this process's).

        Parameters
        ----------
        batch_dims : sequence of str or mapping of str to array_like, optional
            Names of the batch axes, in order (default ``batch`` for one axis,
            ``batch_0, batch_1, ...`` for several); a mapping also gives each axis its
            coordinate values (``None`` for none), e.g. ``{"h": hs, "start": None}``.

        Returns
        -------
        xarray.Dataset

        Raises
        ------
        ImportError
            If xarray is not installed (``pip install "gradflow-ode[xarray]"``).
        TypeError
            If ``batch_dims`` is not a sequence or mapping of strings.
        ValueError
            If it does not name every batch axis once, reuses a name of the dataset
            (``saved``, ``param``, ``t``, ``theta``...), or gives coordinate values of
            the wrong length.

        References
        ----------
        S. Hoyer and J. Hamman, "xarray: N-D labeled arrays and datasets in Python",
        J. Open Research Software 5(1), 10, 2017.

        Examples
        --------
        >>> import numpy as np, gradflow as gf
        >>> p = gf.problems.quadratic([1.0, 10.0], seed=0)
        >>> hs = np.array([0.05, 0.1])
        >>> traj = gf.solve(p, np.ones((2, 2)), stepsize=hs, steps=3)
        >>> ds = traj.to_xarray({"h0": hs})  # doctest: +SKIP
        >>> ds.theta.dims  # doctest: +SKIP
        ('saved', 'h0', 'param')
        """
        from gradflow._export import to_xarray

        return to_xarray(self, batch_dims)

    def save(self, path: str | Path, batch_dims: Any = None) -> Path:
        """Write the trajectory to a netCDF-4 file (needs the ``xarray`` extra).

        The file holds :meth:`to_xarray`'s dataset, written by h5netcdf with no fill
        values or compression applied to the numbers, so :func:`gradflow.load` gives
        back every array bit for bit (NaN payloads included), the dtypes (float32 stays
        float32), the status strings, the integer counts and the provenance.

        Parameters
        ----------
        path : str or pathlib.Path
            The file to write (overwritten if it exists); ``.nc`` by convention.
        batch_dims : sequence of str or mapping, optional
            Names (and coordinates) of the batch axes, as for :meth:`to_xarray`.

        Returns
        -------
        pathlib.Path
            The path written.

        Raises
        ------
        ImportError
            If xarray or h5netcdf is not installed.

        References
        ----------
        R. Rew and G. Davis, "NetCDF: an interface for scientific data access", IEEE
        Computer Graphics and Applications 10(4), 76-82, 1990.

        Examples
        --------
        >>> import numpy as np, gradflow as gf
        >>> traj = gf.solve(gf.problems.rosenbrock(), np.zeros((3, 2)), stepsize=1e-3, steps=5)
        >>> path = traj.save("run.nc")  # doctest: +SKIP
        >>> gf.load(path).status.tolist()  # doctest: +SKIP
        ['ok', 'ok', 'ok']
        """
        from gradflow._export import save

        return save(self, path, batch_dims)
