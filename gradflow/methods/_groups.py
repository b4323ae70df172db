"""Parameter groups: how a flat state ``θ`` of shape ``(B, d)`` is split into tensors.

gradflow's state is one flat vector per trajectory.  Optimisers that act per parameter
tensor (Adafactor's factored moments, LAMB's layer-wise trust ratio) take a field
``shapes``: a tuple of tensor shapes whose sizes add up to ``d``, in the order the
tensors are laid out in ``θ`` (row-major within each tensor, as ``numpy.ravel``).  For
a network with a ``784 × 128`` weight and a bias of 128, ``shapes=((784, 128), (128,))``.
``shapes=None`` (the default) is one group: the whole vector, of shape ``(d,)``.

References
----------
Y. You, J. Li, S. Reddi et al., "Large batch optimization for deep learning: training
BERT in 76 minutes", ICLR 2020, §3 (layer-wise adaptation over parameter groups).
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["check_shapes", "group_slices"]


def check_shapes(shapes: Any) -> tuple[tuple[int, ...], ...] | None:
    """``shapes`` as a tuple of tuples of positive ints (or ``None``).

    Raises
    ------
    TypeError
        If it is not a sequence of sequences of integers.
    ValueError
        If it is empty or a dimension is not positive.
    """
    if shapes is None:
        return None
    if isinstance(shapes, (str, bytes)) or not hasattr(shapes, "__iter__"):
        raise TypeError(f"shapes must be a sequence of tensor shapes, got {shapes!r}")
    out = []
    for shape in shapes:
        if isinstance(shape, (int,)) and not isinstance(shape, bool):
            shape = (shape,)
        if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
            raise TypeError(f"shapes must hold tensor shapes (tuples of ints), got {shape!r}")
        dims = tuple(shape)
        for n in dims:
            if isinstance(n, bool) or (not isinstance(n, int) and not hasattr(n, "__index__")):
                raise TypeError(f"shapes must hold integer dimensions, got {n!r} in {dims}")
        dims = tuple(int(n) for n in dims)
        if not dims or min(dims) < 1:
            raise ValueError(f"shapes: every tensor needs positive dimensions, got {dims}")
        out.append(dims)
    if not out:
        raise ValueError("shapes must name at least one tensor (or be None: one group)")
    return tuple(out)


def group_slices(
    shapes: tuple[tuple[int, ...], ...] | None, d: int
) -> list[tuple[slice, tuple[int, ...]]]:
    """``(slice of θ's last axis, tensor shape)`` of every group of a ``d``-vector.

    Raises
    ------
    ValueError
        If the sizes of ``shapes`` do not add up to ``d``.
    """
    if shapes is None:
        return [(slice(0, d), (d,))]
    total = sum(math.prod(s) for s in shapes)
    if total != d:
        raise ValueError(
            f"shapes: the tensor sizes add up to {total}, but the problem has dim = {d}"
        )
    out, start = [], 0
    for s in shapes:
        size = math.prod(s)
        out.append((slice(start, start + size), s))
        start += size
    return out
