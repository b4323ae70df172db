r"""Products with a fixed matrix that compute every batch row on its own.

A BLAS matrix-matrix product ``Θ @ M`` of a batch ``Θ`` of shape ``(B, k)`` does not
compute a row the same way for every ``B``: a single row goes to a matrix-vector
kernel, a few rows to a small-matrix kernel, rows in a partial register tile to an edge
kernel, and each path rounds its ``k``-term sums in its own order.  OpenBLAS's default
kernel on an AVX2/FMA CPU puts 1-15 ulp between a row of ``(1000, 2) @ A`` and the same
row multiplied alone.  A zoo problem therefore never hands its batch to one BLAS call:
its products with data go through :func:`row_matmul`, which picks a kernel from the
shape and dtype of the matrix ``m`` alone, never from the batch:

* ``k * n <= EINSUM_MAX``: :func:`numpy.einsum` without ``optimize`` (numpy's own C
  loop, no BLAS).  Its loop runs over the batch outermost and over one output row
  inside, the innermost loop along the longer of ``k`` and ``n``: for ``n >= k`` it
  adds ``a[..., j] * m[j]`` to the whole row in order of ``j``, for ``n < k`` it takes
  one dot product of the row with each column of ``m``.  The batch decides only how
  often that loop runs, never how it sums.
* larger: **one BLAS matrix-vector product per row**.  numpy's stacked matmul of
  ``(rows, 1, k) @ (k, n)`` makes one ``gemv`` call per row, and every call sees the
  same shapes, strides and 64-byte alignment (the rows are copied into an aligned
  buffer; :func:`fixed_matrix` aligns ``m``), so a row gets the same bits in a batch of
  any size.  At ``k × n = 50 × 1000`` this costs 2.2-2.5 times one batched call (the
  matrix is streamed once per row instead of once per batch).  Fixed blocks of 16 rows
  per BLAS call cost 1.9-2.1 times, barely less, but make a single row cost a whole
  block and are row-stable only if BLAS computes every row position of a block alike,
  which holds for today's register-tiled kernels but is no contract.

Which bits a row gets depends on the CPU's BLAS kernel, as for any BLAS call; that it
gets the same bits in a batch of any size does not.  The cost against one batched BLAS
call is measured by ``benchmarks/bench_row_stable.py`` (table in
``benchmarks/README.md``).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["ALIGN_BYTES", "EINSUM_MAX", "fixed_matrix", "row_matmul"]

#: Largest ``k * n`` computed by :func:`numpy.einsum`.  Measured on a 2-vCPU AMD EPYC
#: (``benchmarks/bench_row_stable.py``): einsum costs about 15 ns per row at ``k = n = 2``
#: and grows with ``k * n``; a ``gemv`` call costs 60-150 ns per row at any small size,
#: and the two meet between ``k * n = 256`` and ``400``.
EINSUM_MAX = 256

#: Alignment of every operand handed to BLAS: a cache line, and the alignment Intel MKL
#: asks for reproducible results ("Conditional Numerical Reproducibility", MKL
#: developer reference).
ALIGN_BYTES = 64


def _aligned_rows(rows: int, widths: tuple[int, ...], dtype: np.dtype) -> list[np.ndarray]:
    """Uninitialised ``(rows, w)`` arrays, one per width, every row on a 64-byte line.

    One allocation for all of them (finding an address costs microseconds).
    """
    itemsize = dtype.itemsize
    per_line = max(1, ALIGN_BYTES // itemsize)
    strides = [-(-w // per_line) * per_line for w in widths]
    raw = np.empty(rows * sum(strides) + per_line, dtype=dtype)
    start = (-raw.ctypes.data % ALIGN_BYTES) // itemsize
    out = []
    for w, stride in zip(widths, strides, strict=True):
        out.append(raw[start : start + rows * stride].reshape(rows, stride)[:, :w])
        start += rows * stride
    return out


def fixed_matrix(m: np.ndarray, dtype: np.dtype | type | None = None) -> np.ndarray:
    """A C-contiguous, 64-byte-aligned copy of the matrix ``m`` (optionally cast).

    Parameters
    ----------
    m : ndarray, shape (k, n)
    dtype : dtype, optional
        Target dtype (default: that of ``m``).

    Returns
    -------
    ndarray, shape (k, n)
    """
    m = np.asarray(m)
    key = m.dtype if dtype is None else np.dtype(dtype)
    k, n = m.shape
    itemsize = key.itemsize
    raw = np.empty(k * n + ALIGN_BYTES // itemsize, dtype=key)
    start = (-raw.ctypes.data % ALIGN_BYTES) // itemsize
    out = raw[start : start + k * n].reshape(k, n)
    out[...] = m
    return out


def row_matmul(a: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``a @ m`` with each row of ``a`` computed independently of the others.

    Parameters
    ----------
    a : ndarray, shape (*batch, k)
        Rows, of the dtype of ``m``.
    m : ndarray, shape (k, n)
        A fixed matrix, ideally from :func:`fixed_matrix`.

    Returns
    -------
    ndarray, shape (*batch, n)
        A new C-contiguous array; row ``i`` has the same bits whatever else is in the
        batch (see the module docstring for the two kernels).

    Examples
    --------
    >>> import numpy as np
    >>> m = fixed_matrix(np.arange(6.0).reshape(2, 3))
    >>> row_matmul(np.array([[1.0, 2.0], [0.0, 1.0]]), m)
    array([[ 6.,  9., 12.],
           [ 3.,  4.,  5.]])
    """
    k, n = m.shape
    batch = a.shape[:-1]
    if k * n <= EINSUM_MAX:
        if n >= k:
            return np.einsum("...k,kn->...n", a, m)
        return np.einsum("...k,nk->...n", a, np.ascontiguousarray(m.T))
    count = math.prod(batch)
    rows, out = _aligned_rows(count, (k, n), m.dtype)
    rows[...] = a.reshape(count, k)
    np.matmul(rows[:, None, :], m, out=out[:, None, :])
    return np.ascontiguousarray(out).reshape(*batch, n)
