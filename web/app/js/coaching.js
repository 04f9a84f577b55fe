// The coaching socket, shared by the coach page and a student's player page: joining a coaching
// session and showing its tips, drills and frame updates.
import { el } from "./analysis.js";
import { ReconnectingSocket, socketUrl } from "./socket.js";

export function coachingSocket(sessionId, token, handlers, params = {}) {
  const path = `/api/v1/stream/ws/coaching/${encodeURIComponent(sessionId)}`;
  return new ReconnectingSocket(socketUrl(path, token, params), handlers);
}

export const COACHING_MESSAGES = new Set(["coaching_tip", "drill_suggestion", "coaching_frame_update"]);

function words(type, data) {
  const to = data.target_user ? ` → ${data.target_user}` : "";
  switch (type) {
    case "coaching_tip":
      return `Tip (${data.priority})${to}: ${data.tip}`;
    case "drill_suggestion": {
      const minutes = data.duration_minutes ? `, ${data.duration_minutes} min` : "";
      return `Drill${to}: ${data.drill_name}${minutes}${data.description ? ` — ${data.description}` : ""}`;
    }
    default: {
      const where = [data.swing_index != null && `swing ${data.swing_index}`, data.frame_index != null && `frame ${data.frame_index}`];
      return `Everyone to ${where.filter(Boolean).join(", ")}${data.student_id ? ` of ${data.student_id}` : ""}`;
    }
  }
}

// Adds a received coaching message to `list` (newest first), saying who sent it.
export function showCoachingMessage(list, type, data) {
  const node = el("li", { className: type, textContent: `${data.from_user}: ${words(type, data)}` });
  node.dataset.testid = "coach-message";
  node.dataset.type = type;
  list.prepend(node);
  return node;
}
