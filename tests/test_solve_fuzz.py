"""Failure is data: a property test of :func:`gradflow.solve` over random configurations.

Hypothesis draws a problem from the zoo, a method, a step-size policy (constants,
per-element arrays, schedules, callables, rules, plateau, error controllers and their
compositions), a horizon, a save mode, a dtype, a batch shape and a step size from far
below to far above the stability limit, optionally ``divergence_norm``, minibatches and
a callback.  Whatever it draws:

1. only ``ValueError`` / ``TypeError`` escape, naming an argument of ``solve``; a known
   incompatible combination (an error controller with a method without an embedded
   pair) must raise one;
2. no warning of any kind is emitted;
3. float32 stays float32 (``theta``, ``loss``, ``h``);
4. every saved state is finite; the saved loss of an element that ended ``"ok"``,
   ``"max_steps"`` or ``"stopped"`` is finite, and so is that of the last finite state
   a diverged or failed element keeps;
5. batch = single: element 0 run alone (same method and policy, its own entry of
   per-element arrays, the same minibatch seed) gives the same bits as in the batch.

The quick test runs a fixed, database-less set of examples; ``-m slow`` runs many more.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gradflow as gf
from gradflow.methods import TABLEAUX
from gradflow.problems import Problem

# ---------------------------------------------------------------------------------------
# the problems: a factory, a start region and a rough stability limit 2/L there
# ---------------------------------------------------------------------------------------
_RNG = np.random.default_rng(20261201)
_X = _RNG.standard_normal((12, 3))
_Y = _RNG.standard_normal(12)
_LABELS = _RNG.integers(0, 2, 12)


@dataclass(frozen=True)
class _ProblemSpec:
    problem: Problem
    centre: tuple[float, ...] | None  # None: the problem's own ``init``
    radius: float
    h_stable: float


PROBLEMS: dict[str, _ProblemSpec] = {
    "quadratic": _ProblemSpec(gf.problems.quadratic(seed=0), (0.0, 0.0), 2.0, 0.2),
    "rosenbrock": _ProblemSpec(gf.problems.rosenbrock(), (-1.2, 1.0), 0.5, 2e-3),
    "muller_brown": _ProblemSpec(gf.problems.muller_brown(), (-0.5, 1.0), 0.5, 2e-3),
    "himmelblau": _ProblemSpec(gf.problems.himmelblau(), (0.0, 0.0), 4.0, 1e-2),
    "beale": _ProblemSpec(gf.problems.beale(), (1.0, 0.0), 1.5, 1e-2),
    "least_squares": _ProblemSpec(gf.problems.least_squares(_X, _Y), (0.0,) * 3, 2.0, 1.5),
    "logistic_regression": _ProblemSpec(
        gf.problems.logistic_regression(_X, _LABELS, l2=0.1), (0.0,) * 3, 2.0, 5.0
    ),
    "scalar_net": _ProblemSpec(gf.problems.scalar_net(), (0.5, 0.5), 1.5, 0.5),
    "mlp_regression": _ProblemSpec(
        gf.problems.mlp_regression(width=4, n_points=8, degree=3, seed=3), None, 0.1, 1.0
    ),
}
FINITE_SUM = ("least_squares", "logistic_regression", "mlp_regression")

#: Statuses whose saved states must be finite in θ and in the loss.
RUNNING_STATUSES = {gf.Status.OK.value, gf.Status.MAX_STEPS.value, gf.Status.STOPPED.value}
ALL_STATUSES = {s.value for s in gf.Status}

#: Arguments of ``solve``: an error it raises names one of them.
SOLVE_ARGUMENTS = re.compile(
    r"\b(problem|theta0|method|stepsize|steps|t_final|save_every|save_at|save|max_steps"
    r"|callback|divergence_norm|batch_size|seed)\b"
)

EMBEDDED_PAIRS = ("DOPRI54", "BS32", "Heun-Euler 2(1)")


# ---------------------------------------------------------------------------------------
# a configuration and how to build it (for the batch, or for one element of it)
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Config:
    problem: str
    method: tuple
    policy: tuple
    horizon: tuple  # ("steps", n) or ("t_final", t_final, max_steps)
    save: tuple  # ("final",), ("all",), ("every", n) or ("at", times)
    dtype: str
    batch: tuple[int, ...]
    start_seed: int
    divergence_norm: float | None
    minibatch: tuple[int, int] | None  # (batch_size, seed)
    callback: int | None  # None: no callback; -1: observe only; k: stop at step k


def _pick(value: Any, batch: tuple[int, ...], element: int | None) -> Any:
    """``value`` for the whole batch, or element ``element``'s entry of it."""
    if element is None or not isinstance(value, np.ndarray):
        return value
    return float(np.broadcast_to(value, batch).reshape(-1)[element])


def build_method(spec: tuple) -> gf.methods.Method:
    kind, *args = spec
    m = gf.methods
    if kind == "RungeKutta":
        return m.RungeKutta(TABLEAUX[args[0]])
    if kind == "Clipped":
        inner, clip_norm, clip_value = args
        return m.Clipped(build_method(inner), clip_norm=clip_norm, clip_value=clip_value)
    if kind == "SGD":
        momentum, nesterov = args
        return m.SGD(momentum=momentum, nesterov=nesterov)
    return getattr(m, kind)(*args)


def _schedule(spec: tuple, batch: tuple[int, ...], element: int | None) -> Any:
    kind, lr, a, n = spec  # a in (0, 1): a floor or decay factor; n: a step count
    lr = _pick(lr, batch, element)
    s = gf.schedules
    makers = {
        "constant": lambda: s.constant(lr),
        "cosine": lambda: s.cosine(lr, n, min_lr=a * lr),
        "cosine_restarts": lambda: s.cosine_restarts(lr, n, min_lr=a * lr),
        "exponential": lambda: s.exponential(lr, 1.0 - 0.1 * a),
        "step_decay": lambda: s.step_decay(lr, n, gamma=a),
        "multistep": lambda: s.multistep(lr, [n, 2 * n], gamma=a),
        "polynomial": lambda: s.polynomial(lr, n, power=2.0, end_lr=a * lr),
        "inverse_sqrt": lambda: s.inverse_sqrt(lr, n),
        "warmup_cosine": lambda: s.warmup_cosine(lr, n, 3 * n, init_lr=a * lr, end_lr=a * lr),
        "wsd": lambda: s.wsd(lr, n, n, n, min_lr=a * lr),
        "one_cycle": lambda: s.one_cycle(lr, 3 * n),
        "cyclic": lambda: s.cyclic(a * lr, lr, step_size_up=n),
        "linear_warmup": lambda: s.linear_warmup(s.cosine(lr, 4 * n, a * lr), n, a * lr),
    }
    return makers[kind]()


def _rule(spec: tuple) -> Any:
    kind, h, a, n = spec
    r = gf.rules
    makers = {
        "Armijo": lambda: r.Armijo(h0=h),
        "Polyak": lambda: r.Polyak(f_star=a, h_max=h),  # a: f_star or None
        "BarzilaiBorwein": lambda: r.BarzilaiBorwein(1 + n % 2, h0=h),
        "AdGD": lambda: r.AdGD(h0=h),
        "LocalLipschitz": lambda: r.LocalLipschitz(
            safety=2 * a, h0=h, estimator=("secant", "hvp")[n % 2]
        ),
        "ReduceOnPlateau": lambda: r.ReduceOnPlateau(h, factor=a, patience=n % 5, min_lr=1e-3 * h),
    }
    return makers[kind]()


def build_policy(spec: tuple, batch: tuple[int, ...], element: int | None = None) -> Any:
    kind, *args = spec
    if kind == "float":
        return args[0]
    if kind == "array":
        return _pick(args[0], batch, element)
    if kind == "schedule":
        return _schedule(tuple(args), batch, element)
    if kind == "callable":
        h, rate = args
        return lambda k: h / (1.0 + rate * k)
    if kind == "rule":
        return _rule(tuple(args))
    if kind == "controller":
        name, rtol, atol = args
        return getattr(gf.controllers, name)(rtol=rtol, atol=atol)
    if kind == "Product":
        inner, factor = args
        parts = build_policy(inner, batch, element), build_policy(factor, batch, element)
        return gf.stepsize.Product(*parts)
    if kind == "Join":
        first, second, boundary = args
        parts = [build_policy(first, batch, element), build_policy(second, batch, element)]
        return gf.stepsize.Join(parts, [boundary])
    if kind == "Clip":
        inner, h_min, h_max = args
        return gf.stepsize.Clip(build_policy(inner, batch, element), h_min=h_min, h_max=h_max)
    raise AssertionError(kind)


def _theta0(config: Config) -> np.ndarray:
    spec = PROBLEMS[config.problem]
    rng = np.random.default_rng(config.start_seed)
    if spec.centre is None:
        theta = spec.problem.init(seed=config.start_seed, batch_shape=config.batch)
        theta = theta + spec.radius * rng.standard_normal(theta.shape)
    else:
        centre = np.asarray(spec.centre)
        theta = centre + rng.uniform(-spec.radius, spec.radius, (*config.batch, centre.size))
    return theta.astype(config.dtype)


def _callback(config: Config) -> Any:
    if config.callback is None:
        return None
    stop_at = config.callback

    def callback(info: Any) -> bool:
        assert info.theta.dtype == np.dtype(config.dtype)
        return 0 <= stop_at <= info.k

    return callback


def _kwargs(config: Config, element: int | None) -> dict[str, Any]:
    kw: dict[str, Any] = {}
    if config.horizon[0] == "steps":
        kw["steps"] = config.horizon[1]
    else:
        kw["t_final"], kw["max_steps"] = config.horizon[1:]
    mode = config.save[0]
    if mode in ("final", "all"):
        kw["save"] = mode
    elif mode == "every":
        kw["save_every"] = config.save[1]
    else:
        kw["save_at"] = np.asarray(config.save[1])
    if config.divergence_norm is not None:
        kw["divergence_norm"] = config.divergence_norm
    if config.minibatch is not None:
        kw["batch_size"], kw["seed"] = config.minibatch
    kw["callback"] = _callback(config)
    return kw


def run(config: Config, element: int | None = None) -> gf.Trajectory:
    """``solve`` on ``config`` (its element ``element`` alone), with warnings as errors."""
    theta0 = _theta0(config)
    if element is not None:
        theta0 = theta0.reshape(-1, theta0.shape[-1])[element]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return gf.solve(
            PROBLEMS[config.problem].problem,
            theta0,
            build_method(config.method),
            build_policy(config.policy, config.batch, element),
            **_kwargs(config, element),
        )


def incompatible(config: Config) -> bool:
    """A combination ``solve`` must refuse: an error controller with a method without
    an embedded pair, Polyak without ``f_star`` on a problem of unknown minimum, or SPS
    on minibatches of a problem without ``minibatch_loss``."""
    method = config.method[1] if config.method[0] == "Clipped" else config.method
    embedded = method[0] == "RungeKutta" and method[1] in EMBEDDED_PAIRS
    no_minimum = PROBLEMS[config.problem].problem.minimum is None
    sampled_loss = callable(getattr(PROBLEMS[config.problem].problem, "minibatch_loss", None))
    n = getattr(PROBLEMS[config.problem].problem, "n_samples", 0)
    if config.method == ("SPS",) and config.minibatch and config.minibatch[0] < n:
        return not sampled_loss  # (a minibatch of all n is the problem itself)
    return any(
        (part[0] == "controller" and not embedded)
        or (part[:2] == ("rule", "Polyak") and part[3] is None and no_minimum)
        for part in _parts(config.policy)
    )


def _parts(policy: tuple) -> list[tuple]:
    """The policy and, for a composition, the policies it is made of."""
    kind = policy[0]
    if kind in ("Product", "Clip"):
        return [policy, *_parts(policy[1])]
    if kind == "Join":
        return [policy, *_parts(policy[1]), *_parts(policy[2])]
    return [policy]


# ---------------------------------------------------------------------------------------
# the strategies
# ---------------------------------------------------------------------------------------
_FACTOR = st.floats(0.05, 0.9)
_COUNT = st.integers(1, 20)


LR_FREE = ["DAdaptAdam", "Prodigy", "DoG", "LDoG", "SGDScheduleFree", "AdamWScheduleFree"]


def _methods() -> st.SearchStrategy[tuple]:
    plain = st.one_of(
        st.just(("Euler",)),
        st.tuples(st.just("RungeKutta"), st.sampled_from(sorted(TABLEAUX))),
        st.tuples(st.just("HeavyBall"), st.floats(0.0, 0.95)),
        st.tuples(st.just("Nesterov"), st.floats(0.0, 0.95)),
        st.just(("NesterovAGD",)),
        st.just(("ImplicitEuler",)),
        st.just(("Adam",)),
        st.just(("LAMB",)),
        st.just(("Adafactor",)),
        st.just(("Sophia",)),
        st.just(("SPS",)),
        st.tuples(st.just("SGD"), st.floats(0.0, 0.95), st.just(False)),
        st.tuples(st.just("SGD"), st.floats(0.05, 0.95), st.just(True)),
        # the learning-rate-free methods (their own running estimates scale h)
        st.tuples(st.just("DAdaptSGD"), st.floats(0.0, 0.95)),
        st.sampled_from(LR_FREE).map(lambda name: (name,)),
    )
    clip = st.one_of(
        st.tuples(st.floats(0.1, 10.0), st.none()), st.tuples(st.none(), st.floats(0.1, 10.0))
    )
    clipped = st.tuples(st.just("Clipped"), plain, clip).map(lambda t: (t[0], t[1], *t[2]))
    return st.one_of(plain, clipped)


@st.composite
def _per_element(draw: Any, h: float, batch: tuple[int, ...]) -> np.ndarray | float:
    """``h`` times per-element factors, shape ``batch`` (or ``(2, 1)`` for ``(2, 2)``)."""
    if batch == ():
        return h
    shape = draw(st.sampled_from([batch, (2, 1)] if batch == (2, 2) else [batch]))
    exponents = draw(
        st.lists(st.floats(-1.0, 1.0), min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))
    )
    return h * 10.0 ** np.reshape(exponents, shape)


@st.composite
def _simple_policy(draw: Any, h: float, batch: tuple[int, ...], f_star: float) -> tuple:
    """A policy that needs no error estimate (``f_star``: a lower bound of the loss)."""
    kind = draw(st.sampled_from(["float", "array", "schedule", "callable", "rule"]))
    if kind == "float":
        return ("float", h)
    if kind == "array":
        return ("array", draw(_per_element(h, batch)))
    if kind == "schedule":
        name = draw(st.sampled_from([
            "constant", "cosine", "cosine_restarts", "exponential", "step_decay",
            "multistep", "polynomial", "inverse_sqrt", "warmup_cosine", "wsd",
            "one_cycle", "cyclic", "linear_warmup",
        ]))  # fmt: skip
        lr = draw(_per_element(h, batch)) if draw(st.booleans()) else h
        return ("schedule", name, lr, draw(_FACTOR), draw(_COUNT))
    if kind == "callable":
        return ("callable", h, draw(st.floats(0.0, 0.2)))
    name = draw(st.sampled_from(
        ["Armijo", "Polyak", "BarzilaiBorwein", "AdGD", "LocalLipschitz", "ReduceOnPlateau"]
    ))  # fmt: skip
    a = draw(st.sampled_from([None, f_star])) if name == "Polyak" else draw(_FACTOR)
    return ("rule", name, h, a, draw(_COUNT))


def _controller() -> st.SearchStrategy[tuple]:
    return st.tuples(
        st.just("controller"),
        st.sampled_from(["IController", "PIController"]),
        st.floats(1e-6, 1e-1),
        st.floats(1e-8, 1e-3),
    )


@st.composite
def _policies(draw: Any, h: float, batch: tuple[int, ...], f_star: float) -> tuple:
    kind = draw(st.sampled_from(["simple"] * 4 + ["controller", "Product", "Join", "Clip"]))
    base = st.one_of(_simple_policy(h, batch, f_star), _controller())
    if kind == "simple":
        return draw(_simple_policy(h, batch, f_star))
    if kind == "controller":
        return draw(_controller())
    if kind == "Product":
        factor = ("schedule", "exponential", 1.0, draw(_FACTOR), 1)
        return ("Product", draw(base), factor)
    if kind == "Join":
        first = ("schedule", "linear_warmup", h, draw(_FACTOR), draw(_COUNT))
        return ("Join", first, draw(base), draw(st.integers(1, 30)))
    h_min = draw(st.one_of(st.none(), st.just(1e-3 * h)))
    return ("Clip", draw(base), h_min, draw(st.floats(0.5, 5.0)) * h)


@st.composite
def configs(draw: Any) -> Config:
    """A random ``solve`` configuration."""
    name = draw(st.sampled_from(sorted(PROBLEMS)))
    batch = draw(st.sampled_from([(), (3,), (2, 2)]))
    # from 1/100 of the stability limit to 20 times it: some rows diverge
    h = PROBLEMS[name].h_stable * 10.0 ** draw(st.floats(-2.0, 1.3))
    minimum = PROBLEMS[name].problem.minimum  # else 0: every zoo loss is >= 0
    policy = draw(_policies(h, batch, 0.0 if minimum is None else minimum))
    if draw(st.booleans()):
        horizon: tuple = ("steps", draw(st.integers(0, 60)))
        save = draw(st.one_of(
            st.just(("final",)), st.just(("all",)), st.tuples(st.just("every"), _COUNT)
        ))  # fmt: skip
    else:
        t_final = draw(st.integers(1, 60)) * h
        horizon = ("t_final", t_final, draw(st.integers(1, 200)))
        twentieths = st.lists(st.integers(0, 20), min_size=1, max_size=5, unique=True)
        at = twentieths.map(lambda f: ("at", tuple(t_final * (x / 20) for x in sorted(f))))
        save = draw(st.one_of(
            st.just(("final",)), st.just(("all",)), st.tuples(st.just("every"), _COUNT), at
        ))  # fmt: skip
    minibatch = None
    if name in FINITE_SUM and draw(st.booleans()):
        n = PROBLEMS[name].problem.n_samples
        minibatch = (draw(st.integers(1, n)), draw(st.integers(0, 2**31)))
    methods = _methods()
    if any(part[0] == "controller" for part in _parts(policy)):
        # mostly a method with an embedded pair, sometimes one that must be refused
        embedded = st.sampled_from(EMBEDDED_PAIRS).map(lambda n: ("RungeKutta", n))
        methods = st.integers(0, 4).flatmap(lambda i, m=methods: m if i == 0 else embedded)
    return Config(
        problem=name,
        method=draw(methods),
        policy=policy,
        horizon=horizon,
        save=save,
        dtype=draw(st.sampled_from(["float64", "float32"])),
        batch=batch,
        start_seed=draw(st.integers(0, 2**31)),
        divergence_norm=draw(st.one_of(st.none(), st.floats(1.0, 1e6))),
        minibatch=minibatch,
        callback=draw(st.one_of(st.none(), st.just(-1), st.integers(0, 40))),
    )


# ---------------------------------------------------------------------------------------
# the properties
# ---------------------------------------------------------------------------------------
def _columns(traj: gf.Trajectory, batch: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Saved columns ``(n, B, ...)`` and per-element fields ``(B,)`` of a trajectory."""
    n, B = traj.t.shape[0], int(np.prod(batch, dtype=int))
    out = {k: getattr(traj, k).reshape(n, B) for k in ("t", "loss", "h", "step")}
    out["theta"] = traj.theta.reshape(n, B, -1)
    for k in ("status", "n_steps", "n_grad", "n_rejected"):
        out[k] = np.asarray(getattr(traj, k)).reshape(B)
    return out


def check_dtypes(config: Config, traj: gf.Trajectory) -> None:
    dtype = np.dtype(config.dtype)
    assert traj.theta.dtype == dtype, traj.theta.dtype
    assert traj.loss.dtype == dtype, traj.loss.dtype
    assert traj.h.dtype == dtype, traj.h.dtype


def check_finite(config: Config, traj: gf.Trajectory) -> None:
    c = _columns(traj, config.batch)
    for i, status in enumerate(c["status"]):
        assert status in ALL_STATUSES, status
        theta, loss = c["theta"][:, i], c["loss"][:, i]
        assert np.isfinite(theta).all(), f"a {status} element saved a non-finite θ (element {i})"
        if status not in ("diverged", "failed"):
            # (A diverged element keeps its last finite state; its loss may overflow.)
            assert np.isfinite(loss).all(), f"a {status} element saved a non-finite loss ({i})"


def _padded(a: np.ndarray, n: int) -> np.ndarray:
    """``a`` with its last column repeated up to ``n`` columns (a stopped element)."""
    return np.concatenate([a, np.repeat(a[-1:], n - a.shape[0], axis=0)])


def check_batch_is_single(config: Config, traj: gf.Trajectory) -> None:
    """Element 0 of the batch equals element 0 run alone, bit for bit."""
    batched = _columns(traj, config.batch)
    alone = _columns(run(config, element=0), ())
    n = max(batched["t"].shape[0], alone["t"].shape[0])
    for k in ("theta", "t", "h", "loss", "step"):
        np.testing.assert_array_equal(
            _padded(batched[k][:, 0], n), _padded(alone[k][:, 0], n), err_msg=k
        )
    for k in ("status", "n_steps", "n_grad", "n_rejected"):
        np.testing.assert_array_equal(batched[k][0], alone[k][0], err_msg=k)


def check_config(config: Config) -> None:
    """All the properties for one configuration."""
    try:
        traj = run(config)
    except (ValueError, TypeError) as error:
        assert SOLVE_ARGUMENTS.search(str(error)), f"the error names no argument: {error}"
        assert incompatible(config), f"a valid configuration was refused: {error!r}"
        return
    assert not incompatible(config), "an incompatible configuration was accepted"
    check_dtypes(config, traj)
    check_finite(config, traj)
    if config.batch != ():
        check_batch_is_single(config, traj)


QUICK = settings(
    max_examples=150,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@QUICK
@given(configs())
def test_failure_is_data(config: Config) -> None:
    check_config(config)


@pytest.mark.slow
@settings(QUICK, max_examples=4000)
@given(configs())
def test_failure_is_data_many(config: Config) -> None:
    check_config(config)


# ---------------------------------------------------------------------------------------
# explicit examples
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["Euler", "HeavyBall", "Adam", "RK4", "Clipped RK4"])
@pytest.mark.parametrize("controller", ["IController", "PIController"])
def test_a_controller_needs_an_embedded_pair(method: str, controller: str) -> None:
    methods = {
        "Euler": gf.methods.Euler(),
        "HeavyBall": gf.methods.HeavyBall(),
        "Adam": gf.methods.Adam(),
        "RK4": gf.methods.RungeKutta(gf.methods.RK4),
        "Clipped RK4": gf.methods.Clipped(gf.methods.RungeKutta(gf.methods.RK4), clip_norm=1.0),
    }
    policy = getattr(gf.controllers, controller)(rtol=1e-3, atol=1e-6)
    with pytest.raises(ValueError, match=r"\bmethod\b"):
        gf.solve(gf.problems.rosenbrock(), [-1.2, 1.0], methods[method], policy, t_final=1.0)


def _assert_saved_finite(traj: gf.Trajectory) -> None:
    """Saved states are finite; a saved loss that is not finite is never 'ok'."""
    assert np.isfinite(traj.theta).all(), (traj.status, traj.theta)
    if not np.isfinite(traj.loss).all():
        assert traj.status == "diverged", (traj.status, traj.loss)


@pytest.mark.parametrize(
    ("problem", "theta0", "method", "kwargs"),
    [
        # θ stays finite for 4 steps, its loss does not: diverged, never "ok"
        ("rosenbrock", [-1.2, 1.0], "Euler", {"stepsize": 1.0, "steps": 4}),
        # one DOPRI54 step to |θ| ~ 1e145, whose loss is infinite
        ("beale", [1.0, 1.5], "DOPRI54", {"stepsize": 0.1, "steps": 1}),
        # the same under t_final (float32)
        ("beale", np.float32([1.0, 1.5]), "Euler", {"stepsize": 0.1, "t_final": 1.0,
                                                   "max_steps": 2}),
        # a diverged row keeps θ_3 ~ 1e23 (float32), whose loss is inf
        ("beale", np.float32([1.0, 1.5]), "Euler", {"stepsize": 0.1, "steps": 4}),
    ],
)  # fmt: skip
def test_every_saved_loss_is_finite(problem: str, theta0: Any, method: str, kwargs: dict) -> None:
    m = gf.methods.Euler() if method == "Euler" else gf.methods.RungeKutta(TABLEAUX[method])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        traj = gf.solve(getattr(gf.problems, problem)(), theta0, m, save="all", **kwargs)
    _assert_saved_finite(traj)


@pytest.mark.parametrize(
    ("tableau", "stepsize", "steps", "theta0"),
    [
        ("RK4", ("float", 0.01), 2, [-1.2, 1.0]),  # θ_2 beyond float32's range
        ("BS32", ("float", 0.05), 2, [-1.2, 1.0]),
        # "diverged", keeping θ_2 = (-inf, 2.5e32): finite in float64 only
        ("DOPRI54", ("Join", ("schedule", "linear_warmup", 0.02, 0.0625, 1), ("float", 0.02), 1),
         3, [-1.0630383491516113, 0.7697867155075073]),
    ],
)  # fmt: skip
def test_a_float32_runge_kutta_run_keeps_finite_states(
    tableau: str, stepsize: tuple, steps: int, theta0: list
) -> None:
    """The stages must be combined in float32 (float64 weights would promote them), or a
    state beyond float32's range passes the
    divergence check and is saved (cast to float32) as inf."""
    method = gf.methods.RungeKutta(TABLEAUX[tableau])
    policy = build_policy(stepsize, ())
    traj = gf.solve(
        gf.problems.rosenbrock(), np.float32(theta0), method, policy, steps=steps, save="all"
    )
    assert traj.theta.dtype == np.float32
    _assert_saved_finite(traj)


@pytest.mark.parametrize("problem", FINITE_SUM)
def test_implicit_euler_runs_on_minibatches(problem: str) -> None:
    """ImplicitEuler's Newton solve takes central-difference HVPs of the minibatch
    gradient, restricted to the rows of the Newton iteration."""
    spec = PROBLEMS[problem]
    theta0 = spec.problem.init(seed=0) if spec.centre is None else np.asarray(spec.centre)
    traj = gf.solve(
        spec.problem, theta0, gf.methods.ImplicitEuler(), spec.h_stable, steps=3,
        batch_size=1, seed=0,
    )  # fmt: skip
    assert traj.status == "ok"


@pytest.mark.parametrize(
    ("method", "stepsize", "kwargs"),
    [
        # the implicit solve under Clipped counts every row as the slowest one
        (("Clipped", ("ImplicitEuler",), 1.0, None), ("float", 0.01), {"steps": 1}),
        # Polyak's observation gradient when the other rows land on t_final first
        (("Euler",), ("rule", "Polyak", 0.01, None, 1), {"t_final": 0.01, "max_steps": 2}),
    ],
)  # fmt: skip
def test_gradient_counts_are_per_element(method: tuple, stepsize: tuple, kwargs: dict) -> None:
    """Beale from three starts: each element's n_grad equals its own when run alone."""
    theta0 = np.array([[1.0354648741007701, 1.351391088977806],
                       [-0.06752116184109891, 1.3459483414117317],
                       [0.43549435603145636, -0.23002065308227304]])  # fmt: skip
    problem = gf.problems.beale()

    def solve(theta: np.ndarray, i: int | None) -> gf.Trajectory:
        policy = build_policy(stepsize, (3,), i)
        return gf.solve(problem, theta, build_method(method), policy, save="final", **kwargs)

    batched = solve(theta0, None)
    alone = [int(solve(theta0[i], i).n_grad) for i in range(3)]
    np.testing.assert_array_equal(batched.n_grad, alone)


class _Hung(Exception):
    """A run that took far more steps than it could need."""


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_zero_step_with_t_final_stalls(dtype: str) -> None:
    """A schedule held at 0 past its horizon cannot reach ``t_final``: the run must end
    (status ``"stalled"``) instead of looping.  The callback guards against a hang."""
    calls = []

    def guard(info: Any) -> None:
        calls.append(info.k)
        if len(calls) > 2_000:
            raise _Hung(f"still running after {info.k} steps at t = {info.t}")

    schedule = gf.schedules.cosine(0.1, 5, min_lr=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        traj = gf.solve(
            gf.problems.quadratic(seed=0),
            np.ones(2, dtype=dtype),
            stepsize=schedule,
            t_final=10.0,
            callback=guard,
            save="final",
        )
    assert traj.status == "stalled"
    assert np.isfinite(traj.theta).all() and traj.theta.dtype == np.dtype(dtype)
