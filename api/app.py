"""The FastAPI application. Built by a factory, never at import time."""

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import (
    accounts,
    audit,
    exceptions,
    health,
    me,
    mfa,
    my_shipments,
    privacy,
    read_pool,
    sessions,
    shipments,
    tracking,
)
from api.errors import install_error_handlers
from api.limits import BodyLimit
from api.pages import router as pages
from commands.container import Container

log = logging.getLogger("jalur.requests")
SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def create_app(container: Container | Callable[[], Container]) -> FastAPI:
    """The API serving `container`; or, given a builder, serving what it builds at start-up
    (and closing it at shutdown): the runtime's factory passes one."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = not isinstance(container, Container)
        app.state.container = container if isinstance(container, Container) else container()
        async with read_pool.lifespan(app):
            yield
        if owned:
            app.state.container.close()

    app = FastAPI(title="Jalur", version="1", lifespan=lifespan)
    install_error_handlers(app)
    app.add_middleware(BodyLimit)
    app.add_middleware(Observe)  # added last, so outermost: every answer passes here
    routers = (
        *(health, shipments, tracking, accounts, sessions, me, mfa, my_shipments, privacy),
        *(audit, exceptions, pages),
    )
    for module in routers:
        # Route by route: an included router is resolved again on every request (FastAPI
        # 0.16x), which was 5% of a scan's CPU. The routes carry their prefix and tags.
        app.router.routes.extend(module.router.routes)
    return app


class Observe:
    """Security headers on every answer, and one log line per request. The line names the
    route template (`/v1/track/{awb}`), never the path or query: those may identify people.
    Plain ASGI: Starlette's BaseHTTPMiddleware would run each request in a task of its own
    and stream the answer through a memory channel."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers if the application never starts one

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).update(SECURITY_HEADERS)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            route = getattr(scope.get("route"), "path", "(unrouted)")
            elapsed_ms = (time.perf_counter() - started) * 1000
            log.info("%s %s %s %.1fms", scope["method"], route, status, elapsed_ms)
