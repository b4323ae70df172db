r"""The Müller–Brown potential, a 2-D model of a chemical energy surface.

.. math:: V(x, y) = \sum_{k=1}^{4} A_k \exp\bigl[a_k (x - x^0_k)^2
          + b_k (x - x^0_k)(y - y^0_k) + c_k (y - y^0_k)^2\bigr].

It has three minima joined by two saddle points (transition states), so gradient flows
started in different basins end at different minima, and the saddles are where the
Hessian has a negative eigenvalue.  The coefficients follow the original paper; note
``A_3 = -170`` (some codes use ``-175``, which moves the stationary points).
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.typing import ArrayLike

from gradflow.problems._planar import planar_second_order
from gradflow.problems._problem import Problem, as_batch

__all__ = [
    "AMPLITUDES",
    "CENTERS_X",
    "CENTERS_Y",
    "COEFFS_A",
    "COEFFS_B",
    "COEFFS_C",
    "MINIMA_GUESSES",
    "SADDLE_GUESSES",
    "MullerBrownProblem",
    "muller_brown",
]

#: Amplitudes ``A_k`` (Müller & Brown 1979, Table 1).
AMPLITUDES = (-200.0, -100.0, -170.0, 15.0)
#: Coefficients ``a_k`` of ``(x - x0_k)^2``.
COEFFS_A = (-1.0, -1.0, -6.5, 0.7)
#: Coefficients ``b_k`` of ``(x - x0_k)(y - y0_k)``.
COEFFS_B = (0.0, 0.0, 11.0, 0.6)
#: Coefficients ``c_k`` of ``(y - y0_k)^2``.
COEFFS_C = (-10.0, -10.0, -6.5, 0.7)
#: Centres ``x0_k``.
CENTERS_X = (1.0, 0.0, -0.5, -1.0)
#: Centres ``y0_k``.
CENTERS_Y = (0.0, 0.5, 1.5, 1.0)

#: Literature locations of the three minima (global first), refined at construction.
MINIMA_GUESSES = ((-0.558, 1.442), (0.623, 0.028), (-0.050, 0.467))
#: Literature locations of the two saddle points, refined at construction.
SADDLE_GUESSES = ((-0.822, 0.624), (0.212, 0.293))

_NEWTON_STEPS = 8  # quadratic convergence from 3-digit guesses: ~4 steps reach rounding


def _terms(theta: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per-term pieces, each ``(*batch, 4)``: ``E_k``, ``∂q_k/∂x``, ``∂q_k/∂y`` and
    the coefficient arrays ``a, b, c`` in the dtype of ``theta``."""
    dt = theta.dtype
    amp, ca, cb, cc, x0, y0 = (
        np.asarray(c, dtype=dt)
        for c in (AMPLITUDES, COEFFS_A, COEFFS_B, COEFFS_C, CENTERS_X, CENTERS_Y)
    )
    dx = theta[..., 0:1] - x0
    dy = theta[..., 1:2] - y0
    energy = amp * np.exp(ca * dx * dx + cb * dx * dy + cc * dy * dy)
    px = 2.0 * ca * dx + cb * dy
    py = cb * dx + 2.0 * cc * dy
    return energy, px, py, ca, cb, cc


def _loss(theta: ArrayLike) -> np.ndarray:
    energy = _terms(as_batch(theta, 2))[0]
    return np.sum(energy, axis=-1)


def _grad(theta: ArrayLike) -> np.ndarray:
    theta = as_batch(theta, 2)
    energy, px, py, *_ = _terms(theta)
    g = np.empty_like(theta)
    g[..., 0] = np.sum(energy * px, axis=-1)
    g[..., 1] = np.sum(energy * py, axis=-1)
    return g


def _hessian_entries(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # d/dx [E p_x] = E (p_x^2 + 2a), d/dy [E p_x] = E (p_x p_y + b), d/dy [E p_y] = E (p_y^2 + 2c)
    energy, px, py, ca, cb, cc = _terms(theta)
    hxx = np.sum(energy * (px * px + 2.0 * ca), axis=-1)
    hxy = np.sum(energy * (px * py + cb), axis=-1)
    hyy = np.sum(energy * (py * py + 2.0 * cc), axis=-1)
    return hxx, hxy, hyy


_hvp, _hessian = planar_second_order(_hessian_entries)


def _newton(points: np.ndarray) -> np.ndarray:
    """A few Newton steps on ``∇V = 0`` (converges to minima and saddles alike)."""
    x = np.array(points, dtype=np.float64)
    for _ in range(_NEWTON_STEPS):
        x = x - np.linalg.solve(_hessian(x), _grad(x)[..., None])[..., 0]
    return x


@functools.lru_cache(maxsize=1)
def _stationary_points() -> tuple[tuple[tuple[float, float], ...], tuple[tuple[float, float], ...]]:
    # Cached as tuples (immutable); callers get fresh arrays.
    minima = _newton(np.array(MINIMA_GUESSES))
    saddles = _newton(np.array(SADDLE_GUESSES))
    return tuple(map(tuple, minima.tolist())), tuple(map(tuple, saddles.tolist()))


class MullerBrownProblem(Problem):
    r"""The Müller–Brown potential (see :func:`muller_brown`).

    Attributes
    ----------
    minima : ndarray, shape (3, 2)
        The three minima, global first (values ≈ -146.70, -108.17, -80.77).
    saddles : ndarray, shape (2, 2)
        The two saddle points (values ≈ -40.67, -72.25).

    Raises
    ------
    numpy.linalg.LinAlgError
        Only if the Newton refinement met a singular Hessian (never in practice).

    References
    ----------
    K. Müller and L. D. Brown, Theoretica Chimica Acta 53, 75-93, 1979.

    Examples
    --------
    >>> p = MullerBrownProblem()
    >>> p.minima.shape, p.saddles.shape
    ((3, 2), (2, 2))
    """

    def __init__(self) -> None:
        minima, saddles = _stationary_points()
        self.minima = np.array(minima)
        self.saddles = np.array(saddles)
        super().__init__(
            loss=_loss,
            grad=_grad,
            dim=2,
            hvp=_hvp,
            hessian=_hessian,
            name="muller_brown",
            minimum=float(_loss(self.minima[0])),
            minimizers=self.minima[:1],
        )


def muller_brown() -> MullerBrownProblem:
    r"""The Müller–Brown potential energy surface.

    .. math:: V(x, y) = \sum_{k=1}^{4} A_k \exp\bigl[a_k (x - x^0_k)^2
              + b_k (x - x^0_k)(y - y^0_k) + c_k (y - y^0_k)^2\bigr]

    with ``A = (-200, -100, -170, 15)``, ``a = (-1, -1, -6.5, 0.7)``,
    ``b = (0, 0, 11, 0.6)``, ``c = (-10, -10, -6.5, 0.7)``, ``x0 = (1, 0, -0.5, -1)``
    and ``y0 = (0, 0.5, 1.5, 1)`` (module constants :data:`AMPLITUDES`,
    :data:`COEFFS_A`, ...).  Gradient, Hessian and HVP are exact.

    Returns
    -------
    MullerBrownProblem
        ``minima`` (3×2) and ``saddles`` (2×2) refined by Newton's method on the exact
        gradient from the literature points; ``minimizers`` is the global minimiser
        (≈ (-0.558, 1.442)) and ``minimum`` its value (≈ -146.70).

    Raises
    ------
    numpy.linalg.LinAlgError
        Never in practice: only if a Newton step met a singular Hessian.

    References
    ----------
    K. Müller and L. D. Brown, "Location of saddle points and minimum energy paths by a
    constrained simplex optimization procedure", Theoretica Chimica Acta 53, 75-93,
    1979.

    Examples
    --------
    >>> import numpy as np
    >>> p = muller_brown()
    >>> round(p.minimum, 2)
    -146.7
    >>> np.round(p.minimizers, 3)
    array([[-0.558,  1.442]])
    >>> bool(np.all(np.abs(p.grad(p.saddles)) < 1e-9))
    True
    """
    return MullerBrownProblem()
