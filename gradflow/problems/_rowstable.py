r"""Products with a fixed matrix that compute every batch row on its own.

A BLAS matrix-matrix product ``Θ @ M`` of a batch ``Θ`` of shape ``(B, k)`` does not
compute a row the same way for every ``B``: a single row goes to a matrix-vector
kernel, a few rows to a small-matrix kernel, rows in a partial register tile to an edge
kernel, and each path rounds its ``k``-term sums in its own order.  OpenBLAS's default
kernel on an AVX2/FMA CPU puts 1-15 ulp between a row of ``(1000, 2) @ A`` and the same
row multiplied alone.  A zoo problem therefore never hands its batch to one BLAS call:
its products with data go through :func:`row_matmul`, which picks a kernel from the
shape and dtype of the matrix ``m`` alone (the one exception, the column kernel below,
computes einsum's sums in einsum's order, so which of the two a batch gets changes no
bit):

* ``k * n <= EINSUM_MAX``: :func:`numpy.einsum` without ``optimize`` (numpy's own C
  loop, no BLAS).  Its loop runs over the batch outermost and over one output row
  inside, the innermost loop along the longer of ``k`` and ``n``: for ``n >= k`` it
  adds ``a[..., j] * m[j]`` to the whole row in order of ``j``, for ``n < k`` it takes
  one dot product of the row with each column of ``m``.  The batch decides only how
  often that loop runs, never how it sums.  For tiny matrices (``k <= n <=
  COLUMNS_MAX``) on at least ``COLUMNS_MIN_ROWS`` rows, the same sums are formed column
  by column, ``((0 + a_0 m_0c) + a_1 m_1c) + ...`` on whole columns of the batch: the
  same operations in the same order as einsum's (so the same bits; the tests compare
  the two), without its per-row loop of length ``n``, which dominates at ``n = 2``.
* larger: **fixed blocks** of ``BLOCK_ROWS`` rows, the last one padded with zeros, each
  block one BLAS matrix-matrix call of the same shape, strides and 64-byte alignment.
  A row alone is row 0 of a block; in a batch it is row ``i mod BLOCK_ROWS`` of some
  block, so this kernel is row-stable when BLAS computes every row position of a block
  alike.  Register-tiled kernels usually do, but it is no contract (OpenBLAS's AVX2
  single-precision kernel does not for blocks of 16 rows), so it is *checked*, once per
  matrix shape, dtype and layout: a block holding one probe row at every position, and a block
  holding it at position 0 among zeros, must give the probe's product the same bits in
  every row (the verdict is kept for the process, so it assumes the BLAS thread count
  does not change); if not, the shape falls back to
* **one BLAS matrix-vector product per row** (numpy's stacked matmul of
  ``(rows, 1, k) @ (k, n)`` makes one ``gemv`` call per row, all with the same shapes,
  strides and alignment): row-stable by construction, but it streams the matrix once
  per row instead of once per block.

Measured with one BLAS thread (``benchmarks/bench_row_stable.py``): against one batched
call, blocks of 8 cost about 2 times at ``k × n = 50 × 1000`` (256 rows) and 1.9-2.3
times at ``1000 × 1000`` (1000 rows); one ``gemv`` per row 2.2-2.5 and 3.1-3.4 times.
A single row pays for its whole block: 4-6 times a lone ``gemv``.

Which bits a row gets depends on the CPU's BLAS kernel, as for any BLAS call; that it
gets the same bits in a batch of any size does not.  The cost against one batched BLAS
call is measured by ``benchmarks/bench_row_stable.py`` (table in
``benchmarks/README.md``).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "ALIGN_BYTES",
    "BLOCK_ROWS",
    "COLUMNS_MAX",
    "COLUMNS_MIN_ROWS",
    "EINSUM_MAX",
    "fixed_matrix",
    "row_matmul",
]

#: Largest ``k * n`` computed by :func:`numpy.einsum`.  Measured on a 2-vCPU AMD EPYC
#: (``benchmarks/bench_row_stable.py``): einsum costs about 15 ns per row at ``k = n = 2``
#: and grows with ``k * n``; BLAS calls cost 60-150 ns per row at any small size, and the
#: two meet between ``k * n = 256`` and ``400``.
EINSUM_MAX = 256

#: Largest ``n`` (with ``k <= n``) computed column by column on a large batch.  At
#: ``k = n = 2`` on 10^4 rows the columns take 55 µs against einsum's 215 µs (and BLAS's
#: 105 µs); the count of numpy calls, ``n (k + 1)``, grows quickly beyond a few.
COLUMNS_MAX = 4

#: Fewest rows computed column by column: below it einsum's single call is cheaper
#: (measured at ``k = n = 2``: 5.5 against 20 µs for 1 row, 11 against 16 µs for 256).
COLUMNS_MIN_ROWS = 512

#: Rows per BLAS block.  Larger blocks come closer to one batched call (float64 at
#: 50 × 1000, one thread: 8 rows 2.0x its time, 16 rows 1.6x, 32 rows 1.3x) and make a
#: single row cost more (the whole block is computed).  And OpenBLAS's single-precision
#: kernel on an AVX2 CPU rounds a row differently at different positions of a block of
#: 16 or more rows (the check catches it and falls back to ``gemv``); blocks of 8 passed
#: in both precisions with 1 and 2 threads.
BLOCK_ROWS = 8

#: Alignment of every operand handed to BLAS: a cache line, and the alignment Intel MKL
#: asks for reproducible results ("Conditional Numerical Reproducibility", MKL
#: developer reference).
ALIGN_BYTES = 64

#: Per ``(k, n, dtype, strides of m)``: whether every row position of a block gives the
#: same bits (filled by :func:`_blocks_are_row_stable`).
_BLOCK_CHECK: dict[tuple[int, int, str, tuple[int, ...]], bool] = {}


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


def _block_products(rows: np.ndarray, m: np.ndarray, out: np.ndarray) -> None:
    """``out[s:s+R] = rows[s:s+R] @ m`` for every block of ``R = BLOCK_ROWS`` rows."""
    for s in range(0, rows.shape[0], BLOCK_ROWS):
        np.matmul(rows[s : s + BLOCK_ROWS], m, out=out[s : s + BLOCK_ROWS])


def _blocks_are_row_stable(m: np.ndarray) -> bool:
    """Whether BLAS gives a row the same bits at every position of a block (cached)."""
    k, n = m.shape
    key = (k, n, m.dtype.str, m.strides)
    if key not in _BLOCK_CHECK:
        probe = np.random.default_rng(0).uniform(-1.0, 1.0, k).astype(m.dtype)
        rows, out = _aligned_rows(BLOCK_ROWS, (k, n), m.dtype)
        rows[...] = probe  # the probe at every position
        _block_products(rows, m, out)
        results = {row.tobytes() for row in out}
        rows[1:] = 0  # the probe alone, as a single row is computed
        _block_products(rows, m, out)
        results.add(out[0].tobytes())
        _BLOCK_CHECK[key] = len(results) == 1
    return _BLOCK_CHECK[key]


def _column_products(a: np.ndarray, m: np.ndarray, minus: np.ndarray | None) -> np.ndarray:
    """``a @ m [- minus]`` as einsum sums it for ``n >= k``, one output column at a time."""
    k, n = m.shape
    rows = a.reshape(-1, k)
    out = np.empty((rows.shape[0], n), dtype=a.dtype)
    cols = [rows[:, j] for j in range(k)]
    for c in range(n):
        acc = cols[0] * m[0, c]
        for j in range(1, k):
            acc += cols[j] * m[j, c]
        # einsum starts from zeros, so its running sum is never -0; adding +0 last gives
        # the same bits (a running sum is -0 only while every product so far is -0), and
        # so does subtracting a nonzero offset instead (-0 - b = +0 - b for b != 0).
        if minus is not None and minus[c] != 0:
            np.subtract(acc, minus[c], out=out[:, c])
        else:
            np.add(acc, 0.0, out=out[:, c])  # (s + 0) - 0 = s + 0
    return out.reshape(*a.shape[:-1], n)


def row_matmul(a: np.ndarray, m: np.ndarray, minus: np.ndarray | None = None) -> np.ndarray:
    """``a @ m`` (or ``a @ m - minus``) with each row of ``a`` computed on its own.

    Parameters
    ----------
    a : ndarray, shape (*batch, k)
        Rows, of the dtype of ``m``.
    m : ndarray, shape (k, n)
        A fixed matrix, ideally from :func:`fixed_matrix`.
    minus : ndarray, shape (n,), optional
        Subtracted from every row: the bits of ``row_matmul(a, m) - minus``, without
        the extra temporary (and folded into the column kernel's last pass).

    Returns
    -------
    ndarray, shape (*batch, n)
        A new C-contiguous array; row ``i`` has the same bits whatever else is in the
        batch (see the module docstring for the kernels).

    Examples
    --------
    >>> import numpy as np
    >>> m = fixed_matrix(np.arange(6.0).reshape(2, 3))
    >>> row_matmul(np.array([[1.0, 2.0], [0.0, 1.0]]), m)
    array([[ 6.,  9., 12.],
           [ 3.,  4.,  5.]])
    """
    k, n = m.shape
    if k * n <= EINSUM_MAX and n >= k and n <= COLUMNS_MAX and a.size >= COLUMNS_MIN_ROWS * k:
        return _column_products(a, m, minus)
    out = _products(a, m)
    if minus is not None:
        out -= minus
    return out


def _products(a: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``a @ m`` by einsum, fixed BLAS blocks or one ``gemv`` per row (module docstring)."""
    k, n = m.shape
    batch = a.shape[:-1]
    if k * n <= EINSUM_MAX:
        if n >= k:
            return np.einsum("...k,kn->...n", a, m)
        return np.einsum("...k,nk->...n", a, np.ascontiguousarray(m.T))
    count = math.prod(batch)
    if _blocks_are_row_stable(m):
        padded = -(-count // BLOCK_ROWS) * BLOCK_ROWS
        rows, out = _aligned_rows(padded, (k, n), m.dtype)
        rows[:count] = a.reshape(count, k)
        rows[count:] = 0
        _block_products(rows, m, out)
        return np.ascontiguousarray(out[:count]).reshape(*batch, n)
    rows, out = _aligned_rows(count, (k, n), m.dtype)
    rows[...] = a.reshape(count, k)
    np.matmul(rows[:, None, :], m, out=out[:, None, :])
    return np.ascontiguousarray(out).reshape(*batch, n)
