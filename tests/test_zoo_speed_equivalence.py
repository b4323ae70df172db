"""The fast zoo kernels compute what the former formulas computed.

The zoo's loss, gradient and HVP functions were rewritten for speed (direct column
expressions, in-place operations, one exponential per sigmoid, the MLP's backward pass
in a layout whose sums need no transposed copy, a column kernel for tiny row-stable
products).  This file keeps a frozen copy of the former formulas, written out here
independently of the library, and checks:

* bit for bit (``tobytes``, so even the sign of a zero) wherever the arithmetic is the
  same: Rosenbrock (2-D and chained), the MLP, the quadratic's tiny products;
* to rounding where it is not (the logistic sigmoid ``1 / (1 + e^m)`` instead of
  ``exp(-logaddexp(0, -m))``): a few ulp of every term;

over random θ including extreme ones (±1e200, ±1e300, ±0, inf, NaN), in float64 and
float32 (float32 stays float32), with no warning for any margin.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from gradflow.problems import (
    _regression,
    _rowstable,
    logistic_regression,
    mlp_regression,
    quadratic,
    rosenbrock,
)

DTYPES = (np.float64, np.float32)
RNG_SEED = 20261215


def _thetas(d: int, dtype: type, rng: np.random.Generator) -> list[np.ndarray]:
    """Ordinary, huge, tiny and non-finite batches of several shapes."""
    special = [0.0, -0.0, 1e200, -1e200, 1e300, np.inf, -np.inf, np.nan, 1e-170, -1e-170, 1.0]
    picks = rng.choice(np.array(special), size=(64, d))
    with np.errstate(over="ignore"):  # 1e200 in float32 is inf, on purpose
        return [
            rng.uniform(-2.0, 2.0, (700, d)).astype(dtype),  # >= 512 rows: column kernels
            (1e3 * rng.standard_normal((3, 4, d))).astype(dtype),
            rng.standard_normal(d).astype(dtype),
            picks.astype(dtype),
            np.zeros((0, d), dtype=dtype),
        ]


def _same_bits(got: np.ndarray, want: np.ndarray) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype
    assert got.shape == want.shape
    differ = got.reshape(-1).view(np.uint8) != want.reshape(-1).view(np.uint8)
    assert not differ.any(), f"{np.count_nonzero(differ)} bytes differ"


# ---------------------------------------------------------------------------------------
# frozen references: the formulas as they were
# ---------------------------------------------------------------------------------------
def ref_rosenbrock(d: int, a: float, b: float) -> dict:
    def loss(x):
        head, tail = x[..., :-1], x[..., 1:]
        return np.sum(b * (tail - head * head) ** 2 + (a - head) ** 2, axis=-1)

    def grad(x):
        head, tail = x[..., :-1], x[..., 1:]
        valley = tail - head * head
        g = np.zeros_like(x)
        g[..., :-1] = 2.0 * (head - a) - 4.0 * b * head * valley
        g[..., 1:] += 2.0 * b * valley
        return g

    def bands(x):
        head, tail = x[..., :-1], x[..., 1:]
        diag = np.zeros_like(x)
        diag[..., :-1] = 12.0 * b * head * head - 4.0 * b * tail + 2.0
        diag[..., 1:] += 2.0 * b
        return diag, -4.0 * b * head

    def hvp(x, v):
        x, v = np.broadcast_arrays(x, v)
        diag, off = bands(x)
        out = diag * v
        out[..., :-1] += off * v[..., 1:]
        out[..., 1:] += off * v[..., :-1]
        return out

    def hessian(x):
        diag, off = bands(x)
        h = np.zeros((*x.shape, d), dtype=x.dtype)
        idx = np.arange(d)
        h[..., idx, idx] = diag
        h[..., idx[:-1], idx[1:]] = off
        h[..., idx[1:], idx[:-1]] = off
        return h

    return {"loss": loss, "grad": grad, "hvp": hvp, "hessian": hessian}


def ref_expit(m):
    return np.exp(-np.logaddexp(0.0, -m))


def ref_logistic(x_data, y, l2):
    n = x_data.shape[0]

    def data(dtype):
        xx = _rowstable.fixed_matrix(x_data, dtype)
        return xx, y.astype(dtype), _rowstable.fixed_matrix(x_data.T, dtype)

    def margins(th):
        xx, yy, xt = data(th.dtype)
        return _rowstable.row_matmul(th, xt) * yy, xx, yy, xt

    def loss(th):
        m = margins(th)[0]
        return np.sum(np.logaddexp(0.0, -m), axis=-1) / float(n) + (0.5 * l2) * np.sum(
            th * th, axis=-1
        )

    def coef(th):
        m, _, yy, _ = margins(th)
        return -yy * ref_expit(-m)

    def grad(th):
        xx = data(th.dtype)[0]
        return _rowstable.row_matmul(coef(th), xx) / float(n) + l2 * th

    def curvature(m):
        return ref_expit(m) * ref_expit(-m)

    def hvp(th, v):
        m, xx, _, xt = margins(th)
        return (
            _rowstable.row_matmul(curvature(m) * _rowstable.row_matmul(v, xt), xx) / float(n)
            + l2 * v
        )

    def hessian(th):
        m, xx, _, xt = margins(th)
        h = _rowstable.row_matmul(xt * curvature(m)[..., None, :], xx) / float(n)
        h = 0.5 * (h + np.swapaxes(h, -1, -2))
        idx = np.arange(x_data.shape[1])
        h[..., idx, idx] += l2
        return h

    def per_example(th):
        xx = data(th.dtype)[0]
        return coef(th)[..., :, None] * xx + l2 * th[..., None, :]

    return {
        "loss": loss,
        "grad": grad,
        "hvp": hvp,
        "hessian": hessian,
        "per_example_grad": per_example,
        "coef": coef,
        "margins": margins,
        "curvature": curvature,
        "data": data,
    }


def _sum_axis(a, axis):
    return np.sum(np.ascontiguousarray(np.moveaxis(a, axis, -1)), axis=-1)


def ref_mlp(m, x, y):
    n = x.size

    def unpack(th):
        t = th[..., None, :]
        return t[..., :m], t[..., m : 2 * m], t[..., 2 * m :]

    def forward(th):
        w1, b1, w2 = unpack(th)
        xs = x.astype(th.dtype)[:, None]
        hidden = np.tanh(w1 * xs + b1)
        out = np.sum(w2 * hidden, axis=-1)
        return xs, w2, hidden, out - y.astype(th.dtype)

    def loss(th):
        r = forward(th)[-1]
        return np.sum(r * r, axis=-1) / (2.0 * n)

    def grad(th):
        xs, w2, hidden, r = forward(th)
        delta = r / float(n)
        slope = 1.0 - hidden * hidden
        dh = delta[..., :, None] * w2 * slope
        parts = np.stack([dh * xs, dh, delta[..., :, None] * hidden], axis=-3)
        return _sum_axis(parts, -2).reshape(*parts.shape[:-3], 3 * m)

    def hvp(th, v):
        th, v = np.broadcast_arrays(th, v)
        v = np.ascontiguousarray(v)
        xs, w2, hidden, r = forward(th)
        u1, c1, u2 = unpack(v)
        slope = 1.0 - hidden * hidden
        r_hidden = slope * (u1 * xs + c1)
        r_out = np.sum(u2 * hidden + w2 * r_hidden, axis=-1)
        delta = r / float(n)
        r_delta = r_out / float(n)
        r_dh = (
            r_delta[..., :, None] * w2 * slope
            + delta[..., :, None] * u2 * slope
            - 2.0 * delta[..., :, None] * w2 * hidden * r_hidden
        )
        parts = np.stack(
            [
                r_dh * xs,
                r_dh,
                r_delta[..., :, None] * hidden + delta[..., :, None] * r_hidden,
            ],
            axis=-3,
        )
        return _sum_axis(parts, -2).reshape(*parts.shape[:-3], 3 * m)

    return {"loss": loss, "grad": grad, "hvp": hvp}


# ---------------------------------------------------------------------------------------
# bit for bit
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("d", "a", "b"), [(2, 1.0, 100.0), (2, 0.0, 3.0), (5, 0.5, 30.0)])
def test_rosenbrock_same_bits(d: int, a: float, b: float, dtype: type) -> None:
    problem, ref = rosenbrock(d, a, b), ref_rosenbrock(d, a, b)
    rng = np.random.default_rng(RNG_SEED + d)
    with np.errstate(all="ignore"):
        for theta in _thetas(d, dtype, rng):
            v = rng.standard_normal(theta.shape).astype(dtype)
            _same_bits(problem.loss(theta), ref["loss"](theta))
            _same_bits(problem.grad(theta), ref["grad"](theta))
            _same_bits(problem.hvp(theta, v), ref["hvp"](theta, v))
            _same_bits(
                problem.hvp(theta, v[..., :1, :] if v.ndim > 1 else v),
                ref["hvp"](theta, v[..., :1, :] if v.ndim > 1 else v),
            )
            _same_bits(problem.hessian(theta), ref["hessian"](theta))


def test_rosenbrock_keeps_the_sign_of_zero() -> None:
    # At θ = (±0, -0) the residual y - x² is -0; the former sum onto zeros made the
    # last gradient component +0, and so does the new one.
    g = rosenbrock().grad(np.array([[0.0, -0.0], [-0.0, -0.0]]))
    assert not np.signbit(g[:, 1]).any()
    assert np.array_equal(g, [[-2.0, 0.0], [-2.0, 0.0]])


@pytest.mark.parametrize("dtype", DTYPES)
def test_mlp_same_bits(dtype: type) -> None:
    problem = mlp_regression(width=7, n_points=11, degree=3, seed=2)
    ref = ref_mlp(problem.width, problem.x, problem.y)
    rng = np.random.default_rng(RNG_SEED + 7)
    with np.errstate(all="ignore"):
        for theta in _thetas(problem.dim, dtype, rng):
            v = rng.standard_normal(theta.shape).astype(dtype)
            for fn in ("loss", "grad"):
                _same_bits(getattr(problem, fn)(theta), ref[fn](theta))
            _same_bits(problem.hvp(theta, v), ref["hvp"](theta, v))


def test_mlp_default_same_bits() -> None:
    """The default problem (width 100, 20 points): sums of more than 8 terms, pairwise."""
    problem = mlp_regression()
    ref = ref_mlp(problem.width, problem.x, problem.y)
    theta = problem.init(seed=4, batch_shape=(9,))
    v = np.random.default_rng(RNG_SEED).standard_normal(theta.shape)
    _same_bits(problem.grad(theta), ref["grad"](theta))
    _same_bits(problem.hvp(theta, v), ref["hvp"](theta, v))
    _same_bits(problem.loss(theta), ref["loss"](theta))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_column_kernel_is_einsum(k: int, dtype: type) -> None:
    """The column kernel of tiny products gives einsum's bits, zeros' signs included."""
    rng = np.random.default_rng(RNG_SEED + k)
    for n in range(k, _rowstable.COLUMNS_MAX + 1):
        a = rng.standard_normal((_rowstable.COLUMNS_MIN_ROWS + 37, k)).astype(dtype)
        a[rng.random(a.shape) < 0.3] = 0.0
        a[rng.random(a.shape) < 0.3] *= -1.0  # -0 among them
        m = _rowstable.fixed_matrix(rng.standard_normal((k, n)), dtype)
        m[0, 0] = -0.0
        got = _rowstable.row_matmul(a, m)
        _same_bits(got, np.einsum("...k,kn->...n", a, m))
        minus = np.array([0.0, -0.0, 1.5, -2.0], dtype=dtype)[:n]
        _same_bits(_rowstable.row_matmul(a, m, minus), np.einsum("...k,kn->...n", a, m) - minus)
        # and a row alone (einsum's path) has the bits it has in the batch
        _same_bits(np.stack([_rowstable.row_matmul(row, m) for row in a[:50]]), got[:50])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("b", [[0.5, -1.0], [0.0, 2.0]])
def test_quadratic_same_bits(b: list[float], dtype: type) -> None:
    problem = quadratic([1.0, 10.0], b=b, seed=0)
    rng = np.random.default_rng(RNG_SEED + 2)
    a, b = _rowstable.fixed_matrix(problem.A, dtype), problem.b.astype(dtype)
    zeros = rng.choice(np.array([0.0, -0.0, 1.0]), (_rowstable.COLUMNS_MIN_ROWS + 1, 2))
    for theta in [*_thetas(2, dtype, rng)[:3], zeros.astype(dtype)]:
        _same_bits(problem.grad(theta), np.einsum("...k,kn->...n", theta, a) - b)
        v = rng.standard_normal(theta.shape).astype(dtype)
        _same_bits(problem.hvp(theta, v), np.einsum("...k,kn->...n", v, a))
        half = 0.5 * np.einsum("...k,kn->...n", theta, a) - b
        _same_bits(problem.loss(theta), np.sum(theta * half, axis=-1))


# ---------------------------------------------------------------------------------------
# logistic regression: equal to rounding
# ---------------------------------------------------------------------------------------
def _logistic(l2: float = 0.1, n: int = 40, d: int = 5):
    rng = np.random.default_rng(RNG_SEED + n + d)
    x = rng.standard_normal((n, d))
    labels = rng.integers(0, 2, n)
    problem = logistic_regression(x, labels, l2=l2)
    return problem, ref_logistic(problem.X, problem.y, l2), rng


def _margin_batches(problem, dtype, rng) -> list[np.ndarray]:
    """θ whose margins cover every regime: ordinary, near the float's exp overflow,
    beyond it, and huge (θ = ±1e200)."""
    d = problem.dim
    ordinary = rng.standard_normal((300, d))
    direction = rng.standard_normal((1, d))
    direction /= np.max(np.abs(problem.X @ direction[0]))
    scales = np.array([30.0, 88.0, 89.0, 100.0, 700.0, 709.0, 710.0, 745.0, 800.0, 1e5])
    tails = np.concatenate([scales[:, None] * direction, -scales[:, None] * direction])
    huge = np.array([[1e200] * d, [-1e200] * d, [1e300] * d])
    with np.errstate(over="ignore"):
        return [b.astype(dtype) for b in (ordinary, tails, huge, ordinary[0])]


def _former_rtol(m: np.ndarray, dtype: type) -> np.ndarray:
    """How far the former sigmoid may be from the new one, relative, at margins ``m``.

    ``exp(-logaddexp(0, |m|))`` rounds ``|m| + log1p(e^{-|m|})`` to the ulp of ``|m|``
    before the exponential, which turns that absolute error into a relative error of up
    to ``|m| eps / 2``; the new forms (``1 / (1 + e^m)``, ``e / (1 + e)^2``) are a few
    ulp throughout.  So they agree to ``(8 + |m|) eps``: rounding, growing in the tails.
    """
    return (8.0 + np.abs(m.astype(np.float64))) * float(np.finfo(dtype).eps)


def _mp_sigmoids(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``σ(-m)`` and ``σ(m) σ(-m)`` in 40-digit arithmetic (mpmath), rounded to float64."""
    import mpmath

    mpmath.mp.dps = 40
    neg, slope = [], []
    for value in m.astype(np.float64).tolist():
        t = mpmath.mpf(value)
        e = mpmath.exp(t)
        neg.append(float(1 / (1 + e)))
        slope.append(float(e / (1 + e) ** 2))
    return np.array(neg), np.array(slope)


@pytest.mark.parametrize("dtype", DTYPES)
def test_logistic_sigmoid_pieces_agree_to_rounding(dtype: type) -> None:
    """The one-exponential sigmoids, entry by entry: a few ulp from the exact value
    (mpmath), and to rounding from the former exp(-logaddexp(0, -m))."""
    m = np.concatenate(
        [np.linspace(-50.0, 50.0, 2001), [-800.0, -710.0, -89.0, 0.0, -0.0, 89.0, 710.0, 1e5]]
    ).astype(dtype)
    y = np.where(np.arange(m.size) % 2 == 0, 1.0, -1.0).astype(dtype)
    tiny = float(np.finfo(dtype).tiny)
    eps = float(np.finfo(dtype).eps)
    exact_neg, exact_slope = _mp_sigmoids(m)
    with np.errstate(all="ignore"):
        label_slope = _regression._label_slope(m.copy(), y)
        slope = _regression._sigmoid_slope(m.copy())
        former = [-y * ref_expit(-m), ref_expit(m) * ref_expit(-m)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        expit = _regression._expit(m)  # no overflow warning, outside any errstate
    for got, want, exact in (
        (label_slope, former[0], -y.astype(np.float64) * exact_neg),
        (slope, former[1], exact_slope),
        (expit, ref_expit(m), _mp_sigmoids(-m)[0]),
    ):
        assert got.dtype == dtype
        assert np.all(np.isfinite(got))
        # a few ulp of the exact value; below the smallest normal number, within it
        assert np.all(np.abs(got - exact) <= 4.0 * eps * np.abs(exact) + tiny)
        assert np.all(np.abs(got - want) <= _former_rtol(m, dtype) * np.abs(want) + tiny)


def _assert_within(got: np.ndarray, want: np.ndarray, tol: np.ndarray, what: str) -> None:
    """``|got - want| <= tol`` where the former value is finite; NaN and inf alike."""
    finite = np.isfinite(want)
    assert np.array_equal(finite, np.isfinite(got)), what
    assert np.array_equal(got[~finite], want[~finite], equal_nan=True), what
    err = np.abs(got[finite] - want[finite])
    assert np.all(err <= np.broadcast_to(tol, want.shape)[finite]), what


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("l2", [0.0, 0.1])
def test_logistic_agrees_to_rounding(l2: float, dtype: type) -> None:
    """Loss, gradient, HVP, Hessian and per-example gradients against the former
    formulas: each term of their sums agrees to rounding, so the sums agree to rounding
    of the sum of the terms' sizes."""
    problem, ref, rng = _logistic(l2)
    tiny = float(np.finfo(dtype).tiny)
    eps = float(np.finfo(dtype).eps)
    for theta in _margin_batches(problem, dtype, rng):
        v = rng.standard_normal(theta.shape).astype(dtype)
        with np.errstate(all="ignore"):
            xx, _, xt = ref["data"](theta.dtype)
            ax = np.abs(xx)
            n = xx.shape[0]
            m = ref["margins"](theta)[0]
            rtol = _former_rtol(m, dtype) + 8.0 * eps  # the sigmoid, then the products
            coef_tol = rtol * np.abs(ref["coef"](theta))
            g_tol = _rowstable.row_matmul(coef_tol, ax) / n + 4 * eps * l2 * np.abs(theta)
            xv = np.abs(_rowstable.row_matmul(v, xt))
            s_tol = rtol * ref["curvature"](m)
            h_tol = _rowstable.row_matmul(s_tol * xv, ax) / n + 4 * eps * l2 * np.abs(v)
            hess_tol = (
                _rowstable.row_matmul(np.abs(xt) * s_tol[..., None, :], ax) / n + 4 * eps * l2
            )
            pe_tol = coef_tol[..., :, None] * ax + 4 * eps * l2 * np.abs(theta[..., None, :])
            want = {fn: ref[fn](theta) for fn in ("loss", "grad", "hessian", "per_example_grad")}
            want["hvp"] = ref["hvp"](theta, v)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no warning for any margin
            got = {fn: getattr(problem, fn)(theta) for fn in want if fn != "hvp"}
            got["hvp"] = problem.hvp(theta, v)
        for fn, value in got.items():
            assert value.dtype == dtype, fn
        # the loss is the same arithmetic (logaddexp, formed in place)
        _same_bits(got["loss"], want["loss"])
        _assert_within(got["grad"], want["grad"], g_tol + tiny, "grad")
        _assert_within(got["hvp"], want["hvp"], h_tol + tiny, "hvp")
        _assert_within(got["hessian"], want["hessian"], hess_tol + tiny, "hessian")
        _assert_within(got["per_example_grad"], want["per_example_grad"], pe_tol + tiny, "per")


def test_logistic_gradient_matches_finite_differences_far_in_the_tails() -> None:
    """An independent check of the new sigmoid: central differences of the loss."""
    problem, _, rng = _logistic(0.0)
    theta = 20.0 * rng.standard_normal(problem.dim)  # margins of tens: far in the tails
    step = 1e-6
    eye = np.eye(problem.dim)
    fd = (problem.loss(theta + step * eye) - problem.loss(theta - step * eye)) / (2 * step)
    np.testing.assert_allclose(problem.grad(theta), fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("dtype", DTYPES)
def test_logistic_batched_is_single(dtype: type) -> None:
    problem, _, rng = _logistic(0.1, n=300, d=20)  # the BLAS-block kernel
    theta = rng.standard_normal((64, problem.dim)).astype(dtype)
    v = rng.standard_normal(theta.shape).astype(dtype)
    for fn in ("loss", "grad", "hvp"):
        call = (
            (lambda th, u, f=fn: getattr(problem, f)(th, u))
            if fn == "hvp"
            else (lambda th, u, f=fn: getattr(problem, f)(th))
        )
        batched = call(theta, v)
        _same_bits(np.stack([call(theta[i], v[i]) for i in range(theta.shape[0])]), batched)
