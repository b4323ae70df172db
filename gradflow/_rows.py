"""The active-row set and the one compaction rule for every per-row structure.

Every per-row array of a batched iteration (a run's method state, policy state, clock
and counts; a Lanczos basis and its coefficients) has the rows of the still active
elements on its leading axis.  When elements stop, :func:`compact` drops them from all
of these with the same boolean ``keep`` mask.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["ActiveRows", "compact", "concat_rows", "merge_rows"]


def compact(tree: Any, keep: np.ndarray) -> Any:
    """``tree`` with the rows where ``keep`` is false removed.

    Arrays are indexed on their leading axis; ``NamedTuple`` s and tuples are
    compacted field by field, except the fields a ``NamedTuple`` names in its class
    attribute ``SHARED`` (state shared by every row, e.g. a length-1 step or a dtype),
    which are kept as they are; ``None`` and other objects are returned unchanged.
    """
    if isinstance(tree, np.ndarray):
        return tree[keep]
    if isinstance(tree, tuple):
        shared = getattr(type(tree), "SHARED", ())
        fields = getattr(tree, "_fields", None)
        if fields is None:
            return tuple(compact(item, keep) for item in tree)
        return type(tree)(
            *(
                item if name in shared else compact(item, keep)
                for name, item in zip(fields, tree, strict=True)
            )
        )
    return tree


def concat_rows(trees: list[Any]) -> Any:
    """The inverse of cutting a tree into consecutive row blocks with :func:`compact`:
    ``trees`` joined along the leading axis, field by field (``SHARED`` fields and
    non-array objects are taken from the first block)."""
    first = trees[0]
    if isinstance(first, np.ndarray):
        return np.concatenate(trees)
    if isinstance(first, tuple):
        shared = getattr(type(first), "SHARED", ())
        fields = getattr(first, "_fields", None)
        columns = list(zip(*trees, strict=True))
        if fields is None:
            return tuple(concat_rows(list(column)) for column in columns)
        return type(first)(
            *(
                column[0] if name in shared else concat_rows(list(column))
                for name, column in zip(fields, columns, strict=True)
            )
        )
    return first


def merge_rows(keep: np.ndarray, new: Any, old: Any) -> Any:
    """Field by field: ``new`` in the rows where ``keep`` is true, ``old`` elsewhere (the
    state after a step whose rejected rows keep their old state)."""
    fields = []
    for n, o in zip(new, old, strict=True):
        mask = keep.reshape(keep.shape + (1,) * (np.ndim(n) - 1))
        fields.append(np.where(mask, n, o))
    return type(new)(*fields)


class ActiveRows:
    """Which elements (of the flattened batch of ``n``) are still advancing.

    Attributes
    ----------
    index : ndarray of int
        Element ids of the active rows, in row order.
    size : int
        Number of active rows.
    complete : bool
        True while no element has stopped (``index`` is then ``arange(n)``).
    """

    def __init__(self, n: int) -> None:
        self.index = np.arange(n)
        self.size = n
        self.complete = True

    def mask_of(self, ids: np.ndarray) -> np.ndarray:
        """Boolean mask over the active rows of the elements ``ids``."""
        return np.isin(self.index, ids)

    def drop(self, rows: np.ndarray) -> np.ndarray:
        """Remove the rows where ``rows`` is true; returns the ``keep`` mask."""
        keep = ~rows
        self.index = self.index[keep]
        self.size = int(self.index.size)
        self.complete = False
        return keep
