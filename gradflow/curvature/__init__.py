"""Curvature estimators for any Problem: HVPs, extreme eigenvalues, trace, spectral density,
Lipschitz constants and sharpness along a run — PyHessian's toolbox in batched numpy."""

from gradflow.curvature.density import SpectralDensity, spectral_density
from gradflow.curvature.eigen import EigenResult, eigenvalues, top_eigenvalue
from gradflow.curvature.hvp import hvp, hvp_operator
from gradflow.curvature.lipschitz import Box, LipschitzBound, lipschitz, local_lipschitz
from gradflow.curvature.sharpness import SharpnessTracker, track_sharpness
from gradflow.curvature.trace import TraceEstimate, trace

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
