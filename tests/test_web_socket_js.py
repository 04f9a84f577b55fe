"""The web app's socket module (web/app/js/socket.js) in Node against a real server: each
connection attempt buys a fresh one-use ticket and the token never goes in a socket URL.

Runs where the browser tests cannot (no Chromium): Node 20's WebSocket (behind
--experimental-websocket) and fetch stand in for the browser's. Skips without node.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from live_server import LiveServer, settings_for_tests

from swingsync_fast.server.settings import DEFAULT_WEB_DIR

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")
SOCKET_JS = DEFAULT_WEB_DIR / "app" / "js" / "socket.js"

# Two connections: the server drops the first (idle timeout), the module reconnects by itself.
SCRIPT = """
globalThis.location = {protocol: "http:", host: HOST, hash: ""};
const browserFetch = fetch;
globalThis.fetch = (url, options) => browserFetch(`http://${HOST}${url}`, options);
const urls = [];
const BrowserSocket = WebSocket;
globalThis.WebSocket = class extends BrowserSocket { constructor(url) { urls.push(url); super(url); } };
const { ReconnectingSocket, socketUrl } = await import(MODULE);
let opened = 0;
const socket = new ReconnectingSocket(socketUrl(PATH, TOKEN), {
  onState: () => {},
  onMessage: () => {},
  onOpen: () => {
    opened += 1;
    if (opened === 2) { socket.close(); console.log(JSON.stringify(urls)); process.exit(0); }
  },
});
socket.open();
setTimeout(() => { console.log(JSON.stringify(urls)); process.exit(3); }, 15000);
"""


def test_each_connection_uses_a_fresh_ticket_and_never_the_token():
    live = LiveServer(settings_for_tests(idle_timeout_s=0.5)).start()
    try:
        token = live.token("js-user")
        values = {"HOST": f"127.0.0.1:{live.port}", "MODULE": SOCKET_JS.as_uri(),
                  "PATH": "/api/v1/stream/ws/js-user", "TOKEN": token}
        script = SCRIPT
        for name, value in values.items():
            script = script.replace(name, json.dumps(value))
        done = subprocess.run([NODE, "--experimental-websocket", "--no-warnings", "--input-type=module", "-e", script],
                              capture_output=True, text=True, timeout=30)
    finally:
        live.stop()
    assert done.returncode == 0, (done.stdout, done.stderr)
    urls = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(urls) == 2 and all("?ticket=" in url for url in urls)
    assert urls[0] != urls[1]  # a ticket opens one socket: the reconnection bought another
    assert not any(token in url or "token=" in url for url in urls)
