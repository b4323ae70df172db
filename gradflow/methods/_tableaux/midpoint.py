"""The explicit midpoint rule (modified Euler), order 2."""

from gradflow.methods._tableau import ButcherTableau

MIDPOINT = ButcherTableau(
    A=[[0, 0], ["1/2", 0]],
    b=[0, 1],
    order=2,
    name="Midpoint",
    citation="C. Runge, 'Über die numerische Auflösung von Differentialgleichungen', "
    "Math. Ann. 46, 167–178, 1895.",
)
