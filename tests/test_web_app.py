"""The web app at /app/ in real headless Chromium (Debian's package, driven by Playwright), against
a real server: MediaPipe Pose runs in the page, our server analyses.

Skips, saying why, without Debian's chromium, the playwright package, the npm pose assets
(``npm ci`` in web/) or, for the video tests, ``../shared/realdata``. Pose estimation on this
software renderer takes about half a second a frame, so the clips are cut short.
Screenshots go to ``.artifacts/`` (or ``$SWINGSYNC_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from swingsync_fast.server.settings import DEFAULT_WEB_DIR
from swingsync_fast.server.rest.webapp import POSE_PACKAGE

from live_server import LiveServer, settings_for_tests

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
HAVE_POSE = (DEFAULT_WEB_DIR / POSE_PACKAGE / "pose.js").is_file()
needs_pose = pytest.mark.skipif(not HAVE_POSE, reason="pose assets missing: run `npm ci` in web/ (make test does when npm is here)")
pytestmark = pytest.mark.skipif(not CHROMIUM.is_file(), reason="Debian's chromium is not installed (apt-get install chromium)")

ARTIFACTS = Path(os.environ.get("SWINGSYNC_TEST_ARTIFACTS", Path(__file__).resolve().parents[1] / ".artifacts"))
CLIP = "swing1"
# The clip is cut to frames FIRST..LAST-1 of the video: a second of address, the swing, impact and
# a little after (end_session summarises a swing past impact).
FIRST, LAST = 70, 146
POSE_S_PER_FRAME = 1.5  # a generous bound for waiting, not an assertion


def ffmpeg() -> str:
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg", reason="imageio-ffmpeg is not installed")
    return imageio_ffmpeg.get_ffmpeg_exe()


def cut(source: Path, target: Path, *, slower: int = 1, height: int = 640) -> Path:
    """Frames FIRST..LAST-1 of ``source``, each shown ``slower`` times, as a new file (mp4 or y4m)."""
    select = f"trim=start_frame={FIRST}:end_frame={LAST},setpts={slower}*(PTS-STARTPTS),scale=-2:{height}"
    subprocess.run([ffmpeg(), "-v", "error", "-y", "-i", str(source), "-vf", select, "-r", "30", "-an", str(target)],
                   check=True, timeout=120)
    return target


def hand_labels(realdata_dir: Path) -> list[str]:
    with gzip.open(realdata_dir / f"{CLIP}_labeled.csv.gz", "rt") as fh:
        header = fh.readline().rstrip("\n").split(",")
        column = header.index("phase")
        return [line.rstrip("\n").split(",")[column] for line in fh]


@pytest.fixture(scope="module")
def playwright():
    with sync_api.sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright):
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


class AppPage:
    """A page of the app with the sockets it opened and the URLs it requested."""

    def __init__(self, context) -> None:
        self.page = context.new_page()
        self.sockets: list[str] = []
        self.requests: list[str] = []
        self.page.on("websocket", lambda ws: self.sockets.append(ws.url))
        self.page.on("request", lambda request: self.requests.append(request.url))

    def text(self, testid: str) -> str:
        return self.page.inner_text(f"[data-testid={testid}]")

    def wait_text(self, testid: str, text: str, timeout_s: float = 15) -> None:
        self.page.wait_for_selector(f"[data-testid={testid}]:has-text({text!r})", timeout=timeout_s * 1000)


@pytest.fixture
def app_page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 760})
    yield AppPage(context)
    context.close()


def phase_of(page: AppPage) -> str:
    """The phase on show, as the server named it (the page shows it in words)."""
    return page.page.get_attribute("[data-testid=phase]", "data-phase") or "–"


def open_signed_in(page: AppPage, server: LiveServer, user: str) -> str:
    token = server.token(user)
    page.page.goto(f"http://127.0.0.1:{server.port}/app/#token={token}")
    page.wait_text("status", "connected")
    return token


# --------------------------------------------------------------------------- sign-in


def test_a_page_without_a_token_says_so_and_opens_no_socket(server, app_page):
    app_page.page.goto(f"http://127.0.0.1:{server.port}/app/")
    app_page.wait_text("auth", "no token")
    assert app_page.page.is_visible("#sign-in textarea")
    time.sleep(0.5)
    assert app_page.sockets == [] and "connected" not in app_page.text("status")


@pytest.mark.parametrize(
    ("token", "reason"),
    [("not-a-jwt", "not valid"), (None, "signature does not match")],
    ids=["garbage", "other-key"],
)
def test_a_page_with_a_bad_token_says_why_and_opens_no_socket(server, app_page, token, reason):
    token = token or server.token("eve", key="another-key-" + "x" * 40)
    app_page.page.goto(f"http://127.0.0.1:{server.port}/app/#token={token}")
    app_page.wait_text("auth", "token refused")
    assert reason in app_page.text("auth")
    time.sleep(0.5)
    assert app_page.sockets == []


def test_a_pasted_token_signs_in_and_the_token_is_never_in_a_page_url(server, app_page):
    app_page.page.goto(f"http://127.0.0.1:{server.port}/app/")
    app_page.wait_text("auth", "no token")
    token = server.token("paula")
    app_page.page.fill("#sign-in textarea", token)
    app_page.page.click("#sign-in button[type=submit]")
    app_page.wait_text("auth", "Signed in as paula (player)")
    app_page.wait_text("status", "connected")
    # The fragment variant: read, then cleared from the address bar.
    open_signed_in(app_page, server, "paula")
    assert "token" not in app_page.page.url
    assert not [url for url in app_page.requests if token in url or "token=" in url]
    # Not even the socket: it carries a one-use ?ticket= bought with the token in a header.
    assert app_page.sockets and all("ticket=" in url and token not in url for url in app_page.sockets)


def test_the_page_reconnects_by_itself_when_the_server_drops_the_socket(app_page):
    live = LiveServer(settings_for_tests(idle_timeout_s=1.0)).start()  # drops an idle socket after 1 s
    try:
        open_signed_in(app_page, live, "rita")
        app_page.page.wait_for_selector("[data-testid=status][data-state=retrying]", timeout=10_000)
        assert "reconnecting" in app_page.text("status") and "4408" in app_page.text("status")
        app_page.page.wait_for_selector("[data-testid=status][data-state=connected]", timeout=10_000)
        assert len(app_page.sockets) >= 2
    finally:
        live.stop()


def test_without_pose_assets_the_page_loads_and_says_they_are_missing(app_page, tmp_path):
    shutil.copytree(DEFAULT_WEB_DIR / "app", tmp_path / "app")  # the pages without node_modules
    live = LiveServer(settings_for_tests(web_dir=tmp_path)).start()
    try:
        assert live.http.get("/app/pose/pose.js").json()["data"]["code"] == "pose_assets_missing"
        open_signed_in(app_page, live, "nina")
        app_page.wait_text("pose-status", "Pose assets are missing")
    finally:
        live.stop()


# --------------------------------------------------------------------------- analysis end to end


@needs_pose
def test_a_video_file_is_analysed_end_to_end_with_top_and_impact_at_the_labels(server, app_page, realdata_dir, tmp_path):
    labels = hand_labels(realdata_dir)
    top_label, impact_label = labels.index("Downswing"), labels.index("Follow-through")
    clip = cut(realdata_dir / "video" / f"{CLIP}.mp4", tmp_path / f"{CLIP}-cut.mp4")
    open_signed_in(app_page, server, "vera")
    page = app_page.page
    page.set_input_files("[data-testid=video-file]", str(clip))
    page.click("[data-testid=start]")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    seen_phases: set[str] = set()
    shot_taken = False
    deadline = time.monotonic() + 60 + (LAST - FIRST) * POSE_S_PER_FRAME
    while not page.query_selector("[data-testid=swing]"):
        assert time.monotonic() < deadline, f"no swing; phases seen {seen_phases}, {app_page.text('frames')}"
        phase = phase_of(app_page)
        seen_phases.add(phase)
        if phase in ("backswing", "top_of_swing", "downswing") and not shot_taken:
            page.screenshot(path=str(ARTIFACTS / "player-mid-swing.png"))
            shot_taken = True
        time.sleep(0.1)
    page.wait_for_selector("[data-testid=feedback][data-done=true]", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "player-after-swing.png"))

    swings = page.query_selector_all("[data-testid=swing]")
    assert len(swings) == 1
    top = int(swings[0].get_attribute("data-top-frame")) + FIRST
    impact = int(swings[0].get_attribute("data-impact-frame")) + FIRST
    assert abs(top - top_label) <= 3 and abs(impact - impact_label) <= 3, (top, impact, top_label, impact_label)
    assert float(swings[0].get_attribute("data-tempo")) > 1
    assert {"setup", "backswing"} <= seen_phases
    assert len(app_page.text("feedback")) > 40
    assert "p50" in app_page.text("rtt") and shot_taken
    # Every frame the page sent was analysed; a loaded machine may make the browser skip a frame.
    (record,) = server.http.get("/api/v1/stream/sessions", headers=server.auth("vera")).json()["sessions"]
    sent = sent_frames(app_page)
    assert record["stats"]["frames_analysed"] == sent >= 0.95 * (LAST - FIRST)
    # a file's slow motion is found from its swing: this clip is real time
    assert record["config"]["slow_motion"] == "auto" and swings[0].get_attribute("data-slow-motion") == "1"
    # A tidy swing filmed from behind: the page sent image and world landmarks, the server saw
    # the camera behind the player, a full turn, and nothing a coach would call a fault.
    (stored,) = server.http.get(f"/api/v1/stream/sessions/{record['session_id']}/swings",
                               headers=server.auth("vera")).json()["swings"]
    swing = stored["summary"]
    assert swing["camera"]["view"] == "down_the_line"
    # an amateur's full swing: the browser's pose reads about 78 deg here, MediaPipe's full model
    # in Python 83 (image landmarks) and 91 (with world landmarks; tests/test_realdata_video.py)
    assert 75 <= swing["kpis_top"]["shoulder_turn"] <= 110
    assert [f["fault_id"] for f in swing["faults"] if f["severity"] >= 0.5] == []
    # the swing's four pictures, cut from the page's frames: shown in its list item and stored with it
    moments = ["address", "top", "impact", "finish"]
    page.wait_for_function("document.querySelectorAll('[data-testid=swing-picture]').length === 4", timeout=10_000)
    shown = [img.get_attribute("data-moment") for img in page.query_selector_all("[data-testid=swing-picture]")]
    assert shown == moments
    server.wait_until(lambda: server.http.get(
        f"/api/v1/stream/sessions/{record['session_id']}/swings", headers=server.auth("vera")).json()
        ["swings"][0]["pictures"] == moments)
    picture = server.http.get(f"/api/v1/stream/sessions/{record['session_id']}/swings/{swing['swing_index']}"
                              "/pictures/top", headers=server.auth("vera"))
    assert picture.status_code == 200 and picture.content[:2] == b"\xff\xd8"


def sent_frames(page: AppPage) -> int:
    return int(page.text("frames").split()[2])  # "frames sent N · dropped M"


@needs_pose
def test_a_video_run_carries_on_in_a_new_session_when_the_server_restarts(app_page, realdata_dir, tmp_path):
    clip = cut(realdata_dir / "video" / f"{CLIP}.mp4", tmp_path / f"{CLIP}-cut.mp4")
    live = LiveServer(settings_for_tests()).start()
    try:
        open_signed_in(app_page, live, "remy")
        page = app_page.page
        page.set_input_files("[data-testid=video-file]", str(clip))
        page.click("[data-testid=start]")
        page.wait_for_function("() => /sent [1-9]/.test(document.querySelector('[data-testid=frames]').textContent)",
                               timeout=60_000)
        live.stop()  # drains: the page's socket is closed (1001) mid-run
        page.wait_for_selector("[data-testid=status][data-state=retrying]", timeout=10_000)
        before = sent_frames(app_page)
        live = LiveServer(settings_for_tests(), port=live.port).start()
        page.wait_for_selector("[data-testid=status][data-state=connected]", timeout=30_000)
        # The run goes on into a new session on the new server, from where it paused.
        live.wait_until(lambda: sent_frames(app_page) >= before + 3, timeout=60)
        (record,) = live.http.get("/api/v1/stream/sessions", headers=live.auth("remy")).json()["sessions"]
        assert record["state"] == "active" and record["stats"]["frames_received"] >= 2
        assert len(app_page.sockets) >= 2
        page.click("[data-testid=stop]")
    finally:
        live.stop()


@needs_pose
def test_the_camera_streams_live_and_the_phase_changes(server, browser, realdata_dir, tmp_path):
    # Chromium's fake camera plays the clip (4x slower, so the slow software pose still sees the swing).
    camera = cut(realdata_dir / "video" / f"{CLIP}.mp4", tmp_path / "camera.y4m", slower=4, height=320)
    browser_with_camera = None
    try:
        browser_with_camera = browser.browser_type.launch(
            executable_path=str(CHROMIUM),
            args=[*CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                  f"--use-file-for-fake-video-capture={camera}"],
        )
        fake = AppPage(browser_with_camera.new_context(viewport={"width": 1280, "height": 760}))
        open_signed_in(fake, server, "cami")
        fake.page.check("input[name=source][value=camera]")
        fake.page.click("[data-testid=start]")
        phases: list[str] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(set(phases) - {"idle", "–"}) < 2:
            phase = phase_of(fake)
            if not phases or phases[-1] != phase:
                phases.append(phase)
            time.sleep(0.1)
        assert len(set(phases) - {"idle", "–"}) >= 2, phases
        assert "sent" in fake.text("frames") and "connected" in fake.text("status")
    finally:
        if browser_with_camera is not None:
            browser_with_camera.close()


@needs_pose
def test_the_coach_sees_a_students_mirrored_analysis_and_a_tip_reaches_the_student(server, browser, realdata_dir, tmp_path):
    clip = cut(realdata_dir / "video" / f"{CLIP}.mp4", tmp_path / f"{CLIP}-cut.mp4")
    contexts = [browser.new_context(viewport={"width": 1280, "height": 760}) for _ in range(2)]
    try:
        coach, student = (AppPage(context) for context in contexts)
        coach.page.goto(f"http://127.0.0.1:{server.port}/app/coach.html#token={server.token('coach-dan', 'coach')}")
        coach.wait_text("auth", "Signed in as coach-dan (coach)")
        coach.page.fill("[data-testid=students]", "stu")
        coach.page.click("[data-testid=create]")
        coach.wait_text("status", "connected")
        session_id = coach.text("coaching-session")
        assert len(session_id) >= 16 and "#coaching=" + session_id in coach.text("student-link")

        student.page.goto(f"http://127.0.0.1:{server.port}/app/#token={server.token('stu')}&coaching={session_id}")
        student.wait_text("status", "connected")
        student.wait_text("coaching-status", "connected")
        coach.page.wait_for_selector("[data-testid=participants] li.online[data-user=stu]", timeout=10_000)
        student.page.set_input_files("[data-testid=video-file]", str(clip))
        student.page.click("[data-testid=start]")

        # The student's analysis, mirrored: its phase and KPIs on the coach's page, the skeleton drawn.
        mirrored = "[data-testid=student][data-user=stu]"
        coach.page.wait_for_selector(f"{mirrored} [data-testid=phase][data-phase=setup]", timeout=60_000)
        assert coach.page.inner_text(f"{mirrored} [data-testid=phase]") == "Address"
        assert coach.page.inner_text(f"{mirrored} [data-testid=p-position]") == "P1"
        assert coach.page.inner_text(f"{mirrored} .gauge[data-kpi=spine_tilt] .value") != "–"
        drawn = coach.page.evaluate(
            "s => { const c = document.querySelector(s + ' canvas'); const d = c.getContext('2d')"
            ".getImageData(0, 0, c.width, c.height).data; let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n; }",
            mirrored)
        assert drawn > 200  # pixels of the skeleton

        coach.page.select_option("form.tip select[name=target]", "stu")
        coach.page.fill("[data-testid=tip-text]", "Keep your trail knee flexed to the top")
        coach.page.click("[data-testid=send-tip]")
        student.wait_text("coach-messages", "coach-dan: Tip (medium) → stu: Keep your trail knee flexed to the top")
        coach.page.fill("form.frame input[name=frame]", "12")
        coach.page.click("[data-testid=send-frame]")
        student.wait_text("coach-messages", "Everyone to frame 12 of stu")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        coach.page.screenshot(path=str(ARTIFACTS / "coach.png"))
        student.page.click("[data-testid=stop]")
    finally:
        for context in contexts:
            context.close()


# --------------------------------------------------------------------------- the same file, the same answer


def differences(a: object, b: object, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in differences(a.get(k), b.get(k), f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def run_file_to_the_end(page: AppPage, clip: Path) -> None:
    page.page.set_input_files("[data-testid=video-file]", str(clip))
    page.page.click("[data-testid=start]")
    page.page.wait_for_selector("[data-testid=stop]:disabled", timeout=(60 + (LAST - FIRST) * POSE_S_PER_FRAME) * 1000)


@needs_pose
def test_the_same_file_analysed_twice_gives_the_same_answer(server, app_page, realdata_dir, tmp_path):
    """Every frame on its media time, the pose smoothed on media time: a repeat run is identical."""
    clip = cut(realdata_dir / "video" / f"{CLIP}.mp4", tmp_path / f"{CLIP}-cut.mp4")
    open_signed_in(app_page, server, "ida")
    runs = []
    for _ in range(2):
        run_file_to_the_end(app_page, clip)
        assert "skipped" not in app_page.text("frames"), app_page.text("frames")
        runs.append(sent_frames(app_page))
    server.wait_until(lambda: len(server.http.get("/api/v1/stream/sessions", headers=server.auth("ida"))
                                   .json()["sessions"]) == 2, timeout=10)
    sessions = server.http.get("/api/v1/stream/sessions", headers=server.auth("ida")).json()["sessions"]
    assert [s["stats"]["frames_analysed"] for s in sessions] == [LAST - FIRST] * 2 == runs

    def swings(session_id: str) -> list[dict]:
        return [s["summary"] for s in server.http.get(f"/api/v1/stream/sessions/{session_id}/swings",
                                                      headers=server.auth("ida")).json()["swings"]]

    def wait_for_swing(session_id: str) -> list[dict]:
        server.wait_until(lambda: swings(session_id), timeout=10)
        return swings(session_id)

    first, second = (wait_for_swing(s["session_id"]) for s in sessions)
    assert len(first) == len(second) == 1
    assert first == second, differences(first[0], second[0])  # frames, times, tempo, every KPI and fault
    lines = [node.inner_text() for node in app_page.page.query_selector_all("[data-testid=swing]")]
    assert len(lines) == 2 and lines[0].split(":", 1)[1] == lines[1].split(":", 1)[1]


# --------------------------------------------------------------------------- onboarding


def test_a_new_user_is_told_what_to_type_and_what_to_do_next(server, app_page):
    app_page.page.goto(f"http://127.0.0.1:{server.port}/")  # the server's bare address
    assert app_page.page.url.endswith("/app/")
    app_page.wait_text("auth", "no token")
    hint = app_page.page.get_attribute("#sign-in textarea", "placeholder")
    # commands that work from the repository, outside the venv too
    assert "make token USER=YOU ROLE=player" in hint and ".venv/bin/python -m swingsync_fast token YOU" in hint
    open_signed_in(app_page, server, "nora")
    stage = app_page.page.locator("[data-testid=stage-hint]")
    assert stage.is_visible() and "Choose a video file" in stage.inner_text() and "Start" in stage.inner_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    app_page.page.screenshot(path=str(ARTIFACTS / "player-signed-in.png"))
    app_page.page.click("[data-testid=start]")  # no file chosen: the page says so, the hint stays
    app_page.wait_text("error", "choose a video file first")
    assert stage.is_visible()


# --------------------------------------------------------------------------- numbers a golfer understands


def test_the_analysis_reads_in_a_golfers_words(serve, app_page):
    """A real server's messages for simulated swings with faults, shown by the page's own view."""
    from live_server import recv_until, seed_frame, send, start
    from swings import CLEAN_THEN_FAULTED, driver_swings

    server = serve(frames_per_second=1e6, frame_burst=10**6)  # the swings go faster than real time
    stream = driver_swings(7, CLEAN_THEN_FAULTED)
    with server.socket("gwen") as ws:
        started = start(ws, {"club_used": "driver", "frame_layout": "compact", "feedback_mode": "disabled"})
        messages = [{"type": "session_started", "data": started}]
        for index, t, frame in zip(stream.frame_indices.tolist(), stream.timestamps.tolist(), stream.keypoints):
            send(ws, "frame_data", seed_frame(index, t, frame))
        send(ws, "end_session")
        _, replies = recv_until(ws, "session_ended", timeout=30)
    messages += replies
    summaries = [m["data"] for m in messages if m["type"] == "swing_summary"]
    assert summaries and any(s["faults"] for s in summaries)
    top_frame = summaries[0]["top_frame"]
    open_signed_in(app_page, server, "gwen")
    page = app_page.page
    # the page's view renders the messages up to the first swing's top, then all of them
    shown = page.evaluate("""async ([messages, topFrame]) => {
        const { AnalysisView } = await import("/app/js/analysis.js");
        const root = document.querySelector("#analysis").cloneNode(true);
        root.id = "replayed";
        root.querySelectorAll("[data-role=gauges], [data-role=faults], [data-role=swings]").forEach((n) => n.replaceChildren());
        document.body.append(root);
        const view = new AnalysisView(root);
        const render = (m) => ({ session_started: (d) => view.sessionStarted(d), analysis_result: (d) => view.result(d),
          swing_event: (d) => view.event(d), swing_summary: (d) => view.swing(d) })[m.type]?.(m.data);
        let atTop = null;
        let through = null;
        for (const m of messages) {
          render(m);
          if (!through && m.type === "analysis_result" && m.data.swing_phase === "follow_through"
              && Math.abs(m.data.kpis?.[0] ?? 0) > 20) {  // kpis[0]: shoulder_turn (kpi_names order)
            through = [m.data.kpis[0], root.querySelector(".gauge[data-kpi=shoulder_turn] .value").textContent];
          }
          if (!atTop && m.type === "analysis_result" && m.data.frame_index === topFrame) {
            atTop = { phase: root.querySelector("[data-role=phase]").textContent,
              shoulder: root.querySelector(".gauge[data-kpi=shoulder_turn] .value").textContent,
              shoulderTitle: root.querySelector(".gauge[data-kpi=shoulder_turn]").title,
              spine: root.querySelector(".gauge[data-kpi=spine_tilt] .value").textContent,
              knee: root.querySelector(".gauge[data-kpi=trail_knee] .value").textContent };
          }
        }
        const faults = [...root.querySelectorAll("[data-testid=fault]")].map((n) => [n.dataset.faultId, n.textContent, n.title]);
        const swings = [...root.querySelectorAll("[data-testid=swing]")].map((n) => [n.textContent, n.title]);
        return { atTop, through, faults, swings };
    }""", [messages, top_frame])
    at_top = shown["atTop"]
    # phases in words, turns with their unit and direction, joints with what 180 means
    assert at_top["phase"] in ("Backswing", "Top of swing", "Downswing"), at_top
    assert at_top["shoulder"].endswith("° back") and "away from the target" in at_top["shoulderTitle"], at_top
    # after impact a positive turn is through the ball (catalog.KPI_UNITS)
    value, text = shown["through"]
    assert text.endswith("° through" if value > 0 else "° back"), shown["through"]
    assert at_top["spine"].endswith("° forward") and at_top["knee"].endswith((" bent", " straight")), at_top
    # severity in words, the number on hover; the server's name for each fault, on every list
    names = {f["fault_id"]: f["name"] for s in summaries for f in s["faults"]}
    assert shown["faults"]
    for fault_id, text, title in shown["faults"]:
        name, word = text.split(" — ")
        assert word in ("mild", "moderate", "strong") and re.fullmatch(r"severity [01]\.\d\d of 1", title), (text, title)
        assert name == started["fault_names"][fault_id]
    for (text, title), summary in zip(reversed(shown["swings"]), summaries):
        for fault in summary["faults"]:
            assert f"{names[fault['fault_id']]} (" in text and f"severity {fault['severity']:.2f} of 1" in title
        assert "0." not in text.split("faults:")[1], text  # no bare severities on the line
    assert started["fault_names"]["REVERSE_SPINE"] == "Reverse spine angle"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator("#replayed").screenshot(path=str(ARTIFACTS / "player-numbers.png"))


# --------------------------------------------------------------------------- slow motion


@needs_pose
def test_a_240_fps_phone_clip_played_at_30_gives_its_full_swing(server, app_page, realdata_dir):
    """The real slow-motion clip, whole (413 frames at 30 FPS of media time; the swing took 1.7 s).
    At face value its backswing lasts 6 s and no swing is found (tests/test_timebase.py)."""
    open_signed_in(app_page, server, "sloane")
    page = app_page.page
    assert page.input_value("[data-testid=slow-motion]") == "auto"  # the page's default for a file
    page.set_input_files("[data-testid=video-file]", str(realdata_dir / "video" / "new_swing.mp4"))
    page.click("[data-testid=start]")
    page.wait_for_selector("[data-testid=swing]", timeout=(60 + 413 * POSE_S_PER_FRAME) * 1000)
    (swing,) = page.query_selector_all("[data-testid=swing]")
    assert swing.get_attribute("data-slow-motion") == "8" and "filmed in 8× slow motion" in swing.inner_text()
    # where MediaPipe in Python puts them (tests/test_timebase.py: top 256, impact 329), within 1.5
    # frames of real time at 30 FPS
    top, impact = int(swing.get_attribute("data-top-frame")), int(swing.get_attribute("data-impact-frame"))
    assert abs(top - 256) <= 12 and abs(impact - 329) <= 12, (top, impact)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "player-slow-motion.png"))


# --------------------------------------------------------------------------- key-position pictures

PICTURES_SCRIPT = """async ([sessionId, summary, token]) => {
  const { FrameRing, momentFrames, sendPictures } = await import("/app/js/pictures.js");
  // a 640x360 'video': every frame one flat grey, its level the frame number's
  const frames = momentFrames(summary);
  const source = Object.assign(document.createElement("canvas"), { width: 640, height: 360 });
  const ring = new FrameRing(300);
  for (let i = summary.takeaway_frame - 5; i <= summary.finish_frame; i += 1) {
    const ctx = source.getContext("2d");
    ctx.fillStyle = `rgb(${i % 256}, ${i % 256}, ${i % 256})`;
    ctx.fillRect(0, 0, 640, 360);
    ring.keep(source, 640, 360, i);
  }
  const pictures = await ring.cut(summary);
  return { frames, sizes: pictures.map((p) => p.blob.size),
           stored: await sendPictures(sessionId, summary.swing_index, pictures, token) };
}"""


def test_the_page_cuts_a_swing_s_four_pictures_from_its_frames_and_stores_them(serve, browser):
    import msgspec
    import numpy as np
    from live_server import recv_until, seed_frame, send, start
    from swings import CLEAN_THEN_FAULTED, driver_swings

    cv2 = pytest.importorskip("cv2", reason="OpenCV comes with the `video` extra")
    server = serve(frames_per_second=1e6, frame_burst=10**6)  # the simulated swings as fast as they go
    stream = driver_swings(11, CLEAN_THEN_FAULTED)
    with server.socket("pia") as ws:
        session_id = start(ws)["session_id"]
        for index, t, frame in zip(stream.frame_indices.tolist(), stream.timestamps.tolist(), stream.keypoints):
            send(ws, "frame_data", seed_frame(index, t, frame))
        send(ws, "end_session")
        _, replies = recv_until(ws, "session_ended", timeout=30)
    summary = next(m["data"] for m in replies if m["type"] == "swing_summary")
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{server.port}/app/js/pictures.js")  # the server's origin
        done = page.evaluate(PICTURES_SCRIPT, [session_id, summary, server.token("pia")])
    finally:
        context.close()
    assert done["stored"] == ["address", "top", "impact", "finish"], done
    assert all(0 < size <= 64 * 1024 for size in done["sizes"])
    url = f"/api/v1/stream/sessions/{session_id}/swings/{summary['swing_index']}/pictures"
    for moment, frame in done["frames"].items():
        got = server.http.get(f"{url}/{moment}", headers=server.auth("pia"))
        assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
        image = cv2.imdecode(np.frombuffer(got.content, np.uint8), cv2.IMREAD_COLOR)
        assert image.shape == (135, 240, 3)  # 640x360, the long side shrunk to 240
        assert abs(image.mean() - frame % 256) < 3, (moment, frame, image.mean())  # the frame it names
    assert server.http.get(f"{url}/top", headers=server.auth("someone-else")).status_code == 404
    assert msgspec.json.decode(server.http.get(f"/api/v1/stream/sessions/{session_id}/swings",
                                               headers=server.auth("pia")).content)["swings"][0]["pictures"] == [
        "address", "top", "impact", "finish"]
