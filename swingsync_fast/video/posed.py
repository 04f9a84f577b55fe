"""A posed video frame as the project's frame: image keypoints with world ones beside them.

Local analysis and the socket get the same numbers: float32 (33, 4) arrays,
sent as raw ``SSF2`` frames (``SSF1`` when nobody is seen).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..landmarks import FRAME_SHAPE
from ..server.protocol.stream import RAW_HEADER, RAW_MAGIC, RAW_WORLD_MAGIC
from .poser import Pose

# Nobody seen: every landmark invisible, as the page sends it, so the analysis marks the
# frame unusable and the frame numbers stay continuous.
NOBODY = np.zeros(FRAME_SHAPE, np.float32)


class PosedFrame(NamedTuple):
    index: int
    timestamp: float
    pose: Pose | None  # None: nobody found in this frame

    @property
    def keypoints(self) -> np.ndarray:
        return NOBODY if self.pose is None else self.pose.image

    @property
    def world_keypoints(self) -> np.ndarray | None:
        """World landmarks with the image landmarks' visibility (the model gives both from one call)."""
        if self.pose is None:
            return None
        world = self.pose.world.copy()
        world[:, 3] = self.pose.image[:, 3]
        return world

    def raw(self) -> bytes:
        """The frame as one binary socket message (docs/protocol.md, "Raw float32 frames")."""
        world = self.world_keypoints
        magic = RAW_MAGIC if world is None else RAW_WORLD_MAGIC
        body = self.keypoints.astype("<f4").tobytes()
        if world is not None:
            body += world.astype("<f4").tobytes()
        return RAW_HEADER.pack(magic, self.index, self.timestamp) + body
