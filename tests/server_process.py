"""A real server in a process of its own: ``python -m swingsync_fast serve`` on a free port.

Scale-out tests run two of them (two "machines") or one with ``--workers``,
configured only through the environment as an operator would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from live_server import SECRET, Addressed
from redis_servers import free_port


class ServerProcess(Addressed):
    def __init__(self, workdir: Path, env: dict[str, str], *, workers: int = 1, name: str = "server") -> None:
        self.port = free_port()
        self.log_path = workdir / f"{name}-{self.port}.log"
        environ = {k: v for k, v in os.environ.items() if not k.startswith("SWINGSYNC_")}
        environ.pop("GEMINI_API_KEY", None)
        environ.pop("REDIS_URL", None)  # a test that wants Redis says so in env
        environ.update({"SECRET_KEY": SECRET, "PYTHONUNBUFFERED": "1", **env})
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "swingsync_fast", "serve", "--port", str(self.port), "--log-level", "info",
                 "--workers", str(workers)],
                cwd=workdir, env=environ, stdout=log, stderr=subprocess.STDOUT,
            )
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10)

    def wait_ready(self, timeout: float = 60) -> ServerProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.log()}")
            try:
                if self.http.get("/health").status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"the server did not start:\n{self.log()}")

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.http.close()
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL: nothing is flushed, nothing is closed."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        self.http.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")
