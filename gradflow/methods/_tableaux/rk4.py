"""The classical fourth-order Runge–Kutta method."""

from gradflow.methods._tableau import ButcherTableau

RK4 = ButcherTableau(
    A=[[0, 0, 0, 0], ["1/2", 0, 0, 0], [0, "1/2", 0, 0], [0, 0, 1, 0]],
    b=["1/6", "1/3", "1/3", "1/6"],
    order=4,
    name="RK4",
    citation="W. Kutta, 'Beitrag zur näherungsweisen Integration totaler "
    "Differentialgleichungen', Z. Math. Phys. 46, 435–453, 1901.",
)
