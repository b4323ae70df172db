"""Bogacki–Shampine 3(2): third order with an embedded second-order solution, FSAL."""

from gradflow.methods._tableau import ButcherTableau

BS32 = ButcherTableau(
    A=[
        [0, 0, 0, 0],
        ["1/2", 0, 0, 0],
        [0, "3/4", 0, 0],
        ["2/9", "1/3", "4/9", 0],
    ],
    b=["2/9", "1/3", "4/9", 0],
    b_hat=["7/24", "1/4", "1/3", "1/8"],
    order=3,
    embedded_order=2,
    name="BS32",
    citation="P. Bogacki and L. F. Shampine, 'A 3(2) pair of Runge-Kutta formulas', "
    "Appl. Math. Lett. 2, 321–325, 1989.",
)
