r"""Adafactor (Shazeer & Stern 2018): a factored second moment and a relative step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np

from gradflow._hyper import check_nonnegative, check_positive, check_unit
from gradflow._validation import check_integer
from gradflow.methods._base import Method, StepResult
from gradflow.methods._groups import check_shapes, group_slices
from gradflow.problems import Problem

__all__ = ["Adafactor", "AdafactorState"]

#: Shazeer & Stern's ``ε_2``, the floor of the parameter scale ``RMS(θ)`` (optax's
#: ``scale_by_param_block_rms(min_scale=1e-3)``).
PARAMETER_SCALE_FLOOR = 1e-3


class AdafactorState(NamedTuple):
    """State of :class:`Adafactor` (the statistics of all groups, concatenated).

    Attributes
    ----------
    theta : ndarray, shape (B, d)
    v_row : ndarray, shape (B, R)
        Row statistics of the factored groups: the moving average of ``g² + ε_1``
        averaged over each group's largest axis (optax's ``v_row``).
    v_col : ndarray, shape (B, C)
        Column statistics: averaged over the second-largest axis (optax's ``v_col``).
    v : ndarray, shape (B, V)
        The full second moment of the groups that are not factored.
    m : ndarray, shape (B, d)
        Momentum of the update (zeros without ``momentum``).
    scale : ndarray, shape (B, G)
        Per group, ``max(ε_2, RMS(θ))/max(1, RMS(U)/d)`` of the last step (the factor
        the preconditioned gradient was multiplied by, besides ``h``; ones before the
        first step).
    k : ndarray of int64, shape (B,)
    """

    theta: np.ndarray
    v_row: np.ndarray
    v_col: np.ndarray
    v: np.ndarray
    m: np.ndarray
    scale: np.ndarray
    k: np.ndarray


class _Group(NamedTuple):
    sl: slice  # where the group lies in θ
    shape: tuple[int, ...]
    dims: tuple[int, int] | None  # (d1, d0): second-largest and largest axis, or None
    row: slice  # its entries of v_row / v_col / v
    col: slice
    full: slice


def _rms(x: np.ndarray) -> np.ndarray:
    """Root mean square of every row of a ``(B, n)`` array (a row-wise sum)."""
    return np.sqrt(np.mean(x * x, axis=-1))


@dataclass(frozen=True)
class Adafactor(Method):
    r"""Adafactor as ``optax.adafactor``, with ``h`` as optax's ``learning_rate``.

    For each parameter group ``X`` (a tensor, see ``shapes``) with gradient ``G`` at
    step ``t = k + 1 - decay_offset`` and ``β̂_t = 1 - t^{-c}`` (``c = decay_rate``,
    Shazeer & Stern's ``β̂_{2t} = 1 - t^{-0.8}``; ``β̂_1 = 0``, so the first step takes
    ``G²`` itself):

    * a matrix-shaped group whose two largest axes both have at least
      ``min_dim_size_to_factor`` entries keeps only its row and column means
      (Algorithm 4): ``R_t = β̂_t R_{t-1} + (1 - β̂_t) mean_{col}(G² + ε_1)``,
      ``C_t = β̂_t C_{t-1} + (1 - β̂_t) mean_{row}(G² + ε_1)`` and
      ``V̂_t = R_t C_t / mean(R_t)`` (the rank-1 fit of the second moment in the
      I-divergence); every other group keeps the full
      ``V̂_t = β̂_t V̂_{t-1} + (1 - β̂_t)(G² + ε_1)`` (Algorithm 5);
    * ``U_t = G/√V̂_t``, clipped to ``Û_t = U_t / max(1, RMS(U_t)/d)``;
    * ``X_{t+1} = X_t - h · max(ε_2, RMS(X_t)) · Û_t`` (the relative step; without
      ``multiply_by_parameter_scale`` the factor is 1), optionally through a momentum
      ``M_t = μ M_{t-1} + (1 - μ)(\text{that update})`` (optax's ``ema`` without bias
      correction) and plus ``λ X_t`` (``weight_decay_rate``, *not* multiplied by
      ``h``, as in optax).

    **Conventions.**  optax and this class take ``h`` for the paper's ``ρ_t``; the
    paper's default ``ρ_t = min(10^{-2}, 1/√t)`` is the step-size callable
    ``lambda k: np.minimum(1e-2, 1 / np.sqrt(k + 1))``.  optax factors the two
    *largest* axes and only when both reach ``min_dim_size_to_factor`` (128); Hugging
    Face's ``Adafactor`` factors the last two axes of every tensor of two or more
    dimensions, applies its weight decay as ``θ ← θ(1 - hλ)`` and, with
    ``relative_step=True``, takes ``ρ_t`` itself (with ``warmup_init``,
    ``min(10^{-6} t, 1/√t)``).  optax evaluates ``β̂_t`` in float32; this class in the
    state's dtype (a relative difference of ~1e-8 in ``β̂_t``, documented in the
    tests).  The default ``shapes=None`` is one group, the whole ``θ`` as a vector,
    which is never factored: give ``shapes`` (e.g. ``((784, 128), (128,))``) to
    factor matrix-shaped parameters.

    **ODE** (order 1 in ``t = kh``).  As ``h → 0`` at fixed time ``t = kh`` the step
    count grows and the averaging window of ``β̂_t`` (about ``k^{0.8}`` steps, a time
    ``k^{0.8} h → 0``) shrinks: ``V̂ → G²`` for an unfactored group, and with
    ``ε_1 → 0`` the update tends to the *relative sign flow*

    .. math:: \frac{dX}{dt} = -\max(\varepsilon_2, \operatorname{RMS}(X))\,
              \operatorname{sign}(\nabla_X L)

    (``RMS(sign) <= 1 = d``, so clipping is inactive in the limit); a factored group
    follows the same flow with ``|∇L|`` replaced by the square root of its rank-1 fit
    ``√(R C / mean R)`` of ``∇L²``.

    **Stability.**  No amplification matrix (the preconditioner and the parameter
    scale depend on the state) and no curvature threshold: every coordinate moves by
    at most about ``h·max(ε_2, RMS(X))`` per step (the clipping bounds ``RMS(Û) <=
    d``), so a run does not blow up by a linear instability; at large ``h`` it
    oscillates with that amplitude (relative to its own scale).

    **Effective step size** :meth:`effective_stepsize`: ``h · scale_g / √V̂``, the
    displacement per unit gradient of the last step (without momentum).

    Parameters
    ----------
    min_dim_size_to_factor : int, optional
        Factor a group's second moment only if its two largest axes have at least this
        many entries (default 128, optax's).
    decay_rate : float, optional
        ``c`` in ``β̂_t = 1 - t^{-c}`` (default 0.8), in ``(0, 1]``.
    decay_offset : int, optional
        Steps subtracted from ``t`` (default 0; for fine-tuning, as optax's).
    multiply_by_parameter_scale : bool, optional
        The relative step ``max(ε_2, RMS(X))`` (default True).
    clipping_threshold : float or None, optional
        ``d`` (default 1.0); ``None`` disables the clipping.
    momentum : float or None, optional
        ``μ`` in ``[0, 1)`` of an average of the updates (default None: none).
    weight_decay_rate : float or None, optional
        ``λ >= 0`` added as ``λ X`` to the update (default None: none).
    eps : float, optional
        ``ε_1 > 0`` added to ``G²`` (default ``1e-30``).
    factored : bool, optional
        Factor matrix-shaped groups at all (default True).
    shapes : tuple of tuples of int, optional
        The parameter groups (tensor shapes laid out in order in ``θ``); default
        ``None``: one vector group ``(d,)``.

    Raises
    ------
    TypeError
        If a hyper-parameter has the wrong type.
    ValueError
        If one is out of range, or (when the run starts) the sizes of ``shapes`` do
        not add up to ``d``.

    References
    ----------
    N. Shazeer and M. Stern, "Adafactor: adaptive learning rates with sublinear memory
    cost", ICML 2018, Algorithms 4 and 5, §7 (relative step), §8 (clipping).
    optax documentation, ``optax.adafactor``.
    Hugging Face Transformers documentation, ``transformers.Adafactor``.

    Examples
    --------
    The first step moves every coordinate of an unfactored group by ``h·RMS(θ)``
    (``V̂_1 = G²``; no clipping, since ``RMS(sign G) = 1``):

    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 10.0, 100.0], seed=0)
    >>> opt = gf.methods.Adafactor()
    >>> theta = np.array([[3.0, -4.0, 1.0]])
    >>> s1 = opt.step(p, opt.init(p, theta), np.array([1e-2])).state
    >>> (np.abs(theta - s1.theta) / (1e-2 * np.sqrt(np.mean(theta**2)))).round(10)
    array([[1., 1., 1.]])
    """

    min_dim_size_to_factor: int = 128
    decay_rate: float = 0.8
    decay_offset: int = 0
    multiply_by_parameter_scale: bool = True
    clipping_threshold: float | None = 1.0
    momentum: float | None = None
    weight_decay_rate: float | None = None
    eps: float = 1e-30
    factored: bool = True
    shapes: Any = None
    order: ClassVar[int] = 1
    ode: ClassVar[str] = (
        "dX/dt = -max(ε2, RMS(X)) ∇L/√V̂(∇L²) per group X (V̂ = ∇L², or its rank-1 fit "
        "R C/mean R for a factored group): the relative sign flow; t = kh"
    )
    grads_per_step: ClassVar[int] = 1

    def __post_init__(self) -> None:
        check_integer(self.min_dim_size_to_factor, "min_dim_size_to_factor", 1)
        check_positive(self.decay_rate, "decay_rate")
        if self.decay_rate > 1.0:
            raise ValueError(f"decay_rate must be in (0, 1], got {self.decay_rate!r}")
        check_integer(self.decay_offset, "decay_offset", 0)
        for flag in ("multiply_by_parameter_scale", "factored"):
            if not isinstance(getattr(self, flag), bool):
                raise TypeError(f"{flag} must be a bool, got {getattr(self, flag)!r}")
        if self.clipping_threshold is not None:
            check_positive(self.clipping_threshold, "clipping_threshold")
        if self.momentum is not None:
            check_unit(self.momentum, "momentum")
        if self.weight_decay_rate is not None:
            check_nonnegative(self.weight_decay_rate, "weight_decay_rate")
        check_positive(self.eps, "eps")
        object.__setattr__(self, "shapes", check_shapes(self.shapes))

    # -- layout ---------------------------------------------------------------------
    def _factored_dims(self, shape: tuple[int, ...]) -> tuple[int, int] | None:
        """optax's choice: the two largest axes, if both reach the threshold."""
        if not self.factored or len(shape) < 2:
            return None
        order = np.argsort(shape)
        if shape[order[-2]] < self.min_dim_size_to_factor:
            return None
        return int(order[-2]), int(order[-1])

    def _layout(self, d: int) -> list[_Group]:
        groups, r = [], [0, 0, 0]  # running sizes of v_row, v_col, v
        for sl, shape in group_slices(self.shapes, d):
            dims = self._factored_dims(shape)
            size = int(np.prod(shape))
            if dims is None:
                sizes = (0, 0, size)
            else:
                d1, d0 = dims
                sizes = (size // shape[d0], size // shape[d1], 0)
            spans = [slice(r[i], r[i] + sizes[i]) for i in range(3)]
            r = [r[i] + sizes[i] for i in range(3)]
            groups.append(_Group(sl, shape, dims, *spans))
        return groups

    def init(self, problem: Problem, theta0: np.ndarray) -> AdafactorState:
        """Zero statistics, unit scales, counters at zero."""
        B, d = theta0.shape
        layout = self._layout(d)
        last = layout[-1]
        z = [
            np.zeros((B, n), dtype=theta0.dtype)
            for n in (last.row.stop, last.col.stop, last.full.stop)
        ]
        ones = np.ones((B, len(layout)), dtype=theta0.dtype)
        return AdafactorState(theta0, *z, np.zeros_like(theta0), ones, np.zeros(B, dtype=np.int64))

    # -- the step -------------------------------------------------------------------
    def _beta(self, k: np.ndarray, dtype: np.dtype) -> np.ndarray:
        """``β̂_t = 1 - t^{-c}`` with ``t = k + 1 - decay_offset``, as a ``(B, 1)`` column."""
        t = (k + 1 - self.decay_offset).astype(np.float64)
        return (1.0 - t ** (-self.decay_rate)).astype(dtype, copy=False)[:, None]

    def _factored_update(
        self, grp: _Group, g: np.ndarray, gsq: np.ndarray, state: Any, beta: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``G/√V̂`` of a factored group and its new row / column statistics."""
        B = g.shape[0]
        d1, d0 = grp.dims
        row_shape = tuple(n for i, n in enumerate(grp.shape) if i != d0)
        col_shape = tuple(n for i, n in enumerate(grp.shape) if i != d1)
        bt = beta.reshape((B,) + (1,) * (len(grp.shape) - 1))  # β̂ of each row
        vr = state.v_row[:, grp.row].reshape(B, *row_shape) * bt
        vr += (1.0 - bt) * gsq.mean(axis=1 + d0)
        vc = state.v_col[:, grp.col].reshape(B, *col_shape) * bt
        vc += (1.0 - bt) * gsq.mean(axis=1 + d1)
        reduced_d1 = d1 - 1 if d1 > d0 else d1
        row_factor = (vr / vr.mean(axis=1 + reduced_d1, keepdims=True)) ** -0.5
        col_factor = vc**-0.5
        pre = np.expand_dims(row_factor, 1 + d0) * np.expand_dims(col_factor, 1 + d1)
        return (g * pre).reshape(B, -1), vr.reshape(B, -1), vc.reshape(B, -1)

    def step(self, problem: Problem, state: AdafactorState, h: np.ndarray) -> StepResult:
        """One ``optax.adafactor`` step for every element."""
        theta, k = state.theta, state.k
        g_all = problem.grad(theta)
        B, dtype = theta.shape[0], theta.dtype
        beta = self._beta(k, dtype)
        v_row, v_col, v = state.v_row.copy(), state.v_col.copy(), state.v.copy()
        scale = np.empty_like(state.scale)
        update = np.empty_like(theta)
        for j, grp in enumerate(self._layout(theta.shape[-1])):  # groups, not trajectories
            g = g_all[:, grp.sl]
            gsq = g * g
            gsq += self.eps
            if grp.dims is None:
                v_new = state.v[:, grp.full] * beta
                v_new += (1.0 - beta) * gsq
                v[:, grp.full] = v_new
                u = g / np.sqrt(v_new)
            else:
                shaped = (B, *grp.shape)
                u, v_row[:, grp.row], v_col[:, grp.col] = self._factored_update(
                    grp, g.reshape(shaped), gsq.reshape(shaped), state, beta
                )
            factor = np.ones(B, dtype=dtype)
            if self.clipping_threshold is not None:
                factor /= np.maximum(1.0, _rms(u) / self.clipping_threshold)
            if self.multiply_by_parameter_scale:
                factor *= np.maximum(PARAMETER_SCALE_FLOOR, _rms(theta[:, grp.sl]))
            scale[:, j] = factor
            update[:, grp.sl] = u * factor[:, None]
        # optax's order: clip, then h, then the parameter scale (multiplications commute
        # only up to rounding, so the same order keeps its bits).
        update *= h
        m = state.m
        if self.momentum is not None:
            m = m * self.momentum
            m += (1.0 - self.momentum) * update
            update = m.copy()
        if self.weight_decay_rate is not None:
            update += self.weight_decay_rate * theta
        new = AdafactorState(theta - update, v_row, v_col, v, m, scale, k + 1)
        return StepResult(new, None, 1)

    def effective_stepsize(self, state: AdafactorState, h: Any) -> np.ndarray:
        """``h · scale_g/√V̂_k``: the per-parameter step of the last update per unit
        gradient (shape ``(B, d)``; ``nan`` before the first step; momentum and weight
        decay aside).

        Parameters
        ----------
        state : AdafactorState
        h : float or array_like

        Returns
        -------
        ndarray, shape (B, d)
        """
        theta = state.theta
        B = theta.shape[0]
        out = np.empty_like(theta)
        with np.errstate(divide="ignore", invalid="ignore"):
            for j, grp in enumerate(self._layout(theta.shape[-1])):
                if grp.dims is None:
                    pre = state.v[:, grp.full] ** -0.5
                else:
                    d1, d0 = grp.dims
                    rs = tuple(n for i, n in enumerate(grp.shape) if i != d0)
                    cs = tuple(n for i, n in enumerate(grp.shape) if i != d1)
                    vr = state.v_row[:, grp.row].reshape(B, *rs)
                    vc = state.v_col[:, grp.col].reshape(B, *cs)
                    reduced = d1 - 1 if d1 > d0 else d1
                    rf = (vr / vr.mean(axis=1 + reduced, keepdims=True)) ** -0.5
                    pre = np.expand_dims(rf, 1 + d0) * np.expand_dims(vc**-0.5, 1 + d1)
                    pre = pre.reshape(B, -1)
                out[:, grp.sl] = pre * state.scale[:, j : j + 1]
            out *= np.asarray(h, dtype=theta.dtype)
        out[state.k == 0] = np.nan
        return out

    def amplification_matrix(self) -> Any:
        """Raises: Adafactor is not linear in the state."""
        raise NotImplementedError(
            "Adafactor is not linear in the state (its preconditioner and relative step "
            "depend on it), so it has no amplification matrix; each step moves a "
            "coordinate by at most about h·max(ε2, RMS(X)) (update clipping)"
        )
