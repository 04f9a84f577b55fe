"""Print the accuracy tables: simulated 3-D swings, simulated phone video by view, the labelled real clips.

    .venv/bin/python bench/accuracy.py [path/to/shared/realdata/dtl-phone-swings]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from swingsync_fast.evaluation import (evaluation_grid, real_agreement_markdown, score, score_views,
                                       view_grid)

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "dtl-phone-swings"


def main() -> None:
    started = time.perf_counter()
    print("## Simulated swings\n")
    print(score(evaluation_grid()).markdown())
    print("\n## Simulated phone video, by camera view (image landmarks, half with world landmarks)\n")
    for view, card in score_views(view_grid()).items():
        print(f"### {view}\n")
        print(card.markdown())
        print()
        print(card.error_markdown())
        print()
    realdata = Path(sys.argv[1]) if len(sys.argv) > 1 else REALDATA
    print("\n## Real down-the-line clips (event timeline vs hand labels)\n")
    if realdata.is_dir():
        print(real_agreement_markdown(realdata))
    else:
        print(f"(no real clips at {realdata})")
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
