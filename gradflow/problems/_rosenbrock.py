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

        # The products keep the operand order of the formulas, so the bits are those of
        # ``2(x_i - a) - 4b x_i v_i + 2b v_{i-1}`` summed left to right, whatever the path.
        b2, b4, b12, mb4 = 2.0 * b, 4.0 * b, 12.0 * b, -4.0 * b

        def loss(theta: ArrayLike) -> np.ndarray:
            x = as_batch(theta, d)
            batch = x.shape[:-1]
            if d == 2:
                x = x.reshape(-1, 2)  # 1-D columns, never 0-d scalars, for in-place work
                head, tail = x[:, 0], x[:, 1]
            else:
                head, tail = x[..., :-1], x[..., 1:]
            valley = head * head
            np.subtract(tail, valley, out=valley)
            valley *= valley
            valley *= b  # b (x_{i+1} - x_i^2)^2
            left = a - head
            left *= left
            valley += left
            if d == 2:
                return valley.reshape(batch)[()]  # [()]: a scalar for a single θ, as np.sum
            return np.sum(valley, axis=-1)

        def grad(theta: ArrayLike) -> np.ndarray:
            x = as_batch(theta, d)
            g = np.empty_like(x)
            if d == 2:
                # Whole columns, not (B, 1) slices: numpy's 1-D loops (and arrays, never
                # 0-d scalars, for the in-place operations).
                x, g2 = x.reshape(-1, 2), g.reshape(-1, 2)
                x0 = x[:, 0]
                valley = x[:, 1] - x0 * x0  # residual of the coupling x_1 = x_0^2
                first = x0 - a
                first *= 2.0
                coupling = b4 * x0
                coupling *= valley
                np.subtract(first, coupling, out=g2[:, 0])
                # 0.0 + 2b v, as a sum onto zeros gives: a zero residual is +0.
                np.multiply(b2, valley, out=valley)
                np.add(valley, 0.0, out=g2[:, 1])
                return g
            head, tail = x[..., :-1], x[..., 1:]
            valley = tail - head * head
            first = head - a
            first *= 2.0
            coupling = b4 * head
            coupling *= valley
            np.subtract(first, coupling, out=g[..., :-1])
            g[..., -1] = 0.0
            valley *= b2
            g[..., 1:] += valley
            return g

        def bands(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """Diagonal ``(*batch, d)`` and super-diagonal ``(*batch, d-1)``."""
            head, tail = x[..., :-1], x[..., 1:]
            diag = np.empty_like(x)
            curv = b12 * head
            curv *= head
            curv -= b4 * tail
            np.add(curv, 2.0, out=diag[..., :-1])
            diag[..., -1] = 0.0
            diag[..., 1:] += b2
            return diag, mb4 * head

        def hvp(theta: ArrayLike, v: ArrayLike) -> np.ndarray:
            x = as_batch(theta, d)
            v = np.asarray(v, dtype=x.dtype)
            if d == 2 and v.shape == x.shape:
                out = np.empty_like(x)
                x, v, out2 = x.reshape(-1, 2), v.reshape(-1, 2), out.reshape(-1, 2)
                x0, v0, v1 = x[:, 0], v[:, 0], v[:, 1]
                diag0 = b12 * x0
                diag0 *= x0
                diag0 -= b4 * x[:, 1]
                diag0 += 2.0
                off = mb4 * x0
                # H v = (d0 v0 + o v1, 2b v1 + o v0), summed in the general path's order.
                diag0 *= v0
                np.add(diag0, off * v1, out=out2[:, 0])
                off *= v0
                np.add(b2 * v1, off, out=out2[:, 1])
                return out
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
        self._rebuilt_by(RosenbrockProblem, dim, a, b)  # closures: pickled as this call


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
