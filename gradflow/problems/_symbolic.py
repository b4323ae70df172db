"""Problems built from sympy expressions.

sympy derives the gradient, the Hessian and the Hessian-vector product; ``lambdify``
turns each into numpy code that is evaluated on the coordinate arrays ``theta[..., i]``,
so it broadcasts over any batch shape.  Entries that do not depend on ``theta``
(constants such as the ``200`` in Rosenbrock's Hessian) come back from ``lambdify`` as
Python scalars; they are broadcast to the batch shape before stacking.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from gradflow.problems._problem import Problem

__all__ = ["from_sympy"]


def _stack_components(values: Sequence[Any], shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """Broadcast each component to ``shape`` and stack them on a new last axis."""
    out = np.empty((*shape, len(values)), dtype=dtype)
    for i, value in enumerate(values):
        out[..., i] = value
    return out


def _as_float_array(theta: Any) -> np.ndarray:
    theta = np.asarray(theta)
    if not np.issubdtype(theta.dtype, np.floating):
        theta = theta.astype(np.float64)
    return theta


@functools.lru_cache(maxsize=32)
def _compiled(expr: Any, symbols: tuple[Any, ...]) -> tuple[Callable[..., Any], ...]:
    """Loss, gradient, HVP and flattened Hessian of ``expr``, lambdified (memoised: a
    worker that unpickles the same problem for every chunk of a sweep compiles it once)."""
    import sympy as sp

    d = len(symbols)
    gradient = [sp.diff(expr, s) for s in symbols]
    hess = [[sp.diff(g, s) for s in symbols] for g in gradient]
    v_syms = sp.symbols(f"v_0:{d}", real=True)
    hvp_expr = [sp.expand(sum(hess[i][j] * v_syms[j] for j in range(d))) for i in range(d)]

    def compile_(target: Any, args: Sequence[Any]) -> Callable[..., Any]:
        return sp.lambdify(list(args), target, modules="numpy", cse=True)

    return (
        compile_(expr, symbols),
        compile_(gradient, symbols),
        compile_(hvp_expr, [*symbols, *v_syms]),
        compile_([h for row in hess for h in row], symbols),
    )


def from_sympy(
    expr: Any,
    symbols: Sequence[Any],
    *,
    name: str = "sympy",
    minimum: float | None = None,
    minimizers: ArrayLike | None = None,
) -> Problem:
    r"""Build a :class:`~gradflow.Problem` from a sympy expression.

    The gradient ``∂L/∂θ_i``, the Hessian ``∂²L/∂θ_i∂θ_j`` and the HVP
    ``Σ_j ∂²L/∂θ_i∂θ_j v_j`` are derived symbolically and lambdified to vectorised
    numpy (with common-subexpression elimination), so every function broadcasts over
    the leading axes of ``theta``.

    Parameters
    ----------
    expr : sympy.Expr
        The loss as an expression in ``symbols``.
    symbols : sequence of sympy.Symbol
        The parameters, in the order of the last axis of ``theta``.
    name : str, optional
        Problem name.
    minimum, minimizers : optional
        Known minimum value and minimisers, passed to :class:`~gradflow.Problem`.

    Returns
    -------
    Problem
        With exact gradient, HVP and Hessian; attributes ``expr`` and ``symbols`` keep
        the source expression.

    Raises
    ------
    TypeError
        If ``expr`` is not a sympy expression or ``symbols`` are not sympy symbols.
    ValueError
        If ``expr`` has free symbols outside ``symbols`` or ``symbols`` is empty or
        repeats a symbol.

    References
    ----------
    A. Meurer et al., "SymPy: symbolic computing in Python", PeerJ Comput. Sci. 3:e103, 2017.

    Examples
    --------
    >>> import numpy as np, sympy as sp
    >>> from gradflow import Problem
    >>> x, y = sp.symbols("x y")
    >>> p = Problem.from_sympy((1 - x) ** 2 + 100 * (y - x**2) ** 2, [x, y], name="rosen")
    >>> p.grad(np.array([[1.0, 1.0], [0.0, 0.0]]))
    array([[ 0.,  0.],
           [-2.,  0.]])
    >>> p.hessian(np.zeros((5, 2))).shape
    (5, 2, 2)
    """
    import sympy as sp

    if not isinstance(expr, sp.Expr):
        raise TypeError(f"expr must be a sympy expression, got {type(expr).__name__}")
    symbols = list(symbols) if not isinstance(symbols, sp.Symbol) else [symbols]
    if not symbols:
        raise ValueError("symbols must name at least one sympy Symbol")
    if not all(isinstance(s, sp.Symbol) for s in symbols):
        raise TypeError("symbols must be a sequence of sympy Symbols")
    if len(set(symbols)) != len(symbols):
        raise ValueError(f"symbols must be distinct, got {symbols}")
    extra = expr.free_symbols - set(symbols)
    if extra:
        raise ValueError(f"expr has free symbols {sorted(map(str, extra))} not listed in symbols")

    d = len(symbols)
    f_loss, f_grad, f_hvp, f_hess = _compiled(expr, tuple(symbols))

    def loss(theta: Any) -> np.ndarray:
        theta = _as_float_array(theta)
        value = f_loss(*np.moveaxis(theta, -1, 0))
        return np.broadcast_to(np.asarray(value, dtype=theta.dtype), theta.shape[:-1]).copy()

    def grad(theta: Any) -> np.ndarray:
        theta = _as_float_array(theta)
        return _stack_components(f_grad(*np.moveaxis(theta, -1, 0)), theta.shape[:-1], theta.dtype)

    def hvp(theta: Any, v: Any) -> np.ndarray:
        theta = _as_float_array(theta)
        theta, v = np.broadcast_arrays(theta, np.asarray(v, dtype=theta.dtype))
        comps = f_hvp(*np.moveaxis(theta, -1, 0), *np.moveaxis(v, -1, 0))
        return _stack_components(comps, theta.shape[:-1], theta.dtype)

    def hessian(theta: Any) -> np.ndarray:
        theta = _as_float_array(theta)
        flat = _stack_components(f_hess(*np.moveaxis(theta, -1, 0)), theta.shape[:-1], theta.dtype)
        return flat.reshape(*theta.shape[:-1], d, d)

    problem = Problem(
        loss,
        grad,
        dim=d,
        hvp=hvp,
        hessian=hessian,
        name=name,
        minimum=minimum,
        minimizers=minimizers,
    )
    problem.expr = expr  # type: ignore[attr-defined]
    problem.symbols = tuple(symbols)  # type: ignore[attr-defined]
    # Lambdified functions do not pickle: the problem pickles as the expression and is
    # lambdified again on unpickling (sympy prints the same code, so the same bits).
    problem._rebuilt_by(
        from_sympy, expr, problem.symbols, name=name, minimum=minimum, minimizers=minimizers
    )
    return problem
