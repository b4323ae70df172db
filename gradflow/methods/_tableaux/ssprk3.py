"""The three-stage, third-order strong-stability-preserving method (SSP coefficient 1)."""

from gradflow.methods._tableau import ButcherTableau

SSPRK3 = ButcherTableau(
    A=[[0, 0, 0], [1, 0, 0], ["1/4", "1/4", 0]],
    b=["1/6", "1/6", "2/3"],
    order=3,
    name="SSPRK3",
    citation="C.-W. Shu and S. Osher, 'Efficient implementation of essentially "
    "non-oscillatory shock-capturing schemes', J. Comput. Phys. 77, 439–471, 1988.",
)
