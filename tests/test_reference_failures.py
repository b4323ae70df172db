"""Failure is data in the scipy references: they end, and say why.

Every test runs under a wall-clock alarm, so a regression to scipy's endless NaN step
loop fails the test instead of hanging the suite.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

import numpy as np
import pytest

import gradflow as gf
from gradflow._validation import MAX_ALLOCATION_BYTES, check_allocation

#: Seconds any one test may take.
WALL_CLOCK_LIMIT = 30


@pytest.fixture(autouse=True)
def wall_clock_guard() -> Iterator[None]:
    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"test took longer than {WALL_CLOCK_LIMIT} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(WALL_CLOCK_LIMIT)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _sphere_nan_inside(radius: float) -> gf.Problem:
    """``|θ|²`` whose gradient is NaN inside the ball of ``radius``."""

    def grad(theta: np.ndarray) -> np.ndarray:
        out = 2.0 * np.asarray(theta, dtype=float)
        out[np.linalg.norm(out, axis=-1) < 2.0 * radius] = np.nan
        return out

    return gf.Problem(lambda th: np.sum(np.asarray(th) ** 2, axis=-1), grad, dim=2, name="nan")


def _nan_everywhere() -> gf.Problem:
    return gf.Problem(
        lambda th: np.sum(np.asarray(th) ** 2, axis=-1),
        lambda th: np.full(np.shape(th), np.nan),
        dim=2,
        name="nan-everywhere",
    )


@pytest.mark.parametrize("scipy_method", ["DOP853", "RK45", "RK23", "Radau", "BDF", "LSODA"])
def test_nan_gradient_at_the_start_ends_failed(scipy_method: str) -> None:
    # NaN at θ0 made scipy's initial step NaN: its step loop never ended.
    ref = gf.reference.gradient_flow(_nan_everywhere(), np.ones((3, 2)), [0.0, 1.0], scipy_method)
    assert (ref.status == "failed").all()
    assert "non-finite" in ref.message
    np.testing.assert_array_equal(ref.theta[:, 0], np.ones((2, 2)))  # θ0 kept


def test_nan_gradient_later_fails_only_those_elements() -> None:
    # Rows starting far out reach the NaN ball later than t = 1; the near row at once.
    theta0 = np.array([[0.6, 0.0], [50.0, 0.0], [0.0, 40.0]])
    ts = [0.0, 0.1, 0.5, 1.0]
    ref = gf.reference.gradient_flow(_sphere_nan_inside(0.5), theta0, ts, rtol=1e-10, atol=1e-10)
    assert ref.status.tolist() == ["failed", "ok", "ok"]
    assert "1 element(s)" in ref.message
    exact = theta0[1:] * np.exp(-2.0 * np.asarray(ts))[:, None, None]
    np.testing.assert_allclose(ref.theta[:, 1:], exact, rtol=1e-8)
    # The failed row keeps its last saved state, finite.
    assert np.all(np.isfinite(ref.theta[:, 0]))
    np.testing.assert_array_equal(ref.theta[-1, 0], ref.theta[-2, 0])


def test_unbounded_quadratic_overflows_to_failed() -> None:
    # L = -θ1²/2 + θ2²: the flow grows like e^t and overflows near t = 709.
    p = gf.problems.quadratic([-1.0, 2.0], seed=0)
    ref = gf.reference.gradient_flow(p, np.ones((2, 2)), [0.0, 1.0, 800.0])
    assert (ref.status == "failed").all()
    assert "non-finite derivative" in ref.message
    assert np.all(np.isfinite(ref.theta))
    r1 = gf.reference.gradient_flow(p, np.ones(2), [0.0, 1.0])
    assert r1.status == "ok"


def test_well_behaved_message_and_status_unchanged() -> None:
    p = gf.problems.quadratic([1.0, 3.0], seed=1)
    ref = gf.reference.gradient_flow(p, np.ones((4, 2)), [0.0, 0.5, 1.0])
    assert (ref.status == "ok").all()
    assert ref.message == "The solver successfully reached the end of the integration interval."


def test_empty_t_eval_is_a_value_error() -> None:
    p = gf.problems.quadratic([1.0, 3.0], seed=1)
    with pytest.raises(ValueError, match="t_eval"):
        gf.reference.gradient_flow(p, np.ones(2), [])
    with pytest.raises(ValueError, match="t_eval"):
        gf.modified.flow_reference(lambda th: -th, np.ones(2), [])


def test_huge_t_eval_fails_fast_with_its_size() -> None:
    p = gf.problems.quadratic([1.0, 3.0], seed=1)
    ts = np.arange(0.0, 1e6)  # 10^6 times x 10^4 elements x 2 = 149 GiB
    with pytest.raises(ValueError, match=r"t_eval.* 149 GiB"):
        gf.reference.gradient_flow(p, np.ones((10**4, 2)), ts)
    with pytest.raises(ValueError, match=r"t_eval.* 149 GiB"):
        gf.modified.flow_reference(lambda th: -th, np.ones((10**4, 2)), ts)


def test_flow_reference_non_finite_field_raises() -> None:
    with pytest.raises(RuntimeError, match="not finite"):
        gf.modified.flow_reference(lambda th: np.full(th.shape, np.nan), np.ones((2, 2)), [0, 1.0])

    def blows_up(th: np.ndarray) -> np.ndarray:
        return th**2  # θ' = θ² blows up at t = 1 from θ = 1

    with pytest.raises(RuntimeError, match="solve_ivp failed"):
        gf.modified.flow_reference(blows_up, np.ones(1), [0.0, 2.0])


def test_check_allocation_contract() -> None:
    assert check_allocation(10, 8, "x") == 80
    with pytest.raises(ValueError, match=r"^n_grid asks for an array of 7451 GiB"):
        check_allocation(10**12, 8, "n_grid")
    assert MAX_ALLOCATION_BYTES == 16 * 2**30
    with pytest.raises(ValueError, match=r"limit is 9.537e-07 GiB"):
        check_allocation(200, 8, "x", limit=1024)


def test_overflow_at_a_rejected_trial_stage_is_not_a_failure() -> None:
    # Müller–Brown overflows at the first trial stage from (-1, 1.2); scipy rejects the
    # step and recovers, and so must the references.
    p = gf.problems.muller_brown()
    starts = np.array([[-0.2, 0.8], [0.3, 0.2], [-1.0, 1.2]])
    ref = gf.reference.gradient_flow(p, starts, [0.02])
    assert (ref.status == "ok").all()
    assert np.all(np.isfinite(ref.theta))
    out = gf.modified.flow_reference(lambda th: -p.grad(th), starts, [0.02])
    np.testing.assert_allclose(out, ref.theta, rtol=1e-9)
