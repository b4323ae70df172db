"""Problem.from_torch: gradients and HVPs against torch.autograd.functional.hessian on
hand-written forwards, the finite-sum protocol, dtype, seeds, pickling, refusals.

The references never go through the code under test: each model's forward is written
again by hand from slices of θ (which also checks the documented parameter layout), the
gradient is ``torch.autograd.grad`` of it and the Hessian
``torch.autograd.functional.hessian`` (double backward).
"""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="Problem.from_torch needs PyTorch (test extra)")
F = torch.nn.functional

import gradflow as gf  # noqa: E402

RTOL = 1e-10


# -- three models, each with an independent forward of θ ---------------------------------
class MLP(torch.nn.Module):
    """3-5-2 tanh network (a module-level class: it pickles)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = torch.nn.Linear(3, 5)
        self.fc2 = torch.nn.Linear(5, 2)

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x)))


def mlp_forward(theta, x):
    w1, b1 = theta[:15].view(5, 3), theta[15:20]
    w2, b2 = theta[20:30].view(2, 5), theta[30:32]
    return torch.tanh(x @ w1.T + b1) @ w2.T + b2


def mse(out, y):
    """A hand-written mean squared error (PyTorch differentiates it in forward mode)."""
    return ((out - y) ** 2).mean()


class CNN(torch.nn.Module):
    """1->2 channel 3x3 convolution, tanh, 2x2 average pool, linear to 3 classes."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 2, 3)
        self.head = torch.nn.Linear(2, 3)

    def forward(self, x):
        h = F.avg_pool2d(torch.tanh(self.conv(x)), 2)
        return self.head(h.flatten(1))


def cnn_forward(theta, x):
    w, b = theta[:18].view(2, 1, 3, 3), theta[18:20]
    wl, bl = theta[20:26].view(3, 2), theta[26:29]
    h = F.avg_pool2d(torch.tanh(F.conv2d(x, w, b)), 2)
    return h.flatten(1) @ wl.T + bl


Z = torch.linspace(-1.0, 1.0, 5, dtype=torch.float64)


def broadcasting(theta):
    """A (3, 4) weight against (5,) points and a (4,) shift: (3, 5, 4) by broadcasting."""
    W, c = theta[:12].view(3, 4), theta[12:16]
    a = W[:, None, :] * Z[None, :, None] + c
    return torch.logsumexp(a, dim=-1).mean() + 0.1 * (W.sum(0) * c).sum() ** 2


def _data(seed=0, n=12):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)), rng.normal(size=(n, 2))


def make_mlp(loss=mse):
    torch.manual_seed(0)
    X, y = _data()
    problem = gf.Problem.from_torch(MLP(), loss, X, y)
    ref = lambda t: mse(mlp_forward(t, torch.from_numpy(X)), torch.from_numpy(y))  # noqa: E731
    return problem, ref


def make_cnn():
    torch.manual_seed(1)
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(8, 1, 4, 4)), rng.integers(0, 3, 8)
    problem = gf.Problem.from_torch(CNN(), F.cross_entropy, X, y)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    return problem, lambda t: F.cross_entropy(cnn_forward(t, Xt), yt)


def make_broadcasting():
    return gf.Problem.from_torch(broadcasting, dim=16), broadcasting


MODELS = {"mlp": make_mlp, "cnn": make_cnn, "broadcasting": make_broadcasting}


def _theta(problem, rows=3, seed=2):
    base = problem.theta_from_module() if problem.model is not None else np.zeros(problem.dim)
    return base + 0.3 * np.random.default_rng(seed).normal(size=(rows, problem.dim))


def _rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@pytest.fixture(scope="module", params=list(MODELS))
def model(request):
    """(name, problem, reference loss, θ rows, directions, reference gradients, Hessians)."""
    problem, ref = MODELS[request.param]()
    theta = _theta(problem, rows=2)
    v = np.random.default_rng(3).normal(size=theta.shape)
    grads, hessians = [], []
    for row in theta:
        t = torch.tensor(row, requires_grad=True)
        grads.append(torch.autograd.grad(ref(t), t)[0].numpy())
        hessians.append(torch.autograd.functional.hessian(ref, torch.tensor(row)).numpy())
    return request.param, problem, ref, theta, v, np.array(grads), np.array(hessians)


def test_gradient_and_hvp_equal_autograd_hessian_products(model):
    name, problem, ref, theta, v, grads, hessians = model
    g, hv = problem.grad(theta), problem.hvp(theta, v)
    assert g.shape == hv.shape == theta.shape
    for r in range(theta.shape[0]):
        assert _rel(g[r], grads[r]) < RTOL, name
        assert _rel(hv[r], hessians[r] @ v[r]) < RTOL, name
        assert abs(problem.loss(theta)[r] - ref(torch.tensor(theta[r])).item()) < 1e-12
    # The Hessian Problem assembles from d exact HVPs, against the reference.
    assert _rel(problem.hessian(theta[0]), hessians[0]) < RTOL


def test_hvp_modes():
    """nn.MSELoss has no forward-mode backward in PyTorch 2.13: double backward instead,
    exact as well; hand-written losses and cross_entropy run forward-over-reverse."""
    p_fast, _ = make_mlp()
    p_slow, ref = make_mlp(torch.nn.MSELoss())
    assert p_fast.hvp_mode == "forward-over-reverse"
    assert p_slow.hvp_mode in ("forward-over-reverse", "reverse-over-reverse")
    assert make_cnn()[0].hvp_mode == "forward-over-reverse"
    theta = _theta(p_slow, rows=1)[0]
    H = torch.autograd.functional.hessian(ref, torch.tensor(theta)).numpy()
    assert _rel(p_slow.hvp(theta, theta), H @ theta) < RTOL


def test_layout_is_named_parameters_order_and_round_trips():
    problem, _ = make_mlp()
    net = problem.model
    assert [n for n, _, _ in problem.layout] == [n for n, _ in net.named_parameters()]
    flat = torch.cat([p.detach().reshape(-1) for p in net.parameters()]).double().numpy()
    np.testing.assert_array_equal(problem.theta_from_module(), flat)
    other = MLP()
    theta = np.arange(problem.dim, dtype=np.float64)
    problem.theta_to_module(theta, other)
    assert other.fc1.weight.dtype == torch.float32  # the module's own dtype is kept
    np.testing.assert_array_equal(other.fc2.bias.detach().numpy(), [30.0, 31.0])
    np.testing.assert_array_equal(problem.theta_from_module(other), theta)
    with pytest.raises(ValueError, match="theta must be one vector"):
        problem.theta_to_module(np.zeros((2, problem.dim)))


def test_frozen_parameters_are_constants():
    torch.manual_seed(0)
    net = MLP()
    net.fc1.requires_grad_(False)
    X, y = _data()
    problem = gf.Problem.from_torch(net, mse, X, y)
    assert problem.dim == 12 and [n for n, _, _ in problem.layout] == ["fc2.weight", "fc2.bias"]
    theta = problem.theta_from_module()
    full = torch.cat([p.detach().reshape(-1) for p in net.parameters()]).double()

    def ref(t):
        return mse(mlp_forward(torch.cat([full[:20], t]), torch.from_numpy(X)), torch.from_numpy(y))

    t = torch.tensor(theta, requires_grad=True)
    (g,) = torch.autograd.grad(ref(t), t)
    assert _rel(problem.grad(theta), g.numpy()) < RTOL


# -- the finite-sum protocol ---------------------------------------------------------------
def _per_example_reference(problem, ref_one, theta):
    """(n, d) per-example gradients by a loop of autograd calls on the hand forward."""
    out = []
    for i in range(problem.n_samples):
        t = torch.tensor(theta, requires_grad=True)
        (g,) = torch.autograd.grad(ref_one(t, i), t)
        out.append(g.numpy())
    return np.array(out)


def test_minibatch_grad_is_the_mean_of_per_example_autograd_gradients():
    problem, _ = make_mlp()
    X, y = (torch.from_numpy(a) for a in _data())
    theta = _theta(problem, rows=2)
    per = [
        _per_example_reference(
            problem, lambda t, i: mse(mlp_forward(t, X[i : i + 1]), y[i : i + 1]), th
        )
        for th in theta
    ]
    index = np.array([[0, 5, 7, 11], [3, 3, 2, 9]])
    mb = problem.minibatch_grad(theta, index)
    for r in range(2):
        assert _rel(mb[r], per[r][index[r]].mean(axis=0)) < RTOL
        assert _rel(problem.per_example_grad(theta)[r], per[r]) < RTOL
    # The per-example mean is the full gradient (the loss is a mean over the examples).
    assert _rel(problem.per_example_grad(theta).mean(axis=-2), problem.grad(theta)) < RTOL
    # The Hessian's finite differences add an axis: (rows, extra, d).
    extra = problem.minibatch_grad(np.stack([theta, theta], axis=1), index)
    np.testing.assert_allclose(extra[:, 1], mb, rtol=1e-12, atol=1e-15)


@pytest.mark.slow  # seconds of torch.func calls: CI's slow suite
def test_minibatch_hvp_equals_the_minibatch_hessian():
    problem, _ = make_cnn()
    theta = _theta(problem, rows=2)
    v = np.random.default_rng(4).normal(size=theta.shape)
    index = np.array([[0, 1, 4], [7, 7, 2]])
    X, y = torch.from_numpy(problem.X.numpy()), problem.y
    out = problem.minibatch_hvp(theta, v, index)
    for r in range(2):
        i = torch.from_numpy(index[r])
        H = torch.autograd.functional.hessian(
            lambda t, i=i: F.cross_entropy(cnn_forward(t, X[i]), y[i]), torch.tensor(theta[r])
        ).numpy()
        assert _rel(out[r], H @ v[r]) < RTOL


def test_minibatch_solve_same_seed_same_bits():
    problem, _ = make_mlp()
    theta0 = _theta(problem, rows=3)
    runs = [
        gf.solve(problem, theta0, stepsize=0.05, steps=30, batch_size=4, seed=s) for s in (7, 7, 8)
    ]
    np.testing.assert_array_equal(runs[0].theta, runs[1].theta)
    assert not np.array_equal(runs[0].theta, runs[2].theta)
    assert (runs[0].status == "ok").all()


def test_function_problem_is_not_a_finite_sum():
    problem, _ = make_broadcasting()
    with pytest.raises(TypeError, match="not a finite sum"):
        gf.solve(problem, np.zeros(16), stepsize=0.1, steps=2, batch_size=2)
    with pytest.raises(TypeError, match="no module"):
        problem.theta_from_module()


# -- the library on top: solve, lr_find, curvature, stability -----------------------------
def test_solve_matches_a_hand_written_torch_gradient_descent_loop():
    problem, _ = make_mlp()
    theta0 = problem.theta_from_module()
    traj = gf.solve(problem, theta0, stepsize=0.1, steps=20, save="final")
    torch.manual_seed(0)
    net = MLP().double()  # the same initial parameters (same seed)
    X, y = (torch.from_numpy(a) for a in _data())
    for _ in range(20):
        net.zero_grad()
        mse(net(X), y).backward()
        with torch.no_grad():
            for p in net.parameters():
                p -= 0.1 * p.grad
    hand = torch.cat([p.detach().reshape(-1) for p in net.parameters()]).numpy()
    assert _rel(traj.theta[-1], hand) < 1e-12


@pytest.mark.slow  # seconds of torch.func calls: CI's slow suite
def test_curvature_estimators_match_the_reference_hessian(model):
    name, problem, _, theta, _, _, hessians = model
    top = gf.curvature.top_eigenvalue(problem, theta, seed=0)
    np.testing.assert_allclose(top.value, np.linalg.eigvalsh(hessians)[:, -1], rtol=1e-7)
    tr = gf.curvature.trace(problem, theta, n_probes=200, seed=0)
    exact = np.trace(hessians, axis1=-2, axis2=-1)
    assert np.all(np.abs(tr.value - exact) <= 5 * tr.stderr + 1e-9), name


@pytest.mark.slow  # seconds of torch.func calls: CI's slow suite
def test_lr_find_diagnose_and_sharpness_tracking_run():
    problem, _ = make_mlp()
    theta0 = problem.theta_from_module()
    found = gf.lr_find(problem, theta0, steps=40, end_lr=100.0)
    assert np.isfinite(found.valley).all() and np.isfinite(found.edge).all()
    tracker = gf.curvature.track_sharpness(problem, every=10, seed=0)
    traj = gf.solve(problem, theta0, stepsize=0.2, steps=40, callback=tracker)
    assert tracker.values.shape == (5,) and np.isfinite(tracker.values).all()
    report = gf.diagnose(traj, problem)
    assert np.isfinite(report.lambda_max).all() and report.label.dtype.kind == "U"
    # λmax at the start is the tracker's first value: the diagnosis used exact HVPs.
    assert report.lambda_max.shape == ()


@pytest.mark.slow  # seconds of torch.func calls: CI's slow suite
def test_verify_bound_runs_on_a_torch_function():
    def quartic(t):  # a well-conditioned minimum at 0 with Hessian diag(2, 6)
        return t[0] ** 2 + 3 * t[1] ** 2 + t[0] ** 4

    problem = gf.Problem.from_torch(quartic, dim=2)
    check = gf.stability.verify_bound(problem, np.array([0.3, -0.2]), gf.methods.Euler(), steps=200)
    np.testing.assert_allclose(check.predicted, 2.0 / 6.0, rtol=1e-6)
    assert np.all(np.abs(check.relative_gap) < 0.02)


# -- dtype, batches, boundary -------------------------------------------------------------
def test_float32_option_stays_float32():
    torch.manual_seed(0)
    X, y = _data()
    problem = gf.Problem.from_torch(MLP(), mse, X, y, dtype="float32")
    theta0 = problem.theta_from_module()
    assert theta0.dtype == np.float32 and problem.X.dtype == torch.float32
    assert problem.grad(theta0).dtype == np.float32
    assert problem.hvp(theta0, theta0).dtype == np.float32
    traj = gf.solve(problem, theta0, stepsize=0.1, steps=5, batch_size=4, seed=0)
    assert traj.theta.dtype == np.float32
    # float32 in, float32 out also for a float64 problem (computed in float64).
    p64, _ = make_mlp()
    assert p64.grad(p64.theta_from_module().astype(np.float32)).dtype == np.float32


def test_batched_rows_equal_single_rows_to_rounding(model):
    problem = model[1]
    theta = _theta(problem, rows=5).reshape(5, 1, problem.dim)
    batched = problem.grad(theta)
    single = np.stack([problem.grad(theta[r]) for r in range(5)])
    np.testing.assert_allclose(batched, single, rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(problem.grad(theta), batched)  # same call, same bits
    assert problem.loss(np.zeros((0, problem.dim))).shape == (0,)


def test_framework_arrays_are_refused_not_converted():
    problem, _ = make_mlp()
    theta0 = torch.from_numpy(problem.theta_from_module())
    with pytest.raises(TypeError, match=r"theta0 must be a numpy array.*PyTorch tensor"):
        gf.solve(problem, theta0, stepsize=0.1, steps=2)
    with pytest.raises(TypeError, match="theta must be a numpy array"):
        problem.grad(theta0)
    ro = problem.theta_from_module()
    ro.flags.writeable = False  # read-only memory is copied, not handed to torch
    assert problem.grad(ro).flags.writeable


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        gf.Problem.from_torch(broadcasting, dim=16, dtype="float16")
    with pytest.raises(TypeError, match="dim must be given"):
        gf.Problem.from_torch(broadcasting)
    with pytest.raises(ValueError, match="fn must return a scalar"):
        gf.Problem.from_torch(lambda t: t**2, dim=3)
    with pytest.raises(TypeError, match=r"fn must return a torch\.Tensor"):
        gf.Problem.from_torch(lambda t: 1.0, dim=3)
    with pytest.raises(ValueError, match="loss_fn must return a scalar"):
        gf.Problem.from_torch(MLP(), lambda o, y: (o - y) ** 2, *_data())
    with pytest.raises(TypeError, match="loss_fn must be callable"):
        gf.Problem.from_torch(MLP(), None, _data()[0])
    with pytest.raises(ValueError, match="as many examples"):
        gf.Problem.from_torch(MLP(), mse, _data()[0], _data()[1][:5])
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module or a function"):
        gf.Problem.from_torch(3.0)


def test_pickles_by_reference_and_refuses_lambdas():
    problem, _ = make_cnn()
    theta = _theta(problem, rows=2)
    back = pickle.loads(pickle.dumps(problem))
    np.testing.assert_array_equal(back.grad(theta), problem.grad(theta))
    np.testing.assert_array_equal(
        back.minibatch_grad(theta, [[0, 1], [2, 3]]),
        problem.minibatch_grad(theta, [[0, 1], [2, 3]]),
    )
    fn = gf.Problem.from_torch(lambda t: (t**2).sum(), dim=2)
    with pytest.raises(TypeError, match="cannot be pickled: its fn"):
        pickle.dumps(fn)


def test_import_gradflow_imports_neither_torch_nor_jax():
    code = (
        "import sys, gradflow, gradflow.problems, gradflow.papers\n"
        "gradflow.Problem.from_torch, gradflow.Problem.from_jax\n"
        "bad = [m for m in ('torch', 'jax', 'jaxlib', 'sklearn') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
