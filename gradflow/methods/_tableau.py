r"""Butcher tableaux that check their own order conditions.

An explicit ``s``-stage Runge–Kutta method for ``y' = f(y)`` is given by its tableau
``(A, b, c)``:

.. math:: k_i = f\Big(y_n + h \sum_{j<i} a_{ij} k_j\Big), \qquad
          y_{n+1} = y_n + h \sum_i b_i k_i .

It has order ``p`` iff, for every rooted tree ``t`` with at most ``p`` vertices, the
elementary weight equals the inverse density, ``Φ(t) = 1/γ(t)`` (Butcher 1963; Hairer,
Nørsett & Wanner I, §II.2).  :class:`ButcherTableau` enumerates the rooted trees and
checks those conditions for its claimed order (and the embedded order of ``b̂``) when it
is constructed, so a mistyped coefficient cannot ship.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache
from typing import Any

import numpy as np

__all__ = ["ButcherTableau", "rooted_trees"]

#: Absolute tolerance of the order conditions and of ``c_i = Σ_j a_ij`` for float input.
#: Tableaux given as fractions are checked exactly.
CONDITION_TOL = 1e-13

# A rooted tree is a sorted tuple of its root's subtrees; the single vertex is ().
Tree = tuple


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


def _as_fraction_or_float(x: Any) -> Fraction | float:
    if isinstance(x, Fraction):
        return x
    if isinstance(x, (int, np.integer)):
        return Fraction(int(x))
    if isinstance(x, str):
        return Fraction(x)
    return float(x)


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
        The claimed order ``p``; every order condition up to ``p`` is checked.
    b_hat : sequence, optional
        Weights of an embedded solution (for error estimation).
    embedded_order : int, optional
        Order of the embedded solution; required with ``b_hat``.
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

    Raises
    ------
    ValueError
        If the shapes disagree, ``A`` is not strictly lower triangular, the nodes are not
        the row sums, or an order condition up to the claimed order fails (the message
        names the tree and the residual).

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

    def __post_init__(self) -> None:
        A = [[_as_fraction_or_float(x) for x in row] for row in self.A]
        s = len(A)
        if s == 0 or any(len(row) != s for row in A):
            raise ValueError(f"A must be a square s × s matrix, got rows of lengths "
                             f"{[len(r) for r in A]}")
        b = [_as_fraction_or_float(x) for x in self.b]
        if len(b) != s:
            raise ValueError(f"b must have {s} entries (one per stage), got {len(b)}")
        for i in range(s):
            for j in range(i, s):
                if A[i][j] != 0:
                    raise ValueError(
                        f"A must be strictly lower triangular (explicit), but A[{i}][{j}] = "
                        f"{A[i][j]}"
                    )
        row_sums = [sum(row, Fraction(0)) for row in A]
        if self.c is None:
            c = row_sums
        else:
            c = [_as_fraction_or_float(x) for x in self.c]
            if len(c) != s:
                raise ValueError(f"c must have {s} entries, got {len(c)}")
        b_hat = None if self.b_hat is None else [_as_fraction_or_float(x) for x in self.b_hat]
        if b_hat is not None:
            if len(b_hat) != s:
                raise ValueError(f"b_hat must have {s} entries, got {len(b_hat)}")
            if self.embedded_order is None or self.embedded_order < 1:
                raise ValueError("embedded_order (>= 1) is required with b_hat")
        elif self.embedded_order is not None:
            raise ValueError("embedded_order given without b_hat")
        if isinstance(self.order, bool) or not isinstance(self.order, int) or self.order < 1:
            raise ValueError(f"order must be a positive integer, got {self.order!r}")

        everything = [x for row in A for x in row] + b + c + (b_hat or [])
        exact = all(isinstance(x, Fraction) for x in everything)
        tol = 0 if exact else CONDITION_TOL
        for i in range(s):
            if abs(row_sums[i] - c[i]) > tol:
                raise ValueError(
                    f"tableau {self.name!r}: c[{i}] = {c[i]} is not the row sum of A "
                    f"({row_sums[i]})"
                )
        self._check_order(A, b, self.order, tol, "")
        if b_hat is not None:
            self._check_order(A, b_hat, self.embedded_order, tol, "embedded ")

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
        set_(self, "a", np.array([[float(x) for x in row] for row in A]))
        set_(self, "b_weights", np.array([float(x) for x in b]))
        set_(self, "c_nodes", np.array([float(x) for x in c]))
        set_(self, "b_hat_weights",
             None if b_hat is None else np.array([float(x) for x in b_hat]))
        set_(self, "_exact_coefficients", (A, b, c, b_hat))

    def _check_order(self, A: list, b: list, order: int, tol: float, label: str) -> None:
        s = len(A)
        if tol == 0:
            ones: Any = [Fraction(1)] * s
            mat = _FractionMatrix(A)
            vec = _FractionVector
        else:
            ones = np.ones(s)
            mat = np.array([[float(x) for x in row] for row in A])
            vec = np.asarray
        for n in range(1, order + 1):
            for tree in rooted_trees(n):
                g = _stage_weights(tree, mat, vec(ones))
                phi = sum(bi * gi for bi, gi in zip(b, g, strict=True))
                residual = phi - Fraction(1, _density(tree))
                if abs(residual) > tol:
                    raise ValueError(
                        f"tableau {self.name!r} fails the {label}order-{n} condition for tree "
                        f"{_show(tree)}: Φ(t) - 1/γ(t) = {float(residual):.3e}"
                    )

    @property
    def exact_coefficients(self) -> tuple[list, list, list, list | None]:
        """``(A, b, c, b_hat)`` as given (fractions where given exactly)."""
        return self._exact_coefficients  # type: ignore[attr-defined]

    @property
    def has_embedded(self) -> bool:
        """Whether the tableau carries an embedded solution ``b̂``."""
        return self.b_hat_weights is not None


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
            sum((a * v for a, v in zip(row, vector, strict=True)), Fraction(0))
            for row in self.rows
        )
