r"""Linear stability of the methods: stability functions, limits and regions.

On the gradient flow of a quadratic ``L = ½ θᵀHθ`` every method acts on each Hessian
eigencomponent ``μ`` separately, as on the test equation ``y' = λy`` with ``λ = -μ``.  A
method's :meth:`~gradflow.methods.Method.amplification_matrix` ``M(z)``, ``z = hλ``, is the
linear map of its state over one step; the iteration is stable iff the spectral radius
``ρ(M(z)) <= 1`` (with simple eigenvalues on the circle).  For one-step methods
``M = [[R(z)]]`` and ``R`` is the stability function.  On a spectrum in ``[0, μmax]`` the
method is stable iff ``h μmax < β`` where ``[-β, 0]`` is its real stability interval
(Euler 2, RK4 2.7853, heavy ball ``2(1 + β)``, PyTorch Nesterov ``(2 + 2β)/(1 + 2β)``,
implicit Euler ``∞``).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from gradflow._validation import as_state_array, check_real
from gradflow.methods import Method
from gradflow.problems import Problem

__all__ = [
    "StabilityRegion",
    "amplification",
    "critical_stepsize",
    "real_stability_limit",
    "stability_function",
    "stability_region",
]

#: ``ρ(M(z)) <= 1 + STABLE_TOL`` counts as stable (rounding of the lambdified matrix).
STABLE_TOL = 1e-12
#: The negative real axis is scanned on ``[0, SCAN_MAX]``; a method stable on all of it
#: (and as ``z → -∞`` where sympy can take the limit) has the limit ``inf``.
SCAN_MAX = 1e8


def _check_method(method: Any) -> Method:
    if not isinstance(method, Method):
        raise TypeError(f"method must be a gradflow Method, got {type(method).__name__}")
    return method


def _amplification_matrix(method: Any) -> Any:
    """The method's ``M(z)``; a method without one (it is not linear in its state on
    ``y' = λy``: Adam, Lion...) is a ``TypeError`` naming it and saying why."""
    try:
        return _check_method(method).amplification_matrix()
    except NotImplementedError as exc:
        raise TypeError(
            f"method must have a linear stability analysis (an amplification matrix); "
            f"{method.name} has none: {exc}"
        ) from None


def stability_function(method: Method) -> Any:
    r"""The exact stability function of ``method`` as a sympy expression in ``z``.

    For a one-step method (``M(z)`` is 1×1) this is ``R(z)``, with ``y_{k+1} = R(hλ) y_k``
    on ``y' = λy``: ``1 + z`` for Euler, ``1 + z + z²/2 + z³/6 + z⁴/24`` for RK4,
    ``1/(1 - z)`` for implicit Euler.  For methods that carry more state (momentum) it is
    the characteristic polynomial ``det(ζI - M(z))`` in ``ζ`` and ``z``, whose roots are
    the amplification factors (e.g. ``ζ² - (1 + β + z)ζ + β`` for heavy ball).

    Parameters
    ----------
    method : Method

    Returns
    -------
    sympy.Expr
        In the symbols ``z`` (and ``zeta`` for multi-state methods).

    Raises
    ------
    TypeError
        If ``method`` is not a gradflow Method, or defines no amplification matrix (a
        method that is not linear in its state, such as Adam).

    References
    ----------
    E. Hairer and G. Wanner, *Solving Ordinary Differential Equations II*, 2nd ed.,
    Springer, 1996, §IV.2.

    Examples
    --------
    >>> import gradflow as gf
    >>> stability_function(gf.methods.RungeKutta(gf.methods.RK4))
    z**4/24 + z**3/6 + z**2/2 + z + 1
    """
    import sympy as sp

    M = _amplification_matrix(method)
    if M.shape == (1, 1):
        return sp.simplify(M[0, 0])
    zeta = sp.Symbol("zeta")
    return sp.expand((zeta * sp.eye(M.shape[0]) - M).det())


def _amplification_function(method: Method) -> Any:
    """A numpy function ``z -> ρ(M(z))`` for complex arrays ``z``."""
    import sympy as sp

    M = _amplification_matrix(method)
    z = sp.Symbol("z")
    n = M.shape[0]
    entries = sp.lambdify(z, list(M), modules="numpy")

    def rho(values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=complex)
        with np.errstate(all="ignore"):
            flat = [
                np.broadcast_to(np.asarray(e, dtype=complex), values.shape) for e in entries(values)
            ]
            if n == 1:
                return np.abs(flat[0])
            mats = np.stack(flat, axis=-1).reshape(*values.shape, n, n)
            bad = ~np.isfinite(mats).all(axis=(-2, -1))
            mats = np.where(bad[..., None, None], 0.0, mats)
            out = np.abs(np.linalg.eigvals(mats)).max(axis=-1)
            return np.where(bad, np.inf, out)

    return rho


def amplification(method: Method, z: ArrayLike) -> np.ndarray:
    """Spectral radius ``ρ(M(z))`` of the method's step on ``y' = λy``, ``z = hλ``.

    Parameters
    ----------
    method : Method
    z : array_like of complex
        Points ``hλ`` (the gradient flow of a Hessian eigenvalue ``μ`` has ``z = -hμ``).

    Returns
    -------
    ndarray of float, shape of ``z``
        ``|R(z)|`` for one-step methods; the largest root modulus otherwise.

    Raises
    ------
    TypeError
        If ``method`` is not a gradflow Method, or has no linear stability analysis (no
        amplification matrix: Adam, Lion, ...).

    Examples
    --------
    >>> import gradflow as gf
    >>> amplification(gf.methods.Euler(), [-1.0, -2.0, -3.0]).tolist()
    [0.0, 1.0, 2.0]
    """
    return _amplification_function(method)(np.asarray(z))


def real_stability_limit(method: Method, *, algorithm: str = "symbolic") -> float:
    r"""The end ``β`` of the real stability interval ``[-β, 0]`` of ``method``.

    Gradient descent-like iteration with step ``h`` on a Hessian spectrum in ``[0, μmax]``
    is stable iff ``h μmax < β`` (``<=`` where the boundary is neutrally stable).  ``β``
    is the first ``x > 0`` where ``ρ(M(-x))`` exceeds 1: located on a fine scan of
    ``[0, 1e8]`` and refined by Brent's method to ~1e-14 relative.  ``inf`` when the
    method is stable on the whole scan and ``ρ`` stays bounded by 1 towards ``-∞``.

    ``algorithm="numeric"`` takes ``M(z)`` from the method's own step instead: one batched
    ``method.step`` on ``L = ½θ²`` with ``h = x`` over the whole scan (each floating-point
    state field a coordinate, step counters at ``2**52``, the long-run iteration), then
    multisection to the same relative accuracy.  It agrees with the symbolic value to
    1e-12 relative for every shipped method and tableau (the test suite checks this),
    and imports neither sympy nor scipy (in a fresh process their imports are most of
    the symbolic path's cost; warm, the two paths take ~20 ms per method); it is what
    ``gradflow info`` uses.  A method whose step is not linear in its state is a
    ``TypeError`` on both paths.

    Parameters
    ----------
    method : Method
    algorithm : {"symbolic", "numeric"}, default "symbolic"
        ``"symbolic"``: from the exact :meth:`~gradflow.methods.Method.amplification_matrix`
        (sympy); ``"numeric"``: from the method's step, as above.

    Returns
    -------
    float
        E.g. 2 for Euler, Heun and midpoint; 2.785293563... for RK4; ``2(1 + β)`` for
        heavy ball; ``(2 + 2β)/(1 + 2β)`` for PyTorch's Nesterov; ``inf`` for implicit
        Euler.

    Raises
    ------
    TypeError
        If ``method`` is not a gradflow Method, or has no linear stability analysis (no
        amplification matrix: Adam, Lion, ...; on the numeric path: a step that is not
        linear in the state).
    ValueError
        If ``algorithm`` is not ``"symbolic"`` or ``"numeric"``.

    References
    ----------
    E. Hairer and G. Wanner, *Solving Ordinary Differential Equations II*, 2nd ed.,
    Springer, 1996, §IV.2.
    B. T. Polyak, "Some methods of speeding up the convergence of iteration methods",
    USSR Comput. Math. Math. Phys. 4(5), 1–17, 1964.

    Examples
    --------
    >>> import gradflow as gf
    >>> round(real_stability_limit(gf.methods.RungeKutta(gf.methods.RK4)), 9)
    2.785293563
    >>> real_stability_limit(gf.methods.Euler())
    2.0
    >>> round(real_stability_limit(gf.methods.HeavyBall(beta=0.5), algorithm="numeric"), 12)
    3.0
    """
    if algorithm not in ("symbolic", "numeric"):
        raise ValueError(f"algorithm must be 'symbolic' or 'numeric', got {algorithm!r}")
    grid = np.concatenate(
        [np.linspace(0.0, 16.0, 16001)[1:], np.geomspace(16.0, SCAN_MAX, 4001)[1:]]
    )
    if algorithm == "numeric":
        from gradflow.stability._numeric import numeric_real_stability_limit

        return numeric_real_stability_limit(_check_method(method), STABLE_TOL, grid)
    from scipy.optimize import brentq

    rho = _amplification_function(method)

    def excess(x: float) -> float:
        return float(rho(np.array(-x))) - 1.0

    values = rho(-grid)
    unstable = np.flatnonzero(values > 1.0 + STABLE_TOL)
    if unstable.size == 0:
        return math.inf
    i = int(unstable[0])
    lo = 0.0 if i == 0 else float(grid[i - 1])
    hi = float(grid[i])
    if i == 0:  # pragma: no cover - unstable right next to 0: not a consistent method
        return 0.0
    if excess(lo) >= 0.0:
        # The grid point itself is the boundary, up to rounding (ρ(lo) in [1, 1 + tol]).
        return lo
    root = brentq(excess, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=200)
    return float(root)


def _top_eigenvalue(problem_or_eigenvalues: Any, theta: ArrayLike | None) -> Any:
    if isinstance(problem_or_eigenvalues, Problem):
        problem = problem_or_eigenvalues
        if theta is None:
            spectrum = getattr(problem, "eigenvalues", None)
            if spectrum is not None:
                return float(np.max(spectrum))
            if problem.minimizers is None:
                raise ValueError(
                    f"theta is required: problem {problem.name!r} has no known minimiser "
                    "and no fixed spectrum"
                )
            theta = problem.minimizers[0]
        theta = as_state_array(theta, "theta", problem.dim).astype(np.float64)
        top = np.linalg.eigvalsh(problem.hessian(theta))[..., -1]
        return float(top) if top.ndim == 0 else top
    eigs = check_real(problem_or_eigenvalues, "eigenvalues", allow_array=True)
    if theta is not None:
        raise ValueError("theta is only used with a Problem, not with eigenvalues")
    return float(eigs.max())


def critical_stepsize(
    method: Method, problem_or_eigenvalues: Problem | ArrayLike, theta: ArrayLike | None = None
) -> Any:
    r"""The largest stable step ``β / μmax`` of ``method`` on a Hessian spectrum.

    Parameters
    ----------
    method : Method
    problem_or_eigenvalues : Problem or array_like
        Hessian eigenvalues; or a problem, whose top Hessian eigenvalue is taken at
        ``theta`` (dense ``eigvalsh``), or from its exact spectrum (quadratics) or at its
        first known minimiser when ``theta`` is None.
    theta : array_like, shape (*batch, d), optional
        Where to take the Hessian (a batch gives a batch of step sizes).

    Returns
    -------
    float or ndarray
        ``β / μmax`` (``inf`` when ``μmax <= 0`` or ``β = ∞``).

    Raises
    ------
    TypeError
        If ``method`` is not a gradflow Method, or has no linear stability analysis (no
        amplification matrix: Adam, Lion, ...).
    ValueError
        If the eigenvalues are empty or not finite, or a problem without a known
        minimiser or spectrum is given without ``theta``.

    References
    ----------
    Y. Nesterov, *Lectures on Convex Optimization*, 2nd ed., Springer, 2018, §1.2.3
    (the step ``h < 2/L`` of gradient descent).

    Examples
    --------
    >>> import gradflow as gf
    >>> critical_stepsize(gf.methods.Euler(), [1.0, 10.0])
    0.2
    """
    beta = real_stability_limit(method)
    top = _top_eigenvalue(problem_or_eigenvalues, theta)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(np.asarray(top) > 0, beta / np.asarray(top, dtype=float), np.inf)
    return float(out) if out.ndim == 0 else out


class StabilityRegion(NamedTuple):
    """Amplification on a grid of the complex ``z = hλ`` plane.

    Attributes
    ----------
    re, im : ndarray
        The grid axes.
    amplification : ndarray, shape (len(im), len(re))
        ``ρ(M(z))`` at ``z = re + i·im`` (rows follow ``im``, as ``imshow`` expects).
    stable : ndarray of bool, same shape
        ``amplification <= 1`` (up to rounding).
    """

    re: np.ndarray
    im: np.ndarray
    amplification: np.ndarray
    stable: np.ndarray


def stability_region(method: Method, re: ArrayLike, im: ArrayLike) -> StabilityRegion:
    """The stability region of ``method`` sampled on a grid, for plotting.

    Parameters
    ----------
    method : Method
    re, im : array_like, 1-D
        Real and imaginary parts of ``z = hλ``.

    Returns
    -------
    StabilityRegion

    Raises
    ------
    TypeError
        If ``method`` is not a gradflow Method, or has no linear stability analysis (no
        amplification matrix: Adam, Lion, ...).
    ValueError
        If ``re`` or ``im`` is not a non-empty 1-D array.

    References
    ----------
    E. Hairer and G. Wanner, *Solving Ordinary Differential Equations II*, 2nd ed.,
    Springer, 1996, §IV.2, Fig. 2.1.

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> region = stability_region(gf.methods.Euler(), np.linspace(-3, 1, 5), [0.0])
    >>> region.stable.tolist()
    [[False, True, True, True, False]]
    """
    re = check_real(re, "re", allow_array=True)
    im = check_real(im, "im", allow_array=True)
    for label, axis in (("re", re), ("im", im)):
        if axis.ndim != 1 or axis.size == 0:
            raise ValueError(f"{label} must be a non-empty 1-D array, got shape {axis.shape}")
    grid = re[None, :] + 1j * im[:, None]
    amp = amplification(method, grid)
    return StabilityRegion(re, im, amp, amp <= 1.0 + STABLE_TOL)
