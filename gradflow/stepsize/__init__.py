"""Step-size policies: constant steps, schedules and (later) adaptive rules."""

from gradflow.stepsize.policy import ConstantStep, ScheduledStep, StepSizePolicy, as_policy

__all__ = ["ConstantStep", "ScheduledStep", "StepSizePolicy", "as_policy"]
