"""The FastAPI application. Built by a factory, never at import time."""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from api import health, shipments, tracking
from api.errors import error_body, install_error_handlers
from infra.bootstrap import Container, bootstrap
from infra.settings import Settings

MAX_BODY_BYTES = 1_048_576
SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def create_app(container: Container | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = container is None
        app.state.container = container or bootstrap(Settings())
        yield
        if owned:
            app.state.container.close()

    app = FastAPI(title="Jalur", version="1", lifespan=lifespan)
    install_error_handlers(app)
    app.middleware("http")(_guard)
    for module in (health, shipments, tracking):
        app.include_router(module.router)
    return app


async def _guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    length = request.headers.get("content-length", "0")
    if not length.isdigit() or int(length) > MAX_BODY_BYTES:
        return JSONResponse(error_body("body_too_large", "The body exceeds 1 MiB."), 413)
    response = await call_next(request)
    response.headers.update(SECURITY_HEADERS)
    return response
