r"""Hessian spectral density by stochastic Lanczos quadrature (SLQ).

For a unit vector ``q``, ``qᵀ f(H) q = Σ_i (qᵀ u_i)² f(λ_i)`` is an integral of ``f``
against the spectral measure of ``H`` seen from ``q``.  ``m`` Lanczos steps from ``q``
give the Gauss quadrature rule of that measure: nodes = eigenvalues of ``T_m``, weights
= squared first components of its eigenvectors; it is exact for polynomials of degree
``<= 2m - 1``.  With Rademacher ``z`` and ``q = z/√d``, ``E[zᵀ f(H) z]/d = tr f(H)/d``,
so averaging the rules of ``n_probes`` random starts estimates the spectral density
``(1/d) Σ_i δ(λ - λ_i)``; each rule's weights sum to 1.  For display the point masses
are smoothed with a Gaussian kernel (PyHessian's convention: variance
``1e-5 · max(1, λmax - λmin)``).

References
----------
G. H. Golub and G. Meurant, *Matrices, Moments and Quadrature with Applications*,
Princeton University Press, 2010, §6 and §11.
L. Lin, Y. Saad and C. Yang, "Approximating spectral densities of large matrices",
SIAM Review 58(1), 34-65, 2016.
B. Ghorbani, S. Krishnan and Y. Xiao, "An investigation into neural net optimization
via Hessian eigenvalue density", ICML 2019.
Z. Yao, A. Gholami, K. Keutzer and M. W. Mahoney, "PyHessian: neural networks through
the lens of the Hessian", IEEE BigData 2020.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from gradflow._checks import check_problem
from gradflow._validation import (
    as_generator,
    as_state_array,
    check_allocation,
    check_integer,
    check_positive,
    check_real,
)
from gradflow.curvature._hvp import BatchHVP
from gradflow.curvature._lanczos import LanczosStep, lanczos, tridiagonal
from gradflow.curvature._trace import rademacher
from gradflow.problems import Problem

__all__ = ["SpectralDensity", "spectral_density"]

#: PyHessian's kernel variance relative to the spectral range: ``σ² = SIGMA2_RELATIVE ·
#: max(1, λmax - λmin)`` (``sigma_squared=1e-5`` in ``pyhessian/density_plot.py``).
SIGMA2_RELATIVE = 1e-5
#: The default grid reaches this many kernel widths beyond the extreme nodes, so the
#: smoothed density integrates to 1 up to the quadrature error of the grid.
GRID_PAD_SIGMAS = 6.0
#: ... plus this fraction of the spectral range, a visual margin for plots.
GRID_PAD_RANGE = 0.01
#: Default grid size (PyHessian's ``num_bins``); the trapezoid rule integrates the
#: Gaussian kernels to ~1e-8 while the spacing stays below σ.
DEFAULT_GRID = 10_000


class SpectralDensity(NamedTuple):
    """SLQ estimate of the Hessian eigenvalue density at a batch of points.

    Attributes
    ----------
    nodes : ndarray, shape (*batch, n_probes, m)
        Gauss quadrature nodes (Ritz values of each probe's Lanczos run).
    weights : ndarray, shape (*batch, n_probes, m)
        Their weights, divided by ``n_probes``: all weights of a point sum to 1.  A run
        that found an invariant subspace after ``j < m`` steps has ``m - j`` padding
        nodes of weight 0.
    grid : ndarray, shape (*batch, n_grid) or (n_grid,)
        Where the smoothed density is evaluated.
    density : ndarray, shape (*batch, n_grid)
        ``Σ w_i N(x; λ_i, σ²)``: integrates to 1 over the default grid.
    sigma : ndarray, shape batch
        Kernel standard deviation.
    n_hvp : ndarray of int, shape batch
        HVPs spent per point.
    """

    nodes: np.ndarray
    weights: np.ndarray
    grid: np.ndarray
    density: np.ndarray
    sigma: np.ndarray
    n_hvp: np.ndarray

    def moment(self, p: int) -> np.ndarray:
        """The ``p``-th moment ``Σ w_i λ_i^p`` of the quadrature, an estimate of
        ``tr(H^p)/d`` (exact in expectation for ``p <= 2m - 1``), shape ``batch``."""
        return np.sum(self.weights * self.nodes**p, axis=(-2, -1))[()]


def spectral_density(
    problem: Problem,
    theta: ArrayLike,
    n_probes: int = 10,
    *,
    n_lanczos: int = 100,
    sigma: float | None = None,
    seed: int | np.random.Generator | None = None,
    grid: ArrayLike | None = None,
    n_grid: int = DEFAULT_GRID,
) -> SpectralDensity:
    r"""The Hessian eigenvalue density by stochastic Lanczos quadrature.

    Parameters
    ----------
    problem : Problem
    theta : array_like, shape (*batch, d)
        Points; each gets its own probes.
    n_probes : int, optional
        Rademacher start vectors per point.  Default 10.
    n_lanczos : int, optional
        Lanczos steps (quadrature nodes) per probe, capped at ``d``.  Default 100
        (PyHessian's ``iter``).
    sigma : float, optional
        Standard deviation of the Gaussian kernel, in eigenvalue units.  Default:
        PyHessian's ``σ² = 1e-5 · max(1, λmax - λmin)`` from the extreme nodes.
    seed : int, numpy.random.Generator or None, optional
        Seeds the probes: the same seed gives the same bits.
    grid : array_like, shape (n_grid,), optional
        Evaluation points shared by the batch.  Default: ``n_grid`` points from
        ``λmin - pad`` to ``λmax + pad`` per point, ``pad = 6σ + 0.01 (λmax - λmin)``.
    n_grid : int, optional
        Size of the default grid (default 10,000).  The density integrates to 1 (to
        ~1e-8) when the spacing is below ``σ``; with the default ``σ`` and grid that
        holds for spectral spans up to ~1000.  A coarser grid still gives the right
        picture, but its trapezoid integral is off by up to ~1e-3 at spacing ``2σ``.

    Returns
    -------
    SpectralDensity
        ``nodes``, ``weights``, ``grid``, ``density``, ``sigma``, ``n_hvp`` and the
        method ``moment(p)``.

    Raises
    ------
    TypeError
        If ``problem`` is not a Problem or a count or ``seed`` has the wrong type.
    ValueError
        If ``theta`` has the wrong shape or is not finite, a count is below 1 (2 for
        ``n_grid``), ``sigma`` is not positive, ``grid`` is not a finite 1-D array, or
        the ``(batch, n_grid, n_lanczos)`` work array would exceed
        :data:`gradflow._validation.MAX_ALLOCATION_BYTES` (the message gives its size).

    References
    ----------
    L. Lin, Y. Saad and C. Yang, "Approximating spectral densities of large matrices",
    SIAM Review 58(1), 34-65, 2016.
    Z. Yao, A. Gholami, K. Keutzer and M. W. Mahoney, "PyHessian: neural networks
    through the lens of the Hessian", IEEE BigData 2020.

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic(np.linspace(1.0, 2.0, 50), seed=0)
    >>> sd = gf.curvature.spectral_density(p, np.zeros(50), n_lanczos=20, n_probes=4,
    ...                                    seed=0, n_grid=2000)
    >>> round(float(np.trapezoid(sd.density, sd.grid)), 6)   # a probability density
    1.0
    >>> round(float(sd.moment(1)), 1)                        # ≈ tr(H)/d = 1.5
    1.5
    """
    problem = check_problem(problem)
    points = as_state_array(theta, "theta", problem.dim)
    P = check_integer(n_probes, "n_probes", 1)
    m = check_integer(n_lanczos, "n_lanczos", 1)
    n_grid = check_integer(n_grid, "n_grid", 2)
    if sigma is not None:
        sigma = check_positive(sigma, "sigma")
    shared_grid = None
    if grid is not None:
        shared_grid = check_real(grid, "grid", allow_array=True)
        if shared_grid.ndim != 1 or shared_grid.size < 2:
            raise ValueError(f"grid must be a finite 1-D array of >= 2 points, got {grid!r}")
    gen = as_generator(seed)
    batch, d = points.shape[:-1], problem.dim
    flat = points.reshape(-1, d)
    B = flat.shape[0]
    m = min(m, d)
    dtype = flat.dtype
    n_points = n_grid if shared_grid is None else shared_grid.size
    # The largest array: one probe's Gaussians, (B, n_grid, m), in float64.
    check_allocation(
        float(B) * n_points * m, 8, f"n_grid ({n_points} grid points x {B} points x {m} nodes)"
    )

    # One Lanczos run per (probe, point), rows ordered probe-major.
    op = BatchHVP(problem, np.tile(flat, (P, 1)))
    nodes = np.zeros((P * B, m), dtype=dtype)
    weights = np.zeros((P * B, m), dtype=dtype)

    def hook(step: LanczosStep) -> np.ndarray:
        if step.stop.any():
            ritz, S = np.linalg.eigh(tridiagonal(step.alpha[step.stop], step.beta[step.stop]))
            j = step.size
            r = step.rows[step.stop]
            nodes[r, :j] = ritz
            nodes[r, j:] = ritz[:, -1:]  # padding: a real node, with weight 0
            weights[r, :j] = S[:, 0, :] ** 2
        return step.stop

    with np.errstate(all="ignore"):
        lanczos(op, rademacher(gen, (P * B, d), dtype), m, hook, rng=gen)

    nodes = nodes.reshape(P, B, m).transpose(1, 0, 2)
    weights = weights.reshape(P, B, m).transpose(1, 0, 2) / P
    lo = nodes.min(axis=(-2, -1))
    hi = nodes.max(axis=(-2, -1))
    span = hi - lo
    if sigma is None:
        sig = np.sqrt(SIGMA2_RELATIVE * np.maximum(1.0, span))
    else:
        sig = np.full(B, sigma)
    if shared_grid is None:
        pad = GRID_PAD_SIGMAS * sig + GRID_PAD_RANGE * span
        t = np.linspace(0.0, 1.0, n_grid)
        x = (lo - pad)[:, None] + (span + 2 * pad)[:, None] * t
    else:
        x = np.broadcast_to(shared_grid, (B, shared_grid.size))
    density = np.zeros(x.shape)
    norm = 1.0 / (np.sqrt(2.0 * math.pi) * sig)
    for p in range(P):  # chunked over probes: (B, n_grid, m) at a time
        z = (x[:, :, None] - nodes[:, None, p, :]) / sig[:, None, None]
        density += norm[:, None] * np.einsum("bgm,bm->bg", np.exp(-0.5 * z * z), weights[:, p])
    n_hvp = op.n_hvp.reshape(P, B).sum(axis=0)
    grid_out = shared_grid if shared_grid is not None else x.reshape(*batch, -1)
    return SpectralDensity(
        nodes.reshape(*batch, P, m),
        weights.reshape(*batch, P, m),
        grid_out,
        density.reshape(*batch, -1),
        sig.reshape(batch)[()],
        n_hvp.reshape(batch),
    )
