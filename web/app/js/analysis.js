// The analysis on screen: phase and P-position, KPI gauges, faults, completed swings and coaching
// text. It only renders server messages, so the player page and the coach's mirror share it.
// Each gauge: KPI, label, meter range, how a value reads (unit and what its sign means), and the
// hover text explaining it. The server's units: swingsync_fast/catalog.py KPI_UNITS.
const deg = (v) => `${Math.abs(v).toFixed(0)}°`;
// A turn counts positive back until impact and through after (catalog.py KPI_UNITS).
const turn = (v, afterImpact) => {
  if (Math.abs(v) < 0.5) return "0°";
  return `${deg(v)} ${(v > 0) !== afterImpact ? "back" : "through"}`;
};
const AFTER_IMPACT = new Set(["impact", "follow_through", "finish"]);
const joint = (v) => `${v.toFixed(0)}°${v >= 175 ? " straight" : " bent"}`;
const GAUGES = [
  ["shoulder_turn", "Shoulder turn", -30, 120, turn,
    "Turn of the shoulder line from address: back (away from the target) until impact, through after"],
  ["hip_turn", "Hip turn", -30, 80, turn,
    "Turn of the hip line from address: back (away from the target) until impact, through after"],
  ["x_factor", "X-factor", -20, 70, (v) => `${Math.abs(v) < 0.5 ? 0 : v.toFixed(0)}°`,
    "Shoulder turn minus hip turn: how much more the shoulders have turned than the hips"],
  ["spine_tilt", "Spine tilt", 0, 60, (v) => `${deg(v)} forward`,
    "Forward bend of the spine toward the ball, from upright (0°)"],
  ["lead_elbow", "Lead arm (elbow)", 90, 180, joint, "Angle at the lead elbow: 180° is a straight arm"],
  ["lead_knee", "Lead knee", 110, 180, joint, "Angle at the lead knee: 180° is a straight leg"],
  ["trail_knee", "Trail knee", 110, 180, joint, "Angle at the trail knee: 180° is a straight leg"],
];

// The server's phase names (catalog.PHASES) as a golfer says them.
export const PHASE_WORDS = {
  idle: "Waiting for address",
  setup: "Address",
  takeaway: "Takeaway",
  backswing: "Backswing",
  top_of_swing: "Top of swing",
  downswing: "Downswing",
  impact: "Impact",
  follow_through: "Follow-through",
  finish: "Finish",
};
export const phaseWord = (phase) => PHASE_WORDS[phase] ?? phase;

// Severity 0..1 in thirds, the words the offline coach uses (feedback/offline.py severity_label).
export function severityWord(severity) {
  if (severity < 1 / 3) return "mild";
  if (severity < 2 / 3) return "moderate";
  return "strong";
}

// Fault names as the server gives them (session_started.fault_names, or a fault object's name), so
// a fault has one name on every list; the id, tidied, only until the server has named it.
const faultNames = new Map();
export const nameFaults = (names) => Object.entries(names ?? {}).forEach(([id, name]) => faultNames.set(id, name));
export const faultName = (id) => faultNames.get(id) ?? id.charAt(0) + id.slice(1).toLowerCase().replaceAll("_", " ");

export function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

export class AnalysisView {
  // root holds the elements with data-role = phase, p-position, gauges, faults, swings, feedback.
  constructor(root) {
    const part = (role) => root.querySelector(`[data-role=${role}]`);
    this.phase = part("phase");
    this.position = part("p-position");
    this.faultList = part("faults");
    this.swingList = part("swings");
    this.feedbackList = part("feedback");
    this.kpiNames = [];
    this.faults = new Map(); // fault_id -> its element, for the swing in progress
    this.answers = new Map(); // feedback_id -> {node, source}
    this.gauges = new Map(
      GAUGES.map(([kpi, label, min, max, format, explained]) => {
        const meter = el("meter", { min, max, value: min });
        const value = el("span", { className: "value", textContent: "–" });
        const row = el("div", { className: "gauge", title: explained },
          el("span", { className: "label", textContent: label }), meter, value);
        row.dataset.kpi = kpi;
        part("gauges").append(row);
        return [kpi, { meter, value, format }];
      }),
    );
  }

  sessionStarted(data) {
    this.kpiNames = data.kpi_names;
    nameFaults(data.fault_names);
  }

  // analysis_result: the compact layout (kpis in kpi_names order, faults as [id, severity]) from
  // the main socket, or the seed layout (kpis by name, fault objects) mirrored to a coach.
  result(data) {
    this.phase.textContent = phaseWord(data.swing_phase);
    this.phase.dataset.phase = data.swing_phase;
    this.position.textContent = data.p_position ?? "–";
    const kpis = Array.isArray(data.kpis) ? data.kpis.map((v, i) => [this.kpiNames[i], v]) : Object.entries(data.kpis ?? {});
    const afterImpact = AFTER_IMPACT.has(data.swing_phase);
    for (const [name, value] of kpis) this.gauge(name, value, afterImpact);
    const active = new Set();
    for (const fault of data.detected_faults) {
      const [id, severity] = Array.isArray(fault) ? fault : [fault.fault_id, fault.severity];
      if (!Array.isArray(fault)) nameFaults({ [id]: fault.name });
      active.add(id);
      this.fault(id, severity);
    }
    for (const [id, node] of this.faults) node.classList.toggle("active", active.has(id));
  }

  gauge(kpi, value, afterImpact = false) {
    const gauge = this.gauges.get(kpi);
    if (!gauge) return;
    gauge.meter.value = value ?? gauge.meter.min;
    gauge.value.textContent = value == null ? "–" : gauge.format(value, afterImpact);
    gauge.value.dataset.value = value == null ? "" : value.toFixed(1);
  }

  fault(id, severity) {
    let node = this.faults.get(id);
    if (!node) {
      node = el("li", { className: "fault" });
      node.dataset.testid = "fault";
      node.dataset.faultId = id;
      node.dataset.severity = "0";
      this.faults.set(id, node);
      this.faultList.prepend(node);
    }
    if (severity >= Number(node.dataset.severity)) {
      node.dataset.severity = severity.toFixed(2);
      node.style.setProperty("--severity", severity);
      node.textContent = `${faultName(id)} — ${severityWord(severity)}`;
      node.title = `severity ${severity.toFixed(2)} of 1`;
    }
  }

  // swing_event: a takeaway starts a new swing, whose faults are listed afresh.
  event(data) {
    if (data.phase === "takeaway") {
      this.faults.clear();
      this.faultList.replaceChildren();
    }
  }

  swing(data) {
    const tempo = data.tempo_ratio == null ? "–" : `${data.tempo_ratio.toFixed(1)}:1`;
    nameFaults(Object.fromEntries(data.faults.map((f) => [f.fault_id, f.name])));
    const faults = data.faults.map((f) => `${faultName(f.fault_id)} (${severityWord(f.severity)})`).join(", ") || "none";
    const node = el("li", {
      className: "swing",
      textContent: `Swing ${data.swing_index}: tempo ${tempo} (backswing ${data.backswing_s.toFixed(2)} s, ` +
        `downswing ${data.downswing_s.toFixed(2)} s) · ${phaseWord("top_of_swing")} at frame ${data.top_frame}, ` +
        `${phaseWord("impact")} at frame ${data.impact_frame} · faults: ${faults}` +
        (data.slow_motion > 1 ? ` · filmed in ${data.slow_motion}× slow motion` : ""),
      title: data.faults.map((f) => `${faultName(f.fault_id)}: severity ${f.severity.toFixed(2)} of 1`).join("\n") +
        `${data.faults.length ? "\n" : ""}frames: takeaway ${data.takeaway_frame}, finish ${data.finish_frame}`,
    });
    Object.assign(node.dataset, {
      testid: "swing",
      swingIndex: data.swing_index,
      takeawayFrame: data.takeaway_frame,
      topFrame: data.top_frame,
      impactFrame: data.impact_frame,
      finishFrame: data.finish_frame,
      tempo: data.tempo_ratio ?? "",
      slowMotion: data.slow_motion ?? 1,
    });
    this.swingList.prepend(node);
    return node;
  }

  // The list item of a swing shown, by its index (the latest one of that index).
  swingNode(swingIndex) {
    return this.swingList.querySelector(`[data-testid=swing][data-swing-index="${swingIndex}"]`);
  }

  // feedback pieces: appended per feedback_id; when the model's answer is cut short the offline
  // coach's complete text replaces it (source changes from gemini to offline).
  feedback(data) {
    let answer = this.answers.get(data.feedback_id);
    if (!answer) {
      const text = el("p", { className: "text" });
      const node = el("li", { className: "feedback" }, el("span", { className: "about", textContent: `Swing ${data.swing_index}` }), text);
      node.dataset.testid = "feedback";
      node.dataset.feedbackId = data.feedback_id;
      answer = { node, text, source: data.source };
      this.answers.set(data.feedback_id, answer);
      this.feedbackList.prepend(node);
    }
    if (answer.source !== data.source) {
      answer.text.textContent = "";
      answer.source = data.source;
    }
    answer.text.textContent += data.feedback;
    answer.node.dataset.source = data.source;
    answer.node.dataset.done = String(data.done);
  }
}
