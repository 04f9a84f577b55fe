"""Pose the real videos in ../shared/realdata with MediaPipe in Python: image and world landmarks.

    .venv/bin/python bench/pose_videos.py [--out DIR] [--shrink H]

Writes DIR/{clip}.npz with `image` and `world`, each (frames, 33, 4): x, y, z,
visibility, as the browser page's MediaPipe Pose returns them from one call.
``--shrink H`` first scales every frame down to H pixels high, to see the
analysis on the small, soft pictures of broadcast clips. Needs the `[video]`
extra (mediapipe 0.10.14 bundles its models, so this runs offline).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from swingsync_fast.pose import pose_video

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/pose"))
    parser.add_argument("--shrink", type=int, default=None, help="scale frames to this many pixels high first")
    parser.add_argument("clips", nargs="*", help="video files (default: every .mp4 under the real data)")
    args = parser.parse_args(argv)
    clips = [Path(c) for c in args.clips] or sorted(REALDATA.rglob("*.mp4"))
    args.out.mkdir(parents=True, exist_ok=True)
    for clip in clips:
        image, world = pose_video(clip, args.shrink)
        suffix = f"_h{args.shrink}" if args.shrink else ""
        np.savez_compressed(args.out / f"{clip.stem}{suffix}.npz", image=image, world=world)
        found = int(np.isfinite(image[:, 0, 0]).sum())
        print(f"{clip.name}: {len(image)} frames, a person in {found}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
