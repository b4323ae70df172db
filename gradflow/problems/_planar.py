"""Second-order derivatives of 2-D problems from their three Hessian entries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from gradflow.problems._problem import as_batch

__all__ = ["Entries", "planar_second_order", "stack2"]

#: The Hessian entries ``(h_xx, h_xy, h_yy)`` of a 2-D loss, each of the batch shape.
Entries = tuple[np.ndarray, np.ndarray, np.ndarray]


def stack2(gx: np.ndarray, gy: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Stack two batch-shaped components into an array shaped and typed like ``like``."""
    out = np.empty(like.shape, dtype=like.dtype)
    out[..., 0] = gx
    out[..., 1] = gy
    return out


class _PlanarHvp:
    """``hvp(theta, v)`` of a 2-D problem from its Hessian entries (picklable when
    ``entries`` is a module-level function)."""

    __slots__ = ("entries",)

    def __init__(self, entries: Callable[[np.ndarray], Entries]) -> None:
        self.entries = entries

    def __call__(self, theta: ArrayLike, v: ArrayLike) -> np.ndarray:
        theta = as_batch(theta, 2)
        v = np.asarray(v, dtype=theta.dtype)
        theta, v = np.broadcast_arrays(theta, v)
        hxx, hxy, hyy = self.entries(theta)
        vx, vy = v[..., 0], v[..., 1]
        return stack2(hxx * vx + hxy * vy, hxy * vx + hyy * vy, theta)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.entries,))


class _PlanarHessian(_PlanarHvp):
    """``hessian(theta)`` of a 2-D problem from its Hessian entries."""

    __slots__ = ()

    def __call__(self, theta: ArrayLike) -> np.ndarray:  # type: ignore[override]
        theta = as_batch(theta, 2)
        hxx, hxy, hyy = self.entries(theta)
        h = np.empty((*theta.shape, 2), dtype=theta.dtype)
        h[..., 0, 0] = hxx
        h[..., 0, 1] = hxy
        h[..., 1, 0] = hxy
        h[..., 1, 1] = hyy
        return h


def planar_second_order(
    entries: Callable[[np.ndarray], Entries],
) -> tuple[Callable[[ArrayLike, ArrayLike], np.ndarray], Callable[[ArrayLike], np.ndarray]]:
    """Exact HVP and Hessian of a 2-D problem from its Hessian entries.

    Parameters
    ----------
    entries : callable
        ``entries(theta) -> (h_xx, h_xy, h_yy)`` for ``theta`` of shape ``(*batch, 2)``.
        A module-level function makes the two results picklable (a lambda does not).

    Returns
    -------
    hvp, hessian : callable
        Batched ``hvp(theta, v) -> (*batch, 2)`` and ``hessian(theta) -> (*batch, 2, 2)``
        (symmetric by construction), for :class:`~gradflow.Problem`.

    Examples
    --------
    >>> import numpy as np
    >>> hvp, hess = planar_second_order(lambda th: (2.0 + 0 * th[..., 0], th[..., 0], th[..., 1]))
    >>> hess(np.array([1.0, 3.0])).tolist()
    [[2.0, 1.0], [1.0, 3.0]]
    >>> hvp(np.array([1.0, 3.0]), np.array([1.0, 0.0])).tolist()
    [2.0, 1.0]
    """
    return _PlanarHvp(entries), _PlanarHessian(entries)
