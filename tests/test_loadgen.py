"""The load generator works: a short run against a real server and the echo, and its arithmetic.

Only that it runs and reports sanely; its figures are published in
bench/RESULTS.md, never asserted here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import loadclient  # noqa: E402
import loadreport  # noqa: E402


def test_short_run_against_the_server_and_the_echo(tmp_path):
    out = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "loadgen.py"), "--clients", "3", "--duration", "1", "--sessions", "1",
         "--fps", "30", "--targets", "server,echo", "--drain", "1", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert [r["target"] for r in report["runs"]] == ["server", "echo"]
    for run in report["runs"]:
        assert run["clients"] == 3 and run["handshake_failures"] == 0 and run["start_failures"] == 0
        assert run["frames_due"] == run["frames_sent"] == run["frames_answered"] == 3 * 30
        assert run["frames_lost"] == 0 and run["disconnects"] == 0 and run["duplicates"] == 0
        assert not run["errors"]
        rtt = run["rtt_ms"]
        assert 0 < rtt["p50"] <= rtt["p95"] <= rtt["p99"] <= rtt["max"] < 1000
        assert run["server"]["rss_mib_peak"] > 10 and run["server"]["cpu_percent"] >= 0
    server = report["runs"][0]
    assert server["other_replies"]["session_started"] == 3
    assert server["server"]["frames_dropped"] == 0 and server["server"]["bad_messages"] == 0
    # The Markdown table on stdout: a header, a rule, one row per run, then the ratios.
    table = [line for line in done.stdout.splitlines() if line.startswith("| 3 |")]
    assert len(table) == 3, done.stdout


def test_the_websockets_client_works_too(tmp_path):
    out = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "loadgen.py"), "--clients", "2", "--duration", "1", "--sessions", "1",
         "--client", "websockets", "--layout", "binary", "--targets", "server", "--drain", "1", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [run] = json.loads(out.read_text())["runs"]
    assert run["client"] == "websockets" and run["layout"] == "binary"
    assert run["frames_answered"] == 2 * 30 and run["frames_lost"] == 0 and not run["errors"]


def test_late_and_lost_are_counted_against_the_schedule():
    fps = 10.0  # a 100 ms period
    sched = loadreport.schedule_ns(1.0, np.array([0.0, 0.05]), 3, fps)
    assert sched.tolist() == [[1_000_000_000, 1_100_000_000, 1_200_000_000],
                              [1_050_000_000, 1_150_000_000, 1_250_000_000]]
    send = sched + 1_000_000  # every frame sent 1 ms after its time
    send[1, 2] = 0  # never sent (the socket went away)
    recv = send + 2_000_000  # answered 2 ms later ...
    recv[0, 1] = sched[0, 2] + 1  # ... but this reply came after the next frame's send time
    recv[1, 0] = 0  # and this frame was never answered
    recv[1, 2] = 0
    stats = loadreport.frame_stats(send, recv, sched, fps)
    assert (stats["frames_due"], stats["frames_sent"], stats["frames_answered"]) == (6, 5, 4)
    assert stats["frames_lost"] == 1 and stats["frames_late"] == 1
    assert stats["rtt_ms"]["p50"] == pytest.approx(2.0) and stats["rtt_ms"]["max"] == pytest.approx(99.0, abs=0.01)
    assert stats["send_lag_ms"]["max"] == pytest.approx(1.0)


@pytest.mark.parametrize("layout", loadclient.LAYOUTS)
def test_frames_carry_the_index_and_timestamp_in_every_layout(layout):
    import msgspec

    keypoints = np.random.default_rng(0).uniform(0, 1, (4, 33, 4)).astype(np.float32)
    frames = loadclient.Frames(keypoints, layout)
    message = frames.message(5, 17, 0.5)  # position 5 wraps to frame 1
    if layout == "binary":
        magic, index, timestamp = loadclient.RAW_HEADER.unpack_from(message)
        assert (magic, index, timestamp) == (b"SSF1", 17, 0.5) and len(message) == 544
        assert np.array_equal(np.frombuffer(message[16:], "<f4").reshape(33, 4), keypoints[1])
        return
    decoded = (msgspec.msgpack.decode if layout == "msgpack" else msgspec.json.decode)(message)
    assert decoded["type"] == "frame_data"
    assert decoded["data"]["frame_index"] == 17 and decoded["data"]["timestamp"] == 0.5
    points = decoded["data"]["keypoints"]
    flat = [v for p in points.values() for v in p.values()] if layout == "seed" else points
    assert np.allclose(flat, keypoints[1].ravel(), atol=1e-5)


def test_repeated_runs_report_medians_but_the_worst_failures():
    def run(p99: float, lost: int) -> dict:
        return {"clients": 5, "target": "server", "rtt_ms": {"p99": p99}, "frames_lost": lost,
                "handshake_failures": 0, "errors": {"rate_limited": lost}, "layout": "seed"}

    [row] = loadreport.medians([run(1.0, 0), run(9.0, 3), run(2.0, 0)], ("clients", "target"))
    assert row["rtt_ms"]["p99"] == 2.0 and row["rtt_p99_ms_runs"] == [1.0, 9.0, 2.0]
    assert row["frames_lost"] == 3 and row["errors"] == {"rate_limited": 3} and row["repeats"] == 3
