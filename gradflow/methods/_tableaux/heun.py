"""Heun's method (explicit trapezoidal rule), order 2, and its Heun–Euler 2(1) pair."""

from gradflow.methods._tableau import ButcherTableau

_CITATION = (
    "K. Heun, 'Neue Methoden zur approximativen Integration der Differentialgleichungen "
    "einer unabhängigen Veränderlichen', Z. Math. Phys. 45, 23–38, 1900."
)

HEUN = ButcherTableau(
    A=[[0, 0], [1, 0]],
    b=["1/2", "1/2"],
    order=2,
    name="Heun",
    citation=_CITATION,
)

#: Heun (order 2) with explicit Euler (order 1) embedded: the cheapest error estimate
#: for gradient descent, ``err = h (k2 - k1) / 2``.
HEUN_EULER = ButcherTableau(
    A=[[0, 0], [1, 0]],
    b=["1/2", "1/2"],
    b_hat=[1, 0],
    order=2,
    embedded_order=1,
    name="Heun-Euler 2(1)",
    citation=_CITATION,
)
