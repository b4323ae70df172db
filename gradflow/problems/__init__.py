"""Loss landscapes: the :class:`Problem` interface, sympy-built problems and the zoo.

``ZOO`` maps a problem name to a zero-argument factory for every zoo problem that needs
no data (the CLI lists it); the random quadratic is seeded so the entry is reproducible.

Batch = single: every zoo problem computes each row independently of the batch:
batched = single runs bit for bit on any CPU.  The loss, gradient, HVP and Hessian of a
row are the same bits whether it is evaluated alone, in a block of 7 or among 10^5
others.  The problems that multiply by a matrix (:func:`quadratic`,
:func:`least_squares`, :func:`logistic_regression`) never hand a batch to one BLAS
matrix-matrix call, whose kernels round a row differently depending on how many rows
surround it (by 1-15 ulp with OpenBLAS on an AVX2/FMA CPU); they use row-stable
products instead: :func:`numpy.einsum` (no BLAS) for small matrices, and for large ones
BLAS calls on fixed blocks of 8 rows, checked once per matrix shape to give every
position of a block the same bits (else one matrix-vector call per row).  Their cost
against batched BLAS is in ``benchmarks/README.md`` ("Row-stable kernels").

A :class:`Problem` built by the user with BLAS calls (``theta @ A``, ``np.dot``,
``np.einsum(..., optimize=True)``) keeps whatever their kernel does: its batched and
single evaluations may differ in the last bits.
"""

from collections.abc import Callable
from functools import partial

from gradflow.problems._classic import beale, himmelblau
from gradflow.problems._function import FunctionProblem, from_function
from gradflow.problems._jax import JaxProblem
from gradflow.problems._minibatch import MinibatchSampler, check_finite_sum
from gradflow.problems._muller_brown import MullerBrownProblem, muller_brown
from gradflow.problems._networks import MLPRegressionProblem, mlp_regression, scalar_net
from gradflow.problems._problem import Problem, as_batch, central_difference_hvp
from gradflow.problems._quadratic import QuadraticProblem, quadratic
from gradflow.problems._regression import (
    LeastSquaresProblem,
    LogisticRegressionProblem,
    least_squares,
    logistic_regression,
)
from gradflow.problems._rosenbrock import RosenbrockProblem, rosenbrock
from gradflow.problems._symbolic import from_sympy
from gradflow.problems._torch import TorchProblem

#: Name -> zero-argument factory of the zoo problems that need no data.
ZOO: dict[str, Callable[[], Problem]] = {
    "quadratic": partial(quadratic, seed=0),
    "rosenbrock": rosenbrock,
    "muller_brown": muller_brown,
    "himmelblau": himmelblau,
    "beale": beale,
    "scalar_net": scalar_net,
    "mlp_regression": mlp_regression,
}

__all__ = [
    "ZOO",
    "FunctionProblem",
    "JaxProblem",
    "LeastSquaresProblem",
    "LogisticRegressionProblem",
    "MLPRegressionProblem",
    "MinibatchSampler",
    "MullerBrownProblem",
    "Problem",
    "QuadraticProblem",
    "RosenbrockProblem",
    "TorchProblem",
    "as_batch",
    "beale",
    "central_difference_hvp",
    "check_finite_sum",
    "from_function",
    "from_sympy",
    "himmelblau",
    "least_squares",
    "logistic_regression",
    "mlp_regression",
    "muller_brown",
    "quadratic",
    "rosenbrock",
    "scalar_net",
]
