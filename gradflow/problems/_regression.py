r"""Data-fitting losses: linear least squares and (L2-regularised) logistic regression.

Both are averages over examples, :math:`L(\theta) = \frac1n \sum_i \ell_i(\theta)`, which
is what stochastic methods sample; :meth:`per_example_grad` returns the per-example
gradients :math:`\nabla \ell_i` whose mean is the full gradient.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from gradflow._validation import as_state_array, check_nonnegative
from gradflow.problems._minibatch import as_minibatch
from gradflow.problems._problem import Problem, as_batch
from gradflow.problems._rowstable import fixed_matrix, row_matmul

__all__ = [
    "LeastSquaresProblem",
    "LogisticRegressionProblem",
    "least_squares",
    "logistic_regression",
]


def _expit(m: np.ndarray) -> np.ndarray:
    """The logistic sigmoid ``1 / (1 + e^{-m})`` for every ``m``, without a warning.

    Where ``e^{-m}`` overflows (``m < -709`` in float64, ``m < -88`` in float32) the
    quotient is 0, the nearest normal number to ``σ(m) < 2^-1022``; elsewhere it is
    within a few ulp of ``σ(m)``.  One exponential per entry, and it keeps the dtype.
    (numpy has no sigmoid; scipy's would cost scipy.special's import time at
    ``import gradflow``.)
    """
    with np.errstate(over="ignore"):
        e = np.exp(-m)
    e += 1.0
    return np.divide(1.0, e, out=e)


def _label_slope(m: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``-y σ(-m) = -y / (1 + e^m)``, the derivative of ``log(1 + e^{-m})`` times ``y``.

    Computed in place in ``m`` (which it returns) with one exponential; exact in the
    division for labels ``y = ±1`` (``-y / t`` is ``-y · (1 / t)`` to the bit).  Where
    ``e^m`` overflows the result is 0 (see :func:`_expit`); the caller runs under
    ``numpy.errstate`` (every :class:`~gradflow.Problem` evaluation does), so the
    overflow is silent.
    """
    e = np.exp(m, out=m)
    e += 1.0
    return np.divide(-y, e, out=e)


def _sigmoid_slope(m: np.ndarray) -> np.ndarray:
    """``σ'(m) = σ(m) σ(-m) = e / (1 + e)^2`` with ``e = e^{-|m|}``, in place in ``m``.

    ``e <= 1`` never overflows, and the formula is symmetric in ``m``, so it is accurate
    to a few ulp in both tails with a single exponential.
    """
    np.abs(m, out=m)
    np.negative(m, out=m)
    e = np.exp(m, out=m)
    denom = e + 1.0
    denom *= denom
    return np.divide(e, denom, out=e)


def _validate_data(X: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """``X`` as a finite float64 (n, d) matrix and ``y`` as a float64 (n,) vector."""
    X = as_state_array(X, "X").astype(np.float64)
    if X.ndim != 2 or X.shape[1] == 0:
        raise ValueError(f"X must be a non-empty 2-D array (n, d), got shape {X.shape}")
    y = as_state_array(y, "y").astype(np.float64)
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},) to match X, got {y.shape}")
    return X, y


class _DataProblem(Problem):
    """Shared storage of ``X``, ``y`` and their per-dtype casts.

    Every product of a batch with the data goes through
    :func:`~gradflow.problems._rowstable.row_matmul`, so each row of a batch is computed
    on its own: batched and single evaluations agree bit for bit.
    """

    def _set_data(self, X: np.ndarray, y: np.ndarray) -> None:
        self.X = X
        self.y = y
        self.n_samples = X.shape[0]
        # Casting the data to float32 on every call would copy n*d numbers each time.
        self._cast_cache: dict[np.dtype, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def _data(self, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``X``, ``y`` and ``Xᵀ`` cast to ``dtype``, the matrices aligned (cached)."""
        key = np.dtype(dtype)
        if key not in self._cast_cache:
            self._cast_cache[key] = (
                fixed_matrix(self.X, key),
                self.y.astype(key),
                fixed_matrix(self.X.T, key),
            )
        return self._cast_cache[key]


class LeastSquaresProblem(_DataProblem):
    r"""Linear least squares :math:`L(\theta) = \lVert X\theta - y\rVert^2 / (2n)`.

    Built by :func:`least_squares`.

    Parameters
    ----------
    X : ndarray, shape (n, d)
        Design matrix (validated, float64).
    y : ndarray, shape (n,)
        Targets (validated, float64).

    Attributes
    ----------
    X, y : ndarray
        The data.
    n_samples : int
        ``n``.

    Raises
    ------
    None
        The arguments are trusted; :func:`least_squares` validates user input.

    References
    ----------
    See :func:`least_squares`.

    Examples
    --------
    >>> import numpy as np
    >>> p = LeastSquaresProblem(np.eye(2), np.array([1.0, 2.0]))
    >>> p.minimizers, p.minimum
    (array([[1., 2.]]), 0.0)
    """

    def __init__(self, X: np.ndarray, y: np.ndarray) -> None:
        self._set_data(X, y)
        n, d = X.shape
        gram = (X.T @ X) / n
        self._gram = 0.5 * (gram + gram.T)  # symmetric to the last bit
        self._gram_cache: dict[np.dtype, np.ndarray] = {}

        def loss(theta: ArrayLike) -> np.ndarray:
            theta = as_batch(theta, d)
            _, yy, xt = self._data(theta.dtype)
            r = row_matmul(theta, xt, minus=yy)
            return np.sum(r * r, axis=-1) / (2.0 * n)

        def grad(theta: ArrayLike) -> np.ndarray:
            theta = as_batch(theta, d)
            xx, yy, xt = self._data(theta.dtype)
            g = row_matmul(row_matmul(theta, xt, minus=yy), xx)
            g /= float(n)
            return g

        def hvp(theta: ArrayLike, v: ArrayLike) -> np.ndarray:
            theta = as_batch(theta, d)
            xx, _, xt = self._data(theta.dtype)
            v = np.broadcast_to(
                np.asarray(v, dtype=theta.dtype), np.broadcast_shapes(theta.shape, np.shape(v))
            )
            # X^T (X v) / n costs O(nd) per row, cheaper than the dense d x d Hessian.
            out = row_matmul(row_matmul(v, xt), xx)
            out /= float(n)
            return out

        def hessian(theta: ArrayLike) -> np.ndarray:
            theta = as_batch(theta, d)
            key = theta.dtype
            if key not in self._gram_cache:
                self._gram_cache[key] = self._gram.astype(key)
            return np.broadcast_to(self._gram_cache[key], (*theta.shape[:-1], d, d)).copy()

        minimizer = np.linalg.lstsq(X, y, rcond=None)[0]
        residual = X @ minimizer - y
        super().__init__(
            loss=loss,
            grad=grad,
            dim=d,
            hvp=hvp,
            hessian=hessian,
            name="least_squares",
            minimum=float(residual @ residual) / (2.0 * n),
            minimizers=minimizer[None, :],
        )
        # Closures: pickled as this call (the aligned casts are made again, not pickled).
        self._rebuilt_by(LeastSquaresProblem, X, y)

    def per_example_grad(self, theta: ArrayLike) -> np.ndarray:
        r"""Per-example gradients :math:`\nabla \ell_i = (x_i^\top\theta - y_i)\, x_i`.

        With :math:`\ell_i = \tfrac12 (x_i^\top\theta - y_i)^2` the loss is
        :math:`L = \frac1n \sum_i \ell_i`, so the mean over axis ``-2`` is ``grad``.

        Parameters
        ----------
        theta : array_like, shape (*batch, d)

        Returns
        -------
        ndarray, shape (*batch, n, d)

        Raises
        ------
        ValueError
            If the last axis of ``theta`` is not ``d``.
        TypeError
            If ``theta`` does not hold real numbers.

        Examples
        --------
        >>> import numpy as np
        >>> p = least_squares(np.ones((3, 2)), np.zeros(3))
        >>> p.per_example_grad(np.zeros((4, 2))).shape
        (4, 3, 2)
        """
        theta = as_batch(theta, self.dim)
        xx, yy, xt = self._data(theta.dtype)
        with np.errstate(all="ignore"):  # overflow is inf, silently (see Problem)
            r = row_matmul(theta, xt, minus=yy)
            return r[..., :, None] * xx

    def minibatch_grad(self, theta: ArrayLike, index: ArrayLike) -> np.ndarray:
        r"""Mean gradient over the indexed examples: :math:`X_S^\top(X_S\theta - y_S)/B`.

        Row ``r`` of ``theta`` gets the gradient of
        :math:`\frac1B \sum_b \ell_{S_b}` with :math:`S` = ``index[r]``, computed from the
        ``B`` gathered rows ``X[index[r]]`` only: O(rows·B·d) time and memory (the
        finite-sum protocol, :mod:`gradflow.problems._minibatch`).  Each row is computed
        on its own (:func:`numpy.einsum`, no BLAS): batched = single, bit for bit.

        Parameters
        ----------
        theta : array_like, shape (rows, *extra, d)
        index : array_like of int, shape (rows, B)
            Example indices in ``[0, n)`` of every row (repeats are allowed and counted).

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
        L. Bottou, F. E. Curtis and J. Nocedal, "Optimization methods for large-scale
        machine learning", SIAM Review 60(2), 223-311, 2018, §3.

        Examples
        --------
        >>> import numpy as np
        >>> p = least_squares(np.eye(3), np.array([1.0, 2.0, 3.0]))
        >>> p.minibatch_grad(np.zeros((1, 3)), [[0, 2]])
        array([[-0.5,  0. , -1.5]])
        """
        th, idx = as_minibatch(theta, index, self.dim, self.n_samples)
        xx, yy, _ = self._data(th.dtype)
        xs = xx.take(idx, axis=0)  # (rows, B, d): the drawn examples only
        with np.errstate(all="ignore"):  # overflow is inf, silently (see Problem)
            r = np.einsum("rbd,red->reb", xs, th)
            r -= yy.take(idx)[:, None, :]
            g = np.einsum("reb,rbd->red", r, xs)
            g /= float(idx.shape[1])
        return g.reshape(np.shape(theta))

    def minibatch_hvp(self, theta: ArrayLike, v: ArrayLike, index: ArrayLike) -> np.ndarray:
        r"""Exact HVP of the minibatch loss, :math:`X_S^\top X_S v / B` per row.

        Parameters
        ----------
        theta : array_like, shape (rows, *extra, d)
            Points (the minibatch Hessian does not depend on them).
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
        >>> import numpy as np
        >>> p = least_squares(np.eye(3), np.zeros(3))
        >>> p.minibatch_hvp(np.zeros((1, 3)), np.ones((1, 3)), [[0, 2]])
        array([[0.5, 0. , 0.5]])
        """
        theta = as_batch(theta, self.dim)
        v = np.asarray(v, dtype=theta.dtype)
        theta, v = np.broadcast_arrays(theta, v)
        th, idx = as_minibatch(theta, index, self.dim, self.n_samples)
        vv = np.ascontiguousarray(v).reshape(th.shape)
        xs = self._data(th.dtype)[0].take(idx, axis=0)
        with np.errstate(all="ignore"):
            xv = np.einsum("rbd,red->reb", xs, vv)
            out = np.einsum("reb,rbd->red", xv, xs) / float(idx.shape[1])
        return out.reshape(theta.shape)

    def minibatch_loss(self, theta: ArrayLike, index: ArrayLike) -> np.ndarray:
        r"""Mean loss over the indexed examples, :math:`\lVert X_S\theta - y_S\rVert^2/(2B)`.

        The minibatch loss a stochastic Polyak step needs (:class:`gradflow.methods.SPS`);
        each row on its own (:func:`numpy.einsum`, no BLAS).

        Parameters
        ----------
        theta : array_like, shape (rows, d)
        index : array_like of int, shape (rows, B)

        Returns
        -------
        ndarray, shape (rows,)

        Raises
        ------
        TypeError, ValueError
            As :meth:`minibatch_grad`.

        References
        ----------
        N. Loizou, S. Vaswani, I. Laradji and S. Lacoste-Julien, "Stochastic Polyak
        step-size for SGD", AISTATS 2021 (the loss ``f_i`` of the sampled batch).

        Examples
        --------
        >>> import numpy as np
        >>> p = least_squares(np.eye(3), np.array([1.0, 2.0, 3.0]))
        >>> p.minibatch_loss(np.zeros((1, 3)), [[0, 2]])
        array([2.5])
        """
        th, idx = as_minibatch(theta, index, self.dim, self.n_samples)
        xx, yy, _ = self._data(th.dtype)
        xs = xx.take(idx, axis=0)
        with np.errstate(all="ignore"):
            r = np.einsum("rbd,red->reb", xs, th)
            r -= yy.take(idx)[:, None, :]
            out = np.einsum("reb,reb->re", r, r) / (2.0 * idx.shape[1])
        return out.reshape(np.shape(theta)[:-1])

    def gauss_newton_bartlett(
        self, theta: ArrayLike, u: ArrayLike, index: ArrayLike | None = None
    ) -> np.ndarray:
        r"""The Gauss–Newton–Bartlett estimate of the Hessian's diagonal.

        Reading :math:`\ell_i` as the negative log-likelihood of
        :math:`y_i \sim N(x_i^\top\theta, 1)`, labels are resampled from the model,
        :math:`\hat y_i = x_i^\top\theta + \xi_i` with :math:`\xi_i = \Phi^{-1}(u_i)`;
        with :math:`\hat g = \frac1B \sum_{i \in S} \nabla\ell_i(\theta; \hat y_i)
        = -\frac1B \sum_i \xi_i x_i` the estimate is :math:`B\,\hat g \odot \hat g`,
        whose mean is :math:`\operatorname{diag}(X_S^\top X_S)/B`, the Hessian's
        diagonal (Liu et al. 2023, §2.3).

        Parameters
        ----------
        theta : array_like, shape (rows, d)
        u : array_like of shape (rows, n), or callable
            Uniforms in ``(0, 1)``, one per example of the data set (those of the
            examples ``index`` are used), or a function ``n -> (rows, n)`` returning
            them.
        index : array_like of int, shape (rows, B), optional
            The minibatch of every row; default every example.

        Returns
        -------
        ndarray, shape (rows, d)

        Raises
        ------
        TypeError, ValueError
            As :meth:`minibatch_grad`, or if ``u`` has the wrong shape.

        References
        ----------
        H. Liu, Z. Li, D. Hall, P. Liang and T. Ma, "Sophia: a scalable stochastic
        second-order optimizer for language model pre-training", ICLR 2024, §2.3.

        Examples
        --------
        >>> import numpy as np
        >>> p = least_squares(np.eye(2), np.zeros(2))
        >>> p.gauss_newton_bartlett(np.zeros((1, 2)), np.full((1, 2), 0.5))  # ξ = 0
        array([[0., 0.]])
        """
        from scipy.special import ndtri

        th, idx, us = _gnb_arguments(self, theta, u, index)
        xs = self._data(th.dtype)[0].take(idx, axis=0)  # (rows, B, d)
        with np.errstate(all="ignore"):
            xi = ndtri(us).astype(th.dtype, copy=False)
            g = np.einsum("rb,rbd->rd", xi, xs) / float(idx.shape[1])
            return idx.shape[1] * (g * g)


class LogisticRegressionProblem(_DataProblem):
    r"""Logistic regression with labels :math:`y_i \in \{-1, +1\}`.

    :math:`L(\theta) = \frac1n \sum_i \log(1 + e^{-y_i x_i^\top\theta})
    + \frac{\lambda}{2}\lVert\theta\rVert^2`.  Built by :func:`logistic_regression`.

    Parameters
    ----------
    X : ndarray, shape (n, d)
        Features (validated, float64).
    y : ndarray, shape (n,)
        Labels in ``{-1, +1}`` (validated, float64).
    l2 : float
        Ridge coefficient ``λ >= 0``.

    Attributes
    ----------
    X, y : ndarray
        The data (labels as ±1).
    n_samples : int
        ``n``.
    l2 : float
        ``λ``.

    Raises
    ------
    None
        The arguments are trusted; :func:`logistic_regression` validates user input.

    References
    ----------
    See :func:`logistic_regression`.

    Examples
    --------
    >>> import numpy as np
    >>> p = LogisticRegressionProblem(np.eye(2), np.array([1.0, -1.0]), 0.0)
    >>> float(p.loss(np.zeros(2))) == float(np.log(2.0))
    True
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, l2: float) -> None:
        self._set_data(X, y)
        self.l2 = l2
        n, d = X.shape

        def margins(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
            """Margins ``y_i x_i^T theta`` (*batch, n), and the data ``X``, ``y``, ``X^T``."""
            xx, yy, xt = self._data(theta.dtype)
            m = row_matmul(theta, xt)  # a new array: the margins are formed in place
            m *= yy
            return m, xx, yy, xt

        def loss(theta: ArrayLike) -> np.ndarray:
            theta = as_batch(theta, d)
            m = margins(theta)[0]
            np.negative(m, out=m)
            # log(1 + e^{-m}) = logaddexp(0, -m): no overflow for very negative margins.
            data = np.sum(np.logaddexp(0.0, m, out=m), axis=-1) / float(n)
            return data + (0.5 * l2) * np.sum(theta * theta, axis=-1)

        def grad(theta: ArrayLike) -> np.ndarray:
            theta = as_batch(theta, d)
            m, xx, yy, _ = margins(theta)
            # d/dm log(1 + e^{-m}) = -σ(-m); chain rule through m = y x^T θ.
            g = row_matmul(_label_slope(m, yy), xx)
            g /= float(n)
            g += l2 * theta
            return g

        def curvature(m: np.ndarray) -> np.ndarray:
            return _sigmoid_slope(m)  # σ'(m), accurate in both tails; overwrites m

        def hvp(theta: ArrayLike, v: ArrayLike) -> np.ndarray:
            theta = as_batch(theta, d)
            v = np.asarray(v, dtype=theta.dtype)
            theta, v = np.broadcast_arrays(theta, v)
            m, xx, _, xt = margins(theta)
            # (1/n) X^T (s * X v) + l2 v: O(nd) per row, y_i^2 = 1 drops out.
            s = curvature(m)
            s *= row_matmul(v, xt)
            out = row_matmul(s, xx)
            out /= float(n)
            out += l2 * v
            return out

        def hessian(theta: ArrayLike) -> np.ndarray:
            theta = as_batch(theta, d)
            m, xx, _, xt = margins(theta)
            weighted = xt * curvature(m)[..., None, :]  # (*batch, d, n)
            h = row_matmul(weighted, xx) / float(n)
            h = 0.5 * (h + np.swapaxes(h, -1, -2))  # exactly symmetric
            idx = np.arange(d)
            h[..., idx, idx] += l2
            return h

        super().__init__(
            loss=loss,
            grad=grad,
            dim=d,
            hvp=hvp,
            hessian=hessian,
            name="logistic_regression",
            minimum=None,
            minimizers=None,
        )
        self._rebuilt_by(LogisticRegressionProblem, X, y, l2)

    def per_example_grad(self, theta: ArrayLike) -> np.ndarray:
        r"""Per-example gradients :math:`\nabla \ell_i = -y_i \sigma(-m_i) x_i + \lambda\theta`.

        With :math:`\ell_i = \log(1 + e^{-m_i}) + \frac{\lambda}{2}\lVert\theta\rVert^2`
        and margins :math:`m_i = y_i x_i^\top\theta`, the loss is
        :math:`L = \frac1n \sum_i \ell_i`, so the mean over axis ``-2`` is ``grad``.

        Parameters
        ----------
        theta : array_like, shape (*batch, d)

        Returns
        -------
        ndarray, shape (*batch, n, d)

        Raises
        ------
        ValueError
            If the last axis of ``theta`` is not ``d``.
        TypeError
            If ``theta`` does not hold real numbers.

        Examples
        --------
        >>> import numpy as np
        >>> p = logistic_regression(np.eye(2), [0, 1])
        >>> p.per_example_grad(np.zeros(2))
        array([[ 0.5,  0. ],
               [ 0. , -0.5]])
        """
        theta = as_batch(theta, self.dim)
        xx, yy, xt = self._data(theta.dtype)
        with np.errstate(all="ignore"):  # overflow is inf, silently (see Problem)
            m = row_matmul(theta, xt)
            m *= yy
            coef = _label_slope(m, yy)
            return coef[..., :, None] * xx + self.l2 * theta[..., None, :]

    def minibatch_grad(self, theta: ArrayLike, index: ArrayLike) -> np.ndarray:
        r"""Mean gradient over the indexed examples, with the ridge term once.

        With :math:`\ell_i = \log(1 + e^{-m_i}) + \frac{\lambda}{2}\lVert\theta\rVert^2`
        (as in :meth:`per_example_grad`) the minibatch mean is
        :math:`-\frac1B \sum_{i \in S} y_i \sigma(-m_i) x_i + \lambda\theta`, computed
        from the ``B`` gathered rows ``X[index[r]]`` only: O(rows·B·d) (the finite-sum
        protocol, :mod:`gradflow.problems._minibatch`).  Each row is computed on its own
        (:func:`numpy.einsum`, no BLAS): batched = single, bit for bit.  The sigmoid is
        :math:`\sigma(-m) = 1/(1 + e^{m})`, exact in both tails (``e^m = inf`` gives 0).

        Parameters
        ----------
        theta : array_like, shape (rows, *extra, d)
        index : array_like of int, shape (rows, B)
            Example indices in ``[0, n)`` of every row (repeats are allowed and counted).

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
        L. Bottou, F. E. Curtis and J. Nocedal, "Optimization methods for large-scale
        machine learning", SIAM Review 60(2), 223-311, 2018, §3.

        Examples
        --------
        >>> import numpy as np
        >>> p = logistic_regression(np.eye(2), [0, 1])
        >>> p.minibatch_grad(np.zeros((1, 2)), [[1]])
        array([[ 0. , -0.5]])
        """
        th, idx = as_minibatch(theta, index, self.dim, self.n_samples)
        xx, yy, _ = self._data(th.dtype)
        xs, ys = xx.take(idx, axis=0), yy.take(idx)[:, None, :]
        with np.errstate(all="ignore"):  # overflow is inf, silently (see Problem)
            m = np.einsum("rbd,red->reb", xs, th) * ys
            coef = -ys / (1.0 + np.exp(m))  # -y sigma(-m)
            g = np.einsum("reb,rbd->red", coef, xs) / float(idx.shape[1]) + self.l2 * th
        return g.reshape(np.shape(theta))

    def minibatch_hvp(self, theta: ArrayLike, v: ArrayLike, index: ArrayLike) -> np.ndarray:
        r"""Exact HVP of the minibatch loss, :math:`X_S^\top (s \odot X_S v)/B + \lambda v`.

        :math:`s_i = \sigma(m_i)\sigma(-m_i) = e^{-|m_i|}/(1 + e^{-|m_i|})^2`, accurate in
        both tails.

        Parameters
        ----------
        theta : array_like, shape (rows, *extra, d)
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
        T. Hastie, R. Tibshirani and J. Friedman, *The Elements of Statistical Learning*,
        2nd ed., Springer, 2009, §4.4.

        Examples
        --------
        >>> import numpy as np
        >>> p = logistic_regression(np.eye(2), [0, 1])
        >>> p.minibatch_hvp(np.zeros((1, 2)), np.ones((1, 2)), [[0, 1]])
        array([[0.125, 0.125]])
        """
        theta = as_batch(theta, self.dim)
        v = np.asarray(v, dtype=theta.dtype)
        theta, v = np.broadcast_arrays(theta, v)
        th, idx = as_minibatch(theta, index, self.dim, self.n_samples)
        vv = np.ascontiguousarray(v).reshape(th.shape)
        xx, yy, _ = self._data(th.dtype)
        xs = xx.take(idx, axis=0)
        with np.errstate(all="ignore"):
            m = np.einsum("rbd,red->reb", xs, th) * yy.take(idx)[:, None, :]
            e = np.exp(-np.abs(m))
            s = e / ((1.0 + e) * (1.0 + e))
            xv = np.einsum("rbd,red->reb", xs, vv)
            out = np.einsum("reb,rbd->red", s * xv, xs) / float(idx.shape[1]) + self.l2 * vv
        return out.reshape(theta.shape)

    def minibatch_loss(self, theta: ArrayLike, index: ArrayLike) -> np.ndarray:
        r"""Mean loss over the indexed examples, with the ridge term once.

        :math:`\frac1B \sum_{i \in S} \log(1 + e^{-m_i}) + \frac{\lambda}{2}
        \lVert\theta\rVert^2`, the loss a stochastic Polyak step needs
        (:class:`gradflow.methods.SPS`); each row on its own (no BLAS).

        Parameters
        ----------
        theta : array_like, shape (rows, d)
        index : array_like of int, shape (rows, B)

        Returns
        -------
        ndarray, shape (rows,)

        Raises
        ------
        TypeError, ValueError
            As :meth:`minibatch_grad`.

        References
        ----------
        N. Loizou, S. Vaswani, I. Laradji and S. Lacoste-Julien, "Stochastic Polyak
        step-size for SGD", AISTATS 2021.

        Examples
        --------
        >>> import numpy as np
        >>> p = logistic_regression(np.eye(2), [0, 1])
        >>> bool(np.isclose(p.minibatch_loss(np.zeros((1, 2)), [[1]])[0], np.log(2.0)))
        True
        """
        th, idx = as_minibatch(theta, index, self.dim, self.n_samples)
        xx, yy, _ = self._data(th.dtype)
        xs, ys = xx.take(idx, axis=0), yy.take(idx)[:, None, :]
        with np.errstate(all="ignore"):
            m = np.einsum("rbd,red->reb", xs, th) * ys
            data = np.sum(np.logaddexp(0.0, -m), axis=-1) / float(idx.shape[1])
            out = data + (0.5 * self.l2) * np.sum(th * th, axis=-1)
        return out.reshape(np.shape(theta)[:-1])

    def gauss_newton_bartlett(
        self, theta: ArrayLike, u: ArrayLike, index: ArrayLike | None = None
    ) -> np.ndarray:
        r"""The Gauss–Newton–Bartlett estimate of the Hessian's diagonal.

        Labels are resampled from the model, :math:`\hat y_i = +1` if
        :math:`u_i < p_i = \sigma(x_i^\top\theta)` and ``-1`` otherwise; with
        :math:`\hat g = \frac1B \sum_{i \in S} (p_i - [\hat y_i = 1])\, x_i`, the
        gradient of the data term at the sampled labels, the estimate is
        :math:`B\,\hat g \odot \hat g + \lambda`: its mean is the diagonal of the
        Gauss–Newton matrix :math:`\frac1B \sum_i p_i(1 - p_i) x_i x_i^\top` (here the
        Hessian of the data term) plus the ridge term's exact ``λ`` (Liu et al. 2023,
        §2.3).

        Parameters
        ----------
        theta : array_like, shape (rows, d)
        u : array_like of shape (rows, n), or callable
            Uniforms in ``(0, 1)``, one per example of the data set, or a function
            ``n -> (rows, n)`` returning them.
        index : array_like of int, shape (rows, B), optional
            The minibatch of every row; default every example.

        Returns
        -------
        ndarray, shape (rows, d)

        Raises
        ------
        TypeError, ValueError
            As :meth:`minibatch_grad`, or if ``u`` has the wrong shape.

        References
        ----------
        H. Liu, Z. Li, D. Hall, P. Liang and T. Ma, "Sophia: a scalable stochastic
        second-order optimizer for language model pre-training", ICLR 2024, §2.3.

        Examples
        --------
        >>> import numpy as np
        >>> p = logistic_regression(np.eye(2), [0, 1])
        >>> p.gauss_newton_bartlett(np.zeros((1, 2)), np.full((1, 2), 0.25))  # ŷ = +1
        array([[0.125, 0.125]])
        """
        th, idx, us = _gnb_arguments(self, theta, u, index)
        xs = self._data(th.dtype)[0].take(idx, axis=0)  # (rows, B, d)
        with np.errstate(all="ignore"):
            p = 1.0 / (1.0 + np.exp(-np.einsum("rbd,rd->rb", xs, th)))
            r = p - (us < p)
            g = np.einsum("rb,rbd->rd", r, xs) / float(idx.shape[1])
            out = idx.shape[1] * (g * g)
            out += self.l2
            return out


def _gnb_arguments(
    problem: _DataProblem, theta: ArrayLike, u: ArrayLike, index: ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``theta`` (rows, d), the minibatch ``index`` (rows, B) and the uniforms of the
    indexed examples (rows, B), checked, for a ``gauss_newton_bartlett`` hook."""
    theta = as_batch(theta, problem.dim)
    if theta.ndim != 2:
        raise ValueError(f"theta must have shape (rows, {problem.dim}), got {theta.shape}")
    rows, n = theta.shape[0], problem.n_samples
    u = np.asarray(u(n) if callable(u) else u, dtype=np.float64)
    if u.shape != (rows, n):
        raise ValueError(f"u must have shape ({rows}, {n}), one uniform per example")
    if index is None:
        index = np.broadcast_to(np.arange(n), (rows, n))
    th, idx = as_minibatch(theta, index, problem.dim, n)
    return th.reshape(theta.shape), idx, np.take_along_axis(u, idx, axis=1)


def least_squares(X: ArrayLike, y: ArrayLike) -> LeastSquaresProblem:
    r"""Linear least squares :math:`L(\theta) = \frac{1}{2n} \lVert X\theta - y\rVert^2`.

    The factor ``1/(2n)`` makes ``L`` the *mean* of the per-example losses
    :math:`\tfrac12 (x_i^\top\theta - y_i)^2` (so step sizes do not scale with ``n``)
    and the Hessian :math:`X^\top X / n`.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Design matrix, finite.
    y : array_like, shape (n,)
        Targets, finite.

    Returns
    -------
    LeastSquaresProblem
        Exact gradient :math:`X^\top(X\theta - y)/n`, HVP and Hessian; ``minimizers``
        holds the minimum-norm least-squares solution (:func:`numpy.linalg.lstsq`) and
        ``minimum`` its loss.  Attributes ``X``, ``y``, ``n_samples`` and the method
        :meth:`~LeastSquaresProblem.per_example_grad`.

    Raises
    ------
    ValueError
        If ``X`` is not a finite non-empty 2-D array, or ``y`` is not a finite 1-D
        array of length ``n``.
    TypeError
        If ``X`` or ``y`` does not hold real numbers.

    References
    ----------
    Å. Björck, *Numerical Methods for Least Squares Problems*, SIAM, 1996.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.standard_normal((20, 3)), rng.standard_normal(20)
    >>> p = least_squares(X, y)
    >>> bool(np.allclose(p.grad(p.minimizers[0]), 0.0))
    True
    """
    X, y = _validate_data(X, y)
    return LeastSquaresProblem(X, y)


def logistic_regression(X: ArrayLike, y: ArrayLike, l2: float = 0.0) -> LogisticRegressionProblem:
    r"""L2-regularised logistic regression.

    .. math:: L(\theta) = \frac1n \sum_{i=1}^n \log\bigl(1 + e^{-y_i x_i^\top\theta}\bigr)
              + \frac{\lambda}{2} \lVert\theta\rVert^2,

    evaluated stably (``logaddexp`` and an overflow-free sigmoid).  The HVP is
    :math:`\frac1n X^\top (s \odot Xv) + \lambda v` with
    :math:`s_i = \sigma(m_i)\sigma(-m_i)` and margins :math:`m_i = y_i x_i^\top\theta`.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Features, finite (append a column of ones for an intercept).
    y : array_like, shape (n,)
        Labels, all in ``{0, 1}`` or all in ``{-1, +1}`` (converted to ±1).
    l2 : float, optional
        Ridge coefficient ``λ >= 0`` (default 0).

    Returns
    -------
    LogisticRegressionProblem
        Exact gradient, HVP and Hessian; ``minimum`` and ``minimizers`` are None (no
        closed form, and without ridge the infimum is not attained on separable data).

    Raises
    ------
    ValueError
        If ``X`` is not a finite non-empty 2-D real array, ``y`` is not a 1-D array of
        length ``n`` with labels in ``{0, 1}`` or ``{-1, +1}``, or ``l2`` is negative
        or not finite.
    TypeError
        If ``X`` or ``y`` does not hold real numbers, or ``l2`` is not a real number.

    References
    ----------
    T. Hastie, R. Tibshirani and J. Friedman, *The Elements of Statistical Learning*,
    2nd ed., Springer, 2009, §4.4.

    Examples
    --------
    >>> import numpy as np
    >>> p = logistic_regression(np.array([[1.0, 0.5], [-1.0, 2.0]]), [0, 1], l2=0.1)
    >>> p.y
    array([-1.,  1.])
    >>> p.hessian(np.zeros((3, 2))).shape
    (3, 2, 2)
    """
    X, y = _validate_data(X, y)
    labels = set(np.unique(y).tolist())
    if labels <= {0.0, 1.0}:
        y = 2.0 * y - 1.0
    elif not labels <= {-1.0, 1.0}:
        raise ValueError(f"y must hold labels in {{0, 1}} or {{-1, +1}}, got {sorted(labels)}")
    l2 = check_nonnegative(l2, "l2")
    return LogisticRegressionProblem(X, y, float(l2))
