"""Several server processes on one port: ``python -m swingsync_fast serve --workers N``.

The parent resolves the signing key first (creating the key file once, so
workers never race to), then starts N workers. Each binds a listening socket
of its own to the same address with ``SO_REUSEPORT``, so the kernel spreads
new connections evenly over them, and runs our draining ``serve.Server``.
The first worker starts alone (it creates or migrates the database), the
others once it answers ``/health``. The workers meet over Redis
(``REDIS_URL``): without it, more than one worker is refused. The parent starts a new worker when one dies, and on SIGINT or
SIGTERM asks every worker to drain (SIGTERM) and waits for them.
"""

from __future__ import annotations

import http.client
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess

from ..auth import resolve_secret
from ..settings import Settings

logger = logging.getLogger("swingsync_fast.server")

EXIT_CANNOT_BIND = 3  # a worker's exit code when the address is taken: restarting would not help
SUPERVISE_EVERY_S = 0.2
RESTART_BACKOFF_S = 1.0  # a worker that dies sooner than this after starting is restarted no faster
FIRST_START_S = 60.0  # how long the first worker may take to answer /health


class WorkersRefused(ValueError):
    """The command line asks for workers this setup cannot run."""


def check(workers: int, port: int, settings: Settings) -> None:
    if workers < 1:
        raise WorkersRefused(f"--workers must be at least 1, got {workers}")
    if workers == 1:
        return
    if settings.redis_url is None:
        raise WorkersRefused(
            f"--workers {workers} needs REDIS_URL (e.g. redis://127.0.0.1:6379/0): the workers share coaching "
            "rooms, limits and figures over Redis; without it run one worker")
    if not hasattr(socket, "SO_REUSEPORT"):
        raise WorkersRefused("--workers above 1 needs SO_REUSEPORT, which this platform lacks")
    if port == 0:
        raise WorkersRefused("--workers above 1 needs a fixed --port (each worker binds it)")


def run_workers(host: str, port: int, settings: Settings, workers: int, *, log_level: str = "info") -> int:
    """Supervise ``workers`` server processes until SIGINT or SIGTERM; the exit status."""
    check(workers, port, settings)
    _, key_source = resolve_secret(settings)  # creates the key file now, before any worker reads it
    context = multiprocessing.get_context("spawn")
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    def launch(index: int) -> tuple[BaseProcess, float]:
        process = context.Process(target=_worker, args=(host, port, settings, log_level, index),
                                  name=f"swingsync-worker-{index}")
        process.start()
        logger.info("worker %d started (pid %d)", index, process.pid)
        return process, time.monotonic()

    logger.info("%d workers on %s:%d, meeting over Redis at %s; tokens signed with %s",
                workers, host, port, settings.redis_url, key_source)
    running = [launch(0)]
    status = 0
    # The first worker alone creates or migrates the database; the others open it after.
    if _serving(host, port, running[0][0], FIRST_START_S, lambda: stopping):
        running += [launch(i) for i in range(1, workers)]
    elif not stopping:
        logger.error("worker 0 did not start (exit code %s); stopping", running[0][0].exitcode)
        stopping, status = True, 2
    while not stopping:
        time.sleep(SUPERVISE_EVERY_S)
        for index, (process, started) in enumerate(running):
            if process.is_alive() or stopping:
                continue
            if process.exitcode == EXIT_CANNOT_BIND:
                logger.error("worker %d cannot bind %s:%d; stopping", index, host, port)
                stopping, status = True, 2
                break
            logger.warning("worker %d (pid %d) exited with %s; starting another", index, process.pid, process.exitcode)
            time.sleep(max(0.0, RESTART_BACKOFF_S - (time.monotonic() - started)))
            running[index] = launch(index)
    for process, _ in running:
        if process.is_alive() and process.pid is not None:
            os.kill(process.pid, signal.SIGTERM)  # uvicorn drains on SIGTERM: our sockets close with 1001
    deadline = time.monotonic() + settings.shutdown_grace_s + 10
    for process, _ in running:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            logger.warning("worker pid %d did not stop in time; killing it", process.pid)
            process.kill()
            process.join()
    return status


def _serving(host: str, port: int, process: BaseProcess, timeout: float, stopping: Callable[[], bool]) -> bool:
    """True once ``/health`` answers on the port (the worker's start-up is done); False if the
    worker exits first, ``timeout`` passes or the supervisor is stopping."""
    address = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    deadline = time.monotonic() + timeout
    while process.is_alive() and time.monotonic() < deadline and not stopping():
        connection = http.client.HTTPConnection(address, port, timeout=1.0)
        try:
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return True
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(SUPERVISE_EVERY_S)
    return False


def _worker(host: str, port: int, settings: Settings, log_level: str, index: int) -> None:
    from ..app import create_app
    from ..serve import Server, log_to_console, uvicorn_config

    log_to_console(log_level)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        print(f"worker {index}: cannot bind {host}:{port}: {exc}", file=sys.stderr)
        sys.exit(EXIT_CANNOT_BIND)
    config = uvicorn_config(create_app(settings), settings, host, port, log_level=log_level)
    listener.listen(config.backlog)
    Server(config, banner=index == 0).run(sockets=[listener])
