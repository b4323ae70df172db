r"""Minibatch views of a finite-sum problem: what ``solve(..., batch_size=B)`` hands a method.

A finite-sum problem ``L(θ) = (1/n) Σ_i ℓ_i(θ)`` is sampled as SGD samples it: at step
``k`` trajectory ``j`` uses the gradient averaged over ``B`` distinct examples,

.. math:: \hat g_{k,j}(\theta) = \frac1B \sum_{i \in S_{k,j}} \nabla \ell_i(\theta),
          \qquad |S_{k,j}| = B,\ \text{drawn without replacement},

an unbiased estimate of ``∇L`` with covariance ``(1/B)(n - B)/(n - 1) Σ(θ)``.  With ``B``
fixed and ``h → 0`` SGD follows the gradient flow; to first order in ``h`` its iterates
are those of the SDE ``dθ = -∇L dt + √(h Σ/B) dW`` (Li, Tai & E 2017).

The finite-sum protocol
-----------------------
A :class:`~gradflow.problems.Problem` is a finite sum when it has

1. ``n_samples``: the number of examples ``n`` (an int);
2. ``per_example_grad(theta) -> (*batch, n, d)``: every ``∇ℓ_i``, whose mean over
   axis ``-2`` is ``grad(theta)``.

and, to make a minibatch step cost O(B·d) instead of O(n·d),

3. ``minibatch_grad(theta, index) -> theta.shape``: for ``theta`` of shape
   ``(rows, *extra, d)`` and integers ``index`` of shape ``(rows, B)``, row ``r`` (and
   each of its ``extra`` points: the Hessian's differences add an axis) gets the mean
   ``(1/B) Σ_b ∇ℓ_{index[r, b]}`` computed from the ``B`` indexed examples only (gather
   the rows of the data, ``X[index] -> (rows, B, d)``; never all ``n``).  Row ``r``'s
   bits must not depend on the other rows (reductions that do not change with the row
   count: :func:`numpy.einsum` without ``optimize``, contiguous last-axis sums; no BLAS
   call on the whole batch).  :func:`as_minibatch` checks the arguments;
4. optionally ``minibatch_hvp(theta, v, index) -> theta.shape``: the Hessian of the same
   minibatch loss times ``v``, exact.

The zoo's finite sums (:func:`~gradflow.problems.least_squares`,
:func:`~gradflow.problems.logistic_regression`,
:func:`~gradflow.problems.mlp_regression`) have all four.  Without 3 the view computes
``per_example_grad`` (all ``n`` examples, O(rows·n·d) memory) and picks the indexed
ones (:func:`per_example_minibatch_grad`); without 4 the view's HVP is a central
difference of its gradient, and its Hessian is assembled from ``d`` HVPs either way.
With ``B = n`` the sampler hands the method the full problem itself (full gradient,
exact HVP).

Reproducibility: the index sets are a pure function of ``(seed, k, j)`` for the
*original* batch element ``j``.  Step ``k`` reads, from the PCG64 generator of
``numpy.random.default_rng(seed)`` advanced by ``k · 2^64`` draws (each step its own
``2^64`` draws of the period ``2^128``), ``B`` uniforms ``u_{j,i}`` for
every original element (an ``(n_elements, B)`` array: O(n_elements·B) per step, not
O(n_elements·n)); the active rows take their own and turn them into ``B`` distinct
indices by Floyd's algorithm: for ``i = 0 .. B-1`` draw ``t_i = ⌊u_i (n - B + i + 1)⌋``
uniform on ``{0, .., n - B + i}`` and take ``t_i`` unless it was taken already, in
which case take ``n - B + i`` (never taken before).  Every ``B``-subset is equally
likely (Bentley & Floyd 1987), up to the rounding of ``u`` to 53 bits (a relative bias
below ``n · 2^-53`` per index).  The loop over ``i`` is vectorised
(:func:`floyd_sample`): ``t_i`` was taken before exactly when an earlier ``t_l``
equals it, or ``t_i = n - B + l`` for an ``l < i`` whose own ``t_l`` was taken before; a
stable sort finds the first case and pointer doubling along the second resolves the
chains in ``⌈log₂ B⌉`` passes, O(rows·B log B) in all.  A trajectory's samples therefore
do not depend on which other trajectories are still running, and the driver's replay of
a diverged row draws the same batches.  All gradient evaluations of one step (e.g.
Runge–Kutta stages) use the same minibatch.

Random reshuffling (``shuffle=True``): epoch ``e`` covers the steps
``k = e·m .. e·m + m - 1`` with ``m = n / B`` (``B`` must divide ``n``).  Each original
element ``j`` draws one permutation of ``range(n)`` per epoch, the stable argsort of ``n``
uniforms read from the same PCG64 generator advanced by ``e · 2^64`` draws (row ``j``
of an ``(n_elements, n)`` array); step ``k = e·m + p`` takes its entries
``p·B .. p·B + B - 1``.  Every example is used exactly once per epoch, as by SGD
"with random shuffling" (a new ``DataLoader(shuffle=True)`` order each epoch), and the
indices are again a pure function of ``(seed, k, j)``.  The epoch's permutations cost
O(n_elements·n log n) time once and O(n_elements·n) memory (Smith, Dherin, Barrett &
De 2021 analyse this sampler).

Batch-size schedules: ``B`` may change with the step (``solve(..., batch_size=s)`` for a
schedule ``s``, as in Smith et al. 2018).  Step ``k`` then reads ``B_k`` uniforms per
element from its own stream as above, so its indices depend on ``(seed, k, B_k)`` only;
all elements share ``B_k``, and the draws stay vectorised over them.

(Before this rule, step ``k`` drew ``n`` uniform keys per original element from
``numpy.random.default_rng([seed, k])`` and took each row's ``B`` smallest: the same
distribution, other bits, at O(n_elements·n) per step.)

References
----------
J. Bentley and R. Floyd, "Programming pearls: a sample of brilliance", Communications of
the ACM 30(9), 754-757, 1987.

M. E. O'Neill, "PCG: a family of simple fast space-efficient statistically good
algorithms for random number generation", Harvey Mudd College, HMC-CS-2014-0905, 2014.

Q. Li, C. Tai and W. E, "Stochastic modified equations and adaptive stochastic gradient
algorithms", ICML 2017.

S. L. Smith, B. Dherin, D. G. T. Barrett and S. De, "On the origin of implicit
regularization in stochastic gradient descent", ICLR 2021.

S. L. Smith, P.-J. Kindermans, C. Ying and Q. V. Le, "Don't decay the learning rate,
increase the batch size", ICLR 2018.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from gradflow._validation import _got, _is_integer, check_bool, check_integer
from gradflow.problems._problem import Problem, as_batch

__all__ = [
    "MinibatchSampler",
    "MinibatchView",
    "as_minibatch",
    "check_finite_sum",
    "floyd_sample",
    "per_example_minibatch_grad",
]

#: Step ``k`` reads the PCG64 stream of its seed from draw ``k · 2^_STEP_SHIFT`` on: every
#: step has ``2^64`` draws of its own (the period is ``2^128``).
_STEP_SHIFT = 64

_FLOATS = (np.dtype(np.float64), np.dtype(np.float32))

#: Floyd's pass runs on blocks of up to ``_BLOCK_STEPS`` consecutive steps at once (its
#: numpy calls cost more than its arithmetic at small ``n_elements · B``), holding at most
#: about ``_BLOCK_INDICES`` indices.  Which steps share a pass changes no result.
_BLOCK_STEPS = 64
_BLOCK_INDICES = 1 << 15


def check_finite_sum(problem: Problem) -> int:
    """The number of examples of a finite-sum problem.

    Raises
    ------
    TypeError
        If ``problem`` has no ``per_example_grad`` / ``n_samples``.
    """
    n = getattr(problem, "n_samples", None)
    if not callable(getattr(problem, "per_example_grad", None)) or not isinstance(
        n, (int, np.integer)
    ):
        raise TypeError(
            f"problem {problem.name!r} is not a finite sum: minibatches need a problem with "
            "n_samples and per_example_grad (least_squares, logistic_regression, "
            "mlp_regression)"
        )
    return int(n)


def as_minibatch(
    theta: ArrayLike, index: ArrayLike, dim: int, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Check the arguments of a ``minibatch_grad`` / ``minibatch_hvp`` (protocol item 3).

    Parameters
    ----------
    theta : array_like, shape (rows, *extra, dim)
        Points, one row (with any number of extra points) per row of ``index``.
    index : array_like of int, shape (rows, B)
        Example indices in ``[0, n)``.
    dim : int
        The problem's dimension.
    n : int
        The number of examples.

    Returns
    -------
    theta : ndarray, shape (rows, E, dim)
        C-contiguous float32 or float64 (``E`` the product of ``extra``, 1 without).
    index : ndarray of intp, shape (rows, B)

    Raises
    ------
    TypeError
        If ``theta`` does not hold real numbers or ``index`` not integers.
    ValueError
        If the shapes do not match or an index is outside ``[0, n)``.

    References
    ----------
    L. Bottou, F. E. Curtis and J. Nocedal, "Optimization methods for large-scale machine
    learning", SIAM Review 60(2), 223-311, 2018, §3 (minibatch gradients).

    Examples
    --------
    >>> import numpy as np
    >>> th, idx = as_minibatch(np.zeros((3, 2)), [[0, 4], [1, 2], [3, 3]], 2, 5)
    >>> th.shape, idx.shape
    ((3, 1, 2), (3, 2))
    """
    if not (
        type(theta) is np.ndarray
        and theta.dtype in _FLOATS
        and theta.flags.c_contiguous
        and theta.ndim >= 2
        and theta.shape[-1] == dim
    ):
        theta = as_batch(theta, dim)  # (what every problem function accepts)
    index = np.asarray(index)
    if index.dtype.kind not in "iu":
        raise TypeError(f"index must hold integers (example indices), got dtype {index.dtype}")
    if index.ndim != 2 or index.shape[1] == 0:
        raise ValueError(f"index must have shape (rows, B) with B >= 1, got {index.shape}")
    if theta.ndim < 2 or theta.shape[0] != index.shape[0]:
        raise ValueError(
            f"theta must have shape ({index.shape[0]}, ..., {dim}): one row per row of "
            f"index, got {theta.shape}"
        )
    index = index.astype(np.intp, copy=False)
    # Negative indices are huge as unsigned: one comparison checks both ends.
    if np.count_nonzero(index.view(np.uintp) >= n):
        raise ValueError(
            f"index must lie in [0, {n}), got values in [{index.min()}, {index.max()}]"
        )
    return theta.reshape(theta.shape[0], -1, dim), index


def per_example_minibatch_grad(problem: Any, theta: np.ndarray, index: np.ndarray) -> np.ndarray:
    """The minibatch gradient of a finite sum without ``minibatch_grad`` (the fallback).

    Computes all ``n`` per-example gradients of every row, ``(rows, *extra, n, d)``, and
    averages the indexed ones: O(rows·n·d) time and memory.

    Parameters
    ----------
    problem : Problem
        A finite sum (``per_example_grad``).
    theta : ndarray, shape (rows, *extra, d)
    index : ndarray of int, shape (rows, B)

    Returns
    -------
    ndarray, shape theta.shape

    References
    ----------
    L. Bottou, F. E. Curtis and J. Nocedal, SIAM Review 60(2), 223-311, 2018, §3.
    """
    per = problem.per_example_grad(theta)  # (rows, *extra, n, d)
    extra = (1,) * (theta.ndim - 2)
    picked = np.take_along_axis(per, index.reshape(index.shape[0], *extra, -1, 1), axis=-2)
    return picked.mean(axis=-2)


def _resolve_chains(taken: np.ndarray, link: np.ndarray) -> np.ndarray:
    """``dup_i = taken_i or dup_{link_i}`` along chains ending at the sentinel ``B``.

    Pointer doubling: ``dup_i = taken_i or dup_{link_i}`` stays true when ``taken_i``
    absorbs ``taken_{link_i}`` and ``link_i`` jumps to ``link_{link_i}``; every pass
    halves the chains, so ``⌈log₂ B⌉ + 1`` passes end them all.
    """
    rows, B = taken.shape
    val = np.zeros((rows, B + 1), dtype=bool)
    val[:, :B] = taken
    nxt = np.full((rows, B + 1), B, dtype=np.intp)
    nxt[:, :B] = link
    while (nxt != B).any():
        val |= np.take_along_axis(val, nxt, axis=1)
        nxt = np.take_along_axis(nxt, nxt, axis=1)
    return val[:, :B]


def floyd_sample(u: np.ndarray, n: int) -> np.ndarray:
    """``B`` distinct indices of ``range(n)`` per row, by Floyd's algorithm.

    Parameters
    ----------
    u : ndarray, shape (rows, B)
        Uniforms in ``[0, 1)``; ``u[:, i]`` draws ``t_i`` on ``{0, .., n - B + i}``.
    n : int
        Population size, ``n >= B``.

    Returns
    -------
    ndarray of intp, shape (rows, B)
        Row ``r`` holds a uniformly random ``B``-subset of ``range(n)`` (see the module
        docstring: the vectorised form of the loop over ``i``), a function of ``u[r]``
        alone.

    References
    ----------
    J. Bentley and R. Floyd, Communications of the ACM 30(9), 754-757, 1987.

    Examples
    --------
    >>> import numpy as np
    >>> u = np.random.default_rng(0).random((4, 5))
    >>> s = floyd_sample(u, 7)
    >>> all(len(set(row)) == 5 for row in s.tolist()), int(s.max()) < 7
    (True, True)
    """
    B = u.shape[1]
    low = n - B
    span = np.arange(low + 1, n + 1, dtype=np.intp)  # t_i takes span[i] values
    # u <= 1 - 2^-53 makes the rounded product u * m < m for every integer m < 2^53:
    # floor(u * m) <= m - 1 needs no clipping.
    t = (u * span).astype(np.intp)
    ordered = np.sort(t, axis=1)
    same = ordered[:, 1:] == ordered[:, :-1]
    if np.count_nonzero(same):  # else no t_i was taken before (the rule for B << n)
        repeated = same.any(axis=1)
        t[repeated] = _floyd_repeats(t[repeated], low)
    return t


def _floyd_repeats(t: np.ndarray, low: int) -> np.ndarray:
    """Floyd's choices for rows ``t`` of draws with repeats (see :func:`floyd_sample`)."""
    B = t.shape[1]
    # t_i was taken by an earlier t_l: a stable sort puts the first occurrence first.
    order = np.argsort(t, axis=1, kind="stable")
    ordered = np.take_along_axis(t, order, axis=1)
    repeat = np.zeros(t.shape, dtype=bool)
    repeat[:, 1:] = ordered[:, 1:] == ordered[:, :-1]
    earlier = np.empty_like(repeat)
    np.put_along_axis(earlier, order, repeat, axis=1)
    # ... or t_i = n - B + l, which step l < i took in place of its own taken t_l.
    back = t - low
    chain = (back >= 0) & (back < np.arange(B))
    taken = _resolve_chains(earlier, np.where(chain, back, B)) if chain.any() else earlier
    return np.where(taken, low + np.arange(B), t)


class MinibatchSampler:
    """Draws the per-step minibatches of a run and builds the problem views.

    Parameters
    ----------
    problem : Problem
        A finite-sum problem.
    batch_size : int or callable
        ``B`` in ``[1, n_samples]``, or a schedule ``k -> B_k`` of the step index: any
        gradflow schedule (:mod:`gradflow.schedules`, e.g. ``multistep(32.0,
        [1000, 2000], gamma=5.0)`` to grow ``B`` five-fold twice) or a callable
        returning one number per step, rounded to the nearest integer, halves up
        (``⌊B_k + 1/2⌋``: a schedule's ``31.999999`` is 32).  It is read per step, a
        block of up to 64 steps ahead (by one call on an array of steps when the
        callable takes one, else one call per step; a step ahead whose value is bad or
        raises ends the block, and raises when its step comes).  Every trajectory of
        a run uses the same ``B_k`` at step ``k``.
    seed : int, numpy.random.Generator or None
        ``None`` draws fresh entropy once (the run is still replay-consistent); a
        Generator gives one integer seed.
    n_elements : int
        Number of trajectories of the run (original, uncompacted).
    shuffle : bool, default False
        Random reshuffling: one permutation of the examples per epoch of ``n / B``
        steps and element, cut into consecutive minibatches (module docstring).  The
        default draws every step's ``B`` examples afresh (independent steps).

    Raises
    ------
    TypeError
        If ``problem`` is not a finite sum or ``batch_size`` / ``seed`` / ``shuffle`` has
        the wrong type (also when a step is drawn whose scheduled size is not a real
        number).
    ValueError
        If ``batch_size`` is outside ``[1, n_samples]``, or does not divide
        ``n_samples`` under ``shuffle`` (which needs an int), or ``seed`` is negative;
        for a schedule, when a step is drawn (step 0: on construction) whose rounded
        size is outside ``[1, n_samples]`` or that gives more than one number, the
        message naming ``batch_size`` and the step.

    Notes
    -----
    The draw of step ``k`` depends on ``(seed, k, B_k)`` only: a schedule that is
    constant at ``B`` draws exactly the bits of ``batch_size=B``, and two schedules that
    agree on the steps before ``k`` give the same run up to ``k``.  A step with
    ``B_k = n_samples`` hands the method the full problem.
    The draw (module docstring) costs O(``n_elements``·B) per step; the gradients of a
    problem with ``minibatch_grad`` O(rows·B·d).  The indices of consecutive steps are
    drawn ahead in blocks (up to 64 steps, about 2^15 indices), one vectorised Floyd
    pass each, which changes no result: a step's indices depend on ``(seed, k)`` only.

    References
    ----------
    J. Bentley and R. Floyd, Communications of the ACM 30(9), 754-757, 1987.

    S. L. Smith, B. Dherin, D. G. T. Barrett and S. De, ICLR 2021 (random reshuffling).

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.least_squares(np.eye(4), np.arange(4.0))
    >>> s = MinibatchSampler(p, 2, seed=0, n_elements=3)
    >>> s.indices(0, np.arange(3)).shape
    (3, 2)
    >>> bool(np.array_equal(s.indices(5, np.array([2])), s.indices(5, np.arange(3))[2:]))
    True

    With ``shuffle=True`` the two steps of an epoch use every example once:

    >>> r = MinibatchSampler(p, 2, seed=0, n_elements=3, shuffle=True)
    >>> epoch = np.concatenate([r.indices(2, np.arange(3)), r.indices(3, np.arange(3))], 1)
    >>> np.sort(epoch, axis=1).tolist()
    [[0, 1, 2, 3], [0, 1, 2, 3], [0, 1, 2, 3]]
    >>> grow = MinibatchSampler(p, gf.schedules.multistep(1.0, [2], gamma=3.0), 0, 3)
    >>> grow.sizes(np.arange(4)).tolist(), grow.indices(2, np.arange(3)).shape
    ([1, 1, 3, 3], (3, 3))
    """

    def __init__(
        self,
        problem: Problem,
        batch_size: Any,
        seed: Any,
        n_elements: int,
        shuffle: Any = False,
    ) -> None:
        n = check_finite_sum(problem)
        self.schedule: Callable[[Any], Any] | None = None
        if callable(batch_size):
            # A schedule of the step index: the sizes are read (and checked) per step.
            self.schedule = batch_size
        elif not _is_integer(batch_size):
            raise TypeError(
                f"batch_size must be an integer in [1, {n}] or a schedule k -> B_k, "
                f"{_got(batch_size)}"
            )
        else:
            batch_size = check_integer(batch_size, "batch_size", 1, n)
        self.shuffle = check_bool(shuffle, "shuffle")
        if self.shuffle and self.schedule is not None:
            raise ValueError(
                "batch_size must be an int under shuffle=True (an epoch is n_samples / "
                "batch_size minibatches of one size), got a schedule"
            )
        if self.shuffle and n % batch_size:
            raise ValueError(
                f"batch_size must divide n_samples = {n} under shuffle=True (an epoch is "
                f"n_samples / batch_size minibatches), got {batch_size}"
            )
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(2, np.uint64)[0] >> 1)
        elif isinstance(seed, np.random.Generator):
            seed = int(seed.integers(0, 2**63 - 1))
        else:
            seed = check_integer(seed, "seed", 0)
        self.problem = problem
        self.n = n
        #: ``B`` (an int), or the schedule ``k -> B_k`` as given.
        self.batch_size = batch_size if self.schedule is not None else int(batch_size)
        self.seed = int(seed)
        self.n_elements = int(n_elements)
        self._bits = np.random.PCG64(self.seed)
        self._start = self._bits.state
        self._random = np.random.Generator(self._bits)
        self._next = -1  # 1 + the last step drawn: its successor needs an advance only
        self._drawn = 0  # uniforms the last step drawn
        # The indices of the steps [_first, _first + len(_block)), for every element.
        self._first = 0
        self._block = np.empty((0, self.n_elements, 1), dtype=np.intp)
        self._block_len = 1
        # The checked sizes of the steps [_sizes_first, _sizes_first + len(_sizes)).
        self._sizes_first = 0
        self._sizes = np.empty(0, dtype=np.intp)
        if self.schedule is None:
            self._fixed: int | None = self.batch_size
        else:
            self._fixed = None
            self._vectorised = True  # until the schedule refuses an array of steps
            self.size(0)  # a bad first size is an error before the run
        # Under shuffle: the permutations (n_elements, n) of epoch _epoch.
        self._epoch = -1
        self._perm = np.empty((0, n), dtype=np.intp)

    # -- batch sizes -------------------------------------------------------------------
    def size(self, k: int) -> int:
        """The batch size ``B_k`` of step ``k``.

        Parameters
        ----------
        k : int
            Step index.

        Returns
        -------
        int
            ``batch_size`` itself, or the schedule's value at ``k`` rounded to the nearest
            integer, halves up (``⌊B + 1/2⌋``).

        Raises
        ------
        TypeError
            If the schedule returns something other than one real number at ``k``.
        ValueError
            If the rounded value is outside ``[1, n_samples]`` (or not finite).
        """
        if self._fixed is not None:
            return self._fixed
        at = int(k) - self._sizes_first
        if not 0 <= at < self._sizes.size:
            self._sizes = self._sizes_ahead(int(k))
            self._sizes_first, at = int(k), 0
        return int(self._sizes[at])

    def sizes(self, steps: ArrayLike) -> np.ndarray:
        """The batch sizes ``B_k`` of the steps ``steps`` (see :meth:`size`).

        Parameters
        ----------
        steps : array_like of int
            Step indices.

        Returns
        -------
        ndarray of int64, shape of ``steps``
            Summed over the steps of a run they count the examples it used: an element
            has seen ``Σ_{j<k} B_j`` examples after ``k`` steps, i.e. that over
            ``n_samples`` epochs.
        """
        k = np.asarray(steps)
        if self._fixed is not None:
            return np.full(k.shape, self._fixed, dtype=np.int64)
        flat = [self.size(int(j)) for j in k.reshape(-1)]
        return np.array(flat, dtype=np.int64).reshape(k.shape)

    def _sizes_ahead(self, k: int) -> np.ndarray:
        """Checked sizes of steps ``k, k + 1, ...`` (up to ``_BLOCK_STEPS``).

        Step ``k``'s size raises if it is bad; the sizes read ahead stop before the first
        bad one (or one whose evaluation raises), which then raises when its step comes:
        a run that ends before it never sees the error.
        """
        values = self._evaluate(k) if self._vectorised else None
        if values is None:
            self._vectorised = False
            return self._scalar_sizes_ahead(k)
        with np.errstate(invalid="ignore"):
            rounded = np.floor(values + 0.5)
            good = np.isfinite(values) & (rounded >= 1) & (rounded <= self.n)
        if not good[0]:
            self._checked(k, values[0])  # raises
        stop = good.size if good.all() else int(np.argmin(good))
        return rounded[:stop].astype(np.intp)

    def _evaluate(self, k: int) -> np.ndarray | None:
        """The raw sizes of steps ``k, ..`` by one vectorised call (None if it fails: the
        schedule takes scalar steps only)."""
        steps = np.arange(k, k + _BLOCK_STEPS, dtype=np.int64)
        try:
            values = np.asarray(self.schedule(steps))
        except Exception:  # (a scalar-only callable: `if k < 10`, a list lookup...)
            return None
        if values.shape != steps.shape or values.dtype.kind not in "iuf":
            return None
        return values.astype(np.float64)

    def _scalar_sizes_ahead(self, k: int) -> np.ndarray:
        """As :meth:`_sizes_ahead`, one call of the schedule per step."""
        sizes = [self._checked(k, self.schedule(k))]
        for j in range(k + 1, k + _BLOCK_STEPS):
            try:
                sizes.append(self._checked(j, self.schedule(j)))
            except Exception:  # step j raises when it comes, if it does
                break
        return np.array(sizes, dtype=np.intp)

    def _checked(self, k: int, value: Any) -> int:
        """One size ``value`` of step ``k``, rounded and checked (the errors)."""
        arr = np.asarray(value)
        if arr.dtype.kind not in "iuf":  # a string, a bool, a complex number, None...
            raise TypeError(
                f"batch_size schedule must return a batch size (a real number), "
                f"{_got(value)} at step {k}"
            )
        if arr.size != 1:
            raise ValueError(
                f"batch_size schedule must return one number per step (every trajectory "
                f"uses the same B at a step), got shape {arr.shape} at step {k}"
            )
        v = float(arr.reshape(()))
        if not (np.isfinite(v) and 1 <= np.floor(v + 0.5) <= self.n):
            raise ValueError(
                f"batch_size schedule must give a batch size in [1, {self.n}] (n_samples; "
                f"rounded to the nearest integer) at every step, got {value!r} at step {k}"
            )
        return int(np.floor(v + 0.5))

    def uniforms(self, k: int, out: np.ndarray | None = None) -> np.ndarray:
        """The uniforms ``(n_elements, B_k)`` of step ``k`` (a pure function of seed, k).

        Parameters
        ----------
        k : int
            Step index.
        out : ndarray of float64, shape (n_elements, B_k), optional
            Where to write them.

        Returns
        -------
        ndarray, shape (n_elements, B_k)
        """
        k = int(k)
        if k == self._next:  # the step after the last one: skip to its stream
            self._bits.advance((1 << _STEP_SHIFT) - self._drawn)
        else:
            self._bits.state = self._start
            self._bits.advance(k << _STEP_SHIFT)
        self._next = k + 1
        if out is None:
            out = self._random.random((self.n_elements, self.size(k)))
        else:
            self._random.random(out=out)
        self._drawn = out.size
        return out

    def permutations(self, epoch: int) -> np.ndarray:
        """The permutations ``(n_elements, n)`` of epoch ``epoch`` under ``shuffle``.

        Row ``j`` is the stable argsort of the ``n`` uniforms of element ``j``, read
        from the seed's PCG64 stream advanced by ``epoch · 2^64`` draws (a pure function
        of ``(seed, epoch, j)``; ties, of probability below ``n² 2^-54``, keep index
        order).

        Parameters
        ----------
        epoch : int
            Epoch index (steps ``epoch·m .. epoch·m + m - 1``, ``m = n / B``).

        Returns
        -------
        ndarray of intp, shape (n_elements, n)
        """
        self._bits.state = self._start
        self._bits.advance(int(epoch) << _STEP_SHIFT)
        self._next = -1  # the stream has moved: a step draw must seek again
        keys = self._random.random((self.n_elements, self.n))
        return np.argsort(keys, axis=1, kind="stable")

    def _draw_block(self, k: int) -> None:
        """The indices of steps ``k, k+1, ...`` for every element: one vectorised Floyd
        pass over all of them (a block grows while the steps are asked for in order, and
        holds steps of one batch size)."""
        if k == self._first + self._block.shape[0]:
            self._block_len = min(2 * self._block_len, _BLOCK_STEPS)
        else:
            self._block_len = 1
        E, B = self.n_elements, self.size(k)
        L = max(1, min(self._block_len, _BLOCK_INDICES // max(1, E * B)))
        if self._fixed is None:
            L = self._same_size_run(k, B, L)
        u = np.empty((L, E, B))
        for step in range(L):  # a loop over steps, each drawn for every element at once
            self.uniforms(k + step, out=u[step])
        self._block = floyd_sample(u.reshape(L * E, B), self.n).reshape(L, E, B)
        self._first = k

    def _same_size_run(self, k: int, B: int, L: int) -> int:
        """How many of the ``L`` steps from ``k`` have the size ``B`` (sizes read ahead
        only: a block never asks the schedule beyond what it already checked)."""
        sizes = self._sizes[k - self._sizes_first :][:L]
        changed = np.flatnonzero(sizes != B)
        return int(changed[0]) if changed.size else max(1, sizes.size)

    def indices(self, k: int, rows: np.ndarray) -> np.ndarray:
        """Example indices ``(len(rows), B)`` of step ``k`` for original elements ``rows``.

        Parameters
        ----------
        k : int
            Step index.
        rows : ndarray of int
            Original element ids (in ``[0, n_elements)``).

        Returns
        -------
        ndarray of intp, shape (len(rows), B)
            Row ``j`` a function of ``(seed, k, rows[j])`` only (module docstring).
        """
        n, B = self.n, self.size(k)
        if B == n:
            return np.broadcast_to(np.arange(n), (rows.size, n))
        if self.shuffle:
            epoch, position = divmod(int(k), n // B)
            if epoch != self._epoch:
                self._perm = self.permutations(epoch)
                self._epoch = epoch
            return self._perm[rows, position * B : (position + 1) * B]
        at = int(k) - self._first
        if not 0 <= at < self._block.shape[0]:
            self._draw_block(int(k))
            at = 0
        return self._block[at, rows]

    def view(self, k: int, rows: np.ndarray) -> Problem:
        """The problem whose gradient at row ``j`` is the minibatch gradient of element
        ``rows[j]`` at step ``k`` (a :class:`MinibatchView`; with ``B = n`` the full
        problem itself).  Its loss is the full loss."""
        if self.size(k) == self.n:
            return self.problem
        return MinibatchView(self.problem, self.indices(k, rows))


class MinibatchView(Problem):
    """A finite-sum problem as seen by one step of a minibatch run.

    Row ``j`` of a batch evaluated through the view gets the gradient averaged over the
    examples ``indices[j]`` (the problem's ``minibatch_grad``, else
    :func:`per_example_minibatch_grad`); the loss is the full loss; the HVP the
    problem's ``minibatch_hvp`` (exact) or else a central difference of the minibatch
    gradient, and the Hessian is assembled from ``d`` HVPs.  A method that evaluates only
    some rows of its batch asks :meth:`restrict` for the view of those rows.

    Parameters
    ----------
    problem : Problem
        A finite-sum problem (with ``per_example_grad``).
    indices : ndarray of int, shape (rows, B)
        The example indices of every row.

    Examples
    --------
    >>> import numpy as np, gradflow as gf
    >>> p = gf.problems.least_squares(np.eye(4), np.arange(4.0))
    >>> view = MinibatchSampler(p, 2, seed=0, n_elements=3).view(0, np.arange(3))
    >>> theta = np.zeros((3, 4))
    >>> bool(np.array_equal(view.restrict([2]).grad(theta[[2]]), view.grad(theta)[[2]]))
    True
    """

    def __init__(self, problem: Problem, indices: np.ndarray) -> None:
        # A view is built every step: it sets the fields of Problem itself, as
        # Problem.__init__ would from these (already checked) functions, without the
        # argument checks that would cost more than a small minibatch gradient.
        self.full = problem
        self.indices = indices
        grad = getattr(problem, "minibatch_grad", None)
        hvp = getattr(problem, "minibatch_hvp", None)
        self._mb_grad = grad if callable(grad) else None
        self._mb_hvp = hvp if callable(hvp) else None
        self._loss = problem.loss
        self._grad = self._minibatch_grad
        self._hvp = None if self._mb_hvp is None else self._minibatch_hvp
        self._hessian = None
        self.dim = problem.dim
        self.name = problem.name
        self.minimum = None
        self.minimizers = None

    def _rows_checked(self, theta: Any) -> np.ndarray:
        """``theta`` as an array whose first axis is the view's rows."""
        theta = np.asarray(theta)
        rows = self.indices.shape[0]
        if theta.ndim < 2 or theta.shape[0] != rows:
            raise TypeError(
                f"batch_size: a minibatch gradient is drawn for each of the {rows} "
                f"rows of the batch, so the minibatch view takes states of shape "
                f"({rows}, ..., {self.dim}), got {theta.shape}; a method that "
                "evaluates some rows only (ImplicitEuler's Newton iteration) needs the "
                "view of those rows, problem.restrict(rows), which the driver's counting "
                "view does not forward to the minibatch view: run it without batch_size"
            )
        return theta

    def _minibatch_grad(self, theta: np.ndarray) -> np.ndarray:
        """Row ``j`` of ``theta`` (shape ``(rows, *extra, d)``: the Hessian's finite
        differences add an axis) gets the mean over the examples ``indices[j]``."""
        theta = self._rows_checked(theta)
        if self._mb_grad is None:
            return per_example_minibatch_grad(self.full, theta, self.indices)
        return self._mb_grad(theta, self.indices)

    def _minibatch_hvp(self, theta: np.ndarray, v: np.ndarray) -> np.ndarray:
        """The exact HVP of the minibatch loss of each row (``minibatch_hvp``)."""
        theta, v = np.broadcast_arrays(self._rows_checked(theta), v)
        return self._mb_hvp(theta, v, self.indices)

    def sample_loss(self, theta: np.ndarray) -> np.ndarray:
        """The loss of every row's own minibatch (the view's ``loss`` is the full loss).

        Parameters
        ----------
        theta : ndarray, shape (rows, d)

        Returns
        -------
        ndarray, shape (rows,)

        Raises
        ------
        TypeError
            If the problem has no ``minibatch_loss(theta, index)``.

        References
        ----------
        N. Loizou, S. Vaswani, I. Laradji and S. Lacoste-Julien, "Stochastic Polyak
        step-size for SGD", AISTATS 2021 (a step built from the sampled loss).
        """
        hook = getattr(self.full, "minibatch_loss", None)
        if not callable(hook):
            raise TypeError(
                f"batch_size: {self.name!r} has no minibatch_loss(theta, index), which a "
                "method that reads the sampled loss (SPS) needs"
            )
        return hook(self._rows_checked(theta), self.indices)

    def gauss_newton_bartlett(self, theta: np.ndarray, u: np.ndarray) -> np.ndarray:
        """The problem's Gauss–Newton–Bartlett estimate on every row's own minibatch.

        Parameters
        ----------
        theta : ndarray, shape (rows, d)
        u : ndarray of shape (rows, n), or callable
            One uniform per example of the data set, or a function ``n -> (rows, n)``
            returning them.

        Returns
        -------
        ndarray, shape (rows, d)

        Raises
        ------
        TypeError
            If the problem has no ``gauss_newton_bartlett`` hook.

        References
        ----------
        H. Liu, Z. Li, D. Hall, P. Liang and T. Ma, "Sophia: a scalable stochastic
        second-order optimizer for language model pre-training", ICLR 2024, §2.3.
        """
        hook = getattr(self.full, "gauss_newton_bartlett", None)
        if not callable(hook):
            raise TypeError(f"{self.name!r} has no gauss_newton_bartlett hook")
        return hook(self._rows_checked(theta), u, self.indices)

    def restrict(self, rows: np.ndarray) -> MinibatchView:
        """The view of the rows ``rows`` (int or bool): their minibatches only.

        Parameters
        ----------
        rows : ndarray of int or bool
            Rows of the batch this view was drawn for.

        Returns
        -------
        MinibatchView
        """
        return MinibatchView(self.full, self.indices[np.asarray(rows)])
