"""Explicit Euler as a one-stage tableau (order 1)."""

from gradflow.methods._tableau import ButcherTableau

EULER = ButcherTableau(
    A=[[0]],
    b=[1],
    order=1,
    name="Euler",
    citation="L. Euler, Institutionum calculi integralis, 1768.",
)
