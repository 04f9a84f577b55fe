"""The offline coach, its drill library, the model's prompt and the circuit breaker, on their own."""

from __future__ import annotations

import json

import msgspec
import pytest

from swings import FAULTED_THEN_CLEAN, driver_swings

from swingsync_fast import SessionConfig, analyze_recording
from swingsync_fast.analyzer import Fault
from swingsync_fast.catalog import FAULT_BY_ID, FAULT_IDS, KPI_NAMES, SKILL_LEVELS
from swingsync_fast.feedback import (
    SYSTEM_INSTRUCTION,
    BreakerState,
    CircuitBreaker,
    FeedbackRequest,
    LibraryError,
    OfflineCoach,
    build_prompt,
    default_library,
    load_library,
)
from swingsync_fast.feedback.library import LIBRARY_PATH
from swingsync_fast.feedback.offline import swing_figures


@pytest.fixture(scope="module")
def swings():
    """Three analysed driver swings: sway + casting, early extension, clean."""
    stream = driver_swings(11, FAULTED_THEN_CLEAN, noise_m=0.003)
    found = analyze_recording(stream.keypoints, stream.timestamps, SessionConfig(club_used="driver")).swings
    assert len(found) == 3
    return found


def _request(swing, **kwargs) -> FeedbackRequest:
    fields = {"club": "driver", "skill_level": "intermediate", "handedness": "right", "threshold": 0.5}
    fields.update(kwargs)
    return FeedbackRequest(swing=swing, **fields)


def _with_faults(swing, *faults: tuple[str, float]):
    return msgspec.structs.replace(
        swing, faults=[Fault(f, FAULT_BY_ID[f].name, s, FAULT_BY_ID[f].phases) for f, s in faults]
    )


# --------------------------------------------------------------------------- the library


def test_library_covers_every_fault_and_level():
    library = default_library()
    assert set(library.faults) == set(FAULT_IDS)
    for advice in [*library.faults.values(), library.clean]:
        for level in SKILL_LEVELS:
            drill, reps = advice.drill(level)
            assert advice.cue(level).strip() and drill.name and drill.how and reps.strip()
        assert advice.why.strip()
    # Every level of a fault gets its own cue (not one sentence copied four times).
    for fault_id, advice in library.faults.items():
        assert len(set(advice.cues.values())) == len(SKILL_LEVELS), fault_id


def test_library_file_problems_are_named(tmp_path):
    raw = json.loads(LIBRARY_PATH.read_text())
    del raw["faults"]["CASTING"]
    broken = tmp_path / "drills.json"
    broken.write_text(json.dumps(raw))
    with pytest.raises(LibraryError, match=r"faults missing \['CASTING'\]"):
        load_library(broken)
    raw = json.loads(LIBRARY_PATH.read_text())
    raw["faults"]["SWAY"]["drills"][1]["reps"]["beginner"] = "twice"  # two drills now serve beginners
    broken.write_text(json.dumps(raw))
    with pytest.raises(LibraryError, match="SWAY needs exactly one drill for beginner"):
        load_library(broken)
    raw = json.loads(LIBRARY_PATH.read_text())
    del raw["clean"]["cues"]["professional"]
    broken.write_text(json.dumps(raw))
    with pytest.raises(LibraryError, match="clean has no cue for professional"):
        load_library(broken)


# --------------------------------------------------------------------------- the offline coach


def test_offline_advice_for_every_fault_and_level(swings):
    coach = OfflineCoach()
    library = default_library()
    base = swings[2]
    for fault_id in FAULT_IDS:
        swing = _with_faults(base, (fault_id, 0.8))
        for level in SKILL_LEVELS:
            advice = library.advice(fault_id)
            drill, reps = advice.drill(level)
            text = coach.text(_request(swing, skill_level=level))
            assert text.startswith(f"Swing {swing.swing_index}: {FAULT_BY_ID[fault_id].name.lower()} (strong)")
            assert advice.why in text and advice.cue(level) in text
            assert drill.name in text and reps in text
            assert "{" not in text  # every placeholder was filled or the sentence replaced


def test_offline_uses_the_swings_numbers_and_history(swings):
    sway_swing, extension_swing, _ = swings
    figures = swing_figures(sway_swing)
    text = OfflineCoach().text(_request(sway_swing))
    # The worst fault leads, with its measured size; the other fault over the threshold is named.
    assert f"hips had drifted {figures['top_pelvis_sway_cm']} cm away from the target" in text
    assert "Also flagged: casting" in text
    first = OfflineCoach().text(_request(extension_swing, recent=(sway_swing,)))
    assert "It was not there on your earlier swings" in first
    again = _with_faults(extension_swing, ("SWAY", 0.7))
    assert "It also showed up on your previous swing." in OfflineCoach().text(_request(again, recent=(sway_swing,)))


def test_offline_is_deterministic_and_level_specific(swings):
    coach = OfflineCoach()
    beginner = coach.pieces(_request(swings[0], skill_level="beginner"))
    assert beginner == coach.pieces(_request(swings[0], skill_level="beginner"))
    pro = coach.pieces(_request(swings[0], skill_level="professional"))
    assert beginner[0] == pro[0] and beginner[2:4] != pro[2:4]  # same finding, other cue and drill


def test_offline_clean_swing_and_coach_tip(swings):
    clean = swings[2]
    assert clean.faults == [] or max(f.severity for f in clean.faults) < 0.5
    text = OfflineCoach().text(_request(_with_faults(clean), coach_tips=("Hold the finish for three seconds.",)))
    assert text.startswith(f"Swing {clean.swing_index}: clean, tempo ")
    assert "Random practice" not in text  # intermediate gets the ladder
    assert "Rhythm ladder" in text
    assert text.endswith("Your coach's latest tip: Hold the finish for three seconds.")


def test_offline_without_the_kpi_a_sentence_needs(swings):
    swing = swings[0]
    no_top = msgspec.structs.replace(swing, kpis_top={k: None for k in swing.kpis_top})
    text = OfflineCoach().text(_request(no_top))
    assert text.startswith(f"Swing {swing.swing_index}: sway (strong), hips drift away from the target")


# --------------------------------------------------------------------------- the prompt


def test_prompt_carries_the_swing(swings):
    sway_swing, extension_swing, _ = swings
    request = _request(extension_swing, club="iron", skill_level="advanced", handedness="left",
                       recent=(sway_swing,), coach_tips=("Keep the trail heel down longer.",), requested=True)
    prompt = build_prompt(request)
    assert "left-handed, skill level advanced, club iron" in prompt
    assert f"swing {extension_swing.swing_index} of the session. The player asked" in prompt
    assert f"{extension_swing.tempo_ratio:.2f} : 1" in prompt
    worst = request.faults_by_severity()[0]
    assert f"- {worst.name} ({worst.fault_id}), severity {worst.severity:.2f}, phases {', '.join(worst.phases)}" in prompt
    for name in KPI_NAMES:
        assert f"- {name}: " in prompt
    top = extension_swing.kpis_top["shoulder_turn"]
    assert f"/ {top:.1f} /" in prompt  # shoulder turn at the top, in the address / top / impact row
    assert f"- swing {sway_swing.swing_index}: tempo" in prompt and "SWAY" in prompt
    assert "- Keep the trail heel down longer." in prompt
    assert "golf coach" in SYSTEM_INSTRUCTION and "90 words" in SYSTEM_INSTRUCTION


# --------------------------------------------------------------------------- the breaker


def test_breaker_opens_half_opens_and_closes():
    now = [0.0]
    breaker = CircuitBreaker(failures=2, cooldown_s=10.0, clock=lambda: now[0])
    assert breaker.allow()
    breaker.failure()
    assert breaker.state is BreakerState.CLOSED and breaker.allow()
    breaker.failure()
    assert breaker.state is BreakerState.OPEN and not breaker.allow()
    now[0] = 9.9
    assert not breaker.allow()
    now[0] = 10.0
    assert breaker.allow() and breaker.state is BreakerState.HALF_OPEN
    assert not breaker.allow()  # one probe at a time
    breaker.failure()  # the probe failed: open again for a full cooldown
    assert breaker.state is BreakerState.OPEN and breaker.times_opened == 2
    now[0] = 19.0
    assert not breaker.allow()
    now[0] = 20.0
    assert breaker.allow()
    breaker.abandon()  # the probe was cancelled: the next call probes at once
    assert breaker.state is BreakerState.OPEN and breaker.allow() and breaker.state is BreakerState.HALF_OPEN
    breaker.success()
    assert breaker.state is BreakerState.CLOSED and breaker.consecutive_failures == 0 and breaker.allow()
