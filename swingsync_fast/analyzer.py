"""The public analysis API: one LiveAnalyzer per player stream.

It owns the session's preallocated buffers and hands each frame to the
Cython kernel; everything here is bookkeeping around ``Kernel.step``.
``analyze_recording`` is the same analyser fed from a recorded sequence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec
import numpy as np

from .catalog import (CAMERA_VIEWS, COORDINATE_SYSTEMS, FAULT_BY_ID, FAULT_IDS, KPI_NAMES, P_POSITIONS,
                      PHASES)
from .config import SessionConfig
from .kernels.stepper import HAS_FAULTS, PHASE_BEGAN, SWING_ENDED, USABLE, Kernel
from .landmarks import FRAME_SHAPE
from .thresholds import Thresholds

DEFAULT_CAPACITY = 512  # ring slots: 17 s at 30 FPS
DEFAULT_MIN_VISIBILITY = 0.5


class Fault(msgspec.Struct, frozen=True, gc=False):
    fault_id: str
    name: str
    severity: float
    phases: tuple[str, ...]


class SwingEvent(msgspec.Struct, frozen=True, gc=False):
    """A phase began at ``frame_index`` (reported when confirmed, which may be a few frames later)."""

    phase: str
    frame_index: int
    timestamp: float


class Camera(msgspec.Struct, frozen=True, gc=False):
    """Where the camera stood for a swing, as fitted at its address.

    ``angle_deg``: 0 face-on .. 90 down-the-line. ``target``: the side of the
    picture the target lies on. ``unmeasured``: each KPI this swing could not
    measure, with the reason (the view that cannot see it). ``handedness``: the
    hand the swing was read with; an address seen from behind or beside that is
    clearly the other hand's (a left-handed golfer, a mirrored video) overrides
    the configured one.
    """

    view: str | None
    angle_deg: float | None
    target: str | None
    unmeasured: dict[str, str] = {}
    handedness: str | None = None


NO_CAMERA = Camera(None, None, None)


class SwingSummary(msgspec.Struct, frozen=True):
    swing_index: int
    takeaway_frame: int
    top_frame: int
    impact_frame: int
    finish_frame: int
    takeaway_time: float
    top_time: float
    impact_time: float
    finish_time: float
    backswing_s: float
    downswing_s: float
    follow_through_s: float
    tempo_ratio: float | None
    peak_x_factor: float | None
    kpis_address: dict[str, float | None]
    kpis_top: dict[str, float | None]
    kpis_impact: dict[str, float | None]
    faults: list[Fault]
    # Each fault rule's measured value in this swing (its metric, see thresholds.py); None = not measured.
    fault_metrics: dict[str, float | None] = {}
    camera: Camera = NO_CAMERA
    # The time base: the *_time fields are on the client's clock, the *_s durations in real
    # seconds (client seconds / slow_motion).
    slow_motion: float = 1.0


class FrameResult(msgspec.Struct, gc=False):
    frame_index: int
    timestamp: float
    usable: bool
    swing_phase: str
    p_position: str | None
    kpis: dict[str, float | None] | None
    faults: list[Fault]
    event: SwingEvent | None = None
    swing: SwingSummary | None = None
    camera_view: str | None = None


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def kpi_dict(values: Sequence[float]) -> dict[str, float | None]:
    return {name: (v if v == v else None) for name, v in zip(KPI_NAMES, values)}


def _camera(c: dict, convention: str, right_handed: bool) -> Camera:
    view = CAMERA_VIEWS[c["view"]]
    if view is None:
        return NO_CAMERA
    unmeasured = {name: view for i, name in enumerate(KPI_NAMES) if not (c["measured"] >> i) & 1}
    return Camera(
        view=view,
        angle_deg=round(c["angle"], 1),
        target="right" if c["target_x"] > 0 else "left",
        unmeasured=unmeasured if convention == "mediapipe_image" else {},
        handedness="right" if right_handed else "left",
    )


def _faults(severities: Sequence[float]) -> list[Fault]:
    return [
        Fault(fault_id, FAULT_BY_ID[fault_id].name, round(s, 3), FAULT_BY_ID[fault_id].phases)
        for fault_id, s in zip(FAULT_IDS, severities)
        if s > 0.0
    ]


class LiveAnalyzer:
    """Frame-by-frame swing analysis for one player.

    Write a frame with :meth:`push`, or decode it straight into
    :meth:`slot` and call :meth:`commit`. Frames must come in time order.
    Timestamps are the client's; the analysis runs on them divided by the
    slow-motion factor (``slow_motion``, else the config's), which is real time.
    A config with ``slow_motion="auto"`` needs ``slowmotion.new_analyzer``.
    """

    def __init__(
        self,
        config: SessionConfig | None = None,
        *,
        thresholds: Thresholds | None = None,
        capacity: int = DEFAULT_CAPACITY,
        min_visibility: float = DEFAULT_MIN_VISIBILITY,
        slow_motion: float | None = None,
    ) -> None:
        if capacity < 16:
            raise ValueError("capacity must be at least 16 frames")
        self.config = config or SessionConfig()
        if slow_motion is None:
            if self.config.slow_motion == "auto":
                raise ValueError('slow_motion "auto" is a search over factors: use slowmotion.new_analyzer')
            slow_motion = float(self.config.slow_motion)
        self.slow_motion = slow_motion
        self.thresholds = thresholds or Thresholds.for_player(
            self.config.club_used, self.config.skill_level
        )
        self.ring = np.zeros((capacity, *FRAME_SHAPE), dtype=np.float32)
        # MediaPipe's world landmarks of the same frames, when the client sends them
        self.world_ring = np.full((capacity, *FRAME_SHAPE), np.nan, dtype=np.float32)
        self.kpi_ring = np.full((capacity, len(KPI_NAMES)), np.nan, dtype=np.float32)
        self.swings: list[SwingSummary] = []
        self._severities = np.zeros(len(FAULT_IDS), dtype=np.float64)
        self._next = 0
        self._last = 0
        limits, spans = self.thresholds.arrays()
        self._kernel = Kernel(
            self.ring,
            self.kpi_ring,
            COORDINATE_SYSTEMS.index(self.config.coordinate_system),
            self.config.image_aspect,
            self.config.handedness == "right",
            min_visibility,
            limits,
            spans,
            self.thresholds.tempo_low,
            self.thresholds.tempo_high,
            self.world_ring,
            CAMERA_VIEWS.index(None if self.config.camera_view == "auto" else self.config.camera_view),
        )

    @property
    def phase(self) -> str:
        return PHASES[self._kernel.phase]

    @property
    def swing_count(self) -> int:
        """Swings counted so far (a swing counts at impact)."""
        return self._kernel.swings

    @property
    def last_kpis(self) -> np.ndarray:
        """The last committed frame's KPIs, float32 in ``KPI_NAMES`` order (NaN = not measurable).

        A view into the KPI ring: encode it before the next frame overwrites the slot.
        """
        return self.kpi_ring[self._last]

    @property
    def last_keypoints(self) -> np.ndarray:
        """The last committed frame's (33, 4) keypoints: a view into the ring, like :attr:`last_kpis`."""
        return self.ring[self._last]

    @property
    def camera_view(self) -> str | None:
        """The camera view of the address in force (None before one, or for 3-D captures)."""
        return CAMERA_VIEWS[self._kernel.camera_view]

    def slot(self) -> np.ndarray:
        """The (33, 4) float32 ring row the next frame goes into; fill it, then :meth:`commit`."""
        return self.ring[self._next]

    def world_slot(self) -> np.ndarray:
        """The world-landmark row of the next frame; fill it and commit with ``world=True``."""
        return self.world_ring[self._next]

    def push(self, frame_index: int, timestamp: float, keypoints: np.ndarray,
             world_keypoints: np.ndarray | None = None) -> FrameResult:
        """Analyse one frame: ``keypoints`` is (33, 4) x, y, z, visibility in MediaPipe order.

        ``world_keypoints``: MediaPipe's world landmarks of the same frame (33, 4), if any;
        with image landmarks they measure rotations and joint angles in 3-D.
        """
        if np.shape(keypoints) != FRAME_SHAPE:
            raise ValueError(f"keypoints must have shape {FRAME_SHAPE}, got {np.shape(keypoints)}")
        if world_keypoints is not None and np.shape(world_keypoints) != FRAME_SHAPE:
            raise ValueError(f"world_keypoints must have shape {FRAME_SHAPE}, got {np.shape(world_keypoints)}")
        self.ring[self._next] = keypoints
        if world_keypoints is not None:
            self.world_ring[self._next] = world_keypoints
        return self.commit(frame_index, timestamp, world=world_keypoints is not None)

    def commit(self, frame_index: int, timestamp: float, *, with_kpis: bool = True,
               world: bool = False) -> FrameResult:
        """Analyse the frame already written into :meth:`slot` (and :meth:`world_slot` if ``world``)."""
        slot = self._next
        self._next = slot + 1 if slot + 1 < len(self.ring) else 0
        kernel = self._kernel
        flags = kernel.step(slot, frame_index, timestamp / self.slow_motion, world)
        self._last = slot
        if flags & HAS_FAULTS:
            kernel.severities(self._severities)
            faults = _faults(self._severities.tolist())
        else:
            faults = []
        result = FrameResult(
            frame_index=frame_index,
            timestamp=timestamp,
            usable=bool(flags & USABLE),
            swing_phase=PHASES[kernel.phase],
            p_position=P_POSITIONS[kernel.p_position],
            kpis=kpi_dict(self.kpi_ring[slot].tolist()) if with_kpis else None,
            faults=faults,
            camera_view=CAMERA_VIEWS[kernel.camera_view],
        )
        if flags & PHASE_BEGAN:
            phase, frame, t = kernel.event
            result.event = SwingEvent(PHASES[phase], frame, t * self.slow_motion)
        if flags & SWING_ENDED:
            result.swing = self._summary(kernel.swing_record())
            self.swings.append(result.swing)
        return result

    def close(self) -> SwingSummary | None:
        """End of stream: a swing already past impact is summarised now rather than lost."""
        if self._kernel.close() & SWING_ENDED:
            summary = self._summary(self._kernel.swing_record())
            self.swings.append(summary)
            return summary
        return None

    def _summary(self, r: dict) -> SwingSummary:
        takeaway_frame, takeaway_t = r["takeaway"]
        top_frame, top_t = r["top"]
        impact_frame, impact_t = r["impact"]
        finish_frame, finish_t = r["finish"]
        scale = self.slow_motion
        return SwingSummary(
            swing_index=r["number"],
            takeaway_frame=takeaway_frame,
            top_frame=top_frame,
            impact_frame=impact_frame,
            finish_frame=finish_frame,
            takeaway_time=takeaway_t * scale,
            top_time=top_t * scale,
            impact_time=impact_t * scale,
            finish_time=finish_t * scale,
            backswing_s=top_t - takeaway_t,
            downswing_s=impact_t - top_t,
            follow_through_s=finish_t - impact_t,
            tempo_ratio=_finite_or_none(r["tempo"]),
            peak_x_factor=_finite_or_none(r["peak_x_factor"]),
            kpis_address=kpi_dict(r["address_kpis"]),
            kpis_top=kpi_dict(r["top_kpis"]),
            kpis_impact=kpi_dict(r["impact_kpis"]),
            faults=_faults(r["severities"]),
            fault_metrics={f: _finite_or_none(v) for f, v in zip(FAULT_IDS, r["metrics"])},
            camera=_camera(r["camera"], self.config.coordinate_system, r["right_handed"]),
            slow_motion=scale,
        )
