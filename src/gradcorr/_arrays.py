"""Array conversion shared by the core modules (private: not part of the API)."""

from __future__ import annotations

from typing import Any

import numpy as np


def to_float64(a: Any) -> np.ndarray:
    """A float64 NumPy array of `a`: a NumPy array, a nested sequence, or a torch tensor (detached,
    copied to the CPU), so that statistics are computed the same way whatever the caller holds."""
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=np.float64)
