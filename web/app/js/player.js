// The player page: sign in, pick a source and settings, stream MediaPipe landmarks to the
// server and show what it answers. One socket, reopened by itself when it drops; each time it
// opens during a run a new session continues the stream.
import { AnalysisView } from "./analysis.js";
import { signIn } from "./auth.js";
import { COACHING_MESSAGES, coachingSocket, showCoachingMessage } from "./coaching.js";
import { loadPose } from "./estimator.js";
import { encodeFrame } from "./frames.js";
import { FrameRing, sendPictures, showPictures } from "./pictures.js";
import { drawSkeleton } from "./skeleton.js";
import { ReconnectingSocket, RoundTrips, State, describe, socketUrl } from "./socket.js";
import { playCamera, playFile } from "./sources.js";

const Session = Object.freeze({ NONE: "none", STARTING: "starting", LIVE: "live", ENDING: "ending" });

const byTestId = (id) => document.querySelector(`[data-testid=${id}]`);
const video = document.querySelector("video");
const canvas = document.querySelector("canvas.skeleton");
const form = document.querySelector("form.settings");
const startButton = byTestId("start");
const stopButton = byTestId("stop");
const statusLine = byTestId("status");
const rttLine = byTestId("rtt");
const poseLine = byTestId("pose-status");
const errorLine = byTestId("error");
const view = new AnalysisView(document.querySelector("#analysis"));
const roundTrips = new RoundTrips();
// Small copies of the last frames analysed, for each swing's key-position pictures: enough for a
// swing from address to finish and its summary's wait, at the page's few frames a second.
const frameRing = new FrameRing(300);
let sessionId = null; // the live session's, which its swings' pictures are sent to

let session = Session.NONE;
let sessionWaiters = [];
let run = null; // {config, source, abort, frames, dropped, skipped, clockStartMs}
let lastStampMs = performance.now(); // the last pose stamp of any run: the next run's start after it

const posePromise = loadPose().then(
  (pose) => {
    poseLine.textContent = "pose model ready";
    return pose;
  },
  (error) => {
    poseLine.textContent = "Pose assets are missing on this server (MediaPipe Pose comes from npm): install " +
      "Node.js and run `make run` again. The analysis cannot start without them.";
    poseLine.classList.add("problem");
    console.error(error);
    return null;
  },
);

const user = await signIn(document.querySelector("#sign-in"));
const socket = new ReconnectingSocket(socketUrl(`/api/v1/stream/ws/${encodeURIComponent(user.user_id)}`, user.token), {
  onOpen: () => run?.config && startSession(),
  onState: (state, detail) => {
    statusLine.textContent = describe(state, detail);
    statusLine.dataset.state = state;
    if (state !== State.CONNECTED) setSession(Session.NONE);
  },
  onMessage: receive,
});
socket.open();
startButton.disabled = false;

// A coaching session (from #coaching=ID or the settings): its tips, drills and frame updates
// reach this page over the coaching socket; the stream names it so coaches see it mirrored.
let coaching = null;
form.elements.coaching.value = new URLSearchParams(location.hash.slice(1)).get("coaching") ?? "";
joinCoaching();

function joinCoaching() {
  const id = form.elements.coaching.value.trim();
  if (coaching?.id === id) return;
  coaching?.socket.close();
  coaching = id ? { id, socket: coachingSocket(id, user.token, { onMessage: fromCoach, onState: showCoaching }) } : null;
  coaching?.socket.open();
}

function showCoaching(state, detail) {
  byTestId("coaching-status").textContent = `(${describe(state, detail)})`;
}

function fromCoach({ type, data }) {
  if (!COACHING_MESSAGES.has(type)) return;
  showCoachingMessage(byTestId("coach-messages"), type, data);
  if (type === "coaching_frame_update" && data.swing_index != null) {
    document.querySelectorAll("[data-testid=swing]").forEach((node) =>
      node.classList.toggle("pointed", node.dataset.swingIndex === String(data.swing_index)));
  }
}

function setSession(state) {
  session = state;
  if (state === Session.LIVE) {
    sessionWaiters.forEach((resolve) => resolve());
    sessionWaiters = [];
  }
}

function startSession() {
  setSession(Session.STARTING);
  socket.send({ type: "start_session", data: { config: run.config } });
}

// Resolves once a session is live; starts one if the socket is open and none is starting.
function liveSession() {
  if (session === Session.LIVE) return Promise.resolve();
  if (session === Session.NONE && socket.isOpen) startSession();
  return new Promise((resolve) => sessionWaiters.push(resolve));
}

function receive(message) {
  const { type, data } = message;
  switch (type) {
    case "session_started":
      sessionId = data.session_id;
      view.sessionStarted(data);
      setSession(Session.LIVE);
      break;
    case "analysis_result":
      roundTrips.answered(data.frame_index);
      view.result(data);
      break;
    case "swing_event":
      view.event(data);
      break;
    case "swing_summary":
      view.swing(data);
      pictures(sessionId, data);
      break;
    case "feedback":
      view.feedback(data);
      break;
    case "session_ended":
      setSession(Session.NONE);
      break;
    case "error":
      errorLine.textContent = `${data.code}: ${data.message}`;
      break;
  }
}

// The swing's four pictures from the page's frames: shown at once, then stored with the swing.
async function pictures(session, summary) {
  const cut = await frameRing.cut(summary);
  showPictures(view.swingNode(summary.swing_index), cut);
  if (session && cut.length) await sendPictures(session, summary.swing_index, cut, user.token);
}

function settings(video, source) {
  const field = (name) => form.elements[name].value;
  const slowMotion = field("slow_motion");
  return {
    // a camera films in real time; a file may play slower than it was filmed
    slow_motion: source === "camera" ? 1 : slowMotion === "auto" ? "auto" : Number(slowMotion),
    session_name: "web player",
    club_used: field("club"),
    skill_level: field("skill"),
    handedness: field("handedness"),
    coordinate_system: field("coordinates"),
    image_aspect: video.videoWidth / video.videoHeight,
    frame_layout: "compact",
    feedback_threshold: 0, // coaching after every swing
    coaching_session_id: coaching?.id ?? null,
  };
}

async function analyse(pose, frameIndex, timestamp) {
  // MediaPipe needs its stamps to keep increasing across runs. Whole milliseconds from a whole
  // start: the same frame gets the same steps between stamps on every run (fractional sums round
  // differently with the start, and the smoothing then drifts).
  run.lastStampMs = Math.max(run.lastStampMs + 1, run.clockStartMs + Math.round(timestamp * 1000));
  const landmarks = await pose.estimate(video, run.lastStampMs);
  frameRing.keep(video, video.videoWidth, video.videoHeight, frameIndex);
  drawSkeleton(canvas, video.videoWidth, video.videoHeight, landmarks?.image);
  run.config ??= settings(video, run.source);
  const worldOnly = run.config.coordinate_system === "mediapipe_world";
  const chosen = worldOnly ? landmarks?.world : landmarks?.image;
  // image landmarks go with the world ones of the same call: each measures what it sees best
  const world = worldOnly ? null : landmarks?.world ?? null;
  const frame = encodeFrame(frameIndex, timestamp, chosen ?? null, landmarks?.image, world);
  if (await sendFrame(frame, frameIndex)) run.frames += 1;
  else run.dropped += 1;
}

// A file's frames all go, each waiting for a live session (across reconnects); a camera frame
// that finds no live session is dropped.
async function sendFrame(frame, frameIndex) {
  for (;;) {
    if (run.source === "file") await liveSession();
    else if (session !== Session.LIVE) {
      liveSession();
      return false;
    }
    if (socket.send(frame)) {
      roundTrips.sent(frameIndex);
      return true;
    }
    if (run.source !== "file") return false;
    await new Promise((resolve) => setTimeout(resolve, 100)); // the socket is closing: wait for it to reopen
  }
}

async function start() {
  const pose = await posePromise;
  if (!pose) return;
  const source = form.elements.source.value;
  const file = byTestId("video-file").files[0];
  if (source === "file" && !file) {
    errorLine.textContent = "choose a video file first";
    return;
  }
  errorLine.textContent = "";
  byTestId("stage-hint").hidden = true; // the video and skeleton take its place
  joinCoaching();
  run = { source, config: null, abort: new AbortController(), frames: 0, dropped: 0, skipped: 0,
    clockStartMs: Math.ceil(lastStampMs) + 1000, lastStampMs: -Infinity };
  startButton.disabled = true;
  stopButton.disabled = false;
  pose.reset();
  const step = (video, frameIndex, timestamp) => analyse(pose, frameIndex, timestamp);
  try {
    if (source === "file") await playFile(video, file, step, run.abort.signal, () => (run.skipped += 1));
    else {
      run.clockStartMs = Math.max(0, run.clockStartMs - Math.floor(performance.now())); // camera: the page's clock
      await playCamera(video, step, run.abort.signal, () => (run.dropped += 1));
    }
  } catch (error) {
    errorLine.textContent = `the ${source} stopped: ${error.message}`;
  }
  if (session === Session.LIVE) {
    setSession(Session.ENDING);
    socket.send({ type: "end_session" });
  }
  showFrames(run);
  lastStampMs = Math.max(lastStampMs, run.lastStampMs);
  run = null;
  startButton.disabled = false;
  stopButton.disabled = true;
}

startButton.addEventListener("click", start);
stopButton.addEventListener("click", () => run?.abort.abort());

function showFrames({ frames, dropped, skipped }) {
  // A file skips a frame only when the browser did not show it; such a run may differ from another
  const skip = skipped ? ` · skipped by the browser ${skipped}: a repeat run may differ` : "";
  byTestId("frames").textContent = `frames sent ${frames} · dropped ${dropped}${skip}`;
}

setInterval(() => {
  const p50 = roundTrips.percentile(50);
  const p99 = roundTrips.percentile(99);
  rttLine.textContent = p50 == null ? "round trip: –" : `round trip p50 ${p50.toFixed(1)} ms · p99 ${p99.toFixed(1)} ms`;
  if (run) showFrames(run);
}, 250);
