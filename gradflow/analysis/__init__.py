"""Analysis of runs: convergence orders, gradient noise, adaptive-method stability."""

from gradflow.analysis._adaptive_stability import (
    AdaptiveSharpnessTracker,
    adam_preconditioner,
    adaptive_eos_threshold,
    preconditioned_sharpness,
    track_preconditioned_sharpness,
)
from gradflow.analysis._convergence import OrderFit, fit_order
from gradflow.analysis._effective import EffectiveStepTracker, track_effective_stepsize
from gradflow.analysis._noise import GradientNoise, gradient_noise, simple_noise_scale

__all__ = [
    "AdaptiveSharpnessTracker",
    "EffectiveStepTracker",
    "GradientNoise",
    "OrderFit",
    "adam_preconditioner",
    "adaptive_eos_threshold",
    "fit_order",
    "gradient_noise",
    "preconditioned_sharpness",
    "simple_noise_scale",
    "track_effective_stepsize",
    "track_preconditioned_sharpness",
]
