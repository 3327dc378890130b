"""Requests from chosen client addresses through one in-process TestClient: the
`X-Test-Client` header becomes the ASGI scope's client, as a real server sets it from the
peer (or from a trusted proxy's header)."""

from starlette.types import ASGIApp, Receive, Scope, Send

HEADER = "X-Test-Client"


class FromHeader:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == HEADER.lower().encode():
                    scope = {**scope, "client": (value.decode(), 50000)}
        await self.app(scope, receive, send)


def at(address: str, headers: dict[str, str] | None = None) -> dict[str, str]:
    """Headers that make a request come from `address`."""
    return {**(headers or {}), HEADER: address}
