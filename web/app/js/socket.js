// A WebSocket to the server that reconnects by itself, says what state it is in, and keeps the
// page's idle socket alive. Browsers cannot set headers on a WebSocket, so each connection
// attempt first trades the token (sent in a header) for a one-use ticket that expires in about
// 30 s, and the socket's URL carries only that ?ticket=: the token itself never sits in a URL,
// where a server's access log or a proxy would keep it.
const BACKOFF_S = [0.5, 1, 2, 4, 8];
const PING_EVERY_MS = 15000;

export const State = Object.freeze({
  OFFLINE: "offline",
  CONNECTING: "connecting",
  CONNECTED: "connected",
  RETRYING: "retrying",
});

export async function fetchTicket(token) {
  const response = await fetch("/api/v1/stream/tickets", {
    method: "POST",
    headers: { Authorization: `Bearer ${token}` },
  });
  if (!response.ok) throw new Error(`ticket refused (HTTP ${response.status})`);
  return (await response.json()).ticket;
}

// A function that makes the socket's URL with a fresh ticket; ReconnectingSocket calls it per attempt.
export function socketUrl(path, token, params = {}) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return async () => {
    const query = new URLSearchParams({ ticket: await fetchTicket(token), ...params });
    return `${scheme}://${location.host}${path}?${query}`;
  };
}

export class ReconnectingSocket {
  // url: a string, or a function resolving to one (socketUrl), called for each attempt.
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
    this.connecting = false; // waiting for a ticket: no socket yet
  }

  get isOpen() {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  open() {
    this.wanted = true;
    if (!this.ws && !this.connecting) this.connect();
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

  async connect() {
    this.setState(State.CONNECTING, { attempt: this.attempt });
    this.connecting = true;
    let url;
    try {
      url = typeof this.url === "function" ? await this.url() : this.url;
    } catch (error) {
      console.error(error);
    } finally {
      this.connecting = false;
    }
    if (!this.wanted) return this.setState(State.OFFLINE);
    if (url === undefined) return this.retry(0); // no ticket (server away or the token refused)
    const ws = new WebSocket(url);
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
      this.retry(event.code);
    });
  }

  retry(code) {
    const delay = BACKOFF_S[Math.min(this.attempt, BACKOFF_S.length - 1)];
    this.attempt += 1;
    this.setState(State.RETRYING, { delay, attempt: this.attempt, code });
    this.timer = setTimeout(() => this.wanted && this.connect(), delay * 1000);
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
