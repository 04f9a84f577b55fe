"""The load generator's baseline: a bare ASGI WebSocket echo on the server's own uvicorn settings.

Every message comes back as it came, on any path; plain HTTP gets ``200 ok``
(so ``GET /health`` works as it does on the real server). Run by
``bench/loadgen.py``, or alone::

    python bench/echo.py --port 8001                      # serve.py's uvicorn settings
    python bench/echo.py --port 8001 --uvicorn-defaults   # uvicorn's defaults (compression on, ...)
    python bench/echo.py --port 8001 --ws wsproto         # another WebSocket implementation
"""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn

from swingsync_fast.server.serve import uvicorn_config
from swingsync_fast.server.settings import Settings


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            await send({"type": "websocket.send", "text": message.get("text"), "bytes": message.get("bytes")})
    elif scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})
    elif scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


def config(host: str, port: int, *, uvicorn_defaults: bool = False, ws: str | None = None) -> uvicorn.Config:
    if uvicorn_defaults:
        config = uvicorn.Config(app, host=host, port=port, log_level="warning")
    else:
        config = uvicorn_config(app, Settings(), host, port, log_level="warning")  # type: ignore[arg-type]
    if ws is not None:
        config.ws = ws
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--uvicorn-defaults", action="store_true",
                        help="uvicorn's default settings instead of the server's (serve.py)")
    parser.add_argument("--ws", choices=("websockets-sansio", "websockets", "wsproto"),
                        help="another WebSocket implementation, to compare (default: as the settings say)")
    args = parser.parse_args()
    uvicorn.Server(config(args.host, args.port, uvicorn_defaults=args.uvicorn_defaults, ws=args.ws)).run()


if __name__ == "__main__":
    main()
