"""Butcher tableaux: one small module per method (coefficients, order, citation)."""

from gradflow.methods.tableaux.bs32 import BS32
from gradflow.methods.tableaux.dopri54 import DOPRI54
from gradflow.methods.tableaux.euler import EULER
from gradflow.methods.tableaux.heun import HEUN, HEUN_EULER
from gradflow.methods.tableaux.midpoint import MIDPOINT
from gradflow.methods.tableaux.ralston import RALSTON
from gradflow.methods.tableaux.rk4 import RK4
from gradflow.methods.tableaux.ssprk3 import SSPRK3

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
