"""Live frame latency with video uploads being posed beside it, against the same run without them.

    .venv/bin/python bench/video_uploads.py [--clients 100] [--duration 15] [--rounds 2] [--uploads 2]

Each round starts a fresh server (``serve``, history in memory,
``SWINGSYNC_VIDEO_WORKERS`` = ``--uploads``) twice: once with only the
load generator's golfers streaming (``bench/loadgen.py --url``: ``--clients``
simulated golfers at 30 FPS, seed JSON), once with the same golfers while
``--uploads`` uploads of a real clip are being posed the whole time (a new one
is posted as soon as one finishes). Reported per run: the round trip measured
by the clients and the server's own receive-to-send latency, p50 / p99 / max,
and how many uploads were posed meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
CLIP = ROOT.parent / "shared" / "realdata" / "dtl-phone-swings" / "video" / "new_swing.mp4"
sys.path.insert(0, str(ROOT))

from swingsync_fast.server.auth import mint_token  # noqa: E402

SECRET = "bench-uploads-" + "u" * 40


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, workers: int) -> None:
        self.port = free_port()
        env = {**os.environ, "SECRET_KEY": SECRET, "DATABASE_URL": "memory://", "PYTHONPATH": str(ROOT),
               "SWINGSYNC_VIDEO_WORKERS": str(workers), "SWINGSYNC_VIDEO_QUEUE": "0",
               "SWINGSYNC_MAX_VIDEO_SECONDS": "600"}
        self.process = subprocess.Popen([sys.executable, "-m", "swingsync_fast", "serve", "--port", str(self.port),
                                         "--log-level", "warning"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the server did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


class Uploader(threading.Thread):
    """Keeps ``count`` uploads posing: posts the clip, waits for its job, posts again."""

    def __init__(self, port: int, clip: Path, index: int) -> None:
        super().__init__(daemon=True)
        self.url = f"http://127.0.0.1:{port}"
        self.clip = clip
        self.headers = {"Authorization": f"Bearer {mint_token(SECRET, f'uploader-{index}', 'player', 3600)}"}
        self.stopping = threading.Event()
        self.finished = 0
        self.running = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as http:
            while not self.stopping.is_set():
                with self.clip.open("rb") as f:
                    answer = http.post("/api/v1/analyze/video", files={"file": (self.clip.name, f, "video/mp4")},
                                       headers=self.headers)
                if answer.status_code == 429:
                    time.sleep(float(answer.headers.get("retry-after", "1")))
                    continue
                answer.raise_for_status()
                job_id = answer.json()["job_id"]
                while not self.stopping.is_set():
                    job = http.get(f"/api/v1/jobs/{job_id}", headers=self.headers).json()
                    if job["state"] == "running" and job["fraction"] > 0:
                        self.running.set()
                    if job["state"] in ("done", "failed"):
                        self.finished += job["state"] == "done"
                        break
                    time.sleep(0.25)


def loadgen(port: int, clients: int, duration: float, pid: int) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([sys.executable, str(BENCH / "loadgen.py"), "--url", f"ws://127.0.0.1:{port}",
                        "--clients", str(clients), "--duration", str(duration), "--server-pid", str(pid),
                        "--json", out.name], check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
                       env={**os.environ, "SECRET_KEY": SECRET, "PYTHONPATH": str(ROOT)})
        report = json.loads(Path(out.name).read_text())
    return report["runs"][0]


def one_run(clients: int, duration: float, uploads: int, clip: Path) -> dict:
    server = Server(max(1, uploads))
    uploaders = [Uploader(server.port, clip, i) for i in range(uploads)]
    try:
        for u in uploaders:
            u.start()
        for u in uploaders:  # the load starts once every upload is posing
            if not u.running.wait(60):
                raise RuntimeError("an upload did not start posing")
        row = loadgen(server.port, clients, duration, server.process.pid)
    finally:
        for u in uploaders:
            u.stopping.set()
        server.stop()
    return {"uploads": uploads, "rtt_ms": row["rtt_ms"], "inside_us": row["server"].get("inside_us"),
            "lost": row.get("frames_lost"), "late": row.get("frames_late"),
            "uploads_posed": sum(u.finished for u in uploaders), "box": row.get("box")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--uploads", type=int, default=2)
    parser.add_argument("--clip", type=Path, default=CLIP)
    args = parser.parse_args(argv)
    if not args.clip.is_file():
        print(f"no clip at {args.clip}", file=sys.stderr)
        return 2
    runs = []
    for _ in range(args.rounds):
        for uploads in (0, args.uploads):
            runs.append(one_run(args.clients, args.duration, uploads, args.clip))
            print(json.dumps(runs[-1]), file=sys.stderr)
    print(f"{args.clients} golfers at 30 FPS for {args.duration:g} s, {args.rounds} rounds")
    print("| uploads posing | RTT p50 ms | RTT p99 ms | RTT max ms | server p99 µs | server max µs | late | lost "
          "| uploads finished | others' CPU % |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for run in runs:
        rtt, inside = run["rtt_ms"], run["inside_us"] or {}
        print(f"| {run['uploads']} | {rtt['p50']:.2f} | {rtt['p99']:.2f} | {rtt['max']:.1f} | {inside.get('p99_us')} "
              f"| {inside.get('max_us')} | {run['late']} | {run['lost']} | {run['uploads_posed']} "
              f"| {(run['box'] or {}).get('others_cpu_percent')} |")
    for uploads in (0, args.uploads):
        p99 = [r["rtt_ms"]["p99"] for r in runs if r["uploads"] == uploads]
        print(f"\nmedian RTT p99 with {uploads} uploads: {statistics.median(p99):.2f} ms ({' / '.join(map(str, p99))})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
