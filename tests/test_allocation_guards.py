"""Huge requests fail at once with a ValueError naming the argument and the size."""

from __future__ import annotations

import time

import numpy as np
import pytest

import gradflow as gf


@pytest.fixture
def problem() -> gf.Problem:
    return gf.problems.quadratic([1.0, 3.0], seed=0)


def _refuses(call, argument: str) -> None:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    with pytest.raises(ValueError, match=rf"^{argument} .*GiB"):
        call()
    assert time.perf_counter() - start < 5.0


def test_spectral_density_n_grid(problem: gf.Problem) -> None:
    _refuses(lambda: gf.curvature.spectral_density(problem, np.zeros(2), n_grid=10**12), "n_grid")


def test_lr_find_steps(problem: gf.Problem) -> None:
    _refuses(lambda: gf.lr_find(problem, np.ones(2), steps=10**12), "steps")
    # Within the limit for the step sizes, above it for the saved states.
    _refuses(lambda: gf.lr_find(problem, np.ones((10**3, 2)), steps=10**9), "steps")


def test_richardson_levels() -> None:
    _refuses(lambda: gf.richardson.weights(10**5), "levels")
    values = np.broadcast_to(np.zeros(1), (10**6, 10**4))  # a view: no memory
    _refuses(lambda: gf.richardson.extrapolate(values), "levels")


def test_trace_probes_and_lipschitz_samples(problem: gf.Problem) -> None:
    _refuses(lambda: gf.curvature.trace(problem, np.zeros(2), n_probes=10**12), "n_probes")
    box = gf.curvature.Box([-1.0, -1.0], [1.0, 1.0])
    plain = gf.Problem(lambda th: 0.5 * np.sum(th * th, axis=-1), lambda th: th.copy(), dim=2)
    _refuses(lambda: gf.curvature.lipschitz(plain, box, n_samples=10**12), "n_samples")


def test_unrestarted_lanczos_basis() -> None:
    d = 10**5  # 10 points x 10^5 vectors x 10^5 = 745 GiB
    p = gf.Problem(lambda th: 0.5 * np.sum(th * th, axis=-1), lambda th: th.copy(), dim=d)
    _refuses(
        lambda: gf.curvature.eigenvalues(p, np.zeros((10, d)), k=1, restart=False, max_iter=d),
        "max_iter",
    )


def test_plot_resolution() -> None:
    pytest.importorskip("matplotlib")
    _refuses(lambda: gf.plot.stability_region(gf.methods.Euler(), resolution=10**6), "resolution")


def test_small_requests_pass(problem: gf.Problem) -> None:
    sd = gf.curvature.spectral_density(problem, np.zeros(2), n_grid=50, seed=0)
    assert sd.density.shape[-1] == 50
    assert gf.richardson.weights(3).shape == (3,)
