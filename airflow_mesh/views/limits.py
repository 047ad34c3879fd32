"""Bounds on what one request to the mesh may cost the API server.

The mesh's requests are small (a backfill request is a few hundred bytes), but
FastAPI reads and parses a whole body before validating it, so an unbounded body
is unbounded memory on every API server replica. :class:`BodySizeLimit` refuses
bodies over :data:`MAX_BODY_BYTES` with a 413, whether the size is announced
(``Content-Length``: refused before reading) or not (chunked uploads are counted
as they arrive and refused at the first chunk over the limit).
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 64 * 1024
TOO_LARGE = (f"request body over {MAX_BODY_BYTES} bytes: mesh requests are small. "
             "Fix: send fewer roots, or split the request")


class BodySizeLimit:
    """Pure ASGI middleware: 413 for a body over ``limit`` bytes, without holding more than that in memory."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await JSONResponse({"detail": TOO_LARGE}, status_code=413)(scope, receive, send)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    # FastAPI re-raises an HTTPException met while reading a body; the app answers it.
                    raise HTTPException(413, TOO_LARGE)
            return message

        await self.app(scope, counting_receive, send)
