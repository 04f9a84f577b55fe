"""A player's progress: KPI and fault trends over their stored swings.

Swings are taken oldest first and split in two halves by time; each trend
gives the whole mean and the earlier and recent halves' means, so "is the
hip sway getting better" is one comparison. Every swing is also a point
(when, which session, the trended KPIs, its faults) for a chart.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence

from ...analyzer import SwingSummary
from ...catalog import FAULT_BY_ID, FAULT_IDS
from ..protocol.rest import FaultTrend, KpiTrend, Progress, ProgressPoint
from ..storage.records import StoredSwing

# name -> how to read it from a summary; the KPIs a coach follows from swing to swing.
TRENDED_KPIS: dict[str, Callable[[SwingSummary], float | None]] = {
    "tempo_ratio": lambda s: s.tempo_ratio,
    "peak_x_factor": lambda s: s.peak_x_factor,
    "shoulder_turn_top": lambda s: s.kpis_top.get("shoulder_turn"),
    "hip_turn_top": lambda s: s.kpis_top.get("hip_turn"),
    "spine_tilt_impact": lambda s: s.kpis_impact.get("spine_tilt"),
    "head_sway_impact": lambda s: s.kpis_impact.get("head_sway"),
}


def progress(user_id: str, swings: Sequence[StoredSwing]) -> Progress:
    ordered = sorted(swings, key=lambda s: s.ended_at)
    half = len(ordered) // 2
    earlier, recent = ordered[:half], ordered[half:]
    points = [
        ProgressPoint(
            session_id=s.session_id, swing_index=s.summary.swing_index, ended_at=s.ended_at, club=s.club,
            kpis={name: read(s.summary) for name, read in TRENDED_KPIS.items()},
            faults={f.fault_id: f.severity for f in s.summary.faults},
        )
        for s in ordered
    ]
    kpis = []
    for name in TRENDED_KPIS:
        values = [p.kpis[name] for p in points if p.kpis[name] is not None]
        kpis.append(KpiTrend(
            name=name, swings=len(values), mean=_mean(values),
            earlier_mean=_mean([p.kpis[name] for p in points[:half] if p.kpis[name] is not None]),
            recent_mean=_mean([p.kpis[name] for p in points[half:] if p.kpis[name] is not None]),
        ))
    faults = []
    for fault_id in FAULT_IDS:
        severities = [p.faults[fault_id] for p in points if fault_id in p.faults]
        faults.append(FaultTrend(
            fault_id=fault_id, name=FAULT_BY_ID[fault_id].name, swings=len(severities),
            rate=_rate(fault_id, ordered), earlier_rate=_rate(fault_id, earlier),
            recent_rate=_rate(fault_id, recent), mean_severity=_mean(severities),
        ))
    faults.sort(key=lambda f: f.swings, reverse=True)
    return Progress(
        user_id=user_id, swings=len(ordered), sessions=len({s.session_id for s in ordered}),
        first_at=ordered[0].ended_at if ordered else None, last_at=ordered[-1].ended_at if ordered else None,
        kpis=kpis, faults=faults, points=points,
    )


def _mean(values: Sequence[float | None]) -> float | None:
    return round(statistics.fmean(values), 4) if values else None  # type: ignore[arg-type]


def _rate(fault_id: str, swings: Sequence[StoredSwing]) -> float:
    if not swings:
        return 0.0
    hit = sum(any(f.fault_id == fault_id for f in s.summary.faults) for s in swings)
    return round(hit / len(swings), 4)
