"""The feedback lane driving the real google-genai client against a local Gemini stand-in.

``fake_gemini.FakeGemini`` speaks ``streamGenerateContent?alt=sse`` and
``generateContent`` on 127.0.0.1; sessions are real ``StreamSession``s fed a
simulated recording, so feedback is triggered exactly as on the socket. The
only stand-in on our side is the inbox a socket would be.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from time import perf_counter_ns

import pytest
from fake_gemini import Drop, Fail, FakeGemini, Hang, Malformed, Reply

from swings import FAULTED_THEN_CLEAN, driver_swings

from swingsync_fast.feedback import BreakerState, FeedbackLane, GeminiProvider, LaneConfig
from swingsync_fast.feedback.isolated import ModelProcess
from swingsync_fast.server.protocol.stream import ErrorCode, FrameLayout, StreamConfig
from swingsync_fast.server.runtime import feedback_lane
from swingsync_fast.server.stream.session import FeedbackRefused, StreamSession
from swingsync_fast.server.settings import Settings
from swingsync_fast.server.storage.records import SessionRecord, SessionState

KEY = "test-gemini-key"
FIRST_PIECE_S = 0.3
TOTAL_S = 1.0


@pytest.fixture(scope="module")
def gemini():
    fake = FakeGemini().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake(gemini):
    gemini.reset()
    return gemini


@pytest.fixture(scope="module")
def recording():
    """Three driver swings: sway + casting, early extension, then a clean one."""
    stream = driver_swings(5, FAULTED_THEN_CLEAN, noise_m=0.003)
    frames = [
        (i, t, tuple(frame.ravel().tolist()))
        for i, t, frame in zip(stream.frame_indices.tolist(), stream.timestamps.tolist(), stream.keypoints)
    ]
    return frames


class Inbox:
    """What the socket would receive: every feedback message, decoded."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.open = True
        self._arrived = asyncio.Event()

    async def deliver(self, payload: str | bytes) -> bool:
        if not self.open:
            return False
        message = json.loads(payload)
        assert message["type"] == "feedback"
        self.messages.append(message["data"])
        self._arrived.set()
        return True

    def answers(self) -> list[list[dict]]:
        """Messages grouped by feedback_id, in the order the answers began."""
        grouped: dict[str, list[dict]] = {}
        for m in self.messages:
            grouped.setdefault(m["feedback_id"], []).append(m)
        return list(grouped.values())

    def finished(self) -> list[list[dict]]:
        return [a for a in self.answers() if a[-1]["done"]]

    async def wait_finished(self, count: int = 1, timeout: float = 5.0) -> list[list[dict]]:
        deadline = time.monotonic() + timeout
        while len(self.finished()) < count:
            self._arrived.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{count} answers not finished in time; got {self.messages}")
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except asyncio.TimeoutError:
                pass
        return self.finished()


async def _lane(fake: FakeGemini | None, **config) -> FeedbackLane:
    values = dict(first_piece_timeout_s=FIRST_PIECE_S, total_timeout_s=TOTAL_S, retries=2, retry_backoff_s=0.01,
                  rate_per_minute=600.0, rate_burst=50, breaker_failures=3, breaker_cooldown_s=0.3)
    values.update(config)
    model = None if fake is None else GeminiProvider(KEY, base_url=fake.base_url, timeout_s=5)
    lane = FeedbackLane(LaneConfig(**values), model=model)
    await lane.start()
    return lane


def _session(lane: FeedbackLane, layout: FrameLayout = FrameLayout.SEED, **config) -> tuple[StreamSession, Inbox]:
    values = {"club_used": "7 Iron", "skill_level": "beginner", "enable_instant_feedback": False}
    values.update(config)
    record = SessionRecord(
        session_id=uuid.uuid4().hex, user_id="player", session_name="", config=StreamConfig(**values),
        state=SessionState.ACTIVE, created_at=time.time(),
    )
    session = StreamSession(record, layout, feedback=lane)
    inbox = Inbox()
    lane.open(record.session_id, inbox)
    return session, inbox


def _play(session: StreamSession, frames) -> None:
    """The whole recording at once: requests made meanwhile coalesce (nothing else runs)."""
    for index, t, keypoints in frames:
        session.frame(index, t, keypoints, perf_counter_ns())
    assert session.swings == 3


async def _play_live(session: StreamSession, frames) -> None:
    """The recording with the event loop turning between frames, as a socket would."""
    for index, t, keypoints in frames:
        session.frame(index, t, keypoints, perf_counter_ns())
        await asyncio.sleep(0)
    assert session.swings == 3


def _texts(answer: list[dict]) -> list[str]:
    return [m["feedback"] for m in answer]


# --------------------------------------------------------------------------- the model answers


def test_pieces_arrive_in_order_and_complete(fake, recording):
    fake.default = Reply(("Your hips ", "slid back. ", "Turn them instead."), delay_s=0.02)

    async def main():
        lane = await _lane(fake)
        session, inbox = _session(lane, enable_instant_feedback=True, feedback_threshold=0.5)
        await _play_live(session, recording)  # swings 1 and 2 have faults over 0.5; swing 3 is clean
        answers = await inbox.wait_finished(2)
        stats = lane.stats()
        await lane.stop()
        return answers, stats

    answers, stats = asyncio.run(main())
    assert [a[0]["swing_index"] for a in answers] == [1, 2]
    for answer in answers:
        assert _texts(answer) == ["Your hips ", "slid back. ", "Turn them instead.", ""]
        assert [m["done"] for m in answer] == [False, False, False, True]
        assert {m["source"] for m in answer} == {"gemini"}
    assert stats.completed == 2 and stats.from_model == 2 and stats.fallbacks == 0
    assert stats.time_to_first_piece["gemini"].count == 2 and stats.in_flight == 0 and stats.queued == 0


def test_the_prompt_carries_club_skill_faults_and_kpis(fake, recording):
    async def main():
        lane = await _lane(fake)
        session, inbox = _session(lane, skill_level="advanced")
        _play(session, recording)
        session.request_feedback(2)
        await inbox.wait_finished(1)
        await lane.stop()
        return session.analyzer.swings

    swings = asyncio.run(main())
    (request,) = fake.requests
    assert request.method == "POST" and request.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    assert request.query == "alt=sse" and request.headers["x-goog-api-key"] == KEY
    prompt = request.prompt
    assert "right-handed, skill level advanced, club iron" in prompt
    assert "This is swing 2 of the session. The player asked" in prompt
    for fault in swings[1].faults:
        assert f"({fault.fault_id}), severity {fault.severity:.2f}" in prompt
    assert f"- shoulder_turn: {swings[1].kpis_address['shoulder_turn']:.1f} / {swings[1].kpis_top['shoulder_turn']:.1f}" in prompt
    assert "- swing 1: tempo" in prompt and "SWAY" in prompt  # the earlier swing as context
    assert "golf coach" in request.system_instruction
    assert request.body["generationConfig"]["maxOutputTokens"] == 400


def test_batch_mode_is_one_generate_content_answer(fake, recording):
    fake.default = Reply(("Hold ", "your posture."))

    async def main():
        lane = await _lane(fake)
        session, inbox = _session(lane, feedback_mode="batch")
        _play(session, recording)
        session.request_feedback(None)  # the latest swing
        answers = await inbox.wait_finished(1)
        await lane.stop()
        return answers

    (answer,) = asyncio.run(main())
    assert answer == [{**answer[0], "feedback": "Hold your posture.", "done": True, "source": "gemini", "swing_index": 3}]
    assert [r.path for r in fake.requests] == ["/v1beta/models/gemini-2.5-flash:generateContent"]


def test_google_gemini_base_url_from_the_environment(fake, recording, monkeypatch):
    """No base URL of ours: google-genai's own GOOGLE_GEMINI_BASE_URL decides where requests go."""
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake.base_url)

    async def main():
        lane = feedback_lane(Settings(secret_key="x" * 32, gemini_api_key=KEY))
        await lane.start()
        session, inbox = _session(lane)
        _play(session, recording)
        session.request_feedback(1)
        answers = await inbox.wait_finished(1)
        await lane.stop()
        return answers

    (answer,) = asyncio.run(main())
    assert answer[0]["source"] == "gemini" and len(fake.requests) == 1


# --------------------------------------------------------------------------- the model fails: OfflineCoach answers


@pytest.mark.parametrize(
    "behaviour, model_pieces, requests",
    [
        (Fail(500), 0, 3),  # transient: tried three times (two retries), then offline
        (Fail(403, "API key not valid"), 0, 1),  # not transient: no retry
        (Hang(), 0, 1),  # no first piece within the first-piece timeout
        (Malformed(good=1), 1, 1),  # one good piece, then a data line that is not JSON
        (Drop(good=1), 1, 1),  # one good piece, then the connection is cut mid-stream
    ],
    ids=["http_500", "http_403", "hang", "malformed_sse", "disconnect_mid_stream"],
)
def test_failures_end_in_offline_text_within_the_timeout(fake, recording, behaviour, model_pieces, requests):
    fake.default = behaviour

    async def main():
        lane = await _lane(fake)
        session, inbox = _session(lane)
        _play(session, recording)
        started = time.monotonic()
        session.request_feedback(1)
        (answer,) = await inbox.wait_finished(1)
        return answer, time.monotonic() - started, lane

    answer, elapsed, lane = asyncio.run(main())
    assert elapsed < TOTAL_S
    assert [m["source"] for m in answer] == ["gemini"] * model_pieces + ["offline"] * (len(answer) - model_pieces)
    offline = [m["feedback"] for m in answer[model_pieces:]]
    assert answer[-1]["done"] and offline[0].startswith("Swing 1: sway (strong)")
    assert "Drill: " in "".join(offline)
    if model_pieces:  # after the model's pieces, the offline text comes whole, in one message
        assert len(answer) == model_pieces + 1 and "Cue: " in answer[-1]["feedback"]
    assert len(fake.requests) == requests
    stats = lane.stats()
    assert stats.fallbacks == 1 and stats.from_offline == 1 and stats.completed == 1
    assert stats.retries == requests - 1
    assert stats.timeouts == (1 if isinstance(behaviour, Hang) else 0)
    if isinstance(behaviour, Hang):
        assert FIRST_PIECE_S <= elapsed < FIRST_PIECE_S + 0.4
        fake.wait_for(lambda: fake.requests[0].client_gone)  # the abandoned request's connection was closed


def test_total_timeout_cuts_a_slow_stream(fake, recording):
    fake.default = Reply(tuple(f"word{i} " for i in range(20)), delay_s=0.05)  # 1 s of pieces

    async def main():
        lane = await _lane(fake, total_timeout_s=0.5)
        session, inbox = _session(lane)
        _play(session, recording)
        started = time.monotonic()
        session.request_feedback(1)
        (answer,) = await inbox.wait_finished(1)
        return answer, time.monotonic() - started, lane.stats()

    answer, elapsed, stats = asyncio.run(main())
    assert 0.5 <= elapsed < 0.5 + 0.4
    sources = [m["source"] for m in answer]
    assert 5 <= sources.count("gemini") <= 10 and sources[-1] == "offline" and answer[-1]["done"]
    assert stats.timeouts == 1


# --------------------------------------------------------------------------- the circuit breaker


def test_breaker_opens_then_half_opens(fake, recording):
    fake.default = Fail(400, "bad request")

    async def ask(session, inbox, n):
        session.request_feedback(1)
        return (await inbox.wait_finished(n))[-1]

    async def main():
        lane = await _lane(fake)
        session, inbox = _session(lane)
        _play(session, recording)
        for n in (1, 2, 3):
            assert (await ask(session, inbox, n))[-1]["source"] == "offline"
        assert lane.breaker.state is BreakerState.OPEN and len(fake.requests) == 3
        # Open: answered offline at once, the model is not called.
        assert (await ask(session, inbox, 4))[-1]["source"] == "offline"
        assert len(fake.requests) == 3
        # After the cooldown one probe goes through; it fails, so the circuit opens again.
        await asyncio.sleep(0.35)
        assert (await ask(session, inbox, 5))[-1]["source"] == "offline"
        assert len(fake.requests) == 4 and lane.breaker.state is BreakerState.OPEN
        # The model recovers: the next probe succeeds and closes the circuit.
        fake.default = Reply(("Back ", "online."))
        await asyncio.sleep(0.35)
        assert _texts(await ask(session, inbox, 6)) == ["Back ", "online.", ""]
        assert lane.breaker.state is BreakerState.CLOSED
        assert _texts(await ask(session, inbox, 7))[0] == "Back "
        stats = lane.stats()
        await lane.stop()
        return stats

    stats = asyncio.run(main())
    assert stats.breaker.times_opened == 2 and stats.fallbacks == 5 and stats.from_model == 2
    assert len(fake.requests) == 6


# --------------------------------------------------------------------------- queueing, rate, cancellation


def test_no_api_key_means_offline_and_no_connection(fake, recording):
    """Settings without GEMINI_API_KEY: OfflineCoach alone, even with a base URL pointing at a live server."""

    async def main():
        lane = feedback_lane(Settings(secret_key="x" * 32, gemini_base_url=fake.base_url))
        await lane.start()
        session, inbox = _session(lane, enable_instant_feedback=True, feedback_threshold=0.0)
        await _play_live(session, recording)
        answers = await inbox.wait_finished(3)
        stats = lane.stats()
        await lane.stop()
        return answers, stats

    answers, stats = asyncio.run(main())
    assert [a[0]["swing_index"] for a in answers] == [1, 2, 3]
    assert all(m["source"] == "offline" for a in answers for m in a)
    assert answers[2][0]["feedback"].startswith("Swing 3: clean")  # threshold 0: every swing gets feedback
    assert stats.provider == "offline" and stats.model is None and stats.fallbacks == 0
    assert fake.connections == 0 and fake.requests == []


def test_a_newer_request_replaces_the_queued_one(fake, recording):
    fake.default = Reply(("slow ", "answer"), delay_s=0.1)

    async def main():
        lane = await _lane(fake, workers=1)
        session, inbox = _session(lane)
        _play(session, recording)
        session.request_feedback(1)  # starts at once
        await asyncio.sleep(0.05)
        session.request_feedback(2)  # waits behind it (one answer per session at a time)
        session.request_feedback(3)  # replaces the request for swing 2
        answers = await inbox.wait_finished(2)
        await asyncio.sleep(0.25)  # time enough for a third answer to start, were there one
        stats = lane.stats()
        await lane.stop()
        return answers, stats, len(inbox.answers())

    answers, stats, started = asyncio.run(main())
    assert [a[0]["swing_index"] for a in answers] == [1, 3] and started == 2
    assert stats.coalesced == 1 and stats.requested == 3 and stats.completed == 2


def test_per_session_rate_limit_answers_offline(fake, recording):
    async def main():
        lane = await _lane(fake, rate_per_minute=0.01, rate_burst=2)
        session, inbox = _session(lane)
        _play(session, recording)
        for n, swing in enumerate((1, 2, 3), 1):
            session.request_feedback(swing)
            await inbox.wait_finished(n)
        other, other_inbox = _session(lane)  # another session has its own budget
        _play(other, recording)
        other.request_feedback(1)
        await other_inbox.wait_finished(1)
        stats = lane.stats()
        await lane.stop()
        return inbox.finished(), other_inbox.finished(), stats

    mine, theirs, stats = asyncio.run(main())
    assert [a[-1]["source"] for a in mine] == ["gemini", "gemini", "offline"]
    assert theirs[0][-1]["source"] == "gemini"
    assert stats.rate_limited == 1 and stats.fallbacks == 0 and len(fake.requests) == 3


def test_a_full_queue_refuses_requests(fake, recording):
    fake.default = Reply(("slow",), delay_s=0.3)

    async def main():
        lane = await _lane(fake, workers=1, max_queued=1)
        sessions = [_session(lane) for _ in range(3)]
        for session, _ in sessions:
            _play(session, recording)
        sessions[0][0].request_feedback(1)  # in flight
        await asyncio.sleep(0.05)
        sessions[1][0].request_feedback(1)  # queued: the queue is now full
        with pytest.raises(FeedbackRefused) as refused:
            sessions[2][0].request_feedback(1)
        sessions[1][0].request_feedback(2)  # the queued session may still replace its own request
        stats = lane.stats()
        await lane.stop()
        return refused.value, stats

    refused, stats = asyncio.run(main())
    assert refused.code is ErrorCode.FEEDBACK_BUSY
    assert stats.rejected == 1 and stats.queued == 1 and stats.in_flight == 1 and stats.coalesced == 1


@pytest.mark.parametrize("how", ["session_deleted", "socket_closed", "client_ended"])
def test_ending_the_session_or_closing_the_socket_cancels(fake, recording, how):
    fake.default = Reply(tuple(f"w{i} " for i in range(10)), delay_s=0.05)

    async def main():
        lane = await _lane(fake, total_timeout_s=5.0)
        session, inbox = _session(lane)
        _play(session, recording)
        session.request_feedback(1)
        while not inbox.messages:
            await asyncio.sleep(0.01)
        if how == "session_deleted":
            lane.close(session.session_id, cancel=True)
        elif how == "socket_closed":
            lane.disconnect(inbox)
        else:  # the client's own end_session: what was asked for still arrives
            lane.close(session.session_id, cancel=False)
            await inbox.wait_finished(1)
        await asyncio.sleep(0.1)
        stats = lane.stats()
        await lane.stop()
        return inbox, stats

    inbox, stats = asyncio.run(main())
    assert stats.in_flight == 0
    if how == "client_ended":
        assert inbox.finished() and stats.cancelled == 0 and stats.completed == 1
        return
    assert not inbox.finished() and len(inbox.messages) < 5
    assert stats.cancelled == 1 and stats.completed == 0
    fake.wait_for(lambda: fake.requests[0].client_gone)  # the model's HTTP stream was closed


def test_stop_leaves_nothing_running(fake, recording):
    fake.default = Hang()

    async def main():
        lane = await _lane(fake, total_timeout_s=5.0, first_piece_timeout_s=5.0)
        session, inbox = _session(lane)
        _play(session, recording)
        session.request_feedback(1)
        while fake.active != 1:
            await asyncio.sleep(0.01)
        await lane.stop()
        return lane.stats(), [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    stats, left = asyncio.run(main())
    assert left == [] and stats.cancelled == 1 and stats.in_flight == 0
    fake.wait_for(lambda: fake.requests[0].client_gone)


# --------------------------------------------------------------------------- the model in its own process


def test_model_process_answers_and_survives_its_child_dying(fake, recording):
    """The server's way to run Gemini: the real client in a child process. Killed mid-answer, the
    child is replaced and the request retried, since nothing had been shown yet."""
    fake.script.append(Hang())  # the first request hangs until the child dies

    async def main():
        model = ModelProcess({"api_key": KEY, "base_url": fake.base_url}, model="gemini-2.5-flash")
        lane = FeedbackLane(LaneConfig(first_piece_timeout_s=5.0, total_timeout_s=8.0, retry_backoff_s=0.01),
                            model=model)
        await lane.start()
        first_child = model._process
        session, inbox = _session(lane)
        _play(session, recording)
        session.request_feedback(1)
        while fake.active != 1:
            await asyncio.sleep(0.01)
        first_child.kill()
        (answer,) = await inbox.wait_finished(1, timeout=10)
        session.request_feedback(2)
        await inbox.wait_finished(2)
        stats = lane.stats()
        second_child = model._process
        await lane.stop()
        return answer, stats, first_child, second_child

    answer, stats, first_child, second_child = asyncio.run(main())
    assert _texts(answer) == [*Reply().pieces, ""] and answer[0]["source"] == "gemini"
    assert stats.retries == 1 and stats.completed == 2 and stats.from_model == 2 and stats.model == "gemini-2.5-flash"
    assert second_child is not first_child and second_child.poll() == 0  # it exited when the lane stopped
    assert first_child.poll() is not None and len(fake.requests) == 3
    fake.wait_for(lambda: fake.requests[0].client_gone)
