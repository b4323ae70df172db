"""Curvature estimators for any Problem: HVPs, extreme eigenvalues, trace, spectral density,
Lipschitz constants and sharpness along a run — PyHessian's toolbox in batched numpy."""

from gradflow.curvature._density import SpectralDensity, spectral_density
from gradflow.curvature._eigen import EigenResult, eigenvalues, top_eigenvalue
from gradflow.curvature._hvp import hvp, hvp_operator
from gradflow.curvature._lipschitz import Box, LipschitzBound, lipschitz, local_lipschitz
from gradflow.curvature._sharpness import SharpnessTracker, track_sharpness
from gradflow.curvature._trace import TraceEstimate, trace

__all__ = [
    "Box",
    "EigenResult",
    "LipschitzBound",
    "SharpnessTracker",
    "SpectralDensity",
    "TraceEstimate",
    "eigenvalues",
    "hvp",
    "hvp_operator",
    "lipschitz",
    "local_lipschitz",
    "spectral_density",
    "top_eigenvalue",
    "trace",
    "track_sharpness",
]
