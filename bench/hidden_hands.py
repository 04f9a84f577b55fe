"""Swings found when MediaPipe is unsure of both wrists at address, face-on and down-the-line.

    .venv/bin/python bench/hidden_hands.py [--swings 24]

Real addresses see the hands on the grip as one blob: face-on the lead wrist
reads 0.35-0.77 and the trail one 0.16-0.62, down-the-line 0.37-0.75 and
0.23-0.66 (``shared/realdata/real-view-fingerprint.md``). This films simulated
swings with both wrists hidden more and more at address and prints how many
swings the analysis finds, with their events (``evaluation.score_unsure_hands``).
"""

from __future__ import annotations

import argparse

import numpy as np

from swingsync_fast.evaluation import score_unsure_hands

HIDING = ((0.35, 0.8), (0.5, 0.8), (0.65, 0.9), (0.8, 0.95))  # (lead, trail) wrist


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--swings", type=int, default=24)
    args = parser.parse_args()
    print("| view | wrists hidden (lead, trail) | their visibility, last 0.5 s of address (median) "
          "| swings found | top / impact within -2..+4 frames |")
    print("|---|---|---|---|---|")
    for view in ("face_on", "down_the_line"):
        for lead, trail in HIDING:
            card = score_unsure_hands(view, lead, trail, swings=args.swings)
            print(f"| {view} | {lead:.2f}, {trail:.2f} | {np.median(card.lead_visibility):.2f}, "
                  f"{np.median(card.trail_visibility):.2f} | {card.detected}/{card.swings} "
                  f"| {card.top_ok} / {card.impact_ok} |")


if __name__ == "__main__":
    main()
