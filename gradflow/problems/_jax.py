r"""Problems computed by JAX: :meth:`gradflow.Problem.from_jax`.

A JAX function of a flat parameter vector becomes a :class:`JaxProblem`: the loss is
``jit(vmap(fn))``, the gradient ``jit(vmap(grad(fn)))`` and the exact Hessian-vector
product ``jit(vmap(jvp(grad(fn))))`` (forward-over-reverse), each compiled once per
input shape and dtype.  numpy is the boundary: arrays in, new writable numpy arrays out.

Precision.  JAX computes in float32 unless ``jax_enable_x64`` is on.  Every call of a
problem runs inside the scoped ``jax.enable_x64(True)`` context (the jitted functions
are traced and cached under it), so a float64 ``θ`` is computed in float64 and a float32
``θ`` in float32; the user's global setting is untouched outside those calls.

Batch = single holds to rounding only (XLA compiles each batch shape on its own and may
fuse or vectorise a row's reductions differently); the same call gives the same bits.
``jax`` is imported when a problem is built, never by ``import gradflow``.

References
----------
R. Frostig, M. J. Johnson and C. Leary, "Compiling machine learning programs via
high-level tracing", SysML 2018.

B. A. Pearlmutter, "Fast exact multiplication by the Hessian", Neural Computation 6(1),
147-160, 1994.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from gradflow._optional import require
from gradflow._validation import check_callable, check_integer
from gradflow.problems._problem import Problem, as_batch

__all__ = ["JaxProblem", "from_jax"]


def _jax() -> Any:
    return require("jax", "jax", "Problem.from_jax")


class JaxProblem(Problem):
    r"""A problem whose loss JAX computes (built by :meth:`gradflow.Problem.from_jax`).

    Parameters
    ----------
    fn : callable
        ``fn(theta: Array (d,)) -> Array ()``.
    dim : int
        The length ``d`` of ``θ``.
    name : str
        Problem name.

    Attributes
    ----------
    fn : callable
        The user's function (not jitted).

    Notes
    -----
    Each call enters ``jax.enable_x64(True)`` for its own duration (see the module
    docstring); the input's dtype (float32 or float64) is the precision.  Pickling sends
    ``fn`` by reference and compiles it again on the other side; a function that does
    not pickle (a lambda, a closure) raises a ``TypeError`` naming it.

    References
    ----------
    R. Frostig, M. J. Johnson and C. Leary, SysML 2018.

    Examples
    --------
    >>> import numpy as np, jax.numpy as jnp, gradflow as gf
    >>> p = gf.Problem.from_jax(lambda t: jnp.sum(jnp.cos(t)), dim=3)
    >>> p.loss(np.zeros((2, 3)))
    array([3., 3.])
    """

    def __init__(self, fn: Callable[[Any], Any], dim: int, name: str) -> None:
        jax = _jax()
        self.fn = fn
        grad = jax.grad(fn)

        def hvp_row(theta: Any, v: Any) -> Any:
            return jax.jvp(grad, (theta,), (v,))[1]

        self._j_loss = jax.jit(jax.vmap(fn))
        self._j_grad = jax.jit(jax.vmap(grad))
        self._j_hvp = jax.jit(jax.vmap(hvp_row))
        super().__init__(
            loss=self._np_loss, grad=self._np_grad, dim=dim, hvp=self._np_hvp, name=name
        )

    def _call(self, jitted: Any, shape: tuple[int, ...], *arrays: np.ndarray) -> np.ndarray:
        """``jitted`` on the ``(N, d)`` rows of ``arrays``, under x64, as numpy."""
        dtype = arrays[0].dtype
        if arrays[0].size == 0:
            return np.zeros(shape, dtype=dtype)
        rows = [a.reshape(-1, self.dim) for a in arrays]
        with _jax().enable_x64(True):
            out = jitted(*rows)
            # np.asarray of a JAX array is read-only: a copy is the caller's to overwrite.
            return np.array(out, dtype=dtype).reshape(shape)

    def _np_loss(self, theta: ArrayLike) -> np.ndarray:
        theta = as_batch(theta, self.dim)
        return self._call(self._j_loss, theta.shape[:-1], theta)

    def _np_grad(self, theta: ArrayLike) -> np.ndarray:
        theta = as_batch(theta, self.dim)
        return self._call(self._j_grad, theta.shape, theta)

    def _np_hvp(self, theta: ArrayLike, v: ArrayLike) -> np.ndarray:
        theta = as_batch(theta, self.dim)
        theta, v = np.broadcast_arrays(theta, np.asarray(v, dtype=theta.dtype))
        theta, v = np.ascontiguousarray(theta), np.ascontiguousarray(v)
        return self._call(self._j_hvp, theta.shape, theta, v)

    def __reduce__(self) -> tuple[Any, ...]:
        try:
            pickle.dumps(self.fn)
        except Exception as exc:  # lambdas and closures pickle by reference only
            raise TypeError(
                f"this Problem.from_jax problem cannot be pickled: its fn does not pickle "
                f"({type(exc).__name__}: {exc}); define it at module level (a named function)"
            ) from None
        return (JaxProblem, (self.fn, self.dim, self.name))


def _check_scalar(jax: Any, fn: Callable[[Any], Any], dim: int) -> None:
    """Trace ``fn`` once (no computation): it must return a real scalar."""
    with jax.enable_x64(True):
        try:
            out = jax.eval_shape(fn, jax.ShapeDtypeStruct((dim,), np.float64))
        except Exception as exc:  # the user's function fails on a (d,) vector
            raise TypeError(
                f"fn must take a flat vector of shape ({dim},): tracing it raised "
                f"{type(exc).__name__}: {exc}"
            ) from exc
    if not hasattr(out, "shape") or not hasattr(out, "dtype"):
        raise TypeError(f"fn must return a JAX array (a scalar), got {type(out).__name__}")
    if out.shape != ():
        raise ValueError(
            f"fn must return a scalar (the loss of one parameter vector), got shape "
            f"{tuple(out.shape)}; reduce it (e.g. jnp.sum or jnp.mean)"
        )
    if np.dtype(out.dtype).kind != "f":
        raise TypeError(f"fn must return a floating scalar, got dtype {out.dtype}")


def from_jax(fn: Callable[[Any], Any], dim: int, *, name: str | None = None) -> JaxProblem:
    """Build a :class:`JaxProblem` (the checks of :meth:`gradflow.Problem.from_jax`)."""
    jax = _jax()
    fn = check_callable(fn, "fn")
    dim = check_integer(dim, "dim", 1)
    _check_scalar(jax, fn, dim)
    if name is None:
        name = getattr(fn, "__name__", "jax")
        name = "jax" if name == "<lambda>" else name
    return JaxProblem(fn, dim, str(name))
