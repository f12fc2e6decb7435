"""What both engines hand to the metric layer: the day grid of every daily series.

(The tally itself joins this module with the one metric layer; see docs/architecture.md.)
"""

from __future__ import annotations

import math

import numpy as np


def day_grid(horizon: float) -> np.ndarray:
    """End of each simulated day: 1, 2, ..., with the horizon as the last point."""
    days = int(math.ceil(horizon))
    return np.minimum(np.arange(1, days + 1, dtype=float), horizon)
