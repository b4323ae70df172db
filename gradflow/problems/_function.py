r"""Problems from plain numpy functions: :func:`from_function`.

A loss without a gradient gets one by differences of the loss, with the increments and
errors of Nocedal & Wright (2006, §8.1) and of the complex step (Squire & Trapp 1998;
Martins, Sturdza & Alonso 2003):

* central differences, ``g_i = (L(θ + h_i e_i) - L(θ - h_i e_i)) / (2 h_i)`` with
  ``h_i = δ·max(|θ_i|, 1)``, ``δ = eps^(1/3)``: truncation ``h_i² |∂³_i L| / 6`` plus
  rounding ``eps |L| / h_i``, both ``O(eps^(2/3))`` relative;
* the complex step, ``g_i = Im L(θ + i h_i e_i) / h_i`` with ``h_i = eps·max(|θ_i|, 1)``:
  no difference is taken, so there is no cancellation; the truncation ``h_i² |∂³_i L| / 6``
  is ``O(eps²)`` and the gradient is accurate to the rounding of ``L`` itself.

The user's function is seen through :class:`_Vectorised`, which calls it once on a 2-D
block of rows (a batched function) or once per row (a scalar one).  Every block of
perturbed points is built from one row at a time, so each row's gradient depends on
that row only: batch = single whenever the user's function computes its rows
independently (a scalar function always does).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from gradflow._numerics import CENTRAL_DIFFERENCE_EXPONENT
from gradflow._validation import (
    as_state_array,
    check_bool,
    check_callable,
    check_choice,
    check_integer,
    check_real,
)
from gradflow.problems._problem import Problem, as_batch

__all__ = ["DERIVATIVES", "FunctionProblem", "from_function"]

#: The values of ``from_function(..., derivative=...)``.
DERIVATIVES = ("auto", "complex", "central")

#: Increment exponent of the HVP of a central-difference gradient.  Each entry is then a
#: second difference of the loss, with truncation O(h²) and rounding O(eps/h²): both
#: O(eps^(1/2)) at h = eps^(1/4) (Nocedal & Wright 2006, §8.1, eq. 8.7 and after).
SECOND_DIFFERENCE_EXPONENT = 0.25

#: Largest number of entries of one block of perturbed points handed to the loss (2^21
#: float64 entries are 16 MB): the coordinates are split into blocks below this size.
MAX_POINT_ENTRIES = 2**21

#: Relative tolerance of the complex-step check at ``theta0``, against the central
#: difference there (accurate to O(eps^(2/3)) ≈ 4e-11): eps^(1/4) ≈ 1.2e-4 leaves room
#: for a large third derivative and refuses the O(1) errors of a non-analytic step.
COMPLEX_CHECK_EXPONENT = 0.25

#: Relative spacing of the rows of the batching probe around ``theta0``.
_PROBE_SPACING = 2.0**-7


class _NotComplex(TypeError):
    """The loss returned real numbers for a complex input (no complex step)."""


class _Vectorised:
    """A user function seen as batched over 2-D rows.

    :meth:`evaluate` takes arrays of shape ``(n, d)`` and returns ``(n,)`` (a loss) or
    ``(n, d)`` (a gradient or HVP), calling the function once on the whole block
    (``batched``) or once per row (a loop whose cost is that of the function).
    ``__call__`` adds the leading axes of a problem's functions.
    """

    def __init__(self, fn: Callable[..., Any], label: str, dim: int, batched: bool, vector: bool):
        self.fn = fn
        self.label = label
        self.dim = dim
        self.batched = batched
        self.vector = vector

    def evaluate(self, *flat: np.ndarray) -> np.ndarray:
        n, dtype = flat[0].shape[0], flat[0].dtype
        shape = (n, self.dim) if self.vector else (n,)
        if n == 0:
            return np.zeros(shape, dtype=dtype)
        if self.batched:
            out = self.fn(*flat)
        else:
            out = [self.fn(*(a[i] for a in flat)) for i in range(n)]
        try:
            out = np.asarray(out)
        except (TypeError, ValueError):  # ragged lists of per-row results
            out = np.asarray(None)
        if out.shape != shape:
            per_row = f"({self.dim},)" if self.vector else "() (a number)"
            expected = f"shape {shape}" if self.batched else f"shape {per_row} for each row"
            raise ValueError(f"{self.label} must return {expected}, got shape {out.shape}")
        if dtype.kind == "c" and out.dtype.kind != "c":
            raise _NotComplex(f"{self.label} returned real numbers for a complex input")
        if out.dtype.kind not in ("fiuc" if dtype.kind == "c" else "fiu"):
            raise TypeError(f"{self.label} must return real numbers, got dtype {out.dtype}")
        # A new array in the dtype of the input (float32 stays float32).
        return np.array(out, dtype=dtype)

    def __call__(self, theta: ArrayLike, v: ArrayLike | None = None) -> np.ndarray:
        theta = as_batch(theta, self.dim)
        arrays = [theta]
        if v is not None:
            arrays = list(np.broadcast_arrays(theta, np.asarray(v, dtype=theta.dtype)))
        lead = arrays[0].shape[:-1]
        flat = [np.ascontiguousarray(a).reshape(-1, self.dim) for a in arrays]
        out = self.evaluate(*flat)
        return out.reshape(lead + ((self.dim,) if self.vector else ()))


def _blocks(n: int, d: int, copies: int) -> list[tuple[int, int]]:
    """Coordinate blocks ``[j0, j1)`` so that ``copies·n·(j1-j0)·d <= MAX_POINT_ENTRIES``
    (at least one coordinate per block)."""
    width = max(1, min(d, MAX_POINT_ENTRIES // max(1, copies * n * d)))
    return [(j0, min(d, j0 + width)) for j0 in range(0, d, width)]


def _moved(flat: np.ndarray, values: np.ndarray, j0: int, j1: int) -> np.ndarray:
    """Shape ``(n, j1-j0, d)``: copy ``k`` of each row with coordinate ``j0+k`` set to
    the row's entry of ``values``."""
    points = np.repeat(flat[:, None, :], j1 - j0, axis=1)
    k = np.arange(j1 - j0)
    points[:, k, j0 + k] = values[:, j0:j1]
    return points


def central_gradient(loss: _Vectorised, flat: np.ndarray, relative: float | None) -> np.ndarray:
    """Central-difference gradient of rows ``flat`` (n, d), relative increment
    ``relative`` (``None``: eps^(1/3) of the dtype)."""
    n, d = flat.shape
    if relative is None:
        relative = float(np.finfo(flat.dtype).eps) ** CENTRAL_DIFFERENCE_EXPONENT
    h = (relative * np.maximum(np.abs(flat), 1.0)).astype(flat.dtype, copy=False)
    up, down = flat + h, flat - h
    # The increments actually taken (θ ± h rounded), so no rounding enters the divisor.
    width = (up - flat) + (flat - down)
    out = np.empty_like(flat)
    for j0, j1 in _blocks(n, d, 2):
        points = np.stack([_moved(flat, up, j0, j1), _moved(flat, down, j0, j1)])
        values = loss.evaluate(points.reshape(-1, d)).reshape(2, n, j1 - j0)
        np.divide(values[0] - values[1], width[:, j0:j1], out=out[:, j0:j1])
    return out


def complex_step_gradient(loss: _Vectorised, flat: np.ndarray) -> np.ndarray:
    """Complex-step gradient ``Im L(θ + i h e_j) / h`` of rows ``flat`` (n, d)."""
    n, d = flat.shape
    h = float(np.finfo(flat.dtype).eps) * np.maximum(np.abs(flat), 1.0)
    base = flat.astype(np.result_type(flat.dtype, np.complex64))
    out = np.empty_like(flat)
    k_all = np.arange(d)
    for j0, j1 in _blocks(n, d, 2):  # a complex entry is two floats
        points = np.repeat(base[:, None, :], j1 - j0, axis=1)
        k = k_all[: j1 - j0]
        points.imag[:, k, j0 + k] = h[:, j0:j1]
        values = loss.evaluate(points.reshape(-1, d)).reshape(n, j1 - j0)
        np.divide(values.imag, h[:, j0:j1], out=out[:, j0:j1])
    return out


class _CentralGradient:
    """``grad(θ)`` by central differences of the loss (see :func:`central_gradient`)."""

    def __init__(self, loss: _Vectorised, relative: float | None) -> None:
        self.loss = loss
        self.relative = relative

    def __call__(self, theta: ArrayLike) -> np.ndarray:
        theta = as_batch(theta, self.loss.dim)
        flat = theta.reshape(-1, self.loss.dim)
        return central_gradient(self.loss, flat, self.relative).reshape(theta.shape)


class _ComplexStepGradient:
    """``grad(θ)`` by the complex step (see :func:`complex_step_gradient`)."""

    def __init__(self, loss: _Vectorised) -> None:
        self.loss = loss

    def __call__(self, theta: ArrayLike) -> np.ndarray:
        theta = as_batch(theta, self.loss.dim)
        flat = theta.reshape(-1, self.loss.dim)
        return complex_step_gradient(self.loss, flat).reshape(theta.shape)


class _SecondDifferenceHvp:
    r"""``hvp(θ, v)``: a central difference along ``v`` of a central-difference gradient,
    both with relative increments ``eps^(1/4)`` (each entry a second difference of the
    loss, accurate to O(eps^(1/2)))."""

    def __init__(self, loss: _Vectorised, relative: float | None) -> None:
        self.loss = loss
        self.relative = relative

    def __call__(self, theta: ArrayLike, v: ArrayLike) -> np.ndarray:
        d = self.loss.dim
        theta = as_batch(theta, d)
        theta, v = np.broadcast_arrays(theta, np.asarray(v, dtype=theta.dtype))
        dtype = theta.dtype
        rel = float(np.finfo(dtype).eps) ** SECOND_DIFFERENCE_EXPONENT
        v_norm = np.linalg.norm(v, axis=-1, keepdims=True)
        scale = np.maximum(1.0, np.linalg.norm(theta, axis=-1, keepdims=True))
        zero = v_norm == 0
        step = (rel * scale / np.where(zero, 1.0, v_norm)).astype(dtype, copy=False)
        points = np.stack([theta + step * v, theta - step * v]).reshape(-1, d)
        grad_rel = rel if self.relative is None else self.relative
        g = central_gradient(self.loss, points, grad_rel).reshape(2, *theta.shape)
        return np.where(zero, 0.0, (g[0] - g[1]) / (2.0 * step)).astype(dtype, copy=False)


class FunctionProblem(Problem):
    """A problem built from numpy functions by :func:`from_function`.

    Parameters
    ----------
    loss, grad, hvp : callable
        Batched functions (``grad`` possibly a difference gradient; ``hvp`` ``None`` for
        a central difference of ``grad``).
    derivative : {"exact", "complex", "central"}
        How ``grad`` is computed.
    exact_hvp : bool
        Whether ``hvp`` is the user's own.
    name, minimum, minimizers
        As for :class:`~gradflow.Problem`.

    Attributes
    ----------
    batched : bool
        Whether the user's functions take a block of rows ``(n, d)`` (else one vector
        ``(d,)`` per call, in a loop).
    derivative : str
        ``"exact"`` (the user's ``grad``), ``"complex"`` or ``"central"``.
    loss_evaluations_per_grad : int
        Loss evaluations per gradient of one row: ``0``, ``dim`` or ``2·dim``.
        ``Trajectory.n_grad`` counts gradients; times this is the number of loss
        evaluations they cost (an HVP counts as two gradients).
    function : callable
        The user's loss.

    Raises
    ------
    None
        The arguments are trusted; :func:`from_function` validates user input.

    References
    ----------
    See :func:`from_function`.

    Examples
    --------
    >>> import numpy as np
    >>> p = from_function(lambda th: np.sum(th**2, axis=-1), dim=2)
    >>> isinstance(p, FunctionProblem), p.derivative, p.loss_evaluations_per_grad
    (True, 'complex', 2)
    """

    def __init__(
        self,
        loss: _Vectorised,
        grad: Callable[..., Any],
        hvp: Callable[..., Any] | None,
        *,
        derivative: str,
        exact_hvp: bool,
        name: str,
        minimum: float | None,
        minimizers: ArrayLike | None,
    ) -> None:
        super().__init__(
            loss, grad, dim=loss.dim, hvp=hvp, name=name, minimum=minimum, minimizers=minimizers
        )
        self.batched = loss.batched
        self.derivative = derivative
        self.function = loss.fn
        self._exact_hvp = exact_hvp
        per_grad = {"exact": 0, "complex": 1, "central": 2}[derivative]
        self.loss_evaluations_per_grad = per_grad * loss.dim

    @property
    def has_exact_hvp(self) -> bool:
        """True only when the user supplied the HVP (differences are not exact)."""
        return self._exact_hvp

    def __repr__(self) -> str:
        return (
            f"FunctionProblem(name={self.name!r}, dim={self.dim}, batched={self.batched}, "
            f"grad={self.derivative!r}, hvp={'exact' if self._exact_hvp else 'difference'})"
        )


def _probe(theta0: np.ndarray, rows: int) -> np.ndarray:
    """``rows`` distinct points near ``theta0`` (the first is ``theta0``)."""
    signs = np.where(np.arange(theta0.size) % 2 == 0, 1.0, -1.0)
    step = _PROBE_SPACING * np.maximum(np.abs(theta0), 1.0) * signs
    return theta0 + np.arange(rows)[:, None] * step


def _agrees(a: np.ndarray, b: np.ndarray) -> bool:
    tol = 1e3 * float(np.finfo(np.float64).eps)
    return bool(np.all((a == b) | np.isclose(a, b, rtol=tol, atol=0.0)))


def _is_batched(loss: Callable[..., Any], theta0: np.ndarray) -> bool:
    """Whether ``loss`` maps a block ``(k, d)`` to its ``k`` row values: it must return
    shape ``(k,)`` (``k`` differs from ``d``, so a scalar function indexing ``θ[0]``
    does not pass) and agree with its value on each row alone, given as ``(1, d)``."""
    k = 3 if theta0.size == 2 else 2
    rows = _probe(theta0, k)
    try:
        block = np.asarray(loss(rows))
        if block.shape != (k,) or block.dtype.kind not in "fiu":
            return False
        for i in range(k):
            one = np.asarray(loss(rows[i : i + 1]))
            if one.shape != (1,) or not _agrees(one, block[i : i + 1]):
                return False
    except Exception:  # a function of one vector may raise anything on a block
        return False
    return True


def _check_scalar(loss: Callable[..., Any], theta0: np.ndarray) -> None:
    """``loss`` of one vector must be a real number; else neither convention holds."""
    value = np.asarray(loss(theta0.copy()))
    if value.shape != () or value.dtype.kind not in "fiu":
        raise ValueError(
            "loss must be batched, mapping rows of shape (n, dim) to shape (n,), or "
            "scalar, mapping a vector of shape (dim,) to a real number; at theta0 it maps "
            f"a vector to dtype {value.dtype} and shape {value.shape}, and a block of rows "
            "to neither its row values nor an error"
        )
    if not np.isfinite(value):
        raise ValueError(
            f"loss is not finite at theta0 (got {value}): pass theta0=, a point where the "
            "loss is defined, for the checks of from_function"
        )


def _complex_step_works(loss: _Vectorised, theta0: np.ndarray) -> bool:
    """The complex step at ``theta0``: complex values of the right shape whose gradient
    agrees with the central difference (refuses ``abs``, ``conj``, ``real`` and the like)."""
    flat = theta0[None, :]
    try:
        step = complex_step_gradient(loss, flat)
    except Exception:  # functions that refuse complex input raise anything
        return False
    central = central_gradient(loss, flat, None)
    value = float(loss.evaluate(flat)[0])
    if not (np.all(np.isfinite(step)) and np.all(np.isfinite(central))):
        return False
    scale = max(float(np.max(np.abs(theta0))), 1.0)
    rel = float(np.finfo(np.float64).eps) ** COMPLEX_CHECK_EXPONENT
    tol = rel * (float(np.max(np.abs(central))) + abs(value) / scale)
    return bool(np.max(np.abs(step - central)) <= tol)


def _choose_derivative(loss: _Vectorised, derivative: str, theta0: np.ndarray) -> str:
    if derivative == "central":
        return "central"
    if derivative == "auto":
        return "complex" if _complex_step_works(loss, theta0) else "central"
    try:
        complex_step_gradient(loss, theta0[None, :])
    except Exception as exc:  # forced: say why the function cannot take the step
        raise ValueError(
            "derivative='complex' needs a loss that evaluates on complex input and returns "
            f"complex values; at theta0 it gave {type(exc).__name__}: {exc}"
        ) from exc
    return "complex"


def _checked_options(
    loss: Any, dim: Any, grad: Any, hvp: Any, batched: Any, derivative: Any, increment: Any
) -> tuple[int, float | None]:
    check_callable(loss, "loss")
    dim = check_integer(dim, "dim", 1)
    for label, fn in (("grad", grad), ("hvp", hvp)):
        if fn is not None:
            check_callable(fn, label)
    if batched is not None:
        check_bool(batched, "batched")
    check_choice(derivative, "derivative", DERIVATIVES)
    if grad is not None and derivative != "auto":
        raise ValueError(
            f"derivative={derivative!r} chooses how a gradient is approximated; with grad "
            "given there is none to approximate: leave derivative='auto'"
        )
    if increment is not None:
        increment = check_real(increment, "increment", low=0.0, high=1.0, low_open=True)
        if derivative == "complex":
            raise ValueError(
                "increment sets the central differences; the complex step takes none "
                "(derivative='complex')"
            )
        increment = float(increment)
    return int(dim), increment


def from_function(
    loss: Callable[..., Any],
    *,
    dim: int,
    grad: Callable[..., Any] | None = None,
    hvp: Callable[..., Any] | None = None,
    batched: bool | None = None,
    derivative: str = "auto",
    increment: float | None = None,
    theta0: ArrayLike | None = None,
    name: str = "function",
    minimum: float | None = None,
    minimizers: ArrayLike | None = None,
) -> FunctionProblem:
    r"""Build a :class:`~gradflow.Problem` from a plain numpy loss, with or without its
    gradient.

    The loss may be written either way, and ``grad`` and ``hvp`` (when given) follow
    the same convention as the loss:

    * **batched**: ``loss(theta)`` takes a 2-D array of rows, shape ``(n, dim)``, and
      returns their values, shape ``(n,)`` (``grad(theta)`` returns ``(n, dim)``,
      ``hvp(theta, v)`` ``(n, dim)`` for two such arrays).  The problem flattens its
      leading axes into those rows: one call per evaluation.
    * **scalar**: ``loss(theta)`` takes one vector, shape ``(dim,)``, and returns a
      number (``grad`` a vector of shape ``(dim,)``).  The problem calls it once per row,
      in a Python loop: each evaluation costs the function's own time per row, so a
      batch of ``n`` rows costs ``n`` calls (write the loss batched to avoid that).

    With ``batched=None`` the convention is detected at ``theta0``: the loss is called on
    a block of ``k`` distinct rows near ``theta0`` (``k`` = 2, or 3 when ``dim`` = 2, so
    never ``dim``) and is batched when it returns shape ``(k,)`` with each value equal
    (to 1e3 ulp) to the loss of that row alone as a ``(1, dim)`` block.  Otherwise (any
    other shape, or an error, or values that mix rows as ``np.sum(theta**2)`` does) it is
    scalar, and must return a real number for the vector ``theta0``.

    Without ``grad`` the gradient is a difference of the loss, per coordinate, with
    ``h_i`` relative to ``max(|θ_i|, 1)`` so that large and small coordinates alike are
    perturbed in their leading digits:

    * **complex step** (``derivative="complex"``): ``g_i = Im L(θ + i h_i e_i) / h_i``,
      ``h_i = eps·max(|θ_i|, 1)``.  No subtraction, so the error is the truncation
      ``h_i² |∂³_i L| / 6 = O(eps²)`` plus the rounding of ``L``: about ``1e-15``
      relative in float64.  It needs a loss that is analytic in every coordinate and
      written with operations numpy extends to complex numbers (``+ - * / **``, ``exp``,
      ``log``, ``sin``, ``tanh``, ``@`` ...; not ``abs``, ``maximum``, comparisons or
      ``real``).  ``dim`` loss evaluations per gradient row.
    * **central difference** (``derivative="central"``):
      ``g_i = (L(θ + h_i e_i) - L(θ - h_i e_i)) / (2 h_i)``, ``h_i = δ·max(|θ_i|, 1)``,
      ``δ = eps^(1/3)`` of the dtype (``increment`` sets ``δ``).  The error is
      ``h_i² |∂³_i L| / 6`` (truncation, O(δ²)) plus about ``eps |L| / h_i``
      (rounding, O(eps/δ)): ``O(eps^(2/3))``, about ``4e-11`` relative in float64 and
      ``2e-5`` in float32.  The increments used are the representable ones,
      ``(θ_i + h_i) - θ_i``.  ``2·dim`` loss evaluations per gradient row.
    * ``derivative="auto"`` (default) uses the complex step when it is safe at
      ``theta0``: the loss, given complex input, returns complex values of the right
      shape, finite, whose gradient agrees with the central difference to
      ``eps^(1/4)`` relative (a loss that drops or conjugates imaginary parts fails
      this by O(1)); otherwise central differences.  Warnings the loss raises during the
      check are silenced.

    Without ``hvp`` the Hessian-vector product is a central difference of the gradient
    along ``v``, ``(g(θ + εv) - g(θ - εv)) / (2ε)`` with ``ε‖v‖ = ε_r·max(‖θ‖, 1)``: for an
    exact or complex-step gradient ``ε_r = eps^(1/3)`` and the error is
    ``O(eps^(2/3))`` (see :func:`~gradflow.problems.central_difference_hvp`); for a
    central-difference gradient, each entry is a second difference of the loss, so both
    increments are ``eps^(1/4)`` and the error ``O(eps^(1/2))`` (about ``1e-8`` relative
    in float64, ``3e-4`` in float32).  The Hessian is assembled from ``dim`` HVPs.

    Parameters
    ----------
    loss : callable
        The loss, batched or scalar (see above).  Constants written as Python floats
        keep float32 inputs float32; results are cast to the input's dtype.
    dim : int
        The number of parameters.
    grad : callable, optional
        The exact gradient, in the loss's convention.
    hvp : callable, optional
        The exact Hessian-vector product ``hvp(theta, v)``, in the loss's convention.
    batched : bool, optional
        The convention, if known (skips its detection).
    derivative : {"auto", "complex", "central"}, default "auto"
        The difference gradient when ``grad`` is not given.
    increment : float, optional
        The relative increment ``δ`` of the central differences, in ``(0, 1]``; default
        ``eps^(1/3)`` of the dtype evaluated.  Larger for a loss that is noisy or
        computed to fewer digits than the dtype holds.
    theta0 : array_like, shape (dim,), optional
        A point where the loss is defined, finite and typical, for the detections;
        default a fixed point with entries in ``[0.5, 1.5]``.  It is not stored.
    name : str, optional
        Problem name.
    minimum, minimizers : optional
        Known minimum value and minimisers, as for :class:`~gradflow.Problem`.

    Returns
    -------
    FunctionProblem
        A :class:`~gradflow.Problem` with attributes ``batched``, ``derivative``
        (``"exact"``, ``"complex"`` or ``"central"``) and ``loss_evaluations_per_grad``
        (``0``, ``dim`` or ``2·dim``).  ``Trajectory.n_grad`` counts *gradients*; a
        difference gradient costs ``loss_evaluations_per_grad`` loss evaluations per
        row, and an HVP counts as two gradients.  It pickles when the user's functions
        do (module-level functions, not lambdas or closures).

    Raises
    ------
    TypeError
        If ``loss``, ``grad`` or ``hvp`` is not callable, ``dim`` is not an integer,
        ``batched`` not a bool, ``derivative`` not a string, ``theta0`` not real, or a
        function returns something other than real numbers.
    ValueError
        If ``dim < 1``; ``derivative`` is not "auto", "complex" or "central", or is set with
        ``grad`` given; ``increment`` is outside ``(0, 1]`` or set with the complex step;
        ``theta0`` is not finite or of shape ``(dim,)``; the loss follows neither
        convention or is not finite at ``theta0``; ``derivative="complex"`` and the
        loss does not evaluate on complex input.

    References
    ----------
    J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer, 2006, §8.1.
    W. Squire and G. Trapp, "Using complex variables to estimate derivatives of real
    functions", SIAM Review 40(1), 110–112, 1998.
    J. R. R. A. Martins, P. Sturdza and J. J. Alonso, "The complex-step derivative
    approximation", ACM Trans. Math. Softw. 29(3), 245–262, 2003.

    Examples
    --------
    A scalar loss (one vector per call) gets a complex-step gradient:

    >>> import numpy as np
    >>> from gradflow import Problem
    >>> def rosen(th):
    ...     return (1.0 - th[0]) ** 2 + 100.0 * (th[1] - th[0] ** 2) ** 2
    >>> p = Problem.from_function(rosen, dim=2)
    >>> p.batched, p.derivative
    (False, 'complex')
    >>> p.grad(np.array([[0.0, 0.0], [0.5, 0.5]])).round(10)
    array([[ -2., 0.], [-51., 50.]])

    A batched loss with ``abs`` has no complex step, so it gets central differences:

    >>> q = Problem.from_function(lambda th: np.sum(np.abs(th) ** 3, axis=-1), dim=3)
    >>> q.batched, q.derivative, q.loss_evaluations_per_grad
    (True, 'central', 6)
    >>> q.grad(np.array([1.0, -2.0, 0.5])).round(6)       # 3 θ|θ|
    array([ 3.  , -12.  ,  0.75])
    """
    dim, increment = _checked_options(loss, dim, grad, hvp, batched, derivative, increment)
    if theta0 is None:
        probe = 0.5 + np.random.default_rng(0).random(dim)
    else:
        probe = as_state_array(theta0, "theta0", dim).astype(np.float64)
        if probe.shape != (dim,):
            raise ValueError(f"theta0 must have shape ({dim},), got {probe.shape}")
    # The user's function meets trial inputs here (blocks, complex numbers): its
    # warnings and numpy's floating-point errors are part of the test, not the caller's.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if batched is None:
            batched = _is_batched(loss, probe)
            if not batched:
                _check_scalar(loss, probe)  # a clear error when neither convention holds
        wrapped = _Vectorised(loss, "loss", dim, bool(batched), vector=False)
        chosen = "exact" if grad is not None else _choose_derivative(wrapped, derivative, probe)
    if grad is not None:
        gradient: Callable[..., Any] = _Vectorised(grad, "grad", dim, bool(batched), vector=True)
    elif chosen == "complex":
        gradient = _ComplexStepGradient(wrapped)
    else:
        gradient = _CentralGradient(wrapped, increment)
    if hvp is not None:
        hvp_fn: Callable[..., Any] | None = _Vectorised(hvp, "hvp", dim, bool(batched), True)
    elif chosen == "central":
        hvp_fn = _SecondDifferenceHvp(wrapped, increment)
    else:
        hvp_fn = None  # Problem's central difference of the (exact or complex-step) gradient
    return FunctionProblem(
        wrapped,
        gradient,
        hvp_fn,
        derivative=chosen,
        exact_hvp=hvp is not None,
        name=name,
        minimum=minimum,
        minimizers=minimizers,
    )
