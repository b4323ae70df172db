r"""Gradient noise of a finite-sum problem: the covariance trace and the simple noise scale.

For ``L = (1/n) Σ_i ℓ_i`` the per-example gradients ``g_i = ∇ℓ_i(θ)`` have mean
``G = ∇L(θ)`` and covariance ``Σ = (1/n) Σ_i (g_i - G)(g_i - G)ᵀ``.  A minibatch of
``B`` examples drawn with replacement has covariance ``Σ/B`` (without replacement,
``Σ/B · (n - B)/(n - 1)``).  McCandlish et al. (2018) show that the step-size-optimal
progress of SGD at batch ``B`` is ``1/(1 + B_noise/B)`` of the full-batch progress, with
``B_noise = tr(HΣ)/(GᵀHG)``, and that the *simple noise scale*

.. math:: B_{\text{simple}} = \frac{\operatorname{tr}\Sigma}{\lVert G\rVert^2}

(``B_noise`` with ``H ∝ I``) predicts the critical batch size beyond which a larger batch
stops paying for itself.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from gradflow._validation import as_state_array, check_integer
from gradflow.problems import Problem, check_finite_sum

__all__ = ["GradientNoise", "gradient_noise", "simple_noise_scale"]


class GradientNoise(NamedTuple):
    """Gradient-noise statistics at a batch of points (each of shape ``batch``).

    Attributes
    ----------
    trace : ndarray
        ``tr Σ``, the total variance of one per-example gradient.
    grad_norm2 : ndarray
        ``‖G‖²``, the squared norm of the full gradient.
    b_simple : ndarray
        ``tr Σ/‖G‖²`` (``inf`` where ``G = 0``).
    """

    trace: np.ndarray
    grad_norm2: np.ndarray
    b_simple: np.ndarray


def gradient_noise(problem: Problem, theta: ArrayLike, *, ddof: int = 0) -> GradientNoise:
    r"""Covariance trace ``tr Σ`` and simple noise scale of a finite-sum problem.

    Computed exactly from all ``n`` per-example gradients:
    ``tr Σ = Σ_i ‖g_i - G‖²/(n - ddof)`` (``ddof = 0``: the population covariance of
    the data, the one that sets the minibatch variance; ``ddof = 1``: the unbiased
    estimate when the ``n`` examples are a sample of a larger population).

    Parameters
    ----------
    problem : Problem
        A finite-sum problem (``n_samples``, ``per_example_grad``).
    theta : array_like, shape (*batch, d)
        Points.
    ddof : {0, 1}, optional
        Delta degrees of freedom (default 0).

    Returns
    -------
    GradientNoise
        ``trace``, ``grad_norm2``, ``b_simple``, each of shape ``batch``.

    Raises
    ------
    TypeError
        If ``problem`` is not a finite sum.
    ValueError
        If ``theta`` has the wrong shape or ``ddof`` is not 0 or 1 (or ``n <= ddof``).

    References
    ----------
    S. McCandlish, J. Kaplan, D. Amodei and the OpenAI Dota Team, "An empirical model of
    large-batch training", arXiv:1812.06162, 2018, §2.2 and Appendix A.

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.least_squares(np.array([[1.0], [3.0]]), np.zeros(2))
    >>> est = gf.analysis.gradient_noise(p, [1.0])          # g_i = x_i² θ = 1, 9
    >>> float(est.trace), float(est.grad_norm2), float(est.b_simple)
    (16.0, 25.0, 0.64)
    """
    n = check_finite_sum(problem)
    ddof = check_integer(ddof, "ddof", 0, 1)
    if n <= ddof:
        raise ValueError(f"ddof={ddof} needs more than {ddof} examples, got n_samples={n}")
    theta = as_state_array(theta, "theta", problem.dim)
    per = problem.per_example_grad(theta)  # (*batch, n, d)
    G = per.mean(axis=-2)
    dev = per - G[..., None, :]
    trace = np.sum(dev * dev, axis=(-2, -1)) / float(n - ddof)
    norm2 = np.sum(G * G, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        b_simple = np.where(norm2 > 0, trace / np.where(norm2 > 0, norm2, 1.0), np.inf)
    return GradientNoise(trace, norm2, b_simple)


def simple_noise_scale(problem: Problem, theta: ArrayLike) -> np.ndarray:
    r"""``B_simple = tr Σ/‖G‖²`` at ``theta`` (see :func:`gradient_noise`).

    Parameters
    ----------
    problem : Problem
        A finite-sum problem.
    theta : array_like, shape (*batch, d)

    Returns
    -------
    ndarray, shape batch

    Raises
    ------
    TypeError, ValueError
        As :func:`gradient_noise`.

    References
    ----------
    McCandlish et al. 2018 (see :func:`gradient_noise`).

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.least_squares(np.array([[1.0], [3.0]]), np.zeros(2))
    >>> float(gf.analysis.simple_noise_scale(p, [1.0]))
    0.64
    """
    return gradient_noise(problem, theta).b_simple
