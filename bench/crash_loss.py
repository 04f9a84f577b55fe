"""What a kill -9 loses of a recorded session: the age of the newest frame that did not reach SQLite.

    .venv/bin/python bench/crash_loss.py              # 8 kills
    .venv/bin/python bench/crash_loss.py --kills 20

Each round starts a real ``serve`` process on a fresh SQLite file, streams a
session with ``record_frames`` at 30 FPS (each frame sent after the previous
result), and SIGKILLs the process at a random moment 1 to 3 s in, the socket
still streaming. It then opens the file as the next server would and finds
the frames stored. The loss is the time from the first lost frame's send to
the kill: the README's bound (``SWINGSYNC_DATABASE_FLUSH_INTERVAL_S``, 0.25 s)
says it stays below that.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from live_server import recv_until, seed_frame, send, start  # noqa: E402
from server_process import ServerProcess  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

from swingsync_fast.server.storage.sqlite import SQLiteSessionStore  # noqa: E402
from swingsync_fast.simulator import SwingSpec, simulate  # noqa: E402


def one_kill(workdir: Path, frames: list, rng: random.Random) -> float:
    db = workdir / "crash.db"
    server = ServerProcess(workdir, {"DATABASE_URL": f"sqlite:///{db}"}).wait_ready()
    sent_at: dict[int, float] = {}
    killed_at = time.monotonic() + rng.uniform(1.0, 3.0)
    killer = threading.Timer(killed_at - time.monotonic(), server.kill)
    try:
        with server.socket("crash") as ws:
            session_id = start(ws, {"record_frames": True})["session_id"]
            killer.start()
            try:
                for index, stamp, frame in frames:
                    sent_at[index] = time.monotonic()
                    send(ws, "frame_data", seed_frame(index, stamp, frame))
                    recv_until(ws, "analysis_result")
                    time.sleep(max(0.0, sent_at[index] + 1 / 30 - time.monotonic()))
            except (ConnectionClosed, OSError, TimeoutError):
                pass
    finally:
        killer.cancel()
        server.kill()

    async def stored() -> set[int]:
        store = SQLiteSessionStore(db)
        await store.open()
        try:
            return {f.frame_index for f in await store.frames(session_id)}
        finally:
            await store.close()

    kept = asyncio.run(stored())
    lost = [i for i in sent_at if i not in kept]
    return max(0.0, killed_at - min(sent_at[i] for i in lost)) if lost else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=8)
    args = parser.parse_args()
    stream = simulate([SwingSpec(), SwingSpec()], fps=30.0, seed=5)
    frames = list(zip(stream.frame_indices.tolist(), stream.timestamps.tolist(), stream.keypoints))
    rng = random.Random(16)
    losses = []
    for _ in range(args.kills):
        with tempfile.TemporaryDirectory() as workdir:
            losses.append(one_kill(Path(workdir), frames, rng))
            print(f"lost the last {losses[-1]:.3f} s", flush=True)
    print(f"kills {len(losses)}: loss max {max(losses):.3f} s, mean {sum(losses) / len(losses):.3f} s")


if __name__ == "__main__":
    main()
