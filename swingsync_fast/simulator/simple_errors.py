"""The original tracker stand-in: isotropic noise in metres and occlusions at random frames.

Kept bit for bit so that callers passing only ``noise_m``/``occlusion`` get the streams they always got.
"""

from __future__ import annotations

import numpy as np

from ..landmarks import LANDMARK_INDEX, NUM_LANDMARKS

__all__ = ["simple_errors"]

_OCCLUSION_GROUPS = tuple(
    [LANDMARK_INDEX[f"{side}_{part}"] for part in parts]
    for side in ("left", "right")
    for parts in (("elbow", "wrist", "pinky", "index", "thumb"), ("knee", "ankle", "heel", "foot_index"))
)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def simple_errors(
    points: np.ndarray, noise_m: float, occlusion: float, noise_rng: np.random.Generator, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Noisy points and visibilities: ``occlusion`` of the frames lose a limb (a tenth the whole body)."""
    n = len(points)
    out = points + noise_rng.normal(0.0, noise_m, points.shape) if noise_m > 0 else points.copy()
    visibility = rng.uniform(0.9, 1.0, points.shape[:2])
    occluded = rng.choice(n, size=int(round(np.clip(occlusion, 0.0, 1.0) * n)), replace=False)
    for frame in occluded:
        if rng.random() < 0.1:
            # Whole-body dropout: MediaPipe still reports something, low confidence and wrong.
            visibility[frame] = rng.uniform(0.02, 0.3, NUM_LANDMARKS)
            out[frame] = out[frame].mean(axis=0) + rng.normal(0.0, 0.4, (NUM_LANDMARKS, 3))
        else:
            group = _OCCLUSION_GROUPS[rng.integers(len(_OCCLUSION_GROUPS))]
            visibility[frame, group] = rng.uniform(0.05, 0.4, len(group))
            shift = _unit(rng.normal(size=(len(group), 3))) * rng.uniform(0.0, 0.1, (len(group), 1))
            out[frame, group] += shift
    return out, visibility
