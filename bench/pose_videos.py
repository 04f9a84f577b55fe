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

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"


def pose_video(path: Path, shrink: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    import cv2
    import mediapipe as mp

    capture = cv2.VideoCapture(str(path))
    image, world = [], []
    empty = np.full((33, 4), np.nan, np.float32)
    with mp.solutions.pose.Pose(model_complexity=1, static_image_mode=False) as pose:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if shrink:
                h, w = frame.shape[:2]
                frame = cv2.resize(frame, (max(1, round(w * shrink / h)), shrink), interpolation=cv2.INTER_AREA)
            found = pose.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            if found.pose_landmarks is None:
                image.append(empty)
                world.append(empty)
                continue
            image.append(np.array([(p.x, p.y, p.z, p.visibility) for p in found.pose_landmarks.landmark], np.float32))
            world.append(np.array([(p.x, p.y, p.z, p.visibility)
                                   for p in found.pose_world_landmarks.landmark], np.float32))
    capture.release()
    return np.stack(image), np.stack(world)


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
