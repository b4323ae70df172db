"""Reduce the step size when the loss stops improving (PyTorch ``ReduceLROnPlateau``).

Every batch element keeps its own plateau state (best loss seen, count of bad steps,
cooldown counter, current step size), updated with numpy over the whole batch after each
step of :func:`gradflow.solve`, which hands the policy the loss of the new states.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from gradflow._broadcast import per_element
from gradflow._validation import (
    check_choice,
    check_in_range,
    check_integer,
    check_nonnegative,
    check_positive,
)
from gradflow.stepsize import Observation, StepSizePolicy, Verdict

__all__ = ["ReduceOnPlateau"]

_MODES = ("min", "max")
_THRESHOLD_MODES = ("rel", "abs")


class PlateauState(NamedTuple):
    """Per-element state of :class:`ReduceOnPlateau` (every field has length ``B``).

    Attributes
    ----------
    lr : ndarray, float64
        Current step size (PyTorch's ``param_group["lr"]``).
    h : ndarray
        The same in the run's dtype (what :meth:`ReduceOnPlateau.propose` returns).
    best : ndarray, float64
        Best loss seen (``+inf`` in mode ``"min"`` before the first step).
    num_bad : ndarray, int64
        Consecutive steps without improvement (``num_bad_epochs``).
    cooldown : ndarray, int64
        Steps of cooldown left (``cooldown_counter``).
    min_lr : ndarray, float64
        Lower bound of each element's step size.
    """

    lr: np.ndarray
    h: np.ndarray
    best: np.ndarray
    num_bad: np.ndarray
    cooldown: np.ndarray
    min_lr: np.ndarray


class ReduceOnPlateau(StepSizePolicy):
    """Cut the step size by ``factor`` when the loss has not improved for ``patience`` steps.

    PyTorch's ``ReduceLROnPlateau`` semantics, applied after every step to the loss of
    the new state, separately for every batch element:

    1. the loss ``a`` is *better* than ``best`` when ``a < best·(1 - threshold)``
       (``mode="min"``, ``threshold_mode="rel"``), ``a < best - threshold`` (``"abs"``),
       or ``a > best·(1 + threshold)`` / ``a > best + threshold`` in ``mode="max"``;
       a better loss becomes ``best`` and resets the bad count, any other adds one;
    2. during a cooldown the counter goes down by one and the bad count is reset;
    3. when the bad count exceeds ``patience`` (on the ``patience + 1``-th bad step) the
       step becomes ``max(lr·factor, min_lr)`` if that lowers it by more than ``eps``
       (else it is kept), the cooldown starts and the bad count is reset.

    The first loss seen is that after step 0 (the loss of ``theta0`` is not used, as
    PyTorch's first ``scheduler.step(metric)`` comes after the first epoch); a NaN loss
    is a bad step.  Steps an adaptive driver rejects (``accepted`` false) leave an
    element's state unchanged.

    Parameters
    ----------
    lr : float or array_like
        Initial step size(s), ``> 0``, broadcastable to the batch shape (an array sweeps
        starting step sizes).
    mode : {"min", "max"}, optional
        Whether the loss should go down (default) or up.
    factor : float, optional
        Multiplier of a cut, in ``(0, 1)`` (default 0.1).
    patience : int, optional
        Bad steps tolerated before a cut, ``>= 0`` (default 10).
    threshold : float, optional
        Minimum improvement that counts, ``>= 0`` (default 1e-4).
    threshold_mode : {"rel", "abs"}, optional
        Relative or absolute ``threshold``.
    cooldown : int, optional
        Steps after a cut during which bad steps are not counted, ``>= 0``.
    min_lr : float or array_like, optional
        Lower bound(s) of the step size, ``>= 0``, broadcastable to the batch shape.
        (With ``eps > 0`` cuts also stop once they would remove less than ``eps``, so
        the step stays positive even for ``min_lr = 0``.)
    eps : float, optional
        A cut smaller than this is skipped, ``>= 0`` (default 1e-8).

    Raises
    ------
    TypeError
        If a number is not a real number (or ``lr``/``min_lr`` an array of them), a
        count (``patience``, ``cooldown``) is not an integer, or a mode is not a string.
    ValueError
        If an argument is out of range or not finite, or a mode is unknown; at the start
        of a run, if ``lr`` or ``min_lr`` does not broadcast to the batch shape.

    References
    ----------
    PyTorch, ``torch.optim.lr_scheduler.ReduceLROnPlateau`` (the semantics reproduced).

    Examples
    --------
    >>> import numpy as np
    >>> import gradflow as gf
    >>> p = gf.problems.quadratic([1.0, 10.0], seed=0)
    >>> policy = gf.rules.ReduceOnPlateau(0.21, patience=2, factor=0.5)  # 2/λmax = 0.2
    >>> traj = gf.solve(p, np.ones(2), stepsize=policy, steps=200, save="final")
    >>> str(traj.status), float(traj.h[-1])          # cut once it stopped improving
    ('ok', 0.105)
    """

    def __init__(
        self,
        lr: ArrayLike,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: ArrayLike = 0.0,
        eps: float = 1e-8,
    ) -> None:
        self.lr = check_positive(lr, "lr", allow_array=True)
        self.min_lr = check_nonnegative(min_lr, "min_lr", allow_array=True)
        self.mode = check_choice(mode, "mode", _MODES)
        self.threshold_mode = check_choice(threshold_mode, "threshold_mode", _THRESHOLD_MODES)
        self.factor = check_in_range(factor, "factor", 0.0, 1.0, low_open=True, high_open=True)
        self.patience = check_integer(patience, "patience", 0)
        self.threshold = check_nonnegative(threshold, "threshold")
        self.cooldown = check_integer(cooldown, "cooldown", 0)
        self.eps = check_nonnegative(eps, "eps")

    def init(
        self, problem: Any, theta0: np.ndarray, batch_shape: tuple[int, ...], method: Any
    ) -> PlateauState:
        """Fresh state for every element: ``best`` the worst value, no bad steps."""
        B = theta0.shape[0]
        lr = np.array(per_element(self.lr, "lr", batch_shape), dtype=np.float64)
        low = np.array(per_element(self.min_lr, "min_lr", batch_shape), dtype=np.float64)
        worst = np.inf if self.mode == "min" else -np.inf
        return PlateauState(
            lr=lr,
            h=lr.astype(theta0.dtype),
            best=np.full(B, worst),
            num_bad=np.zeros(B, dtype=np.int64),
            cooldown=np.zeros(B, dtype=np.int64),
            min_lr=low,
        )

    def propose(self, state: PlateauState, k: int) -> np.ndarray:
        """The current step size of every element."""
        return state.h

    def _better(self, a: np.ndarray, best: np.ndarray) -> np.ndarray:
        if self.mode == "min":
            if self.threshold_mode == "rel":
                return a < best * (1.0 - self.threshold)
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def update(self, state: PlateauState, observation: Observation) -> tuple[PlateauState, Verdict]:
        """One ``ReduceLROnPlateau.step(loss)`` for every element, vectorised."""
        a = np.asarray(observation.loss, dtype=np.float64)
        better = self._better(a, state.best)
        best = np.where(better, a, state.best)
        bad = np.where(better, 0, state.num_bad + 1)
        cooling = state.cooldown > 0
        cooldown = np.where(cooling, state.cooldown - 1, state.cooldown)
        bad = np.where(cooling, 0, bad)
        cut = bad > self.patience
        new = np.maximum(state.lr * self.factor, state.min_lr)
        lr = np.where(cut & (state.lr - new > self.eps), new, state.lr)
        cooldown = np.where(cut, self.cooldown, cooldown)
        bad = np.where(cut, 0, bad)
        accepted = observation.accepted
        if accepted is not None:
            keep = ~np.broadcast_to(np.asarray(accepted, dtype=bool), a.shape)
            best = np.where(keep, state.best, best)
            bad = np.where(keep, state.num_bad, bad)
            cooldown = np.where(keep, state.cooldown, cooldown)
            lr = np.where(keep, state.lr, lr)
        h = state.h if np.array_equal(lr, state.lr) else lr.astype(state.h.dtype)
        return PlateauState(lr, h, best, bad, cooldown, state.min_lr), Verdict()

    def __repr__(self) -> str:
        return (
            f"ReduceOnPlateau(lr={self.lr.tolist()}, mode={self.mode!r}, factor={self.factor}, "
            f"patience={self.patience}, threshold={self.threshold}, "
            f"threshold_mode={self.threshold_mode!r}, cooldown={self.cooldown}, "
            f"min_lr={self.min_lr.tolist()}, eps={self.eps})"
        )
