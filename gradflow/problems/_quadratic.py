r"""Quadratic losses :math:`L(\theta) = \tfrac12 \theta^\top A \theta - b^\top \theta`.

The quadratic is the model problem of the whole library: gradient descent on it is the
explicit Euler method on the linear ODE :math:`\dot\theta = b - A\theta`, stable exactly
when the step satisfies :math:`h < 2 / \lambda_{\max}(A)`.  The spectrum is therefore
the interesting parameter, and :func:`quadratic` builds ``A`` from prescribed
eigenvalues and a random rotation so that the spectrum is known *exactly* (not up to
the rounding of an eigensolver).

The rotation is Haar-random up to :data:`HAAR_MAX_DIM` (a QR factorisation, O(d³) to
build, then ``A`` is stored and multiplied densely, O(d²) per gradient).  Above it, the
default is a product of :data:`HOUSEHOLDER_REFLECTIONS` random Householder reflections
that is never formed: it costs O(d) to build and O(k·d) per gradient, so a problem with
``d = 10^4`` builds in milliseconds instead of minutes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from gradflow._validation import as_generator, as_state_array, check_choice, check_integer
from gradflow.problems._problem import Problem, as_batch
from gradflow.problems._rowstable import fixed_matrix, row_matmul

__all__ = ["QuadraticProblem", "haar_orthogonal", "quadratic"]

#: Default spectrum: a 2-D problem with condition number 10.
DEFAULT_EIGENVALUES = (1.0, 10.0)

#: Relative tolerance on ``max|A - A^T| / max|A|`` for an explicit ``A``.
SYMMETRY_RTOL = 1e-12

#: The rotations :func:`quadratic` knows (its ``basis`` argument).
BASES = ("haar", "householder", "identity")

#: Largest dimension whose default basis is ``"haar"``.  The QR factorisation behind it
#: costs O(d³): on the 2-vCPU benchmark VM, 0.3 s at d = 1000 with one BLAS thread and
#: 10-90 s at d = 2000 depending on the load (``benchmarks/README.md``, "Quadratic build
#: time"); OpenBLAS's threaded QR slows down badly when its threads compete for cores.
HAAR_MAX_DIM = 1000

#: Number ``k`` of reflections in the ``"householder"`` basis.  The rotation
#: ``H_1 ⋯ H_k`` moves only the ``k``-dimensional span of the reflection vectors, so a
#: larger ``k`` mixes more coordinates at O(k·d) per gradient.
HOUSEHOLDER_REFLECTIONS = 8


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
            return row_matmul(theta, a, minus=bb)

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
        # Closures: pickled as this call (the aligned casts are made again, not pickled).
        self._rebuilt_by(QuadraticProblem, A, b, eigenvalues, eigenvectors, name=name)

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


class _Reflections:
    r"""The orthogonal matrix :math:`Q = H_1 H_2 \cdots H_k`, :math:`H_i = I - 2 v_i v_i^\top`,
    applied to rows without being formed.

    Each product with a batch of rows costs ``O(k·d)`` per row, and each row is computed
    on its own (products of a row with a vector are :func:`numpy.einsum` sums over that
    row), so batched and single rows agree bit for bit.

    Parameters
    ----------
    vectors : ndarray, shape (k, d)
        Unit reflection vectors ``v_i`` (``k = 0`` gives the identity).

    References
    ----------
    G. H. Golub and C. F. Van Loan, *Matrix Computations*, 4th ed., Johns Hopkins, 2013,
    §5.1 (Householder reflections and their products applied without forming them).
    """

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = vectors
        self._cast: dict[np.dtype[Any], np.ndarray] = {}

    @classmethod
    def random(cls, dim: int, k: int, rng: np.random.Generator) -> _Reflections:
        """``k`` reflections through Gaussian directions in dimension ``dim``."""
        g = rng.standard_normal((k, dim))
        return cls(g / np.linalg.norm(g, axis=-1, keepdims=True))

    def _v(self, dtype: np.dtype[Any]) -> np.ndarray:
        key = np.dtype(dtype)
        if key not in self._cast:
            self._cast[key] = np.ascontiguousarray(self.vectors, dtype=key)
        return self._cast[key]

    def _reflect(self, x: np.ndarray, order: Any) -> np.ndarray:
        vs = self._v(x.dtype)
        for i in order:
            v = vs[i]
            x = x - (2.0 * np.einsum("...j,j->...", x, v))[..., None] * v
        return x

    def right(self, x: np.ndarray) -> np.ndarray:
        """``x Q`` for rows ``x`` of shape ``(*batch, d)`` (the coordinates ``Qᵀ x``)."""
        return self._reflect(x, range(self.vectors.shape[0]))

    def right_transposed(self, x: np.ndarray) -> np.ndarray:
        """``x Qᵀ`` for rows ``x`` (the point ``Q x`` of coordinates ``x``)."""
        return self._reflect(x, range(self.vectors.shape[0] - 1, -1, -1))

    def dense(self) -> np.ndarray:
        """``Q`` as a ``(d, d)`` array (``O(k·d²)``)."""
        return self.right(np.eye(self.vectors.shape[1]))


class _ReflectedQuadratic(QuadraticProblem):
    """A quadratic with ``A = Q diag(λ) Qᵀ`` for an implicit :class:`_Reflections` ``Q``.

    ``A`` and ``eigenvectors`` are formed only when read (``d²`` numbers each), so a
    large problem costs ``O(k·d)`` to build and per gradient row.
    """

    def __init__(
        self, eigenvalues: np.ndarray, b: np.ndarray, rotation: _Reflections, *, name: str
    ) -> None:
        self.b = b
        self.eigenvalues = eigenvalues
        self.rotation = rotation
        self.lipschitz = float(np.max(np.abs(eigenvalues)))
        self._cast_cache: dict[np.dtype[Any], tuple[np.ndarray, np.ndarray]] = {}
        self._dense: dict[str, np.ndarray] = {}
        minimum, minimizer = self._classify_minimum()
        d = eigenvalues.size

        def loss(theta: ArrayLike) -> np.ndarray:
            theta = as_batch(theta, d)
            _, bb = self._data(theta.dtype)
            return np.sum(theta * (0.5 * self._times_a(theta) - bb), axis=-1)

        def grad(theta: ArrayLike) -> np.ndarray:
            theta = as_batch(theta, d)
            _, bb = self._data(theta.dtype)
            return self._times_a(theta) - bb

        def hvp(theta: ArrayLike, v: ArrayLike) -> np.ndarray:
            theta = as_batch(theta, d)
            v = np.asarray(v, dtype=theta.dtype)
            shape = np.broadcast_shapes(theta.shape, v.shape)
            return self._times_a(np.ascontiguousarray(np.broadcast_to(v, shape)))

        def hessian(theta: ArrayLike) -> np.ndarray:
            theta = as_batch(theta, d)
            a = self.A.astype(theta.dtype, copy=False)
            return np.broadcast_to(a, (*theta.shape[:-1], d, d)).copy()

        Problem.__init__(
            self,
            loss=loss,
            grad=grad,
            dim=d,
            hvp=hvp,
            hessian=hessian,
            name=name,
            minimum=minimum,
            minimizers=None if minimizer is None else minimizer[None, :],
        )
        self._rebuilt_by(_ReflectedQuadratic, eigenvalues, b, rotation, name=name)

    @property
    def A(self) -> np.ndarray:  # type: ignore[override]
        """The Hessian ``Q diag(λ) Qᵀ``, formed on first access (exactly symmetric)."""
        if "A" not in self._dense:
            rows = self.rotation.right_transposed(self.eigenvectors * self.eigenvalues)
            self._dense["A"] = 0.5 * (rows + rows.T)
        return self._dense["A"]

    @property
    def eigenvectors(self) -> np.ndarray:  # type: ignore[override]
        """``Q`` (eigenvectors as columns), formed on first access."""
        if "Q" not in self._dense:
            self._dense["Q"] = self.rotation.dense()
        return self._dense["Q"]

    def _data(self, dtype: np.dtype[Any]) -> tuple[np.ndarray, np.ndarray]:
        """``λ`` and ``b`` cast to ``dtype`` (cached)."""
        key = np.dtype(dtype)
        if key not in self._cast_cache:
            self._cast_cache[key] = (self.eigenvalues.astype(key), self.b.astype(key))
        return self._cast_cache[key]

    def _times_a(self, theta: np.ndarray) -> np.ndarray:
        """``θ A = ((θ Q) λ) Qᵀ`` row by row."""
        lam, _ = self._data(theta.dtype)
        return self.rotation.right_transposed(self.rotation.right(theta) * lam)

    def _classify_minimum(self) -> tuple[float | None, np.ndarray | None]:
        # As QuadraticProblem._classify_minimum, in the eigenbasis (c = Qᵀ b).
        lam = self.eigenvalues
        tol = lam.size * np.finfo(np.float64).eps * max(self.lipschitz, np.finfo(float).tiny)
        if lam[0] < -tol:
            return None, None  # indefinite: unbounded below along a negative direction
        c = self.rotation.right(self.b)
        kernel = np.abs(lam) <= tol
        if np.linalg.norm(c[kernel]) > np.sqrt(tol) * max(1.0, float(np.linalg.norm(self.b))):
            return None, None  # b has a component in ker(A): linear descent forever
        x = self.rotation.right_transposed(np.where(kernel, 0.0, c / np.where(kernel, 1.0, lam)))
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


def _linear_term(b: ArrayLike | None, d: int) -> np.ndarray:
    if b is None:
        return np.zeros(d)
    bb = as_state_array(b, "b", d).astype(np.float64)
    if bb.shape != (d,):
        raise ValueError(f"b must have shape ({d},), got {bb.shape}")
    return bb


def _implicit(
    lam: np.ndarray,
    b: ArrayLike | None,
    seed: int | np.random.Generator | None,
    basis: str,
) -> QuadraticProblem:
    """:func:`quadratic` with an implicit ``"householder"`` or ``"identity"`` basis."""
    lam = lam[np.argsort(lam, kind="stable")]
    k = HOUSEHOLDER_REFLECTIONS if basis == "householder" else 0
    rotation = _Reflections.random(lam.size, k, as_generator(seed))
    return _ReflectedQuadratic(lam, _linear_term(b, lam.size), rotation, name="quadratic")


def quadratic(
    eigenvalues: ArrayLike | None = None,
    *,
    A: ArrayLike | None = None,
    b: ArrayLike | None = None,
    seed: int | np.random.Generator | None = None,
    basis: str | None = None,
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
    basis : {"haar", "householder", "identity"}, optional
        The rotation ``Q`` (only with ``eigenvalues``).  ``"haar"``: Haar-random
        (:func:`haar_orthogonal`), an O(d³) build and a dense ``A``; the default for
        ``d <= HAAR_MAX_DIM`` (1000).  ``"householder"``: ``Q = H_1 ⋯ H_k``, the product
        of ``k = HOUSEHOLDER_REFLECTIONS`` (8) reflections through Gaussian directions,
        never formed: O(k·d) to build and per gradient row; the default above
        ``HAAR_MAX_DIM``.  It is not Haar-distributed: it rotates only the
        ``k``-dimensional span of the reflection vectors, so the eigenvectors are close
        to the coordinate axes when ``d ≫ k``.  ``"identity"``: ``A = diag(λ)``, also
        implicit.  With the two implicit bases ``A`` and ``eigenvectors`` are formed
        only when read (``d²`` numbers), the gradient and HVP stay exact products with
        ``A``, and the eigenvalues, ``minimum``, ``minimizers`` and ``lipschitz`` are
        exact as for ``"haar"``.

    Returns
    -------
    QuadraticProblem
        With attributes ``A``, ``b``, ``eigenvalues`` (ascending: exactly the given
        ones, or ``eigh`` of an explicit ``A``), ``eigenvectors`` and ``lipschitz``.

    Raises
    ------
    ValueError
        If both ``eigenvalues`` and ``A`` are given, or ``basis`` with ``A``, or ``basis``
        is unknown; if ``A`` is not a finite symmetric
        square matrix; if ``eigenvalues`` is not a finite non-empty real 1-D array; if
        ``b`` is not finite of shape ``(d,)``.
    TypeError
        If ``A``, ``eigenvalues`` or ``b`` does not hold real numbers (booleans and
        complex numbers are refused), ``seed`` is not a valid seed, or ``basis`` is not
        a string.

    References
    ----------
    J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer, 2006,
    §3.3 (steepest descent on quadratics).
    F. Mezzadri, "How to generate random matrices from the classical compact groups",
    Notices of the AMS 54(5), 592-604, 2007.
    G. H. Golub and C. F. Van Loan, *Matrix Computations*, 4th ed., Johns Hopkins, 2013,
    §5.1 (Householder reflections).

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
    >>> big = quadratic(np.linspace(1.0, 10.0, 10**4), seed=0)  # "householder": instant
    >>> big.lipschitz, big.grad(np.zeros(10**4)).shape
    (10.0, (10000,))
    """
    if eigenvalues is not None and A is not None:
        raise ValueError("give either eigenvalues or A, not both")
    if basis is not None:
        basis = check_choice(basis, "basis", BASES)
        if A is not None:
            raise ValueError(f"basis applies to a spectrum, not to an explicit A; got {basis!r}")
    if A is not None:
        a = _validate_matrix(A)
        lam, q = np.linalg.eigh(a)
    else:
        lam = _validate_eigenvalues(DEFAULT_EIGENVALUES if eigenvalues is None else eigenvalues)
        if basis is None:
            basis = "haar" if lam.size <= HAAR_MAX_DIM else "householder"
        if basis != "haar":
            return _implicit(lam, b, seed, basis)
        order = np.argsort(lam, kind="stable")
        lam = lam[order]
        q = haar_orthogonal(lam.size, seed)
        a = (q * lam) @ q.T
        a = 0.5 * (a + a.T)  # exactly symmetric, so the Hessian is too
    return QuadraticProblem(a, _linear_term(b, a.shape[0]), lam, q)
