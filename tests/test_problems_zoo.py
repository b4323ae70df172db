"""Tests of the problem zoo: derivatives, batching, dtypes, known minima, validation.

Derivatives are checked three independent ways: central finite differences of a loss
written out again *in this file*, the Hessian against the HVP, and sympy (the same
expression built symbolically and lambdified).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradflow.problems import (
    ZOO,
    Problem,
    beale,
    himmelblau,
    least_squares,
    logistic_regression,
    mlp_regression,
    muller_brown,
    quadratic,
    rosenbrock,
    scalar_net,
)

# -- data ----------------------------------------------------------------------------
_DATA_RNG = np.random.default_rng(20240601)
X_DATA = _DATA_RNG.standard_normal((7, 3))
Y_REG = _DATA_RNG.standard_normal(7)
Y_LAB = np.array([0, 1, 1, 0, 1, 0, 0])
L2 = 0.1


# -- reference losses written independently of the package ---------------------------
def ref_rosenbrock(th: np.ndarray, a: float = 1.0, b: float = 100.0) -> np.ndarray:
    d = th.shape[-1]
    return sum(
        b * (th[..., i + 1] - th[..., i] ** 2) ** 2 + (a - th[..., i]) ** 2 for i in range(d - 1)
    )


def ref_muller_brown(th: np.ndarray) -> np.ndarray:
    x, y = th[..., 0], th[..., 1]
    terms = [
        (-200.0, -1.0, 0.0, -10.0, 1.0, 0.0),
        (-100.0, -1.0, 0.0, -10.0, 0.0, 0.5),
        (-170.0, -6.5, 11.0, -6.5, -0.5, 1.5),
        (15.0, 0.7, 0.6, 0.7, -1.0, 1.0),
    ]
    return sum(
        amp * np.exp(a * (x - x0) ** 2 + b * (x - x0) * (y - y0) + c * (y - y0) ** 2)
        for amp, a, b, c, x0, y0 in terms
    )


def ref_himmelblau(th: np.ndarray) -> np.ndarray:
    x, y = th[..., 0], th[..., 1]
    return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2


def ref_beale(th: np.ndarray) -> np.ndarray:
    x, y = th[..., 0], th[..., 1]
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


def ref_scalar_net(th: np.ndarray) -> np.ndarray:
    return 0.5 * (1 - th[..., 0] * th[..., 1]) ** 2


def ref_least_squares(th: np.ndarray) -> np.ndarray:
    r = np.einsum("ij,...j->...i", X_DATA, th) - Y_REG
    return 0.5 * np.mean(r**2, axis=-1)


def ref_logistic(th: np.ndarray) -> np.ndarray:
    s = np.where(Y_LAB == 1, 1.0, -1.0)
    m = s * np.einsum("ij,...j->...i", X_DATA, th)
    return np.mean(np.log1p(np.exp(-m)), axis=-1) + 0.5 * L2 * np.sum(th**2, axis=-1)


def make_ref_mlp(width: int, n: int, degree: int) -> Callable[[np.ndarray], np.ndarray]:
    x = np.linspace(-1, 1, n)
    y = np.cos(degree * np.arccos(np.clip(x, -1, 1)))

    def ref(th: np.ndarray) -> np.ndarray:
        w1, b1, w2 = th[..., :width], th[..., width : 2 * width], th[..., 2 * width :]
        f = np.einsum(
            "...j,...ij->...i", w2, np.tanh(np.einsum("...j,i->...ij", w1, x) + b1[..., None, :])
        )
        return 0.5 * np.mean((f - y) ** 2, axis=-1)

    return ref


# -- cases ---------------------------------------------------------------------------
@dataclass
class Case:
    name: str
    problem: Problem
    ref: Callable[[np.ndarray], np.ndarray]
    sample: Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]


def box(low: list[float], high: list[float]):
    def sample(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        return rng.uniform(low, high, (*shape, len(low)))

    return sample


QUAD = quadratic([0.5, 2.0, 10.0], b=[1.0, -1.0, 0.5], seed=1)
MLP = mlp_regression(width=6, n_points=8, degree=3, seed=3)
MLP_BIG = mlp_regression()


def mlp_sample(problem):
    def sample(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        theta0 = problem.init(seed=int(rng.integers(1 << 30)), batch_shape=shape)
        return theta0 + 0.1 * rng.standard_normal(theta0.shape)

    return sample


CASES = [
    Case(
        "quadratic",
        QUAD,
        lambda th: 0.5 * np.einsum("...i,ij,...j->...", th, QUAD.A, th) - th @ QUAD.b,
        box([-2.0] * 3, [2.0] * 3),
    ),
    Case("rosenbrock", rosenbrock(), ref_rosenbrock, box([-2.0] * 2, [2.0] * 2)),
    Case(
        "rosenbrock5",
        rosenbrock(5, a=1.5, b=50.0),
        lambda th: ref_rosenbrock(th, 1.5, 50.0),
        box([-2.0] * 5, [2.0] * 5),
    ),
    Case("muller_brown", muller_brown(), ref_muller_brown, box([-1.5, -0.5], [1.2, 2.0])),
    Case("himmelblau", himmelblau(), ref_himmelblau, box([-4.0, -4.0], [4.0, 4.0])),
    Case("beale", beale(), ref_beale, box([-2.0, -2.0], [2.0, 2.0])),
    Case("scalar_net", scalar_net(), ref_scalar_net, box([-2.0, -2.0], [2.0, 2.0])),
    Case(
        "least_squares",
        least_squares(X_DATA, Y_REG),
        ref_least_squares,
        box([-2.0] * 3, [2.0] * 3),
    ),
    Case(
        "logistic_regression",
        logistic_regression(X_DATA, Y_LAB, l2=L2),
        ref_logistic,
        box([-2.0] * 3, [2.0] * 3),
    ),
    Case("mlp_regression", MLP, make_ref_mlp(6, 8, 3), mlp_sample(MLP)),
    Case("mlp_default", MLP_BIG, make_ref_mlp(100, 20, 4), mlp_sample(MLP_BIG)),
]
IDS = [c.name for c in CASES]


def fd_gradient(
    f: Callable[[np.ndarray], np.ndarray], theta: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    """Central difference of ``f`` along every coordinate, all at once (batched)."""
    d = theta.shape[-1]
    step = h * np.eye(d)
    plus = f(theta[..., None, :] + step)
    minus = f(theta[..., None, :] - step)
    return (plus - minus) / (2 * h)


def assert_close_scaled(actual, expected, rtol: float) -> None:
    """Relative comparison with an absolute floor relative to the largest entry."""
    expected = np.asarray(expected, dtype=float)
    scale = max(1.0, float(np.max(np.abs(expected))))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


# -- (a) gradient vs finite differences ------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_loss_matches_reference_and_grad_matches_fd(case: Case) -> None:
    rng = np.random.default_rng(0)
    theta = case.sample(rng, (4,))
    assert_close_scaled(case.problem.loss(theta), case.ref(theta), 1e-12)
    assert_close_scaled(case.problem.grad(theta), fd_gradient(case.ref, theta), 1e-6)


@settings(max_examples=40, deadline=None)
@given(
    dim=st.integers(2, 6),
    data=st.data(),
)
def test_rosenbrock_grad_fd_property(dim: int, data: st.DataObject) -> None:
    coords = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)
    rows = data.draw(st.lists(st.lists(coords, min_size=dim, max_size=dim), min_size=1, max_size=4))
    theta = np.array(rows)
    g = rosenbrock(dim).grad(theta)
    assert g.shape == theta.shape
    assert_close_scaled(g, fd_gradient(ref_rosenbrock, theta), 1e-6)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(-3.0, 3.0, allow_nan=False), st.floats(-1.5, 1.5, allow_nan=False)),
        min_size=1,
        max_size=4,
    )
)
def test_beale_grad_and_hvp_fd_property(rows: list[tuple[float, float]]) -> None:
    theta = np.array(rows)
    p = beale()
    assert_close_scaled(p.grad(theta), fd_gradient(ref_beale, theta), 1e-6)
    v = np.ones_like(theta)
    h = 1e-6
    fd = (p.grad(theta + h * v) - p.grad(theta - h * v)) / (2 * h)
    assert_close_scaled(p.hvp(theta, v), fd, 1e-6)


# -- (b) HVP vs finite differences of grad and vs Hessian @ v ------------------------
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_hvp_matches_fd_and_hessian(case: Case) -> None:
    rng = np.random.default_rng(1)
    p = case.problem
    theta = case.sample(rng, (3,))
    v = rng.standard_normal(theta.shape)
    h = 1e-6
    fd = (p.grad(theta + h * v) - p.grad(theta - h * v)) / (2 * h)
    hv = p.hvp(theta, v)
    assert_close_scaled(hv, fd, 1e-6)
    hess = p.hessian(theta)
    assert_close_scaled(hv, np.einsum("...ij,...j->...i", hess, v), 1e-12)
    # Hand-written Hessians are exactly symmetric; one assembled from HVPs to rounding.
    assert_close_scaled(hess, np.swapaxes(hess, -1, -2), 1e-13)
    if not case.name.startswith("mlp"):
        np.testing.assert_array_equal(hess, np.swapaxes(hess, -1, -2))
    assert p.has_exact_hvp


# -- (c) against sympy ---------------------------------------------------------------
def _sympy_cases():
    import sympy as sp

    x, y = sp.symbols("x y", real=True)
    out = {}

    def rosen(d, a, b):
        s = sp.symbols(f"t0:{d}", real=True)
        expr = sum(b * (s[i + 1] - s[i] ** 2) ** 2 + (a - s[i]) ** 2 for i in range(d - 1))
        return expr, list(s)

    out["rosenbrock2"] = (rosenbrock(2), *rosen(2, 1, 100), box([-2] * 2, [2] * 2))
    out["rosenbrock4"] = (
        rosenbrock(4, a=1.5, b=50.0),
        *rosen(4, sp.Rational(3, 2), 50),
        box([-2] * 4, [2] * 4),
    )
    coeffs = [
        (-200, -1, 0, -10, 1, 0),
        (-100, -1, 0, -10, 0, sp.Rational(1, 2)),
        (-170, sp.Rational(-13, 2), 11, sp.Rational(-13, 2), sp.Rational(-1, 2), sp.Rational(3, 2)),
        (15, sp.Rational(7, 10), sp.Rational(3, 5), sp.Rational(7, 10), -1, 1),
    ]
    mb = sum(
        amp * sp.exp(a * (x - x0) ** 2 + b * (x - x0) * (y - y0) + c * (y - y0) ** 2)
        for amp, a, b, c, x0, y0 in coeffs
    )
    out["muller_brown"] = (muller_brown(), mb, [x, y], box([-1.5, -0.5], [1.2, 2.0]))
    out["himmelblau"] = (
        himmelblau(),
        (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2,
        [x, y],
        box([-4, -4], [4, 4]),
    )
    beale_expr = sum(
        (c - x + x * y**k) ** 2
        for k, c in ((1, sp.Rational(3, 2)), (2, sp.Rational(9, 4)), (3, sp.Rational(21, 8)))
    )
    out["beale"] = (beale(), beale_expr, [x, y], box([-2, -2], [2, 2]))
    out["scalar_net"] = (scalar_net(), (1 - x * y) ** 2 / 2, [x, y], box([-2, -2], [2, 2]))

    Xs, ys, labs = X_DATA[:4, :2], Y_REG[:4], Y_LAB[:4]
    w = sp.symbols("w0:2", real=True)
    rows = [sum(sp.Float(Xs[i, j], 17) * w[j] for j in range(2)) for i in range(4)]
    ls = sum((rows[i] - sp.Float(ys[i], 17)) ** 2 for i in range(4)) / 8
    out["least_squares"] = (least_squares(Xs, ys), ls, list(w), box([-2, -2], [2, 2]))
    sgn = [1 if lab == 1 else -1 for lab in labs]
    lg = sum(sp.log(1 + sp.exp(-sgn[i] * rows[i])) for i in range(4)) / 4
    lg += sp.Rational(1, 20) * (w[0] ** 2 + w[1] ** 2)  # l2 / 2 with l2 = 0.1
    out["logistic_regression"] = (
        logistic_regression(Xs, labs, l2=0.1),
        lg,
        list(w),
        box([-2, -2], [2, 2]),
    )

    mlp = mlp_regression(width=2, n_points=3, degree=3)
    w1, b1, w2 = sp.symbols("w1_0:2"), sp.symbols("b1_0:2"), sp.symbols("w2_0:2")
    xs = [-1, 0, 1]
    mse = (
        sum(
            (sum(w2[j] * sp.tanh(w1[j] * xi + b1[j]) for j in range(2)) - sp.chebyshevt(3, xi)) ** 2
            for xi in xs
        )
        / 6
    )
    out["mlp_regression"] = (mlp, mse, [*w1, *b1, *w2], mlp_sample(mlp))
    return out


SYMPY_NAMES = [
    "rosenbrock2",
    "rosenbrock4",
    "muller_brown",
    "himmelblau",
    "beale",
    "scalar_net",
    "least_squares",
    "logistic_regression",
    "mlp_regression",
]


@pytest.fixture(scope="module")
def sympy_cases():
    return _sympy_cases()


@pytest.mark.parametrize("name", SYMPY_NAMES)
def test_against_sympy(name: str, sympy_cases) -> None:
    import sympy as sp

    p, expr, syms, sample = sympy_cases[name]
    f = sp.lambdify(syms, expr, "numpy")
    g = sp.lambdify(syms, [sp.diff(expr, s) for s in syms], "numpy")
    hmat = sp.lambdify(syms, sp.hessian(expr, syms), "numpy")
    theta = sample(np.random.default_rng(2), (5,))
    for row in theta:
        assert_close_scaled(p.loss(row), float(f(*row)), 1e-10)
        assert_close_scaled(p.grad(row), np.array(g(*row), dtype=float), 1e-10)
        h_ref = np.array(hmat(*row), dtype=float)
        assert_close_scaled(p.hessian(row), h_ref, 1e-10)
        v = np.linspace(-1.0, 1.0, row.size)
        assert_close_scaled(p.hvp(row, v), h_ref @ v, 1e-10)


# -- (d) shapes and dtype --------------------------------------------------------------
@pytest.mark.parametrize("batch", [(), (5,), (2, 3)], ids=["scalar", "flat", "grid"])
@pytest.mark.parametrize("case", CASES[:-1], ids=IDS[:-1])
def test_shapes_and_float32(case: Case, batch: tuple[int, ...]) -> None:
    p = case.problem
    d = p.dim
    theta = case.sample(np.random.default_rng(3), batch)
    for dtype in (np.float64, np.float32):
        th = theta.astype(dtype)
        v = np.ones_like(th)
        loss, grad, hv, hess = p.loss(th), p.grad(th), p.hvp(th, v), p.hessian(th)
        assert np.shape(loss) == batch
        assert grad.shape == (*batch, d)
        assert hv.shape == (*batch, d)
        assert hess.shape == (*batch, d, d)
        for out in (loss, grad, hv, hess):
            assert np.asarray(out).dtype == dtype
        if dtype is np.float32:
            assert_close_scaled(grad, p.grad(theta), 1e-3)
    # grad returns a fresh array each call
    g1 = p.grad(theta)
    g1[...] = np.nan
    assert np.all(np.isfinite(p.grad(theta)))


def test_integer_input_becomes_float64() -> None:
    assert rosenbrock().grad(np.array([1, 2])).dtype == np.float64
    with pytest.raises(ValueError, match="theta"):
        rosenbrock(3).grad(np.zeros(2))


# -- (e) batch rows are independent ------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_batch_rows_independent(case: Case) -> None:
    p = case.problem
    rng = np.random.default_rng(4)
    theta = case.sample(rng, (5,))
    v = rng.standard_normal(theta.shape)
    batched = (p.loss(theta), p.grad(theta), p.hvp(theta, v))
    rows = [
        np.stack([fn(*args) for args in zip(*inputs, strict=True)])
        for fn, inputs in ((p.loss, (theta,)), (p.grad, (theta,)), (p.hvp, (theta, v)))
    ]
    for b, r in zip(batched, rows, strict=True):
        np.testing.assert_array_equal(b, r)  # every zoo problem: batched = single, bit for bit
    # A Fortran-ordered batch gives the same bits as a C-ordered one.
    np.testing.assert_array_equal(p.grad(np.asfortranarray(theta)), p.grad(theta))


# -- (f) known minima and structure --------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_known_minimizers(case: Case) -> None:
    p = case.problem
    if p.minimizers is None:
        return
    g = p.grad(p.minimizers)
    assert np.max(np.abs(g)) < 1e-9
    np.testing.assert_allclose(p.loss(p.minimizers), p.minimum, rtol=1e-12, atol=1e-12)


def test_muller_brown_stationary_points() -> None:
    p = muller_brown()
    np.testing.assert_allclose(p.loss(p.minima), [-146.70, -108.17, -80.77], atol=6e-3)
    np.testing.assert_allclose(
        p.minima, [[-0.558, 1.442], [0.623, 0.028], [-0.050, 0.467]], atol=1e-3
    )
    np.testing.assert_allclose(p.saddles, [[-0.822, 0.624], [0.212, 0.293]], atol=1e-3)
    assert np.max(np.abs(p.grad(p.minima))) < 1e-9
    assert np.max(np.abs(p.grad(p.saddles))) < 1e-9
    assert np.all(np.linalg.eigvalsh(p.hessian(p.minima)) > 0)
    eig = np.linalg.eigvalsh(p.hessian(p.saddles))
    assert np.all((eig < 0).sum(axis=-1) == 1)
    np.testing.assert_array_equal(p.minimizers, p.minima[:1])
    assert p.minimum == pytest.approx(-146.6995, abs=1e-4)
    # the cached refinement is not shared mutable state
    p.minima[0] = 0.0
    assert muller_brown().minima[0, 0] != 0.0


def test_himmelblau_and_beale_minima() -> None:
    h = himmelblau()
    assert h.minimizers.shape == (4, 2)
    np.testing.assert_allclose(h.minimizers[0], [3.0, 2.0], atol=1e-14)
    np.testing.assert_allclose(h.loss(h.minimizers), 0.0, atol=1e-24)
    np.testing.assert_array_equal(beale().minimizers, [[3.0, 0.5]])


def test_quadratic_spectrum_and_seed() -> None:
    lam = [3.0, -1.0, 0.25, 7.0]
    p = quadratic(lam, seed=11)
    np.testing.assert_array_equal(p.eigenvalues, np.sort(lam))
    np.testing.assert_allclose(np.linalg.eigvalsh(p.A), p.eigenvalues, atol=1e-13)
    np.testing.assert_allclose(p.A @ p.eigenvectors, p.eigenvectors * p.eigenvalues, atol=1e-13)
    assert p.lipschitz == 7.0
    assert p.minimum is None and p.minimizers is None  # indefinite
    np.testing.assert_array_equal(p.A, quadratic(lam, seed=11).A)
    assert not np.array_equal(p.A, quadratic(lam, seed=12).A)
    np.testing.assert_array_equal(p.A, p.A.T)
    default = quadratic(seed=0)
    np.testing.assert_array_equal(default.eigenvalues, [1.0, 10.0])
    assert default.minimum == 0.0
    explicit = quadratic(A=[[2.0, 1.0], [1.0, 2.0]], b=[1.0, 0.0])
    np.testing.assert_allclose(explicit.eigenvalues, np.linalg.eigvalsh(explicit.A))
    np.testing.assert_allclose(explicit.minimizers[0], np.linalg.solve(explicit.A, explicit.b))
    assert explicit.minimum == pytest.approx(-0.5 * explicit.b @ explicit.minimizers[0])


def test_quadratic_singular_cases() -> None:
    a = np.diag([0.0, 2.0])
    p = quadratic(A=a, b=[0.0, 4.0])  # b in range(A): a valley of minimisers
    assert p.minimum == pytest.approx(-4.0)
    np.testing.assert_allclose(p.minimizers, [[0.0, 2.0]])
    assert quadratic(A=a, b=[1.0, 0.0]).minimum is None  # unbounded along ker(A)


def test_rosenbrock_minimizers() -> None:
    np.testing.assert_array_equal(rosenbrock(2, a=2.0).minimizers, [[2.0, 4.0]])
    np.testing.assert_array_equal(rosenbrock(5).minimizers, np.ones((1, 5)))
    np.testing.assert_array_equal(rosenbrock(4, a=0.0).minimizers, np.zeros((1, 4)))
    p = rosenbrock(3, a=2.0)
    assert p.minimum is None and p.minimizers is None


def test_scalar_net_curve_of_minima() -> None:
    p = scalar_net()
    assert p.minimum == 0.0 and p.minimizers is None
    x = np.array([0.5, 1.0, -2.0, 4.0])
    theta = np.stack([x, 1.0 / x], axis=-1)
    np.testing.assert_allclose(p.grad(theta), 0.0, atol=1e-15)
    eig = np.linalg.eigvalsh(p.hessian(theta))
    np.testing.assert_allclose(eig[:, 0], 0.0, atol=1e-12)
    np.testing.assert_allclose(eig[:, 1], x**2 + 1 / x**2, rtol=1e-12)


def test_per_example_grad() -> None:
    rng = np.random.default_rng(5)
    theta = rng.standard_normal((2, 3, 3))
    for p in (least_squares(X_DATA, Y_REG), logistic_regression(X_DATA, Y_LAB, l2=L2)):
        pe = p.per_example_grad(theta)
        assert pe.shape == (2, 3, 7, 3)
        np.testing.assert_allclose(pe.mean(axis=-2), p.grad(theta), rtol=1e-12, atol=1e-14)
        assert p.n_samples == 7
    lr = logistic_regression(X_DATA, 2 * Y_LAB - 1)
    np.testing.assert_array_equal(lr.y, 2.0 * Y_LAB - 1)
    assert lr.minimum is None and lr.l2 == 0.0


def test_logistic_is_stable_for_huge_margins() -> None:
    p = logistic_regression(np.array([[1.0], [-1.0]]), [1, 0])
    theta = np.array([[1e4], [-1e4]])
    loss, grad = p.loss(theta), p.grad(theta)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
    np.testing.assert_allclose(loss, [0.0, 1e4], rtol=1e-12)


def test_mlp_data_layout_and_init() -> None:
    p = mlp_regression(width=50, n_points=20, degree=4, seed=0)
    np.testing.assert_allclose(p.x, np.linspace(-1, 1, 20))
    np.testing.assert_allclose(p.y, np.cos(4 * np.arccos(p.x)), atol=1e-12)
    assert (p.width, p.degree, p.dim) == (50, 4, 150)
    np.testing.assert_array_equal(p.init(), p.init(seed=0))
    np.testing.assert_array_equal(
        p.init(seed=7, batch_shape=(3,)), p.init(seed=7, batch_shape=(3,))
    )
    assert not np.array_equal(p.init(seed=1), p.init(seed=2))
    theta = p.init(seed=1, batch_shape=(400,))
    w1, b1, w2 = theta[:, :50], theta[:, 50:100], theta[:, 100:]
    assert w1.std() == pytest.approx(1.9 * np.sqrt(2 / 51), rel=0.05)
    assert w2.std() == pytest.approx(np.sqrt(2 / 51), rel=0.05)
    assert np.all(np.abs(b1) <= 1.0) and b1.std() == pytest.approx(1 / np.sqrt(3), rel=0.05)
    # the layout [w1, b1, w2]: zero output weights give f = 0, loss = mean(y^2) / 2
    theta0 = p.init()
    theta0[100:] = 0.0
    assert p.loss(theta0) == pytest.approx(0.5 * np.mean(p.y**2))


def test_zoo_registry() -> None:
    expected = {
        "quadratic",
        "rosenbrock",
        "muller_brown",
        "himmelblau",
        "beale",
        "scalar_net",
        "mlp_regression",
    }
    assert set(ZOO) == expected
    for name, factory in ZOO.items():
        p = factory()
        assert isinstance(p, Problem)
        assert p.name == name
    np.testing.assert_array_equal(ZOO["quadratic"]().A, ZOO["quadratic"]().A)


# -- (g) validation --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: quadratic(A=[[1.0, 2.0], [0.0, 1.0]]), ValueError, "A"),
        (lambda: quadratic(A=np.ones((2, 3))), ValueError, "A"),
        (lambda: quadratic(A=[[np.nan, 0.0], [0.0, 1.0]]), ValueError, "A"),
        (lambda: quadratic([1.0, 2.0], A=np.eye(2)), ValueError, "eigenvalues or A"),
        (lambda: quadratic([[1.0, 2.0]]), ValueError, "eigenvalues"),
        (lambda: quadratic([1.0, np.inf]), ValueError, "eigenvalues"),
        (lambda: quadratic([1j, 2.0]), TypeError, "eigenvalues"),
        (lambda: quadratic([1.0, 2.0], b=[1.0, 2.0, 3.0]), ValueError, "b"),
        (lambda: quadratic(A=np.eye(2), b=[np.nan, 0.0]), ValueError, "b"),
        (lambda: rosenbrock(1), ValueError, "dim"),
        (lambda: rosenbrock(2.5), TypeError, "dim"),
        (lambda: rosenbrock(2, b=0.0), ValueError, "b"),
        (lambda: rosenbrock(2, a=np.nan), ValueError, "a"),
        (lambda: rosenbrock(2, a="1"), TypeError, "a"),
        (lambda: least_squares(np.ones(3), np.ones(3)), ValueError, "X"),
        (lambda: least_squares([[1.0, np.inf]], [1.0]), ValueError, "X"),
        (lambda: least_squares(np.ones((3, 2)), np.ones(4)), ValueError, "y"),
        (lambda: least_squares(np.ones((3, 2)), [1.0, np.nan, 0.0]), ValueError, "y"),
        (lambda: logistic_regression(np.ones((3, 2)), [0, 1, 2]), ValueError, "y"),
        (lambda: logistic_regression(np.ones((3, 2)), [-1, 0, 1]), ValueError, "y"),
        (lambda: logistic_regression(np.ones((3, 2)), np.ones((3, 1))), ValueError, "y"),
        (lambda: logistic_regression(np.ones((3, 2)), [0, 1, 1], l2=-1.0), ValueError, "l2"),
        (lambda: logistic_regression(np.ones((3, 2)), [0, 1, 1], l2=np.nan), ValueError, "l2"),
        (lambda: mlp_regression(width=0), ValueError, "width"),
        (lambda: mlp_regression(width=2.0), TypeError, "width"),
        (lambda: mlp_regression(n_points=0), ValueError, "n_points"),
        (lambda: mlp_regression(degree=-1), ValueError, "degree"),
        (lambda: mlp_regression(gain=0.0), ValueError, "gain"),
        (lambda: rosenbrock().loss(np.zeros(3)), ValueError, "theta"),
        (lambda: muller_brown().grad(np.zeros((4, 3))), ValueError, "theta"),
        (lambda: beale().hvp(np.zeros(1), np.zeros(1)), ValueError, "theta"),
        (lambda: QUAD.grad(np.array(["a", "b", "c"])), TypeError, "theta"),
    ],
)
def test_bad_input(call: Callable[[], object], exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        call()
