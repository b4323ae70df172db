r"""Quadratic losses :math:`L(\theta) = \tfrac12 \theta^\top A \theta - b^\top \theta`.

The quadratic is the model problem of the whole library: gradient descent on it is the
explicit Euler method on the linear ODE :math:`\dot\theta = b - A\theta`, stable exactly
when the step satisfies :math:`h < 2 / \lambda_{\max}(A)`.  The spectrum is therefore
the interesting parameter, and :func:`quadratic` builds ``A`` from prescribed
eigenvalues and a Haar-random rotation so that the spectrum is known *exactly* (not
up to the rounding of an eigensolver).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from gradflow._validation import as_generator, as_state_array, check_integer
from gradflow.problems._problem import Problem, as_batch
from gradflow.problems._rowstable import fixed_matrix, row_matmul

__all__ = ["QuadraticProblem", "haar_orthogonal", "quadratic"]

#: Default spectrum: a 2-D problem with condition number 10.
DEFAULT_EIGENVALUES = (1.0, 10.0)

#: Relative tolerance on ``max|A - A^T| / max|A|`` for an explicit ``A``.
SYMMETRY_RTOL = 1e-12


def haar_orthogonal(dim: int, seed: int | np.random.Generator | None = None) -> np.ndarray:
    r"""A Haar-distributed random orthogonal matrix.

    The QR factorisation of a standard Gaussian matrix gives an orthogonal ``Q``, but
    LAPACK's sign convention for ``diag(R)`` biases it; multiplying column ``j`` of
    ``Q`` by ``sign(R_jj)`` makes the factorisation unique and ``Q`` exactly
    Haar-distributed (Mezzadri 2007).

    Parameters
    ----------
    dim : int
        Matrix size, at least 1.
    seed : int, numpy.random.Generator or None, optional
        Passed to :func:`numpy.random.default_rng`; the same seed gives the same bits.

    Returns
    -------
    ndarray, shape (dim, dim)
        An orthogonal matrix (``Q.T @ Q = I`` to rounding).

    Raises
    ------
    TypeError
        If ``dim`` is not an integer or ``seed`` is not None, an integer or a Generator.
    ValueError
        If ``dim < 1`` or ``seed`` is negative.

    References
    ----------
    F. Mezzadri, "How to generate random matrices from the classical compact groups",
    Notices of the AMS 54(5), 592-604, 2007.

    Examples
    --------
    >>> import numpy as np
    >>> Q = haar_orthogonal(3, seed=0)
    >>> np.allclose(Q.T @ Q, np.eye(3))
    True
    """
    dim = check_integer(dim, "dim", 1)
    rng = as_generator(seed)
    q, r = np.linalg.qr(rng.standard_normal((int(dim), int(dim))))
    signs = np.sign(np.diag(r))
    signs[signs == 0] = 1.0  # a zero pivot has probability 0, but keep Q orthogonal
    return q * signs


class QuadraticProblem(Problem):
    r"""The quadratic :math:`L(\theta) = \tfrac12 \theta^\top A \theta - b^\top \theta`.

    Built by :func:`quadratic`; see there for the construction of ``A``.

    Parameters
    ----------
    A : ndarray, shape (d, d)
        Symmetric matrix (the Hessian).
    b : ndarray, shape (d,)
        Linear term.
    eigenvalues : ndarray, shape (d,)
        Eigenvalues of ``A``, ascending.
    eigenvectors : ndarray, shape (d, d)
        Orthonormal eigenvectors as columns, in the order of ``eigenvalues``.
    name : str, optional
        Problem name.

    Attributes
    ----------
    A, b, eigenvalues, eigenvectors : ndarray
        As above (float64).
    lipschitz : float
        Lipschitz constant of the gradient, ``max |λ_i|``.

    Notes
    -----
    The minimum is classified from the spectrum (with tolerance
    ``d · eps · max|λ|``):

    * positive definite: unique minimiser ``A⁻¹b`` and ``L* = -½ bᵀA⁻¹b``;
    * positive semi-definite and singular with ``b`` in ``range(A)``: a valley of
      minimisers; ``minimizers`` holds the minimum-norm one (from
      :func:`numpy.linalg.lstsq`) and ``minimum`` its value;
    * otherwise the loss is unbounded below and ``minimum``/``minimizers`` are None.

    Raises
    ------
    None
        The arguments are trusted; :func:`quadratic` validates user input.

    References
    ----------
    See :func:`quadratic`.

    Examples
    --------
    >>> import numpy as np
    >>> p = quadratic([1.0, 4.0], seed=0)
    >>> isinstance(p, QuadraticProblem), p.lipschitz
    (True, 4.0)
    >>> p.hessian(np.zeros((3, 2))).shape
    (3, 2, 2)
    """

    def __init__(
        self,
        A: np.ndarray,
        b: np.ndarray,
        eigenvalues: np.ndarray,
        eigenvectors: np.ndarray,
        *,
        name: str = "quadratic",
    ) -> None:
        self.A = A
        self.b = b
        self.eigenvalues = eigenvalues
        self.eigenvectors = eigenvectors
        self.lipschitz = float(np.max(np.abs(eigenvalues)))
        # Casting A and b to float32 on every call would copy d^2 numbers each time.
        self._cast_cache: dict[np.dtype[Any], tuple[np.ndarray, np.ndarray]] = {}
        minimum, minimizer = self._classify_minimum()
        d = A.shape[0]

        def loss(theta: ArrayLike) -> np.ndarray:
            theta = as_batch(theta, d)
            a, bb = self._data(theta.dtype)
            return np.sum(theta * (0.5 * row_matmul(theta, a) - bb), axis=-1)

        def grad(theta: ArrayLike) -> np.ndarray:
            theta = as_batch(theta, d)
            a, bb = self._data(theta.dtype)
            # A is symmetric, so theta @ A is the row-vector form of A theta; row_matmul
            # computes each row on its own (batched = single, bit for bit).
            return row_matmul(theta, a) - bb

        def hvp(theta: ArrayLike, v: ArrayLike) -> np.ndarray:
            theta = as_batch(theta, d)
            v = np.asarray(v, dtype=theta.dtype)
            a, _ = self._data(theta.dtype)
            shape = np.broadcast_shapes(theta.shape, v.shape)
            return row_matmul(np.broadcast_to(v, shape), a)

        def hessian(theta: ArrayLike) -> np.ndarray:
            theta = as_batch(theta, d)
            a, _ = self._data(theta.dtype)
            return np.broadcast_to(a, (*theta.shape[:-1], d, d)).copy()

        super().__init__(
            loss=loss,
            grad=grad,
            dim=d,
            hvp=hvp,
            hessian=hessian,
            name=name,
            minimum=minimum,
            minimizers=None if minimizer is None else minimizer[None, :],
        )

    def _data(self, dtype: np.dtype[Any]) -> tuple[np.ndarray, np.ndarray]:
        """``A`` (aligned, for :func:`row_matmul`) and ``b`` cast to ``dtype`` (cached)."""
        key = np.dtype(dtype)
        if key not in self._cast_cache:
            self._cast_cache[key] = (fixed_matrix(self.A, key), self.b.astype(key))
        return self._cast_cache[key]

    def _classify_minimum(self) -> tuple[float | None, np.ndarray | None]:
        lam = self.eigenvalues
        d = lam.size
        tol = d * np.finfo(np.float64).eps * max(self.lipschitz, np.finfo(np.float64).tiny)
        if lam[0] > tol:
            q = self.eigenvectors
            # Solve in the eigenbasis: exact for the prescribed spectrum, no refactoring.
            x = q @ ((q.T @ self.b) / lam)
            return float(-0.5 * self.b @ x) + 0.0, x  # + 0.0 turns -0.0 into 0.0
        if lam[0] < -tol:
            return None, None  # indefinite: unbounded below along a negative direction
        x = np.linalg.lstsq(self.A, self.b, rcond=None)[0]
        residual = np.linalg.norm(self.A @ x - self.b)
        if residual > np.sqrt(tol) * max(1.0, float(np.linalg.norm(self.b))):
            return None, None  # b has a component in ker(A): linear descent forever
        return float(-0.5 * self.b @ x) + 0.0, x


def _validate_matrix(A: ArrayLike) -> np.ndarray:
    arr = as_state_array(A, "A").astype(np.float64)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"A must be a non-empty square matrix, got shape {arr.shape}")
    scale = float(np.max(np.abs(arr)))
    asym = float(np.max(np.abs(arr - arr.T)))
    if asym > SYMMETRY_RTOL * scale:
        raise ValueError(f"A must be symmetric (max |A - A^T| = {asym:.3g}, max |A| = {scale:.3g})")
    # Only the symmetric part enters the loss; symmetrising makes grad = theta @ A exact.
    return 0.5 * (arr + arr.T)


def _validate_eigenvalues(eigenvalues: ArrayLike) -> np.ndarray:
    lam = as_state_array(eigenvalues, "eigenvalues").astype(np.float64)
    if lam.ndim != 1:
        raise ValueError(f"eigenvalues must be a non-empty 1-D array, got shape {lam.shape}")
    return lam


def quadratic(
    eigenvalues: ArrayLike | None = None,
    *,
    A: ArrayLike | None = None,
    b: ArrayLike | None = None,
    seed: int | np.random.Generator | None = None,
) -> QuadraticProblem:
    r"""Quadratic loss :math:`L(\theta) = \tfrac12 \theta^\top A \theta - b^\top \theta`.

    Give either a spectrum (``A = Q diag(λ) Qᵀ`` with ``Q`` Haar-random orthogonal,
    see :func:`haar_orthogonal`) or an explicit symmetric ``A``.  The gradient is
    ``Aθ - b``, the HVP ``Av`` and the Hessian ``A``, all exact.

    Parameters
    ----------
    eigenvalues : array_like, shape (d,), optional
        Real eigenvalues of ``A``.  Default ``(1.0, 10.0)`` when ``A`` is not given.
    A : array_like, shape (d, d), optional
        Explicit symmetric matrix (symmetric to ``1e-12`` relative; its symmetric part
        is used).  Mutually exclusive with ``eigenvalues``.
    b : array_like, shape (d,), optional
        Linear term; default zero.
    seed : int, numpy.random.Generator or None, optional
        Seed of the random rotation (ignored with explicit ``A``).  The same seed gives
        the same bits.

    Returns
    -------
    QuadraticProblem
        With attributes ``A``, ``b``, ``eigenvalues`` (ascending: exactly the given
        ones, or ``eigh`` of an explicit ``A``), ``eigenvectors`` and ``lipschitz``.

    Raises
    ------
    ValueError
        If both ``eigenvalues`` and ``A`` are given; if ``A`` is not a finite symmetric
        square matrix; if ``eigenvalues`` is not a finite non-empty real 1-D array; if
        ``b`` is not finite of shape ``(d,)``.
    TypeError
        If ``A``, ``eigenvalues`` or ``b`` does not hold real numbers (booleans and
        complex numbers are refused), or ``seed`` is not a valid seed.

    References
    ----------
    J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer, 2006,
    §3.3 (steepest descent on quadratics).
    F. Mezzadri, "How to generate random matrices from the classical compact groups",
    Notices of the AMS 54(5), 592-604, 2007.

    Examples
    --------
    >>> import numpy as np
    >>> p = quadratic([1.0, 10.0], b=[1.0, 0.0], seed=0)
    >>> bool(np.allclose(p.grad(p.minimizers[0]), 0.0))
    True
    >>> p.eigenvalues
    array([ 1., 10.])
    >>> quadratic(A=np.diag([2.0, 3.0])).minimum
    0.0
    """
    if eigenvalues is not None and A is not None:
        raise ValueError("give either eigenvalues or A, not both")
    if A is not None:
        a = _validate_matrix(A)
        lam, q = np.linalg.eigh(a)
    else:
        lam = _validate_eigenvalues(DEFAULT_EIGENVALUES if eigenvalues is None else eigenvalues)
        order = np.argsort(lam, kind="stable")
        lam = lam[order]
        q = haar_orthogonal(lam.size, seed)
        a = (q * lam) @ q.T
        a = 0.5 * (a + a.T)  # exactly symmetric, so the Hessian is too
    d = a.shape[0]
    if b is None:
        bb = np.zeros(d)
    else:
        bb = as_state_array(b, "b", d).astype(np.float64)
        if bb.shape != (d,):
            raise ValueError(f"b must have shape ({d},), got {bb.shape}")
    return QuadraticProblem(a, bb, lam, q)
