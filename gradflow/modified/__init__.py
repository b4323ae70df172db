"""Backward error analysis: modified losses and flows, the modified equation a method
follows more closely than the gradient flow."""

from gradflow.modified._modified import (
    ModifiedEquation,
    ModifiedFlow,
    flow_reference,
    modified_flow,
    modified_loss,
    symbolic_modified_equation,
    third_derivative,
)

__all__ = [
    "ModifiedEquation",
    "ModifiedFlow",
    "flow_reference",
    "modified_flow",
    "modified_loss",
    "symbolic_modified_equation",
    "third_derivative",
]
