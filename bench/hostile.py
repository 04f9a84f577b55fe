"""Healthy golfers beside hostile clients: the server's RSS and the golfers' round trips, with and without.

    .venv/bin/python bench/hostile.py                       # 100 golfers, 200 of each hostile kind, 15 s
    .venv/bin/python bench/hostile.py --golfers 50 --hostile 100 --duration 10

One real ``serve`` (SQLite in a temp dir). Phase **clean**: ``loadgen.py
--url`` streams ``--golfers`` simulated golfers at 30 FPS against it.
Phase **hostile**: the same, while ``--hostile`` clients of each kind run
beside them, each reconnecting as soon as it is refused:

- *slowloris*: a request line, then a byte every second (answered 408 after
  ``SWINGSYNC_HEADER_TIMEOUT_S``);
- *header flood*: an endless header, 16 KiB every 50 ms (431 past 32 KiB);
- *non-reader*: a monitor socket at ``?interval=0.1`` with a 4 KiB receive
  buffer that never reads (1013 once what it was sent has gone unacknowledged
  for ``SWINGSYNC_SLOW_CONSUMER_S``, then a reset as long again later).

The server's RSS and the bytes in its connections' kernel send queues (``ss``)
are sampled every half second; the table gives their peaks per phase, the
golfers' RTT percentiles, late and lost frames, and what the hostile
clients were answered.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent

from swingsync_fast.server.auth import mint_token  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _status(sock: socket.socket) -> str:
    try:
        sock.settimeout(0.5)
        head = sock.recv(64)
        return head.split(b" ")[1].decode() if head.startswith(b"HTTP/") else "closed"
    except (OSError, IndexError):
        return "reset"


class Hostile:
    """Threads of hostile clients; ``answers`` counts what the server told them."""

    def __init__(self, port: int, secret: str, count: int) -> None:
        self.port, self.secret, self.count = port, secret, count
        self.stop = threading.Event()
        self.answers: Counter[str] = Counter()
        self.non_reader_lives: list[float] = []  # seconds from the request to the server's reset
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=fn, args=(i,), daemon=True)
                        for fn in (self._slowloris, self._flood, self._non_reader) for i in range(count)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()
            time.sleep(0.002)

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(10)

    def _count(self, kind: str, answer: str) -> None:
        with self._lock:
            self.answers[f"{kind} {answer}"] += 1

    def _connect(self) -> socket.socket | None:
        try:
            return socket.create_connection(("127.0.0.1", self.port), timeout=5)
        except OSError:
            time.sleep(0.2)
            return None

    def _trickle(self, kind: str, head: bytes, piece: bytes, every_s: float) -> None:
        """Open connections that send ``head``, then ``piece`` every ``every_s``, never ending it."""
        while not self.stop.is_set():
            sock = self._connect()
            if sock is None:
                continue
            with sock:
                try:
                    sock.sendall(head)
                    while not self.stop.wait(every_s):
                        sock.sendall(piece)
                except OSError:
                    pass
                self._count(kind, _status(sock))

    def _slowloris(self, _: int) -> None:
        self._trickle("slowloris", b"GET /health HTTP/1.1\r\nHost: x\r\n", b"X", 1.0)

    def _flood(self, _: int) -> None:
        self._trickle("flood", b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ", b"a" * 16384, 0.05)

    def _non_reader(self, i: int) -> None:
        user = f"watcher-{i}"
        token = mint_token(self.secret, user, "player", 3600)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET /api/v1/stream/ws/monitor/{user}?interval=0.1&token={token} HTTP/1.1\r\nHost: x\r\n"
                   f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                   f"Sec-WebSocket-Key: {key}\r\n\r\n").encode()
        while not self.stop.is_set():
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            try:
                sock.connect(("127.0.0.1", self.port))
                sock.sendall(request)
            except OSError:
                sock.close()
                time.sleep(0.2)
                continue
            with sock:  # never reads: what the server sent it goes unacknowledged, and it is closed
                opened, closed = time.monotonic(), False
                while not closed and not self.stop.wait(0.1):
                    closed = _tcp_state(sock) != TCP_ESTABLISHED
                self._count("non-reader", "closed by the server" if closed else "open at the end")
                if closed:
                    with self._lock:
                        self.non_reader_lives.append(time.monotonic() - opened)


TCP_ESTABLISHED = 1  # tcpi_state, the first byte of Linux's TCP_INFO


def _tcp_state(sock: socket.socket) -> int:
    try:
        return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]
    except OSError:
        return 0


def _rss_sampler(pid: int, port: int, stop: threading.Event, peaks: list[float], queued: list[int]) -> None:
    while not stop.wait(0.5):
        peaks.append(_rss_mib(pid))
        queued.append(_server_send_queues(port))


def _server_send_queues(port: int) -> int:
    """Bytes in the kernel's send queues of the server's connections (``ss``'s Send-Q): what it
    holds there for clients that do not read."""
    try:
        out = subprocess.run(["ss", "-tnH", "state", "established", f"( sport = :{port} )"],
                             capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return sum(int(line.split()[1]) for line in out.splitlines() if line.strip())


def _rss_mib(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_phase(port: int, pid: int, secret: str, opts: argparse.Namespace, hostile: Hostile | None) -> dict:
    stop, peaks, queued = threading.Event(), [], []
    sampler = threading.Thread(target=_rss_sampler, args=(pid, port, stop, peaks, queued), daemon=True)
    sampler.start()
    if hostile is not None:
        hostile.start()
        time.sleep(3)  # let them take their places
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "load.json"
        subprocess.run([sys.executable, str(BENCH / "loadgen.py"), "--url", f"ws://127.0.0.1:{port}",
                        "--server-pid", str(pid), "--clients", str(opts.golfers), "--duration", str(opts.duration),
                        "--json", str(out)], env={**os.environ, "SECRET_KEY": secret}, check=True,
                       stdout=subprocess.DEVNULL)
        run = json.loads(out.read_text())["runs"][0]
    if hostile is not None:
        hostile.finish()
    stop.set()
    sampler.join()
    return {"rss_peak_mib": round(max(peaks), 1), "send_queues_peak_kib": round(max(queued) / 1024), "rtt_ms": run["rtt_ms"], "late": run["frames_late"],
            "lost": run["frames_lost"], "answered_per_s": run["answered_per_s"],
            "answers": dict(sorted(hostile.answers.items())) if hostile else {},
            "non_reader_lives": sorted(hostile.non_reader_lives) if hostile else []}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--golfers", type=int, default=100)
    parser.add_argument("--hostile", type=int, default=200, help="clients of each hostile kind")
    parser.add_argument("--duration", type=float, default=15.0)
    opts = parser.parse_args()
    secret = secrets.token_hex(32)
    port = _free_port()
    with tempfile.TemporaryDirectory() as workdir:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWINGSYNC_")}
        env.update({"SECRET_KEY": secret, "DATABASE_URL": f"sqlite:///{workdir}/bench.db"})
        server = subprocess.Popen([sys.executable, "-m", "swingsync_fast", "serve", "--port", str(port),
                                   "--log-level", "warning"], cwd=workdir, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    time.sleep(0.1)
            idle_rss = _rss_mib(server.pid)
            clean = run_phase(port, server.pid, secret, opts, None)
            hostile = run_phase(port, server.pid, secret, opts, Hostile(port, secret, opts.hostile))
        finally:
            server.terminate()
            server.wait(30)
    print(f"{opts.golfers} golfers at 30 FPS for {opts.duration:g} s; {opts.hostile} clients of each hostile kind; "
          f"server RSS idle {idle_rss:.1f} MiB\n")
    print("| phase | server RSS peak MiB | kernel send queues peak KiB | RTT p50 ms | p99 | max | late | lost "
          "| answered/s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, phase in (("clean", clean), ("hostile", hostile)):
        rtt = phase["rtt_ms"]
        print(f"| {name} | {phase['rss_peak_mib']} | {phase['send_queues_peak_kib']} | {rtt['p50']} | {rtt['p99']} "
              f"| {rtt['max']} | {phase['late']} | {phase['lost']} | {phase['answered_per_s']} |")
    print("\nhostile clients were answered:", json.dumps(hostile["answers"]))
    lives = hostile["non_reader_lives"]
    if lives:
        print(f"non-readers reset by the server {lives[len(lives) // 2]:.1f} s after their request "
              f"(median; {lives[0]:.1f} to {lives[-1]:.1f} s)")


if __name__ == "__main__":
    main()
