r"""Small neural-network losses whose curvature dynamics are worth watching.

* :func:`scalar_net`: the two-parameter "network" :math:`\tfrac12 (1 - xy)^2`, the
  smallest model with a curve of minima whose sharpness varies along it.
* :func:`mlp_regression`: the one-hidden-layer tanh network of Cohen et al. (2021)
  fitting a Chebyshev polynomial, on which gradient descent runs at the *edge of
  stability* (sharpness hovering at ``2 / h``).  Its gradient is hand-written
  backpropagation and its Hessian-vector product Pearlmutter's R-operator, both
  vectorised over a batch of parameter vectors.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from gradflow._validation import as_generator, check_integer, check_positive
from gradflow.problems._minibatch import as_minibatch
from gradflow.problems._planar import planar_second_order
from gradflow.problems._problem import Problem, as_batch

__all__ = ["MLPRegressionProblem", "mlp_regression", "scalar_net"]


def _sum_axis(a: np.ndarray, axis: int) -> np.ndarray:
    """Sum over ``axis`` as a contiguous last-axis reduction.

    numpy sums a contiguous last axis pairwise in a fixed order; reducing another axis
    may iterate differently depending on the layout, so moving the axis last keeps each
    batch row's bits independent of the batch it is evaluated in.
    """
    return np.sum(np.ascontiguousarray(np.moveaxis(a, axis, -1)), axis=-1)


# -- scalar network ------------------------------------------------------------------
def _scalar_loss(theta: ArrayLike) -> np.ndarray:
    theta = as_batch(theta, 2)
    r = 1.0 - theta[..., 0] * theta[..., 1]
    return 0.5 * r * r


def _scalar_grad(theta: ArrayLike) -> np.ndarray:
    theta = as_batch(theta, 2)
    x, y = theta[..., 0], theta[..., 1]
    r = x * y - 1.0
    g = np.empty_like(theta)
    g[..., 0] = r * y
    g[..., 1] = r * x
    return g


def _scalar_entries(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, y = theta[..., 0], theta[..., 1]
    return y * y, 2.0 * x * y - 1.0, x * x


_scalar_hvp, _scalar_hessian = planar_second_order(_scalar_entries)


def scalar_net() -> Problem:
    r"""The scalar two-layer linear "network" :math:`L(x, y) = \tfrac12 (1 - xy)^2`.

    The minimum value 0 is attained on the hyperbola :math:`xy = 1`, a curve, so
    ``minimizers`` is None.  On it the Hessian :math:`\begin{pmatrix} y^2 & 1 \\ 1 &
    x^2\end{pmatrix}` has eigenvalues :math:`\{0, x^2 + y^2\}`: flat along the curve
    and with sharpness :math:`x^2 + y^2 \ge 2` across it, smallest at the balanced
    points :math:`x = y = \pm 1`.  Gradient descent with step ``h`` can only settle
    where :math:`x^2 + y^2 < 2/h`.

    Returns
    -------
    Problem
        Exact gradient, HVP and Hessian; ``minimum = 0``, ``minimizers = None``.

    Raises
    ------
    None
        The factory takes no arguments and cannot fail.

    References
    ----------
    L. Chen and J. Bruna, "Beyond the edge of stability via two-step gradient
    updates", ICML 2023 (the scalar model :math:`(1 - xy)^2`).

    Examples
    --------
    >>> import numpy as np
    >>> p = scalar_net()
    >>> np.linalg.eigvalsh(p.hessian(np.array([2.0, 0.5])))
    array([0.  , 4.25])
    """
    return Problem(
        loss=_scalar_loss,
        grad=_scalar_grad,
        dim=2,
        hvp=_scalar_hvp,
        hessian=_scalar_hessian,
        name="scalar_net",
        minimum=0.0,
        minimizers=None,
    )


# -- tanh MLP ------------------------------------------------------------------------
class MLPRegressionProblem(Problem):
    r"""Mean-squared loss of a 1-``width``-1 tanh network (see :func:`mlp_regression`).

    Parameters
    ----------
    width : int
        Hidden units ``m``.
    x, y : ndarray, shape (n,)
        Inputs and targets.
    degree : int
        Degree of the Chebyshev target (kept for reference).
    seed : int or None
        Default seed of :meth:`init`.
    gain : float
        Xavier gain of the first layer used by :meth:`init`.

    Attributes
    ----------
    x, y : ndarray, shape (n,)
        Inputs and targets.
    width, degree : int
        Network width and target degree.
    seed : int or None
        Default seed of :meth:`init`.
    gain : float
        First-layer initialisation gain.

    Notes
    -----
    Parameter layout of ``θ`` (length ``3m``): ``θ[..., 0:m]`` are the first-layer
    weights ``w1``, ``θ[..., m:2m]`` the first-layer biases ``b1`` and
    ``θ[..., 2m:3m]`` the second-layer weights ``w2`` (no output bias).

    Raises
    ------
    None
        The arguments are trusted; :func:`mlp_regression` validates user input.

    References
    ----------
    See :func:`mlp_regression`.

    Examples
    --------
    >>> p = mlp_regression(width=4, n_points=5)
    >>> isinstance(p, MLPRegressionProblem), p.dim
    (True, 12)
    """

    def __init__(
        self,
        width: int,
        x: np.ndarray,
        y: np.ndarray,
        degree: int,
        seed: int | None,
        gain: float,
    ) -> None:
        self.width = width
        self.x = x
        self.y = y
        self.degree = degree
        self.seed = seed
        self.gain = gain
        m = width
        n = x.size

        def unpack(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            # Each (*batch, 1, m), ready to broadcast against the (n, 1) inputs.
            t = theta[..., None, :]
            return t[..., :m], t[..., m : 2 * m], t[..., 2 * m :]

        def forward(theta: np.ndarray) -> tuple[np.ndarray, ...]:
            """Hidden activations ``(*batch, n, m)`` and residuals ``(*batch, n)``."""
            w1, b1, w2 = unpack(theta)
            xs = x.astype(theta.dtype)[:, None]
            hidden = np.tanh(w1 * xs + b1)
            out = np.sum(w2 * hidden, axis=-1)
            return xs, w2, hidden, out - y.astype(theta.dtype)

        def loss(theta: ArrayLike) -> np.ndarray:
            theta = as_batch(theta, 3 * m)
            r = forward(theta)[-1]
            return np.sum(r * r, axis=-1) / (2.0 * n)

        # The gradient and HVP sum over the n examples for every hidden unit: they work
        # in the layout (*batch, m, n), where that sum is numpy's pairwise sum over a
        # contiguous last axis, the order the (*batch, n, m) layout gets only from a
        # transposed copy.  The products are those of ``forward``, operand for operand.
        def columns(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            # Each (*batch, m, 1), ready to broadcast against the (n,) inputs.
            t = theta[..., :, None]
            return t[..., :m, :], t[..., m : 2 * m, :], t[..., 2 * m :, :]

        def over_units(left: np.ndarray, right_t: np.ndarray) -> np.ndarray:
            """``left * right`` in (*batch, n, m) from ``right_t`` in (*batch, m, n)."""
            shape = np.broadcast_shapes(left.shape, right_t.shape[:-2] + right_t.shape[:-3:-1])
            out = np.empty(shape, dtype=right_t.dtype)
            return np.multiply(left, np.swapaxes(right_t, -1, -2), out=out)

        def forward_t(theta: np.ndarray) -> tuple[np.ndarray, ...]:
            """Inputs ``(n,)``, ``w2`` (*batch, m, 1), hidden activations (*batch, m, n)
            and residuals (*batch, n): ``forward``'s values, the hidden layer transposed."""
            w1, b1, w2 = columns(theta)
            xs = x.astype(theta.dtype)
            hidden = w1 * xs
            hidden += b1
            np.tanh(hidden, out=hidden)
            # The sum over units, in the (*batch, n, m) layout as in ``forward``.
            out = np.sum(over_units(np.swapaxes(w2, -1, -2), hidden), axis=-1)
            out -= y.astype(theta.dtype)
            return xs, w2, hidden, out

        def sums(parts: tuple[np.ndarray, np.ndarray, np.ndarray], like: np.ndarray) -> np.ndarray:
            """``(∂/∂w1, ∂/∂b1, ∂/∂w2)``: each part (*batch, m, n) summed over examples."""
            g = np.empty_like(like)
            for k, part in enumerate(parts):
                np.sum(part, axis=-1, out=g[..., k * m : (k + 1) * m])
            return g

        def grad(theta: ArrayLike) -> np.ndarray:
            theta = as_batch(theta, 3 * m)
            xs, w2, hidden, r = forward_t(theta)
            delta = (r / float(n))[..., None, :]  # ∂L/∂f_i
            slope = hidden * hidden
            np.subtract(1.0, slope, out=slope)  # tanh' = 1 - tanh^2
            delta_hidden = delta * w2  # ∂L/∂z_ij = δ_i w2_j tanh'(z_ij)
            delta_hidden *= slope
            return sums((delta_hidden * xs, delta_hidden, delta * hidden), theta)

        def hvp(theta: ArrayLike, v: ArrayLike) -> np.ndarray:
            theta = as_batch(theta, 3 * m)
            v = np.asarray(v, dtype=theta.dtype)
            theta, v = np.broadcast_arrays(theta, v)
            v = np.ascontiguousarray(v)
            xs, w2, hidden, r = forward_t(theta)
            u1, c1, u2 = columns(v)
            slope = hidden * hidden
            np.subtract(1.0, slope, out=slope)
            # Forward pass of the R-operator: directional derivatives R{.} along v.
            r_hidden = u1 * xs
            r_hidden += c1
            r_hidden *= slope  # R{tanh(z)} = tanh'(z) R{z}
            # R{f} = sum_j (u2_j h_ij + w2_j R{h_ij}), summed over units as in ``forward``.
            r_units = over_units(np.swapaxes(u2, -1, -2), hidden)
            r_units += over_units(np.swapaxes(w2, -1, -2), r_hidden)
            r_out = np.sum(r_units, axis=-1)
            delta = (r / float(n))[..., None, :]
            r_delta = (r_out / float(n))[..., None, :]
            # Backward pass differentiated along v: R{δ_z} with δ_z = δ w2 (1 - tanh^2).
            r_delta_hidden = r_delta * w2
            r_delta_hidden *= slope
            term = delta * u2
            term *= slope
            r_delta_hidden += term
            np.multiply(2.0 * delta, w2, out=term)
            term *= hidden
            term *= r_hidden
            r_delta_hidden -= term
            r_w2 = r_delta * hidden
            r_w2 += np.multiply(delta, r_hidden, out=term)
            return sums((r_delta_hidden * xs, r_delta_hidden, r_w2), theta)

        self._forward = forward
        self.n_samples = n

        super().__init__(
            loss=loss,
            grad=grad,
            dim=3 * m,
            hvp=hvp,
            hessian=None,  # assembled by Problem from 3m exact HVPs
            name="mlp_regression",
            minimum=None,
            minimizers=None,
        )
        self._rebuilt_by(MLPRegressionProblem, width, x, y, degree, seed, gain)  # closures

    def per_example_grad(self, theta: ArrayLike) -> np.ndarray:
        r"""Per-example gradients :math:`\nabla \ell_i` with :math:`\ell_i = \tfrac12 r_i^2`.

        The loss is :math:`L = \frac1n \sum_i \ell_i`, so the mean over axis ``-2`` is
        ``grad``; minibatch SGD (``solve(..., batch_size=B)``) samples them.

        Parameters
        ----------
        theta : array_like, shape (*batch, 3 * width)

        Returns
        -------
        ndarray, shape (*batch, n, 3 * width)

        Raises
        ------
        ValueError
            If the last axis of ``theta`` is not ``3 * width``.
        TypeError
            If ``theta`` does not hold real numbers.

        Examples
        --------
        >>> p = mlp_regression(width=4, n_points=5)
        >>> p.per_example_grad(p.init(seed=0, batch_shape=2)).shape
        (2, 5, 12)
        """
        theta = as_batch(theta, self.dim)
        with np.errstate(all="ignore"):  # overflow is inf, silently (see Problem)
            xs, w2, hidden, r = self._forward(theta)
            slope = 1.0 - hidden * hidden
            delta_hidden = r[..., :, None] * w2 * slope  # (*batch, n, m)
            parts = np.stack([delta_hidden * xs, delta_hidden, r[..., :, None] * hidden], axis=-2)
        return parts.reshape(*parts.shape[:-2], self.dim)

    def init(
        self,
        seed: int | np.random.Generator | None = None,
        batch_shape: tuple[int, ...] | int = (),
    ) -> np.ndarray:
        r"""Random initial parameters ``θ0`` of shape ``(*batch_shape, 3 * width)``.

        * ``w1`` ~ Xavier-normal with gain ``gain``: std
          ``gain · sqrt(2 / (fan_in + fan_out)) = gain · sqrt(2 / (1 + width))``;
        * ``b1`` ~ U(-1, 1), PyTorch's ``nn.Linear`` default ``U(±1/sqrt(fan_in))`` for
          ``fan_in = 1``;
        * ``w2`` ~ Xavier-normal with gain 1: std ``sqrt(2 / (width + 1))``.

        Parameters
        ----------
        seed : int, numpy.random.Generator or None, optional
            Seed for :func:`numpy.random.default_rng`; None uses the problem's ``seed``.
            The same seed gives the same bits.
        batch_shape : tuple of int or int, optional
            Leading shape (independent initialisations).

        Returns
        -------
        ndarray, shape (*batch_shape, 3 * width), float64

        Raises
        ------
        TypeError
            If ``seed`` is not None, an integer or a Generator, or ``batch_shape`` holds
            non-integers.
        ValueError
            If ``seed`` or an entry of ``batch_shape`` is negative.

        References
        ----------
        X. Glorot and Y. Bengio, "Understanding the difficulty of training deep
        feedforward neural networks", AISTATS 2010.

        Examples
        --------
        >>> p = mlp_regression(width=3)
        >>> p.init(batch_shape=(2,)).shape
        (2, 9)
        >>> bool((p.init(seed=1) == p.init(seed=1)).all())
        True
        """
        dims = list(batch_shape) if isinstance(batch_shape, (tuple, list)) else [batch_shape]
        shape = tuple(check_integer(n, "batch_shape", 0) for n in dims)
        rng = as_generator(self.seed if seed is None else seed)
        m = self.width
        std1 = self.gain * math.sqrt(2.0 / (1 + m))
        std2 = math.sqrt(2.0 / (m + 1))
        w1 = std1 * rng.standard_normal((*shape, m))
        b1 = rng.uniform(-1.0, 1.0, (*shape, m))
        w2 = std2 * rng.standard_normal((*shape, m))
        return np.concatenate([w1, b1, w2], axis=-1)

    def _minibatch_forward(self, theta: ArrayLike, index: ArrayLike) -> tuple[np.ndarray, ...]:
        """The minibatch forward pass: ``(rows, E, 3m)`` parameters, the gathered inputs
        ``(rows, B)`` and ``(rows, 1, B, 1)``, ``w2``, hidden activations
        ``(rows, E, B, m)`` and residuals ``(rows, E, B)``."""
        th, idx = as_minibatch(theta, index, self.dim, self.n_samples)
        m = self.width
        xs = self.x.astype(th.dtype, copy=False).take(idx)  # (rows, B): drawn inputs only
        xb = xs[:, None, :, None]
        t = th[..., None, :]  # (rows, E, 1, 3m)
        w1, b1, w2 = t[..., :m], t[..., m : 2 * m], t[..., 2 * m :]
        hidden = np.tanh(w1 * xb + b1)
        out = np.sum(w2 * hidden, axis=-1)  # a contiguous last axis: row-stable
        r = out - self.y.astype(th.dtype, copy=False).take(idx)[:, None, :]
        return th, xs, xb, w2, hidden, r

    def minibatch_grad(self, theta: ArrayLike, index: ArrayLike) -> np.ndarray:
        r"""Mean gradient of :math:`\tfrac12 r_i^2` over the indexed points.

        Backpropagation over the ``B`` points ``x[index[r]]`` of every row only:
        O(rows·B·m) (the finite-sum protocol, :mod:`gradflow.problems._minibatch`).  The
        sums over the points are :func:`numpy.einsum` reductions in the order of the
        points, each row on its own: batched = single, bit for bit.

        Parameters
        ----------
        theta : array_like, shape (rows, *extra, 3 * width)
        index : array_like of int, shape (rows, B)
            Point indices in ``[0, n)`` of every row (repeats are allowed and counted).

        Returns
        -------
        ndarray, shape theta.shape

        Raises
        ------
        TypeError
            If ``theta`` does not hold real numbers or ``index`` not integers.
        ValueError
            If the shapes do not match or an index is out of range.

        References
        ----------
        D. E. Rumelhart, G. E. Hinton and R. J. Williams, "Learning representations by
        back-propagating errors", Nature 323, 533-536, 1986.

        Examples
        --------
        >>> import numpy as np
        >>> p = mlp_regression(width=4, n_points=5)
        >>> theta = p.init(seed=0, batch_shape=2)
        >>> p.minibatch_grad(theta, [[0, 3], [1, 1]]).shape
        (2, 12)
        """
        with np.errstate(all="ignore"):  # overflow is inf, silently (see Problem)
            _, xs, _, w2, hidden, r = self._minibatch_forward(theta, index)
            delta = r / float(xs.shape[1])  # d(mean loss)/df_i
            delta_hidden = delta[..., None] * w2 * (1.0 - hidden * hidden)
            g = np.concatenate(
                [
                    np.einsum("rebm,rb->rem", delta_hidden, xs),
                    np.einsum("rebm->rem", delta_hidden),
                    np.einsum("reb,rebm->rem", delta, hidden),
                ],
                axis=-1,
            )
        return g.reshape(np.shape(theta))

    def minibatch_hvp(self, theta: ArrayLike, v: ArrayLike, index: ArrayLike) -> np.ndarray:
        r"""Exact HVP of the minibatch loss (Pearlmutter's R-operator over the drawn points).

        Parameters
        ----------
        theta : array_like, shape (rows, *extra, 3 * width)
        v : array_like
            Directions, broadcastable to ``theta``.
        index : array_like of int, shape (rows, B)

        Returns
        -------
        ndarray, shape of ``theta`` and ``v`` broadcast

        Raises
        ------
        TypeError, ValueError
            As :meth:`minibatch_grad`.

        References
        ----------
        B. A. Pearlmutter, "Fast exact multiplication by the Hessian", Neural
        Computation 6(1), 147-160, 1994.

        Examples
        --------
        >>> p = mlp_regression(width=4, n_points=5)
        >>> theta = p.init(seed=0, batch_shape=2)
        >>> p.minibatch_hvp(theta, theta, [[0, 3], [1, 1]]).shape
        (2, 12)
        """
        theta = as_batch(theta, self.dim)
        v = np.asarray(v, dtype=theta.dtype)
        theta, v = np.broadcast_arrays(theta, v)
        m = self.width
        with np.errstate(all="ignore"):
            th, xs, xb, w2, hidden, r = self._minibatch_forward(theta, index)
            u = np.ascontiguousarray(v).reshape(th.shape)[..., None, :]
            u1, c1, u2 = u[..., :m], u[..., m : 2 * m], u[..., 2 * m :]
            slope = 1.0 - hidden * hidden
            # Forward pass of the R-operator: R{tanh z} = tanh'(z) R{z}, R{f} = R{r}.
            r_hidden = slope * (u1 * xb + c1)
            r_out = np.sum(u2 * hidden + w2 * r_hidden, axis=-1)
            size = float(xs.shape[1])
            delta = (r / size)[..., None]
            r_delta = (r_out / size)[..., None]
            # Backward pass along v: R{δ_z} with δ_z = δ w2 (1 - tanh^2).
            r_delta_hidden = (
                r_delta * w2 * slope + delta * u2 * slope - 2.0 * delta * w2 * hidden * r_hidden
            )
            out = np.concatenate(
                [
                    np.einsum("rebm,rb->rem", r_delta_hidden, xs),
                    np.einsum("rebm->rem", r_delta_hidden),
                    np.einsum("rebm->rem", r_delta * hidden + delta * r_hidden),
                ],
                axis=-1,
            )
        return out.reshape(theta.shape)


def mlp_regression(
    width: int = 100,
    n_points: int = 20,
    degree: int = 4,
    seed: int | None = 0,
    gain: float = 1.9,
) -> MLPRegressionProblem:
    r"""A 1-``width``-1 tanh network regressing a Chebyshev polynomial.

    The network is :math:`f(x) = \sum_{j=1}^{m} w2_j \tanh(w1_j x + b1_j)` (bias in the
    first layer only, ``3m`` parameters laid out as ``θ = [w1, b1, w2]``) and the loss
    :math:`L(\theta) = \frac{1}{2n} \sum_{i=1}^{n} (f(x_i) - y_i)^2` over ``n`` evenly
    spaced ``x_i ∈ [-1, 1]`` with targets :math:`y_i = T_{\text{degree}}(x_i)`, the
    Chebyshev polynomial.  This is the tanh regression network of Cohen et al. (2021),
    on which gradient descent with step ``h`` drives the sharpness to ``2/h``.

    The gradient is hand-written backpropagation and the Hessian-vector product the
    exact R-operator (forward-over-reverse; Pearlmutter 1994), both vectorised over
    ``θ`` of shape ``(*batch, 3m)``.  The Hessian is assembled from ``3m`` HVPs.

    Parameters
    ----------
    width : int, optional
        Hidden units ``m >= 1`` (default 100).
    n_points : int, optional
        Training points ``n >= 1`` (default 20).
    degree : int, optional
        Chebyshev degree ``>= 0`` (default 4).
    seed : int or None, optional
        Default seed of :meth:`~MLPRegressionProblem.init` (default 0).
    gain : float, optional
        Xavier gain of the first-layer weights at initialisation (default 1.9).

    Returns
    -------
    MLPRegressionProblem
        With attributes ``x``, ``y``, ``width``, ``degree`` and the method
        :meth:`~MLPRegressionProblem.init`; ``minimum``/``minimizers`` are None.

    Raises
    ------
    TypeError
        If ``width``, ``n_points`` or ``degree`` is not an integer, or ``gain`` not real.
    ValueError
        If ``width < 1``, ``n_points < 1``, ``degree < 0`` or ``gain`` is not finite and
        positive.

    References
    ----------
    J. M. Cohen, S. Kaur, Y. Li, J. Z. Kolter and A. Talwalkar, "Gradient descent on
    neural networks typically occurs at the edge of stability", ICLR 2021.
    B. A. Pearlmutter, "Fast exact multiplication by the Hessian", Neural Computation
    6(1), 147-160, 1994.

    Examples
    --------
    >>> import numpy as np
    >>> p = mlp_regression(width=8, n_points=10)
    >>> theta0 = p.init(seed=0, batch_shape=(4,))
    >>> p.loss(theta0).shape, p.grad(theta0).shape, p.hvp(theta0, theta0).shape
    ((4,), (4, 24), (4, 24))
    """
    width = check_integer(width, "width", 1)
    n_points = check_integer(n_points, "n_points", 1)
    degree = check_integer(degree, "degree", 0)
    gain = check_positive(gain, "gain")
    if seed is not None:
        seed = check_integer(seed, "seed", 0)
    x = np.linspace(-1.0, 1.0, n_points)
    y = np.polynomial.chebyshev.chebval(x, [0.0] * degree + [1.0])
    return MLPRegressionProblem(width, x, y, degree, seed, float(gain))
