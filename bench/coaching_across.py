"""Coaching delay inside one server process and across two over Redis.

    .venv/bin/python bench/coaching_across.py                 # 1000 tips of 200 B, 3 rounds
    .venv/bin/python bench/coaching_across.py --redis redis://127.0.0.1:6379/8 --tips 2000

Two real servers (``python -m swingsync_fast serve``, as ``tests/server_process.py``
starts them) share the machine's Redis and one SQLite file. A coach on B
sends ``--tips`` tips of ``--size`` bytes, 20 at a time with a 10 ms pause;
a student on B (the coach's process) and a student on A (the other process,
reached through Redis) read every tip and note its delay (receive time minus
the server's ``sent_at``; one clock, one box). The table gives the medians
of the rounds.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from broadcast_stall import send_tips  # noqa: E402
from server_process import ServerProcess  # noqa: E402
from websockets.sync.client import connect  # noqa: E402


def _url(server: ServerProcess, sid: str, user: str, role: str) -> str:
    return (f"ws://127.0.0.1:{server.port}/api/v1/stream/ws/coaching/{sid}"
            f"?user_id={user}&token={server.token(user, role)}")


def one_round(a: ServerProcess, b: ServerProcess, tips: int, size: int) -> dict[str, dict[str, float]]:
    sid = b.http.post("/api/v1/stream/sessions", json={"participants": ["near", "far"]},
                      headers=b.auth("coach", "coach")).json()["session_id"]
    near = connect(_url(b, sid, "near", "player"), max_queue=None)
    far = connect(_url(a, sid, "far", "player"), max_queue=None)
    coach = connect(_url(b, sid, "coach", "coach"), max_queue=None)
    time.sleep(0.5)  # the rooms on both processes have heard each other
    delays = send_tips(coach, {"same process": near, "across Redis": far}, tips, size)
    for ws in (coach, near, far):
        ws.close()
    return {name: {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
                   "max_ms": float(ms.max())}
            for name, ms in ((n, np.array(d) * 1000) for n, d in delays.items())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/8")
    parser.add_argument("--tips", type=int, default=1000)
    parser.add_argument("--size", type=int, default=200, help="bytes of tip text (at most 2000)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="coaching-across-") as workdir:
        env = {"REDIS_URL": args.redis, "DATABASE_URL": f"sqlite:///{workdir}/shared.db",
               "SWINGSYNC_FRAMES_PER_SECOND": "100000", "SWINGSYNC_FRAME_BURST": "100000"}
        a = ServerProcess(Path(workdir), env, name="a")
        b = ServerProcess(Path(workdir), env, name="b")
        try:
            a.wait_ready()
            b.wait_ready()
            time.sleep(1.0)  # each has heard the other's pulse
            runs = [one_round(a, b, args.tips, args.size) for _ in range(args.rounds)]
        finally:
            a.stop()
            b.stop()
    print(f"{args.tips} tips of {args.size} B, {args.rounds} rounds")
    print("| reader | p50 delay | p99 delay | max delay |\n|---|---|---|---|")
    for name in runs[0]:
        median = {k: float(np.median([r[name][k] for r in runs])) for k in runs[0][name]}
        print(f"| {name} | {median['p50_ms']:.2f} ms | {median['p99_ms']:.2f} ms | {median['max_ms']:.1f} ms |")
    print(json.dumps(runs))


if __name__ == "__main__":
    main()
