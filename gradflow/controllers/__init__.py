"""Error-per-step controllers (public name; see :mod:`gradflow.stepsize.controllers`)."""

from gradflow.stepsize.controllers import (
    IController,
    PIController,
    PIDController,
    PredictiveController,
    initial_step,
)

__all__ = ["IController", "PIController", "PIDController", "PredictiveController", "initial_step"]
