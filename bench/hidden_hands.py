"""Face-on swings found when MediaPipe is unsure of both wrists at address.

    .venv/bin/python bench/hidden_hands.py [--swings 24]

Real face-on addresses see the lead wrist at visibility 0.35-0.77 and the
trail one at 0.16-0.62 (``shared/realdata/real-view-fingerprint.md``): the
hands on the grip are one blob. This films simulated face-on swings with the
lead wrist hidden more and more at address (``PairHiding.address_lead_wrist``)
and prints how many swings the analysis finds, and their takeaway error.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np

from swingsync_fast.analyzer import analyze_recording
from swingsync_fast.config import SessionConfig
from swingsync_fast.evaluation import _nearest
from swingsync_fast.simulator import PoseErrors, random_swing_spec, simulate


def found(hiding: float, swings: int, seed: int = 5) -> tuple[int, float, float]:
    """(swings found, lead-wrist visibility at address, median |takeaway error| in frames)."""
    rng = np.random.default_rng(seed)
    base = PoseErrors()
    errors = replace(base, crowding=replace(base.crowding, address_lead_wrist=hiding))
    hits, vis, takeaway = 0, [], []
    for i in range(swings):
        handedness = ("right", "left")[i % 2]
        spec = random_swing_spec(rng, club=("driver", "iron")[i // 2 % 2])
        stream = simulate([spec], club="driver", handedness=handedness, coordinate_system="mediapipe_image",
                          camera_view="face_on", walk_between=False, pose_errors=errors, seed=seed + i)
        config = SessionConfig(handedness=handedness, coordinate_system="mediapipe_image",
                               image_aspect=stream.image_aspect)
        seen = analyze_recording(stream.keypoints, stream.timestamps, config,
                                 frame_indices=stream.frame_indices).swings
        truth = stream.swings[0]
        lead = 15 if handedness == "right" else 16
        vis.append(float(np.median(stream.keypoints[truth.takeaway_frame - 15: truth.takeaway_frame, lead, 3])))
        got = _nearest(truth, seen)
        if got is not None:
            hits += 1
            takeaway.append(abs(got.takeaway_frame - truth.takeaway_frame))
    return hits, float(np.median(vis)), float(np.median(takeaway)) if takeaway else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--swings", type=int, default=24)
    args = parser.parse_args()
    print("| lead wrist hidden at address | its visibility in the last 0.5 s of address (median) | swings found | takeaway error (frames, median) |")
    print("|---|---|---|---|")
    for hiding in (0.35, 0.5, 0.65, 0.8):
        hits, vis, err = found(hiding, args.swings)
        print(f"| {hiding:.2f} | {vis:.2f} | {hits}/{args.swings} | {err:.0f} |")


if __name__ == "__main__":
    main()
