"""Every schedule class, found by subclass search, against the schedule contract.

A schedule added without an ``_example()`` fails here, so a new schedule is checked
without being listed anywhere.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
import gradflow.schedules as S
from gradflow.schedules import Schedule


def _classes(base: type) -> list[type]:
    out = []
    for sub in base.__subclasses__():
        out.append(sub)
        out.extend(_classes(sub))
    return out


CLASSES = sorted(
    {c for c in _classes(Schedule) if c.__module__.startswith("gradflow.")},
    key=lambda c: c.__name__,
)


def test_every_schedule_class_has_an_example():
    missing = []
    for cls in CLASSES:
        try:
            example = cls._example()
        except NotImplementedError:
            missing.append(cls.__name__)
            continue
        assert type(example) is cls
    assert not missing, f"schedules without _example(): {missing}"


def test_every_builder_is_exported_and_named():
    names = {cls._example().name for cls in CLASSES}
    assert names <= set(S.__all__), names - set(S.__all__)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_contract(cls):
    s = cls._example()
    k = np.arange(0, 3 * s.span + 7)
    values = s(k)
    assert values.shape == k.shape and values.dtype == np.float64
    assert np.all(np.isfinite(values)) and np.all(values >= 0)
    # Scalar calls equal array calls, bit for bit, in any order.
    for i in (0, 1, s.span // 2, s.span, 3 * s.span + 6, 5, 0):
        assert s(int(i)) == values[i]
    # Held past the horizon.
    if s.horizon is not None:
        far = s(np.array([s.horizon, s.horizon + 1, s.horizon + 10**6]))
        assert far[0] == far[1] == far[2]
    assert isinstance(s.describe(), str) and s.describe()
    assert repr(s).startswith(s.name + "(") and s.label().startswith(s.name)
    # What solve uses: h_k = s(k).
    p = gf.problems.quadratic([1.0, 2.0], seed=0)
    n = min(40, len(k) - 1)
    traj = gf.solve(p, np.full(2, 1e-3), stepsize=s, steps=n)
    np.testing.assert_array_equal(traj.h[1:], values[:n].astype(traj.h.dtype))


def test_product_and_factors_match_pytorchs_recursions():
    # ChainedScheduler([StepLR(3, 0.5), ExponentialLR(0.9)]) in its recursive form.
    lr, expected = 0.1, [0.1]
    for epoch in range(1, 30):
        if epoch % 3 == 0:
            lr = lr * 0.5
        lr = lr * 0.9
        expected.append(lr)
    s = S.step_decay(0.1, 3, 0.5) * S.exponential(1.0, 0.9)
    np.testing.assert_allclose(s(np.arange(30)), expected, rtol=1e-14)
    # MultiplicativeLR: lr_k = lr_{k-1} * f(k), the same products in the same order.
    f = lambda k: 0.9 if k % 4 else 1.1  # noqa: E731
    lr, expected = 0.2, [0.2]
    for epoch in range(1, 30):
        lr = lr * f(epoch)
        expected.append(lr)
    np.testing.assert_array_equal(S.multiplicative(0.2, f)(np.arange(30)), expected)
    # LambdaLR: base_lr * f(k).
    np.testing.assert_array_equal(
        S.lambda_factor(0.2, f)(np.arange(30)), [0.2 * f(k) for k in range(30)]
    )
    # A sweep of base steps evaluates on k[:, None].
    sweep = S.multiplicative(np.array([0.1, 0.2]), f)(np.arange(5)[:, None])
    np.testing.assert_array_equal(sweep[:, 1], S.multiplicative(0.2, f)(np.arange(5)))


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: S.product(S.constant(0.1)), ValueError),
        (lambda: S.product(S.constant(0.1), 0.5), TypeError),
        (lambda: S.lambda_factor(0.1, 3.0), TypeError),
        (lambda: S.multiplicative(-0.1, lambda k: 1.0), ValueError),
        (lambda: S.lambda_factor(0.1, lambda k: -1.0)(3), ValueError),
    ],
)
def test_bad_factor_schedules(make, error):
    with pytest.raises(error):
        make()
