r"""Products with a fixed matrix that compute every batch row on its own.

A BLAS matrix-matrix product ``Θ @ M`` of a batch ``Θ`` of shape ``(B, k)`` does not
compute a row the same way for every ``B``: the kernel tiles the output in register
blocks, rows in a partial tile take an edge kernel, threads split the batch, and each
path rounds its ``k``-term sums in its own order.  OpenBLAS's default kernel on an
AVX2/FMA CPU puts 1-15 ulp between a row of ``(1000, 2) @ A`` and the same row
multiplied alone.  A zoo problem therefore never hands its batch to a matrix-matrix
product: its products with data go through :func:`row_matmul`, which computes each row
of ``a @ m`` by a kernel chosen from the shape ``(k, n)`` of ``m`` alone, never from the
batch:

* ``k * n <= EINSUM_MAX``: :func:`numpy.einsum` without ``optimize`` (numpy's own C
  loop, no BLAS).  For ``a`` of any batch shape the loop runs over the batch, then over
  ``k``, and innermost over the ``n`` entries of one output row, adding
  ``a[..., j] * m[j]`` to the row in order of ``j``; the batch only decides how often
  that innermost loop runs, never how it sums.
* larger: **one BLAS matrix-vector product per row**.  numpy's stacked matmul of
  ``(rows, 1, k) @ (k, n)`` makes one ``gemv`` call per row, and every call sees the
  same shapes, strides and 64-byte alignment (the rows are copied into an aligned
  buffer; :func:`fixed_matrix` aligns ``m``), so a row gets the same bits in a batch of
  any size.  Which bits depends on the BLAS kernel of the CPU, as for any BLAS call.

The cost of both against the batched BLAS product is measured by
``benchmarks/bench_row_stable.py`` (table in ``benchmarks/README.md``).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["ALIGN_BYTES", "EINSUM_MAX", "fixed_matrix", "row_matmul"]

#: Largest ``k * n`` computed by :func:`numpy.einsum`; above it one ``gemv`` per row is
#: faster (``benchmarks/bench_row_stable.py``).
EINSUM_MAX = 256

#: Alignment of every operand handed to BLAS: a cache line, and the alignment Intel MKL
#: asks for reproducible results ("Conditional Numerical Reproducibility", MKL
#: developer reference).
ALIGN_BYTES = 64


def _aligned_rows(rows: int, cols: int, dtype: np.dtype) -> np.ndarray:
    """An uninitialised ``(rows, cols)`` array whose every row starts on a 64-byte line."""
    itemsize = dtype.itemsize
    per_line = max(1, ALIGN_BYTES // itemsize)
    stride = -(-cols // per_line) * per_line
    raw = np.empty(rows * stride + per_line, dtype=dtype)
    start = (-raw.ctypes.data % ALIGN_BYTES) // itemsize
    return raw[start : start + rows * stride].reshape(rows, stride)[:, :cols]


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
        return np.einsum("...k,kn->...n", a, m)
    count = math.prod(batch)
    rows = _aligned_rows(count, k, m.dtype)
    rows[...] = a.reshape(count, k)
    out = _aligned_rows(count, n, m.dtype)
    np.matmul(rows[:, None, :], m, out=out[:, None, :])
    return np.ascontiguousarray(out).reshape(*batch, n)
