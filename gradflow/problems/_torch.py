r"""Problems computed by PyTorch: :meth:`gradflow.Problem.from_torch`.

A user's model becomes a :class:`TorchProblem`: the loss of an ``nn.Module`` on data, or
any function of a flat parameter tensor, differentiated by ``torch.func``.  numpy is the
boundary: the problem takes and returns numpy arrays, so every gradflow method, policy
and estimator runs on it unchanged.

How each quantity is computed, for ``theta`` of shape ``(*batch, d)`` flattened to
``(N, d)`` rows:

* ``loss``: ``vmap(L)``; ``grad``: the gradient of ``vmap(L)`` summed over the rows,
  one reverse-mode pass for all rows (the same values as ``vmap(grad(L))``, with less
  Python per call);
* ``hvp``: ``vmap(jvp(grad(L)))``, forward-over-reverse, exact (Pearlmutter 1994);
* for a model with data, the finite-sum protocol of :mod:`gradflow.problems._minibatch`:
  ``per_example_grad`` (``vmap`` over examples), ``minibatch_grad`` and
  ``minibatch_hvp`` evaluated on the drawn examples only (``X[index]`` gathered per
  row, then the model's loss on those ``B`` examples).

Batch = single holds to rounding only: ``vmap`` hands the rows to batched kernels
(``bmm``, or one matrix product with the rows folded into its first dimension), and a
BLAS kernel may round a row differently with the number of rows around it (a single row
takes the unbatched kernels).  The zoo's bit-for-bit guarantee therefore does not extend
to these problems; the same call gives the same bits every time.  ``torch`` is imported
when a problem is built, never by ``import gradflow``.

References
----------
R. Frostig, M. J. Johnson, C. Leary, "Compiling machine learning programs via high-level
tracing", SysML 2018 (vmap / grad / jvp as composable transformations), and the
``torch.func`` documentation, https://pytorch.org/docs/stable/func.html.

B. A. Pearlmutter, "Fast exact multiplication by the Hessian", Neural Computation 6(1),
147-160, 1994.
"""

from __future__ import annotations

import functools
import pickle
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from gradflow._optional import require
from gradflow._validation import check_integer
from gradflow.problems._minibatch import as_minibatch
from gradflow.problems._problem import Problem, as_batch

__all__ = ["TorchProblem", "from_torch"]

_WHAT = "Problem.from_torch"


@functools.cache
def _torch() -> Any:
    torch = require("torch", "torch", _WHAT)
    _load_forward_mode(torch)
    return torch


def _load_forward_mode(torch: Any) -> None:
    """Run one tiny ``jvp``: PyTorch compiles its forward-mode decompositions on the first
    one and warns (a DeprecationWarning of its own ``torch.jit.script``) while doing it;
    the warning is about PyTorch internals, so it is kept from the user here, once."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        one = torch.ones(1, dtype=torch.float64)
        torch.func.jvp(torch.sin, (one,), (one,))


def _as_dtype(torch: Any, dtype: Any) -> Any:
    """``torch.float32`` or ``torch.float64`` from a torch/numpy dtype or its name."""
    if isinstance(dtype, torch.dtype):
        found = dtype
    else:
        try:
            found = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[
                np.dtype(dtype)
            ]
        except (TypeError, KeyError):
            found = None
    if found not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    return found


def _as_data(torch: Any, value: Any, name: str, dtype: Any, device: Any) -> Any:
    """Data as a tensor on ``device``; floating data in ``dtype``, integers kept."""
    if isinstance(value, torch.Tensor):
        tensor = value.detach()
    else:
        array = np.asarray(value)
        if array.dtype.kind not in "fiub":
            raise TypeError(f"{name} must hold numbers, got dtype {array.dtype}")
        tensor = torch.from_numpy(np.array(array))  # a copy: writable, owned
    if tensor.ndim == 0:
        raise ValueError(f"{name} must have a leading axis of examples, got a scalar")
    if tensor.is_floating_point():
        tensor = tensor.to(dtype=dtype)
    return tensor.to(device=device)


def _check_scalar(out: Any, what: str) -> None:
    """``out`` must be a floating 0-d tensor (the loss of one parameter vector)."""
    torch = _torch()
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"{what} must return a torch.Tensor (a scalar), got {type(out).__name__}")
    if out.shape != ():
        raise ValueError(
            f"{what} must return a scalar (a 0-d tensor: the loss of one parameter vector), "
            f"got shape {tuple(out.shape)}; reduce it (e.g. .mean() or .sum())"
        )
    if not out.is_floating_point():
        raise TypeError(f"{what} must return a floating tensor, got dtype {out.dtype}")


#: How the exact HVP is computed: forward-over-reverse (``jvp`` of ``grad``) when PyTorch
#: supports it for the loss, else reverse-over-reverse (``grad`` of ``<grad, v>``).
FORWARD_OVER_REVERSE = "forward-over-reverse"
REVERSE_OVER_REVERSE = "reverse-over-reverse"


def _hvp_of(grad: Callable[[Any], Any], mode: str) -> Callable[[Any, Any], Any]:
    """``(θ, v) -> H(θ) v`` of one row from its gradient function, in ``mode``."""
    func = _torch().func
    if mode == FORWARD_OVER_REVERSE:
        return lambda theta, v: func.jvp(grad, (theta,), (v,))[1]
    return lambda theta, v: func.grad(lambda t: (grad(t) * v).sum())(theta)


def _hvp_mode(torch: Any, loss: Callable[[Any], Any], dim: int, dtype: Any, device: Any) -> str:
    """Forward-over-reverse if one HVP of ``loss`` at zero runs, else reverse-over-reverse.

    Some PyTorch losses have no forward-mode derivative of their backward
    (``torch.nn.functional.mse_loss`` in PyTorch 2.13 raises "ZeroTensors are
    immutable"); double backward is exact as well, at about 1.5x the cost.
    """
    theta = torch.zeros(dim, dtype=dtype, device=device)
    try:
        _hvp_of(torch.func.grad(loss), FORWARD_OVER_REVERSE)(theta, theta)
    except RuntimeError:
        return REVERSE_OVER_REVERSE
    return FORWARD_OVER_REVERSE


def _one_point(theta: Any) -> np.ndarray | None:
    """The point of a numpy view that repeats one point over its batch (stride 0 on
    every batch axis, as ``np.broadcast_to`` makes), else None."""
    if (
        isinstance(theta, np.ndarray)
        and theta.ndim >= 2
        and theta.size
        and not any(theta.strides[:-1])
    ):
        return theta[(0,) * (theta.ndim - 1)]
    return None


def _row_gradients(losses: Callable[[Any], Any], rows: Any) -> Any:
    """The gradient of every row: one backward pass through the ``vmap``-ed losses.

    Rows are independent, so the gradient of their sum with respect to row ``r`` is
    ``∇L(θ_r)`` (a non-finite loss of one row does not reach the others: the backward
    pass seeds every row with 1).  This is ``vmap(grad(L))`` computed with one autograd
    call instead of a ``grad`` transform inside ``vmap``, which costs about twice as
    much Python per call (measured: 0.8 ms against 1.5 ms on a 2-parameter function).
    """
    torch = _torch()
    rows = rows.detach().requires_grad_(True)
    with torch.enable_grad():
        total = losses(rows).sum()
    if not total.requires_grad:  # a loss that does not depend on θ
        return torch.zeros_like(rows)
    (grad,) = torch.autograd.grad(total, rows, allow_unused=True)
    return torch.zeros_like(rows) if grad is None else grad


class TorchProblem(Problem):
    r"""A problem whose loss PyTorch computes (built by :meth:`gradflow.Problem.from_torch`).

    Parameters
    ----------
    spec : dict
        What :func:`from_torch` checked: the model or function, the loss, the data, the
        dtype and the device (kept so that the problem pickles).

    Attributes
    ----------
    model : torch.nn.Module or None
        The module (its own parameters are never changed by the problem's functions).
    fn : callable or None
        The function of a flat parameter tensor, for a problem built from one.
    X, y : torch.Tensor or None
        The data, on ``device``, floating data in ``dtype``.
    n_samples : int or None
        The number of examples (a model with data is a finite sum; None otherwise).
    dtype : torch.dtype
        The precision of every computation (``torch.float64`` by default).
    device : torch.device
        Where the computations run.
    layout : list of (str, tuple, slice)
        Name, shape and slice of ``θ`` of every trained parameter, in
        ``named_parameters()`` order.
    hvp_mode : str
        ``"forward-over-reverse"`` (``jvp`` of ``grad``), or ``"reverse-over-reverse"``
        (``grad`` of ``<grad, v>``, double backward) for a loss whose backward PyTorch
        cannot differentiate in forward mode (``torch.nn.MSELoss`` in PyTorch 2.13);
        chosen by one trial HVP at construction.  Both are exact.

    Notes
    -----
    numpy in, numpy out: ``θ`` is converted to ``dtype`` on ``device`` for the
    computation, and every result comes back as a numpy array of ``θ``'s own dtype
    (float32 in, float32 out).  PyTorch tensors given as ``θ`` are refused with a
    ``TypeError`` (convert them explicitly, or use :meth:`theta_from_module`).

    Pickling sends the module (its class must be importable, as for ``torch.save``),
    the loss function and the function by reference, and the data by value; anything
    that does not pickle (a lambda, a locally defined class) raises a ``TypeError``
    naming it.

    References
    ----------
    B. A. Pearlmutter, "Fast exact multiplication by the Hessian", Neural Computation
    6(1), 147-160, 1994.

    Examples
    --------
    >>> import numpy as np, torch, gradflow as gf
    >>> p = gf.Problem.from_torch(lambda t: (t**2).sum(), dim=3)
    >>> p.grad(np.ones((2, 3)))
    array([[2., 2., 2.],
           [2., 2., 2.]])
    """

    def __init__(self, spec: dict[str, Any]) -> None:
        torch = _torch()
        self._spec = spec
        self.model = spec["model"]
        self.fn = spec["fn"]
        self.X, self.y = spec["X"], spec["y"]
        self.dtype = _as_dtype(torch, spec["dtype"])
        self.device = torch.device(spec["device"])
        self.layout: list[tuple[str, tuple[int, ...], slice]] = []
        if self.model is not None:
            objective, dim = self._module_objective(torch)
            self.n_samples: int | None = int(self.X.shape[0])
            n = min(2, self.n_samples)
            x, y = self.X[:n], self._y_all[:n]
            self._probe_hvp = lambda t: self._batch_loss(t, x, y)
        else:
            objective, dim = self.fn, spec["dim"]
            self.n_samples = None
            self._probe_hvp = objective
        func = torch.func
        self.hvp_mode = _hvp_mode(torch, self._probe_hvp, dim, self.dtype, self.device)
        self._objective = objective
        batched = func.vmap(objective)

        def losses(rows: Any) -> Any:
            # One row needs no vmap: its Python overhead is most of a small model's step.
            return objective(rows[0])[None] if rows.shape[0] == 1 else batched(rows)

        self._t_loss = losses
        row_hvp = _hvp_of(func.grad(objective), self.hvp_mode)
        self._t_hvp = func.vmap(row_hvp)
        # Many directions at one point (Hutchinson's probes): the point's forward and
        # backward passes are computed once, only the tangents are batched.
        self._t_hvp_point = func.vmap(row_hvp, in_dims=(None, 0))
        super().__init__(
            loss=self._np_loss,
            grad=self._np_grad,
            dim=dim,
            hvp=self._np_hvp,
            name=spec["name"],
        )

    # -- building ----------------------------------------------------------------------
    def _module_objective(self, torch: Any) -> tuple[Callable[..., Any], int]:
        """``L(θ)`` of the module on all the data, and ``d``; also the per-example and
        minibatch losses used by the finite-sum methods."""
        model, loss_fn = self.model, self._spec["loss_fn"]
        start = 0
        for pname, param in model.named_parameters():
            if param.requires_grad:
                size = param.numel()
                self.layout.append((pname, tuple(param.shape), slice(start, start + size)))
                start += size
        if start == 0:
            raise ValueError("model has no trainable parameters (requires_grad=True)")
        trained = {name for name, _, _ in self.layout}
        # Frozen parameters and buffers are constants, in the problem's dtype.
        constants = {
            k: (v.detach().to(self.dtype) if v.is_floating_point() else v.detach()).to(self.device)
            for k, v in [*model.named_parameters(), *model.named_buffers()]
            if k not in trained
        }
        layout = self.layout
        call = torch.func.functional_call
        has_y = self.y is not None

        def batch_loss(theta: Any, x: Any, y: Any) -> Any:
            params = {name: theta[sl].view(shape) for name, shape, sl in layout}
            out = call(model, {**params, **constants}, (x,))
            return loss_fn(out, y) if has_y else loss_fn(out)

        y_all = self.y if has_y else torch.zeros(self.X.shape[0], device=self.device)
        self._batch_loss = batch_loss
        self._y_all = y_all
        with torch.no_grad():  # one cheap evaluation: a clear error for a bad loss
            n = min(2, int(self.X.shape[0]))
            theta = torch.zeros(start, dtype=self.dtype, device=self.device)
            _check_scalar(batch_loss(theta, self.X[:n], y_all[:n]), "loss_fn")

        def objective(theta: Any) -> Any:
            return batch_loss(theta, self.X, y_all)

        return objective, start

    # -- numpy boundary -----------------------------------------------------------------
    def _to_torch(self, a: np.ndarray) -> Any:
        torch = _torch()
        if not a.flags.writeable:  # torch warns about (and may write to) read-only memory
            a = a.copy()
        return torch.from_numpy(a).to(dtype=self.dtype, device=self.device)

    def _rows(self, theta: ArrayLike) -> tuple[np.ndarray, Any]:
        """``θ`` checked, and as an ``(N, d)`` tensor."""
        theta = as_batch(theta, self.dim)
        return theta, self._to_torch(theta.reshape(-1, self.dim))

    @staticmethod
    def _to_numpy(out: Any, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        return out.detach().cpu().numpy().reshape(shape).astype(dtype, copy=False)

    def _np_loss(self, theta: ArrayLike) -> np.ndarray:
        theta, rows = self._rows(theta)
        if rows.shape[0] == 0:
            return np.zeros(theta.shape[:-1], dtype=theta.dtype)
        return self._to_numpy(self._t_loss(rows), theta.shape[:-1], theta.dtype)

    def _np_grad(self, theta: ArrayLike) -> np.ndarray:
        theta, rows = self._rows(theta)
        if rows.shape[0] == 0:
            return np.zeros(theta.shape, dtype=theta.dtype)
        return self._to_numpy(_row_gradients(self._t_loss, rows), theta.shape, theta.dtype)

    def _np_hvp(self, theta: ArrayLike, v: ArrayLike) -> np.ndarray:
        point = _one_point(theta)
        theta = as_batch(theta, self.dim)
        theta, v = np.broadcast_arrays(theta, np.asarray(v, dtype=theta.dtype))
        if theta.size == 0:
            return np.zeros(theta.shape, dtype=theta.dtype)
        dirs = self._to_torch(np.ascontiguousarray(v).reshape(-1, self.dim))
        if point is not None and dirs.shape[0] > 1:
            out = self._t_hvp_point(self._to_torch(as_batch(point, self.dim)), dirs)
        else:
            rows = self._to_torch(np.ascontiguousarray(theta).reshape(-1, self.dim))
            out = self._t_hvp(rows, dirs)
        return self._to_numpy(out, theta.shape, theta.dtype)

    # -- finite sums ---------------------------------------------------------------------
    def _finite_sum(self) -> int:
        if self.n_samples is None:
            raise TypeError(
                f"problem {self.name!r} was built from a function, not a model with data: "
                "it is not a finite sum"
            )
        return self.n_samples

    def per_example_grad(self, theta: ArrayLike) -> np.ndarray:
        r"""Per-example gradients :math:`\nabla \ell_i`, whose mean is ``grad``.

        :math:`\ell_i` is ``loss_fn`` on example ``i`` alone (``X[i:i+1]``), so the
        mean is the gradient when ``loss_fn`` averages over the examples (PyTorch's
        ``reduction="mean"``).  ``vmap`` over the examples inside ``vmap`` over rows.

        Parameters
        ----------
        theta : array_like, shape (*batch, d)

        Returns
        -------
        ndarray, shape (*batch, n, d)

        Raises
        ------
        TypeError
            If the problem was built from a function (no examples), or ``theta`` does
            not hold real numbers.
        ValueError
            If the last axis of ``theta`` is not ``d``.

        References
        ----------
        I. Goodfellow, "Efficient per-example gradient computations", arXiv:1510.01799,
        2015.

        Examples
        --------
        >>> import numpy as np, torch, gradflow as gf
        >>> X, y = np.arange(6.0).reshape(3, 2), np.ones((3, 1))
        >>> p = gf.Problem.from_torch(torch.nn.Linear(2, 1), torch.nn.MSELoss(), X, y)
        >>> p.per_example_grad(np.zeros((4, p.dim))).shape
        (4, 3, 3)
        """
        n = self._finite_sum()
        torch = _torch()
        theta, rows = self._rows(theta)
        shape = (*theta.shape[:-1], n, self.dim)
        if rows.shape[0] == 0:
            return np.zeros(shape, dtype=theta.dtype)
        batch_loss = self._batch_loss

        def one(t: Any, x: Any, y: Any) -> Any:
            return batch_loss(t, x[None], y[None])

        per = torch.func.vmap(torch.func.grad(one), in_dims=(None, 0, 0))
        out = torch.func.vmap(per, in_dims=(0, None, None))(rows, self.X, self._y_all)
        return self._to_numpy(out, shape, theta.dtype)

    def _gathered(self, theta: ArrayLike, index: ArrayLike) -> tuple[np.ndarray, Any, Any, Any]:
        """Checked ``θ`` ``(rows, E, d)`` as a tensor, and the drawn examples per row."""
        n = self._finite_sum()
        th, idx = as_minibatch(theta, index, self.dim, n)
        where = _torch().from_numpy(idx).to(self.device)
        return th, self._to_torch(th), self.X[where], self._y_all[where]

    def _minibatch_loss_fn(self) -> Callable[..., Any]:
        """Losses ``(rows, E)`` on each row's drawn examples."""
        vmap = _torch().func.vmap
        return vmap(vmap(self._batch_loss, in_dims=(0, None, None)), in_dims=(0, 0, 0))

    def minibatch_grad(self, theta: ArrayLike, index: ArrayLike) -> np.ndarray:
        """Mean gradient over the examples ``index[r]`` of every row ``r``.

        ``loss_fn`` on the model's output for the ``B`` drawn examples only (gathered
        per row, ``X[index]``): O(rows·B) forward and backward work, never all ``n``
        (the finite-sum protocol, :mod:`gradflow.problems._minibatch`).

        Parameters
        ----------
        theta : array_like, shape (rows, *extra, d)
        index : array_like of int, shape (rows, B)
            Example indices in ``[0, n)``.

        Returns
        -------
        ndarray, shape theta.shape

        Raises
        ------
        TypeError
            If the problem is not a finite sum, ``theta`` does not hold real numbers or
            ``index`` not integers.
        ValueError
            If the shapes do not match or an index is out of range.

        References
        ----------
        L. Bottou, F. E. Curtis and J. Nocedal, "Optimization methods for large-scale
        machine learning", SIAM Review 60(2), 223-311, 2018, §3.

        Examples
        --------
        >>> import numpy as np, torch, gradflow as gf
        >>> X, y = np.arange(6.0).reshape(3, 2), np.ones((3, 1))
        >>> p = gf.Problem.from_torch(torch.nn.Linear(2, 1), torch.nn.MSELoss(), X, y)
        >>> p.minibatch_grad(np.zeros((2, p.dim)), [[0, 1], [2, 2]]).shape
        (2, 3)
        """
        th, rows, xb, yb = self._gathered(theta, index)
        out = _row_gradients(lambda t: self._minibatch_loss_fn()(t, xb, yb), rows)
        return self._to_numpy(out, np.shape(theta), th.dtype)

    def minibatch_hvp(self, theta: ArrayLike, v: ArrayLike, index: ArrayLike) -> np.ndarray:
        """Exact HVP of the loss on the examples ``index[r]`` of every row ``r``.

        Forward-over-reverse (``jvp`` of the minibatch gradient), on the drawn examples
        only.

        Parameters
        ----------
        theta : array_like, shape (rows, *extra, d)
        v : array_like
            Directions, broadcastable to ``theta``.
        index : array_like of int, shape (rows, B)

        Returns
        -------
        ndarray, shape of ``theta`` and ``v`` broadcast

        Raises
        ------
        TypeError, ValueError
            As :meth:`minibatch_grad`.

        References
        ----------
        B. A. Pearlmutter, "Fast exact multiplication by the Hessian", Neural
        Computation 6(1), 147-160, 1994.

        Examples
        --------
        >>> import numpy as np, torch, gradflow as gf
        >>> X, y = np.arange(6.0).reshape(3, 2), np.ones((3, 1))
        >>> p = gf.Problem.from_torch(torch.nn.Linear(2, 1), torch.nn.MSELoss(), X, y)
        >>> theta = np.zeros((1, p.dim))
        >>> # MSE on example 0 twice: H = 2 φφᵀ with φ = (x_0, 1) = (0, 1, 1)
        >>> p.minibatch_hvp(theta, np.ones((1, p.dim)), [[0, 0]]).round(6)
        array([[0., 4., 4.]])
        """
        theta = as_batch(theta, self.dim)
        theta, v = np.broadcast_arrays(theta, np.asarray(v, dtype=theta.dtype))
        theta = np.ascontiguousarray(theta)
        th, rows, xb, yb = self._gathered(theta, index)
        dirs = self._to_torch(np.ascontiguousarray(v).reshape(th.shape))
        func = _torch().func
        grad = func.grad(self._batch_loss)

        def hvp(t: Any, u: Any, x: Any, y: Any) -> Any:
            return _hvp_of(lambda s: grad(s, x, y), self.hvp_mode)(t, u)

        batched = func.vmap(func.vmap(hvp, in_dims=(0, 0, None, None)), in_dims=(0, 0, 0, 0))
        return self._to_numpy(batched(rows, dirs, xb, yb), theta.shape, th.dtype)

    # -- the module's parameters -----------------------------------------------------------
    def _module(self, module: Any) -> Any:
        if self.model is None:
            raise TypeError(f"problem {self.name!r} was built from a function: it has no module")
        return self.model if module is None else module

    def theta_from_module(self, module: Any = None) -> np.ndarray:
        """``θ`` from a module's current parameters (the trained ones, flattened in
        ``named_parameters()`` order: :attr:`layout`).

        Parameters
        ----------
        module : torch.nn.Module, optional
            A module with the same trained parameters as the problem's; default the
            problem's own :attr:`model`.

        Returns
        -------
        ndarray, shape (d,)
            In the problem's dtype (float64 by default).

        Raises
        ------
        TypeError
            If the problem was built from a function.
        ValueError
            If the module's parameters do not match :attr:`layout`.

        References
        ----------
        PyTorch, ``torch.nn.utils.parameters_to_vector`` (the same flattening, in the
        order of the parameters).

        Examples
        --------
        >>> import numpy as np, torch, gradflow as gf
        >>> net = torch.nn.Linear(2, 1)
        >>> p = gf.Problem.from_torch(net, torch.nn.MSELoss(), np.ones((3, 2)), np.ones((3, 1)))
        >>> [name for name, _, _ in p.layout], p.theta_from_module().shape
        (['weight', 'bias'], (3,))
        """
        module = self._module(module)
        params = dict(module.named_parameters())
        parts = []
        for name, shape, _ in self.layout:
            if name not in params or tuple(params[name].shape) != shape:
                raise ValueError(f"module has no parameter {name!r} of shape {shape}")
            parts.append(params[name].detach().to(dtype=self.dtype, device="cpu").reshape(-1))
        return _torch().cat(parts).numpy().copy()

    def theta_to_module(self, theta: ArrayLike, module: Any = None) -> Any:
        """Write ``θ`` into a module's parameters (in the module's own dtype and device).

        Parameters
        ----------
        theta : array_like, shape (d,)
            One parameter vector (e.g. ``traj.theta[-1, j]`` of a run).
        module : torch.nn.Module, optional
            Default the problem's own :attr:`model`.

        Returns
        -------
        torch.nn.Module
            The module, changed in place.

        Raises
        ------
        TypeError
            If the problem was built from a function.
        ValueError
            If ``theta`` is not one vector of length ``d``, or the module's parameters
            do not match :attr:`layout`.

        References
        ----------
        PyTorch, ``torch.nn.utils.vector_to_parameters``.

        Examples
        --------
        >>> import numpy as np, torch, gradflow as gf
        >>> net = torch.nn.Linear(2, 1)
        >>> p = gf.Problem.from_torch(net, torch.nn.MSELoss(), np.ones((3, 2)), np.ones((3, 1)))
        >>> _ = p.theta_to_module(np.array([1.0, 2.0, 3.0]))
        >>> net.weight.tolist(), net.bias.tolist()
        ([[1.0, 2.0]], [3.0])
        """
        module = self._module(module)
        theta = as_batch(theta, self.dim)
        if theta.ndim != 1:
            raise ValueError(f"theta must be one vector of shape ({self.dim},), got {theta.shape}")
        torch = _torch()
        params = dict(module.named_parameters())
        with torch.no_grad():
            for name, shape, sl in self.layout:
                if name not in params or tuple(params[name].shape) != shape:
                    raise ValueError(f"module has no parameter {name!r} of shape {shape}")
                params[name].copy_(torch.from_numpy(theta[sl].copy()).view(shape))
        return module

    # -- pickling ----------------------------------------------------------------------
    def __reduce__(self) -> tuple[Any, ...]:
        for key in ("model", "loss_fn", "fn"):
            try:
                pickle.dumps(self._spec[key])
            except Exception as exc:  # lambdas, local classes, unpicklable state
                raise TypeError(
                    f"this Problem.from_torch problem cannot be pickled: its {key} does not "
                    f"pickle ({type(exc).__name__}: {exc}); define it at module level "
                    "(a named function, a module class importable by name)"
                ) from None
        return (_rebuild, (self._spec,))


def _rebuild(spec: dict[str, Any]) -> TorchProblem:
    """The problem again, from what :meth:`TorchProblem.__reduce__` pickled."""
    return TorchProblem(spec)


def from_torch(
    model: Any,
    loss_fn: Callable[..., Any] | None = None,
    X: Any = None,
    y: Any = None,
    *,
    dim: int | None = None,
    dtype: Any = "float64",
    device: Any = "cpu",
    name: str | None = None,
) -> TorchProblem:
    """Build a :class:`TorchProblem` (the checks of :meth:`gradflow.Problem.from_torch`)."""
    torch = _torch()
    torch_dtype = _as_dtype(torch, dtype)
    device = torch.device(device)
    spec: dict[str, Any] = {
        "model": None,
        "loss_fn": None,
        "fn": None,
        "X": None,
        "y": None,
        "dim": None,
        "dtype": str(torch_dtype).removeprefix("torch."),
        "device": str(device),
    }
    if isinstance(model, torch.nn.Module):
        if not callable(loss_fn):
            raise TypeError(
                "loss_fn must be callable: loss_fn(model(X), y) -> scalar tensor, got "
                f"{type(loss_fn).__name__}"
            )
        if X is None:
            raise TypeError("X must be given with a model: the inputs, examples first")
        if dim is not None:
            raise TypeError("dim is taken from the model's parameters; do not give it")
        Xt = _as_data(torch, X, "X", torch_dtype, device)
        yt = None if y is None else _as_data(torch, y, "y", torch_dtype, device)
        if yt is not None and yt.shape[0] != Xt.shape[0]:
            raise ValueError(f"X and y must have as many examples: {Xt.shape[0]} != {yt.shape[0]}")
        spec.update(model=model, loss_fn=loss_fn, X=Xt, y=yt)
        spec["name"] = type(model).__name__ if name is None else str(name)
        return TorchProblem(spec)
    if not callable(model):
        raise TypeError(
            "model must be a torch.nn.Module or a function of a flat parameter tensor, got "
            f"{type(model).__name__}"
        )
    if loss_fn is not None or X is not None or y is not None:
        raise TypeError("loss_fn, X and y are for a model; a function computes its own loss")
    if dim is None:
        raise TypeError("dim must be given with a function: the length of its parameter vector")
    dim = check_integer(dim, "dim", 1)
    with torch.no_grad():  # one evaluation at zero: a clear error for a bad return value
        _check_scalar(model(torch.zeros(dim, dtype=torch_dtype, device=device)), "fn")
    spec.update(fn=model, dim=dim)
    spec["name"] = getattr(model, "__name__", "torch") if name is None else str(name)
    if spec["name"] == "<lambda>":
        spec["name"] = "torch"
    return TorchProblem(spec)
