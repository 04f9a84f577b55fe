"""Frame round trips with the feedback lane idle, then while a slow model streams to every session.

    .venv/bin/python bench/feedback_rtt.py                      # 50 sessions, 2 rounds of 20 s phases
    .venv/bin/python bench/feedback_rtt.py --sessions 100 --seconds 30 --piece-delay 1.0
    .venv/bin/python bench/feedback_rtt.py --in-process         # google-genai on the server's loop

One run, one server (``python -m swingsync_fast serve`` on a free 127.0.0.1
port, its own process), two phases with the same clients, alternated
``--rounds`` times so drift on a shared machine hits both alike:

1. **idle**: every session streams at 30 FPS with ``feedback_mode: disabled``;
   the lane does nothing.
2. **streaming**: the same, with ``feedback_mode: streaming`` and
   ``feedback_threshold: 0``, so every swing asks Gemini for feedback. Gemini
   is a local stand-in (``tests/fake_gemini.py``) answering each request with
   ``--pieces`` pieces, ``--piece-delay`` seconds apart, so with enough lane
   workers every session has a model answer streaming to it most of the time.

Frames go out by the wall clock (a slow reply never slows the sending); a
frame's RTT runs from its send to its ``analysis_result``. The first
``--warmup`` seconds of each phase are not counted. Output: a Markdown table
and one JSON line. ``--in-process`` runs google-genai inside the server
process (``SWINGSYNC_FEEDBACK_MODEL_PROCESS=0``) to show what the child
process is for.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fake_gemini import FakeGemini, Reply  # noqa: E402

from swingsync_fast.server.auth import mint_token  # noqa: E402
from swingsync_fast.simulator import random_swing_spec, simulate  # noqa: E402

FPS = 30.0
HZ = os.sysconf("SC_CLK_TCK")


def _busy_jiffies() -> int:
    """All CPUs' busy time since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        user, nice, system, idle, iowait, irq, softirq, steal = map(int, f.readline().split()[1:9])
    return user + nice + system + irq + softirq + steal


def _family(root: int) -> list[int]:
    """``root`` and its descendants (the server and its model process)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def _process_jiffies(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
        except (OSError, IndexError, ValueError):
            pass
    return total


class CpuMeter:
    """CPU cores used by this benchmark (client + server + its model process) and by everything else."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid

    def _ours(self) -> list[int]:
        return _family(os.getpid()) + [p for p in _family(self.server_pid) if p != os.getpid()]

    def start(self) -> None:
        self._t = time.monotonic()
        self._busy = _busy_jiffies()
        self._pids = self._ours()
        self._mine = _process_jiffies(self._pids)

    def stop(self) -> tuple[float, float]:
        seconds = (time.monotonic() - self._t) * HZ
        busy = _busy_jiffies() - self._busy
        mine = _process_jiffies(self._pids) - self._mine
        return round(mine / seconds, 2), round(max(busy - mine, 0) / seconds, 2)

    def wait_quiet(self, limit_cores: float, patience_s: float) -> float:
        """Wait (up to ``patience_s``) until other processes use under ``limit_cores``; what they used last."""
        deadline = time.monotonic() + patience_s
        while True:
            self.start()
            time.sleep(1.0)
            others = self.stop()[1]
            if others < limit_cores or time.monotonic() > deadline:
                return others
            time.sleep(4.0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _recording(seed: int = 21, swings: int = 12) -> list[str]:
    """Compact keypoint arrays (as JSON text) of a long stream of swings, most with a fault."""
    rng = np.random.default_rng(seed)
    faults = ["SWAY", "CASTING", "EARLY_EXTENSION", "HEAD_MOVEMENT", "CHICKEN_WING", "POOR_TEMPO"]
    specs = [random_swing_spec(rng, club="driver", faults=frozenset({faults[i % len(faults)]} if i % 4 else ()))
             for i in range(swings)]
    stream = simulate(specs, club="driver", fps=FPS, noise_m=0.003, drop_rate=0.0, seed=seed)
    return [json.dumps([round(v, 4) for v in frame.ravel().tolist()]) for frame in stream.keypoints]


class Server:
    def __init__(self, secret: str, fake_url: str, workers: int, in_process: bool) -> None:
        self.port = _free_port()
        self.log = tempfile.TemporaryFile()  # a pipe nobody reads would block the server once full
        env = {
            **os.environ,
            "SECRET_KEY": secret,
            "DATABASE_URL": "memory://",  # no history file in the repo
            "GEMINI_API_KEY": "bench-key",
            "SWINGSYNC_GEMINI_BASE_URL": fake_url,
            "SWINGSYNC_FEEDBACK_WORKERS": str(workers),
            "SWINGSYNC_FEEDBACK_FIRST_PIECE_TIMEOUT_S": "10",
            "SWINGSYNC_FEEDBACK_TOTAL_TIMEOUT_S": "60",
            "SWINGSYNC_FEEDBACK_RATE_PER_MINUTE": "60",
            "SWINGSYNC_FEEDBACK_RATE_BURST": "10",
            "SWINGSYNC_IDLE_TIMEOUT_S": "600",
            "SWINGSYNC_FEEDBACK_MODEL_PROCESS": "0" if in_process else "1",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "swingsync_fast", "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=self.log,
        )
        self.cpu = CpuMeter(self.process.pid)
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start: {self.tail()}")
            time.sleep(0.1)

    def stats(self, token: str) -> dict:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/api/v1/stream/system/stats", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=5) as r:
            return json.loads(r.read())

    def tail(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()


class Golfer:
    """One socket and session streaming the recording from its own offset, timing every frame."""

    def __init__(self, url: str, frames: list[str], offset: int, config: dict) -> None:
        self.url = url
        self.frames = frames
        self.offset = offset
        self.config = config
        self.counted_from = 0.0  # frames sent before this are not counted (warm-up)
        self.sent: dict[int, float] = {}
        self.rtts_ms: list[float] = []
        self.feedback_pieces = 0
        self.feedback_done = 0
        self.sources: set[str] = set()
        self.lost = 0

    async def run(self, until: float) -> None:
        async with connect(self.url, max_size=None, compression=None, max_queue=None) as ws:
            await ws.send(json.dumps({"type": "start_session", "data": {"config": self.config}}))
            while json.loads(await ws.recv())["type"] != "session_started":
                pass
            reader = asyncio.create_task(self._read(ws))
            t0 = time.monotonic()
            k = 0
            while True:
                due = t0 + k / FPS
                if due >= until:
                    break
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                keypoints = self.frames[(self.offset + k) % len(self.frames)]
                self.sent[k] = time.monotonic()
                await ws.send(f'{{"type":"frame_data","data":{{"frame_index":{k},"timestamp":{k / FPS:.6f},'
                              f'"keypoints":{keypoints}}}}}')
                k += 1
            await asyncio.sleep(0.5)  # the last replies
            reader.cancel()
            self.lost = len(self.sent)
            await ws.send('{"type":"end_session"}')

    async def _read(self, ws) -> None:
        async for raw in ws:
            now = time.monotonic()
            message = json.loads(raw)
            kind = message["type"]
            if kind == "analysis_result":
                sent = self.sent.pop(message["data"]["frame_index"], None)
                if sent is not None and sent >= self.counted_from:
                    self.rtts_ms.append((now - sent) * 1000)
            elif kind == "feedback":
                self.feedback_pieces += 1
                self.feedback_done += message["data"]["done"]
                self.sources.add(message["data"]["source"])


def _percentiles(values: list[float]) -> dict[str, float]:
    a = np.asarray(values)
    return {
        "frames": int(a.size),
        "p50_ms": round(float(np.percentile(a, 50)), 2),
        "p95_ms": round(float(np.percentile(a, 95)), 2),
        "p99_ms": round(float(np.percentile(a, 99)), 2),
        "max_ms": round(float(a.max()), 2),
    }


async def _phase(name: str, round_: int, server: Server, secret: str, frames: list[str], args) -> dict:
    streaming = name == "streaming"
    config = {
        "club_used": "driver", "frame_layout": "compact", "target_latency_ms": 1000,
        "feedback_mode": "streaming" if streaming else "disabled", "feedback_threshold": 0.0,
    }
    admin = mint_token(secret, "bench-admin", "admin")
    golfers = []
    for i in range(args.sessions):
        user = f"golfer-{round_}-{name}-{i}"
        url = f"ws://127.0.0.1:{server.port}/api/v1/stream/ws/{user}?token={mint_token(secret, user, 'player')}"
        golfers.append(Golfer(url, frames, (i * 97) % len(frames), config))
    quiet = await asyncio.to_thread(server.cpu.wait_quiet, args.quiet_cores, args.quiet_wait)
    start = time.monotonic()
    counted_from = start + args.warmup
    until = start + args.warmup + args.seconds
    for golfer in golfers:
        golfer.counted_from = counted_from
    before = server.stats(admin)["feedback"]
    peak_in_flight = 0
    server.cpu.start()

    async def sample() -> None:
        nonlocal peak_in_flight
        while True:
            await asyncio.sleep(1.0)
            lane = await asyncio.to_thread(server.stats, admin)
            peak_in_flight = max(peak_in_flight, lane["feedback"]["in_flight"])

    sampler = asyncio.create_task(sample())
    await asyncio.gather(*(g.run(until) for g in golfers))
    sampler.cancel()
    ours, others = server.cpu.stop()
    await asyncio.sleep(0.5)
    after = server.stats(admin)["feedback"]
    rtts = [r for g in golfers for r in g.rtts_ms]
    return {
        "phase": name,
        "round": round_,
        "sessions": args.sessions,
        "rtts_ms": rtts,
        **_percentiles(rtts),
        "lost": sum(g.lost for g in golfers),
        "feedback_pieces": sum(g.feedback_pieces for g in golfers),
        "feedback_answers": sum(g.feedback_done for g in golfers),
        "sources": sorted(set().union(*(g.sources for g in golfers))),
        "lane_in_flight_peak": peak_in_flight,
        "lane_completed": after["completed"] - before["completed"],
        "lane_first_piece_p50_ms": after["time_to_first_piece"]["gemini"]["p50_ms"],
        "cpu_ours": ours,  # cores: this client, the server and its model process
        "cpu_others": others,  # cores used by anything else on the machine meanwhile
        "cpu_others_before": quiet,
    }


async def _main(args) -> list[dict]:
    frames = _recording()
    fake = FakeGemini().start()
    fake.default = Reply(tuple(f"piece {i} of the coaching text. " for i in range(args.pieces)), delay_s=args.piece_delay)
    secret = secrets.token_hex(32)
    server = Server(secret, fake.base_url, args.workers, args.in_process)
    try:
        results = []
        for round_ in range(1, args.rounds + 1):
            for name in ("idle", "streaming"):
                results.append(await _phase(name, round_, server, secret, frames, args))
        return results
    finally:
        server.stop()
        fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0, help="counted seconds per phase")
    parser.add_argument("--warmup", type=float, default=3.0, help="uncounted seconds at the start of each phase")
    parser.add_argument("--pieces", type=int, default=8, help="pieces per model answer")
    parser.add_argument("--piece-delay", type=float, default=1.0, help="seconds before each piece")
    parser.add_argument("--workers", type=int, default=64, help="feedback lane workers in the server")
    parser.add_argument("--rounds", type=int, default=2, help="idle/streaming pairs")
    parser.add_argument("--in-process", action="store_true", help="google-genai in the server process")
    parser.add_argument("--quiet-cores", type=float, default=0.15,
                        help="before each phase, wait until other processes use less CPU than this")
    parser.add_argument("--quiet-wait", type=float, default=600.0, help="...but no longer than this (s)")
    args = parser.parse_args()
    results = asyncio.run(_main(args))
    for name in ("idle", "streaming"):  # both rounds together
        rows = [r for r in results if r["phase"] == name]
        results.append({
            "phase": name, "round": "all", "sessions": args.sessions,
            **_percentiles([x for r in rows for x in r["rtts_ms"]]),
            **{k: sum(r[k] for r in rows) for k in ("lost", "feedback_pieces", "feedback_answers", "lane_completed")},
            "lane_in_flight_peak": max(r["lane_in_flight_peak"] for r in rows),
            "cpu_ours": round(sum(r["cpu_ours"] for r in rows) / len(rows), 2),
            "cpu_others": round(sum(r["cpu_others"] for r in rows) / len(rows), 2),
        })
    for r in results:
        r.pop("rtts_ms", None)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    where = "in the server process" if args.in_process else "in a child process"
    print(f"fake model: {args.pieces} pieces, {args.piece_delay:g} s apart; lane workers: {args.workers}; "
          f"google-genai {where}\n")
    print("| phase | round | sessions | frames | RTT p50 ms | p95 ms | p99 ms | max ms | lost | feedback pieces "
          "| answers | lane in flight (peak) | CPU ours / others (cores) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['phase']} | {r['round']} | {r['sessions']} | {r['frames']} | {r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | "
              f"{r['max_ms']} | {r['lost']} | {r['feedback_pieces']} | {r['feedback_answers']} | {r['lane_in_flight_peak']} | "
              f"{r['cpu_ours']} / {r['cpu_others']} |")
    print()
    print(json.dumps({"args": vars(args), "results": results}))


if __name__ == "__main__":
    main()
