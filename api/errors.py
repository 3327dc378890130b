"""One mapping from errors to HTTP answers: {"error": {"code", "message", "details"?}}."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.routing import Match

from commands.scan_writer import ScanBatchRejected
from domain.errors import (
    Busy,
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    RuleViolation,
    TooManyAttempts,
    Unauthenticated,
)

log = logging.getLogger(__name__)


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable and machine-readable, e.g. shipment_closed.")
    message: str
    details: list[Any] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


_DESCRIPTIONS = {
    400: "Malformed request: invalid JSON, or HTTP the server cannot parse.",
    401: "Missing, unknown, expired or revoked credentials (session token or API key).",
    403: "Signed in, but not allowed to do this.",
    404: "No such resource (or not yours: the answer is the same).",
    409: "Conflicts with the current state.",
    413: "Body larger than 1 MiB.",
    422: "Invalid input or a broken business rule.",
    429: "Too many attempts or requests; the Retry-After header says when to try again.",
    431: "The request line and headers together exceed 16 KiB.",
    503: "The read model has not caught up with the consistency token yet, or the server "
    "is busy; the Retry-After header says when to try again.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error answers a route can give."""
    responses: dict[int | str, dict[str, Any]] = {
        s: {"model": ErrorBody, "description": _DESCRIPTIONS[s]} for s in statuses
    }
    if 400 in responses:  # the HTTP server itself refuses unparseable requests in plain text
        responses[400]["content"] = {"text/plain": {"schema": {"type": "string"}}}
    return responses


def documented_errors(*statuses: int) -> dict[str, dict[str, Any]]:
    """The same entries as error_responses, as raw OpenAPI (for `openapi_extra`)."""
    body = {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
    entries: dict[str, dict[str, Any]] = {
        str(s): {"description": _DESCRIPTIONS[s], "content": {"application/json": body}}
        for s in statuses
    }
    if 400 in statuses:
        entries["400"]["content"]["text/plain"] = {"schema": {"type": "string"}}
    return entries


class ReadModelLagging(Exception):
    """The read model did not reach the caller's consistency token in time."""


def error_body(code: str, message: str, details: list[Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"error": error}


def status_of(error: DomainError) -> int:
    if isinstance(error, Unauthenticated):
        return 401
    if isinstance(error, Forbidden):
        return 403
    if isinstance(error, TooManyAttempts):
        return 429
    if isinstance(error, Busy):
        return 503
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, Conflict):
        return 409
    if isinstance(error, RuleViolation):
        return 422
    return 400


async def _domain_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    details = None
    if isinstance(error, ScanBatchRejected):
        details = [vars(item) for item in error.errors]
    headers = {}
    if isinstance(error, TooManyAttempts | Busy):
        headers["Retry-After"] = str(error.retry_after_s)
    if isinstance(error, Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    body = error_body(error.code, error.message, details)
    return JSONResponse(body, status_of(error), headers=headers)


async def _validation_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    # Never echo the input back: it may hold personal data.
    details = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in error.errors()]
    if any(d["type"] == "json_invalid" for d in details):
        return JSONResponse(error_body("malformed_json", "The body is not valid JSON."), 400)
    return JSONResponse(error_body("invalid_request", "The request is invalid.", details), 422)


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    headers = dict(error.headers or {})
    if error.status_code == 405:
        headers["Allow"] = ", ".join(_methods_at(request))
    code = {
        404: "not_found",
        405: "method_not_allowed",
        401: "unauthenticated",
        403: "forbidden",
    }.get(error.status_code, f"http_{error.status_code}")
    return JSONResponse(error_body(code, str(error.detail)), error.status_code, headers=headers)


def _methods_at(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


async def _lagging(_: Request, __: Exception) -> JSONResponse:
    body = error_body("read_model_lagging", "The read model has not caught up yet; retry.")
    return JSONResponse(body, 503, headers={"Retry-After": "1"})


async def _unexpected(_: Request, error: Exception) -> JSONResponse:
    log.error("unhandled %s", type(error).__name__, exc_info=error)
    return JSONResponse(error_body("internal_error", "Something went wrong on our side."), 500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(ReadModelLagging, _lagging)
    app.add_exception_handler(Exception, _unexpected)
