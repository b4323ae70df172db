"""The one interface to a loss landscape: :class:`Problem`.

A problem bundles a loss ``L: R^d -> R`` with its gradient and, where known, its
Hessian-vector product and Hessian.  Every function is *batched over leading axes*:
a state ``theta`` of shape ``(*batch, d)`` gives a loss of shape ``(*batch,)`` and a
gradient of shape ``(*batch, d)``.

Contract for writing a problem
------------------------------
1. ``loss(theta)`` returns an array of shape ``theta.shape[:-1]``.
2. ``grad(theta)`` returns a *new* array of shape ``theta.shape`` (callers may
   overwrite it) and must treat each batch row independently.
3. ``hvp(theta, v)`` (optional) returns ``H(theta) v`` for ``theta`` and ``v`` of the
   same shape ``(*batch, d)``.  Without it, a Hessian (if given) is contracted with
   ``v``; without either, a central difference of ``grad`` is used (see
   :func:`central_difference_hvp`).
4. ``hessian(theta)`` (optional) returns ``(*batch, d, d)``.  Without it the Hessian is
   assembled from ``d`` batched HVPs against the unit vectors.
5. Floating dtype is preserved: float32 in, float32 out (write constants as Python
   floats, which do not promote numpy arrays).
6. Finite sums (optional): a loss that is a mean over ``n`` examples,
   ``L = (1/n) Σ_i ℓ_i``, declares ``n_samples`` and ``per_example_grad(theta) ->
   (*batch, n, d)``, and is then sampled by ``solve(..., batch_size=B)``.  For a
   minibatch step that costs O(B·d) rather than O(n·d) it also provides
   ``minibatch_grad(theta, index)`` (``theta`` of shape ``(rows, *extra, d)``,
   integer ``index`` of shape ``(rows, B)``: row ``r`` gets the mean gradient over the
   examples ``index[r]``, computed from those examples only and row by row) and,
   optionally, the exact ``minibatch_hvp(theta, v, index)``.  The protocol in full is in
   :mod:`gradflow.problems._minibatch`; without ``minibatch_grad`` the minibatch
   gradient is taken from ``per_example_grad``.

What :class:`Problem` adds around these functions: each call runs under
``numpy.errstate(all="ignore")`` (overflow gives ±inf and invalid operations NaN,
silently: the driver reports a non-finite state as divergence, and no numpy
floating-point warning reaches the caller), and what each returns is checked, by its
type and shape only (a few hundred nanoseconds): a list, or an array of the wrong shape,
is an error naming the function (``loss``, ``grad``, ``hvp`` or ``hessian``) instead of
a numpy broadcasting error deep inside a method.

Pickling: a problem pickles with its attributes when its functions do (module-level
functions, or callable objects of module-level classes).  A problem whose functions are
closures made by its constructor (the zoo classes, :func:`~gradflow.problems.from_sympy`)
records that call as its last step (:meth:`Problem._rebuilt_by`), and pickles as the call
plus the attributes set after it: unpickling runs the constructor again, which makes
the same closures and therefore the same bits.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gradflow._numerics import CENTRAL_DIFFERENCE_EXPONENT
from gradflow._validation import as_state_array, check_callable, check_integer, check_real

__all__ = ["Problem", "as_batch", "central_difference_hvp"]

Array = NDArray[np.floating]
LossFn = Callable[[Array], Array]
GradFn = Callable[[Array], Array]
HvpFn = Callable[[Array, Array], Array]
HessianFn = Callable[[Array], Array]

#: Attributes a user may change after construction: pickled even with a recipe.
_USER_FIELDS = frozenset({"name", "minimum", "minimizers"})


class _Recipe(NamedTuple):
    """How a problem was built: ``factory(*args, **kwargs)`` made an instance of ``cls``
    whose attributes were then ``built``."""

    cls: type
    factory: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    built: frozenset[str]


def _rebuild(factory: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Unpickle a problem by calling its constructor again (see ``Problem.__reduce_ex__``)."""
    return factory(*args, **kwargs)


def _returned(value: Any, name: str, expected: tuple[int, ...], what: str) -> Any:
    """``value``, as returned by the function ``name``, checked to be real numbers of
    shape ``expected`` (``what`` spells the shape for the message)."""
    if isinstance(value, (np.ndarray, np.generic)):
        if value.shape == expected and value.dtype.kind in "fiu":
            return value
        if value.dtype.kind not in "fiu":
            raise TypeError(
                f"{name} must return real numbers, an array of shape {what} = {expected}; "
                f"it returned an array of dtype {value.dtype}"
            )
        raise ValueError(
            f"{name} must return an array of shape {what} = {expected}; it returned "
            f"shape {value.shape}"
        )
    if expected == () and isinstance(value, numbers.Real) and not isinstance(value, bool):
        return value
    raise TypeError(
        f"{name} must return a numpy array of shape {what} = {expected}; it returned "
        f"{type(value).__name__}"
    )


def as_batch(theta: ArrayLike, dim: int) -> np.ndarray:
    """Check and convert a batch of parameter vectors for a problem's functions.

    Parameters
    ----------
    theta : array_like, shape (*batch, dim)
        Real numbers; integers and float16 become float64, float32 and float64 are kept.
        Empty batches and non-finite entries are accepted: the driver evaluates a
        problem on diverging states (see :func:`gradflow._validation.as_state_array`).
    dim : int
        The expected length of the last axis.

    Returns
    -------
    ndarray
        C-contiguous, so that every reduction over the last axis is the same pairwise
        sum whatever the batch around a row (row results do not depend on the batch).

    Raises
    ------
    TypeError
        If ``theta`` does not hold real numbers (booleans, complex numbers, strings and
        objects are refused).
    ValueError
        If its last axis is not of length ``dim``.
    """
    return as_state_array(theta, "theta", dim, allow_empty=True, finite=False)


def central_difference_hvp(grad: GradFn, theta: Array, v: Array) -> Array:
    r"""Hessian-vector product by a central difference of the gradient.

    .. math:: H(\theta) v \approx \frac{\nabla L(\theta + \varepsilon v)
              - \nabla L(\theta - \varepsilon v)}{2 \varepsilon},
              \qquad \varepsilon = \epsilon_{\text{mach}}^{1/3}
              \frac{\max(1, \lVert\theta\rVert)}{\lVert v\rVert},

    with one increment per batch row, so that the perturbation ``εv`` has a size
    relative to ``θ`` of about ``eps^(1/3)`` whatever the scale of ``v``.  The error is
    O(ε² ‖∇³L‖ ‖v‖²) + O(eps_mach^(2/3)) relative; rows with ``v = 0`` return zero.

    Parameters
    ----------
    grad : callable
        Batched gradient ``(*batch, d) -> (*batch, d)``.
    theta, v : ndarray, shape (*batch, d)
        Points and directions (broadcast against each other).

    Returns
    -------
    ndarray, shape (*batch, d)

    References
    ----------
    J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer, 2006, §8.1.
    """
    theta, v = np.broadcast_arrays(theta, v)
    dtype = np.result_type(theta.dtype, v.dtype, np.float32)
    eps = float(np.finfo(dtype).eps) ** CENTRAL_DIFFERENCE_EXPONENT
    v_norm = np.linalg.norm(v, axis=-1, keepdims=True)
    scale = np.maximum(1.0, np.linalg.norm(theta, axis=-1, keepdims=True))
    zero = v_norm == 0
    step = (eps * scale / np.where(zero, 1.0, v_norm)).astype(dtype, copy=False)
    diff = grad(theta + step * v) - grad(theta - step * v)
    return np.where(zero, 0.0, diff / (2.0 * step)).astype(dtype, copy=False)


class Problem:
    r"""A differentiable loss landscape, batched over leading axes.

    Parameters
    ----------
    loss : callable
        ``loss(theta) -> (*batch,)`` for ``theta`` of shape ``(*batch, d)``.
    grad : callable
        ``grad(theta) -> (*batch, d)``; returns a new array.
    dim : int
        The number of parameters ``d``.
    hvp : callable, optional
        Exact Hessian-vector product ``hvp(theta, v) -> (*batch, d)``.  When omitted,
        the Hessian is contracted with ``v`` if given, else a central difference of
        ``grad`` is used (:func:`central_difference_hvp`).
    hessian : callable, optional
        Exact Hessian ``hessian(theta) -> (*batch, d, d)``.
    name : str
        Short name used in tables, figures and the CLI.
    minimum : float, optional
        The global minimum value ``L*`` where known (used by Polyak steps and gaps).
    minimizers : array_like, shape (m, d), optional
        Known minimisers (all of them, or representatives; see the problem's docs).

    Attributes
    ----------
    has_exact_hvp, has_exact_hessian : bool
        Whether HVP and Hessian are exact (analytic) or approximated.

    Notes
    -----
    The gradient flow of a problem is ``dθ/dt = -∇L(θ)``; gradient descent with step
    ``h`` is its explicit Euler discretisation.  See the module docstring for the
    contract a new problem must satisfy.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow import Problem
    >>> p = Problem(loss=lambda th: 0.5 * np.sum(th**2, axis=-1), grad=lambda th: 1.0 * th,
    ...             dim=3, name="sphere", minimum=0.0)
    >>> p.grad(np.ones((4, 3))).shape
    (4, 3)
    >>> p.hvp(np.zeros(3), np.array([1.0, 2.0, 3.0])).round(6)   # finite difference
    array([1., 2., 3.])
    """

    def __init__(
        self,
        loss: LossFn,
        grad: GradFn,
        *,
        dim: int,
        hvp: HvpFn | None = None,
        hessian: HessianFn | None = None,
        name: str = "problem",
        minimum: float | None = None,
        minimizers: ArrayLike | None = None,
    ) -> None:
        check_callable(loss, "loss")
        check_callable(grad, "grad")
        for label, fn in (("hvp", hvp), ("hessian", hessian)):
            if fn is not None:
                check_callable(fn, label)
        dim = check_integer(dim, "dim", 1)
        self._loss = loss
        self._grad = grad
        self._hvp = hvp
        self._hessian = hessian
        self.dim = int(dim)
        self.name = str(name)
        self.minimum = None if minimum is None else check_real(minimum, "minimum")
        if minimizers is not None:
            minimizers = as_state_array(minimizers, "minimizers", self.dim)
            minimizers = np.atleast_2d(minimizers.astype(np.float64))
            if minimizers.ndim != 2:
                raise ValueError(
                    f"minimizers must have shape (m, {self.dim}), got {minimizers.shape}"
                )
        self.minimizers: np.ndarray | None = minimizers

    # -- evaluation ------------------------------------------------------------------
    # Every public evaluation runs under errstate and checks what the user's function
    # returned (see the module docstring); the ``_checked_*`` helpers do the checking.
    def _checked_grad(self, theta: Array) -> Array:
        return _returned(self._grad(theta), "grad", np.shape(theta), "theta.shape")

    def _checked_hvp(self, theta: Array, v: Array) -> Array:
        if self._hvp is not None:
            out = self._hvp(theta, v)
            shape = np.shape(theta)
            if np.shape(v) != shape:
                shape = np.broadcast_shapes(shape, np.shape(v))
            return _returned(out, "hvp", shape, "theta.shape")
        if self._hessian is not None:
            return np.einsum("...ij,...j->...i", self._checked_hessian(theta), v)
        return central_difference_hvp(self._checked_grad, theta, v)

    def _checked_hessian(self, theta: Array) -> Array:
        shape = (*np.shape(theta), self.dim)
        return _returned(self._hessian(theta), "hessian", shape, "(*theta.shape, d)")

    def loss(self, theta: Array) -> Array:
        """Loss values, shape ``theta.shape[:-1]``.

        Raises
        ------
        TypeError, ValueError
            If the loss function returns something other than real numbers of that shape.
        """
        with np.errstate(all="ignore"):
            out = self._loss(theta)
        return _returned(out, "loss", np.shape(theta)[:-1], "theta.shape[:-1]")

    def grad(self, theta: Array) -> Array:
        """Gradient ``∇L(θ)``, shape ``theta.shape`` (a new array).

        Raises
        ------
        TypeError, ValueError
            If the gradient function returns something other than real numbers of that
            shape.
        """
        with np.errstate(all="ignore"):
            return self._checked_grad(theta)

    def hvp(self, theta: Array, v: Array) -> Array:
        """Hessian-vector product ``∇²L(θ) v``, shape ``(*batch, d)``.

        Exact when the problem provides an HVP or a Hessian; otherwise a central
        difference of the gradient (:func:`central_difference_hvp`).
        """
        with np.errstate(all="ignore"):
            return self._checked_hvp(theta, v)

    def hessian(self, theta: Array) -> Array:
        """Hessian ``∇²L(θ)``, shape ``(*batch, d, d)``.

        Exact when the problem provides it, else assembled from ``d`` batched HVPs
        against the unit vectors and symmetrised.
        """
        with np.errstate(all="ignore"):
            if self._hessian is not None:
                return self._checked_hessian(theta)
            theta = np.asarray(theta)
            d = self.dim
            eye = np.eye(d, dtype=theta.dtype)
            rows = np.broadcast_to(theta[..., None, :], (*theta.shape[:-1], d, d))
            basis = np.broadcast_to(eye, rows.shape)
            # hvp(theta, e_j) is column j of H; stacked on axis -2 it is H^T.
            h_t = self._checked_hvp(rows, basis)
            # Symmetrise: exact HVPs agree with their transpose only to rounding, finite
            # differences only to O(eps^(2/3)).
            return 0.5 * (h_t + np.swapaxes(h_t, -1, -2))

    def restrict(self, rows: np.ndarray) -> Problem:
        """The problem as seen by the rows ``rows`` of the batch being evaluated.

        A method that evaluates only some rows of its batch (e.g. the rows of a Newton
        iteration that have not converged) calls ``problem.restrict(rows).grad(...)`` so
        the driver's counting view attributes the evaluation to those rows.  For a
        plain problem this is the problem itself.

        Parameters
        ----------
        rows : ndarray of int or bool
            Rows of the current batch.

        Returns
        -------
        Problem
        """
        return self

    # -- pickling --------------------------------------------------------------------
    def _rebuilt_by(self, factory: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Pickle this problem as the call ``factory(*args, **kwargs)``.

        For a constructor whose functions are closures (which :mod:`pickle` refuses):
        called as its last step, it records the call and the attributes set so far.
        The pickle then holds the call's arguments, ``name``, ``minimum``,
        ``minimizers`` and the attributes added after the call, so no closure and no
        cache is pickled.  A subclass that does not record its own call
        pickles attribute by attribute.
        """
        built = frozenset(self.__dict__) | {"_recipe"}
        self._recipe = _Recipe(type(self), factory, args, dict(kwargs), built)

    def __reduce_ex__(self, protocol: Any) -> Any:
        """Pickle support: attribute by attribute, or as its recipe (see :meth:`_rebuilt_by`)."""
        recipe = self.__dict__.get("_recipe")
        if recipe is None or recipe.cls is not type(self):
            return super().__reduce_ex__(protocol)
        state = {
            key: value
            for key, value in self.__dict__.items()
            if key not in recipe.built or key in _USER_FIELDS
        }
        return (_rebuild, (recipe.factory, recipe.args, recipe.kwargs), state)

    @property
    def has_exact_hvp(self) -> bool:
        """True when HVPs are analytic (an HVP or a Hessian was supplied)."""
        return self._hvp is not None or self._hessian is not None

    @property
    def has_exact_hessian(self) -> bool:
        """True when the Hessian is analytic or assembled from exact HVPs."""
        return self.has_exact_hvp

    # -- constructors ----------------------------------------------------------------
    @classmethod
    def from_sympy(
        cls,
        expr: Any,
        symbols: Any,
        *,
        name: str = "sympy",
        minimum: float | None = None,
        minimizers: ArrayLike | None = None,
    ) -> Problem:
        """Build a problem from a sympy expression; see :func:`gradflow.problems.from_sympy`."""
        from gradflow.problems._symbolic import from_sympy

        return from_sympy(expr, symbols, name=name, minimum=minimum, minimizers=minimizers)

    @classmethod
    def from_function(
        cls,
        loss: Callable[..., Any],
        *,
        dim: int,
        grad: Callable[..., Any] | None = None,
        hvp: Callable[..., Any] | None = None,
        batched: bool | None = None,
        derivative: str = "auto",
        increment: float | None = None,
        theta0: ArrayLike | None = None,
        name: str = "function",
        minimum: float | None = None,
        minimizers: ArrayLike | None = None,
    ) -> Problem:
        """Build a problem from a plain numpy loss (with or without its gradient); see
        :func:`gradflow.problems.from_function`."""
        from gradflow.problems._function import from_function

        return from_function(
            loss,
            dim=dim,
            grad=grad,
            hvp=hvp,
            batched=batched,
            derivative=derivative,
            increment=increment,
            theta0=theta0,
            name=name,
            minimum=minimum,
            minimizers=minimizers,
        )

    @classmethod
    def from_torch(
        cls,
        model: Any,
        loss_fn: Callable[..., Any] | None = None,
        X: Any = None,
        y: Any = None,
        *,
        dim: int | None = None,
        dtype: Any = "float64",
        device: Any = "cpu",
        name: str | None = None,
    ) -> Problem:
        r"""A problem from a PyTorch model and data, or from a function of a flat tensor.

        Two forms:

        * ``Problem.from_torch(model, loss_fn, X, y)``: ``L(θ) = loss_fn(model(X), y)``
          (``loss_fn(model(X))`` without ``y``), with ``θ`` the module's trained
          parameters (``requires_grad=True``) flattened and concatenated in
          ``named_parameters()`` order (``problem.layout`` lists name, shape and slice;
          frozen parameters and buffers are constants).  ``problem.theta_from_module()``
          gives ``θ0`` from the module's current parameters and
          ``problem.theta_to_module(θ)`` writes a ``θ`` back.  The problem is a finite
          sum of ``n = len(X)`` examples (``solve(..., batch_size=B)`` samples it; the
          minibatch gradient and HVP are computed on the drawn examples only), which
          needs ``loss_fn`` to be the *mean* of independent per-example losses (PyTorch's
          default ``reduction="mean"``; no batch-norm statistics in training mode).
        * ``Problem.from_torch(fn, dim=d)``: ``L(θ) = fn(θ)`` for a function of a flat
          parameter tensor of shape ``(d,)`` returning a 0-d tensor.

        The gradient is ``vmap(grad(L))`` and the Hessian-vector product
        ``vmap(jvp(grad(L)))`` (forward-over-reverse, exact), all rows of ``θ`` in one
        batched ``torch.func`` call.  numpy in, numpy out: results are numpy arrays of
        ``θ``'s dtype; torch tensors given as ``θ`` or ``θ0`` are refused with a
        ``TypeError`` (convert them explicitly).  The model must be deterministic
        (dropout off: ``model.eval()``).

        Parameters
        ----------
        model : torch.nn.Module or callable
            The network, or ``fn(theta: Tensor (d,)) -> Tensor ()``.
        loss_fn : callable, optional
            ``loss_fn(output, y) -> Tensor ()`` (e.g. ``torch.nn.MSELoss()``,
            ``torch.nn.functional.cross_entropy``); required with a module.
        X, y : array_like or torch.Tensor, optional
            Inputs and targets, examples on the first axis (copied to ``device``;
            floating data converted to ``dtype``, integer labels kept).
        dim : int, optional
            The length ``d`` of ``θ``; required with a function, taken from the module
            otherwise.
        dtype : str, numpy or torch dtype, default "float64"
            The precision of the computation (float32 or float64).
        device : str or torch.device, default "cpu"
            Where the computation runs.
        name : str, optional
            Default the module's class name or the function's name.

        Returns
        -------
        gradflow.problems.TorchProblem

        Raises
        ------
        ImportError
            If PyTorch is not installed (``pip install "gradflow-ode[torch]"``).
        TypeError
            If ``model`` is neither a module nor callable, ``loss_fn``/``X`` are missing
            for a module, ``dim`` is missing for a function, or the loss is not a tensor.
        ValueError
            If ``dtype`` is not float32/float64, ``X`` and ``y`` differ in length, or the
            loss is not a scalar (checked by one evaluation at construction).

        References
        ----------
        PyTorch, ``torch.func`` (``functional_call``, ``vmap``, ``grad``, ``jvp``),
        https://pytorch.org/docs/stable/func.html.
        B. A. Pearlmutter, "Fast exact multiplication by the Hessian", Neural
        Computation 6(1), 147-160, 1994.

        Examples
        --------
        >>> import numpy as np, torch, gradflow as gf
        >>> _ = torch.manual_seed(0)
        >>> net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
        >>> X = np.random.default_rng(0).normal(size=(50, 3)); y = X[:, :1] ** 2
        >>> p = gf.Problem.from_torch(net, torch.nn.MSELoss(), X, y)
        >>> p.dim, p.n_samples
        (41, 50)
        >>> traj = gf.solve(p, p.theta_from_module(), stepsize=0.1, steps=200)
        >>> bool(traj.loss[-1] < traj.loss[0])
        True
        """
        from gradflow.problems._torch import from_torch

        return from_torch(model, loss_fn, X, y, dim=dim, dtype=dtype, device=device, name=name)

    @classmethod
    def from_jax(cls, fn: Callable[..., Any], dim: int, *, name: str | None = None) -> Problem:
        r"""A problem from a JAX function of a flat parameter vector.

        ``L(θ) = fn(θ)`` for ``θ`` of shape ``(d,)`` returning a scalar.  The loss is
        ``jit(vmap(fn))``, the gradient ``jit(vmap(grad(fn)))`` and the Hessian-vector
        product ``jit(vmap(jvp(grad(fn))))`` (forward-over-reverse, exact).

        Precision: every call runs under the scoped ``jax.enable_x64(True)`` context, so
        float64 ``θ`` is computed in float64 and float32 ``θ`` in float32, while the
        user's global JAX configuration (``jax_enable_x64``) is left as it was: the
        problem changes no JAX setting outside its own calls.  numpy in, numpy out: the
        results are new, writable numpy arrays; JAX arrays given as ``θ`` or ``θ0`` are
        refused with a ``TypeError`` (convert them explicitly, ``numpy.asarray``).

        Parameters
        ----------
        fn : callable
            ``fn(theta: Array (d,)) -> Array ()``, written with ``jax.numpy``.
        dim : int
            The length ``d`` of ``θ``.
        name : str, optional
            Default the function's name.

        Returns
        -------
        gradflow.problems.JaxProblem

        Raises
        ------
        ImportError
            If JAX is not installed (``pip install "gradflow-ode[jax]"``).
        TypeError
            If ``fn`` is not callable or returns something other than a real array.
        ValueError
            If ``fn`` does not return a scalar (checked by tracing it at construction).

        References
        ----------
        R. Frostig, M. J. Johnson and C. Leary, "Compiling machine learning programs via
        high-level tracing", SysML 2018.
        B. A. Pearlmutter, "Fast exact multiplication by the Hessian", Neural
        Computation 6(1), 147-160, 1994.

        Examples
        --------
        >>> import numpy as np, jax.numpy as jnp, gradflow as gf
        >>> p = gf.Problem.from_jax(lambda t: jnp.sum(t**4) / 4, dim=2)
        >>> p.grad(np.array([[1.0, 2.0]]))
        array([[1., 8.]])
        >>> p.hvp(np.array([1.0, 2.0]), np.array([1.0, 1.0]))
        array([ 3., 12.])
        """
        from gradflow.problems._jax import from_jax

        return from_jax(fn, dim, name=name)

    def __repr__(self) -> str:
        exact = "exact" if self.has_exact_hvp else "finite-difference"
        return f"{type(self).__name__}(name={self.name!r}, dim={self.dim}, hvp={exact})"
