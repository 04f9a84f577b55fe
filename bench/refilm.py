"""Real swings filmed again from every view: MediaPipe's 3-D pose of a real clip, seen by the simulated phone.

    .venv/bin/python bench/refilm.py [--poses DIR] [--views face_on,oblique,down_the_line] [--seeds N]

We have real swings filmed from behind only. MediaPipe's world landmarks of
those clips are a 3-D body moving as the real golfer moved (timing, sway,
turn, the hands' path), so this puts that body in front of the simulator's
phone camera and pose-error model (``swingsync_fast.simulator``) in each view
and analyses what comes out. It prints, per clip and view, whether the swing
was found, its events against the hand labels, turns at the top against the
3-D body's own, and every fault at severity >= 0.5.

``--poses``: the folder bench/pose_videos.py wrote (default /tmp/pose).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from swingsync_fast.evaluation import REAL_CLIP_FPS, refilm_clip, refilm_markdown

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "dtl-phone-swings"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--poses", type=Path, default=Path("/tmp/pose"))
    parser.add_argument("--views", default="face_on,oblique,down_the_line")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    rows = []
    for name in REAL_CLIP_FPS:
        posed = args.poses / f"{name}.npz"
        if not posed.exists():
            print(f"{posed} missing: run bench/pose_videos.py first", file=sys.stderr)
            return 2
        world = np.load(posed)["world"]
        for view in args.views.split(","):
            for seed in range(args.seeds):
                rows.append(refilm_clip(REALDATA, name, world, view, seed))
    print(refilm_markdown(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
