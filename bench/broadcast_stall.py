"""Coaching broadcast with and without a stalled member: does the stuck one delay the others?

    .venv/bin/python bench/broadcast_stall.py                 # 2400 tips of 2 kB, 3 rounds
    .venv/bin/python bench/broadcast_stall.py --tips 4000 --rounds 5

One server (the test suite's ``LiveServer``: uvicorn on 127.0.0.1 in this
process's thread), one coaching session per phase. A coach sends ``--tips``
tips of ``--size`` bytes, 20 at a time with a 10 ms pause; a student member
and the coach read every tip and note its delay (receive time minus the
server's ``sent_at``). Phase **clean**: only those two. Phase **stalled**:
plus a member with a 4 kB receive buffer that never reads, so once the
kernel's buffers are full its queue fills, messages to it are dropped and it
is closed with 1013 one second (``slow_consumer_s``) later. The phases
alternate ``--rounds`` times; the table gives the medians of the rounds.
"""

from __future__ import annotations

import argparse
import json
import platform
import socket
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from live_server import LiveServer, recv, send, settings_for_tests  # noqa: E402
from websockets.sync.client import connect  # noqa: E402


def _url(server: LiveServer, sid: str, user: str, role: str) -> str:
    return (f"ws://127.0.0.1:{server.port}/api/v1/stream/ws/coaching/{sid}"
            f"?user_id={user}&token={server.token(user, role)}")


def send_tips(coach, readers: dict, tips: int, size: int) -> dict[str, list[float]]:  # type: ignore[no-untyped-def]
    """``tips`` tips of ``size`` bytes from ``coach``, 20 every 10 ms; each reader's delays (s) as it
    reads every one (receive time minus the server's ``sent_at``)."""
    delays: dict[str, list[float]] = {name: [] for name in readers}

    def read(ws, into: list[float]) -> None:  # type: ignore[no-untyped-def]
        while len(into) < tips:
            message = recv(ws, 30)
            if message["type"] == "coaching_tip":
                into.append(time.time() - message["data"]["sent_at"])

    threads = [threading.Thread(target=read, args=(ws, delays[name])) for name, ws in readers.items()]
    for thread in threads:
        thread.start()
    filler = "x" * (size - 5)
    for i in range(tips):
        send(coach, "coaching_tip", {"tip": f"{i:04d} {filler}"})
        if i % 20 == 19:
            time.sleep(0.01)
    for thread in threads:
        thread.join()
    return delays


def phase(server: LiveServer, stalled: bool, tips: int, size: int) -> dict[str, float]:
    sid = server.http.post("/api/v1/stream/sessions", json={"participants": ["student", "stuck"]},
                           headers=server.auth("coach", "coach")).json()["session_id"]
    stuck = None
    if stalled:
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.connect(("127.0.0.1", server.port))
        stuck = connect(_url(server, sid, "stuck", "player"), sock=raw, max_queue=1, open_timeout=10)
    closed_before = server.runtime.registry.broadcast.slow_closed
    coach = connect(_url(server, sid, "coach", "coach"), max_queue=None)
    student = connect(_url(server, sid, "student", "player"), max_queue=None)
    delays = send_tips(coach, {"coach": coach, "student": student}, tips, size)
    if stuck is not None:
        server.wait_until(lambda: server.runtime.registry.broadcast.slow_closed > closed_before, timeout=30)
        stuck.close()
    coach.close()
    student.close()
    both = np.array(delays["coach"] + delays["student"]) * 1000
    return {"p50_ms": float(np.percentile(both, 50)), "p99_ms": float(np.percentile(both, 99)),
            "max_ms": float(both.max())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tips", type=int, default=2400)
    parser.add_argument("--size", type=int, default=2000, help="bytes of tip text (at most 2000)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    server = LiveServer(settings_for_tests(frames_per_second=1e6, frame_burst=10**6, slow_consumer_s=1.0,
                                           outlet_queue=64)).start()
    try:
        runs: dict[str, list[dict[str, float]]] = {"clean": [], "stalled": []}
        for _ in range(args.rounds):
            for name in runs:
                runs[name].append(phase(server, name == "stalled", args.tips, args.size))
        stats = server.http.get("/api/v1/stream/system/stats", headers=server.auth("root", "admin")).json()
    finally:
        server.stop()
    print(f"{args.tips} tips of {args.size} B, {args.rounds} rounds, {platform.processor() or platform.machine()}")
    print("| phase | p50 delay | p99 delay | max delay |\n|---|---|---|---|")
    for name, rows in runs.items():
        median = {k: float(np.median([r[k] for r in rows])) for k in rows[0]}
        print(f"| {name} | {median['p50_ms']:.1f} ms | {median['p99_ms']:.1f} ms | {median['max_ms']:.1f} ms |")
    print(json.dumps({"runs": runs, "slow_consumers_closed": stats["slow_consumers_closed"],
                      "broadcast_dropped": stats["broadcast_dropped"]}))


if __name__ == "__main__":
    main()
