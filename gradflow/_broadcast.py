"""Per-element parameters: broadcast a value to a run's batch shape, naming it on failure."""

from __future__ import annotations

import numpy as np

__all__ = ["per_element"]


def per_element(value: np.ndarray, name: str, batch_shape: tuple[int, ...]) -> np.ndarray:
    """``value`` broadcast to the batch shape and flattened (``ValueError`` naming it)."""
    try:
        full = np.broadcast_to(value, batch_shape)
    except ValueError:
        raise ValueError(
            f"{name} of shape {np.shape(value)} does not broadcast to the batch shape "
            f"{batch_shape} of theta0"
        ) from None
    return full.reshape(-1)
