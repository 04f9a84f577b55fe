"""Where a session happens in the world_y_up convention: the golfer frame turned about y, then moved."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["WorldPlacement", "random_world_placement"]


@dataclass(frozen=True)
class WorldPlacement:
    yaw: float  # rad about +y
    offset: np.ndarray  # (x, z) metres

    def apply(self, points: np.ndarray) -> np.ndarray:
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        x, z = points[..., 0], points[..., 2]
        out = points.copy()
        out[..., 0] = c * x + s * z + self.offset[0]
        out[..., 2] = -s * x + c * z + self.offset[1]
        return out


def random_world_placement(rng: np.random.Generator) -> WorldPlacement:
    """A random target line; the session centred within 0.8 m of the origin keeps every spot within 2 m."""
    yaw = rng.uniform(0.0, 2 * math.pi)
    radius, angle = 0.8 * math.sqrt(rng.uniform()), rng.uniform(0.0, 2 * math.pi)
    return WorldPlacement(yaw, np.array([radius * math.cos(angle), radius * math.sin(angle)]))
