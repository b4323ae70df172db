"""The validation contract, checked on every public callable with numeric arguments.

``TypeError`` for a wrong type (bool, str, complex, None, a float count, an array of
booleans...), ``ValueError`` for a bad value (out of range, NaN, inf, wrong shape), and
the message names the argument.  To cover a new argument, add a row to ``CASES``:
``Case(callable, argument name, good keyword arguments, kind, ...)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import gradflow as gf
from gradflow import _validation as V
from gradflow.analysis import (
    adaptive_eos_threshold,
    fit_order,
    gradient_noise,
    preconditioned_sharpness,
    track_preconditioned_sharpness,
)
from gradflow.controllers import (
    IController,
    PIController,
    PIDController,
    PredictiveController,
)
from gradflow.curvature import (
    Box,
    eigenvalues,
    hvp,
    hvp_operator,
    lipschitz,
    local_lipschitz,
    spectral_density,
    top_eigenvalue,
    trace,
    track_sharpness,
)
from gradflow.methods import (
    LAMB,
    SGD,
    SPS,
    Adafactor,
    AdaGrad,
    Adam,
    AdamW,
    AdamWScheduleFree,
    Clipped,
    DAdaptAdam,
    DAdaptSGD,
    DoG,
    Euler,
    HeavyBall,
    ImplicitEuler,
    LDoG,
    Lion,
    Nesterov,
    Prodigy,
    RMSProp,
    SGDScheduleFree,
    Sophia,
    clip_gradient,
)
from gradflow.problems import (
    Problem,
    least_squares,
    logistic_regression,
    mlp_regression,
    quadratic,
    rosenbrock,
)
from gradflow.problems._quadratic import haar_orthogonal
from gradflow.reference import gradient_flow
from gradflow.richardson import extrapolate, observed_order, weights
from gradflow.richardson import solve_extrapolated as richardson_solve
from gradflow.rules import AdGD, Armijo, BarzilaiBorwein, LocalLipschitz, Polyak, ReduceOnPlateau
from gradflow.stability import critical_stepsize, stability_region, verify_bound
from gradflow.stepsize import Clip, ConstantStep, Join, ScheduledStep

S = gf.schedules

QUAD = quadratic([1.0, 4.0], seed=0)
ROSEN = rosenbrock()
LSQ = least_squares(np.arange(6.0).reshape(3, 2), np.ones(3))
MLP = mlp_regression(width=2, n_points=3)
THETA = np.zeros(2)
TRAJ = gf.solve(QUAD, np.ones(2), stepsize=0.1, steps=2)
EULER = Euler()


def _identity(theta: Any) -> Any:
    return theta


# What each kind of argument must refuse: (value, expected exception).
#: An object that is no number at all.
OPAQUE = object()
WRONG_TYPES = [True, "1", b"1", 1 + 2j, OPAQUE]
REAL_BAD = [
    *((v, TypeError) for v in WRONG_TYPES),
    (float("nan"), ValueError),
]
INT_BAD = [
    *((v, TypeError) for v in WRONG_TYPES),
    (2.5, TypeError),  # a count is an integer: a float is the wrong type, not a bad value
    (2.0, TypeError),
    (float("nan"), TypeError),
]
SEED_BAD = [(True, TypeError), ("1", TypeError), (2.5, TypeError), (-1, ValueError)]
CHOICE_BAD = [(1, TypeError), (True, TypeError), ("no such option", ValueError)]
BOOL_BAD = [(1, TypeError), ("yes", TypeError), (None, TypeError)]
CALLABLE_BAD = [(1.0, TypeError), ("f", TypeError), (None, TypeError)]


def _state_bad(dim: int, finite: bool = True) -> list[tuple[Any, type[Exception]]]:
    bad: list[tuple[Any, type[Exception]]] = [
        (np.ones(dim, dtype=bool), TypeError),
        (np.array(["a"] * dim), TypeError),
        (np.ones(dim) * (1 + 1j), TypeError),
        (np.array([object()] * dim), TypeError),
        (None, TypeError),
        (np.ones(dim + 1), ValueError),
        (np.float64(1.0), ValueError),
    ]
    if finite:
        bad += [(np.full(dim, np.nan), ValueError), (np.full(dim, np.inf), ValueError)]
    return bad


def _array_bad(good: Any) -> list[tuple[Any, type[Exception]]]:
    """For an array of real numbers (step sizes, eigenvalues, times)."""
    good = np.asarray(good, dtype=float)
    nan = good.copy()
    nan.flat[-1] = np.nan
    return [
        (True, TypeError),
        ("1", TypeError),
        (None, TypeError),
        (good.astype(bool), TypeError),
        (good.astype(str), TypeError),
        (good + 1j, TypeError),
        (nan, ValueError),
    ]


@dataclass(frozen=True)
class Case:
    """One argument of one callable: its bad values and what each must raise."""

    target: Callable[..., Any]
    arg: str
    good: dict[str, Any]
    kind: str  # "real", "int", "seed", "choice", "bool", "callable", "state", "array"
    out_of_range: tuple[Any, ...] = ()
    none_ok: bool = False  # None is a documented default
    inf_ok: bool = False
    dim: int = 2
    finite: bool = True  # for "state" and "array": whether NaN/inf are refused
    label: str = ""  # the name the message must contain, when not ``arg``

    @property
    def name(self) -> str:
        return self.label or self.arg

    def _kind_bad(self) -> list[tuple[Any, type[Exception]]]:
        fixed = {
            "int": INT_BAD,
            "seed": SEED_BAD,
            "choice": CHOICE_BAD,
            "bool": BOOL_BAD,
            "callable": CALLABLE_BAD,
        }
        if self.kind in fixed:
            return list(fixed[self.kind])
        if self.kind == "real":
            bad = list(REAL_BAD)
            if not self.inf_ok:
                bad += [(float("inf"), ValueError), (-float("inf"), ValueError)]
            return bad
        if self.kind == "state":
            return _state_bad(self.dim, self.finite)
        if self.kind == "array":
            bad = _array_bad(self.good[self.arg])
            return bad if self.finite else [(v, e) for v, e in bad if e is not ValueError]
        raise AssertionError(self.kind)  # pragma: no cover - a typo in the table

    def bad_values(self) -> list[tuple[Any, type[Exception]]]:
        bad = self._kind_bad()
        if self.kind in ("real", "int") and not self.none_ok:
            bad.append((None, TypeError))
        if self.none_ok:
            bad = [(v, e) for v, e in bad if v is not None]
        bad += [(v, ValueError) for v in self.out_of_range]
        return bad


def _enter_style(**kwargs: Any) -> None:
    with gf.plot.style(**kwargs):
        pass


def _plot(fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(**kwargs: Any) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        try:
            fn(**kwargs)
        finally:
            plt.close("all")

    call.__name__ = f"plot.{fn.__name__}"
    return call


def _loss(theta: Any) -> Any:
    return QUAD.loss(theta)


def _grad(theta: Any) -> Any:
    return ROSEN.grad(theta)


def _problem_hvp(theta: Any) -> Any:
    return LSQ.hvp(theta, np.ones(2))


def _join(boundary: Any) -> Any:
    """A two-part :class:`Join` switching at ``boundary``."""
    return Join([0.1, 0.2], [boundary])


UNIT = (-0.1, 1.0, 1.5)  # outside [0, 1)
OPEN_UNIT = (0.0, 1.0, -0.5, 1.5)  # outside (0, 1)
POS = (0.0, -1.0)  # outside (0, inf)
NONNEG = (-1.0,)
TOL = {"rtol": 1e-3, "atol": 1e-6}
RUN = {"problem": QUAD, "theta0": THETA, "stepsize": 0.1}  # solve without a horizon
TIMED = {**RUN, "t_final": 1.0}
FIND = {"problem": QUAD, "theta0": THETA}

CASES = [
    # -- methods -------------------------------------------------------------------------
    Case(HeavyBall, "beta", {}, "real", UNIT),
    Case(Nesterov, "beta", {}, "real", UNIT),
    Case(ImplicitEuler, "tol", {}, "real", POS),
    Case(ImplicitEuler, "max_iter", {}, "int", (0, -3)),
    Case(SGD, "momentum", {}, "real", UNIT),
    Case(SGD, "weight_decay", {}, "real", NONNEG),
    Case(SGD, "dampening", {}, "real", (-0.1, 1.5)),
    Case(SGD, "nesterov", {}, "bool"),
    Case(Lion, "beta1", {}, "real", UNIT),
    Case(Lion, "beta2", {}, "real", UNIT),
    Case(Lion, "weight_decay", {}, "real", NONNEG),
    Case(LAMB, "beta1", {}, "real", UNIT),
    Case(LAMB, "beta2", {}, "real", UNIT),
    Case(LAMB, "eps", {}, "real", POS),
    Case(LAMB, "weight_decay", {}, "real", NONNEG),
    Case(Adafactor, "decay_rate", {}, "real", (0.0, -0.5, 1.5)),
    Case(Adafactor, "min_dim_size_to_factor", {}, "int", (0,)),
    Case(Adafactor, "decay_offset", {}, "int", (-1,)),
    Case(Adafactor, "clipping_threshold", {}, "real", POS, none_ok=True),
    Case(Adafactor, "momentum", {}, "real", UNIT, none_ok=True),
    Case(Adafactor, "weight_decay_rate", {}, "real", NONNEG, none_ok=True),
    Case(Adafactor, "eps", {}, "real", POS),
    Case(Adafactor, "factored", {}, "bool"),
    Case(Adafactor, "multiply_by_parameter_scale", {}, "bool"),
    Case(Sophia, "beta1", {}, "real", UNIT),
    Case(Sophia, "beta2", {}, "real", UNIT),
    Case(Sophia, "rho", {}, "real", POS),
    Case(Sophia, "eps", {}, "real", POS),
    Case(Sophia, "weight_decay", {}, "real", NONNEG),
    Case(Sophia, "every", {}, "int", (0, -2)),
    Case(Sophia, "estimator", {}, "choice"),
    Case(Sophia, "seed", {}, "seed"),
    Case(SPS, "c", {}, "real", POS),
    Case(SPS, "f_star", {}, "real"),
    Case(Adam, "beta1", {}, "real", UNIT),
    Case(Adam, "beta2", {}, "real", UNIT),
    Case(Adam, "eps", {}, "real", POS),
    Case(Adam, "weight_decay", {}, "real", NONNEG),
    Case(Adam, "amsgrad", {}, "bool"),
    Case(AdamW, "eps", {}, "real", POS),
    Case(AdamW, "weight_decay", {}, "real", NONNEG),
    Case(AdaGrad, "eps", {}, "real", POS),
    Case(AdaGrad, "initial_accumulator_value", {}, "real", NONNEG),
    Case(RMSProp, "alpha", {}, "real", UNIT),
    Case(RMSProp, "momentum", {}, "real", UNIT),
    Case(RMSProp, "centered", {}, "bool"),
    # the learning-rate-free methods (growth_rate: >= 1, inf the packages' default)
    Case(DAdaptSGD, "momentum", {}, "real", UNIT),
    Case(DAdaptSGD, "weight_decay", {}, "real", NONNEG),
    Case(DAdaptSGD, "d0", {}, "real", POS),
    Case(DAdaptSGD, "growth_rate", {}, "real", (0.5, -float("inf")), inf_ok=True),
    Case(DAdaptAdam, "beta1", {}, "real", UNIT),
    Case(DAdaptAdam, "beta2", {}, "real", UNIT),
    Case(DAdaptAdam, "eps", {}, "real", POS),
    Case(DAdaptAdam, "weight_decay", {}, "real", NONNEG),
    Case(DAdaptAdam, "decouple", {}, "bool"),
    Case(DAdaptAdam, "use_bias_correction", {}, "bool"),
    Case(DAdaptAdam, "d0", {}, "real", POS),
    Case(DAdaptAdam, "growth_rate", {}, "real", (0.5,), inf_ok=True),
    Case(Prodigy, "beta1", {}, "real", UNIT),
    Case(Prodigy, "beta2", {}, "real", UNIT),
    Case(Prodigy, "beta3", {}, "real", UNIT, none_ok=True),
    Case(Prodigy, "eps", {}, "real", POS),
    Case(Prodigy, "weight_decay", {}, "real", NONNEG),
    Case(Prodigy, "decouple", {}, "bool"),
    Case(Prodigy, "use_bias_correction", {}, "bool"),
    Case(Prodigy, "safeguard_warmup", {}, "bool"),
    Case(Prodigy, "d0", {}, "real", POS),
    Case(Prodigy, "d_coef", {}, "real", POS),
    Case(Prodigy, "growth_rate", {}, "real", (0.5,), inf_ok=True),
    Case(DoG, "reps_rel", {}, "real", POS),
    Case(DoG, "weight_decay", {}, "real", NONNEG),
    Case(DoG, "eps", {}, "real", NONNEG),
    Case(DoG, "init_eta", {}, "real", POS, none_ok=True),
    Case(LDoG, "reps_rel", {}, "real", POS),
    Case(SGDScheduleFree, "momentum", {}, "real", OPEN_UNIT),
    Case(SGDScheduleFree, "weight_decay", {}, "real", NONNEG),
    Case(SGDScheduleFree, "warmup_steps", {}, "int", (-1,)),
    Case(SGDScheduleFree, "r", {}, "real"),
    Case(SGDScheduleFree, "weight_lr_power", {}, "real"),
    Case(AdamWScheduleFree, "beta1", {}, "real", UNIT),
    Case(AdamWScheduleFree, "beta2", {}, "real", UNIT),
    Case(AdamWScheduleFree, "eps", {}, "real", POS),
    Case(AdamWScheduleFree, "weight_decay", {}, "real", NONNEG),
    Case(AdamWScheduleFree, "warmup_steps", {}, "int", (-1,)),
    Case(AdamWScheduleFree, "r", {}, "real"),
    Case(Clipped, "clip_norm", {"method": EULER}, "real", POS, none_ok=True),
    Case(Clipped, "clip_value", {"method": EULER, "clip_norm": 1.0}, "real", POS, True),
    Case(clip_gradient, "clip_norm", {"g": np.ones(2)}, "real", POS, none_ok=True),
    Case(clip_gradient, "clip_value", {"g": np.ones(2)}, "real", POS, none_ok=True),
    # -- problems ------------------------------------------------------------------------
    Case(Problem, "dim", {"loss": _identity, "grad": _identity}, "int", (0, -1)),
    Case(Problem, "loss", {"grad": _identity, "dim": 2}, "callable"),
    Case(Problem, "grad", {"loss": _identity, "dim": 2}, "callable"),
    Case(Problem, "minimum", {"loss": _identity, "grad": _identity, "dim": 2}, "real", (), True),
    Case(
        Problem,
        "minimizers",
        {"loss": _identity, "grad": _identity, "dim": 2},
        "state",
        none_ok=True,
    ),
    Case(quadratic, "eigenvalues", {"eigenvalues": [1.0, 2.0]}, "array", none_ok=True),
    Case(quadratic, "b", {"eigenvalues": [1.0, 2.0]}, "state", none_ok=True),
    Case(quadratic, "seed", {}, "seed"),
    Case(haar_orthogonal, "dim", {}, "int", (0,)),
    Case(haar_orthogonal, "seed", {"dim": 2}, "seed"),
    Case(rosenbrock, "dim", {}, "int", (1, 0)),
    Case(rosenbrock, "a", {}, "real"),
    Case(rosenbrock, "b", {}, "real", POS),
    Case(least_squares, "y", {"X": np.ones((2, 2)), "y": [1.0, 2.0]}, "array"),
    Case(logistic_regression, "l2", {"X": np.ones((2, 2)), "y": [0, 1]}, "real", NONNEG),
    Case(mlp_regression, "width", {}, "int", (0,)),
    Case(mlp_regression, "n_points", {}, "int", (0,)),
    Case(mlp_regression, "degree", {}, "int", (-1,)),
    Case(mlp_regression, "seed", {}, "int", (-1,), none_ok=True),
    Case(mlp_regression, "gain", {}, "real", POS),
    Case(MLP.init, "seed", {}, "seed"),
    Case(MLP.init, "batch_shape", {}, "int", (-1,)),
    Case(_loss, "theta", {}, "state", finite=False),
    Case(_grad, "theta", {}, "state", finite=False),
    Case(_problem_hvp, "theta", {}, "state", finite=False),
    # -- the driver (theta0 only: the rest of solve is checked in test_solve) ------------
    Case(gf.solve, "theta0", {"problem": QUAD, "stepsize": 0.1, "steps": 1}, "state"),
    Case(
        gf.solve,
        "steps",
        {"problem": QUAD, "theta0": THETA, "stepsize": 0.1},
        "int",
        (-1,),
        none_ok=True,
    ),
    Case(gf.solve, "stepsize", {**RUN, "steps": 1}, "real", POS),
    Case(gf.solve, "stepsize", {**RUN, "steps": 1}, "array"),
    Case(gf.solve, "t_final", RUN, "real", POS, none_ok=True),
    Case(gf.solve, "save_every", {**RUN, "steps": 1}, "int", (0, -1), none_ok=True),
    Case(
        gf.solve,
        "save_at",
        {**TIMED, "save_at": [0.5, 1.0]},
        "array",
        ([0.5, 0.2], [0.5, 0.5], [-0.1, 0.5], [0.5, 2.0], 0.5),
        none_ok=True,
    ),
    Case(gf.solve, "save", {**RUN, "steps": 1}, "choice", none_ok=True),
    Case(gf.solve, "max_steps", TIMED, "int", (0, -1), none_ok=True),
    Case(gf.solve, "divergence_norm", {**RUN, "steps": 1}, "real", POS, none_ok=True),
    Case(gf.solve, "callback", {**RUN, "steps": 1}, "callable", none_ok=True),
    Case(
        gf.solve,
        "batch_size",
        {"problem": LSQ, "theta0": THETA, "stepsize": 0.1, "steps": 1},
        "int",
        (0, 4),
        none_ok=True,
    ),
    Case(
        gf.solve,
        "seed",
        {"problem": LSQ, "theta0": THETA, "stepsize": 0.1, "steps": 1, "batch_size": 1},
        "seed",
    ),
    # -- the range test --------------------------------------------------------------------
    Case(gf.lr_find, "theta0", {"problem": QUAD}, "state", none_ok=True),
    Case(gf.lr_find, "start_lr", FIND, "real", POS),
    Case(gf.lr_find, "end_lr", FIND, "real", (1e-7, 1e-8, -1.0)),
    Case(gf.lr_find, "steps", FIND, "int", (1, 0)),
    Case(gf.lr_find, "smoothing", FIND, "real", UNIT),
    Case(gf.lr_find, "diverge_factor", FIND, "real", (1.0, 0.5, -1.0)),
    # -- step-size policies --------------------------------------------------------------
    Case(ConstantStep, "h", {}, "real", POS, label="stepsize"),
    Case(ConstantStep, "h", {"h": [0.1, 0.2]}, "array", ([0.1, 0.0], [-0.1]), label="stepsize"),
    Case(ScheduledStep, "schedule", {}, "callable"),
    Case(Clip, "h_min", {"policy": 0.1, "h_max": 1.0}, "real", (-1.0, 1.0, 2.0), none_ok=True),
    Case(Clip, "h_max", {"policy": 0.1}, "real", (-1.0, 0.0), none_ok=True),
    Case(Clip, "h_max", {"policy": 0.1, "h_min": 0.5}, "real", (0.5, 0.1), none_ok=True),
    Case(_join, "boundary", {}, "int", (0, -1), label="boundaries"),
    # -- rules ---------------------------------------------------------------------------
    Case(Armijo, "c", {}, "real", OPEN_UNIT),
    Case(Armijo, "rho", {}, "real", OPEN_UNIT),
    Case(Armijo, "h0", {}, "real", POS),
    Case(Armijo, "h_min", {}, "real", POS, none_ok=True),
    Case(Polyak, "f_star", {}, "real", none_ok=True),
    Case(Polyak, "h_max", {}, "real", POS),
    Case(BarzilaiBorwein, "variant", {}, "int", (0, 3, -1)),
    Case(BarzilaiBorwein, "h0", {}, "real", POS),
    Case(AdGD, "h0", {}, "real", POS),
    Case(LocalLipschitz, "safety", {}, "real", POS),
    Case(LocalLipschitz, "h0", {}, "real", POS),
    Case(LocalLipschitz, "estimator", {}, "choice"),
    Case(ReduceOnPlateau, "lr", {}, "real", POS),
    Case(ReduceOnPlateau, "lr", {"lr": [0.1, 0.2]}, "array", ([0.1, 0.0], [0.1, -1.0])),
    Case(ReduceOnPlateau, "min_lr", {"lr": 0.1}, "real", NONNEG),
    Case(ReduceOnPlateau, "min_lr", {"lr": 0.1, "min_lr": [0.0, 1e-3]}, "array", ([0.0, -1.0],)),
    Case(ReduceOnPlateau, "mode", {"lr": 0.1}, "choice"),
    Case(ReduceOnPlateau, "threshold_mode", {"lr": 0.1}, "choice"),
    Case(ReduceOnPlateau, "factor", {"lr": 0.1}, "real", OPEN_UNIT),
    Case(ReduceOnPlateau, "patience", {"lr": 0.1}, "int", (-1,)),
    Case(ReduceOnPlateau, "cooldown", {"lr": 0.1}, "int", (-1,)),
    Case(ReduceOnPlateau, "threshold", {"lr": 0.1}, "real", NONNEG),
    Case(ReduceOnPlateau, "eps", {"lr": 0.1}, "real", NONNEG),
    # -- error controllers ---------------------------------------------------------------
    Case(PIDController, "rtol", {"atol": 1e-6}, "real", POS),
    Case(PIDController, "atol", {"rtol": 1e-3}, "real", NONNEG),
    Case(PIDController, "pcoeff", TOL, "real"),
    Case(PIDController, "icoeff", TOL, "real"),
    Case(PIDController, "dcoeff", TOL, "real"),
    Case(PIDController, "safety", TOL, "real", (0.0, -0.1, 1.5)),
    Case(PIDController, "factor_min", TOL, "real", OPEN_UNIT),
    Case(PIDController, "factor_max", TOL, "real", (1.0, 0.5, -1.0)),
    Case(PIDController, "h_min", TOL, "real", POS, none_ok=True),
    Case(PIDController, "h_max", TOL, "real", POS, none_ok=True),
    Case(PIDController, "h0", TOL, "real", POS, none_ok=True),
    Case(PIDController, "h0", {**TOL, "h0": [1e-3, 1e-2]}, "array", ([1e-3, 0.0],), True),
    Case(IController, "rtol", {"atol": 1e-6}, "real", POS),
    Case(IController, "atol", {"rtol": 1e-3}, "real", NONNEG),
    Case(IController, "safety", TOL, "real", (0.0, 1.5)),
    Case(PIController, "pcoeff", TOL, "real"),
    Case(PIController, "icoeff", TOL, "real"),
    Case(PIController, "factor_max", TOL, "real", (1.0,)),
    Case(PredictiveController, "rtol", {"atol": 1e-6}, "real", POS),
    Case(PredictiveController, "factor_min", TOL, "real", OPEN_UNIT),
    # -- curvature -----------------------------------------------------------------------
    Case(hvp, "theta", {"problem": QUAD, "v": THETA}, "state"),
    Case(hvp, "v", {"problem": QUAD, "theta": THETA}, "state"),
    Case(hvp_operator, "theta", {"problem": QUAD}, "state"),
    Case(top_eigenvalue, "theta", {"problem": QUAD}, "state"),
    Case(top_eigenvalue, "tol", {"problem": QUAD, "theta": THETA}, "real", POS),
    Case(top_eigenvalue, "max_iter", {"problem": QUAD, "theta": THETA}, "int", (0,), True),
    Case(top_eigenvalue, "seed", {"problem": QUAD, "theta": THETA}, "seed"),
    Case(top_eigenvalue, "which", {"problem": QUAD, "theta": THETA}, "choice"),
    Case(top_eigenvalue, "algorithm", {"problem": QUAD, "theta": THETA}, "choice"),
    Case(top_eigenvalue, "restart", {"problem": QUAD, "theta": THETA}, "bool"),
    Case(top_eigenvalue, "v0", {"problem": QUAD, "theta": THETA}, "state", none_ok=True),
    Case(eigenvalues, "k", {"problem": QUAD, "theta": THETA}, "int", (0, 3)),
    Case(trace, "theta", {"problem": QUAD}, "state"),
    Case(trace, "n_probes", {"problem": QUAD, "theta": THETA}, "int", (1, 0)),
    Case(trace, "seed", {"problem": QUAD, "theta": THETA}, "seed"),
    Case(spectral_density, "theta", {"problem": QUAD}, "state"),
    Case(spectral_density, "n_lanczos", {"problem": QUAD, "theta": THETA}, "int", (0,)),
    Case(spectral_density, "n_probes", {"problem": QUAD, "theta": THETA}, "int", (0,)),
    Case(spectral_density, "n_grid", {"problem": QUAD, "theta": THETA}, "int", (1,)),
    Case(spectral_density, "sigma", {"problem": QUAD, "theta": THETA}, "real", POS, True),
    Case(spectral_density, "seed", {"problem": QUAD, "theta": THETA}, "seed"),
    Case(
        spectral_density,
        "grid",
        {"problem": QUAD, "theta": THETA, "grid": [0.0, 1.0]},
        "array",
        none_ok=True,
    ),
    Case(lipschitz, "tol", {"problem": ROSEN, "region": THETA}, "real", POS),
    Case(lipschitz, "region", {"problem": ROSEN}, "state", none_ok=True),
    Case(
        lipschitz,
        "n_samples",
        {"problem": ROSEN, "region": Box([0.0, 0.0], [1.0, 1.0])},
        "int",
        (0,),
    ),
    Case(
        lipschitz,
        "seed",
        {"problem": ROSEN, "region": Box([0.0, 0.0], [1.0, 1.0]), "n_samples": 2},
        "seed",
    ),
    Case(local_lipschitz, "a", {"problem": ROSEN, "b": THETA}, "state"),
    Case(local_lipschitz, "b", {"problem": ROSEN, "a": THETA}, "state", none_ok=True),
    Case(track_sharpness, "every", {"problem": QUAD}, "int", (0,)),
    Case(track_sharpness, "tol", {"problem": QUAD}, "real", POS),
    Case(track_sharpness, "algorithm", {"problem": QUAD}, "choice"),
    Case(track_sharpness, "seed", {"problem": QUAD}, "seed"),
    Case(track_sharpness, "warm_start", {"problem": QUAD}, "bool"),
    # -- analysis ------------------------------------------------------------------------
    Case(
        critical_stepsize,
        "problem_or_eigenvalues",
        {"method": EULER, "problem_or_eigenvalues": [1.0, 2.0]},
        "array",
        label="eigenvalues",
    ),
    Case(
        critical_stepsize,
        "theta",
        {"method": EULER, "problem_or_eigenvalues": ROSEN},
        "state",
        none_ok=True,
    ),
    Case(stability_region, "re", {"method": EULER, "re": [-1.0, 0.0], "im": [0.0]}, "array"),
    Case(stability_region, "im", {"method": EULER, "re": [-1.0, 0.0], "im": [0.0]}, "array"),
    Case(verify_bound, "theta0", {"problem": QUAD, "method": EULER}, "state"),
    Case(
        verify_bound,
        "steps",
        {"problem": QUAD, "theta0": [1.0, 1.0], "method": EULER},
        "int",
        (3,),
        none_ok=True,
    ),
    Case(fit_order, "h", {"h": [0.1, 0.05], "errors": [1e-2, 1e-3]}, "array"),
    Case(fit_order, "errors", {"h": [0.1, 0.05], "errors": [1e-2, 1e-3]}, "array"),
    Case(adaptive_eos_threshold, "h", {"h": [0.1, 0.01]}, "array"),
    Case(adaptive_eos_threshold, "beta1", {"h": 0.1}, "real", UNIT),
    Case(
        preconditioned_sharpness, "theta", {"problem": QUAD, "preconditioner": [1.0, 1.0]}, "state"
    ),
    Case(
        preconditioned_sharpness,
        "preconditioner",
        {"problem": QUAD, "theta": THETA, "preconditioner": [1.0, 1.0]},
        "array",
    ),
    Case(
        preconditioned_sharpness,
        "l2",
        {"problem": QUAD, "theta": THETA, "preconditioner": [1.0, 1.0]},
        "real",
        NONNEG,
    ),
    Case(
        preconditioned_sharpness,
        "tol",
        {"problem": QUAD, "theta": THETA, "preconditioner": [1.0, 1.0]},
        "real",
        POS,
    ),
    Case(track_preconditioned_sharpness, "every", {"problem": QUAD, "method": Adam()}, "int", (0,)),
    Case(track_preconditioned_sharpness, "tol", {"problem": QUAD, "method": Adam()}, "real", POS),
    Case(gradient_noise, "theta", {"problem": LSQ}, "state"),
    Case(gradient_noise, "ddof", {"problem": LSQ, "theta": THETA}, "int", (-1, 2)),
    # -- Richardson ----------------------------------------------------------------------
    Case(extrapolate, "values", {"values": [1.0, 2.0]}, "array", finite=False),
    Case(extrapolate, "ratio", {"values": [1.0, 2.0]}, "real", (1.0, 0.5, -2.0)),
    Case(extrapolate, "order", {"values": [1.0, 2.0]}, "real", POS),
    Case(extrapolate, "step", {"values": [1.0, 2.0]}, "real", POS),
    Case(extrapolate, "terms", {"values": [1.0, 2.0, 3.0]}, "int", (0, 3), none_ok=True),
    Case(observed_order, "ratio", {"values": [1.0, 2.0, 3.0]}, "real", (1.0,)),
    Case(weights, "levels", {}, "int", (1,)),
    Case(weights, "ratio", {"levels": 2}, "real", (1.0,)),
    Case(
        richardson_solve,
        "theta0",
        {"problem": QUAD, "method": EULER, "t_final": 1.0, "h0": 0.1},
        "state",
    ),
    Case(
        richardson_solve,
        "t_final",
        {"problem": QUAD, "theta0": THETA, "method": EULER, "h0": 0.1},
        "real",
        POS,
    ),
    Case(
        richardson_solve,
        "h0",
        {"problem": QUAD, "theta0": THETA, "method": EULER, "t_final": 1.0},
        "real",
        POS,
    ),
    Case(
        richardson_solve,
        "levels",
        {"problem": QUAD, "theta0": THETA, "method": EULER, "t_final": 1.0, "h0": 0.1},
        "int",
        (1,),
    ),
    # -- the reference flow --------------------------------------------------------------
    Case(gradient_flow, "theta0", {"problem": QUAD, "t_eval": [0.0, 1.0]}, "state"),
    Case(
        gradient_flow, "t_eval", {"problem": QUAD, "theta0": THETA, "t_eval": [0.0, 1.0]}, "array"
    ),
    Case(
        gradient_flow, "scipy_method", {"problem": QUAD, "theta0": THETA, "t_eval": [0.0]}, "choice"
    ),
    Case(gradient_flow, "rtol", {"problem": QUAD, "theta0": THETA, "t_eval": [0.0]}, "real", POS),
    Case(gradient_flow, "atol", {"problem": QUAD, "theta0": THETA, "t_eval": [0.0]}, "real", POS),
    Case(
        gradient_flow,
        "max_step",
        {"problem": QUAD, "theta0": THETA, "t_eval": [0.0]},
        "real",
        POS,
        inf_ok=True,
    ),
    # -- schedules (through the schedule contract's helpers) -----------------------------
    Case(S.constant, "lr", {}, "real", POS),
    Case(S.cosine, "lr", {"total_steps": 10}, "real", POS),
    Case(S.cosine, "total_steps", {"lr": 0.1}, "int", (0,)),
    Case(S.cosine, "min_lr", {"lr": 0.1, "total_steps": 10}, "real", NONNEG),
    Case(S.step_decay, "gamma", {"lr": 0.1, "step_size": 10}, "real", POS),
    Case(
        S.wsd,
        "decay",
        {"peak_lr": 0.1, "warmup_steps": 1, "stable_steps": 1, "decay_steps": 1},
        "choice",
    ),
    # -- plots (number arguments) --------------------------------------------------------
    Case(_enter_style, "width", {}, "real", POS),
    Case(_enter_style, "aspect", {}, "real", POS),
    Case(_enter_style, "fontsize", {}, "real", POS),
    Case(_plot(gf.plot.stability_region), "resolution", {"method": EULER}, "int", (1,)),
    Case(_plot(gf.plot.trajectories), "levels", {"problem": QUAD, "traj": TRAJ}, "int", (1,)),
    Case(_plot(gf.plot.trajectories), "resolution", {"problem": QUAD, "traj": TRAJ}, "int", (1,)),
    Case(_plot(gf.plot.sharpness), "h", {"tracker_or_values": [1.0, 2.0], "h": 0.1}, "array"),
]


def _params() -> list[Any]:
    out = []
    for case in CASES:
        name = getattr(case.target, "__name__", repr(case.target))
        for value, error in case.bad_values():
            if isinstance(value, np.ndarray):
                shown = f"array<{value.dtype}>"
            elif value is OPAQUE:
                shown = "object()"
            else:
                shown = repr(value)
            out.append(pytest.param(case, value, error, id=f"{name}-{case.arg}={shown}"))
    return out


@pytest.mark.parametrize(("case", "value", "error"), _params())
def test_bad_argument_raises_per_the_contract(case: Case, value: Any, error: type) -> None:
    kwargs = {**case.good, case.arg: value}
    with pytest.raises(error) as info:
        case.target(**kwargs)
    message = str(info.value)
    assert type(info.value) is error, f"{type(info.value).__name__}: {message}"
    # The error must come from the argument's check, not from a bad call of the table.
    assert "unexpected keyword" not in message and "positional argument" not in message
    assert re.search(rf"\b{re.escape(case.name)}\b", message), message


# -- bool states, everywhere ---------------------------------------------------------------
BOOL_THETA = np.array([True, False])


@pytest.mark.parametrize(
    "call",
    [
        lambda: gf.solve(QUAD, BOOL_THETA, stepsize=0.1, steps=1),
        lambda: QUAD.loss(BOOL_THETA),
        lambda: QUAD.grad(BOOL_THETA),
        lambda: ROSEN.loss(BOOL_THETA),
        lambda: ROSEN.hvp(BOOL_THETA, np.ones(2)),
        lambda: hvp(QUAD, BOOL_THETA, np.ones(2)),
        lambda: top_eigenvalue(QUAD, BOOL_THETA),
        lambda: trace(QUAD, BOOL_THETA),
        lambda: spectral_density(QUAD, BOOL_THETA),
        lambda: local_lipschitz(ROSEN, BOOL_THETA, THETA),
        lambda: verify_bound(QUAD, BOOL_THETA, EULER),
        lambda: gradient_flow(QUAD, BOOL_THETA, [0.0, 1.0]),
    ],
    ids=[
        "solve",
        "quadratic.loss",
        "quadratic.grad",
        "rosenbrock.loss",
        "rosenbrock.hvp",
        "hvp",
        "top_eigenvalue",
        "trace",
        "spectral_density",
        "local_lipschitz",
        "verify_bound",
        "gradient_flow",
    ],
)
def test_bool_states_are_type_errors(call: Callable[[], Any]) -> None:
    with pytest.raises(TypeError, match="real numbers, got dtype bool"):
        call()


# -- the validation module itself ------------------------------------------------------------
def test_messages_name_the_argument_and_the_range() -> None:
    with pytest.raises(ValueError, match=r"^h0 must be a finite number > 0, got -1.0$"):
        V.check_positive(-1.0, "h0")
    with pytest.raises(
        TypeError, match=r"^c must be a finite number in \(0, 1\), got 'x' \(str\)$"
    ):
        V.check_real("x", "c", low=0, high=1, low_open=True, high_open=True)
    with pytest.raises(ValueError, match=r"in \[0, 1\)"):
        V.check_unit_interval(1.0, "beta")
    with pytest.raises(TypeError, match=r"^n must be an integer >= 1, got 2.5 \(float\)$"):
        V.check_step_count(2.5, "n", 1)


def test_dtypes_of_states() -> None:
    assert V.as_state_array([1, 2], "x", 2).dtype == np.float64
    assert V.as_state_array(np.ones(2, np.float32), "x", 2).dtype == np.float32
    assert V.as_state_array(np.ones(2, np.float16), "x", 2).dtype == np.float64
    assert V.as_state_array(np.ones((0, 2)), "x", 2, allow_empty=True).shape == (0, 2)
    with pytest.raises(ValueError, match="empty"):
        V.as_state_array(np.ones((0, 2)), "x", 2)
    assert np.isnan(V.as_state_array([np.nan, 1.0], "x", 2, finite=False)[0])
    with pytest.raises(ValueError, match="x"):
        V.as_state_array([[1.0, 2.0], [1.0]], "x", 2)  # ragged


def test_scalars_convert_and_arrays_are_checked_entrywise() -> None:
    assert V.check_real(np.float32(0.5), "a") == 0.5
    assert isinstance(V.check_real(np.int64(2), "a"), float)
    assert V.check_real(np.array(3.0), "a") == 3.0
    np.testing.assert_array_equal(V.check_positive([1, 2], "h", allow_array=True), [1.0, 2.0])
    with pytest.raises(ValueError, match="h"):
        V.check_positive([1.0, 0.0], "h", allow_array=True)
    with pytest.raises(TypeError, match="h"):
        V.check_positive([1.0, 2.0], "h")  # a list where a number is needed
    with pytest.raises(ValueError, match="ragged"):
        V.check_positive([[1.0], [1.0, 2.0]], "h", allow_array=True)
    assert V.check_real(np.inf, "m", finite=False) == np.inf
    with pytest.raises(ValueError, match="m"):
        V.check_real(np.nan, "m", finite=False)
    assert V.check_bool(np.True_, "flag") is True
    assert V.check_choice("LA", "which", ("LA", "SA")) == "LA"
    assert isinstance(V.as_generator(None), np.random.Generator)
    gen = np.random.default_rng(0)
    assert V.as_generator(gen) is gen
