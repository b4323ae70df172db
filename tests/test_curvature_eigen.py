"""Extreme Hessian eigenvalues: Lanczos, power iteration and dense, on known spectra."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft

import gradflow as gf
from gradflow.curvature import eigenvalues, hvp, top_eigenvalue


def implicit_quadratic(eigs, seed=0):
    """½ θᵀHθ with H = S Cᵀ diag(λ) C S: C the orthonormal DCT-II, S random signs and a
    random permutation of λ — an exact spectrum with O(d log d) HVPs and no d×d matrix."""
    eigs = np.asarray(eigs, dtype=float)
    gen = np.random.default_rng(seed)
    lam = eigs[gen.permutation(eigs.size)]
    signs = gen.choice([-1.0, 1.0], eigs.size)

    def H(v):
        v = np.asarray(v, dtype=float)
        inner = scipy.fft.dct(signs * v, norm="ortho", axis=-1)
        return signs * scipy.fft.idct(lam * inner, norm="ortho", axis=-1)

    def hvp_fn(theta, v):
        return H(np.broadcast_to(v, np.broadcast_shapes(np.shape(theta), np.shape(v))))

    return gf.Problem(
        loss=lambda th: 0.5 * np.sum(th * H(th), axis=-1),
        grad=H,
        hvp=hvp_fn,
        dim=eigs.size,
        name="implicit-quadratic",
    )


def bulk_with_top(d, top, seed=1):
    """A bulk uniform in [0, 0.5] and the given top eigenvalues."""
    eigs = np.random.default_rng(seed).uniform(0.0, 0.5, d)
    eigs[: len(top)] = top
    return eigs


SPREAD = [1.0, 0.8, 0.7]
CLUSTERED = [1.0, 0.995, 0.99, 0.985]


@pytest.mark.parametrize("top", [SPREAD, CLUSTERED], ids=["spread", "clustered"])
@pytest.mark.parametrize("d", [50, 2000])
def test_top_eigenvalue_to_1e_8_on_known_spectra(top, d):
    p = implicit_quadratic(bulk_with_top(d, top))
    res = top_eigenvalue(p, np.zeros(d), seed=0)
    assert res.converged
    assert abs(res.value - 1.0) <= 1e-8
    # The vector is an eigenvector: residual as reported.
    v = res.vector
    r = np.linalg.norm(hvp(p, np.zeros(d), v) - res.value * v)
    assert r == pytest.approx(float(res.residuals[0]), abs=1e-12)
    assert np.linalg.norm(v) == pytest.approx(1.0)


def test_lanczos_needs_at_most_a_third_of_the_hvps_of_power_on_a_clustered_spectrum():
    d = 2000
    p = implicit_quadratic(bulk_with_top(d, CLUSTERED))
    lan = top_eigenvalue(p, np.zeros(d), algorithm="lanczos", seed=0)
    pow_ = top_eigenvalue(p, np.zeros(d), algorithm="power", seed=0)
    assert lan.converged and pow_.converged
    assert abs(pow_.value - 1.0) <= 1e-8
    assert 3 * int(lan.n_hvp) <= int(pow_.n_hvp)


def test_methods_agree_with_dense_for_every_end_of_the_spectrum():
    eigs = np.array([-4.0, -1.0, 0.5, 2.0, 3.0, 3.5])
    p = gf.problems.quadratic(eigs, seed=2)
    theta = np.zeros((2, 6))
    expected = {"LA": [3.5, 3.0, 2.0], "SA": [-4.0, -1.0, 0.5], "LM": [-4.0, 3.5, 3.0]}
    for which, want in expected.items():
        for algorithm in ("lanczos", "power", "dense"):
            res = eigenvalues(p, theta, 3, algorithm=algorithm, seed=1, which=which)
            assert res.values.shape == (2, 3) and res.vectors.shape == (2, 3, 6)
            np.testing.assert_allclose(res.values, [want, want], atol=1e-7, err_msg=algorithm)
            assert res.converged.all()
            # Eigenvectors: H v = λ v.
            Hv = p.hvp(np.zeros((2, 3, 6)), res.vectors)
            np.testing.assert_allclose(Hv, res.values[..., None] * res.vectors, atol=1e-6)


def test_top_eigenvalue_is_algebraic_not_magnitude():
    # Near a saddle the most negative eigenvalue dominates in magnitude.
    p = gf.problems.quadratic([-10.0, 1.0, 2.0], seed=0)
    for algorithm in ("lanczos", "power", "dense"):
        assert top_eigenvalue(p, np.zeros(3), algorithm=algorithm, seed=0).value == pytest.approx(
            2.0
        )
        assert top_eigenvalue(
            p, np.zeros(3), algorithm=algorithm, seed=0, which="LM"
        ).value == pytest.approx(-10.0)


def test_batch_of_points_gives_a_batch_of_eigenvalues_equal_to_single_calls():
    p = gf.problems.rosenbrock(dim=6)
    theta = np.random.default_rng(0).uniform(-1.0, 1.5, (3, 2, 6))
    dense = np.linalg.eigvalsh(p.hessian(theta))[..., -1]
    res = top_eigenvalue(p, theta, seed=0)
    assert res.value.shape == (3, 2) and res.n_hvp.shape == (3, 2)
    np.testing.assert_allclose(res.value, dense, rtol=1e-8)
    single = top_eigenvalue(p, theta[1, 0], seed=0)
    assert single.value == pytest.approx(res.value[1, 0], rel=1e-10)


def test_same_seed_same_bits_and_v0():
    p = implicit_quadratic(bulk_with_top(300, SPREAD))
    a = top_eigenvalue(p, np.zeros(300), seed=5)
    b = top_eigenvalue(p, np.zeros(300), seed=5)
    assert a.value == b.value and np.array_equal(a.vector, b.vector)
    warm = top_eigenvalue(p, np.zeros(300), v0=a.vector + 1e-3)
    assert warm.value == pytest.approx(1.0, abs=1e-8)
    assert warm.n_hvp < a.n_hvp


def test_repeated_eigenvalues():
    p = gf.problems.quadratic([5.0, 5.0, 1.0, 0.5], seed=0)
    # Power iteration with deflation finds both copies.
    res = eigenvalues(p, np.zeros(4), 2, algorithm="power", seed=0)
    np.testing.assert_allclose(res.values, [5.0, 5.0], atol=1e-7)
    # A multiple of the identity: Lanczos restarts after the breakdown to give k values.
    iso = gf.problems.quadratic(A=3.0 * np.eye(5))
    res = eigenvalues(iso, np.zeros(5), 3, seed=0)
    np.testing.assert_allclose(res.values, [3.0, 3.0, 3.0])
    vecs = res.vectors
    np.testing.assert_allclose(vecs @ vecs.T, np.eye(3), atol=1e-12)


def test_finite_difference_hvp_problem():
    # No exact HVP: the central difference is accurate to ~eps^(2/3).
    p = gf.problems.rosenbrock()
    fd = gf.Problem(p.loss, p.grad, dim=2)
    exact = np.linalg.eigvalsh(p.hessian(np.array([0.5, 0.3])))[-1]
    assert top_eigenvalue(fd, [0.5, 0.3], seed=0).value == pytest.approx(exact, rel=1e-7)


def test_float32_input_stays_float32():
    p = gf.problems.quadratic([1.0, 2.0, 4.0], seed=0)
    res = top_eigenvalue(p, np.zeros(3, dtype=np.float32), seed=0)
    assert res.values.dtype == np.float32
    assert res.value == pytest.approx(4.0, rel=1e-5)


def test_unconverged_is_reported():
    p = implicit_quadratic(bulk_with_top(500, CLUSTERED))
    res = top_eigenvalue(p, np.zeros(500), algorithm="power", max_iter=5, seed=0)
    assert not res.converged and res.n_hvp == 5


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"k": 0}, ValueError, "k"),
        ({"k": 4}, ValueError, "k"),
        ({"k": 1.5}, TypeError, "k"),
        ({"algorithm": "arnoldi"}, ValueError, "algorithm"),
        ({"which": "LR"}, ValueError, "which"),
        ({"tol": 0.0}, ValueError, "tol"),
        ({"max_iter": 0}, ValueError, "max_iter"),
        ({"k": 2, "max_iter": 1}, ValueError, "max_iter"),
        ({"seed": "x"}, TypeError, "seed"),
        ({"v0": np.zeros(3)}, ValueError, "v0"),
        ({"v0": np.ones(2)}, ValueError, "v0"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    p = gf.problems.quadratic([1.0, 2.0, 3.0], seed=0)
    args = {"k": 1, **kwargs}
    with pytest.raises(error, match=match):
        eigenvalues(p, np.zeros(3), **args)


def test_bad_problem_and_theta():
    p = gf.problems.quadratic([1.0, 2.0], seed=0)
    with pytest.raises(TypeError, match="problem"):
        top_eigenvalue("quadratic", np.zeros(2))
    with pytest.raises(ValueError, match="theta"):
        top_eigenvalue(p, np.zeros(3))
    with pytest.raises(ValueError, match="theta"):
        top_eigenvalue(p, [np.nan, 0.0])
    with pytest.raises(ValueError, match="v"):
        hvp(p, np.zeros((3, 2)), np.ones((2, 2)))
