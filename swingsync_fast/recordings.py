"""Reading recorded keypoints: MediaPipe CSV exports (frame, x_i, y_i, z_i, v_i ...)."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import msgspec
import numpy as np

from .landmarks import NUM_LANDMARKS


class KeypointCsv(msgspec.Struct):
    frames: np.ndarray  # (N,) int64 frame numbers
    keypoints: np.ndarray  # (N, 33, 4) float32
    labels: list[str] | None  # per-frame phase labels, when the file has a "phase" column


def read_keypoint_csv(path: str | Path) -> KeypointCsv:
    """Read a CSV (optionally .gz) with columns frame, x_0, y_0, z_0, v_0 ... v_32 [, phase]."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        columns = [f"{axis}_{i}" for i in range(NUM_LANDMARKS) for axis in "xyzv"]
        missing = [c for c in ["frame", *columns] if c not in header]
        if missing:
            raise ValueError(f"{path}: missing columns {', '.join(missing[:5])}")
        take = [header.index(c) for c in columns]
        frame_col = header.index("frame")
        phase_col = header.index("phase") if "phase" in header else None
        frames, values, labels = [], [], []
        for line, row in enumerate(reader, start=2):
            try:
                frames.append(int(float(row[frame_col])))
                values.append([float(row[i]) for i in take])
            except (ValueError, IndexError) as exc:
                raise ValueError(f"{path}:{line}: {exc}") from None
            if phase_col is not None:
                labels.append(row[phase_col])
    keypoints = np.asarray(values, dtype=np.float32).reshape(-1, NUM_LANDMARKS, 4)
    return KeypointCsv(
        frames=np.asarray(frames, dtype=np.int64),
        keypoints=keypoints,
        labels=labels if phase_col is not None else None,
    )
