r"""Batched power iteration with deflation: PyHessian's eigensolver, in numpy.

For each wanted eigenpair in turn, iterate ``v ← P H v / ‖P H v‖`` where ``P`` projects
out the eigenvectors already found (deflation by orthogonalisation, as PyHessian does),
with the Rayleigh quotient ``μ = vᵀ H v`` as the estimate.  Power iteration converges to
the eigenvalue of largest *magnitude*, at the rate ``|λ₂/λ₁|`` per product, so

* ``which="LM"`` is plain power iteration;
* ``which="LA"`` runs it, and where the answer is negative (the most negative
  eigenvalue dominates) runs it again on ``H - μI``, whose spectrum is ``>= 0`` and
  whose largest eigenvalue is ``λmax - μ``;
* ``which="SA"`` does the same on ``-H``.

The stopping test is on the residual, ``‖Hv - μv‖ <= tol |μ|`` (as for Lanczos, so that
both reach the same accuracy), not PyHessian's relative change of ``μ`` between
iterations, which stops early on a clustered spectrum.  On a clustered top of the
spectrum power iteration needs ``~ log(1/tol) / (1 - |λ₂/λ₁|)`` products, Lanczos about
the square root of that; :func:`gradflow.curvature.top_eigenvalue` defaults to Lanczos.

References
----------
R. von Mises and H. Pollaczek-Geiringer, "Praktische Verfahren der
Gleichungsauflösung", ZAMM 9, 152-164, 1929.
Z. Yao, A. Gholami, K. Keutzer and M. W. Mahoney, "PyHessian: neural networks through
the lens of the Hessian", IEEE BigData 2020.
Y. Saad, *Numerical Methods for Large Eigenvalue Problems*, 2nd ed., SIAM, 2011, §4.1.
"""

from __future__ import annotations

import numpy as np

from gradflow.curvature._lanczos import RESIDUAL_FLOOR_ULPS, EigenArrays, Operator

__all__ = ["power_eigen"]


def _project(w: np.ndarray, found: np.ndarray) -> np.ndarray:
    """``w`` (b, d) with its components along the rows of ``found`` (b, i, d) removed
    (twice, for the same reason as in Lanczos)."""
    if found.shape[1] == 0:
        return w
    for _ in range(2):
        w = w - np.einsum("bi,bid->bd", np.einsum("bid,bd->bi", found, w), found)
    return w


def _iterate(
    op: Operator,
    rows: np.ndarray,
    v: np.ndarray,
    found: np.ndarray,
    sign: float,
    shift: np.ndarray,
    tol: float,
    scale: np.ndarray,
    max_iter: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Power iteration on ``P(sign·H - shift)P`` for the batch rows ``rows``.

    Returns the Rayleigh quotients ``μ`` of the shifted operator, the vectors, the
    residuals ``‖(sign·H - shift)v - μv‖`` (after projection) and the converged mask.
    """
    n = v.shape[0]
    eps = float(np.finfo(v.dtype).eps)
    mu = np.zeros(n, dtype=v.dtype)
    res = np.full(n, np.inf, dtype=v.dtype)
    vec = np.array(v, copy=True)
    ok = np.zeros(n, dtype=bool)
    act = np.arange(n)  # positions (into this call's arrays) still iterating
    v = _project(v, found)
    v = v / np.linalg.norm(v, axis=-1, keepdims=True)
    for _ in range(max_iter):
        w = sign * op(rows[act], v) - shift[act, None] * v
        w = _project(w, found[act])
        m = np.einsum("bd,bd->b", v, w)
        r = np.linalg.norm(w - m[:, None] * v, axis=-1)
        mu[act], vec[act], res[act] = m, v, r
        s = np.maximum(scale[act], np.abs(m + shift[act]))
        conv = r <= tol * np.abs(m + shift[act]) + RESIDUAL_FLOOR_ULPS * eps * s
        ok[act] = conv
        norm_w = np.linalg.norm(w, axis=-1)
        # A zero product means v is in the null space of the deflated operator: μ = 0
        # is exact (the residual is zero too), so that row has converged.
        keep = ~conv & (norm_w > 0)
        if not keep.any():
            break
        v = w[keep] / norm_w[keep, None]
        act = act[keep]
    return mu, vec, res, ok


def power_eigen(
    op: Operator,
    v0: np.ndarray,
    k: int,
    which: str,
    tol: float,
    max_iter: int,
    rng: np.random.Generator,
) -> EigenArrays:
    """``k`` eigenpairs at the ``which`` end by power iteration with deflation.

    ``max_iter`` bounds the products of each pass; ``rng`` draws the start vectors of
    the pairs after the first (the first uses ``v0``).
    """
    B, d = v0.shape
    dtype = v0.dtype
    values = np.full((B, k), np.nan, dtype=dtype)
    vectors = np.zeros((B, k, d), dtype=dtype)
    residuals = np.full((B, k), np.inf, dtype=dtype)
    converged = np.ones(B, dtype=bool)
    sign = -1.0 if which == "SA" else 1.0
    rows = np.arange(B)
    scale = np.zeros(B, dtype=dtype)
    for i in range(k):
        start = v0 if i == 0 else rng.standard_normal((B, d)).astype(dtype)
        found = vectors[:, :i]
        zero = np.zeros(B, dtype=dtype)
        mu, vec, res, ok = _iterate(op, rows, start, found, sign, zero, tol, scale, max_iter)
        if which != "LM":
            # The magnitude-dominant eigenvalue is negative: shift the spectrum to >= 0.
            neg = mu < 0
            if neg.any():
                shift = mu[neg]
                nu, vec_n, res_n, ok_n = _iterate(
                    op, rows[neg], start[neg], found[neg], sign, shift, tol, scale[neg], max_iter
                )
                mu[neg], vec[neg], res[neg], ok[neg] = nu + shift, vec_n, res_n, ok_n
        values[:, i] = sign * mu
        vectors[:, i] = vec
        residuals[:, i] = res
        converged &= ok
        scale = np.maximum(scale, np.abs(mu))
    # Deflation finds the pairs in the wanted order only up to the accuracy reached.
    key = {"LA": -values, "SA": values, "LM": -np.abs(values)}[which]
    order = np.argsort(key, axis=-1, kind="stable")
    return EigenArrays(
        np.take_along_axis(values, order, axis=-1),
        np.take_along_axis(vectors, order[..., None], axis=1),
        np.take_along_axis(residuals, order, axis=-1),
        converged,
    )
