"""Every registered Runge–Kutta tableau converges to the gradient flow with its order.

The tests are parametrised by the registry :data:`gradflow.methods.TABLEAUX` itself, so a
tableau added to ``gradflow/methods/tableaux/`` is order-tested without touching this
file (:func:`test_every_registered_tableau_is_order_tested` checks that the parametrised
ids are the registry's keys).

The global error at ``T`` is measured against scipy's DOP853 at ``rtol = 1e-13``,
``atol = 1e-14`` (tighter than the 1e-12 of the library's references, so that the
reference error stays two orders below the smallest error fitted).  The step sizes
``h = T/N`` follow from the tableau's order ``p`` and the problem, never from a
per-tableau table:

* the step counts form a geometric ladder ``N = round(2^{k/m})`` over levels ``k``, with
  ``m = ⌈p/5⌉`` levels per halving of ``h`` (one level changes the error ``C h^p`` by at
  most ``2^5``; ``m = 1``, ``h = T/2^k``, for every order up to 5);
* the ladder starts at the first level with ``h`` at most the critical step of the
  method at ``θ0`` (:func:`gradflow.stability.critical_stepsize`);
* a window of ``n(p) = max(4, 1 + ⌈2m / (p log₁₀ 2)⌉)`` consecutive levels, so that
  ``h^p`` — the error ``C h^p`` — spans at least two decades;
* the window moves one level finer at a time until the slope fitted on it (least squares
  on log-log axes) agrees with the slope of the previous window within
  ``SETTLED (2^{1/m} - 1)`` (the asymptotic regime: the ``h^{p+1}`` contamination of the
  slope shrinks by ``2^{1/m}`` per level, so the fit is then within ``SETTLED`` of its
  limit), or until the next level's error would be below ``FLOOR`` (rounding and
  reference noise) or its step count above ``MAX_STEPS``.

The fitted slope must be within ±0.1 of ``p``.  On the stiff Rosenbrock flow a window
stopped by the floor before it settled can only show the pre-asymptotic slope, which is
steeper than ``p``: there the check is ``slope >= p - 0.1`` (DOPRI54, whose ``h^5`` term
is below the rounding floor there: the measurable errors show its ``h^6``–``h^7`` terms).
The smooth 10-d problem checks ``|slope - p| <= 0.1`` for every tableau.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pytest

import gradflow as gf
from gradflow.analysis import fit_order
from gradflow.methods import TABLEAUX, RungeKutta
from gradflow.stability import critical_stepsize

#: Errors below this are within ~100× of the reference's error and the rounding of up to
#: MAX_STEPS steps (about 1e-14 on both problems), so they are not fitted.
FLOOR = 1e-12
#: Agreement of the slopes of successive windows that counts as the asymptotic regime.
SETTLED = 0.05
#: The finest step is T / MAX_STEPS (a budget: about 2 s of Euler steps on Rosenbrock).
MAX_STEPS = 2**15
#: Decades of h^p a window spans.
DECADES = 2.0
#: Tolerance on the fitted order.
ORDER_TOL = 0.1


class OrderWindow(NamedTuple):
    steps: list[int]
    hs: np.ndarray
    errors: np.ndarray
    order: float  # the fitted slope
    settled: bool


def levels_per_halving(p: int) -> int:
    """``m``: h shrinks by 2^(1/m) per level, so the error by at most 2^5 per level."""
    return max(1, math.ceil(p / 5))


def steps_at(level: int, p: int) -> int:
    """The step count ``N = round(2^(level/m))`` of a ladder level."""
    return round(2.0 ** (level / levels_per_halving(p)))


def window_length(p: int) -> int:
    """Levels per window so that h^p spans at least DECADES decades (at least 4)."""
    m = levels_per_halving(p)
    return max(4, 1 + math.ceil(DECADES * m / (p * math.log10(2.0))))


def _chain_10d():
    # A smooth, coupled, non-quadratic 10-d loss: log-cosh springs between neighbours on
    # top of a confining ½‖θ‖² + ¼ Σ log(1 + θ_i²).
    import sympy as sp

    xs = sp.symbols("x0:10")
    expr = (
        sum(sp.log(sp.cosh(xs[i] - xs[i + 1])) for i in range(9))
        + sum(x**2 / 2 for x in xs)
        + sum(sp.log(1 + x**2) for x in xs) / 4
    )
    problem = gf.Problem.from_sympy(expr, xs, name="logcosh-chain-10d")
    return problem, 1.5 * np.random.default_rng(1).normal(size=10), 1.0


def _rosenbrock():
    # From (-0.5, 0.3) the flow runs down into the valley (λmax ≈ 391 at the start).
    return gf.problems.rosenbrock(), np.array([-0.5, 0.3]), 0.5


class _Case:
    """A problem, a start, a final time and its reference solution."""

    def __init__(self, problem, theta0, t_final):
        self.problem, self.theta0, self.t_final = problem, theta0, t_final
        self.exact = gf.reference.gradient_flow(
            problem, theta0, [t_final], rtol=1e-13, atol=1e-14
        ).theta[0]

    def error(self, tableau, n_steps):
        """Global error at T of ``n_steps`` steps of h = T / n_steps."""
        run = gf.solve(
            self.problem,
            self.theta0,
            RungeKutta(tableau),
            stepsize=self.t_final / n_steps,
            steps=n_steps,
            save="final",
        )
        assert run.status == "ok"
        return float(np.linalg.norm(run.theta[0] - self.exact))

    def window(self, tableau) -> OrderWindow:
        """The order window for ``tableau`` (see the module docstring)."""
        p = tableau.order
        n = window_length(p)
        settled_tol = SETTLED * (2.0 ** (1.0 / levels_per_halving(p)) - 1.0)
        h_crit = critical_stepsize(RungeKutta(tableau), self.problem, theta=self.theta0)
        first = 0
        while self.t_final / steps_at(first, p) > h_crit:
            first += 1
        steps = [steps_at(k, p) for k in range(first, first + n)]
        errors = [self.error(tableau, N) for N in steps]
        previous = None
        while True:
            hs = self.t_final / np.asarray(steps[-n:], dtype=float)
            order = fit_order(hs, errors[-n:]).order
            settled = previous is not None and abs(order - previous) <= settled_tol
            nxt = steps_at(first + len(steps), p)
            if settled or nxt > MAX_STEPS:
                break
            e_next = self.error(tableau, nxt)
            if e_next < FLOOR:
                break
            steps.append(nxt)
            errors.append(e_next)
            previous = order
        return OrderWindow(steps[-n:], hs, np.asarray(errors[-n:]), order, settled)


@pytest.fixture(scope="module")
def rosenbrock_case():
    return _Case(*_rosenbrock())


@pytest.fixture(scope="module")
def chain_case():
    return _Case(*_chain_10d())


def test_windows_span_two_decades_of_h_to_the_p():
    assert [window_length(p) for p in range(1, 9)] == [8, 5, 4, 4, 4, 4, 4, 4]
    for p in range(1, 11):
        m = levels_per_halving(p)
        assert (window_length(p) - 1) * p * math.log10(2.0) / m >= DECADES
        assert p / m <= 5  # at most 2^5 = 32× less error per level
        assert [steps_at(k, p) for k in range(0, 3 * m + 1, m)] == [1, 2, 4, 8]


@pytest.mark.parametrize("name", list(TABLEAUX), ids=list(TABLEAUX))
def test_order_on_rosenbrock(name, rosenbrock_case):
    tableau = TABLEAUX[name]
    w = rosenbrock_case.window(tableau)
    assert w.errors.min() >= FLOOR
    if w.settled:
        assert w.order == pytest.approx(tableau.order, abs=ORDER_TOL), w
    else:  # stopped by the floor or the step budget in the pre-asymptotic regime
        assert w.order >= tableau.order - ORDER_TOL, w


@pytest.mark.parametrize("name", list(TABLEAUX), ids=list(TABLEAUX))
def test_order_on_a_non_quadratic_10d_problem(name, chain_case):
    tableau = TABLEAUX[name]
    w = chain_case.window(tableau)
    assert w.errors.min() >= FLOOR
    assert w.order == pytest.approx(tableau.order, abs=ORDER_TOL), w


def _parametrised_ids(test) -> list[str]:
    (mark,) = [m for m in test.pytestmark if m.name == "parametrize"]
    return list(mark.kwargs["ids"])


def test_every_registered_tableau_is_order_tested():
    # The registry is the parametrisation: a new tableau file cannot skip these tests.
    keys = list(gf.methods.TABLEAUX)
    assert keys, "the tableau registry is empty"
    for test in (test_order_on_rosenbrock, test_order_on_a_non_quadratic_10d_problem):
        assert _parametrised_ids(test) == keys
