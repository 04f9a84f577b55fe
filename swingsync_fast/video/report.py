"""Printing what the analysis finds: a line per event (or a JSON object per event) and a progress bar."""

from __future__ import annotations

import json
import time
from typing import Any, TextIO

from .events import Event

PROGRESS_EVERY_S = 0.1
BAR_WIDTH = 30


class Progress:
    """A one-line progress bar on a terminal (stderr), redrawn at most ten times a second."""

    def __init__(self, stream: TextIO, total: int | None) -> None:
        self.stream = stream
        self.total = total
        self.done = 0
        self._began = time.monotonic()
        self._drawn = 0.0
        self._shown = False

    def update(self, done: int) -> None:
        self.done = done
        now = time.monotonic()
        if now - self._drawn >= PROGRESS_EVERY_S:
            self._draw(now)

    def clear(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self._shown = False

    def redraw(self) -> None:
        self._draw(time.monotonic())

    def finish(self) -> None:
        self._draw(time.monotonic())
        self.stream.write("\n")
        self.stream.flush()
        self._shown = False

    def _draw(self, now: float) -> None:
        self._drawn = now
        rate = self.done / max(now - self._began, 1e-9)
        if self.total:
            share = min(1.0, self.done / self.total)
            filled = round(share * BAR_WIDTH)
            head = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {share * 100:3.0f}% {self.done}/{self.total} frames"
        else:
            head = f"{self.done} frames"
        self.stream.write(f"\r\x1b[K{head}, {rate:.0f} frames/s")
        self.stream.flush()
        self._shown = True


class Report:
    """Where events go: ``out`` gets the findings (lines, or JSON objects), ``err`` errors and notes."""

    def __init__(self, out: TextIO, err: TextIO, *, json_lines: bool, progress: Progress | None = None) -> None:
        self.out = out
        self.err = err
        self.json_lines = json_lines
        self.progress = progress
        self.swings: list[dict] = []  # every swing_summary's data emitted, in order (for its pictures)

    def end_progress(self) -> None:
        """The bar's last state stays on its own line; later lines print under it."""
        if self.progress is not None and self.progress.done:
            self.progress.finish()
        self.progress = None

    def note(self, text: str) -> None:
        self._print(text, self.err)

    def emit(self, e: Event) -> None:
        kind, data = e["type"], e["data"]
        if kind == "swing_summary":
            self.swings.append(data)
        if kind == "error":
            self._print(f"server error {data.get('code')}: {data.get('message')}", self.err)
        elif self.json_lines:
            self._print(json.dumps(e), self.out)
        else:
            self._print(describe(kind, data), self.out)

    def _print(self, text: str, stream: TextIO) -> None:
        if self.progress is not None:
            self.progress.clear()
        print(text, file=stream, flush=True)
        if self.progress is not None and stream is self.out and self.progress.done:
            self.progress.redraw()


def describe(kind: str, data: dict[str, Any]) -> str:
    """One event as a line for a person."""
    if kind == "swing_event":
        return f"{data['timestamp']:7.2f}s  frame {data['frame_index']:5d}  {data['phase'].replace('_', ' ')}"
    if kind == "fault":
        return (f"{data['timestamp']:7.2f}s  frame {data['frame_index']:5d}  fault: {data['name']} "
                f"({data['fault_id']}, severity {data['severity']:.2f}) in {data['swing_phase'].replace('_', ' ')}")
    if kind == "swing_summary":
        return _swing(data)
    if kind == "feedback":
        return f"coaching on swing {data['swing_index']} ({data['source']}): {data['feedback']}"
    if kind == "video_ended":
        return (f"{data['source']}: {data['frames']} frames, a person in {data['frames_with_person']}, "
                f"{data['swings']} swing(s)")
    return f"{kind}: {json.dumps(data)}"


def _swing(s: dict[str, Any]) -> str:
    faults = ", ".join(f"{f['fault_id']} {f['severity']:.2f}" for f in s["faults"]) or "none"
    tempo = f"{s['tempo_ratio']:.1f}:1" if s["tempo_ratio"] else "n/a"
    top = s["kpis_top"]

    def deg(name: str) -> str:
        return "n/a" if top.get(name) is None else f"{top[name]:.0f} deg"

    view = s.get("camera", {}).get("view")
    return (f"swing {s['swing_index']}: frames {s['takeaway_frame']}-{s['finish_frame']}, top {s['top_frame']}, "
            f"impact {s['impact_frame']}, tempo {tempo}, shoulder turn {deg('shoulder_turn')}, "
            f"hip turn {deg('hip_turn')}, x-factor {deg('x_factor')}"
            + (f", camera {view.replace('_', ' ')}" if view else "") + f"; faults: {faults}")
