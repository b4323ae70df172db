r"""Hutchinson's estimator of the Hessian trace, with its standard error.

For a random vector ``z`` with independent entries of mean 0 and variance 1,
``E[zᵀ H z] = tr(H)``.  With Rademacher entries (``±1`` with probability ½) the
variance of one sample is ``2 Σ_{i≠j} H_ij²`` — the smallest among such distributions
(Hutchinson 1990) — and zero for a diagonal ``H``.  The mean of ``n`` samples is
unbiased and its standard error is estimated by the sample standard deviation over
``√n``; by the central limit theorem ``tr(H)`` lies within two standard errors of the
estimate about 95 % of the time once ``n`` is a few tens.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from gradflow._checks import check_problem
from gradflow._validation import as_generator, as_state_array, check_allocation, check_integer
from gradflow.problems import Problem

__all__ = ["TraceEstimate", "rademacher", "trace"]

#: Probes are drawn and multiplied in chunks of about this many numbers (memory bound).
CHUNK_NUMBERS = 1 << 22


class TraceEstimate(NamedTuple):
    """Hutchinson's estimate of ``tr ∇²L(θ)`` for a batch of points.

    Attributes
    ----------
    value : ndarray, shape batch
        The mean of the samples ``zᵀ H z``.
    stderr : ndarray, shape batch
        Its standard error: sample standard deviation (``ddof=1``) over ``√n_probes``.
    samples : ndarray, shape (n_probes, *batch)
        The individual ``zᵀ H z``.
    n_hvp : ndarray of int, shape batch
        HVPs spent per point (``n_probes``).
    """

    value: np.ndarray
    stderr: np.ndarray
    samples: np.ndarray
    n_hvp: np.ndarray


def rademacher(gen: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Independent ``±1`` entries with probability ½ each."""
    return (2 * gen.integers(0, 2, size=shape, dtype=np.int8) - 1).astype(dtype)


def trace(
    problem: Problem,
    theta: ArrayLike,
    n_probes: int = 100,
    *,
    seed: int | np.random.Generator | None = None,
) -> TraceEstimate:
    r"""Hutchinson's trace estimate ``tr ∇²L(θ) ≈ (1/n) Σ zᵢᵀ H zᵢ``, Rademacher ``zᵢ``.

    Parameters
    ----------
    problem : Problem
    theta : array_like, shape (*batch, d)
        Points; each gets its own probes.
    n_probes : int, optional
        Samples per point, at least 2 (for the standard error).  Default 100, as
        PyHessian's ``maxIter``.
    seed : int, numpy.random.Generator or None, optional
        Seeds the probes: the same seed gives the same bits.

    Returns
    -------
    TraceEstimate
        ``value``, ``stderr``, ``samples`` and ``n_hvp``.

    Raises
    ------
    TypeError
        If ``problem`` is not a Problem or ``n_probes``/``seed`` has the wrong type.
    ValueError
        If ``theta`` has the wrong shape or is not finite, ``n_probes < 2``, or the
        ``(n_probes, *batch)`` samples would exceed
        :data:`gradflow._validation.MAX_ALLOCATION_BYTES`.

    References
    ----------
    M. F. Hutchinson, "A stochastic estimator of the trace of the influence matrix for
    Laplacian smoothing splines", Commun. Stat. Simul. Comput. 19(2), 433-450, 1990.
    H. Avron and S. Toledo, "Randomized algorithms for estimating the trace of an
    implicit symmetric positive semi-definite matrix", J. ACM 58(2), 2011.

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic(A=np.diag([1.0, 2.0, 3.0]))   # diagonal: exact
    >>> est = gf.curvature.trace(p, np.zeros(3), n_probes=10, seed=0)
    >>> float(est.value), float(est.stderr)
    (6.0, 0.0)
    """
    problem = check_problem(problem)
    points = as_state_array(theta, "theta", problem.dim)
    n = check_integer(n_probes, "n_probes", 2)
    gen = as_generator(seed)
    batch, d = points.shape[:-1], problem.dim
    flat = points.reshape(-1, d)
    B = flat.shape[0]
    check_allocation(float(n) * B, flat.dtype.itemsize, f"n_probes ({n} probes x {B} points)")
    samples = np.empty((n, B), dtype=flat.dtype)
    per_chunk = max(1, CHUNK_NUMBERS // (B * d))
    with np.errstate(all="ignore"):
        for start in range(0, n, per_chunk):
            m = min(per_chunk, n - start)
            z = rademacher(gen, (m, B, d), flat.dtype)
            hz = np.asarray(problem.hvp(np.broadcast_to(flat, (m, B, d)), z), dtype=flat.dtype)
            samples[start : start + m] = np.einsum("mbd,mbd->mb", z, hz)
    value = samples.mean(axis=0)
    stderr = samples.std(axis=0, ddof=1) / np.sqrt(n)
    return TraceEstimate(
        value.reshape(batch)[()],
        stderr.reshape(batch)[()],
        samples.reshape(n, *batch),
        np.full(batch, n, dtype=np.int64),
    )
