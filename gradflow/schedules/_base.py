"""The schedule contract: a pure, vectorised function of the step index.

Contract for writing a new schedule
-----------------------------------
1. Subclass :class:`Schedule`; validate every argument in ``__init__`` with the helpers
   below (``TypeError`` for a wrong type, ``ValueError`` for a bad value, the argument
   named: the contract of :mod:`gradflow._validation`).  Step counts are Python ints; values,
   rates and factors may be arrays (:func:`_values` broadcasts them), and the
   broadcast shape of the array-valued ones is ``self.shape``.
2. Implement ``_evaluate(k)`` for ``k`` an ``int64`` array of non-negative step
   indices: return the step sizes, shape ``broadcast(k.shape, self.shape)``, without a
   Python loop over ``k``.  For ``k >= self.horizon`` the value must be the final value
   (clip ``k`` to the horizon; that is also what keeps it exact there).
3. Set ``horizon`` (first index from which the value is held, ``None`` when the schedule
   never settles), ``span`` (a number of steps that shows the schedule's shape, used by
   :func:`gradflow.plot.schedules`) and implement ``describe()`` (the formula, with the
   numbers); store each ``__init__`` argument under its own name (``repr`` reads them
   back; override ``_arguments()`` to show something else).
4. Implement the classmethod ``_example()``: a typical instance.  The schedule contract
   tests (``tests/test_schedule_contract.py``) find every subclass and check each one's
   example against this contract (finite, non-negative, held past the horizon, scalar
   calls equal array calls, what ``solve`` uses equal to ``s(k)``); a subclass without
   an example fails them.  A new schedule is then one file and one export in
   ``gradflow/schedules/__init__.py``.

``k`` is the number of steps already taken: ``s(k)`` is the step size of step ``k``
(PyTorch's ``last_epoch``, optax's ``count``).  ``s(k)`` and ``solve(..., stepsize=s)``
agree: step ``k`` of a run uses ``h_k = s(k)``.
"""

from __future__ import annotations

import abc
import inspect
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from gradflow._validation import check_choice, check_real, check_step_count

__all__ = ["Schedule", "as_steps"]

#: :func:`_int_power` splits exponents as ``n = q·2^POWER_BITS + r`` and multiplies two
#: looked-up powers: two table reads instead of one ``pow`` call per entry (``pow`` costs
#: ~80 ns, which is 80 ms on 10^6 indices), within 2 ulp of ``pow``.
POWER_BITS = 10
#: Below this many entries :func:`_int_power` calls ``pow`` directly.
POWER_TABLE_MIN = 4096
#: Scalar calls ``s(k)`` are served from a memo of this many consecutive values (at most
#: ``SCALAR_BLOCK_VALUES`` numbers for a sweep); below ``POWER_TABLE_MIN``, so a memoised
#: value is computed exactly as a direct evaluation would be.
SCALAR_BLOCK = 512
SCALAR_BLOCK_VALUES = 1 << 16
_SCALAR_MAX = np.iinfo(np.int64).max - SCALAR_BLOCK
#: :meth:`Schedule.label`: target length, and the longest argument text shown.
LABEL_WIDTH = 44
LABEL_ARGUMENT = 24


def as_steps(k: Any) -> np.ndarray:
    """Validate step indices: an int or an integer array, every entry ``>= 0``.

    Returns an ``int64`` array (0-d for a scalar).

    Raises
    ------
    TypeError
        If ``k`` is not an integer or an array of integers (floats, even integral ones,
        and booleans are refused: an index is a count).
    ValueError
        If an entry of ``k`` is negative.

    Examples
    --------
    >>> as_steps([0, 1, 2]).dtype
    dtype('int64')
    >>> as_steps(1.0)
    Traceback (most recent call last):
    ...
    TypeError: k must be an int or an integer array (a step index), got dtype float64
    """
    if isinstance(k, (bool, np.bool_)):
        raise TypeError("k must be an int or an integer array (a step index), got a bool")
    arr = np.asarray(k)
    if arr.dtype.kind not in "iu":
        raise TypeError(
            f"k must be an int or an integer array (a step index), got dtype {arr.dtype}"
        )
    if arr.dtype != np.int64:
        arr = arr.astype(np.int64)
    if arr.size and arr.min() < 0:
        raise ValueError(f"k must be >= 0 (k = 0 is the first step), got min {arr.min()}")
    return arr


def _int_power(base: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``base ** n`` for non-negative integer ``n``, fast on large index arrays."""
    if base.ndim or n.size < POWER_TABLE_MIN or (int(n.max()) >> POWER_BITS) > n.size:
        return base**n
    block = 1 << POWER_BITS
    low = base ** np.arange(block)
    high = base ** (np.arange((int(n.max()) >> POWER_BITS) + 1) * block)
    return high[n >> POWER_BITS] * low[n & (block - 1)]


def _values(value: ArrayLike, name: str, *, positive: bool = True) -> np.ndarray:
    """A finite float64 value or array, ``> 0`` (``positive``) or ``>= 0``."""
    return check_real(value, name, low=0.0, low_open=positive, allow_array=True)


#: A step count: a Python or numpy integer ``>= minimum``.
_count = check_step_count
#: One of a tuple of names.
_choice = check_choice


def _fmt(value: Any) -> str:
    """Short text of a number or an array for formulas and reprs."""
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return f"{float(value):g}"
        return np.array2string(value, precision=4, separator=", ", threshold=6)
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value)


def _rows(table: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Row ``index`` of ``table`` (shape ``(n, *shape)``), entry by entry of ``shape``.

    The result has shape ``broadcast(index.shape, shape)``, as every schedule's values:
    entry ``j`` of the parameter shape reads row ``index[..., j]`` of its own column.
    """
    grids = np.indices(table.shape[1:], sparse=True) if table.ndim > 1 else ()
    return table[(index, *grids)]


def _is_default(value: Any, default: Any) -> bool:
    """Whether an argument holds its default (``None``, or a scalar equal to it)."""
    if default is None or value is None:
        return value is default
    return bool(np.ndim(value) == 0 and value == default)


class _Raw(str):
    """A string shown as is by ``repr`` (nested schedules in reprs and labels)."""

    def __repr__(self) -> str:
        return str(self)


def _shape(*arrays: np.ndarray) -> tuple[int, ...]:
    try:
        return np.broadcast_shapes(*(a.shape for a in arrays))
    except ValueError:
        shapes = ", ".join(str(a.shape) for a in arrays)
        raise ValueError(
            f"array-valued schedule parameters must broadcast together: {shapes}"
        ) from None


class Schedule(abc.ABC):
    """A step-size schedule: ``s(k)`` for step indices ``k = 0, 1, ...``.

    Call it on an int (returns a float, or an array when a parameter is an array) or on
    an integer array of any shape (returns an array of shape
    ``broadcast(k.shape, s.shape)``).  See the module docstring for the contract.

    Attributes
    ----------
    horizon : int or None
        First step index from which the value is held at its final value, ``None``
        for schedules that never settle (periodic, or decaying forever).
    shape : tuple of int
        Broadcast shape of the array-valued parameters (``()`` for scalars).  A schedule
        with ``shape == (n,)`` passed to :func:`gradflow.solve` gives element ``i`` of a
        batch of ``n`` the step sizes of parameter ``i``; its shape must broadcast to the
        batch shape (use ``lr[:, None]`` with ``theta0`` of shape ``(n, m, d)``).
    span : int
        A number of steps that shows the schedule's shape (plots).
    name : str
        Name of the function that builds it.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow import schedules
    >>> s = schedules.cosine(np.array([0.1, 0.2]), total_steps=10)   # a sweep of 2
    >>> s.shape, s.horizon
    ((2,), 10)
    >>> s(np.array([0, 10, 50])[:, None])           # held past the horizon
    array([[0.1, 0.2],
           [0. , 0. ],
           [0. , 0. ]])
    """

    #: Name of the function that builds it (``cosine``, ``one_cycle``, ...).
    name: str = "schedule"
    #: Optional arguments that ``repr`` and :meth:`label` leave out while they hold
    #: these defaults (arguments added later, so older reprs stay as they were).
    _quiet: dict[str, Any] = {}  # noqa: RUF012
    horizon: int | None = None
    shape: tuple[int, ...] = ()
    span: int = 100

    def __call__(self, k: ArrayLike) -> Any:
        """Step size of step ``k`` (an int or an integer array)."""
        if type(k) is int and 0 <= k < _SCALAR_MAX:
            return self._scalar(k)
        steps = as_steps(k)
        try:
            out_shape = np.broadcast_shapes(steps.shape, self.shape)
        except ValueError:
            raise ValueError(
                f"k of shape {steps.shape} does not broadcast with the schedule's parameter "
                f"shape {self.shape}; evaluate a sweep on k[:, None]"
            ) from None
        # Underflow of γ^k to 0 and the like is the right answer, not a warning.
        with np.errstate(all="ignore"):
            out = np.asarray(self._evaluate(steps), dtype=np.float64)
        if out.shape != out_shape:
            out = np.broadcast_to(out, out_shape).copy()
        if out.ndim == 0:
            return float(out)
        return out

    def _scalar(self, k: int) -> Any:
        """``s(k)`` for a Python int, from a memo of the next ``SCALAR_BLOCK`` values.

        :func:`gradflow.solve` asks for ``s(0), s(1), ...`` one at a time; evaluating a
        block at once costs about one scalar evaluation (a few µs of numpy overhead)
        and makes the calls after it an index (the schedule's values never change).
        """
        block = getattr(self, "_block", None)
        i = k - getattr(self, "_block_start", 0)
        if block is None or not 0 <= i < block.shape[0]:
            size = int(np.prod(self.shape, dtype=np.int64))
            rows = max(1, min(SCALAR_BLOCK, SCALAR_BLOCK_VALUES // max(size, 1)))
            steps = np.arange(k, k + rows, dtype=np.int64).reshape(-1, *([1] * len(self.shape)))
            with np.errstate(all="ignore"):
                values = np.asarray(self._evaluate(steps), dtype=np.float64)
            block = np.broadcast_to(values, (rows, *self.shape))
            self._block, self._block_start, i = block, k, 0
        value = block[i]
        return float(value) if value.ndim == 0 else value.copy()

    def __mul__(self, other: Any) -> Schedule:
        """``s * t`` is :func:`~gradflow.schedules.product`; ``s * c`` (a number or array)
        is :func:`~gradflow.schedules.scale`."""
        from gradflow.schedules._combinators import scale
        from gradflow.schedules._factors import product

        if isinstance(other, Schedule):
            return product(self, other)
        if callable(other):
            return NotImplemented
        return scale(self, other)

    __rmul__ = __mul__

    @classmethod
    def _example(cls) -> Schedule:
        """A typical instance, for the contract tests (every schedule defines one)."""
        raise NotImplementedError(f"{cls.__name__} defines no _example()")

    @abc.abstractmethod
    def _evaluate(self, k: np.ndarray) -> np.ndarray:
        """Values on validated ``int64`` indices (see the contract)."""

    @abc.abstractmethod
    def describe(self) -> str:
        """The schedule's formula, with its numbers, and what happens past the horizon."""

    def _arguments(self) -> dict[str, Any]:
        """Constructor arguments shown by ``repr`` and :meth:`label`.

        By default every ``__init__`` parameter, read from the attribute of the same name
        (nested schedules shown by their own ``repr``); override to show something else.
        """
        names = [n for n in inspect.signature(type(self).__init__).parameters if n != "self"]
        out = {}
        for name in names:
            value = getattr(self, name)
            if name in self._quiet and _is_default(value, self._quiet[name]):
                continue
            out[name] = _Raw(repr(value)) if isinstance(value, Schedule) else value
        return out

    def label(self, width: int = LABEL_WIDTH, index: int | None = None) -> str:
        """Short text for a legend: the name and as many leading arguments as fit.

        Parameters
        ----------
        width : int, optional
            Target length; arguments that do not fit are replaced by ``…``.
        index : int, optional
            For a sweep (``shape != ()``), show the values of element ``index`` (of the
            flattened ``shape``) instead of whole arrays.

        Returns
        -------
        str
        """
        parts, cut = [], False
        for key, value in self._arguments().items():
            if index is not None and isinstance(value, np.ndarray) and value.ndim:
                value = np.broadcast_to(value, self.shape).reshape(-1)[index]
            if isinstance(value, str) and len(value) > LABEL_ARGUMENT:
                # A nested schedule: its name only.
                value = _Raw("[…]" if value.startswith("[") else value.split("(")[0] + "(…)")
            text = f"{key}={_fmt(value)}"
            if (
                len(text) > LABEL_ARGUMENT
                or len(self.name) + len(", ".join([*parts, text])) > width
            ):
                cut = True
                continue
            parts.append(text)
        return f"{self.name}({', '.join(parts)}{', …' if cut and parts else '…' if cut else ''})"

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={_fmt(v)}" for k, v in self._arguments().items())
        return f"{self.name}({args})"

    def _held(self) -> str:
        if self.horizon is None:
            return "never held"
        return f"held at its final value for k >= {self.horizon}"
