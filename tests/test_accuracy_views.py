"""The analysis on simulated phone video, by camera view, against the 3-D truth.

144 swings: face-on, down-the-line and 45 deg oblique phone cameras, both
hands, every club and skill, half of them with MediaPipe's world landmarks
beside the image ones, MediaPipe's errors (hidden hands, stretched and
drifting z, jitter; ``simulator.tracker``). Each reported KPI is held
against the noise-free body read as a 3-D capture (``evaluation.run_view_plan``).
``python bench/accuracy.py`` prints the same tables. The gaps still open are
marked xfail(strict): each fails the suite the day it is closed, so the
marker has to go.
"""

from __future__ import annotations

import math

import pytest

from swingsync_fast.evaluation import ERROR_MOMENTS, KPI_ERROR_BOUND, VIEWS, ViewScorecard, score_views, view_grid
from swingsync_fast.kernels.tuning import VIEW_KPIS

GAPS = {
    # The simulator's far-side model reads the down-the-line shoulder turn about 20 deg short at the
    # top; on the real down-the-line clips the same reading agrees with MediaPipe's own world
    # landmarks within 8 deg (tests/test_realdata.py). Which one is wrong needs real 3-D truth.
    ("down_the_line", "top", "shoulder_turn"), ("down_the_line", "top", "hip_turn"),
    ("down_the_line", "impact", "shoulder_turn"), ("down_the_line", "impact", "hip_turn"),
    ("down_the_line", "top", "spine_tilt"),
    ("down_the_line", "top", "head_lift"), ("down_the_line", "impact", "head_lift"),
    ("down_the_line", "top", "pelvis_thrust"),
    ("oblique", "top", "shoulder_turn"), ("oblique", "top", "hip_turn"), ("oblique", "impact", "hip_turn"),
    ("oblique", "impact", "shoulder_turn"),
    ("down_the_line", "top", "x_factor"), ("down_the_line", "impact", "x_factor"),
    ("oblique", "top", "x_factor"), ("oblique", "impact", "x_factor"),
}
RECALL_GAPS = {
    ("face_on", "CHICKEN_WING"),  # the fold is partly in depth: 120 deg reads about 150 in the picture
    ("face_on", "SLIDE"),  # 3 of 4: one slide reads 15 % short
    ("oblique", "INSUFFICIENT_SHOULDER_TURN"), ("oblique", "POOR_TEMPO"),  # the oblique turn gap
    # 5 of 6: one slow backswing's top is placed in the frames where the hands are lost, so its
    # downswing reads 0.36 s for 0.30 and its tempo 4.3 for 5.6 (it was found only while its
    # takeaway read 9 frames early)
    ("down_the_line", "POOR_TEMPO"),
}


@pytest.fixture(scope="module")
def cards() -> dict[str, ViewScorecard]:
    return score_views(view_grid())


def _report(card: ViewScorecard) -> str:
    return card.markdown() + "\n" + card.error_markdown()


@pytest.mark.parametrize("view", VIEWS)
def test_every_view_finds_the_swings_with_top_and_impact_in_tolerance(cards, view):
    card = cards[view]
    assert card.views_read == {view: card.detected}, _report(card)  # the fit names the view
    assert card.other_hand == 0, _report(card)  # and the hand it was set to stands
    assert card.detected / card.swings >= 0.95, _report(card)
    assert card.top_ok / card.swings >= 0.95, _report(card)
    assert card.impact_ok / card.swings >= 0.95, _report(card)


def _kpi_cases():
    for view in VIEWS:
        for moment in ERROR_MOMENTS:
            for kpi in VIEW_KPIS[view]:
                if kpi not in KPI_ERROR_BOUND:
                    continue
                marks = [pytest.mark.xfail(strict=True, reason="open gap, see GAPS")] if (
                    (view, moment, kpi) in GAPS) else []
                yield pytest.param(view, moment, kpi, marks=marks, id=f"{view}-{moment}-{kpi}")


@pytest.mark.parametrize("view, moment, kpi", list(_kpi_cases()))
def test_each_reported_kpi_is_within_its_bound_of_the_truth(cards, view, moment, kpi):
    card = cards[view]
    p90 = card.error_p90(moment, kpi)
    assert math.isfinite(p90), f"{kpi} never reported from {view}"
    assert p90 <= KPI_ERROR_BOUND[kpi], _report(card)


@pytest.mark.parametrize("view", VIEWS)
def test_no_kpi_is_reported_that_the_view_cannot_see(cards, view):
    reported = {kpi for (_, kpi) in cards[view].errors}
    assert reported <= set(VIEW_KPIS[view])


def _recall_cases():
    from swingsync_fast.catalog import FAULT_IDS
    from swingsync_fast.evaluation import view_sees

    for view in VIEWS:
        for fault in FAULT_IDS:
            if view_sees(view, fault):
                marks = [pytest.mark.xfail(strict=True, reason="open gap")] if (view, fault) in RECALL_GAPS else []
                yield pytest.param(view, fault, marks=marks, id=f"{view}-{fault}")


@pytest.mark.parametrize("view, fault_id", list(_recall_cases()))
def test_faults_the_view_can_see_are_recalled(cards, view, fault_id):
    card = cards[view]
    assert card.recalled[fault_id] / card.injected[fault_id] >= 0.9, _report(card)


@pytest.mark.parametrize("view", [
    "face_on",
    # 1 of 16: the oblique turn creeps past its address bound 14 frames before the hands go, so
    # that turn-started takeaway is placed early and the tempo reads 4.8 for 2.8 (POOR_TEMPO 0.30)
    pytest.param("oblique", marks=pytest.mark.xfail(strict=True, reason="the oblique turn gap above")),
    pytest.param("down_the_line", marks=pytest.mark.xfail(strict=True, reason="the shoulder-turn gap above")),
])
def test_clean_swings_are_rarely_flagged(cards, view):
    card = cards[view]
    assert card.clean_flagged / card.clean <= 0.05, _report(card)


@pytest.mark.parametrize("view", ["face_on", "down_the_line"])
def test_addresses_with_both_wrists_unsure_are_found(view):
    """The lower quartile of real addresses: lead wrist about 0.27 visible, trail 0.16."""
    from swingsync_fast.evaluation import score_unsure_hands

    card = score_unsure_hands(view, lead_hiding=0.8, trail_hiding=0.95, swings=12)
    assert max(card.lead_visibility) < 0.5 and max(card.trail_visibility) < 0.5  # no wrist is "seen"
    report = card.markdown()
    assert card.detected == card.swings, report
    assert card.top_ok / card.swings >= 0.95 and card.impact_ok / card.swings >= 0.95, report


@pytest.mark.parametrize("view", VIEWS)
def test_a_session_set_to_the_wrong_hand_reads_as_if_set_right(view):
    """A left-handed golfer left on the right-handed default, or a mirrored video: from behind
    or beside the address says which hand it is, face-on the backswing does."""
    from swingsync_fast.evaluation import ViewScorecard, run_view_plan, view_grid

    wrong = ViewScorecard(view=view)
    for plan in [p for p in view_grid() if p.view == view][:8]:
        wrong.add_view(*run_view_plan(plan, "left" if plan.handedness == "right" else "right"))
    assert wrong.other_hand == 0, _report(wrong)
    right = ViewScorecard(view=view)
    for plan in [p for p in view_grid() if p.view == view][:8]:
        right.add_view(*run_view_plan(plan))
    assert (wrong.detected, wrong.top_ok, wrong.impact_ok) == (right.detected, right.top_ok, right.impact_ok)
    assert wrong.clean_flagged == right.clean_flagged and wrong.recalled == right.recalled, _report(wrong)
