"""The streaming server: a Starlette app on uvicorn (the wire protocol is in docs/protocol.md)."""
