// The coach page: open or create a coaching session, watch each student's analysis mirrored live
// (skeleton, phase, KPIs, faults, swings, coaching text), send tips and drills, and move everyone
// to a swing or frame together.
import { AnalysisView, el } from "./analysis.js";
import { signIn } from "./auth.js";
import { COACHING_MESSAGES, coachingSocket, showCoachingMessage } from "./coaching.js";
import { fetchPictures, showPictures } from "./pictures.js";
import { drawSkeleton, fitToBox } from "./skeleton.js";
import { State, describe } from "./socket.js";

const MIRROR_FPS = 5;
const byTestId = (id) => document.querySelector(`[data-testid=${id}]`);
const picker = byTestId("coaching-sessions");
const errorLine = byTestId("error");
const students = new Map(); // user id -> {view, canvas}
let room = null; // {id, socket, me}

const user = await signIn(document.querySelector("#sign-in"), { role: "coach" });

async function api(path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: { Authorization: `Bearer ${user.token}`, "Content-Type": "application/json" },
  });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new Error(body?.data?.message ?? `HTTP ${response.status}`);
  return body;
}

// Coaching sessions are session records that name participants; the open ones are listed.
async function listSessions() {
  const { sessions } = await api("/api/v1/stream/sessions?limit=100");
  for (const s of sessions.filter((s) => s.participants.length && s.state !== "ended")) addChoice(s);
}

function addChoice(record) {
  if (picker.querySelector(`option[value="${record.session_id}"]`)) return;
  const label = `${record.session_name || "session"} — ${record.participants.join(", ")}`;
  picker.append(el("option", { value: record.session_id, textContent: label }));
}

function open(sessionId) {
  room?.socket.close();
  students.clear();
  byTestId("students-live").replaceChildren();
  byTestId("coach-messages").replaceChildren();
  picker.value = sessionId;
  byTestId("coaching-session").textContent = sessionId;
  byTestId("student-link").textContent =
    `Students open ${location.origin}/app/#coaching=${sessionId} (with their own #token=…)`;
  const socket = coachingSocket(sessionId, user.token, {
    onMessage: receive,
    onState: (state, detail) => {
      byTestId("status").textContent = describe(state, detail);
      byTestId("status").dataset.state = state;
    },
  }, { mirror_fps: MIRROR_FPS });
  room = { id: sessionId, socket };
  socket.open();
}

function student(userId) {
  let panel = students.get(userId);
  if (!panel) {
    const node = document.querySelector("#student").content.firstElementChild.cloneNode(true);
    node.dataset.user = userId;
    node.querySelector(".name").textContent = userId;
    byTestId("students-live").append(node);
    panel = { view: new AnalysisView(node), canvas: node.querySelector("canvas") };
    students.set(userId, panel);
  }
  return panel;
}

function showMembers(participants) {
  byTestId("participants").replaceChildren(...participants.map((p) => {
    const node = el("li", { textContent: `${p.user_id}${p.role ? ` (${p.role})` : ""}`, className: p.online ? "online" : "" });
    node.dataset.user = p.user_id;
    return node;
  }));
  const others = participants.filter((p) => p.user_id !== user.user_id).map((p) => p.user_id);
  for (const select of document.querySelectorAll("select.targets, select.students")) {
    const keep = select.classList.contains("targets") ? [el("option", { value: "", textContent: "everyone" })] : [];
    select.replaceChildren(...keep, ...others.map((id) => el("option", { value: id, textContent: id })));
  }
  others.forEach(student);
}

function setOnline(userId, online) {
  byTestId("participants").querySelector(`li[data-user="${userId}"]`)?.classList.toggle("online", online);
}

function receive({ type, data }) {
  if (COACHING_MESSAGES.has(type)) return showCoachingMessage(byTestId("coach-messages"), type, data);
  switch (type) {
    case "session_state":
      showMembers(data.participants);
      if (data.latest_swing) student(data.latest_swing.user_id).view.swing(data.latest_swing);
      break;
    case "participant_joined":
      setOnline(data.user_id, true);
      break;
    case "participant_left":
      setOnline(data.user_id, false);
      break;
    case "analysis_result": {
      const panel = student(data.user_id);
      panel.view.result(data);
      drawSkeleton(panel.canvas, panel.canvas.width, panel.canvas.height, data.keypoints && fitToBox(data.keypoints));
      break;
    }
    case "swing_summary": {
      const view = student(data.user_id).view;
      view.swing(data);
      studentPictures(view, data);
      break;
    }
    case "feedback":
      student(data.user_id).view.feedback(data);
      break;
    case "error":
      errorLine.textContent = `${data.code}: ${data.message}`;
      break;
  }
}

// The student page sends a swing's pictures just after its summary: a few tries, a second apart.
// They show where this coach may read the student's session (a member of it, or an admin).
async function studentPictures(view, summary, tries = 4) {
  if (!summary.session_id) return;
  for (let i = 0; i < tries; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const found = await fetchPictures(summary.session_id, summary.swing_index, user.token).catch(() => []);
    if (found.length) return showPictures(view.swingNode(summary.swing_index), found);
  }
}

function send(message) {
  if (room?.socket.state !== State.CONNECTED) {
    errorLine.textContent = "open a coaching session first";
    return;
  }
  errorLine.textContent = "";
  room.socket.send(message);
}

const submit = (selector, handler) => document.querySelector(selector).addEventListener("submit", (event) => {
  event.preventDefault();
  handler(event.target.elements);
});

submit("form.create", async (f) => {
  const participants = f.students.value.split(",").map((s) => s.trim()).filter(Boolean);
  try {
    const record = await api("/api/v1/stream/sessions", {
      method: "POST",
      body: JSON.stringify({ session_name: f.name.value, participants }),
    });
    addChoice(record);
    open(record.session_id);
  } catch (error) {
    errorLine.textContent = `cannot create the session: ${error.message}`;
  }
});
submit("form.tip", (f) => send({
  type: "coaching_tip",
  data: { tip: f.tip.value, target_user: f.target.value || null, priority: f.priority.value },
}));
submit("form.drill", (f) => send({
  type: "drill_suggestion",
  data: { drill_name: f.drill.value, description: f.description.value,
    duration_minutes: Number(f.minutes.value) || null, target_user: f.target.value || null },
}));
submit("form.frame", (f) => send({
  type: "coaching_frame_update",
  data: { student_id: f.student.value || null, swing_index: f.swing.value ? Number(f.swing.value) : null,
    frame_index: f.frame.value ? Number(f.frame.value) : null },
}));
picker.addEventListener("change", () => picker.value && open(picker.value));

listSessions().catch((error) => (errorLine.textContent = `cannot list sessions: ${error.message}`));
