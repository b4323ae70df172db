"""Dormand–Prince 5(4): fifth order with an embedded fourth-order solution, FSAL."""

from gradflow.methods._tableau import ButcherTableau

DOPRI54 = ButcherTableau(
    A=[
        [0, 0, 0, 0, 0, 0, 0],
        ["1/5", 0, 0, 0, 0, 0, 0],
        ["3/40", "9/40", 0, 0, 0, 0, 0],
        ["44/45", "-56/15", "32/9", 0, 0, 0, 0],
        ["19372/6561", "-25360/2187", "64448/6561", "-212/729", 0, 0, 0],
        ["9017/3168", "-355/33", "46732/5247", "49/176", "-5103/18656", 0, 0],
        ["35/384", 0, "500/1113", "125/192", "-2187/6784", "11/84", 0],
    ],
    b=["35/384", 0, "500/1113", "125/192", "-2187/6784", "11/84", 0],
    b_hat=["5179/57600", 0, "7571/16695", "393/640", "-92097/339200", "187/2100", "1/40"],
    order=5,
    embedded_order=4,
    name="DOPRI54",
    citation="J. R. Dormand and P. J. Prince, 'A family of embedded Runge-Kutta formulae', "
    "J. Comput. Appl. Math. 6, 19–26, 1980.",
)
