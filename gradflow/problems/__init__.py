"""Loss landscapes: the :class:`Problem` interface, sympy-built problems and the zoo.

``ZOO`` maps a problem name to a zero-argument factory for every zoo problem that needs
no data (the CLI lists it); the random quadratic is seeded so the entry is reproducible.
"""

from collections.abc import Callable
from functools import partial

from gradflow.problems._classic import beale, himmelblau
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
    "LeastSquaresProblem",
    "LogisticRegressionProblem",
    "MLPRegressionProblem",
    "MinibatchSampler",
    "MullerBrownProblem",
    "Problem",
    "QuadraticProblem",
    "RosenbrockProblem",
    "as_batch",
    "beale",
    "central_difference_hvp",
    "check_finite_sum",
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
