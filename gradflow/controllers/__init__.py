"""Error-per-step controllers: the ODE view of adaptive step size (the PID family and
the starting-step heuristic)."""

from gradflow.controllers._controllers import (
    IController,
    PIController,
    PIDController,
    PredictiveController,
    initial_step,
)

__all__ = ["IController", "PIController", "PIDController", "PredictiveController", "initial_step"]
