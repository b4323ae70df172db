"""Cyclical schedules: Smith's one-cycle policy (PyTorch's and optax's) and cyclical
learning rates."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from gradflow._validation import check_real
from gradflow.schedules._base import (
    Schedule,
    _choice,
    _count,
    _fmt,
    _int_power,
    _rows,
    _shape,
    _values,
    as_steps,
)

__all__ = ["cyclic", "linear_onecycle", "one_cycle"]

#: PyTorch ``OneCycleLR`` defaults for the cycled momentum (Smith 2018, §4.2).
BASE_MOMENTUM = 0.85
MAX_MOMENTUM = 0.95
#: PyTorch ``CyclicLR`` defaults for the cycled momentum.
CYCLIC_BASE_MOMENTUM = 0.8
CYCLIC_MAX_MOMENTUM = 0.9
#: Cycles of :func:`cyclic` shown by default in plots.
SPAN_CYCLES = 3
#: Halvings of ``"triangular2"`` beyond which the amplitude is 0 in float64 (2^-1075).
MAX_HALVINGS = 1100

_ANNEALS = ("cos", "linear")
_MODES = ("triangular", "triangular2", "exp_range")


def _anneal_cos(start: Any, end: Any, pct: np.ndarray) -> np.ndarray:
    # PyTorch's _annealing_cos, same operation order.
    return end + (start - end) / 2.0 * (np.cos(np.pi * pct) + 1)


def _anneal_linear(start: Any, end: Any, pct: np.ndarray) -> np.ndarray:
    return (end - start) * pct + start


class _OneCycle(Schedule):
    name = "one_cycle"

    @classmethod
    def _example(cls) -> Schedule:
        return cls(0.1, 100, 0.3, "cos", 25.0, 1e4, False, 0.85, 0.95)

    def __init__(
        self,
        max_lr: ArrayLike,
        total_steps: int,
        pct_start: float,
        anneal: str,
        div_factor: ArrayLike,
        final_div_factor: ArrayLike,
        three_phase: bool,
        base_momentum: ArrayLike,
        max_momentum: ArrayLike,
    ) -> None:
        self.max_lr = _values(max_lr, "max_lr")
        self.total_steps = _count(total_steps, "total_steps", 1)
        try:
            pct = float(pct_start)
        except (TypeError, ValueError):
            raise ValueError(f"pct_start must be a number in (0, 1), got {pct_start!r}") from None
        if not 0.0 < pct < 1.0:
            raise ValueError(f"pct_start must lie in (0, 1), got {pct_start!r}")
        self.pct_start = pct
        self.anneal = _choice(anneal, "anneal", _ANNEALS)
        self.div_factor = _values(div_factor, "div_factor")
        self.final_div_factor = _values(final_div_factor, "final_div_factor")
        if not isinstance(three_phase, (bool, np.bool_)):
            raise ValueError(f"three_phase must be a bool, got {three_phase!r}")
        self.three_phase = bool(three_phase)
        if self.three_phase and pct >= 0.5:
            raise ValueError(
                f"pct_start must be < 0.5 with three_phase=True (the way down mirrors the way "
                f"up), got {pct_start!r}"
            )
        self.base_momentum = _values(base_momentum, "base_momentum", positive=False)
        self.max_momentum = _values(max_momentum, "max_momentum", positive=False)
        self.shape = _shape(self.max_lr, self.div_factor, self.final_div_factor)
        self.horizon = self.total_steps - 1
        self.span = self.total_steps
        self.initial_lr = self.max_lr / self.div_factor
        self.min_lr = self.initial_lr / self.final_div_factor
        # Phase ends as PyTorch computes them: floats, the peak at pct·T - 1.
        T = self.total_steps
        lo, hi = self.base_momentum, self.max_momentum
        if self.three_phase:
            self._phases = [
                (float(pct * T) - 1, self.initial_lr, self.max_lr, hi, lo),
                (float(2 * pct * T) - 2, self.max_lr, self.initial_lr, lo, hi),
                (T - 1.0, self.initial_lr, self.min_lr, hi, hi),
            ]
        else:
            self._phases = [
                (float(pct * T) - 1, self.initial_lr, self.max_lr, hi, lo),
                (T - 1.0, self.max_lr, self.min_lr, lo, hi),
            ]

    def _interpolate(self, k: np.ndarray, which: int) -> np.ndarray:
        """Phase-wise anneal of the step size (``which = 1``) or momentum (``3``)."""
        anneal = _anneal_cos if self.anneal == "cos" else _anneal_linear
        step = np.minimum(k, self.horizon).astype(np.float64)
        n = len(self._phases)
        # The first phase whose end is >= k, else the last (PyTorch's loop).
        phase = np.full(step.shape, n - 1, dtype=np.intp)
        for i in range(n - 2, -1, -1):
            phase = np.where(step <= self._phases[i][0], i, phase)
        starts = [0.0] + [p[0] for p in self._phases[:-1]]
        widths = [p[0] - s for p, s in zip(self._phases, starts, strict=True)]
        # A phase of length zero (pct_start·T = 1) is finished where it starts (PyTorch
        # divides by zero there): shift its start back by one so that pct = 1.
        starts = [s - 1.0 if w == 0 else s for s, w in zip(starts, widths, strict=True)]
        widths = [1.0 if w == 0 else w for w in widths]
        pct = (step - np.take(starts, phase)) / np.take(widths, phase)
        a = [p[which] for p in self._phases]
        b = [p[which + 1] for p in self._phases]
        if all(np.ndim(v) == 0 for v in a + b):
            return anneal(np.take(a, phase), np.take(b, phase), pct)
        # Array-valued parameters: anneal every phase and pick (a few passes).
        values = [anneal(x, y, pct) for x, y in zip(a, b, strict=True)]
        shape = np.broadcast_shapes(*(np.shape(v) for v in values))
        return np.choose(np.broadcast_to(phase, shape), [np.broadcast_to(v, shape) for v in values])

    def _evaluate(self, k: np.ndarray) -> np.ndarray:
        return self._interpolate(k, 1)

    def momentum(self, k: ArrayLike) -> Any:
        """The cycled momentum of step ``k`` (PyTorch ``cycle_momentum``).

        It moves opposite to the step size: ``max_momentum → base_momentum`` while the
        step rises, back to ``max_momentum`` while it falls (held at ``max_momentum``
        in the three-phase tail and past the horizon).

        Parameters
        ----------
        k : int or array_like of int
            Step indices ``>= 0``.

        Returns
        -------
        float or ndarray
        """
        steps = as_steps(k)
        with np.errstate(all="ignore"):
            out = np.asarray(self._interpolate(steps, 3), dtype=np.float64)
        return float(out) if out.ndim == 0 else out

    def describe(self) -> str:
        a = "cos" if self.anneal == "cos" else "linear"
        T, p = self.total_steps, self.pct_start
        if self.three_phase:
            path = (
                f"initial → max on [0, {p}·T - 1], max → initial on [{p}·T - 1, 2·{p}·T - 2], "
                f"initial → min on [2·{p}·T - 2, T - 1]"
            )
        else:
            path = f"initial → max on [0, {p}·T - 1], max → min on [{p}·T - 1, T - 1]"
        return (
            f"one cycle with {a} anneals: {path}; T = {T}, max = {_fmt(self.max_lr)}, "
            f"initial = max/{_fmt(self.div_factor)} = {_fmt(self.initial_lr)}, "
            f"min = initial/{_fmt(self.final_div_factor)} = {_fmt(self.min_lr)}; "
            "cos anneal(a → b, p) = b + (a - b)(1 + cos(πp))/2, linear = a + (b - a)p "
            f"(PyTorch OneCycleLR); {self._held()}"
        )

    def _arguments(self) -> dict[str, Any]:
        return {
            "max_lr": self.max_lr,
            "total_steps": self.total_steps,
            "pct_start": self.pct_start,
            "anneal": self.anneal,
            "div_factor": self.div_factor,
            "final_div_factor": self.final_div_factor,
            "three_phase": self.three_phase,
        }


def one_cycle(
    max_lr: ArrayLike,
    total_steps: int,
    pct_start: float = 0.3,
    anneal: str = "cos",
    div_factor: ArrayLike = 25.0,
    final_div_factor: ArrayLike = 1e4,
    three_phase: bool = False,
    *,
    base_momentum: ArrayLike = BASE_MOMENTUM,
    max_momentum: ArrayLike = MAX_MOMENTUM,
) -> Schedule:
    """Smith's one-cycle policy (PyTorch ``OneCycleLR``), with ``.momentum(k)``.

    From ``initial = max_lr/div_factor`` up to ``max_lr`` at ``k = pct_start·T - 1``,
    then down to ``min = initial/final_div_factor`` at ``k = T - 1``, the last of the
    ``T = total_steps`` steps; with ``three_phase`` it goes back down to ``initial``
    at ``2·pct_start·T - 2`` first and then to ``min``.  Phase ends are PyTorch's floats
    (``pct_start·T`` need not be an integer), and each phase anneals with
    ``cos: b + (a - b)(1 + cos(πp))/2`` or ``linear: a + (b - a)p`` for ``p`` the
    fraction of the phase done.  Values equal PyTorch's for ``0 <= k <= T - 1``; from
    ``T - 1`` on the value is held at ``min`` (PyTorch accepts one more step at
    ``k = T`` with a value just past ``min`` and raises after; optax peaks at
    ``int(pct_start·T)`` and ends at ``T``).

    Parameters
    ----------
    max_lr : float or array_like
        Peak step size(s), ``> 0``; an array sweeps peaks.
    total_steps : int
        Number of steps ``T >= 1``.
    pct_start : float, optional
        Fraction of the cycle spent rising, in ``(0, 1)`` (``< 0.5`` with
        ``three_phase``).
    anneal : {"cos", "linear"}, optional
        Shape of each phase.
    div_factor, final_div_factor : float or array_like, optional
        ``> 0``: ``initial = max_lr/div_factor``, ``min = initial/final_div_factor``.
    three_phase : bool, optional
        Use the three-phase variant (fastai's original).
    base_momentum, max_momentum : float or array_like, optional
        Bounds of the cycled momentum returned by ``.momentum(k)`` (0.85, 0.95).

    Returns
    -------
    Schedule
        With a ``momentum(k)`` method.

    Raises
    ------
    ValueError
        If ``max_lr``, ``div_factor`` or ``final_div_factor`` is not positive,
        ``total_steps < 1``, ``pct_start`` is outside ``(0, 1)`` (or ``>= 0.5`` with
        ``three_phase``), or ``anneal`` is unknown.

    References
    ----------
    L. N. Smith and N. Topin, "Super-convergence: very fast training of neural networks
    using large learning rates", arXiv:1708.07120, 2017.
    L. N. Smith, "A disciplined approach to neural network hyper-parameters: part 1",
    arXiv:1803.09820, 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow import schedules
    >>> s = schedules.one_cycle(1.0, total_steps=10, pct_start=0.3, anneal="linear")
    >>> s(np.array([0, 2, 9])).round(4)        # initial, peak at 0.3·10 - 1 = 2, min
    array([0.04, 1.  , 0.  ])
    >>> s.momentum(np.array([0, 2, 9])).round(2)
    array([0.95, 0.85, 0.95])
    """
    return _OneCycle(
        max_lr,
        total_steps,
        pct_start,
        anneal,
        div_factor,
        final_div_factor,
        three_phase,
        base_momentum,
        max_momentum,
    )


def _momentum_bound(value: ArrayLike, name: str) -> np.ndarray:
    """A momentum coefficient (or an array of them) in ``[0, 1)``."""
    return check_real(value, name, low=0.0, high=1.0, high_open=True, allow_array=True)


class _Cyclic(Schedule):
    name = "cyclic"
    _quiet = {  # noqa: RUF012
        "base_momentum": CYCLIC_BASE_MOMENTUM,
        "max_momentum": CYCLIC_MAX_MOMENTUM,
    }

    @classmethod
    def _example(cls) -> Schedule:
        return cls(0.001, 0.1, 20, None, "triangular", 1.0, 0.8, 0.9)

    def __init__(
        self,
        base_lr: ArrayLike,
        max_lr: ArrayLike,
        step_size_up: int,
        step_size_down: int | None,
        mode: str,
        gamma: ArrayLike,
        base_momentum: ArrayLike,
        max_momentum: ArrayLike,
    ) -> None:
        self.base_lr = _values(base_lr, "base_lr")
        self.max_lr = _values(max_lr, "max_lr")
        self.step_size_up = _count(step_size_up, "step_size_up", 1)
        down = self.step_size_up if step_size_down is None else step_size_down
        self.step_size_down = _count(down, "step_size_down", 0)
        self.mode = _choice(mode, "mode", _MODES)
        self.gamma = _values(gamma, "gamma")
        self.base_momentum = _momentum_bound(base_momentum, "base_momentum")
        self.max_momentum = _momentum_bound(max_momentum, "max_momentum")
        self.shape = _shape(self.base_lr, self.max_lr, self.gamma)
        self.cycle_size = self.step_size_up + self.step_size_down
        self.span = SPAN_CYCLES * self.cycle_size

    def _wave(self, k: np.ndarray) -> tuple[np.ndarray, Any]:
        """The triangle ``s(k)`` in ``[0, 1]`` and the amplitude scale of ``mode``."""
        total = self.cycle_size
        ratio = self.step_size_up / total
        # The position in the cycle in integers: exact for any k (PyTorch's
        # 1 + k/total - cycle loses digits as k grows).
        position = k % total
        x = position / total
        up = position <= self.step_size_up
        with np.errstate(divide="ignore", invalid="ignore"):
            down = (x - 1) / (ratio - 1)
        factor = np.where(up, x / ratio, down)
        if self.mode == "triangular":
            scale: Any = 1.0
        elif self.mode == "triangular2":
            # 1/2^(c - 1) exactly (PyTorch's 1/(2.0**(c - 1))), without a pow per entry;
            # exponents below -MAX_HALVINGS give 0 either way.
            halvings = np.minimum(k // total, MAX_HALVINGS).astype(np.int32)
            scale = np.ldexp(1.0, -halvings)
        else:
            scale = _int_power(self.gamma, k)
        return factor, scale

    def _evaluate(self, k: np.ndarray) -> np.ndarray:
        factor, scale = self._wave(k)
        # PyTorch's operation order: base + ((max - base)·s)·scale.
        return self.base_lr + (self.max_lr - self.base_lr) * factor * scale

    def momentum(self, k: ArrayLike) -> Any:
        """The cycled momentum of step ``k`` (PyTorch ``CyclicLR(cycle_momentum=True)``).

        ``μ(k) = max_momentum - (max_momentum - base_momentum)·s(k)·scale``: the same
        triangle and amplitude scale as the step size, inverted, so the momentum is
        ``max_momentum`` where the step is ``base_lr`` and ``base_momentum`` at the peak.
        Pass the bound method as a method's momentum,
        ``SGD(momentum=s.momentum)``, to cycle it in a run (PyTorch writes it into the
        optimiser's ``momentum``, or ``betas[0]`` for Adam-type optimisers).

        Parameters
        ----------
        k : int or array_like of int
            Step indices ``>= 0``.

        Returns
        -------
        float or ndarray
            Shape ``broadcast(k.shape, base_momentum.shape, max_momentum.shape,
            s.shape)``.
        """
        steps = as_steps(k)
        with np.errstate(all="ignore"):
            factor, scale = self._wave(steps)
            hi, lo = self.max_momentum, self.base_momentum
            out = np.asarray(hi - (hi - lo) * factor * scale, dtype=np.float64)
        return float(out) if out.ndim == 0 else out

    def describe(self) -> str:
        scale = {
            "triangular": "1",
            "triangular2": "2^-(c - 1), c = 1 + ⌊k/(up + down)⌋",
            "exp_range": f"γ^k, γ = {_fmt(self.gamma)}",
        }[self.mode]
        return (
            f"η(k) = base + (max - base)·s(k)·scale with base = {_fmt(self.base_lr)}, "
            f"max = {_fmt(self.max_lr)}; s rises linearly 0 → 1 over up = "
            f"{self.step_size_up} steps and falls back over down = {self.step_size_down}; "
            f"scale = {scale} (PyTorch CyclicLR, mode {self.mode!r}); momentum(k) = "
            f"{_fmt(self.max_momentum)} - ({_fmt(self.max_momentum)} - "
            f"{_fmt(self.base_momentum)})·s(k)·scale; never held"
        )


def cyclic(
    base_lr: ArrayLike,
    max_lr: ArrayLike,
    step_size_up: int = 2000,
    step_size_down: int | None = None,
    mode: str = "triangular",
    gamma: ArrayLike = 1.0,
    *,
    base_momentum: ArrayLike = CYCLIC_BASE_MOMENTUM,
    max_momentum: ArrayLike = CYCLIC_MAX_MOMENTUM,
) -> Schedule:
    """Cyclical learning rates (Smith 2017; PyTorch ``CyclicLR``), with ``.momentum(k)``.

    Triangle waves between ``base_lr`` and ``max_lr``: up over ``step_size_up``
    steps, down over ``step_size_down``.  ``mode`` scales the amplitude:
    ``"triangular"`` keeps it, ``"triangular2"`` halves it every cycle,
    ``"exp_range"`` multiplies it by ``gamma^k``.  Values equal PyTorch's closed form
    (cycle ``c = ⌊1 + k/(up + down)⌋``, ``x`` the fraction of the cycle done, the rise
    ``x/r``, the fall ``(x - 1)/(r - 1)``, ``r = up/(up + down)``):
    ``η(k) = base + (max - base)·s(k)·scale``.

    The momentum cycles the other way, ``μ(k) = max_m - (max_m - base_m)·s(k)·scale``
    (PyTorch's ``cycle_momentum=True``, its defaults 0.8 and 0.9): ``s.momentum(k)``
    gives it, and ``SGD(momentum=s.momentum)`` runs with it (see
    :class:`gradflow.methods.SGD`).

    Parameters
    ----------
    base_lr, max_lr : float or array_like
        Lower and upper step sizes, ``> 0``.
    step_size_up : int, optional
        Steps of the rising half, ``>= 1`` (default 2000).
    step_size_down : int, optional
        Steps of the falling half, ``>= 0`` (default: ``step_size_up``).
    mode : {"triangular", "triangular2", "exp_range"}, optional
    gamma : float or array_like, optional
        ``> 0``, the per-step factor of ``"exp_range"`` (default 1).
    base_momentum, max_momentum : float or array_like, optional
        Bounds of the cycled momentum in ``[0, 1)`` (0.8 and 0.9, PyTorch's defaults).

    Returns
    -------
    Schedule
        Never held (periodic); with a ``momentum(k)`` method.

    Raises
    ------
    TypeError
        If a value is not a real number (or an array of them).
    ValueError
        If a step size or ``gamma`` is not positive, a half-cycle length is not an
        integer of the right range, a momentum bound is outside ``[0, 1)``, or ``mode``
        is unknown.

    References
    ----------
    L. N. Smith, "Cyclical learning rates for training neural networks", WACV 2017.
    PyTorch, ``torch.optim.lr_scheduler.CyclicLR``.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow import schedules
    >>> s = schedules.cyclic(0.1, 0.5, step_size_up=2, mode="triangular2")
    >>> s(np.arange(9))
    array([0.1, 0.3, 0.5, 0.3, 0.1, 0.2, 0.3, 0.2, 0.1])
    >>> s.momentum(np.arange(5)).round(3)
    array([0.9 , 0.85, 0.8 , 0.85, 0.9 ])
    """
    return _Cyclic(
        base_lr, max_lr, step_size_up, step_size_down, mode, gamma, base_momentum, max_momentum
    )


class _LinearOnecycle(Schedule):
    name = "linear_onecycle"

    @classmethod
    def _example(cls) -> Schedule:
        return cls(0.1, 100, 0.3, 0.85, 25.0, 1e4)

    def __init__(
        self,
        peak_lr: ArrayLike,
        total_steps: int,
        pct_start: float,
        pct_final: float,
        div_factor: ArrayLike,
        final_div_factor: ArrayLike,
    ) -> None:
        self.peak_lr = _values(peak_lr, "peak_lr")
        self.total_steps = T = _count(total_steps, "total_steps", 1)
        self.pct_start = check_real(pct_start, "pct_start", low=0.0, high=1.0)
        self.pct_final = check_real(pct_final, "pct_final", low=0.0, high=1.0)
        self.div_factor = _values(div_factor, "div_factor")
        self.final_div_factor = _values(final_div_factor, "final_div_factor")
        # optax's boundaries: int() truncation of the float products.
        up, down = int(self.pct_start * T), int(self.pct_final * T)
        if not up < down < T:
            raise ValueError(
                "pct_start and pct_final must give steps int(pct_start·T) < int(pct_final·T) "
                f"< T = total_steps, got {up}, {down} and T = {T}"
            )
        self.shape = _shape(self.peak_lr, self.div_factor, self.final_div_factor)
        self.horizon = T
        self.span = max(10, (11 * T) // 10 + 1)
        self._bounds = np.array([0, up, down, T], dtype=np.int64)
        # optax's cumulative products of the scales, in its order.
        v0 = self.peak_lr / self.div_factor
        v1 = v0 * self.div_factor
        v2 = v1 * (1.0 / self.div_factor)
        v3 = v2 * (1.0 / self.final_div_factor)
        self._values = np.stack(np.broadcast_arrays(v0, v1, v2, v3))

    def _evaluate(self, k: np.ndarray) -> np.ndarray:
        piece = np.minimum(np.searchsorted(self._bounds, k, side="right") - 1, 3)
        start, end = _rows(self._values, piece), _rows(self._values, np.minimum(piece + 1, 3))
        b = self._bounds[piece]
        size = np.maximum(self._bounds[np.minimum(piece + 1, 3)] - b, 1)
        # optax's linear interpolation (end - start)·pct + start; at k >= T, start = end.
        return (end - start) * ((k - b) / size) + start

    def describe(self) -> str:
        up, down, T = (int(b) for b in self._bounds[1:])
        return (
            f"η(k) linear through (0, peak/{_fmt(self.div_factor)}), ({up}, peak), "
            f"({down}, peak/{_fmt(self.div_factor)}), ({T}, peak/({_fmt(self.div_factor)}·"
            f"{_fmt(self.final_div_factor)})) with peak = {_fmt(self.peak_lr)}: up "
            f"int({self.pct_start:g}·T) steps, down to the start by int({self.pct_final:g}·T), "
            f"then an annihilation phase (optax linear_onecycle_schedule); {self._held()}"
        )


def linear_onecycle(
    peak_lr: ArrayLike,
    total_steps: int,
    pct_start: float = 0.3,
    pct_final: float = 0.85,
    div_factor: ArrayLike = 25.0,
    final_div_factor: ArrayLike = 1e4,
) -> Schedule:
    """Three linear phases with an asymmetric cycle (optax ``linear_onecycle_schedule``).

    With ``T = total_steps``, ``u = int(pct_start·T)`` and ``d = int(pct_final·T)``
    (optax's truncations) and ``initial = peak/div_factor``, the step size is linear
    through ``(0, initial)``, ``(u, peak)``, ``(d, initial)`` and
    ``(T, initial/final_div_factor)``, held after ``T``.  The rise (``u`` steps) and
    the fall back to ``initial`` (``d - u`` steps) have independent lengths, unlike
    PyTorch's symmetric three-phase :func:`one_cycle`; the last phase anneals below
    ``initial``.  The values are optax's cumulative products
    ``initial·div·(1/div)·(1/final_div)`` and its interpolation ``(b - a)·p + a``, so
    they equal optax's (float64) to rounding.  Unlike :func:`one_cycle` (PyTorch's
    convention, peak at ``pct_start·T - 1``, end at ``T - 1``) the peak is at step
    ``u`` and the end at ``T``.

    Parameters
    ----------
    peak_lr : float or array_like
        Peak step size(s), ``> 0``; an array sweeps peaks.
    total_steps : int
        ``T >= 1`` (optax's ``transition_steps``).
    pct_start : float, optional
        Fraction of ``T`` spent rising, in ``[0, 1]`` (0.3).
    pct_final : float, optional
        Fraction of ``T`` at which the fall back to ``initial`` ends, in ``[0, 1]``
        (0.85): ``int(pct_start·T) < int(pct_final·T) < T`` is required.
    div_factor, final_div_factor : float or array_like, optional
        ``> 0``: ``initial = peak/div_factor``, final ``= initial/final_div_factor``
        (25 and 10^4, optax's defaults).

    Returns
    -------
    Schedule

    Raises
    ------
    TypeError
        If a fraction is not a real number or ``total_steps`` not an integer.
    ValueError
        If ``peak_lr`` or a factor is not positive, a fraction lies outside ``[0, 1]``
        or the three phase ends are not distinct steps below ``T``.

    References
    ----------
    L. N. Smith and N. Topin, "Super-convergence: very fast training of neural networks
    using large learning rates", arXiv:1708.07120, 2017.
    optax, ``optax.schedules.linear_onecycle_schedule``.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow import schedules
    >>> s = schedules.linear_onecycle(1.0, 10, pct_start=0.2, pct_final=0.8, div_factor=10.0,
    ...                               final_div_factor=10.0)
    >>> s(np.array([0, 1, 2, 5, 8, 9, 10, 11])).round(4)
    array([0.1  , 0.55 , 1.   , 0.55 , 0.1  , 0.055, 0.01 , 0.01 ])
    """
    return _LinearOnecycle(peak_lr, total_steps, pct_start, pct_final, div_factor, final_div_factor)
