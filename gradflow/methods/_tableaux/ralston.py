"""Ralston's second-order method (minimum error bound among two-stage methods)."""

from gradflow.methods._tableau import ButcherTableau

RALSTON = ButcherTableau(
    A=[[0, 0], ["2/3", 0]],
    b=["1/4", "3/4"],
    order=2,
    name="Ralston",
    citation="A. Ralston, 'Runge-Kutta methods with minimum error bounds', Math. Comp. 16, "
    "431–437, 1962.",
)
