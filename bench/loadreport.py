"""The load generator's figures: RTT, late and lost frames from the stamps; medians; the Markdown tables."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- per run


def schedule_ns(t0: float, offsets_s: np.ndarray, frames: int, fps: float) -> np.ndarray:
    """When each client was due to send each frame, on the monotonic clock: (clients, frames)."""
    starts = np.round((t0 + np.asarray(offsets_s, dtype=np.float64)) * 1e9).astype(np.int64)
    steps = np.round(np.arange(frames) * (1e9 / fps)).astype(np.int64)
    return starts[:, None] + steps[None, :]


def frame_stats(send_ns: np.ndarray, recv_ns: np.ndarray, sched_ns: np.ndarray, fps: float) -> dict[str, Any]:
    """RTT percentiles, late and lost frames from the stamps (0 = never happened)."""
    period_ns = 1e9 / fps
    sent = send_ns > 0
    answered = sent & (recv_ns > 0)
    rtt_ms = (recv_ns[answered] - send_ns[answered]) / 1e6
    lag_ms = (send_ns[sent] - sched_ns[sent]) / 1e6
    late = answered & (recv_ns > sched_ns + period_ns)
    span_s = send_ns.shape[1] / fps if send_ns.size else 0.0
    return {
        "frames_due": int(send_ns.size),
        "frames_sent": int(sent.sum()),
        "frames_answered": int(answered.sum()),
        "frames_lost": int((sent & ~answered).sum()),
        "frames_late": int(late.sum()),
        "answered_per_s": round(float(answered.sum()) / span_s, 1) if span_s else 0.0,
        "rtt_ms": _percentiles(rtt_ms),
        "send_lag_ms": _percentiles(lag_ms),
    }


def _percentiles(values: np.ndarray) -> dict[str, float | None]:
    if values.size == 0:
        return {"p50": None, "p95": None, "p99": None, "p999": None, "max": None, "mean": None}
    p50, p95, p99, p999 = np.percentile(values, [50, 95, 99, 99.9])
    return {"p50": round(float(p50), 3), "p95": round(float(p95), 3), "p99": round(float(p99), 3),
            "p999": round(float(p999), 3), "max": round(float(values.max()), 3),
            "mean": round(float(values.mean()), 3)}



def sum_counts(counts: Any) -> dict[str, int]:
    total: dict[str, int] = {}
    for count in counts:
        for key, value in count.items():
            total[key] = total.get(key, 0) + value
    return dict(sorted(total.items()))



# --------------------------------------------------------------------------- over repeated runs and machines


def machine() -> dict[str, Any]:
    model = "?"
    try:
        with open("/proc/cpuinfo") as fh:
            model = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = {}
    for package in ("uvicorn", "websockets", "picows", "uvloop", "httptools", "starlette", "msgspec"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(),
            "kernel": platform.release(), "packages": versions, "code": _git_state()}


def _git_state() -> str:
    """The commit measured, and whether the server's code differed from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        changed = git("status", "--porcelain", "--", "swingsync_fast")
    except OSError:
        return "?"
    return f"{commit}{' + uncommitted changes in swingsync_fast/' if changed else ''}"


def markdown(rows: list[dict[str, Any]], idle: list[dict[str, Any]]) -> str:
    lines = []
    if rows:
        lines += [
            "| N | target | answered/s | RTT p50 ms | p95 | p99 | max | late | lost | failed hs "
            "| server CPU % | CPU µs/frame | server RSS MiB | clients CPU % | others CPU % | send lag p99 ms |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            rtt, server = r["rtt_ms"], r["server"]
            lines.append(
                f"| {r['clients']} | {r['target']} | {r['answered_per_s']:.0f} | {_ms(rtt['p50'])} | {_ms(rtt['p95'])} "
                f"| {_ms(rtt['p99'])} | {_ms(rtt['max'])} | {round(r['frames_late'])} | {r['frames_lost']} "
                f"| {r['handshake_failures'] + r['start_failures']} | {server.get('cpu_percent', '-')} "
                f"| {server.get('cpu_us_per_frame', '-')} | {server.get('rss_mib_peak', '-')} "
                f"| {r['clients_cpu_percent']} | {r['box']['others_cpu_percent']} | {_ms(r['send_lag_ms']['p99'])} |"
            )
        ratios = _ratios(rows)
        if ratios:
            lines += ["", "| N | p50 server/echo | p99 server/echo | CPU per frame server/echo |", "|---|---|---|---|"]
            lines += [f"| {n} | {a} | {b} | {c} |" for n, a, b, c in ratios]
    if idle:
        lines += [
            "" if lines else "",
            "| target | idle sockets | RSS before MiB | connected MiB | with sessions MiB "
            "| KiB per connection | KiB per session (on top) | KiB per live session |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in idle:
            lines.append(
                f"| {r['target']} | {r['live']} | {r['rss_mib_before']} | {r['rss_mib_connected']} "
                f"| {r['rss_mib_started']} | {r['kib_per_connection']} | {r['kib_per_session_only']} "
                f"| {r['kib_per_live_session']} |"
            )
    return "\n".join(lines).strip("\n")


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}" if value < 100 else f"{value:.0f}"


def _ratios(rows: list[dict[str, Any]]) -> list[tuple[int, str, str, str]]:
    out = []
    for n in sorted({r["clients"] for r in rows}):
        by = {r["target"]: r for r in rows if r["clients"] == n}
        if "server" not in by or "echo" not in by:
            continue
        s, e = by["server"], by["echo"]
        out.append((n, _ratio(s["rtt_ms"]["p50"], e["rtt_ms"]["p50"]), _ratio(s["rtt_ms"]["p99"], e["rtt_ms"]["p99"]),
                    _ratio(s["server"].get("cpu_us_per_frame"), e["server"].get("cpu_us_per_frame"))))
    return out


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a is not None and b else "-"


WORST_OF_RUNS = ("frames_lost", "handshake_failures", "start_failures", "disconnects", "duplicates")


def medians(runs: list[dict[str, Any]], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """One row per ``keys``: each number the median over the repeated runs (each figure on its own)."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault(tuple(run[k] for k in keys), []).append(run)
    out = []
    for group in groups.values():
        row = _median_of(group)
        for key in WORST_OF_RUNS:  # a failure in any run must show
            if key in row:
                row[key] = max(r[key] for r in group)
        if "errors" in row:
            row["errors"] = sum_counts(r["errors"] for r in group)
        if len(group) > 1:
            row["repeats"] = len(group)
            if "rtt_ms" in group[0]:
                row["rtt_p99_ms_runs"] = [r["rtt_ms"]["p99"] for r in group]
        out.append(row)
    return out


def _median_of(values: list[Any]) -> Any:
    first = values[0]
    if isinstance(first, dict):
        return {k: _median_of([v.get(k) for v in values]) for k in first}
    if isinstance(first, (int, float)) and not isinstance(first, bool) and all(
            isinstance(v, (int, float)) for v in values):
        middle = float(np.median(values))
        return round(middle, 3) if isinstance(first, float) or middle != int(middle) else int(middle)
    return first

