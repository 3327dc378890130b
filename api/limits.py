"""A hard limit on request bodies, counted on the bytes received, so a chunked upload
without Content-Length cannot slip past it. The body (at most 1 MiB) is read here and
handed to the application whole."""

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body

MAX_BODY_BYTES = 1_048_576


class BodyLimit:
    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._check_declared_length(scope)
        if refusal is None:
            body, refusal = await self._read_body(receive)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    def _check_declared_length(self, scope: Scope) -> JSONResponse | None:
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit():
                    return JSONResponse(
                        error_body("bad_content_length", "Invalid Content-Length."), 400
                    )
                if int(value) > self.limit:
                    return _too_large()
        return None

    async def _read_body(self, receive: Receive) -> tuple[bytes, JSONResponse | None]:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                return b"", _too_large()
            chunks.append(chunk)
            if message["type"] != "http.request" or not message.get("more_body", False):
                return b"".join(chunks), None


def _too_large() -> JSONResponse:
    return JSONResponse(error_body("body_too_large", "The body exceeds 1 MiB."), 413)
