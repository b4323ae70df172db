r"""DoG, "distance over gradients" (Ivgi, Hinder & Carmon 2023), and its layer-wise LDoG.

Gradient descent with the step ``η_k = c r̄_k/√G_k``: the largest distance travelled from
the start, ``r̄_k = max(r_ε, max_{i≤k}‖θ_i - θ_0‖)``, over the root of the summed squared
gradient norms ``G_k = Σ_{i≤k}‖g_i‖²``.  ``h`` plays the package's ``lr`` (``c`` in the
paper, default 1).  LDoG applies the same formula to each layer (a block of the flat
``θ``, given by ``shapes``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np

from gradflow._hyper import check_nonnegative, check_positive
from gradflow._validation import check_integer
from gradflow.methods._base import Method, StepResult
from gradflow.methods._dadapt import no_linear_analysis, row_dot, row_h
from gradflow.problems import Problem

__all__ = ["DoG", "DoGState", "LDoG"]

#: The package's ``reps_rel``: ``r_ε = reps_rel (1 + ‖θ_0‖)`` (Ivgi et al. 2023, §3:
#: small enough that the first step cannot overshoot).
REPS_REL = 1e-6


class DoGState(NamedTuple):
    """State of :class:`DoG` and :class:`LDoG` (``L`` = number of layers; 1 for DoG).

    Attributes
    ----------
    theta : ndarray, shape (B, d)
    x0 : ndarray, shape (B, d)
        The starting point.
    rbar : ndarray, shape (B, L)
        ``r̄_k``, the largest distance from ``θ_0`` so far (``r_ε`` at first).
    G : ndarray, shape (B, L)
        ``Σ‖g_i‖²`` (plus ``eps``).
    eta : ndarray, shape (B, L)
        The step ``η = h r̄/√G`` of the last update (0 before the first).
    k : ndarray of int64, shape (B,)
    """

    theta: np.ndarray
    x0: np.ndarray
    rbar: np.ndarray
    G: np.ndarray
    eta: np.ndarray
    k: np.ndarray


def _check_shapes(shapes: Any) -> tuple[tuple[int, ...], ...] | None:
    if shapes is None:
        return None
    if not isinstance(shapes, (tuple, list)) or not shapes:
        raise TypeError(f"shapes must be a non-empty sequence of shapes, got {shapes!r}")
    out = []
    for shape in shapes:
        dims = (shape,) if isinstance(shape, (int, np.integer)) else shape
        if not isinstance(dims, (tuple, list)):
            raise TypeError(f"shapes must hold ints or tuples of ints, got {shape!r}")
        out.append(tuple(check_integer(n, "shapes", 1) for n in dims))
    return tuple(out)


@dataclass(frozen=True)
class DoG(Method):
    r"""DoG, as ``dog.DoG``: gradient descent with the distance-over-gradients step.

    With ``g_k = ∇L(θ_k) + λ_wd θ_k``:

    .. math:: \bar r_0 = r_\varepsilon = \text{reps\_rel}\,(1 + \|\theta_0\|),\quad
              \bar r_k = \max(\bar r_{k-1}, \|\theta_k - \theta_0\|),\quad
              G_k = \varepsilon + \sum_{i \le k}\|g_i\|^2,

    .. math:: \eta_k = h\,\frac{\bar r_k}{\sqrt{G_k}},\qquad
              \theta_{k+1} = \theta_k - \eta_k g_k

    (``init_eta``, when given, replaces ``η_0`` and sets ``r_ε = 0``).  The paper
    recommends iterate averaging on top; this is the plain iterate, as the package's
    optimiser.

    **ODE.**  In ``t = kh`` there is none: ``G_k`` grows like ``k``, so ``η_k/h`` decays
    like ``k^{-1/2}`` on the step count, not on ``t`` (AdaGrad-norm's clock, of which DoG
    is the step-size-free variant).  Read in its own time ``τ_k = Σ_{i<k} η_i`` DoG is
    explicit Euler (order 1) on the gradient flow ``dθ/dτ = -∇L(θ)``, with ``η_k`` a
    step-size rule.

    **Stability**: no amplification matrix (the step depends on the run); on a
    quadratic ``η_k`` grows while ``r̄`` grows, and is bounded because ``G`` grows at
    least as fast once the iterates oscillate (Ivgi et al. 2023, §3.3: DoG's iterates
    stay within a constant factor of ``‖θ_0 - θ*‖`` with high probability).

    Parameters
    ----------
    reps_rel : float, optional
        ``r_ε/(1 + ‖θ_0‖)`` (default ``1e-6``, the package's; ``1e-4`` for networks with
        batch normalisation).
    weight_decay : float, optional
        L2 coefficient added to the gradient (default 0).
    eps : float, optional
        Added to ``G`` (default ``1e-8``).
    init_eta : float or None, optional
        An explicit first step (default None).

    Raises
    ------
    TypeError
        If a parameter is not a real number.
    ValueError
        If ``reps_rel <= 0``, ``weight_decay < 0``, ``eps < 0`` or ``init_eta <= 0``.

    References
    ----------
    M. Ivgi, O. Hinder and Y. Carmon, "DoG is SGD's best friend: a parameter-free
    dynamic step size schedule", ICML 2023, Algorithm 1 and §3.
    The ``dog-optimizer`` package, version 1.0.3, ``dog.DoG``.

    Examples
    --------
    The step ``r̄/√G`` (every parameter shares it) along a run, from
    :func:`gradflow.analysis.track_effective_stepsize`:

    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 10.0], seed=0)
    >>> dog = gf.methods.DoG()
    >>> tracker = gf.analysis.track_effective_stepsize(p, dog, every=250)
    >>> traj = gf.solve(p, np.ones(2), dog, 1.0, steps=1000, callback=tracker)
    >>> tracker.values[:, 0].round(4)        # from r_ε/‖g_0‖ up to a plateau below 2/10
    array([0.    , 0.022 , 0.0226, 0.0226, 0.0226])
    >>> bool(traj.loss[-1] < 1e-12)
    True
    """

    linear_analysis: ClassVar[bool] = False

    reps_rel: float = REPS_REL
    weight_decay: float = 0.0
    eps: float = 1e-8
    init_eta: float | None = None
    order: ClassVar[int] = 1
    ode: ClassVar[str] = "dθ/dτ = -∇L(θ) in τ = Σ η_k (η_k = h r̄_k/√G_k); none in t = kh"
    grads_per_step: ClassVar[int] = 1

    def __post_init__(self) -> None:
        check_positive(self.reps_rel, "reps_rel")
        check_nonnegative(self.weight_decay, "weight_decay")
        check_nonnegative(self.eps, "eps")
        if self.init_eta is not None:
            check_positive(self.init_eta, "init_eta")

    def _layers(self, d: int) -> np.ndarray | None:
        """Start index of every layer (``None``: one layer, the whole vector)."""
        return None

    def _sums(self, a: np.ndarray, b: np.ndarray, starts: np.ndarray | None) -> np.ndarray:
        """Per-layer ``Σ a_i b_i`` of every row, shape ``(B, L)``."""
        if starts is None:
            return row_dot(a, b)[:, None]
        return np.add.reduceat(a * b, starts, axis=-1)

    def _expand(self, per_layer: np.ndarray, starts: np.ndarray | None, d: int) -> np.ndarray:
        """A ``(B, L)`` per-layer value as ``(B, d)``."""
        if starts is None:
            return np.broadcast_to(per_layer, (per_layer.shape[0], d))
        return np.repeat(per_layer, np.diff(np.append(starts, d)), axis=-1)

    def init(self, problem: Problem, theta0: np.ndarray) -> DoGState:
        """``θ_0`` kept, ``r̄``, ``G`` and ``η`` at zero until the first step."""
        rows, d = theta0.shape
        starts = self._layers(d)
        n = 1 if starts is None else starts.size
        z = np.zeros((rows, n), dtype=theta0.dtype)
        return DoGState(theta0, theta0.copy(), z, z, z, np.zeros(rows, dtype=np.int64))

    def step(self, problem: Problem, state: DoGState, h: np.ndarray) -> StepResult:
        """One ``dog.DoG`` (``dog.LDoG``) step for every element."""
        theta, x0, rbar, G, _, k = state
        rows, d = theta.shape
        starts = self._layers(d)
        g = problem.grad(theta)
        if self.weight_decay:
            g = g + self.weight_decay * theta
        first = (k == 0)[:, None]
        gsq = self._sums(g, g, starts)
        if first.all():
            start = np.sqrt(self._sums(theta, theta, starts))
            rbar_new = (0.0 if self.init_eta is not None else self.reps_rel) * (1.0 + start)
            G_new = gsq + self.eps
        else:
            diff = theta - x0
            rbar_new = np.maximum(rbar, np.sqrt(self._sums(diff, diff, starts)))
            G_new = G + gsq
            if first.any():  # rows at their first step among others (a restart)
                start = np.sqrt(self._sums(theta, theta, starts))
                r0 = (0.0 if self.init_eta is not None else self.reps_rel) * (1.0 + start)
                rbar_new = np.where(first, r0, rbar_new)
                G_new = np.where(first, gsq + self.eps, G_new)
        eta = row_h(h, rows, theta.dtype)[:, None] * rbar_new / np.sqrt(G_new)
        if self.init_eta is not None:
            eta = np.where(first, np.asarray(self.init_eta, dtype=theta.dtype), eta)
        theta_new = theta - self._expand(eta, starts, d) * g
        return StepResult(DoGState(theta_new, x0, rbar_new, G_new, eta, k + 1))

    def step_estimate(self, state: DoGState) -> np.ndarray:
        """``r̄_k/√G_k`` of every element (and layer): the step of the last update
        divided by ``h``, shape ``(B, L)`` (``L = 1`` for DoG).

        Parameters
        ----------
        state : DoGState

        Returns
        -------
        ndarray, shape (B, L)
        """
        with np.errstate(divide="ignore", invalid="ignore"):  # nan before the first step
            return state.rbar / np.sqrt(state.G)

    def effective_stepsize(self, state: DoGState, h: Any) -> np.ndarray:
        """``η_k = h r̄_k/√G_k`` of the last update, per parameter (shape ``(B, d)``;
        ``nan`` before the first step).

        Parameters
        ----------
        state : DoGState
        h : float or array_like
            Unused: ``η`` already holds ``h``.

        Returns
        -------
        ndarray, shape (B, d)
        """
        d = state.theta.shape[-1]
        out = np.array(self._expand(state.eta, self._layers(d), d))
        out[state.k == 0] = np.nan
        return out

    def amplification_matrix(self) -> Any:
        """Raises: the step is a running estimate, not a fixed linear map."""
        raise no_linear_analysis(self.name)


@dataclass(frozen=True)
class LDoG(DoG):
    r"""Layer-wise DoG, as ``dog.LDoG``: :class:`DoG`'s step for each layer separately.

    The flat ``θ`` of length ``d`` is split into consecutive layers of sizes
    ``prod(shape)`` for ``shape`` in ``shapes`` (e.g. ``((2, 8), (8,), (8, 1), (1,))``
    for a 2-8-1 network's weights and biases, in the order the problem flattens them;
    the sizes must add up to ``d``); each layer ``l`` keeps its own ``r̄_l`` and ``G_l``
    and moves by ``η_l = h r̄_l/√G_l``.  ``shapes=None`` (default) is one layer, the
    whole vector: then LDoG is DoG.

    Parameters
    ----------
    shapes : sequence of int or tuple of int, optional
        The layer shapes (default None: one layer).
    reps_rel, weight_decay, eps, init_eta
        As :class:`DoG` (``r_ε`` per layer, from each layer's ``‖θ_0‖``).

    Raises
    ------
    TypeError
        If ``shapes`` is not a sequence of shapes, or a parameter has the wrong type.
    ValueError
        If a size is below 1, or (at :meth:`init`) the sizes do not add up to ``d``.

    References
    ----------
    M. Ivgi, O. Hinder and Y. Carmon, "DoG is SGD's best friend: a parameter-free
    dynamic step size schedule", ICML 2023, §3.4 (layer-wise DoG).
    The ``dog-optimizer`` package, version 1.0.3, ``dog.LDoG``.

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 10.0, 100.0], seed=0)
    >>> ldog = gf.methods.LDoG(shapes=((2,), (1,)))
    >>> s = ldog.init(p, np.ones((1, 3)))
    >>> for _ in range(50):
    ...     s = ldog.step(p, s, np.array([1.0])).state
    >>> s.eta.shape                                      # one step per layer
    (1, 2)
    """

    shapes: Any = None

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "shapes", _check_shapes(self.shapes))

    def _layers(self, d: int) -> np.ndarray | None:
        if self.shapes is None:
            return None
        sizes = [math.prod(s) for s in self.shapes]
        if sum(sizes) != d:
            raise ValueError(
                f"shapes: the layer sizes {sizes} add up to {sum(sizes)}, but θ has d = {d}"
            )
        return np.cumsum([0, *sizes[:-1]])
