// The analysis on screen: phase and P-position, KPI gauges, faults, completed swings and coaching
// text. It only renders server messages, so the player page and the coach's mirror share it.
const GAUGES = [
  ["shoulder_turn", "Shoulder turn", -30, 120, "°"],
  ["hip_turn", "Hip turn", -30, 80, "°"],
  ["x_factor", "X-factor", -20, 70, "°"],
  ["spine_tilt", "Spine tilt", 0, 60, "°"],
  ["lead_elbow", "Lead arm (elbow)", 90, 180, "°"],
  ["lead_knee", "Lead knee", 110, 180, "°"],
  ["trail_knee", "Trail knee", 110, 180, "°"],
];

export function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

export const faultName = (id) => id.charAt(0) + id.slice(1).toLowerCase().replaceAll("_", " ");

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
      GAUGES.map(([kpi, label, min, max, unit]) => {
        const meter = el("meter", { min, max, value: min });
        const value = el("span", { className: "value", textContent: "–" });
        const row = el("div", { className: "gauge" }, el("span", { className: "label", textContent: label }), meter, value);
        row.dataset.kpi = kpi;
        part("gauges").append(row);
        return [kpi, { meter, value, unit }];
      }),
    );
  }

  sessionStarted(data) {
    this.kpiNames = data.kpi_names;
  }

  // analysis_result: the compact layout (kpis in kpi_names order, faults as [id, severity]) from
  // the main socket, or the seed layout (kpis by name, fault objects) mirrored to a coach.
  result(data) {
    this.phase.textContent = data.swing_phase;
    this.position.textContent = data.p_position ?? "–";
    const kpis = Array.isArray(data.kpis) ? data.kpis.map((v, i) => [this.kpiNames[i], v]) : Object.entries(data.kpis ?? {});
    for (const [name, value] of kpis) this.gauge(name, value);
    const active = new Set();
    for (const fault of data.detected_faults) {
      const [id, severity] = Array.isArray(fault) ? fault : [fault.fault_id, fault.severity];
      active.add(id);
      this.fault(id, severity);
    }
    for (const [id, node] of this.faults) node.classList.toggle("active", active.has(id));
  }

  gauge(kpi, value) {
    const gauge = this.gauges.get(kpi);
    if (!gauge) return;
    gauge.meter.value = value ?? gauge.meter.min;
    gauge.value.textContent = value == null ? "–" : `${value.toFixed(0)}${gauge.unit}`;
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
      node.textContent = `${faultName(id)} — severity ${severity.toFixed(2)}`;
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
    const faults = data.faults.map((f) => `${f.name} ${f.severity.toFixed(2)}`).join(", ") || "none";
    const node = el("li", {
      className: "swing",
      textContent: `Swing ${data.swing_index}: tempo ${tempo} · frames takeaway ${data.takeaway_frame}, ` +
        `top ${data.top_frame}, impact ${data.impact_frame}, finish ${data.finish_frame} · faults: ${faults}` +
        (data.slow_motion > 1 ? ` · filmed in ${data.slow_motion}× slow motion` : ""),
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
