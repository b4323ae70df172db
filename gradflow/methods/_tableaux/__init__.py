"""Butcher tableaux: one small module per method (coefficients, order, citation)."""

from gradflow.methods._tableaux.bs32 import BS32
from gradflow.methods._tableaux.dopri54 import DOPRI54
from gradflow.methods._tableaux.euler import EULER
from gradflow.methods._tableaux.heun import HEUN, HEUN_EULER
from gradflow.methods._tableaux.midpoint import MIDPOINT
from gradflow.methods._tableaux.ralston import RALSTON
from gradflow.methods._tableaux.rk4 import RK4
from gradflow.methods._tableaux.ssprk3 import SSPRK3

#: Every shipped tableau by name.
TABLEAUX = {
    t.name: t for t in (EULER, HEUN, HEUN_EULER, MIDPOINT, RALSTON, RK4, SSPRK3, BS32, DOPRI54)
}

__all__ = [
    "BS32",
    "DOPRI54",
    "EULER",
    "HEUN",
    "HEUN_EULER",
    "MIDPOINT",
    "RALSTON",
    "RK4",
    "SSPRK3",
    "TABLEAUX",
]
