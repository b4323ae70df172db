r"""The Rosenbrock function in its chained form.

.. math:: L(x) = \sum_{i=0}^{d-2} \bigl[\, b\,(x_{i+1} - x_i^2)^2 + (a - x_i)^2 \bigr].

Its curved, narrow valley makes the gradient flow stiff: the Hessian at the minimiser
has eigenvalues spread over about three orders of magnitude for ``b = 100``, so an
explicit integrator (gradient descent) needs a small step to stay stable while the
flow along the valley floor is slow.  The Hessian is tridiagonal, so the exact
Hessian-vector product costs O(d) and never forms the dense matrix.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from gradflow._validation import check_integer, check_positive, check_real
from gradflow.problems._problem import Problem, as_batch

__all__ = ["RosenbrockProblem", "rosenbrock"]


class RosenbrockProblem(Problem):
    r"""Chained Rosenbrock function (see :func:`rosenbrock`).

    Parameters
    ----------
    dim : int
        Number of variables, at least 2.
    a, b : float
        Shape parameters (``b > 0``).

    Attributes
    ----------
    a, b : float
        The shape parameters.

    Raises
    ------
    None
        The arguments are trusted; :func:`rosenbrock` validates user input.

    References
    ----------
    See :func:`rosenbrock`.

    Examples
    --------
    >>> import numpy as np
    >>> p = RosenbrockProblem(3, 1.0, 100.0)
    >>> p.loss(np.ones(3)), p.minimum
    (np.float64(0.0), 0.0)
    """

    def __init__(self, dim: int, a: float, b: float) -> None:
        self.a = a
        self.b = b
        d = dim

        def loss(theta: ArrayLike) -> np.ndarray:
            x = as_batch(theta, d)
            head, tail = x[..., :-1], x[..., 1:]
            return np.sum(b * (tail - head * head) ** 2 + (a - head) ** 2, axis=-1)

        def grad(theta: ArrayLike) -> np.ndarray:
            x = as_batch(theta, d)
            head, tail = x[..., :-1], x[..., 1:]
            valley = tail - head * head  # residual of the coupling term x_{i+1} = x_i^2
            g = np.zeros_like(x)
            g[..., :-1] = 2.0 * (head - a) - 4.0 * b * head * valley
            g[..., 1:] += 2.0 * b * valley
            return g

        def bands(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """Diagonal ``(*batch, d)`` and super-diagonal ``(*batch, d-1)``."""
            head, tail = x[..., :-1], x[..., 1:]
            diag = np.zeros_like(x)
            diag[..., :-1] = 12.0 * b * head * head - 4.0 * b * tail + 2.0
            diag[..., 1:] += 2.0 * b
            return diag, -4.0 * b * head

        def hvp(theta: ArrayLike, v: ArrayLike) -> np.ndarray:
            x = as_batch(theta, d)
            v = np.asarray(v, dtype=x.dtype)
            x, v = np.broadcast_arrays(x, v)
            diag, off = bands(x)
            out = diag * v
            out[..., :-1] += off * v[..., 1:]
            out[..., 1:] += off * v[..., :-1]
            return out

        def hessian(theta: ArrayLike) -> np.ndarray:
            x = as_batch(theta, d)
            diag, off = bands(x)
            h = np.zeros((*x.shape, d), dtype=x.dtype)
            idx = np.arange(d)
            h[..., idx, idx] = diag
            h[..., idx[:-1], idx[1:]] = off
            h[..., idx[1:], idx[:-1]] = off
            return h

        if d == 2 or a in (0.0, 1.0):
            # x_i = a for i < d-1 and x_{i+1} = x_i^2 force a = a^2 unless d == 2.
            minimizer = np.full(d, a)
            minimizer[-1] = a * a
            minimum: float | None = 0.0
            minimizers: np.ndarray | None = minimizer[None, :]
        else:
            minimum, minimizers = None, None
        super().__init__(
            loss=loss,
            grad=grad,
            dim=d,
            hvp=hvp,
            hessian=hessian,
            name="rosenbrock" if d == 2 else f"rosenbrock-{d}d",
            minimum=minimum,
            minimizers=minimizers,
        )


def rosenbrock(dim: int = 2, a: float = 1.0, b: float = 100.0) -> RosenbrockProblem:
    r"""The chained Rosenbrock function.

    .. math:: L(x) = \sum_{i=0}^{d-2} \bigl[\, b\,(x_{i+1} - x_i^2)^2 + (a - x_i)^2 \bigr]

    with exact gradient, tridiagonal Hessian and an O(d) exact Hessian-vector product.

    Parameters
    ----------
    dim : int, optional
        Number of variables ``d >= 2`` (default 2).
    a : float, optional
        Location parameter (default 1).
    b : float, optional
        Valley stiffness, ``b > 0`` (default 100).

    Returns
    -------
    RosenbrockProblem
        ``minimum = 0`` with minimiser ``(a, a²)`` when ``dim == 2``; for ``dim > 2``
        the minimiser is all ones when ``a == 1`` and all zeros when ``a == 0``, and
        otherwise ``minimum`` and ``minimizers`` are None (not known in closed form).

    Raises
    ------
    ValueError
        If ``dim < 2``, ``a`` is not finite or ``b`` is not finite and positive.
    TypeError
        If ``dim`` is not an integer, or ``a`` or ``b`` is not a real number.

    References
    ----------
    H. H. Rosenbrock, "An automatic method for finding the greatest or least value of a
    function", The Computer Journal 3(3), 175-184, 1960.
    Y.-W. Shang and Y.-H. Qiu, "A note on the extended Rosenbrock function",
    Evolutionary Computation 14(1), 119-126, 2006.

    Examples
    --------
    >>> import numpy as np
    >>> p = rosenbrock()
    >>> p.grad(np.array([[1.0, 1.0], [0.0, 0.0]]))
    array([[ 0.,  0.],
           [-2.,  0.]])
    >>> rosenbrock(4).hvp(np.ones(4), np.ones(4))
    array([ 402.,  202.,  202., -200.])
    """
    dim = check_integer(dim, "dim", 2)
    a = check_real(a, "a")
    b = check_positive(b, "b")
    # Python floats keep float32 inputs in float32.
    return RosenbrockProblem(int(dim), float(a), float(b))
