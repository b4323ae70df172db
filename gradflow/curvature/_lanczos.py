r"""Batched Lanczos iteration with full reorthogonalisation, and Ritz pairs from it.

:func:`lanczos` is the plain iteration (a growing basis, steps reported to a hook; used
by stochastic Lanczos quadrature); :func:`lanczos_eigen`, the eigensolver, adds thick
restarts (Wu & Simon 2000) so that its basis never exceeds ``m`` vectors.

One Lanczos run per point of a batch, all advanced together: step ``j`` makes one
Hessian-vector product per active point, orthogonalises it against the whole basis so
far (classical Gram–Schmidt, with a second pass where the first lost accuracy), and
extends the tridiagonal matrix ``T_j = Q_jᵀ H Q_j``.  Points whose run has finished
(converged, reached the step limit, or found an invariant subspace) drop out of the batch,
so each point pays for its own products only.

Why full reorthogonalisation: without it, rounding makes the basis lose orthogonality
as soon as a Ritz value converges, and copies ("ghosts") of converged eigenvalues
appear (Paige 1971).  Reorthogonalising costs ``O(j d)`` per step: memory traffic that
outweighs a cheap HVP once ``j`` reaches a few hundred at ``d = 10^4``, which is why the
eigensolver restarts and keeps ``j <= m`` (:data:`RESTART_BASIS_SIZE`).

Convergence of a Ritz pair ``(ϑ, y = Q_j s)`` is read off ``T_j`` without another
product: ``‖H y - ϑ y‖ = β_j |s_j|`` (the last component of ``s``), and then some
eigenvalue of ``H`` lies within that residual of ``ϑ`` (within residual²/gap when the
gap to the rest of the spectrum is known).

References
----------
C. Lanczos, "An iteration method for the solution of the eigenvalue problem of linear
differential and integral operators", J. Res. Nat. Bur. Standards 45, 255-282, 1950.
C. C. Paige, *The computation of eigenvalues and eigenvectors of very large sparse
matrices*, PhD thesis, University of London, 1971.
B. N. Parlett, *The Symmetric Eigenvalue Problem*, SIAM, 1998, §11 and §13.
J. W. Daniel, W. B. Gragg, L. Kaufman and G. W. Stewart, "Reorthogonalization and stable
algorithms for updating the Gram-Schmidt QR factorization", Math. Comp. 30, 772-795, 1976.
L. Giraud, J. Langou and M. Rozložník, "The loss of orthogonality in the Gram-Schmidt
orthogonalization process", Comput. Math. Appl. 50, 1069-1075, 2005.
K. Wu and H. Simon, "Thick-restart Lanczos method for large symmetric eigenvalue
problems", SIAM J. Matrix Anal. Appl. 22(2), 602-616, 2000.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from gradflow._rows import compact

__all__ = [
    "LanczosStep",
    "default_basis_size",
    "kept_at_restart",
    "lanczos",
    "lanczos_eigen",
    "select_ritz",
    "tridiagonal",
]

#: A new residual ``β_j <= BREAKDOWN_ULPS · eps · ‖T‖`` means the Krylov space is
#: invariant (up to rounding, which full reorthogonalisation keeps at a few ulps).
BREAKDOWN_ULPS = 1000.0
#: A second Gram–Schmidt pass is made when the first shrinks the vector below this
#: fraction of its norm (Daniel, Gragg, Kaufman & Stewart 1976).
DGKS_ETA = 1.0 / np.sqrt(2.0)
#: Initial number of basis vectors allocated per point (doubled as needed).
INITIAL_CAPACITY = 32
#: Ritz pairs are tested for convergence at every step up to this size of ``T``, every
#: other step up to CHECK_EVERY_OTHER_UP_TO (a test costs about a third of a cheap HVP) ...
CHECK_EVERY_STEP_UP_TO = 16
CHECK_EVERY_OTHER_UP_TO = 64
#: ... and after that every ``j // CHECK_FRACTION`` steps: an eigen-decomposition of
#: ``T_j`` costs ``O(j³)``, so testing every step would dominate cheap products, while
#: this schedule wastes at most ``1/CHECK_FRACTION`` of the products.
CHECK_FRACTION = 32
#: Default size ``m`` of the thick-restart Lanczos basis (for ``k`` wanted pairs it is
#: ``max(2k + 1, RESTART_BASIS_SIZE)``, scipy ``eigsh``'s ``ncv`` rule with a larger
#: floor): small enough that the basis stays in cache and reorthogonalisation is cheap,
#: large enough that a restart loses little (Wu & Simon 2000).
RESTART_BASIS_SIZE = 40
#: Fraction of the ``m - k`` unwanted Ritz vectors nearest the wanted end that a thick
#: restart keeps besides the ``k`` wanted ones (they carry the Krylov information about
#: the next eigenvalues, which sets the convergence rate of the wanted ones).
RESTART_KEEP_FRACTION = 0.5
#: After a restart Ritz pairs are tested every this many steps (and at every restart):
#: each test is a dense ``eigh`` of the ``m × m`` projected matrix.
RESTART_CHECK_EVERY = 4
#: Residuals at or below ``RESIDUAL_FLOOR_ULPS · eps · ‖T‖`` count as converged whatever
#: ``tol`` asks (a Ritz pair cannot be resolved beyond rounding of ``‖H‖``).
RESIDUAL_FLOOR_ULPS = 10.0


class LanczosStep(NamedTuple):
    """What the per-step hook of :func:`lanczos` sees, for the ``b`` active points.

    Attributes
    ----------
    size : int
        ``j``: the basis has ``j`` vectors and ``T_j`` is ``j × j``.
    rows : ndarray of int, shape (b,)
        Batch indices of the active points.
    alpha : ndarray, shape (b, j)
        Diagonal of ``T_j``.
    beta : ndarray, shape (b, j - 1)
        Off-diagonal of ``T_j`` (zero where a run was restarted after a breakdown).
    residual : ndarray, shape (b,)
        ``β_j``, the norm of the part of ``H q_j`` outside the basis: the residual of a
        Ritz pair is ``β_j`` times the last component of its ``T_j`` eigenvector.
    basis : ndarray, shape (b, j, d)
        Orthonormal Lanczos vectors (a view: copy what you keep).
    stop : ndarray of bool, shape (b,)
        Points that stop now whatever the hook says (step limit or invariant subspace).
    """

    size: int
    rows: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    residual: np.ndarray
    basis: np.ndarray
    stop: np.ndarray


Operator = Callable[[np.ndarray | None, np.ndarray], np.ndarray]
Hook = Callable[[LanczosStep], np.ndarray]


def tridiagonal(alpha: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """The symmetric tridiagonal matrices with diagonal ``alpha`` (b, j) and
    off-diagonal ``beta`` (b, j - 1), shape (b, j, j)."""
    b, j = alpha.shape
    T = np.zeros((b, j, j), dtype=alpha.dtype)
    i = np.arange(j)
    T[:, i, i] = alpha
    if j > 1:
        T[:, i[:-1], i[1:]] = beta
        T[:, i[1:], i[:-1]] = beta
    return T


def _orthogonalise(w: np.ndarray, basis: np.ndarray, passes: int = 2) -> np.ndarray:
    """``w`` (b, d) minus its projection on the orthonormal rows of ``basis`` (b, j, d),
    by classical Gram–Schmidt: ``passes`` passes ("twice is enough": Giraud, Langou &
    Rozložník 2005).  One point uses BLAS matrix-vector products; a batch uses einsum
    (numpy's stacked matmul is slower for these shapes)."""
    for _ in range(passes):
        if basis.shape[0] == 1:
            q = basis[0]
            w = (w[0] - (q @ w[0]) @ q)[None]
        else:
            coeffs = np.einsum("bjd,bd->bj", basis, w)
            w = w - np.einsum("bj,bjd->bd", coeffs, basis)
    return w


def _reorthogonalise(w: np.ndarray, basis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One Gram–Schmidt pass of the three-term residual ``w`` against the whole basis, and
    a second one only where the first removed more than ``1 - 1/√2`` of its norm (the
    Daniel–Gragg–Kaufman–Stewart criterion): each pass reads the whole basis, which is
    the cost of full reorthogonalisation.  Returns the vector and its norm."""
    before = np.linalg.norm(w, axis=-1)
    w = _orthogonalise(w, basis, 1)
    after = np.linalg.norm(w, axis=-1)
    again = after < DGKS_ETA * before
    if again.all():
        w = _orthogonalise(w, basis, 1)
        return w, np.linalg.norm(w, axis=-1)
    if again.any():  # (a gather copies those rows' basis: only when some rows need it)
        w[again] = _orthogonalise(w[again], basis[again], 1)
        after[again] = np.linalg.norm(w[again], axis=-1)
    return w, after


def _continue_after_breakdown(
    w: np.ndarray,
    b: np.ndarray,
    restart: np.ndarray,
    broke: np.ndarray,
    basis: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Give the ``restart`` rows (an invariant subspace found before enough vectors)
    a fresh random direction orthogonal to their ``basis``, in place in ``w`` and ``b``;
    returns the rows that still count as broken down."""
    if not restart.any():
        return broke
    fresh = rng.standard_normal((int(restart.sum()), w.shape[-1])).astype(w.dtype)
    fresh = _orthogonalise(fresh, basis[restart])
    w[restart] = fresh / np.linalg.norm(fresh, axis=-1, keepdims=True)
    b[restart] = 0.0
    return broke & ~restart


def _grow(
    Q: np.ndarray, alpha: np.ndarray, beta: np.ndarray, limit: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A full basis ``Q`` (b, j, d) and its ``alpha``, ``beta`` (b, j), with room for
    twice as many vectors (at most ``limit``), the new entries zero."""
    b, j, d = Q.shape
    extra = min(limit, 2 * j) - j
    Q = np.concatenate([Q, np.zeros((b, extra, d), dtype=Q.dtype)], axis=1)
    alpha = np.concatenate([alpha, np.zeros((b, extra), alpha.dtype)], axis=1)
    beta = np.concatenate([beta, np.zeros((b, extra), beta.dtype)], axis=1)
    return Q, alpha, beta


def lanczos(
    op: Operator,
    v0: np.ndarray,
    max_iter: int,
    hook: Hook,
    *,
    rng: np.random.Generator,
    min_size: int = 1,
) -> None:
    """Run batched Lanczos from the start vectors ``v0`` and report every step to ``hook``.

    Parameters
    ----------
    op : callable
        ``op(rows, V)``: the products ``H(θ_r) V[i]`` for the batch rows ``rows`` (None
        means every row, in order), shape ``(len(rows), d)``.
    v0 : ndarray, shape (B, d)
        Non-zero start vectors.
    max_iter : int
        At most this many products per point (capped at ``d``).
    hook : callable
        Called after every step with a :class:`LanczosStep`; returns a boolean mask of
        the active points that are done.  Points in ``step.stop`` stop regardless, so
        the hook must take its results from those too.
    rng : numpy.random.Generator
        Draws the fresh start vector after a breakdown (see ``min_size``).
    min_size : int, optional
        A run that finds an invariant subspace before its basis has ``min_size`` vectors
        continues from a random vector orthogonal to it (coupling zero), so that ``k``
        Ritz pairs exist even when the Hessian has fewer than ``k`` distinct eigenvalues.
    """
    B, d = v0.shape
    dtype = v0.dtype
    eps = float(np.finfo(dtype).eps)
    max_iter = min(int(max_iter), d)
    cap = min(max_iter, INITIAL_CAPACITY)
    Q = np.zeros((B, cap, d), dtype=dtype)
    alpha = np.zeros((B, cap), dtype=dtype)
    beta = np.zeros((B, cap), dtype=dtype)
    Q[:, 0] = v0 / np.linalg.norm(v0, axis=-1, keepdims=True)
    scale = np.zeros(B, dtype=dtype)
    rows = np.arange(B)
    every = True  # all rows still active, in order: op gets rows=None (no gather)
    j = 0
    while rows.size:
        q = Q[:, j]
        w = op(None if every else rows, q)
        a = np.einsum("bd,bd->b", q, w)
        alpha[:, j] = a
        # The three-term recurrence, then reorthogonalisation against the whole basis.
        w -= a[:, None] * q
        if j > 0:
            w -= beta[:, j - 1, None] * Q[:, j - 1]
        w, b = _reorthogonalise(w, Q[:, : j + 1])
        j += 1
        scale = np.maximum(scale, np.maximum(np.abs(a), b))
        broke = b <= BREAKDOWN_ULPS * eps * scale
        if j < min_size:
            broke = _continue_after_breakdown(w, b, broke & (j < d), broke, Q[:, :j], rng)
        stop = broke | (j >= max_iter)
        beta[:, j - 1] = b
        done = np.asarray(
            hook(LanczosStep(j, rows, alpha[:, :j], beta[:, : j - 1], b, Q[:, :j], stop))
        )
        done = done | stop
        if done.all():
            break
        if j == Q.shape[1]:
            Q, alpha, beta = _grow(Q, alpha, beta, max_iter)
        # The next basis vector (restarted rows carry a unit vector with coupling zero).
        np.divide(w, np.where(b > 0, b, 1.0)[:, None], out=Q[:, j])
        if done.any():
            Q, alpha, beta, scale, rows = compact((Q, alpha, beta, scale, rows), ~done)
            every = False


def select_ritz(values: np.ndarray, k: int, which: str) -> np.ndarray:
    """Indices (b, k) of the wanted values among ascending ``values`` (b, j), best first:
    descending for ``"LA"``, ascending for ``"SA"``, descending magnitude for ``"LM"``."""
    j = values.shape[-1]
    if which == "LA":
        idx = np.arange(j - 1, j - 1 - k, -1)
        return np.broadcast_to(idx, (*values.shape[:-1], k))
    if which == "SA":
        return np.broadcast_to(np.arange(k), (*values.shape[:-1], k))
    return np.argsort(-np.abs(values), axis=-1, kind="stable")[..., :k]


def _wanted_ritz(
    alpha: np.ndarray, beta: np.ndarray, k: int, which: str
) -> tuple[np.ndarray, np.ndarray]:
    """The wanted Ritz values (b, k), best first, and their ``T`` eigenvectors (b, j, k).

    One point and an end of the spectrum: LAPACK's tridiagonal MRRR solver for just those
    pairs (``O(j k)``); otherwise a batched dense ``eigh`` of the ``T`` matrices
    (``O(j³)`` each).
    """
    b, j = alpha.shape
    if b == 1 and which != "LM" and j > 1:
        from scipy.linalg import lapack

        # LAPACK ?stemr (MRRR) for the pairs with indices il..iu (1-based), called
        # directly: scipy's eigh_tridiagonal wrapper costs three times as much here.
        stemr = lapack.get_lapack_funcs("stemr", (alpha,))
        il, iu = (j - k + 1, j) if which == "LA" else (1, k)
        e = np.zeros(j, dtype=alpha.dtype)
        e[:-1] = beta[0]
        m, w, v, info = stemr(alpha[0], e, 2, 0.0, 0.0, il, iu)
        if info == 0 and m == k:
            order = slice(k - 1, None, -1) if which == "LA" else slice(0, k)
            return w[order][None], v[:, order][None]
    ritz, S = np.linalg.eigh(tridiagonal(alpha, beta))
    idx = select_ritz(ritz, k, which)
    return np.take_along_axis(ritz, idx, axis=-1), np.take_along_axis(S, idx[:, None, :], axis=-1)


class EigenArrays(NamedTuple):
    """Flat results of an eigensolver for ``B`` points (see :class:`EigenResult`)."""

    values: np.ndarray  # (B, k)
    vectors: np.ndarray  # (B, k, d)
    residuals: np.ndarray  # (B, k)
    converged: np.ndarray  # (B,)


def _due(j: int, kept: int = 0) -> bool:
    """Whether Ritz pairs are tested when the basis has ``j`` vectors, ``kept`` of them
    Ritz vectors from the last restart (see :data:`CHECK_FRACTION` and
    :data:`RESTART_CHECK_EVERY`)."""
    if kept:
        return (j - kept) % RESTART_CHECK_EVERY == 0
    if j <= CHECK_EVERY_STEP_UP_TO:
        return True
    if j <= CHECK_EVERY_OTHER_UP_TO:
        return j % 2 == 0
    return j % max(1, j // CHECK_FRACTION) == 0


def default_basis_size(k: int) -> int:
    """The restarted Lanczos basis size ``m`` for ``k`` wanted pairs (see
    :data:`RESTART_BASIS_SIZE`)."""
    return max(2 * k + 1, RESTART_BASIS_SIZE)


def kept_at_restart(k: int, m: int) -> int:
    """How many Ritz vectors a thick restart keeps out of ``m``: the ``k`` wanted and
    ``RESTART_KEEP_FRACTION`` of the rest (at least one, and leaving room to extend)."""
    extra = max(1, int(RESTART_KEEP_FRACTION * (m - k)))
    return min(k + extra, m - 1)


def _gershgorin(alpha: np.ndarray, beta: np.ndarray, arrow: np.ndarray) -> np.ndarray:
    """A bound (b, 1) of ``‖T‖`` for the rounding floor of the residual test."""
    norm_t = np.abs(alpha).max(axis=-1, keepdims=True)
    if beta.shape[-1]:
        norm_t = norm_t + 2 * np.abs(beta).max(axis=-1, keepdims=True)
    if arrow.shape[-1]:
        norm_t = norm_t + np.abs(arrow).sum(axis=-1, keepdims=True)
    return norm_t


def _projected(alpha: np.ndarray, beta: np.ndarray, arrow: np.ndarray) -> np.ndarray:
    """The projected matrices ``T`` (b, j, j) after a thick restart that kept ``l =
    arrow.shape[-1]`` Ritz pairs: diagonal ``alpha``, arrow ``T[i, l] = arrow[i]`` for
    ``i < l``, tridiagonal ``beta`` below-right of it (``beta[:l]`` is zero)."""
    T = tridiagonal(alpha, beta)
    n = arrow.shape[-1]
    if n:
        T[:, :n, n] = arrow
        T[:, n, :n] = arrow
    return T


def _arrow_ritz(
    alpha: np.ndarray, beta: np.ndarray, arrow: np.ndarray, n: int, which: str
) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` best Ritz values (b, n) of the projected matrix of :func:`_projected`
    (a dense ``eigh``) and their ``T`` eigenvectors (b, j, n)."""
    ritz, S = np.linalg.eigh(_projected(alpha, beta, arrow))
    idx = select_ritz(ritz, n, which)
    return np.take_along_axis(ritz, idx, axis=-1), np.take_along_axis(S, idx[:, None, :], axis=-1)


def _rotate(S: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """The Ritz vectors ``Sᵀ Q`` (b, l, d) for coefficient matrices ``S`` (b, j, l) and
    the basis ``Q`` (b, j, d): 2-D BLAS for one point, stacked matmul for a batch."""
    if S.shape[0] == 1:
        return (S[0].T @ Q[0])[None]
    return np.matmul(np.swapaxes(S, 1, 2), Q)


def _store_converged(
    out: EigenArrays,
    rows: np.ndarray,
    values: np.ndarray,
    S: np.ndarray,
    Q: np.ndarray,
    residual: np.ndarray,
    tol: float,
    floor: np.ndarray,
    stop: np.ndarray,
) -> np.ndarray:
    """Test the wanted Ritz pairs (the first ``k = out.values.shape[1]`` of ``values``
    (b, n) and ``S`` (b, j, n)) and write the rows that converged or must ``stop`` into
    ``out`` at batch indices ``rows``; returns those rows' mask.

    A pair passes when ``β_j |s_{j,i}| <= tol |ϑ_i| + floor`` (``residual`` is ``β_j``).
    """
    k = out.values.shape[1]
    residuals = np.abs(residual[:, None] * S[:, -1, :k])
    ok = residuals <= tol * np.abs(values[:, :k]) + floor
    converged = ok.all(axis=-1)
    done = converged | stop
    if done.any():
        # (A boolean index copies the basis: only when some rows go on.)
        sel = slice(None) if done.all() else done
        r = rows[sel]
        out.values[r] = values[sel, :k]
        out.vectors[r] = _rotate(S[sel, :, :k], Q[sel])
        out.residuals[r] = residuals[sel]
        out.converged[r] = converged[sel]
    return done


def lanczos_eigen(
    op: Operator,
    v0: np.ndarray,
    k: int,
    which: str,
    tol: float,
    max_iter: int,
    rng: np.random.Generator,
    basis_size: int | None = None,
) -> EigenArrays:
    r"""``k`` eigenpairs at the ``which`` end of each point's spectrum by thick-restart
    Lanczos with full reorthogonalisation inside the basis.

    Parameters
    ----------
    op : callable
        ``op(rows, V)`` as for :func:`lanczos`.
    v0 : ndarray, shape (B, d)
        Non-zero start vectors.
    k : int
        Wanted pairs per point.
    which : {"LA", "SA", "LM"}
        End of the spectrum.
    tol : float
        Relative residual tolerance (see below).
    max_iter : int
        Most products (HVPs) per point, restarts included.
    rng : numpy.random.Generator
        Draws a fresh vector after an early breakdown (see :func:`lanczos`).
    basis_size : int, optional
        Most basis vectors ``m`` per point (memory ``m · d``); default
        :func:`default_basis_size`.  ``basis_size >= max_iter`` never restarts: plain
        Lanczos with full reorthogonalisation, the fewest products but ``O(j d)`` work
        and memory traffic per step ``j``.

    Returns
    -------
    EigenArrays

    Notes
    -----
    Each point's basis ``Q_j`` satisfies ``H Q_j = Q_j T_j + β_j q_{j+1} e_jᵀ``.  While
    ``j < m`` it grows by the Lanczos three-term recurrence (then one or two
    Gram–Schmidt passes against all of ``Q_j``).  When ``j = m`` the eigenpairs
    ``(ϑ_i, s_i)`` of ``T_m`` are computed, the ``l`` best Ritz vectors ``y_i = Q_m s_i``
    (:func:`kept_at_restart`) become the first ``l`` basis vectors, and ``q_{m+1}`` the
    ``(l+1)``-st; the relation still holds with ``T_{l+1}`` = ``diag(ϑ)`` bordered by the
    arrow ``β_m s_{m,i}`` (Wu & Simon 2000), and the next products extend it by the
    three-term recurrence again, so ``T`` is an arrowhead followed by a tridiagonal
    matrix.  Unlike an implicit restart, no shifted QR steps are needed, and the kept
    vectors are exact Ritz vectors.

    A point is converged when every wanted Ritz pair has residual
    ``‖H y - ϑ y‖ = β_j |s_{j,i}| <= tol |ϑ| + RESIDUAL_FLOOR_ULPS · eps · ‖T_j‖``
    (ARPACK's relative test, with a floor for eigenvalues at rounding level of ``‖H‖``).
    All points of the batch share the step and restart schedule; converged points drop
    out.

    References
    ----------
    K. Wu and H. Simon, "Thick-restart Lanczos method for large symmetric eigenvalue
    problems", SIAM J. Matrix Anal. Appl. 22(2), 602-616, 2000.
    R. B. Lehoucq, D. C. Sorensen and C. Yang, *ARPACK Users' Guide*, SIAM, 1998 (the
    residual test).
    Y. Saad, *Numerical Methods for Large Eigenvalue Problems*, 2nd ed., SIAM, 2011
    (restarted Krylov methods).
    """
    B, d = v0.shape
    dtype = v0.dtype
    eps = float(np.finfo(dtype).eps)
    m = default_basis_size(k) if basis_size is None else int(basis_size)
    m = min(max(m, k + 1), d)  # m = d: the Krylov space fills R^d, no restart needed
    restarts = m < min(d, max_iter)
    keep = kept_at_restart(k, m) if restarts else 0
    out = EigenArrays(
        np.full((B, k), np.nan, dtype=dtype),
        np.zeros((B, k, d), dtype=dtype),
        np.full((B, k), np.inf, dtype=dtype),
        np.zeros(B, dtype=bool),
    )
    # A restarted basis is small: allocate it whole; an unrestarted one grows by doubling.
    cap = min(m, max_iter) if restarts else min(m, max_iter, INITIAL_CAPACITY)
    Q = np.zeros((B, cap, d), dtype=dtype)
    alpha = np.zeros((B, cap), dtype=dtype)
    beta = np.zeros((B, cap), dtype=dtype)
    arrow = np.zeros((B, 0), dtype=dtype)  # couplings of the kept Ritz vectors (after a restart)
    Q[:, 0] = v0 / np.linalg.norm(v0, axis=-1, keepdims=True)
    scale = np.zeros(B, dtype=dtype)
    rows = np.arange(B)
    every = True  # all rows still active, in order: op gets rows=None (no gather)
    j = 0  # basis vectors so far; the product is taken with Q[:, j]
    kept = 0  # Ritz vectors kept at the last restart (0 before the first)
    steps = 0  # products so far (the same for every active point)
    while True:
        q = Q[:, j]
        w = op(None if every else rows, q)
        steps += 1
        a = np.einsum("bd,bd->b", q, w)
        alpha[:, j] = a
        # The recurrence: the arrow right after a restart, three terms otherwise ...
        w -= a[:, None] * q
        if j == kept and kept > 0:
            w -= np.einsum("bi,bid->bd", arrow, Q[:, :kept])
        elif j > 0:
            w -= beta[:, j - 1, None] * Q[:, j - 1]
        # ... then reorthogonalisation against the whole (at most m-vector) basis.
        w, b = _reorthogonalise(w, Q[:, : j + 1])
        j += 1
        scale = np.maximum(scale, np.maximum(np.abs(a), b))
        broke = b <= BREAKDOWN_ULPS * eps * scale
        if j < k:
            broke = _continue_after_breakdown(w, b, broke & (j < d), broke, Q[:, :j], rng)
        beta[:, j - 1] = b
        stop = broke | (steps >= max_iter) | (j >= d)
        full = j == m and not stop.all()
        if j < k or not (full or stop.any() or _due(j, kept)):
            done = np.zeros(rows.size, dtype=bool)
        else:
            # The wanted Ritz pairs, and at a restart the kept ones (wanted first).
            if kept == 0 and not full:
                values, S_sel = _wanted_ritz(alpha[:, :j], beta[:, : j - 1], k, which)
            else:
                n_sel = keep if full else k
                values, S_sel = _arrow_ritz(alpha[:, :j], beta[:, : j - 1], arrow, n_sel, which)
            floor = RESIDUAL_FLOOR_ULPS * eps * _gershgorin(alpha[:, :j], beta[:, : j - 1], arrow)
            done = _store_converged(out, rows, values, S_sel, Q[:, :j], b, tol, floor, stop)
            if full and not done.all():
                # Thick restart: the kept Ritz vectors, then the residual direction.
                Q[:, :keep] = _rotate(S_sel, Q[:, :j])
                alpha[:, :keep] = values
                beta[:, :keep] = 0.0
                arrow = b[:, None] * S_sel[:, -1, :]
                j = kept = keep
        done = done | stop
        if done.all():
            break
        if j == Q.shape[1]:  # (only without restarts: the basis grows up to m)
            Q, alpha, beta = _grow(Q, alpha, beta, m)
        # The next basis vector (restarted rows carry a unit vector with coupling zero).
        np.divide(w, np.where(b > 0, b, 1.0)[:, None], out=Q[:, j])
        if done.any():
            Q, alpha, beta, arrow, scale, rows = compact(
                (Q, alpha, beta, arrow, scale, rows), ~done
            )
            every = False
    return out
