"""Video in: how fast a real clip is read, posed and analysed, and a 10 s 30 FPS clip end to end.

    .venv/bin/python bench/video.py [--clip FILE] [--frames N] [--rounds R]

1. Throughput by stage, in this process, over the clip's first N frames:
   decode (OpenCV), pose (MediaPipe Pose, model_complexity=1, image + world
   landmarks) and analysis (``LiveAnalyzer.push``). Frames/s per core is
   frames / CPU seconds of the process (MediaPipe may use more than one
   thread, so wall-clock frames/s can be higher than per core).
2. End to end, as a user runs it: ``python -m swingsync_fast video CLIP
   --max-frames 300`` (10 s of a 30 FPS clip) here (``--local``), over a
   real server as fast as it allows (``--fast``), and over it at the
   video's own pace. Wall time from the command's start to its exit
   (interpreter and MediaPipe start-up included, measured alone as a
   1-frame run) and the command's CPU.
Needs the ``video`` extra and the real clips in ../shared/realdata.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REALDATA = ROOT.parent / "shared" / "realdata" / "dtl-phone-swings" / "video"
sys.path.insert(0, str(ROOT))

from swingsync_fast import LiveAnalyzer  # noqa: E402
from swingsync_fast.video.posed import PosedFrame  # noqa: E402
from swingsync_fast.video.poser import Poser  # noqa: E402
from swingsync_fast.video.run import VideoOptions, session_config  # noqa: E402
from swingsync_fast.video.source import VideoSource  # noqa: E402

SECRET = "bench-secret-" + "v" * 40


def stages(clip: Path, frames: int) -> dict[str, tuple[float, float]]:
    """Per stage: (frames/s per core, frames/s wall)."""
    with VideoSource.file(clip) as source:
        config = session_config(source, VideoOptions(file=clip))
        cpu, wall = time.process_time(), time.perf_counter()
        decoded = list(source.frames(frames))
        out = {"decode": _rates(len(decoded), cpu, wall)}
    with Poser() as poser:
        poser.estimate(decoded[0].image)  # the graph's start-up is not a frame's cost
        cpu, wall = time.process_time(), time.perf_counter()
        posed = [PosedFrame(f.index, f.timestamp, poser.estimate(f.image)) for f in decoded]
        out["pose"] = _rates(len(posed), cpu, wall)
    analyzer = LiveAnalyzer(config)
    cpu, wall = time.process_time(), time.perf_counter()
    for frame in posed:
        analyzer.push(frame.index, frame.timestamp, frame.keypoints, frame.world_keypoints)
    out["analysis"] = _rates(len(posed), cpu, wall)
    return out


def _rates(n: int, cpu0: float, wall0: float) -> tuple[float, float]:
    return n / max(time.process_time() - cpu0, 1e-9), n / max(time.perf_counter() - wall0, 1e-9)


def cli(*args: str) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds of the command, and its exit status."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "swingsync_fast", "video", *args, "--json", "--no-progress"],
                         capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if run.returncode != 0:
        print(run.stderr, file=sys.stderr)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), run.returncode


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=REALDATA / "new_swing.mp4")
    parser.add_argument("--frames", type=int, default=300, help="frames of the clip (300 = 10 s at 30 FPS)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    if not args.clip.is_file():
        print(f"no clip at {args.clip}", file=sys.stderr)
        return 2

    results: dict[str, list[tuple[float, float]]] = {}
    for _ in range(args.rounds):
        for stage, rates in stages(args.clip, args.frames).items():
            results.setdefault(stage, []).append(rates)
    print(f"clip {args.clip.name}, first {args.frames} frames, {args.rounds} rounds (median)")
    print("| stage | frames/s per core | frames/s wall | ms per frame (CPU) |")
    print("|---|---|---|---|")
    for stage, runs in results.items():
        per_core = statistics.median(r[0] for r in runs)
        print(f"| {stage} | {per_core:.0f} | {statistics.median(r[1] for r in runs):.0f} | {1000 / per_core:.2f} |")

    port = free_port()
    env = {**os.environ, "SECRET_KEY": SECRET, "DATABASE_URL": "memory://", "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([sys.executable, "-m", "swingsync_fast", "serve", "--port", str(port),
                               "--log-level", "warning"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    try:
        _wait_for(port)
        from swingsync_fast.server.auth import mint_token

        token = mint_token(SECRET, "bench-video", "player", 3600)
        url = f"ws://127.0.0.1:{port}"
        clip, n = str(args.clip), str(args.frames)
        runs = {
            "start-up: here, 1 frame": lambda: cli(clip, "--local", "--max-frames", "1"),
            "here (`--local`)": lambda: cli(clip, "--local", "--max-frames", n),
            "server, `--fast`": lambda: cli(clip, "--url", url, "--token", token, "--fast", "--max-frames", n),
            "server, the video's pace": lambda: cli(clip, "--url", url, "--token", token, "--max-frames", n),
        }
        print(f"\nend to end: {args.frames} frames ({args.frames / 30:.0f} s at 30 FPS), {args.rounds} rounds (median)")
        print("| mode | wall s | command CPU s | runs (wall s) |")
        print("|---|---|---|---|")
        for mode, run in runs.items():
            measured = [run() for _ in range(args.rounds)]
            if any(status for _, _, status in measured):
                print(f"{mode}: the command failed", file=sys.stderr)
                return 1
            walls = [w for w, _, _ in measured]
            print(f"| {mode} | {statistics.median(walls):.1f} | {statistics.median(c for _, c, _ in measured):.1f} | "
                  + " / ".join(f"{w:.1f}" for w in walls) + " |")
    finally:
        server.terminate()
        server.wait(15)
    return 0


def _wait_for(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start")


if __name__ == "__main__":
    raise SystemExit(main())
