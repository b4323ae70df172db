"""Backward error analysis: modified losses and flows (public name; see
:mod:`gradflow.analysis.modified`)."""

from gradflow.analysis.modified import (
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
