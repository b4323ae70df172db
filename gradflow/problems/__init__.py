"""Loss landscapes: the :class:`Problem` interface, sympy-built problems and the zoo.

``ZOO`` maps a problem name to a zero-argument factory for every zoo problem that needs
no data (the CLI lists it); the random quadratic is seeded so the entry is reproducible.
"""

from collections.abc import Callable
from functools import partial

from gradflow.problems import minibatch
from gradflow.problems.classic import beale, himmelblau
from gradflow.problems.muller_brown import muller_brown
from gradflow.problems.networks import mlp_regression, scalar_net
from gradflow.problems.problem import Problem, central_difference_hvp
from gradflow.problems.quadratic import quadratic
from gradflow.problems.regression import least_squares, logistic_regression
from gradflow.problems.rosenbrock import rosenbrock
from gradflow.problems.symbolic import from_sympy

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
    "Problem",
    "beale",
    "central_difference_hvp",
    "from_sympy",
    "himmelblau",
    "least_squares",
    "logistic_regression",
    "minibatch",
    "mlp_regression",
    "muller_brown",
    "quadratic",
    "rosenbrock",
    "scalar_net",
]
