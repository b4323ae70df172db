r"""Butcher tableaux that check their own order conditions.

An explicit ``s``-stage Runge–Kutta method for ``y' = f(y)`` is given by its tableau
``(A, b, c)``:

.. math:: k_i = f\Big(y_n + h \sum_{j<i} a_{ij} k_j\Big), \qquad
          y_{n+1} = y_n + h \sum_i b_i k_i .

It has order ``p`` iff, for every rooted tree ``t`` with at most ``p`` vertices, the
elementary weight equals the inverse density, ``Φ(t) = 1/γ(t)`` (Butcher 1963; Hairer,
Nørsett & Wanner I, §II.2).  :class:`ButcherTableau` enumerates the rooted trees and, when
it is constructed, computes the *true* order of its weights (and of the embedded weights
``b̂``): the largest ``p`` whose conditions all hold.  An explicit method has order at most
``s`` (the tall tree with ``s + 1`` vertices has ``Φ = bᵀA^s 1 = 0``), so the scan stops
by order ``s + 1``; it stops earlier, at the first order with a failing condition.  A
claimed order that differs from the true one — too high *or* too low — is rejected, so a
mistyped coefficient or a wrong label cannot ship.

The shipped tableaux are the exception that keeps ``import gradflow`` fast: the registry
(:mod:`gradflow.methods._tableaux`) builds them under :func:`deferred_order_checks`, and
the test suite calls :meth:`ButcherTableau.verify` on every registered tableau (the exact
check of DOPRI54 alone costs about 20 ms).  Shapes, explicitness and nodes are still
checked on construction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache
from typing import Any

import numpy as np

from gradflow._validation import check_real

__all__ = ["ButcherTableau", "deferred_order_checks", "rooted_trees"]

#: Absolute tolerance of the order conditions and of ``c_i = Σ_j a_ij`` for float input.
#: Tableaux given as fractions are checked exactly.
CONDITION_TOL = 1e-13

# A rooted tree is a sorted tuple of its root's subtrees; the single vertex is ().
Tree = tuple

# Whether tableaux built now leave their order conditions to ButcherTableau.verify.
_deferring = [False]


@contextmanager
def deferred_order_checks() -> Iterator[None]:
    """Build tableaux without checking their order conditions (see :meth:`ButcherTableau.verify`).

    For the shipped registry, whose every tableau the test suite verifies: the exact
    check costs milliseconds per tableau at every ``import gradflow``.  Everything else
    about a tableau (shapes, explicitness, nodes, the claims' types) is still checked.

    Yields
    ------
    None

    References
    ----------
    J. C. Butcher, *Numerical Methods for Ordinary Differential Equations*, 3rd ed.,
    Wiley, 2016, §31 (order conditions).

    Examples
    --------
    >>> with deferred_order_checks():
    ...     wrong = ButcherTableau(A=[[0, 0], [1, 0]], b=["1/2", "1/2"], order=3)
    >>> wrong.verified
    False
    >>> wrong.verify()
    Traceback (most recent call last):
    ...
    ValueError: tableau 'tableau' fails the order-3 condition for tree ((())): ...
    """
    previous = _deferring[0]
    _deferring[0] = True
    try:
        yield
    finally:
        _deferring[0] = previous


@cache
def rooted_trees(order: int) -> tuple[Tree, ...]:
    """All rooted trees with exactly ``order`` vertices (canonical nested tuples).

    There are 1, 1, 2, 4, 9, 20, 48, ... of them (OEIS A000081).

    Parameters
    ----------
    order : int
        Number of vertices, at least 1.

    Returns
    -------
    tuple of trees
        Each tree is the sorted tuple of its root's subtrees; ``()`` is one vertex.

    References
    ----------
    J. C. Butcher, *Numerical Methods for Ordinary Differential Equations*, 3rd ed.,
    Wiley, 2016, §30.

    Examples
    --------
    >>> [len(rooted_trees(n)) for n in range(1, 7)]
    [1, 1, 2, 4, 9, 20]
    """
    if order < 1:
        raise ValueError(f"order must be >= 1, got {order}")
    if order == 1:
        return ((),)
    found: set[Tree] = set()
    # Children of the root form a multiset of trees whose sizes sum to order - 1.
    for children in _forests(order - 1, order - 1):
        found.add(tuple(sorted(children)))
    return tuple(sorted(found, key=lambda t: (_size(t), repr(t))))


def _forests(total: int, largest: int) -> list[tuple[Tree, ...]]:
    """Multisets of trees with sizes summing to ``total``, each at most ``largest``."""
    if total == 0:
        return [()]
    out: list[tuple[Tree, ...]] = []
    for first in range(min(total, largest), 0, -1):
        for tree in rooted_trees(first):
            for rest in _forests(total - first, first):
                out.append((tree, *rest))
    return out


def _size(tree: Tree) -> int:
    return 1 + sum(_size(child) for child in tree)


def _density(tree: Tree) -> int:
    """γ(t): the tree's size times the densities of its subtrees."""
    gamma = _size(tree)
    for child in tree:
        gamma *= _density(child)
    return gamma


def _stage_weights(tree: Tree, A: Any, ones: Any) -> Any:
    """The vector ``g(t)`` with ``Φ(t) = b · g(t)``: ``g(t)_i = Π_children (A g(u))_i``."""
    weights = ones
    for child in tree:
        weights = weights * (A @ _stage_weights(child, A, ones))
    return weights


def _as_fraction_or_float(x: Any, label: str) -> Fraction | float:
    """One coefficient: a Fraction (exact input: integers, Fractions, strings) or a float.

    Raises ``TypeError`` for a bool, ``None``, a complex number or another object, and
    ``ValueError`` for a string that is not a fraction or a float that is not finite
    (a NaN coefficient would otherwise pass, or break, every order condition).
    """
    if isinstance(x, Fraction):
        return x
    if isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_)):
        return Fraction(int(x))
    if isinstance(x, str):
        try:
            return Fraction(x)
        except (ValueError, ZeroDivisionError):
            raise ValueError(
                f"{label} must be a finite number or a fraction such as '1/3', got {x!r}"
            ) from None
    return check_real(x, label)


def _parse_matrix(rows: Any) -> list[list[Fraction | float]]:
    """``A`` as a square list of lists of Fractions (exact input) or floats."""
    A = [
        [_as_fraction_or_float(x, f"A[{i}][{j}]") for j, x in enumerate(row)]
        for i, row in enumerate(rows)
    ]
    s = len(A)
    if s == 0 or any(len(row) != s for row in A):
        raise ValueError(
            f"A must be a square s × s matrix, got rows of lengths {[len(r) for r in A]}"
        )
    return A


def _parse_vector(values: Any, s: int, label: str) -> list[Fraction | float]:
    """A weight or node vector with one entry per stage."""
    out = [_as_fraction_or_float(x, f"{label}[{i}]") for i, x in enumerate(values)]
    if len(out) != s:
        raise ValueError(f"{label} must have {s} entries (one per stage), got {len(out)}")
    return out


def _check_explicit(A: list) -> None:
    """``A`` strictly lower triangular."""
    for i, row in enumerate(A):
        for j in range(i, len(row)):
            if row[j] != 0:
                raise ValueError(
                    f"A must be strictly lower triangular (explicit), but A[{i}][{j}] = {row[j]}"
                )


def _check_claims(order: Any, embedded: bool, embedded_order: Any) -> None:
    """The claimed orders: a positive integer, and an embedded one exactly with ``b_hat``."""
    if embedded and (embedded_order is None or embedded_order < 1):
        raise ValueError("embedded_order (>= 1) is required with b_hat")
    if not embedded and embedded_order is not None:
        raise ValueError("embedded_order given without b_hat")
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise ValueError(f"order must be a positive integer, got {order!r}")


def _row_sums(A: list) -> list:
    return [sum(row, Fraction(0)) for row in A]


def _flatten(A: list, b: list, c: list, b_hat: list | None) -> list:
    return [x for row in A for x in row] + b + c + (b_hat or [])


def _floats(values: list) -> np.ndarray:
    """Float64 copy of a (nested) list of Fractions or floats."""
    return np.array(values, dtype=float)


def _first_failure(A: list, b: list, tol: float) -> tuple[int, Tree, Any]:
    """The lowest order with a failing condition: ``(n, tree, Φ(t) - 1/γ(t))``.

    The weights ``b`` then have true order ``n - 1``.  Orders are scanned upwards and the
    scan ends at the first failure, at the latest at ``n = s + 1`` (for an explicit
    method the tall tree of ``s + 1`` vertices has ``Φ = 0``).  Exact when ``tol == 0``.
    """
    s = len(A)
    if tol == 0:
        mat: Any = _FractionMatrix(A)
        ones: Any = _FractionVector([Fraction(1)] * s)
    else:
        mat = _floats(A)
        ones = np.ones(s)
    for n in range(1, s + 2):
        for tree in rooted_trees(n):
            g = _stage_weights(tree, mat, ones)
            phi = sum(bi * gi for bi, gi in zip(b, g, strict=True))
            residual = phi - Fraction(1, _density(tree))
            if abs(residual) > tol:
                return n, tree, residual
    raise AssertionError("unreachable: the tall tree of s + 1 vertices always fails")


@dataclass(frozen=True)
class ButcherTableau:
    r"""The coefficients of an explicit Runge–Kutta method, checked on construction.

    Parameters
    ----------
    A : sequence of sequences
        The ``s × s`` stage matrix, strictly lower triangular (explicit methods). Entries
        may be ``fractions.Fraction`` or strings such as ``"35/384"`` (checked and kept
        exactly, for exact stability functions) or floats.
    b : sequence
        Weights of the solution.
    c : sequence, optional
        Nodes; default the row sums of ``A``.  They must equal the row sums.
    order : int
        The order ``p``.  It must be the true order: every order condition up to ``p``
        holds and at least one of order ``p + 1`` fails.
    b_hat : sequence, optional
        Weights of an embedded solution (for error estimation).
    embedded_order : int, optional
        True order of the embedded solution (checked like ``order``); required with
        ``b_hat``.
    name : str
    citation : str
    fsal : bool, optional
        "First same as last": the last stage is evaluated at the new solution
        (``A[-1] = b`` and ``c[-1] = 1``), so it is the next step's first stage.  Default:
        detected from the coefficients.

    Attributes
    ----------
    stages : int
    a, b_weights, c_nodes, b_hat_weights : ndarray
        Float64 copies for computation.
    exact : bool
        Whether every coefficient was given exactly (rationals).
    verified : bool
        Whether the order claims were checked (always, except for a tableau built under
        :func:`deferred_order_checks` before its :meth:`verify`).

    Raises
    ------
    TypeError
        If a coefficient is not a number, a fraction or a string (a bool, ``None``, a
        complex number...).
    ValueError
        If a coefficient is not finite (NaN, ±inf) or a string is not a fraction, the
        shapes disagree, ``A`` is not strictly lower triangular, the nodes are not
        the row sums, or the claimed ``order`` (or ``embedded_order``) is not the true
        order of ``b`` (of ``b̂``): too high when an order condition up to the claim fails
        (the message names the tree, the residual and the true order), too low when every
        condition of the next order holds as well (the message gives the true order).

    References
    ----------
    J. C. Butcher, "Coefficients for the study of Runge–Kutta integration processes",
    J. Austral. Math. Soc. 3, 185–201, 1963.
    E. Hairer, S. P. Nørsett and G. Wanner, *Solving Ordinary Differential Equations I*,
    2nd ed., Springer, 1993, §II.2.

    Examples
    --------
    >>> heun = ButcherTableau(A=[[0, 0], [1, 0]], b=["1/2", "1/2"], order=2, name="Heun")
    >>> heun.stages, heun.c_nodes.tolist()
    (2, [0.0, 1.0])
    >>> ButcherTableau(A=[[0, 0], [1, 0]], b=["1/2", "1/2"], order=3)
    Traceback (most recent call last):
    ...
    ValueError: tableau 'tableau' fails the order-3 condition for tree ((())): ...

    A claim below the true order is rejected too (RK4's coefficients labelled order 2):

    >>> ButcherTableau(A=[[0, 0, 0, 0], ["1/2", 0, 0, 0], [0, "1/2", 0, 0], [0, 0, 1, 0]],
    ...                b=["1/6", "1/3", "1/3", "1/6"], order=2)
    Traceback (most recent call last):
    ...
    ValueError: tableau 'tableau' claims order 2, but ... its true order is 4
    """

    A: Any
    b: Any
    c: Any = None
    order: int = 1
    b_hat: Any = None
    embedded_order: int | None = None
    name: str = "tableau"
    citation: str = ""
    fsal: bool | None = None
    stages: int = field(init=False)
    exact: bool = field(init=False)
    a: np.ndarray = field(init=False, repr=False, compare=False)
    b_weights: np.ndarray = field(init=False, repr=False, compare=False)
    c_nodes: np.ndarray = field(init=False, repr=False, compare=False)
    b_hat_weights: np.ndarray | None = field(init=False, repr=False, compare=False)
    verified: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        A = _parse_matrix(self.A)
        s = len(A)
        b = _parse_vector(self.b, s, "b")
        _check_explicit(A)
        c = _row_sums(A) if self.c is None else _parse_vector(self.c, s, "c")
        b_hat = None if self.b_hat is None else _parse_vector(self.b_hat, s, "b_hat")
        _check_claims(self.order, b_hat is not None, self.embedded_order)
        exact = all(isinstance(x, Fraction) for x in _flatten(A, b, c, b_hat))
        tol = 0.0 if exact else CONDITION_TOL
        self._check_nodes(A, c, tol)
        self._freeze(A, b, c, b_hat, exact)
        object.__setattr__(self, "verified", False)
        if not _deferring[0]:
            self.verify()

    def verify(self) -> None:
        """Check that ``order`` (and ``embedded_order``) are the true orders.

        Done on construction, except under :func:`deferred_order_checks`; exact for a
        tableau given in rationals, within :data:`CONDITION_TOL` otherwise.

        Raises
        ------
        ValueError
            If a claimed order is not the true order of its weights (see the class).

        References
        ----------
        E. Hairer, S. P. Nørsett and G. Wanner, *Solving Ordinary Differential
        Equations I*, 2nd ed., Springer, 1993, §II.2 (the order conditions).
        """
        if self.verified:
            return
        A, b, _, b_hat = self.exact_coefficients
        tol = 0.0 if self.exact else CONDITION_TOL
        self._check_order(A, b, self.order, tol, "")
        if b_hat is not None:
            self._check_order(A, b_hat, self.embedded_order, tol, "embedded ")
        object.__setattr__(self, "verified", True)

    def _check_nodes(self, A: list, c: list, tol: float) -> None:
        """``c_i = Σ_j a_ij`` (exactly, or within ``tol`` for float input)."""
        for i, (row_sum, node) in enumerate(zip(_row_sums(A), c, strict=True)):
            if abs(row_sum - node) > tol:
                raise ValueError(
                    f"tableau {self.name!r}: c[{i}] = {node} is not the row sum of A ({row_sum})"
                )

    def _check_order(self, A: list, b: list, claimed: int, tol: float, label: str) -> None:
        """The true order of the weights ``b`` must be the ``claimed`` one."""
        n, tree, residual = _first_failure(A, b, tol)
        true = n - 1
        if claimed > true:
            raise ValueError(
                f"tableau {self.name!r} fails the {label}order-{n} condition for tree "
                f"{_show(tree)}: Φ(t) - 1/γ(t) = {float(residual):.3e}; its true {label}order "
                f"is {true}, not {claimed}"
            )
        if claimed < true:
            raise ValueError(
                f"tableau {self.name!r} claims {label}order {claimed}, but its coefficients "
                f"satisfy every order condition through order {true} (the order-{n} "
                f"condition for tree {_show(tree)} is the first to fail): its true "
                f"{label}order is {true}"
            )

    def _freeze(self, A: list, b: list, c: list, b_hat: list | None, exact: bool) -> None:
        """Store the checked coefficients as tuples and float64 arrays."""
        s = len(A)
        fsal = self.fsal
        if fsal is None:
            fsal = s > 1 and c[-1] == 1 and all(A[-1][j] == b[j] for j in range(s))
        set_ = object.__setattr__
        # Tuples of the checked coefficients: a tableau is an immutable, hashable value.
        set_(self, "A", tuple(tuple(row) for row in A))
        set_(self, "b", tuple(b))
        set_(self, "c", tuple(c))
        set_(self, "b_hat", None if b_hat is None else tuple(b_hat))
        set_(self, "fsal", bool(fsal))
        set_(self, "stages", s)
        set_(self, "exact", exact)
        set_(self, "a", _floats(A))
        set_(self, "b_weights", _floats(b))
        set_(self, "c_nodes", _floats(c))
        set_(self, "b_hat_weights", None if b_hat is None else _floats(b_hat))
        set_(self, "_exact_coefficients", (A, b, c, b_hat))

    @property
    def exact_coefficients(self) -> tuple[list, list, list, list | None]:
        """``(A, b, c, b_hat)`` as given (fractions where given exactly)."""
        return self._exact_coefficients  # type: ignore[attr-defined]

    @property
    def has_embedded(self) -> bool:
        """Whether the tableau carries an embedded solution ``b̂``."""
        return self.b_hat_weights is not None

    def backward_error_coefficients(self) -> tuple[float, float, float]:
        r"""``(κ, α, γ)`` of the modified equation ``y' = f + h f_2 + h² f_3 + …``.

        For ``y' = f(y)`` one step of the method expands as
        ``y + h f + h²(Σ b_i c_i) f'f + h³[½(Σ b_i c_i²) f''(f, f) + (Σ b_i a_ij c_j) f'f'f]
        + O(h⁴)``; matching it with the time-``h`` flow of the modified equation gives
        ``f_2 = κ f'f`` and ``f_3 = α f''(f, f) + γ f'f'f`` with

        .. math:: \kappa = \sum_i b_i c_i - \tfrac12, \quad
                  \alpha = \tfrac12 \sum_i b_i c_i^2 - \tfrac16 - \tfrac{\kappa}{2}, \quad
                  \gamma = \sum_{ij} b_i a_{ij} c_j - \tfrac16 - \kappa .

        Computed in exact fractions when the tableau is exact.

        Returns
        -------
        tuple of float
            ``(κ, α, γ)``: ``(-1/2, 1/12, 1/3)`` for explicit Euler, ``κ = 0`` for every
            tableau of order 2, all zero from order 3.

        References
        ----------
        E. Hairer, C. Lubich and G. Wanner, *Geometric Numerical Integration*, 2nd ed.,
        Springer, 2006, §IX.1.

        Examples
        --------
        >>> euler = ButcherTableau(A=[[0]], b=[1], order=1)
        >>> euler.backward_error_coefficients() == (-0.5, 1 / 12, 1 / 3)
        True
        """
        A, b, c, _ = self.exact_coefficients
        s = len(b)
        zero = Fraction(0) if self.exact else 0.0
        bc = sum((b[i] * c[i] for i in range(s)), zero)
        bc2 = sum((b[i] * c[i] * c[i] for i in range(s)), zero)
        bac = sum((b[i] * A[i][j] * c[j] for i in range(s) for j in range(s)), zero)
        kappa = bc - Fraction(1, 2)
        alpha = bc2 / 2 - Fraction(1, 6) - kappa / 2
        gamma = bac - Fraction(1, 6) - kappa
        return float(kappa), float(alpha), float(gamma)


def _show(tree: Tree) -> str:
    return "(" + ",".join(_show(child) for child in tree) + ")"


class _FractionVector(list):
    """A list of Fractions with elementwise ``*`` (for exact order checks)."""

    def __mul__(self, other: Any) -> _FractionVector:  # type: ignore[override]
        return _FractionVector(x * y for x, y in zip(self, other, strict=True))


class _FractionMatrix:
    """Exact matrix-vector product over Fractions."""

    def __init__(self, rows: list) -> None:
        self.rows = rows

    def __matmul__(self, vector: Any) -> _FractionVector:
        return _FractionVector(
            sum((a * v for a, v in zip(row, vector, strict=True)), Fraction(0)) for row in self.rows
        )
