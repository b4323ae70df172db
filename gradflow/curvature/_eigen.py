r"""Extreme Hessian eigenvalues: :func:`top_eigenvalue` and :func:`eigenvalues`.

The front-end over three eigensolver algorithms (``algorithm=``), all batched over the
leading axes of ``θ``:

``"lanczos"`` (default)
    Thick-restart Lanczos with full reorthogonalisation inside a basis of at most
    ``max(2k + 1, 40)`` vectors (``gradflow/curvature/_lanczos.py``); few HVPs,
    especially when the top eigenvalues are clustered, and bounded memory.  With
    ``restart=False``, plain Lanczos with full reorthogonalisation of a growing basis:
    the fewest HVPs, at ``O(j d)`` work and memory per step ``j``.
``"power"``
    Power iteration with deflation (``gradflow/curvature/_power.py``), PyHessian's
    algorithm; finds repeated eigenvalues one copy at a time.
``"dense"``
    ``eigh`` of the full Hessian (``gradflow/curvature/_dense.py``): exact to rounding,
    ``O(d³)``, for small ``d``.

The default end of the spectrum is the *algebraically* largest (``which="LA"``), the
one that sets the stability limit ``h < β/λmax`` of every method; PyHessian's power
iteration returns the largest magnitude instead, which is the most negative eigenvalue
near a saddle.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from gradflow._checks import check_problem, check_which
from gradflow._validation import (
    as_generator,
    as_state_array,
    check_allocation,
    check_bool,
    check_choice,
    check_integer,
    check_positive,
)
from gradflow.curvature._dense import dense_eigen
from gradflow.curvature._hvp import BatchHVP
from gradflow.curvature._lanczos import lanczos_eigen
from gradflow.curvature._power import power_eigen
from gradflow.problems import Problem

__all__ = ["ALGORITHMS", "EigenResult", "eigenvalues", "top_eigenvalue"]

#: The eigensolver algorithms :func:`eigenvalues` knows.
ALGORITHMS = ("lanczos", "power", "dense")
#: Default limit on restarted Lanczos steps (HVPs) per point (the basis is at most
#: ``max(2k + 1, 40)`` vectors whatever the number of steps).
DEFAULT_LANCZOS_STEPS = 10_000
#: Default limit on unrestarted Lanczos steps (``restart=False``), capped at ``d``: the
#: basis costs ``8 · steps · d`` bytes per point.
DEFAULT_UNRESTARTED_STEPS = 500
#: Default limit on power-iteration products per eigenpair and pass.
DEFAULT_POWER_STEPS = 10_000


class EigenResult(NamedTuple):
    """Eigenpairs at one end of the Hessian spectrum, for a batch of points.

    Attributes
    ----------
    values : ndarray, shape (*batch, k)
        Eigenvalue estimates, best first: descending for ``which="LA"``, ascending for
        ``"SA"``, by descending magnitude for ``"LM"``.
    vectors : ndarray, shape (*batch, k, d)
        Unit eigenvectors, ``vectors[..., i, :]`` belonging to ``values[..., i]``.
    residuals : ndarray, shape (*batch, k)
        ``‖H v - λ v‖``: an eigenvalue of ``H`` lies within this of each value (0 for the
        dense solver).
    n_hvp : ndarray of int, shape batch
        Hessian-vector products spent per point (0 for the dense solver, which calls
        ``problem.hessian``).
    converged : ndarray of bool, shape batch
        Whether every pair met the tolerance within ``max_iter``.
    algorithm, which : str
        The eigensolver algorithm and the end of the spectrum.
    """

    values: np.ndarray
    vectors: np.ndarray
    residuals: np.ndarray
    n_hvp: np.ndarray
    converged: np.ndarray
    algorithm: str
    which: str

    @property
    def value(self) -> Any:
        """The first eigenvalue, shape ``batch`` (a numpy scalar for a single point)."""
        return self.values[..., 0][()]

    @property
    def vector(self) -> np.ndarray:
        """Its eigenvector, shape ``(*batch, d)``."""
        return self.vectors[..., 0, :]


def eigenvalues(
    problem: Problem,
    theta: ArrayLike,
    k: int,
    *,
    algorithm: str = "lanczos",
    tol: float = 1e-8,
    max_iter: int | None = None,
    seed: int | np.random.Generator | None = None,
    which: str = "LA",
    v0: ArrayLike | None = None,
    restart: bool = True,
) -> EigenResult:
    r"""The ``k`` extreme eigenvalues of the Hessian ``∇²L(θ)`` at every point of a batch.

    Parameters
    ----------
    problem : Problem
    theta : array_like, shape (*batch, d)
        Points; each gets its own eigenpairs, all computed together.
    k : int
        Number of eigenpairs, ``1 <= k <= d``.
    algorithm : {"lanczos", "power", "dense"}, optional
        The eigensolver (see the module docstring).  Default ``"lanczos"``.
    tol : float, optional
        Relative accuracy: a pair ``(λ, v)`` is accepted when ``‖Hv - λv‖ <= tol |λ|``
        (plus a rounding floor ``10 eps ‖H‖``), ARPACK's test.  The eigenvalue error is
        then at most that residual, and about residual²/gap when ``λ`` is separated by
        ``gap`` from the rest of the spectrum.  Raised to the dtype's ``eps`` for
        float32 input.  Default ``1e-8``.
    max_iter : int, optional
        Most HVPs per point: Lanczos steps, restarts included (default 10,000; with
        ``restart=False`` ``min(d, 500)``), or products per eigenpair and pass of power
        iteration (default 10,000).  Ignored by ``"dense"``.
    seed : int, numpy.random.Generator or None, optional
        Seeds the Gaussian start vectors: the same seed gives the same bits.
    which : {"LA", "SA", "LM"}, optional
        Largest algebraic (default; the stability-relevant end), smallest algebraic, or
        largest magnitude (what PyHessian computes).
    v0 : array_like, shape (*batch, d), optional
        Start vectors instead of random ones (e.g. the previous eigenvector when
        tracking the sharpness along a run); must be non-zero.
    restart : bool, optional
        Lanczos only.  True (default): thick restart, a basis of at most
        ``max(2k + 1, 40)`` vectors per point (``RESTART_BASIS_SIZE`` in
        ``gradflow/curvature/_lanczos.py``).  False: no restart, the basis grows to
        ``max_iter`` vectors; it saves HVPs (about 10% on a hard spectrum) when they are
        far more expensive than ``O(max_iter · d)`` memory traffic per step.

    Returns
    -------
    EigenResult
        ``values``, ``vectors``, ``residuals``, ``n_hvp``, ``converged`` (and the
        shortcuts ``value``, ``vector`` for the first pair).

    Raises
    ------
    TypeError
        If ``problem`` is not a Problem, or ``k``, ``max_iter``, ``seed`` or ``restart``
        has the wrong type.
    ValueError
        If ``theta`` or ``v0`` has the wrong shape or is not finite, ``k`` is not in
        ``[1, d]``, ``algorithm`` or ``which`` is unknown, ``tol`` is not positive, or
        ``max_iter < k`` for Lanczos, or (``restart=False``) the growing Lanczos basis
        would exceed :data:`gradflow._validation.MAX_ALLOCATION_BYTES`.

    Notes
    -----
    A single-vector Krylov solver sees each *distinct* eigenvalue once: an eigenvalue of
    multiplicity ``m > 1`` appears once among the Lanczos values (a breakdown before
    ``k`` vectors is continued from a fresh random vector, but a repeated eigenvalue
    inside a larger spectrum is not resolved).  Use ``algorithm="power"`` (deflation) or
    ``"dense"`` when multiplicities matter.

    References
    ----------
    Y. Saad, *Numerical Methods for Large Eigenvalue Problems*, 2nd ed., SIAM, 2011,
    §4 and §6.
    K. Wu and H. Simon, "Thick-restart Lanczos method for large symmetric eigenvalue
    problems", SIAM J. Matrix Anal. Appl. 22(2), 602-616, 2000.
    R. B. Lehoucq, D. C. Sorensen and C. Yang, *ARPACK Users' Guide*, SIAM, 1998
    (the residual test).

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic([-3.0, 1.0, 2.0, 5.0], seed=0)
    >>> res = gf.curvature.eigenvalues(p, np.zeros(4), k=2, seed=0)
    >>> np.round(res.values, 10), bool(res.converged)
    (array([5., 2.]), True)
    >>> float(np.round(gf.curvature.eigenvalues(p, np.zeros(4), 1, which="SA").value, 10))
    -3.0
    """
    problem = check_problem(problem)
    points = as_state_array(theta, "theta", problem.dim)
    d = problem.dim
    k = check_integer(k, "k", 1)
    if k > d:
        raise ValueError(f"k must be <= d = {d}, got {k}")
    algorithm = check_choice(algorithm, "algorithm", ALGORITHMS)
    which = check_which(which)
    tol = check_positive(tol, "tol")
    restart = check_bool(restart, "restart")
    batch = points.shape[:-1]
    flat = points.reshape(-1, d)
    B = flat.shape[0]
    tol = max(tol, float(np.finfo(flat.dtype).eps))
    if algorithm == "dense":
        out = dense_eigen(problem, flat, k, which)
        n_hvp = np.zeros(B, dtype=np.int64)
    else:
        if algorithm == "power":
            default = DEFAULT_POWER_STEPS
        elif restart:
            default = DEFAULT_LANCZOS_STEPS
        else:
            default = min(d, DEFAULT_UNRESTARTED_STEPS)
        steps = default if max_iter is None else check_integer(max_iter, "max_iter", 1)
        if algorithm == "lanczos" and steps < k:
            raise ValueError(f"max_iter must be >= k = {k} for Lanczos, got {steps}")
        if algorithm == "lanczos" and not restart:  # the basis grows to ``steps`` vectors
            check_allocation(
                float(B) * (min(steps, d) + 1) * d,
                flat.dtype.itemsize,
                f"max_iter ({steps} Lanczos vectors x {B} points x d = {d})",
            )
        gen = as_generator(seed)
        start = _start_vectors(v0, batch, d, flat.dtype, gen)
        op = BatchHVP(problem, flat)
        with np.errstate(all="ignore"):  # non-finite HVPs surface as non-finite values
            if algorithm == "lanczos":
                basis = None if restart else steps  # a basis of ``steps`` never restarts
                out = lanczos_eigen(op, start, k, which, tol, steps, gen, basis)
            else:
                out = power_eigen(op, start, k, which, tol, steps, gen)
        n_hvp = op.n_hvp
    return EigenResult(
        out.values.reshape(*batch, k),
        out.vectors.reshape(*batch, k, d),
        out.residuals.reshape(*batch, k),
        n_hvp.reshape(batch),
        out.converged.reshape(batch),
        algorithm,
        which,
    )


def _start_vectors(
    v0: ArrayLike | None, batch: tuple[int, ...], d: int, dtype: Any, gen: np.random.Generator
) -> np.ndarray:
    B = int(np.prod(batch, dtype=np.int64))
    if v0 is None:
        return gen.standard_normal((B, d)).astype(dtype)
    v = as_state_array(v0, "v0", d).astype(dtype)
    try:
        v = np.broadcast_to(v, (*batch, d)).reshape(B, d)
    except ValueError:
        raise ValueError(f"v0 must broadcast to {(*batch, d)}, got {v.shape}") from None
    if np.any(np.linalg.norm(v, axis=-1) == 0):
        raise ValueError("v0 must not contain zero vectors")
    return np.array(v, copy=True)


def top_eigenvalue(
    problem: Problem,
    theta: ArrayLike,
    k: int = 1,
    *,
    algorithm: str = "lanczos",
    tol: float = 1e-8,
    max_iter: int | None = None,
    seed: int | np.random.Generator | None = None,
    which: str = "LA",
    v0: ArrayLike | None = None,
    restart: bool = True,
) -> EigenResult:
    r"""The top Hessian eigenvalue ``λmax(∇²L(θ))`` (the *sharpness*), batched.

    The same computation as :func:`eigenvalues` with ``k = 1`` by default; ``value``
    and ``vector`` of the result are the first pair.  ``which="LA"`` (the default) is the
    algebraically largest eigenvalue, whose size sets the stability limit
    ``h < β / λmax`` (:func:`gradflow.stability.critical_stepsize`); ``"SA"`` gives the
    smallest and ``"LM"`` the largest magnitude.

    Parameters
    ----------
    problem, theta, k, algorithm, tol, max_iter, seed, which, v0, restart
        As for :func:`eigenvalues` (``k`` defaults to 1 here).

    Returns
    -------
    EigenResult

    Raises
    ------
    TypeError, ValueError
        As for :func:`eigenvalues`.

    References
    ----------
    J. M. Cohen, S. Kaur, Y. Li, J. Z. Kolter and A. Talwalkar, "Gradient descent on
    neural networks typically occurs at the edge of stability", ICLR 2021 (sharpness
    by Lanczos on HVPs).

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 4.0, 10.0], seed=1)
    >>> res = gf.curvature.top_eigenvalue(p, np.zeros((5, 3)), seed=0)
    >>> res.value.shape, bool(np.allclose(res.value, 10.0, rtol=1e-12))
    ((5,), True)
    >>> int(res.n_hvp[0])                     # the Krylov space is the whole R^3
    3
    """
    return eigenvalues(
        problem,
        theta,
        k,
        algorithm=algorithm,
        tol=tol,
        max_iter=max_iter,
        seed=seed,
        which=which,
        v0=v0,
        restart=restart,
    )
