"""The load generator's baselines: WebSocket echoes, to show what the server's own work costs.

Every message comes back as it came, on any path; ``GET /health`` answers
200 as on the real server. Three of them, each one layer of the server:

- ``asgi``: a bare ASGI app on the server's own uvicorn settings (serve.py),
  the baseline every run is compared with;
- ``starlette``: the same through a Starlette ``WebSocketRoute`` (what the
  server's socket goes through before our code);
- ``picows``: no uvicorn, a picows (Cython) server on uvloop: what the
  WebSocket layer alone can cost in Python.

Run by ``bench/loadgen.py`` (``--targets server,echo,echo-starlette,echo-picows``), or alone::

    python bench/echo.py --port 8001                      # asgi, serve.py's uvicorn settings
    python bench/echo.py --port 8001 --uvicorn-defaults   # uvicorn's defaults (compression on, ...)
    python bench/echo.py --port 8001 --ws wsproto         # another uvicorn WebSocket implementation
    python bench/echo.py --port 8001 --kind picows
"""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn

from swingsync_fast.server.serve import uvicorn_config
from swingsync_fast.server.settings import Settings

KINDS = ("asgi", "starlette", "picows")


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


def starlette_app() -> Any:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        receive, send = websocket.receive, websocket.send
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            await send({"type": "websocket.send", "text": message.get("text"), "bytes": message.get("bytes")})

    async def health(request: Any) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/health", health), WebSocketRoute("/{path:path}", echo)])


def config(host: str, port: int, *, kind: str = "asgi", uvicorn_defaults: bool = False,
           ws: str | None = None) -> uvicorn.Config:
    target = starlette_app() if kind == "starlette" else app
    if uvicorn_defaults:
        config = uvicorn.Config(target, host=host, port=port, log_level="warning")
    else:
        config = uvicorn_config(target, Settings(), host, port, log_level="warning")
    if ws is not None:
        config.ws = ws
    return config


def serve_picows(host: str, port: int) -> None:
    import asyncio
    import signal

    import uvloop
    from picows import WSListener, WSMsgType, WSUpgradeResponse, WSUpgradeResponseWithListener, ws_create_server

    class Echo(WSListener):  # type: ignore[misc]
        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            kind = frame.msg_type
            if kind == WSMsgType.TEXT or kind == WSMsgType.BINARY:
                transport.send(kind, frame.get_payload_as_memoryview())
            elif kind == WSMsgType.CLOSE:
                transport.send_close(frame.get_close_code())
                transport.disconnect()

    def route(request: Any) -> Any:
        if request.path == b"/health" or request.path == "/health":
            return WSUpgradeResponseWithListener(WSUpgradeResponse.create_ok_response(b"ok"), None)
        return Echo()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):  # SIGINT is how the load generator stops it
            loop.add_signal_handler(signum, stop.set)
        server = await ws_create_server(route, host, port)
        async with server:
            await stop.wait()

    uvloop.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--kind", choices=KINDS, default="asgi")
    parser.add_argument("--uvicorn-defaults", action="store_true",
                        help="uvicorn's default settings instead of the server's (serve.py)")
    parser.add_argument("--ws", choices=("websockets-sansio", "websockets", "wsproto"),
                        help="another uvicorn WebSocket implementation, to compare (default: as the settings say)")
    args = parser.parse_args()
    if args.kind == "picows":
        serve_picows(args.host, args.port)
        return
    server = uvicorn.Server(config(args.host, args.port, kind=args.kind,
                                   uvicorn_defaults=args.uvicorn_defaults, ws=args.ws))
    server.run()


if __name__ == "__main__":
    main()
