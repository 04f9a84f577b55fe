"""The analysis against simulated ground truth: the issue's acceptance targets.

210 swings over club, skill, handedness, both 3-D conventions, 24-240 FPS,
noise, occlusion and dropped frames (``evaluation.evaluation_grid``).
``python bench/accuracy.py`` prints the same scorecard as a table.
"""

from __future__ import annotations

import pytest

from swingsync_fast.catalog import FAULT_IDS
from swingsync_fast.evaluation import Scorecard, evaluation_grid, score


@pytest.fixture(scope="module")
def card() -> Scorecard:
    return score(evaluation_grid())


def test_grid_is_large_enough(card):
    assert card.swings >= 200
    assert card.clean >= 50
    assert all(card.injected[f] >= 8 for f in FAULT_IDS)


def test_every_session_counts_its_swings_exactly(card):
    assert card.sessions_with_exact_count == card.sessions, card.markdown()


def test_top_and_impact_land_within_tolerance(card):
    assert card.top_ok / card.swings >= 0.95, card.markdown()
    assert card.impact_ok / card.swings >= 0.95, card.markdown()


@pytest.mark.parametrize("fault_id", FAULT_IDS)
def test_each_injected_fault_is_recalled(card, fault_id):
    assert card.recalled[fault_id] / card.injected[fault_id] >= 0.9, card.markdown()


def test_clean_swings_are_rarely_flagged(card):
    assert card.clean_flagged / card.clean <= 0.10, card.markdown()
