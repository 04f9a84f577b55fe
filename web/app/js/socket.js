// A WebSocket to the server that reconnects by itself, says what state it is in, and keeps the
// page's idle socket alive. Browsers cannot set headers on a WebSocket, so the token goes in
// the socket's own URL as ?token= (the page's URL carries it only in the fragment).
const BACKOFF_S = [0.5, 1, 2, 4, 8];
const PING_EVERY_MS = 15000;

export const State = Object.freeze({
  OFFLINE: "offline",
  CONNECTING: "connecting",
  CONNECTED: "connected",
  RETRYING: "retrying",
});

export function socketUrl(path, token, params = {}) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const query = new URLSearchParams({ token, ...params });
  return `${scheme}://${location.host}${path}?${query}`;
}

export class ReconnectingSocket {
  // onMessage(message) gets each decoded JSON message; onState(state, detail) each change of state.
  constructor(url, { onMessage, onState, onOpen }) {
    this.url = url;
    this.onMessage = onMessage;
    this.onState = onState;
    this.onOpen = onOpen;
    this.ws = null;
    this.attempt = 0;
    this.wanted = false;
    this.timer = null;
    this.pinger = null;
  }

  get isOpen() {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  open() {
    this.wanted = true;
    if (!this.ws) this.connect();
  }

  close() {
    this.wanted = false;
    clearTimeout(this.timer);
    this.ws?.close(1000, "page closed the socket");
    this.ws = null;
    this.setState(State.OFFLINE);
  }

  send(data) {
    if (!this.isOpen) return false;
    this.ws.send(typeof data === "string" || data instanceof ArrayBuffer ? data : JSON.stringify(data));
    return true;
  }

  connect() {
    this.setState(State.CONNECTING, { attempt: this.attempt });
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.attempt = 0;
      this.setState(State.CONNECTED);
      this.pinger = setInterval(() => this.send({ type: "ping" }), PING_EVERY_MS);
      this.onOpen?.();
    });
    ws.addEventListener("message", (event) => {
      if (typeof event.data === "string") this.onMessage(JSON.parse(event.data));
    });
    ws.addEventListener("close", (event) => {
      clearInterval(this.pinger);
      if (this.ws !== ws) return;
      this.ws = null;
      if (!this.wanted) return this.setState(State.OFFLINE);
      const delay = BACKOFF_S[Math.min(this.attempt, BACKOFF_S.length - 1)];
      this.attempt += 1;
      this.setState(State.RETRYING, { delay, attempt: this.attempt, code: event.code });
      this.timer = setTimeout(() => this.wanted && this.connect(), delay * 1000);
    });
  }

  setState(state, detail = {}) {
    this.state = state;
    this.onState?.(state, detail);
  }
}

// Words for the status line. Only the open socket's text contains "connected".
export function describe(state, detail) {
  switch (state) {
    case State.CONNECTED:
      return "connected";
    case State.CONNECTING:
      return detail.attempt ? `reconnecting (attempt ${detail.attempt})…` : "connecting…";
    case State.RETRYING:
      return `connection lost (code ${detail.code}) — reconnecting in ${detail.delay} s (attempt ${detail.attempt})`;
    default:
      return "offline";
  }
}

// Round-trip times of the last `size` frames, in milliseconds.
export class RoundTrips {
  constructor(size = 300) {
    this.size = size;
    this.samples = [];
    this.pending = new Map();
  }

  sent(frameIndex) {
    this.pending.set(frameIndex, performance.now());
    if (this.pending.size > this.size) this.pending.delete(this.pending.keys().next().value);
  }

  answered(frameIndex) {
    const at = this.pending.get(frameIndex);
    if (at === undefined) return;
    this.pending.delete(frameIndex);
    this.samples.push(performance.now() - at);
    if (this.samples.length > this.size) this.samples.shift();
  }

  percentile(p) {
    if (!this.samples.length) return null;
    const sorted = [...this.samples].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  }
}
