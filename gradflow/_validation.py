"""Argument checks: the one home of the package's validation contract.

The contract
------------
1. A value of the wrong *type* raises ``TypeError``: ``bool``, ``str``, ``bytes``,
   ``complex``, ``None`` or any other object where a real number is needed; a float
   where an integer (a count) is needed; an array of booleans, complex numbers,
   strings or objects where a state is needed.
2. A value of the right type but outside its range, or not finite (NaN, ±inf), raises
   ``ValueError``; so does an array of the wrong shape or an empty batch.
3. Every message names the argument and says what was expected, then what was given:
   ``"h0 must be a finite number > 0, got -1.0"``,
   ``"c must be a finite number in (0, 1), got 'x' (str)"``.
4. A check returns the value converted (``float``, ``int``, ``str``, ``bool``, a float
   ndarray or a ``numpy.random.Generator``), so a caller validates and converts in one
   line.

``None`` is never accepted by these functions; an argument for which ``None`` is a
documented default is tested by the caller first (``None if x is None else check_...``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "MAX_ALLOCATION_BYTES",
    "as_generator",
    "as_state_array",
    "check_allocation",
    "check_bool",
    "check_callable",
    "check_choice",
    "check_in_range",
    "check_integer",
    "check_nonnegative",
    "check_positive",
    "check_real",
    "check_step_count",
    "check_unit_interval",
]

#: Longest text of a rejected value quoted in a message.
SHOWN_CHARS = 60

#: Largest array a public entry point allocates from a user-given size before it
#: refuses (:func:`check_allocation`): 16 GiB, beyond the memory of a typical
#: workstation, so a request above it is almost surely a mistyped size.
MAX_ALLOCATION_BYTES = 16 * 2**30


def _shown(value: Any) -> str:
    """``repr`` of a rejected value, shortened (arrays summarised)."""
    if isinstance(value, np.ndarray):
        text = np.array2string(value, threshold=6, edgeitems=2)
    else:
        text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."


def _got(value: Any) -> str:
    """``"got <value> (<type>)"``: what a ``TypeError`` reports."""
    return f"got {_shown(value)} ({type(value).__name__})"


def _is_real_scalar(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, numbers.Real):
        return True
    return isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf"


def _is_integer(value: Any) -> bool:
    # bool is an int subclass, but True is not a count.
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, np.integer))


def _fmt(bound: float) -> str:
    return f"{bound:g}" if isinstance(bound, float) else str(bound)


def _range_text(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    """``"> 0"``, ``">= 0"``, ``"<= 1"``, ``"in [0, 1)"`` or ``""``."""
    if low is not None and high is not None:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        return f"in {left}{_fmt(low)}, {_fmt(high)}{right}"
    if low is not None:
        return f"{'>' if low_open else '>='} {_fmt(low)}"
    if high is not None:
        return f"{'<' if high_open else '<='} {_fmt(high)}"
    return ""


def _in_range(
    arr: np.ndarray,
    low: float | None,
    high: float | None,
    low_open: bool,
    high_open: bool,
) -> bool:
    ok = np.ones(arr.shape, dtype=bool)
    if low is not None:
        ok &= (arr > low) if low_open else (arr >= low)
    if high is not None:
        ok &= (arr < high) if high_open else (arr <= high)
    return bool(np.all(ok))


def _scalar_ok(
    x: float,
    low: float | None,
    high: float | None,
    low_open: bool,
    high_open: bool,
    finite: bool,
) -> bool:
    """Whether the float ``x`` passes :func:`check_real` (NaN never does)."""
    if x != x or (finite and not math.isfinite(x)):
        return False
    if low is not None and not (x > low if low_open else x >= low):
        return False
    return high is None or (x < high if high_open else x <= high)


def check_real(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    finite: bool = True,
    allow_array: bool = False,
) -> Any:
    """A real number (or, with ``allow_array``, an array of them) within bounds.

    Parameters
    ----------
    value : Any
        The argument to check.
    name : str
        Its name, as the user spells it; every message starts with it.
    low, high : float, optional
        Bounds; ``None`` leaves that side unbounded.
    low_open, high_open : bool, default False
        Whether a bound itself is excluded (``low_open=True`` means ``value > low``).
    finite : bool, default True
        Refuse ±inf (NaN is always refused).
    allow_array : bool, default False
        Accept an array of real numbers (every entry checked); the result is then a
        float64 ndarray (0-d for a scalar).

    Returns
    -------
    float or ndarray
        ``float(value)``, or the float64 array.

    Raises
    ------
    TypeError
        If ``value`` is not a real number: ``bool``, ``str``, ``bytes``, ``complex``,
        ``None``, another object, or (``allow_array``) an array of such.
    ValueError
        If it is NaN, infinite (with ``finite``), outside the bounds, or (``allow_array``)
        an empty or ragged array.

    Examples
    --------
    >>> check_real(0.5, "c", low=0, high=1, low_open=True, high_open=True)
    0.5
    >>> check_real("x", "c", low=0, high=1, low_open=True, high_open=True)
    Traceback (most recent call last):
    ...
    TypeError: c must be a finite number in (0, 1), got 'x' (str)
    >>> check_real(-1.0, "h0", low=0, low_open=True)
    Traceback (most recent call last):
    ...
    ValueError: h0 must be a finite number > 0, got -1.0
    """
    if (type(value) is float or (type(value) is int and abs(value) < 2**53)) and _scalar_ok(
        float(value), low, high, low_open, high_open, finite
    ):
        # The common case, a plain number in range, without numpy calls (a hot path of
        # every solve); anything else takes the general path, which also words errors.
        return np.array(float(value)) if allow_array else float(value)
    kind = "a finite number" if finite else "a number"
    if allow_array:
        kind += " or array of numbers"
    bounds = _range_text(low, high, low_open, high_open)
    expected = f"{name} must be {kind}" + (f" {bounds}" if bounds else "")
    if allow_array and not _is_real_scalar(value):
        if isinstance(value, (bool, np.bool_, str, bytes, complex)) or value is None:
            raise TypeError(f"{expected}, {_got(value)}")
        try:
            arr = np.asarray(value)
        except (TypeError, ValueError):  # ragged sequences: a shape problem
            raise ValueError(f"{expected}, got a ragged sequence {_shown(value)}") from None
        if arr.dtype.kind not in "iuf":
            raise TypeError(f"{expected}, got an array of dtype {arr.dtype}")
        arr = np.asarray(arr, dtype=np.float64)  # no copy of a float64 array
        if arr.size == 0:
            raise ValueError(f"{expected}, got an empty array")
    elif not _is_real_scalar(value):
        raise TypeError(f"{expected}, {_got(value)}")
    else:
        arr = np.asarray(value, dtype=np.float64)
    if np.any(np.isnan(arr)) or (finite and not np.all(np.isfinite(arr))):
        raise ValueError(f"{expected}, got {_shown(value)}")
    if not _in_range(arr, low, high, low_open, high_open):
        raise ValueError(f"{expected}, got {_shown(value)}")
    return arr if allow_array else float(arr)


def check_positive(value: Any, name: str, **options: Any) -> Any:
    """A finite real number ``> 0`` (see :func:`check_real` for ``options``).

    Raises
    ------
    TypeError
        If ``value`` is not a real number.
    ValueError
        If it is not finite or not ``> 0``.
    """
    return check_real(value, name, low=0.0, low_open=True, **options)


def check_nonnegative(value: Any, name: str, **options: Any) -> Any:
    """A finite real number ``>= 0`` (see :func:`check_real` for ``options``).

    Raises
    ------
    TypeError
        If ``value`` is not a real number.
    ValueError
        If it is not finite or negative.
    """
    return check_real(value, name, low=0.0, **options)


def check_in_range(
    value: Any,
    name: str,
    low: float | None,
    high: float | None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    **options: Any,
) -> Any:
    """A finite real number between ``low`` and ``high`` (closed unless told open).

    Raises
    ------
    TypeError
        If ``value`` is not a real number.
    ValueError
        If it is not finite or outside the interval.
    """
    return check_real(
        value, name, low=low, high=high, low_open=low_open, high_open=high_open, **options
    )


def check_unit_interval(
    value: Any, name: str, *, low_open: bool = False, high_open: bool = True, **options: Any
) -> Any:
    """A real number in the unit interval, ``[0, 1)`` unless told otherwise.

    ``[0, 1)`` is the range of a momentum or averaging coefficient: 0 switches the
    averaging off, 1 would freeze it.

    Raises
    ------
    TypeError
        If ``value`` is not a real number.
    ValueError
        If it is outside the interval.
    """
    return check_real(
        value, name, low=0.0, high=1.0, low_open=low_open, high_open=high_open, **options
    )


def check_integer(value: Any, name: str, minimum: int = 1, maximum: int | None = None) -> int:
    """An integer ``>= minimum`` (and ``<= maximum`` when given).

    Raises
    ------
    TypeError
        If ``value`` is not a Python or numpy integer (a float, even an integral one such
        as ``2.0``, or a bool, is refused: this is a count).
    ValueError
        If it is out of range.

    Examples
    --------
    >>> check_integer(3, "n")
    3
    >>> check_integer(2.5, "n")
    Traceback (most recent call last):
    ...
    TypeError: n must be an integer >= 1, got 2.5 (float)
    """
    bounds = _range_text(minimum, maximum, False, False)
    expected = f"{name} must be an integer {bounds}".rstrip()
    if not _is_integer(value):
        raise TypeError(f"{expected}, {_got(value)}")
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{expected}, got {value!r}")
    return int(value)


def check_step_count(value: Any, name: str, minimum: int) -> int:
    """A number of steps ``>= minimum`` (:func:`check_integer`: ``2.5`` is a ``TypeError``).

    Raises
    ------
    TypeError
        If ``value`` is not an integer.
    ValueError
        If it is ``< minimum``.
    """
    return check_integer(value, name, minimum)


def check_choice(value: Any, name: str, options: Iterable[Any]) -> Any:
    """One of ``options``.

    Raises
    ------
    TypeError
        If every option is a string and ``value`` is not.
    ValueError
        If ``value`` is not one of ``options``.

    Examples
    --------
    >>> check_choice("LA", "which", ("LA", "SA"))
    'LA'
    """
    options = tuple(options)
    if all(isinstance(o, str) for o in options) and not isinstance(value, str):
        raise TypeError(f"{name} must be one of {options}, {_got(value)}")
    try:
        known = value in options
    except (TypeError, ValueError):  # arrays and other ambiguous comparisons
        known = False
    if not known:
        raise ValueError(f"{name} must be one of {options}, got {_shown(value)}")
    return value


def check_callable(value: Any, name: str) -> Callable[..., Any]:
    """A callable.

    Raises
    ------
    TypeError
        If ``value`` is not callable.
    """
    if not callable(value):
        raise TypeError(f"{name} must be callable, {_got(value)}")
    return value


def check_bool(value: Any, name: str) -> bool:
    """``True`` or ``False`` (a Python or numpy bool; ``0``/``1`` and strings are refused).

    Raises
    ------
    TypeError
        If ``value`` is not a bool.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, {_got(value)}")
    return bool(value)


def as_generator(seed: Any, name: str = "seed") -> np.random.Generator:
    """``numpy.random.default_rng(seed)`` for ``None``, an integer ``>= 0`` or a Generator.

    Raises
    ------
    TypeError
        If ``seed`` is none of those (a float, a bool, a string...).
    ValueError
        If it is a negative integer.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    expected = f"{name} must be None, an integer >= 0 or a numpy Generator"
    if not _is_integer(seed):
        raise TypeError(f"{expected}, {_got(seed)}")
    if seed < 0:
        raise ValueError(f"{expected}, got {seed!r}")
    return np.random.default_rng(int(seed))


_STATE_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


#: Array libraries whose arrays are refused as states rather than converted silently
#: (a tensor may live on a GPU, carry autograd history or another dtype).
_FRAMEWORKS = {"torch": "PyTorch", "jax": "JAX", "jaxlib": "JAX"}


def _refuse_framework_array(x: Any, name: str) -> None:
    """Raise a TypeError for a PyTorch tensor or a JAX array (by the type's module, so
    neither library is imported here)."""
    library = _FRAMEWORKS.get(type(x).__module__.partition(".")[0])
    if library is not None:
        to_numpy = "x.detach().cpu().numpy()" if library == "PyTorch" else "numpy.asarray(x)"
        raise TypeError(
            f"{name} must be a numpy array, got a {library} "
            f"{'tensor' if library == 'PyTorch' else 'array'} ({type(x).__name__}); "
            f"gradflow computes on numpy: convert it explicitly ({to_numpy}), e.g. "
            "problem.theta_from_module() for a Problem.from_torch model"
        )


def as_state_array(
    x: ArrayLike,
    name: str,
    dim: int | None = None,
    *,
    allow_empty: bool = False,
    finite: bool = True,
) -> np.ndarray:
    """A batch of real points of shape ``(*batch, dim)``, as a contiguous float array.

    The one array check of the package: initial states, evaluation points, probe and
    start vectors all go through it.

    Parameters
    ----------
    x : array_like, shape (*batch, dim)
        Real numbers.  Integers (and float16, too coarse to compute in) become float64;
        float32 stays float32; float64 stays float64.
    name : str
        The argument's name, for the messages.
    dim : int, optional
        The required length of the last axis; ``None`` only requires at least one axis.
    allow_empty : bool, default False
        Accept a batch with no points (shape ``(0, dim)``).
    finite : bool, default True
        Refuse NaN and ±inf entries.  A problem's ``loss``/``grad`` pass ``False``: the
        driver evaluates them on diverging states, and reports those as data.

    Returns
    -------
    ndarray
        C-contiguous, so that every reduction over the last axis is the same pairwise
        sum whatever the batch around a row.

    Raises
    ------
    TypeError
        If ``x`` holds booleans, complex numbers, strings or objects, or is a PyTorch
        tensor or a JAX array (converted explicitly by the caller, never silently).
    ValueError
        If it is ragged, 0-d, of the wrong last dimension, empty (unless
        ``allow_empty``) or not finite (with ``finite``).

    Examples
    --------
    >>> as_state_array([1, 2], "theta0", 2).dtype
    dtype('float64')
    >>> as_state_array([True, False], "theta0", 2)
    Traceback (most recent call last):
    ...
    TypeError: theta0 must hold real numbers, got dtype bool
    """
    if (
        not finite
        and type(x) is np.ndarray
        and x.dtype in _STATE_DTYPES
        and x.ndim
        and (dim is None or x.shape[-1] == dim)
        and (allow_empty or x.size)
        and x.flags.c_contiguous
    ):
        return x  # the driver's own states: nothing to convert (a hot path)
    shape = f"(*batch, {dim})" if dim is not None else "(*batch, d)"
    _refuse_framework_array(x, name)
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:  # ragged lists and the like
        raise ValueError(f"{name} must be an array of shape {shape}: {exc}") from None
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if arr.dtype != np.float32 and arr.dtype != np.float64:
        arr = arr.astype(np.float64)
    if arr.ndim == 0 or (dim is not None and arr.shape[-1] != dim):
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"{name} must not be an empty batch, got shape {arr.shape}")
    if finite and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; it contains NaN or inf")
    return np.ascontiguousarray(arr)


def check_allocation(n_items: Any, itemsize: int, what: str, *, limit: int | None = None) -> int:
    """Refuse a preallocation above :data:`MAX_ALLOCATION_BYTES`, saying its size.

    An entry point that preallocates from user sizes (a number of output times, of grid
    points, of steps) calls this first, so that a huge request fails at once with the
    size it would have taken instead of a ``MemoryError`` (or swapping) later.

    Parameters
    ----------
    n_items : int or float
        Number of array entries (a product of user sizes; a float is accepted so that the
        product may be formed without integer overflow).
    itemsize : int
        Bytes per entry (8 for float64).
    what : str
        What the array is and which argument sizes it, e.g.
        ``"t_eval (len(t_eval) x batch x d output array)"``; the message starts with it.
    limit : int, optional
        The limit in bytes; default :data:`MAX_ALLOCATION_BYTES`.

    Returns
    -------
    int
        The size in bytes.

    Raises
    ------
    ValueError
        If ``n_items * itemsize`` exceeds the limit; the message gives the size in GiB.

    References
    ----------
    C. R. Harris et al., "Array programming with NumPy", Nature 585, 357–362, 2020
    (arrays are preallocated contiguous blocks of ``size * itemsize`` bytes).

    Examples
    --------
    >>> check_allocation(10**6, 8, "t_eval")
    8000000
    >>> check_allocation(10**12, 8, "t_eval")
    Traceback (most recent call last):
    ...
    ValueError: t_eval asks for an array of 7451 GiB (1e+12 entries of 8 bytes); the limit is 16 GiB
    """
    cap = MAX_ALLOCATION_BYTES if limit is None else int(limit)
    n_bytes = float(n_items) * float(itemsize)
    if not n_bytes <= cap:
        raise ValueError(
            f"{what} asks for an array of {n_bytes / 2**30:.4g} GiB "
            f"({float(n_items):.4g} entries of {itemsize} bytes); "
            f"the limit is {cap / 2**30:.4g} GiB"
        )
    return int(n_bytes)
